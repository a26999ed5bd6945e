//! `rehearse run` and `rehearse compare`: one run of a scenario, its summary on the terminal,
//! and for `compare` every strategy side by side.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{Settings, load_plan, run};
use crate::error::{Error, exit_code};
use crate::scenario::Overrides;

/// Rehearses `scenario` and prints its summary; returns the exit code.
pub(crate) async fn run_or_compare(
    scenario: &Path,
    overrides: &Overrides,
    settings: &Settings,
    compare: bool,
    cancel: CancellationToken,
) -> Result<i32, Error> {
    let plan = load_plan(scenario, overrides)?;
    if compare && overrides.strategy.is_some() {
        return Err(Error::Usage(
            "compare rehearses every strategy; --strategy picks one (use `run` for that)".into(),
        ));
    }
    if compare && plan.strategies.len() < 2 {
        return Err(Error::Usage(format!(
            "compare needs a scenario with two or more strategies; {} has {}",
            scenario.display(),
            plan.strategies.len()
        )));
    }
    let options = settings.options(&plan, settings.out_for(&plan));
    let result = run(&plan, &options, cancel).await;

    let mut stdout = std::io::stdout().lock();
    let _ = crate::report::render::write_summary(&result.report, &mut stdout);
    if compare {
        let _ = writeln!(
            stdout,
            "\n  side by side (identical data, same traffic schedule):"
        );
        let _ = write!(
            stdout,
            "{}",
            crate::report::render::compare_table(&result.report)
        );
    }
    match &result.report_path {
        Some(path) => {
            let _ = writeln!(
                stdout,
                "  report   {} (and report.html, report.md, junit.xml beside it)",
                path.display()
            );
        }
        None => {
            let _ = writeln!(stdout, "  report   not written");
        }
    }
    drop(stdout);
    let code = exit_code(Some(result.report.outcome), result.error.as_ref());
    match result.error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}
