//! External-command steps: the migration tool users really run (`sqlx migrate run`, `prisma
//! migrate deploy`, `alembic upgrade head`…), started in the scenario's folder with
//! `DATABASE_URL` and the `PG*` variables pointing at the rehearsal database.
//!
//! The command runs in a process group of its own, marked with the run's owner
//! (`REHEARSE_OWNER`), so an interruption ends every process it started, not only `sh`, and
//! `rehearse gc` finds what a killed run left. The step ends when the command exits, even if it
//! left a background process holding its output open; such processes are ended with it. Its
//! output is kept (the last 16 kB of each stream), with the database password redacted; a
//! missing program or a non-zero exit fails the step, with the last lines of its error output.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::pg::ServerError;

const KEEP: usize = 16 * 1024;
/// How many of the last error-output lines a failure shows.
const ERROR_LINES: usize = 5;
/// How long output still arriving is read after the command exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// What the command did.
pub(super) struct CommandOutcome {
    /// Tails of stdout and stderr.
    pub(super) output: String,
    /// Why it failed; `None` when it succeeded or was interrupted.
    pub(super) failure: Option<ServerError>,
    /// Whether it was interrupted (and killed).
    pub(super) interrupted: bool,
}

/// Runs `argv` in `dir` with `env` added; `secret` (the database password) never appears in
/// what is kept.
pub(super) async fn run(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    secret: Option<&str>,
    cancel: &CancellationToken,
) -> CommandOutcome {
    let failure = |message: String| CommandOutcome {
        output: String::new(),
        failure: Some(ServerError::message(message)),
        interrupted: false,
    };
    let mut command = std::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
            return failure(format!(
                "command not found: {} (is it installed and on PATH?)",
                argv[0]
            ));
        }
        Err(e) => return failure(format!("failed to start {}: {e}", argv[0])),
    };
    let group = child.id();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = {
        let read_all = async {
            let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        };
        tokio::pin!(read_all);
        let status = tokio::select! {
            status = child.wait() => status,
            () = cancel.cancelled() => {
                end_group(group).await;
                return CommandOutcome {
                    output: String::new(),
                    failure: None,
                    interrupted: true,
                };
            }
        };
        // The command exited; what it wrote last is read, but a background process it left
        // holding the pipes open does not hold the step.
        let _ = tokio::time::timeout(OUTPUT_GRACE, &mut read_all).await;
        status
    };
    end_group(group).await;
    let redact = |text: String| match secret {
        Some(s) if !s.is_empty() => text.replace(s, "***"),
        _ => text,
    };
    let output = redact(format!("{}{}", tail(&out), tail(&err)));
    let failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => {
            let text = redact(String::from_utf8_lossy(&err).into_owned());
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let last = lines[lines.len().saturating_sub(ERROR_LINES)..].join("\n");
            Some(ServerError::message(format!(
                "{} exited with {s}{}{last}",
                argv[0],
                if last.is_empty() { "" } else { ":\n" }
            )))
        }
        Err(e) => Some(ServerError::message(format!(
            "failed to wait for {}: {e}",
            argv[0]
        ))),
    };
    CommandOutcome {
        output,
        failure,
        interrupted: false,
    }
}

/// Ends what is left of the command's process group.
async fn end_group(group: Option<u32>) {
    if let Some(pgid) = group {
        let _ = tokio::task::spawn_blocking(move || crate::db::leftovers::stop_group(pgid)).await;
    }
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= KEEP {
        return text.into_owned();
    }
    let start = (text.len() - KEEP..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("…{}", &text[start..])
}
