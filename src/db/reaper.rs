//! The reaper: a small process each run starts beside it (the `rehearse` binary itself, in a
//! session of its own) that watches the run's process and, if that process dies without
//! cleaning up — SIGKILL, a second Ctrl-C, a crash — removes what the run left: its containers
//! and throwaway volumes, its cluster folders (the server in them stopped), the servers left on
//! seed cache entries it used, its scratch databases on an existing server, and its external
//! commands still running. When the run ends normally it stops the reaper, which then has
//! nothing to do.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::leftovers::{Scope, find, remove};
use super::owner::Owner;

/// The environment variable that hands an existing server's URL to the reaper (not an
/// argument, which any user could read in the process list).
const URL_ENV: &str = "REHEARSE_REAP_URL";

/// How often the reaper looks at the run's process.
const POLL: Duration = Duration::from_millis(200);

/// A running reaper; stopped when dropped (the run cleaned up itself).
#[derive(Debug)]
pub struct Reaper {
    child: Option<Child>,
}

/// What the reaper watches and where it looks.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The run's owner.
    pub owner: Owner,
    /// Look for containers and volumes.
    pub docker: bool,
    /// The seed cache folder.
    pub cache_dir: Option<PathBuf>,
    /// An existing server whose scratch databases to drop.
    pub url: Option<String>,
}

impl Reaper {
    /// Starts a reaper for `watch`; `None` (with a warning) if it cannot be started.
    pub fn spawn(watch: &Watch) -> Option<Reaper> {
        let exe = std::env::current_exe().ok()?;
        let mut command = Command::new(exe);
        command
            .arg("reap")
            .arg("--owner")
            .arg(watch.owner.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if watch.docker {
            command.arg("--docker");
        }
        if let Some(dir) = &watch.cache_dir {
            command.arg("--cache-dir").arg(dir);
        }
        match &watch.url {
            Some(url) => command.env(URL_ENV, url),
            None => command.env_remove(URL_ENV),
        };
        // SAFETY: setsid only detaches the new process from the terminal's session, so a
        // Ctrl-C meant for the run does not reach its reaper; nothing else runs before exec.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        match command.spawn() {
            Ok(child) => Some(Reaper { child: Some(child) }),
            Err(e) => {
                tracing::warn!(
                    "failed to start the reaper ({e}); if this run is killed, `rehearse gc` finds what it left"
                );
                None
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The reaper's own loop (`rehearse reap`): waits for the owner to die, then removes what its
/// run left. Returns how many things it removed.
pub async fn reap(watch: Watch) -> usize {
    while watch.owner.is_alive() {
        tokio::time::sleep(POLL).await;
    }
    let url = watch.url.or_else(|| std::env::var(URL_ENV).ok());
    let scope = Scope {
        run: Some(watch.owner.run_id.clone()),
        temp_dir: std::env::temp_dir(),
        cache_dir: watch.cache_dir,
        docker: watch.docker,
        url: url.clone(),
    };
    let mut removed = 0;
    // Processes first (a command may hold a connection), then containers before volumes.
    let mut leftovers = find(&scope).await;
    leftovers.sort_by_key(|l| match l {
        super::leftovers::Leftover::Process { .. } => 0,
        super::leftovers::Leftover::Container { .. } => 1,
        super::leftovers::Leftover::Volume { .. } => 2,
        _ => 3,
    });
    for leftover in &leftovers {
        if remove(leftover, url.as_deref()).await.is_ok() {
            removed += 1;
        }
    }
    removed
}
