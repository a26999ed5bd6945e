//! The local backend: a throwaway cluster from installed Postgres binaries.
//!
//! `initdb` into a temporary directory (as the `postgres` OS user when we run as root, since
//! initdb refuses root), then `postgres` on a free port of 127.0.0.1 with the scenario's settings,
//! its log written to the output folder. The server runs in its own process group so a Ctrl-C in
//! the terminal reaches rehearse, which then stops the server in order. Stopping (fast shutdown)
//! and deleting the directory happen in [`LocalCluster::shutdown`] and, failing that, on drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};
use tokio_postgres::Config;

use super::{BackendKind, BackendOptions, DbError, Server};
use crate::scenario::DatabasePlan;

/// A running cluster. Dropping it stops the server and deletes its directory (unless the
/// directory is a kept cache entry).
#[derive(Debug)]
pub struct LocalCluster {
    dir: Option<ClusterDir>,
    child: Option<Child>,
}

/// Where a cluster lives.
#[derive(Debug)]
enum ClusterDir {
    /// Deleted when the run ends.
    Throwaway(tempfile::TempDir),
    /// A seed cache entry, kept for the next run with the same data.
    Kept(super::CacheLock),
}

impl ClusterDir {
    fn path(&self) -> &Path {
        match self {
            ClusterDir::Throwaway(t) => t.path(),
            ClusterDir::Kept(lock) => &lock.path,
        }
    }
}

/// Postgres binaries found on this machine.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The directory holding `initdb` and `postgres`.
    pub dir: PathBuf,
    /// Their major version.
    pub major: u32,
}

/// Starts a throwaway cluster.
pub async fn provision(
    options: &BackendOptions,
    plan: &DatabasePlan,
    mut notes: Vec<String>,
) -> Result<Server, DbError> {
    let bin = find_binaries(options.pg_bin.as_deref(), plan.major)?;
    if let Some(wanted) = plan.major.filter(|m| *m != bin.major && plan.exact_major) {
        return Err(DbError::Cluster {
            what: format!("find Postgres {wanted}"),
            reason: format!(
                "the local binaries in {} are {}; build its image \
                 (scripts/build-postgres-image.sh {wanted}) or install postgresql-{wanted}",
                bin.dir.display(),
                bin.major
            ),
        });
    }
    if let Some(wanted) = plan.major.filter(|m| *m != bin.major) {
        let note = format!(
            "the scenario asks for Postgres {wanted}, but the local binaries in {} are {}; \
             rehearsing on {} (use --backend docker or install postgresql-{wanted} for {wanted})",
            bin.dir.display(),
            bin.major,
            bin.major
        );
        tracing::warn!("{note}");
        notes.push(note);
    }
    let owner = cluster_owner()?;
    let dir = cluster_dir(options, bin.major, &mut notes)?;
    if let ClusterDir::Kept(lock) = &dir
        && let Some(pid) = super::leftovers::postmaster(&lock.path)
    {
        // The entry's lock is ours, so a server still running on it belongs to a run that died
        // without stopping it: stop it before starting a second one on the same data.
        tracing::warn!(
            "stopping server pid {pid}, left running on the seed cache entry {} by a run that died",
            lock.path.display()
        );
        super::leftovers::stop_postmaster(pid);
    }
    super::leftovers::write_marker(dir.path(), &options.owner).map_err(|source| DbError::Io {
        what: "mark the cluster folder with its owner",
        path: dir.path().to_owned(),
        source,
    })?;
    let reuse = dir.path().join("data/PG_VERSION").is_file();
    if let Some(user) = &owner {
        std::os::unix::fs::chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .map_err(|source| DbError::Io {
                what: "give the postgres user",
                path: dir.path().to_owned(),
                source,
            })?;
    }
    let data = dir.path().join("data");
    if reuse {
        tracing::info!("reusing the cached cluster in {}", dir.path().display());
    } else {
        initdb(&bin, &data, owner.as_ref()).await?;
    }

    let port = free_port()?;
    let log = super::create_server_log(&options.log_path)?;
    let mut command = Command::new(bin.dir.join("postgres"));
    command.arg("-D").arg(&data);
    let mut settings = super::effective_settings(plan, Some(bin.major));
    settings.extend([
        ("port".to_owned(), port.to_string()),
        ("listen_addresses".to_owned(), "127.0.0.1".to_owned()),
        (
            "unix_socket_directories".to_owned(),
            dir.path().display().to_string(),
        ),
    ]);
    let kept = matches!(dir, ClusterDir::Kept(_)).then(|| dir.path().to_owned());
    for (key, value) in &settings {
        command.arg("-c").arg(format!("{key}={value}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|source| DbError::Io {
            what: "open the server log",
            path: options.log_path.clone(),
            source,
        })?)
        .stderr(log)
        .process_group(0);
    as_user(&mut command, owner.as_ref());
    // SAFETY: prctl only sets a flag of the new process; nothing else runs between fork and
    // exec. If rehearse dies (even by SIGKILL), the server gets SIGINT (fast shutdown) rather
    // than running on; the reaper removes the folder.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)
        });
    }
    let child = command.spawn().map_err(|e| DbError::Cluster {
        what: format!("start {}", bin.dir.join("postgres").display()),
        reason: e.to_string(),
    })?;
    let mut cluster = LocalCluster {
        dir: Some(dir),
        child: Some(child),
    };

    let mut config = Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname("postgres");
    let target = super::redacted(&config);
    let log_path = options.log_path.clone();
    super::wait_until_ready(&config, &target, Duration::from_secs(60), || {
        cluster.check_alive(&log_path)
    })
    .await
    .map_err(|e| match &kept {
        Some(path) if reuse => DbError::Cluster {
            what: format!("start the cached cluster in {}", path.display()),
            reason: format!("{e}\n(run with --fresh to discard it and seed again)"),
        },
        _ => e,
    })?;
    tracing::info!(
        "local Postgres {} cluster ready on 127.0.0.1:{port} (binaries {})",
        bin.major,
        bin.dir.display()
    );
    Ok(Server {
        backend: BackendKind::Local,
        config,
        target,
        image: None,
        binaries: Some(bin.dir),
        log: Some(options.log_path.clone()),
        settings_applied: true,
        notes,
        seed_cache: kept.and(options.cache.as_ref().map(|c| c.key.clone())),
        handle: super::Handle::Local(cluster),
    })
}

impl LocalCluster {
    /// The cluster's folder.
    pub(super) fn dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().to_owned())
    }

    /// Stops the server and deletes the cluster directory.
    pub async fn shutdown(self) {
        // Stopping waits on the child process: keep that off the async workers.
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    fn check_alive(&mut self, log: &Path) -> Result<(), DbError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(DbError::Cluster {
                what: "start the local Postgres server".into(),
                reason: format!(
                    "it exited ({status}); the end of its log ({}):\n{}",
                    log.display(),
                    tail(log, 15)
                ),
            }),
            Err(e) => Err(DbError::Cluster {
                what: "watch the local Postgres server".into(),
                reason: e.to_string(),
            }),
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is Postgres's fast shutdown: abort transactions, disconnect, stop.
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        tracing::warn!("local Postgres did not stop in 20 s; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        if let Some(ClusterDir::Throwaway(dir)) = self.dir.take() {
            let path = dir.path().to_owned();
            if let Err(e) = dir.close() {
                tracing::warn!("failed to delete cluster directory {}: {e}", path.display());
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster's folder: the seed cache entry for this major when there is a cache and no other
/// run holds it (emptied first with `--fresh`), else a throwaway one.
fn cluster_dir(
    options: &BackendOptions,
    major: u32,
    notes: &mut Vec<String>,
) -> Result<ClusterDir, DbError> {
    if let Some(cache) = &options.cache {
        if let Some(lock) = cache.lock(&format!("local-{major}-{}", cache.key))? {
            let io = |what, source| DbError::Io {
                what,
                path: lock.path.clone(),
                source,
            };
            if cache.fresh && lock.path.exists() {
                std::fs::remove_dir_all(&lock.path)
                    .map_err(|e| io("discard the cached cluster", e))?;
            }
            if !lock.path.join("data/PG_VERSION").is_file() && lock.path.exists() {
                // A cluster that never finished initdb.
                std::fs::remove_dir_all(&lock.path)
                    .map_err(|e| io("discard the unfinished cluster", e))?;
            }
            std::fs::create_dir_all(&lock.path)
                .map_err(|e| io("create the cached cluster folder", e))?;
            return Ok(ClusterDir::Kept(lock));
        }
        let note = format!(
            "another run holds the seed cache entry {}; seeding a throwaway cluster",
            cache.key
        );
        tracing::warn!("{note}");
        notes.push(note);
    }
    let dir = tempfile::Builder::new()
        .prefix("rehearse-cluster-")
        .tempdir()
        .map_err(|source| DbError::Io {
            what: "create a cluster directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    Ok(ClusterDir::Throwaway(dir))
}

/// Finds `initdb` and `postgres`: in `explicit` if given; else, in order, the Debian directory of
/// the wanted major, the directory of `initdb` on PATH, `pg_config --bindir`, and the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_binaries(explicit: Option<&Path>, major: Option<u32>) -> Result<Binaries, DbError> {
    if let Some(dir) = explicit {
        return check_binaries(dir).map_err(|reason| DbError::NoBinaries {
            reason: format!("--pg-bin {}: {reason}", dir.display()),
        });
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(m) = major {
        candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{m}/bin")));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).filter(|d| d.join("initdb").is_file()));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        ));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let m = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((m, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    candidates.extend(debian.into_iter().rev().map(|(_, p)| p));

    let mut tried = Vec::new();
    for dir in candidates {
        match check_binaries(&dir) {
            Ok(found) => return Ok(found),
            Err(reason) => tried.push(format!("{}: {reason}", dir.display())),
        }
    }
    let reason = if tried.is_empty() {
        "no initdb on PATH, no pg_config, nothing in /usr/lib/postgresql".to_owned()
    } else {
        format!("tried {}", tried.join("; "))
    };
    Err(DbError::NoBinaries { reason })
}

fn check_binaries(dir: &Path) -> Result<Binaries, String> {
    for tool in ["initdb", "postgres"] {
        if !dir.join(tool).is_file() {
            return Err(format!("no `{tool}` there"));
        }
    }
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run postgres --version: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let major = parse_major(&text).ok_or_else(|| format!("unexpected version output `{text}`"))?;
    Ok(Binaries {
        dir: dir.to_owned(),
        major,
    })
}

/// `postgres (PostgreSQL) 15.18 (Debian …)` → 15.
fn parse_major(version: &str) -> Option<u32> {
    let number = version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The OS user that will own the cluster: `postgres` when we are root, else ourselves.
fn cluster_owner() -> Result<Option<User>, DbError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(DbError::NoPostgresUser),
    }
}

fn as_user(command: &mut Command, owner: Option<&User>) {
    if let Some(user) = owner {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
}

async fn initdb(bin: &Binaries, data: &Path, owner: Option<&User>) -> Result<(), DbError> {
    let mut command = Command::new(bin.dir.join("initdb"));
    command
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null())
        .process_group(0);
    as_user(&mut command, owner);
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let out = command.output().await.map_err(|e| DbError::Cluster {
        what: format!("run {}", bin.dir.join("initdb").display()),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(DbError::Cluster {
            what: format!("initialise a cluster in {}", data.display()),
            reason: format!(
                "initdb exited with {}:\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(())
}

fn free_port() -> Result<u16, DbError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| DbError::Io {
            what: "find a free port on",
            path: PathBuf::from("127.0.0.1"),
            source,
        })
}

/// The last `lines` lines of a text file, for error messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_parse() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(parse_major("nonsense"), None);
    }

    #[test]
    fn a_directory_without_initdb_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_binaries(Some(dir.path()), None).unwrap_err();
        assert!(err.to_string().contains("no `initdb` there"), "{err}");
    }
}
