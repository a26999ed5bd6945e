//! What runs left behind, found by their owner marks ([`super::owner`]): cluster folders (and
//! the postmaster still running in one), containers and volumes labelled with a run, scratch
//! databases on an existing server, external commands still running. Found for every dead
//! owner (`rehearse gc`, and the warning a run prints when it starts), or for one run (the
//! reaper, when the run's process died).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::owner::{OWNER_LABEL, Owner, process_alive};

/// The file in a cluster folder naming its owner.
pub const MARKER: &str = "rehearse-owner";
/// The environment variable every external command step gets: its run's owner.
pub const COMMAND_ENV: &str = "REHEARSE_OWNER";

/// One thing left behind.
#[derive(Debug, Clone)]
pub enum Leftover {
    /// A throwaway cluster folder (with its server, if still running).
    Cluster {
        /// The folder.
        dir: PathBuf,
        /// Who made it.
        owner: Owner,
        /// The postmaster still running in it.
        postmaster: Option<u32>,
    },
    /// A seed cache entry's cluster whose server is still running, its run gone: the server is
    /// stopped, the entry kept.
    CachedServer {
        /// The entry's folder.
        dir: PathBuf,
        /// The run that used it.
        owner: Owner,
        /// The postmaster.
        postmaster: u32,
    },
    /// A container of a run.
    Container {
        /// Its id.
        id: String,
        /// Its name.
        name: String,
        /// Who started it.
        owner: Option<Owner>,
    },
    /// A throwaway volume of a run.
    Volume {
        /// Its name.
        name: String,
        /// Who made it.
        owner: Option<Owner>,
    },
    /// A scratch database on an existing server.
    Database {
        /// Its name.
        name: String,
        /// Who made it.
        owner: Owner,
    },
    /// An external command step still running.
    Process {
        /// Its pid.
        pid: u32,
        /// Its process group.
        pgid: u32,
        /// Its command line.
        command: String,
        /// The run that started it.
        owner: Owner,
    },
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let of = |o: &Owner| format!("run {} (pid {} on {})", o.run_id, o.pid, o.host);
        let of_opt = |o: &Option<Owner>| o.as_ref().map_or_else(|| "an unknown run".into(), of);
        match self {
            Leftover::Cluster {
                dir,
                owner,
                postmaster,
            } => write!(
                f,
                "cluster folder {} of {}{}",
                dir.display(),
                of(owner),
                postmaster.map_or(String::new(), |p| format!(", server pid {p} still running"))
            ),
            Leftover::CachedServer {
                dir,
                owner,
                postmaster,
            } => write!(
                f,
                "server pid {postmaster} still running on the seed cache entry {} of {}",
                dir.display(),
                of(owner)
            ),
            Leftover::Container { name, owner, .. } => {
                write!(f, "container {name} of {}", of_opt(owner))
            }
            Leftover::Volume { name, owner } => write!(f, "volume {name} of {}", of_opt(owner)),
            Leftover::Database { name, owner } => {
                write!(f, "scratch database {name} of {}", of(owner))
            }
            Leftover::Process {
                pid,
                command,
                owner,
                ..
            } => write!(f, "command pid {pid} ({command}) of {}", of(owner)),
        }
    }
}

/// Where to look.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only what this run left (the reaper); else what every dead run left.
    pub run: Option<String>,
    /// The folder throwaway clusters are made in (the temporary folder).
    pub temp_dir: PathBuf,
    /// The seed cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Look at containers and volumes.
    pub docker: bool,
    /// An existing server whose scratch databases to look at.
    pub url: Option<String>,
}

impl Scope {
    fn wants(&self, owner: &Owner) -> bool {
        match &self.run {
            Some(run) => &owner.run_id == run,
            None => !owner.is_alive(),
        }
    }
}

/// Everything in `scope` left by dead runs (or by `scope.run`).
pub async fn find(scope: &Scope) -> Vec<Leftover> {
    let mut found = clusters(scope);
    found.extend(processes(scope));
    if scope.docker {
        found.extend(docker(scope).await);
    }
    if let Some(url) = &scope.url {
        found.extend(databases(scope, url).await);
    }
    found
}

/// Removes one leftover (stops a server first); says why when it cannot.
pub async fn remove(leftover: &Leftover, url: Option<&str>) -> Result<(), String> {
    match leftover {
        Leftover::Cluster {
            dir, postmaster, ..
        } => {
            if let Some(pid) = postmaster {
                stop_postmaster(*pid);
            }
            std::fs::remove_dir_all(dir)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))
        }
        Leftover::CachedServer { postmaster, .. } => {
            stop_postmaster(*postmaster);
            Ok(())
        }
        Leftover::Container { id, .. } => {
            let engine = super::docker::engine().await.map_err(|e| e.to_string())?;
            super::docker::remove_container(&engine, id).await
        }
        Leftover::Volume { name, .. } => {
            let engine = super::docker::engine().await.map_err(|e| e.to_string())?;
            super::docker::remove_volume(&engine, name).await
        }
        Leftover::Database { name, .. } => {
            let url = url.ok_or("no --database-url to reach the server")?;
            let (client, _) = super::connect_url(url).await.map_err(|e| e.to_string())?;
            super::drop_database(&client, name).await
        }
        Leftover::Process { pgid, .. } => {
            stop_group(*pgid);
            Ok(())
        }
    }
}

/// Throwaway cluster folders in the temporary folder, and seed cache entries whose server runs
/// with no live owner.
fn clusters(scope: &Scope) -> Vec<Leftover> {
    let mut found = Vec::new();
    for dir in subdirs(&scope.temp_dir, "rehearse-cluster-") {
        // A folder without a mark belongs to a run that had not written it yet, or to another
        // tool: only marked folders are judged.
        let Some(owner) = read_marker(&dir) else {
            continue;
        };
        if scope.wants(&owner) {
            found.push(Leftover::Cluster {
                postmaster: postmaster(&dir),
                dir,
                owner,
            });
        }
    }
    for dir in scope.cache_dir.iter().flat_map(|d| subdirs(d, "local-")) {
        if let (Some(owner), Some(pid)) = (read_marker(&dir), postmaster(&dir))
            && scope.wants(&owner)
        {
            found.push(Leftover::CachedServer {
                dir,
                owner,
                postmaster: pid,
            });
        }
    }
    found
}

/// External command steps still running, by the owner in their environment.
fn processes(scope: &Scope) -> Vec<Leftover> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let Some(owner) = environ
            .split(|b| *b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| {
                kv.strip_prefix(COMMAND_ENV)
                    .and_then(|v| v.strip_prefix('='))
            })
            .and_then(Owner::parse)
        else {
            continue;
        };
        if !scope.wants(&owner) || !process_alive(pid) {
            continue;
        }
        let pgid = nix::unistd::getpgid(Some(Pid::from_raw(pid as i32)))
            .map_or(pid, |g| g.as_raw() as u32);
        let command = std::fs::read(entry.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        found.push(Leftover::Process {
            pid,
            pgid,
            command,
            owner,
        });
    }
    found
}

/// Containers and throwaway volumes labelled with a run.
async fn docker(scope: &Scope) -> Vec<Leftover> {
    let Ok(engine) = super::docker::engine().await else {
        return Vec::new();
    };
    let labelled = super::docker::labelled(&engine, scope.run.as_deref()).await;
    let mut found = Vec::new();
    for (kind, id, name, labels) in labelled {
        let owner = labels.get(OWNER_LABEL).and_then(|o| Owner::parse(o));
        // Containers and volumes of older versions carry no owner: judged dead only when
        // looking for one run's (they have its label) or when their run is not running here.
        let wanted = match (&scope.run, &owner) {
            (Some(_), _) => true,
            (None, Some(o)) => !o.is_alive(),
            (None, None) => false,
        };
        if !wanted {
            continue;
        }
        found.push(match kind {
            super::docker::Labelled::Container => Leftover::Container { id, name, owner },
            super::docker::Labelled::Volume => Leftover::Volume { name, owner },
        });
    }
    found
}

/// Scratch databases on an existing server, by the owner in their comment.
async fn databases(scope: &Scope, url: &str) -> Vec<Leftover> {
    let Ok((client, _)) = super::connect_url(url).await else {
        return Vec::new();
    };
    let Ok(rows) = client
        .query(
            "SELECT datname::text, coalesce(shobj_description(oid, 'pg_database'), '')
               FROM pg_database WHERE datname LIKE 'rehearse\\_%'",
            &[],
        )
        .await
    else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            let owner = Owner::parse(r.get(1))?;
            scope.wants(&owner).then(|| Leftover::Database {
                name: r.get(0),
                owner,
            })
        })
        .collect()
}

fn subdirs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Writes the owner mark into a cluster folder.
pub fn write_marker(dir: &Path, owner: &Owner) -> std::io::Result<()> {
    std::fs::write(dir.join(MARKER), format!("{owner}\n"))
}

fn read_marker(dir: &Path) -> Option<Owner> {
    Owner::parse(&std::fs::read_to_string(dir.join(MARKER)).ok()?)
}

/// The postmaster running in a cluster folder (its data directory is `data`), if any.
pub fn postmaster(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("data/postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    process_alive(pid).then_some(pid)
}

/// Stops a postmaster: fast shutdown, then immediate, then SIGKILL.
pub fn stop_postmaster(pid: u32) {
    let target = Pid::from_raw(pid as i32);
    for (signal, wait) in [
        (Signal::SIGINT, Duration::from_secs(15)),
        (Signal::SIGQUIT, Duration::from_secs(5)),
        (Signal::SIGKILL, Duration::from_secs(5)),
    ] {
        if kill(target, signal).is_err() {
            return;
        }
        let deadline = Instant::now() + wait;
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !process_alive(pid) {
            return;
        }
    }
}

/// Ends a process group: SIGTERM, then SIGKILL after a grace period.
pub fn stop_group(pgid: u32) {
    let group = Pid::from_raw(-(pgid as i32));
    if kill(group, Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && kill(group, None).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(group, Signal::SIGKILL);
}
