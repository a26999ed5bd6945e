//! External-command steps: the migration tool users really run (`sqlx migrate run`, `prisma
//! migrate deploy`, `alembic upgrade head`…), started in the scenario's folder with
//! `DATABASE_URL` and the `PG*` variables pointing at the rehearsal database. Its output is kept
//! (the last 16 kB of each stream); a missing program or a non-zero exit fails the step.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::pg::ServerError;

const KEEP: usize = 16 * 1024;

/// What the command did.
pub(super) struct CommandOutcome {
    /// Tails of stdout and stderr.
    pub output: String,
    /// Why it failed; `None` when it succeeded or was interrupted.
    pub failure: Option<ServerError>,
    /// Whether it was interrupted (and killed).
    pub interrupted: bool,
}

/// Runs `argv` in `dir` with `env` added.
pub(super) async fn run(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    cancel: &CancellationToken,
) -> CommandOutcome {
    let failure = |message: String| CommandOutcome {
        output: String::new(),
        failure: Some(ServerError::message(message)),
        interrupted: false,
    };
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
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
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let read_all = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        (out, err)
    };
    let finished = async { tokio::join!(read_all, child.wait()) };
    let ((out, err), status) = tokio::select! {
        done = finished => done,
        () = cancel.cancelled() => {
            return CommandOutcome { output: String::new(), failure: None, interrupted: true };
        }
    };
    let output = format!("{}{}", tail(&out), tail(&err));
    let failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => {
            let last = String::from_utf8_lossy(&err)
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_owned();
            Some(ServerError::message(format!(
                "{} exited with {s}: {last}",
                argv[0]
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
