//! Database backends: getting a Postgres server for a run and giving it back.
//!
//! Three ways, behind one [`Server`] handle: a throwaway cluster from local binaries
//! ([`local`]), a container through testcontainers ([`docker`]), or an existing server
//! ([`url`]). `auto` picks a container when a Docker engine answers and the image can be had,
//! else local binaries, and says why. Every backend is released by [`Server::shutdown`]; the
//! local cluster and the container are also released on drop, so an early return loses nothing.
//!
//! This module knows only the scenario's `[database]` section.

pub mod cache;
mod conninfo;
pub mod docker;
mod error;
mod facts;
pub mod leftovers;
pub mod local;
pub mod owner;
pub mod reaper;
mod scratch;
mod url;
mod watch;
pub use url::{connect as connect_url, parse as parse_url};

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

pub use conninfo::{libpq_env, redacted};
pub use error::DbError;
pub use facts::ServerFacts;
pub use scratch::{Scratch, drop_database, sweep_leftovers};
pub use watch::ServerWatch;

use crate::scenario::DatabasePlan;

/// The major version used when a scenario does not name one.
pub const DEFAULT_MAJOR: u32 = 17;

/// Which backend to use (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// A container when a Docker engine answers and the image can be had, else local binaries.
    Auto,
    /// A container through testcontainers.
    Docker,
    /// A throwaway cluster from installed Postgres binaries.
    Local,
    /// An existing server given by `--database-url`.
    Url,
}

impl BackendKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Docker => "docker",
            BackendKind::Local => "local",
            BackendKind::Url => "url",
        }
    }
}

/// What the command line says about the server to use.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// The backend asked for.
    pub kind: BackendKind,
    /// `--database-url`, for the url backend.
    pub database_url: Option<String>,
    /// `--image`, for the docker backend (overrides the scenario's).
    pub image: Option<String>,
    /// `--pg-bin`, for the local backend.
    pub pg_bin: Option<PathBuf>,
    /// `--allow-existing-tables`: let the url backend use a server whose database has tables.
    pub allow_existing_tables: bool,
    /// Where the server log is written (local and docker).
    pub log_path: PathBuf,
    /// Identifies this run's resources (container label, scratch database names).
    pub run_id: String,
    /// Where the seeded cluster may outlive the run (local: a kept data directory; docker: a
    /// volume), or `None` for a throwaway server.
    pub cache: Option<CacheSpot>,
    /// Who owns what the run creates (marks on folders, labels on containers and volumes,
    /// comments on scratch databases).
    pub owner: owner::Owner,
}

/// A cache entry for a seeded cluster: what it holds and where it lives.
#[derive(Debug, Clone)]
pub struct CacheSpot {
    /// Hash of the schema, the seed section, the scale, the seed and the tool version.
    pub key: String,
    /// Folder for kept data directories and lock files.
    pub dir: PathBuf,
    /// `--fresh`: discard the entry and start over.
    pub fresh: bool,
}

impl CacheSpot {
    /// Takes the entry `name` for this run, or `None` when another run holds it (the caller then
    /// falls back to a throwaway server, so concurrent runs never share a cluster).
    pub fn lock(&self, name: &str) -> Result<Option<CacheLock>, DbError> {
        use nix::fcntl::{Flock, FlockArg};
        let io = |what: &'static str, path: &Path, source| DbError::Io {
            what,
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| io("create the cache folder", &self.dir, e))?;
        let path = self.dir.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("open the cache lock", &path, e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(CacheLock {
                _lock: lock,
                path: self.dir.join(name),
            })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(io("lock", &path, errno.into())),
        }
    }
}

/// A held cache entry: released when dropped.
#[derive(Debug)]
pub struct CacheLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
    /// The entry's path (a folder for the local backend; the docker backend keeps a password
    /// file next to its volume).
    pub path: PathBuf,
}

/// Settings every rehearsal server of `major` (when known) gets before the scenario's own, so
/// lock waits are logged with exact durations (see POSTGRES-FACTS.md, "Locks and queues" 6),
/// and so a freshly made cluster writes WAL as a long-running one does: a production server
/// recycles its WAL files, a new cluster creates them, and zero-filling each new 16 MB file made
/// a fresh server's first rewrite of 4 M rows take 4.5 s instead of 3.5 s (`wal_init_zero = off`,
/// Postgres 12 and later, creates it without).
pub fn base_settings(major: Option<u32>) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = [
        ("log_lock_waits", "on"),
        ("deadlock_timeout", "100ms"),
        ("log_line_prefix", "%m [%p] "),
        ("log_timezone", "UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if major.is_none_or(|m| m >= 12) {
        settings.push(("wal_init_zero".into(), "off".into()));
    }
    settings
}

/// The base settings for `major` overlaid with the scenario's (the scenario wins on a shared
/// key).
pub fn effective_settings(plan: &DatabasePlan, major: Option<u32>) -> Vec<(String, String)> {
    let mut settings = base_settings(major);
    settings.retain(|(k, _)| !plan.settings.iter().any(|(sk, _)| sk == k));
    settings.extend(plan.settings.iter().cloned());
    settings
}

/// A Postgres server ready for a run, and how to give it back.
#[derive(Debug)]
pub struct Server {
    /// The backend actually used.
    pub backend: BackendKind,
    /// Connection settings for the server's maintenance database.
    config: Config,
    /// Where the server is, with no password, for messages and the report.
    pub target: String,
    /// Container image, for the docker backend.
    pub image: Option<String>,
    /// Binary directory, for the local backend.
    pub binaries: Option<PathBuf>,
    /// The server log, when the backend captures it.
    pub log: Option<PathBuf>,
    /// Whether the scenario's server settings were applied (not on the url backend).
    pub settings_applied: bool,
    /// What the user should know about how the server was chosen.
    pub notes: Vec<String>,
    /// The seed cache key when the seeded template may be kept on this server for later runs
    /// (a kept local cluster, a docker volume, or an existing server).
    pub seed_cache: Option<String>,
    handle: Handle,
}

#[derive(Debug)]
enum Handle {
    Local(local::LocalCluster),
    Docker(Box<docker::DockerServer>),
    Url,
}

impl Server {
    /// Connects to `dbname` on this server.
    pub async fn connect(&self, dbname: &str) -> Result<Client, DbError> {
        self.connect_as(dbname, "rehearse").await
    }

    /// Connects to `dbname` with `application_name` set to `role`, so the lock sampler can tell
    /// the migration, the traffic and background sessions apart.
    pub async fn connect_as(&self, dbname: &str, role: &str) -> Result<Client, DbError> {
        connect(&self.config_as(dbname, role), &self.target).await
    }

    /// The database the server was handed with (where scratch databases are created from).
    pub fn maintenance_db(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// Connection settings for `dbname` (for tools that need a URL-like target).
    pub fn config_for(&self, dbname: &str) -> Config {
        self.config_as(dbname, "rehearse")
    }

    /// Connection settings for `dbname` with `application_name` set to `role`.
    pub fn config_as(&self, dbname: &str, role: &str) -> Config {
        let mut config = self.config.clone();
        config.dbname(dbname).application_name(role);
        config
    }

    /// `DATABASE_URL` and the `PG*` variables for `dbname`, for external migration tools.
    /// They hold the password: never print them.
    pub fn env_for(&self, dbname: &str) -> Vec<(String, String)> {
        libpq_env(&self.config, dbname)
    }

    /// Free bytes on the disk the server's data lives on, when this machine can tell (a local
    /// cluster's folder; the Docker engine's root folder, when the engine runs here; an existing
    /// server on this machine whose `data_directory` this user may read and finds here).
    pub async fn disk_free(&self) -> Option<(u64, PathBuf)> {
        let place = match &self.handle {
            Handle::Local(cluster) => cluster.dir()?,
            Handle::Docker(_) => {
                let engine = docker::engine().await.ok()?;
                let root = engine.info().await.ok()?.docker_root_dir?;
                PathBuf::from(root)
            }
            Handle::Url => self.local_data_directory().await?,
        };
        let stat = nix::sys::statvfs::statvfs(&place).ok()?;
        Some((stat.blocks_available() * stat.fragment_size(), place))
    }

    /// The data directory of an existing server that runs on this machine, if it can be read
    /// (`data_directory` needs superuser or `pg_read_all_settings`) and exists here.
    async fn local_data_directory(&self) -> Option<PathBuf> {
        use tokio_postgres::config::Host;
        let here = match self.config.get_hosts().first()? {
            Host::Tcp(h) => matches!(h.as_str(), "localhost" | "127.0.0.1" | "::1"),
            Host::Unix(_) => true,
        };
        if !here {
            return None;
        }
        let client = self.connect(self.maintenance_db()).await.ok()?;
        let row = client
            .query_one("SELECT current_setting('data_directory')", &[])
            .await
            .ok()?;
        let dir = PathBuf::from(row.get::<_, String>(0));
        dir.exists().then_some(dir)
    }

    /// Stops and removes whatever the backend started. The url backend leaves the server alone.
    pub async fn shutdown(self) {
        match self.handle {
            Handle::Local(cluster) => cluster.shutdown().await,
            Handle::Docker(container) => container.shutdown().await,
            Handle::Url => {}
        }
    }
}

/// Provides a server as `options` and the scenario's `[database]` section ask.
pub async fn provision(options: &BackendOptions, plan: &DatabasePlan) -> Result<Server, DbError> {
    match options.kind {
        BackendKind::Local => local::provision(options, plan, Vec::new()).await,
        BackendKind::Docker => docker::provision(options, plan, Vec::new()).await,
        BackendKind::Url => url::provision(options).await,
        BackendKind::Auto => auto(options, plan).await,
    }
}

/// Removes anything a provisioning that did not complete may have left: a container whose start
/// was interrupted before testcontainers handed it over.
pub async fn sweep_after_failed_provision(options: &BackendOptions) {
    if matches!(options.kind, BackendKind::Docker | BackendKind::Auto)
        && let Ok(engine) = docker::engine().await
    {
        docker::sweep(&engine, &options.run_id).await;
    }
}

async fn auto(options: &BackendOptions, plan: &DatabasePlan) -> Result<Server, DbError> {
    if options.database_url.is_some() {
        return url::provision(options).await;
    }
    let docker_why = match docker::provision(options, plan, Vec::new()).await {
        Ok(server) => return Ok(server),
        Err(e) => e.to_string(),
    };
    let note = format!("backend auto: not using a container ({docker_why}); trying local binaries");
    tracing::info!("{note}");
    match local::provision(options, plan, vec![note]).await {
        Ok(server) => Ok(server),
        Err(local) => Err(DbError::NoBackend {
            docker: docker_why,
            local: local.to_string(),
        }),
    }
}

/// Runs `body` on a new OS thread with a single-threaded tokio runtime of its own, so the
/// connections it opens (sockets, driver tasks) stay on that thread. The runtime is built here,
/// so a failure is reported to the caller rather than lost in the thread.
pub(crate) fn spawn_with_own_runtime<T: Send + 'static>(
    name: String,
    body: impl FnOnce(&tokio::runtime::Runtime) -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, DbError> {
    let fail = |reason: String| DbError::Cluster {
        what: format!("start thread {name}"),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || body(&runtime))
        .map_err(|e| fail(e.to_string()))
}

/// Creates (truncating) the server log file, and the output folder it goes in.
pub(crate) fn create_server_log(path: &Path) -> Result<std::fs::File, DbError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| DbError::Io {
            what: "create the output folder",
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::File::create(path).map_err(|source| DbError::Io {
        what: "create the server log",
        path: path.to_owned(),
        source,
    })
}

/// Connects with a timeout, spawning the connection task.
pub(crate) async fn connect(config: &Config, target: &str) -> Result<Client, DbError> {
    let (client, driver) = connect_undriven(config, target).await?;
    tokio::spawn(driver);
    Ok(client)
}

/// The connection's socket, to be polled by whoever runs its client.
pub(crate) type Driver = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Connects with a timeout; the caller polls the returned driver (a traffic worker polls it in
/// its own task, which saves a task wake-up per operation).
pub(crate) async fn connect_undriven(
    config: &Config,
    target: &str,
) -> Result<(Client, Driver), DbError> {
    let attempt = tokio::time::timeout(Duration::from_secs(15), config.connect(NoTls)).await;
    let (client, connection) = match attempt {
        Ok(Ok(pair)) => pair,
        Ok(Err(source)) => {
            return Err(DbError::Connect {
                target: target.to_owned(),
                dbname: config.get_dbname().unwrap_or("").to_owned(),
                message: crate::pg::describe(&source),
            });
        }
        Err(_) => {
            return Err(DbError::ConnectTimeout {
                target: target.to_owned(),
            });
        }
    };
    let driver = Box::pin(async move {
        if let Err(e) = connection.await {
            tracing::debug!("connection closed: {e}");
        }
    });
    Ok((client, driver))
}

/// Retries connecting until the server accepts, `deadline` passes, or `alive` says it died.
pub(crate) async fn wait_until_ready(
    config: &Config,
    target: &str,
    deadline: Duration,
    mut alive: impl FnMut() -> Result<(), DbError>,
) -> Result<(), DbError> {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        alive()?;
        match tokio::time::timeout(Duration::from_secs(2), config.connect(NoTls)).await {
            Ok(Ok((client, connection))) => {
                drop(client);
                drop(connection);
                return Ok(());
            }
            Ok(Err(e)) if tokio::time::Instant::now() > give_up => {
                return Err(DbError::Connect {
                    target: target.to_owned(),
                    dbname: config.get_dbname().unwrap_or("").to_owned(),
                    message: crate::pg::describe(&e),
                });
            }
            Err(_) if tokio::time::Instant::now() > give_up => {
                return Err(DbError::ConnectTimeout {
                    target: target.to_owned(),
                });
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
