//! The seed part of the report: what was loaded, how fast, and whether it came from the cache.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The seeded data.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedSummary {
    /// Random seed used.
    pub seed: u64,
    /// Row-count multiplier used.
    pub scale: f64,
    /// Connections that loaded and indexed.
    pub jobs: u32,
    /// When seeding began, seconds from the run's start (null when the data came from the
    /// seed cache).
    #[serde(default)]
    pub start_s: Option<f64>,
    /// Per table, in load order.
    pub tables: Vec<TableSummary>,
    /// Every primary key, unique constraint, index and foreign key built after the load.
    pub builds: Vec<IndexBuild>,
    /// Rows in all tables.
    pub rows: u64,
    /// Heap + TOAST + indexes of all seeded tables, bytes.
    pub bytes: u64,
    /// Wall time from the first row to the last ANALYZE, seconds.
    pub seconds: f64,
    /// `bytes` over `seconds`, MB (10^6) per second.
    pub mb_per_second: f64,
    /// `rows` over `seconds`.
    pub rows_per_second: f64,
    /// The seed cache key, when the seeded template is kept for later runs.
    #[serde(default)]
    pub cache_key: Option<String>,
    /// This run reused a template seeded by an earlier run (the figures are that run's).
    #[serde(default)]
    pub cached: bool,
    /// What seeding did that a reader should know: statements of the schema skipped, user
    /// triggers disabled while loading.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One seeded table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSummary {
    /// `schema.table` as the server names it.
    pub table: String,
    /// Rows inserted.
    pub rows: u64,
    /// Heap + TOAST + indexes, bytes.
    pub bytes: u64,
    /// Seconds to generate and COPY its rows.
    pub seconds: f64,
    /// Seconds spent building its keys and indexes (summed; builds may overlap).
    pub index_seconds: f64,
    /// Seconds for its ANALYZE.
    pub analyze_seconds: f64,
}

/// One index or constraint built after the load.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexBuild {
    /// Its name.
    pub name: String,
    /// The table it is on.
    pub table: String,
    /// What was built.
    pub kind: IndexBuildKind,
    /// Seconds to build (or validate, for a foreign key).
    pub seconds: f64,
}

/// What a build after the load made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IndexBuildKind {
    /// A primary key, unique or exclusion constraint.
    #[serde(rename = "key")]
    Key,
    /// An index.
    #[serde(rename = "index")]
    Index,
    /// A foreign key (validated).
    #[serde(rename = "foreign key")]
    ForeignKey,
}
