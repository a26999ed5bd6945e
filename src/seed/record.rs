//! What seeding recorded: per table, rows, bytes and the time each phase took; every index and
//! constraint built after the load. Kept with a cached template (as its marker), so a run that
//! reuses the template reports the figures of the run that seeded it.

use serde::{Deserialize, Serialize};

/// The seeding of one template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Seeded {
    /// Random seed used.
    pub seed: u64,
    /// Row-count multiplier used.
    pub scale: f64,
    /// Connections that loaded and indexed.
    pub jobs: u32,
    /// When seeding began, seconds on this run's clock (none when the template came from the
    /// cache).
    pub start_s: Option<f64>,
    /// Wall time from the first row to the last ANALYZE, seconds.
    pub seconds: f64,
    /// Per table, in load order.
    pub tables: Vec<TableLoad>,
    /// Every key, index and foreign key built after the load.
    pub builds: Vec<Build>,
    /// The seed cache key, when the template is kept for later runs.
    pub cache_key: Option<String>,
    /// Whether this run reused a template an earlier run seeded.
    pub cached: bool,
    /// What seeding did that a reader should know (statements skipped, triggers disabled
    /// while loading).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One table's load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TableLoad {
    /// `schema.table` as the server names it.
    pub table: String,
    /// Rows inserted.
    pub rows: u64,
    /// Heap + TOAST + indexes, bytes.
    pub bytes: u64,
    /// Seconds to generate and COPY its rows.
    pub load_s: f64,
    /// Seconds spent building its keys and indexes (summed; builds may overlap).
    pub index_s: f64,
    /// Seconds for its ANALYZE.
    pub analyze_s: f64,
}

/// One key, index or foreign key built after the load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Build {
    /// Its name.
    pub name: String,
    /// The table it is on.
    pub table: String,
    /// What it is.
    pub kind: BuildKind,
    /// Seconds to build (or validate, for a foreign key).
    pub seconds: f64,
}

/// What a build after the load makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BuildKind {
    /// A primary key, unique or exclusion constraint.
    Key,
    /// An index.
    Index,
    /// A foreign key.
    ForeignKey,
}
