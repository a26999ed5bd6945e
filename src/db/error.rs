//! Environment failures: no Docker, no binaries, a server that does not answer. All map to
//! exit code 3, and each message says what to do.

use std::path::PathBuf;

/// Failures to provide or reach a Postgres server.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No Docker engine answered.
    #[error(
        "failed to reach a Docker engine: {reason}. Start the Docker daemon, or use --backend local"
    )]
    NoDocker {
        /// The client's error.
        reason: String,
    },
    /// The image is neither present nor pullable.
    #[error(
        "failed to get a Postgres image: {reason}. Build one offline with \
         `scripts/build-postgres-image.sh {major}` (gives rehearse/postgres:{major}) or pass --image"
    )]
    NoImage {
        /// What was tried.
        reason: String,
        /// The major version wanted.
        major: u32,
    },
    /// The container did not start.
    #[error("failed to start a Postgres container from {image}: {reason}")]
    Container {
        /// The image.
        image: String,
        /// Why.
        reason: String,
    },
    /// No usable Postgres binaries.
    #[error(
        "failed to find Postgres server binaries: {reason}. Install them (e.g. \
         `apt-get install postgresql`) or pass --pg-bin DIR (the directory holding initdb and postgres)"
    )]
    NoBinaries {
        /// What was tried.
        reason: String,
    },
    /// Running as root with no unprivileged user to own the cluster.
    #[error(
        "failed to find an OS user to own the local cluster: running as root, and there is no \
         `postgres` user (initdb refuses to run as root). Create one (`useradd -r postgres`) or run \
         as an ordinary user"
    )]
    NoPostgresUser,
    /// initdb or the server failed.
    #[error("failed to {what}: {reason}")]
    Cluster {
        /// Which operation.
        what: String,
        /// Why, with the tool's output.
        reason: String,
    },
    /// An I/O failure around the cluster (temp dir, log file).
    #[error("failed to {what} {}: {source}", path.display())]
    Io {
        /// Which operation.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `--database-url` missing or malformed.
    #[error("invalid --database-url: {0}")]
    BadUrl(String),
    /// The server refused or failed the connection.
    #[error("failed to connect to {target} (database `{dbname}`): {message}")]
    Connect {
        /// Where, without password.
        target: String,
        /// Which database.
        dbname: String,
        /// The server's message and SQLSTATE (28P01 a wrong password, 3D000 no such database,
        /// 53300 too many clients), or the system's (connection refused).
        message: String,
    },
    /// The server did not answer in time.
    #[error("failed to connect to {target}: no answer within the timeout")]
    ConnectTimeout {
        /// Where, without password.
        target: String,
    },
    /// The url target already holds user tables.
    #[error(
        "refusing to rehearse on {target}: database `{dbname}` holds {tables} user table(s) \
         (e.g. {example}), so it may be a real database. rehearse only creates and drops its own \
         scratch databases, but to be safe it runs against servers that look unused. Pass \
         --allow-existing-tables if this server is meant for rehearsals"
    )]
    NotEmpty {
        /// Where, without password.
        target: String,
        /// The database inspected.
        dbname: String,
        /// How many user tables.
        tables: i64,
        /// One of them.
        example: String,
    },
    /// The url target's role cannot create databases.
    #[error(
        "failed to use {target}: role `{role}` may not create databases (rehearse creates a \
         scratch database per run); grant CREATEDB or use another role"
    )]
    NoCreateDb {
        /// Where, without password.
        target: String,
        /// The role.
        role: String,
    },
    /// A catalog query failed.
    #[error("failed to {what} on {target}: {message}")]
    Query {
        /// Which operation.
        what: String,
        /// Where, without password.
        target: String,
        /// The server's error, with its SQLSTATE.
        message: String,
    },
    /// The seeded data would not fit on the server's disk.
    #[error(
        "refusing to seed: the data would take about {needed} (rows × their columns' widths, plus \
         indexes) and the disk holding {} has {free} free; lower the row counts or --scale, or \
         free some space",
        place.display()
    )]
    NoSpace {
        /// The estimate.
        needed: String,
        /// Free space.
        free: String,
        /// Where the data would go.
        place: PathBuf,
    },
    /// The server stopped answering during a strategy.
    #[error("{cause}")]
    ServerDied {
        /// When, during which phase, and why.
        cause: String,
    },
    /// A statement rehearse itself runs on the server (creating or dropping a scratch
    /// database, reading the version) failed.
    #[error("failed to {what}: {message}")]
    Statement {
        /// Which operation.
        what: String,
        /// The server's message.
        message: String,
    },
    /// `auto` found neither a usable container nor local binaries.
    #[error(
        "failed to find a Postgres to rehearse on.\n  docker: {docker}\n  local: {local}\n\
         Either start Docker (and build an image: scripts/build-postgres-image.sh 17), or install \
         Postgres server packages, or point --database-url at a server"
    )]
    NoBackend {
        /// Why docker was not used.
        docker: String,
        /// Why local binaries were not used.
        local: String,
    },
}
