//! The `rehearse` binary: parse, set up logging, run, map to an exit code.

use std::io::Write;

use clap::Parser;

fn main() {
    let cli = rehearse::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "rehearse=info,warn".into()),
        )
        .with_writer(|| rehearse::LogWriter)
        .with_target(false)
        // A closed stderr (`2>&1 | head`) drops log lines; it must not print about it.
        .log_internal_errors(false)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            // Not eprintln!: a closed stderr must not turn this into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "error: failed to start the async runtime: {e}"
            );
            std::process::exit(rehearse::error::EXIT_ENVIRONMENT);
        }
    };
    let code = runtime.block_on(rehearse::cli::execute(cli));
    // Give detached cleanup (container removal on drop) its chance before exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    std::process::exit(code);
}
