//! The report: the public, versioned data model of what a run observed, and its renderers.
//!
//! `report.json` is the source of truth; every other format is a view over [`Report`]. The model
//! is plain data (no histograms, channels or handles) and its JSON Schema is committed as
//! `schemas/report.schema.json`. Bump [`SCHEMA_VERSION`] on any change that breaks readers.

mod charts;
pub mod compare;
pub mod render;
mod summary;
mod traffic;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::pg::ServerError;

pub use summary::write_summary;
pub use traffic::{
    BackgroundReport, DelayedOps, ErrorReport, IntervalReport, LatencyStats, Percentiles,
    PhaseReport, QueryStats, TrafficReport,
};

/// Version of the report format. Readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run observed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Version of this format ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The tool that wrote the report.
    pub tool: Tool,
    /// Identifies the run (scratch database names and container labels carry it).
    pub run_id: String,
    /// The scenario rehearsed.
    pub scenario: ScenarioInfo,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    /// Seconds from start to the end of the run.
    pub duration_s: f64,
    /// How the run ended.
    pub outcome: Outcome,
    /// Why the run could not complete, when `outcome` is `error`.
    pub error: Option<String>,
    /// Where and how it ran, enough to reproduce it.
    pub environment: Environment,
    /// The seeded data, when seeding completed.
    pub seed: Option<SeedSummary>,
    /// One entry per strategy, in scenario order.
    pub strategies: Vec<StrategyReport>,
    /// The judgement against the budgets.
    pub verdict: Verdict,
}

/// The tool that wrote the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `rehearse`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The scenario rehearsed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The file, as given on the command line.
    pub path: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step succeeded and every checked budget held.
    Passed,
    /// A step failed or a budget was breached.
    Failed,
    /// The user interrupted the run.
    Interrupted,
    /// The run could not complete (environment or scenario error).
    Error,
}

/// Where and how the run ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// `docker`, `local` or `url` (the backend actually used).
    pub backend: Option<String>,
    /// The server, without password.
    pub target: Option<String>,
    /// Container image (docker backend).
    pub image: Option<String>,
    /// Binary directory (local backend).
    pub binaries: Option<String>,
    /// `SHOW server_version`.
    pub server_version: Option<String>,
    /// `SHOW server_version_num`.
    pub server_version_num: Option<u32>,
    /// Effective values of the settings rehearse or the scenario set.
    pub settings: BTreeMap<String, String>,
    /// Whether the scenario's settings were applied (not possible on the url backend).
    pub settings_applied: bool,
    /// The server log, when captured.
    pub server_log: Option<String>,
    /// Row-count multiplier.
    pub scale: f64,
    /// Random seed.
    pub seed: u64,
    /// Things worth knowing about how the server was chosen.
    pub notes: Vec<String>,
}

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
}

impl SeedSummary {
    /// A summary with its totals and rates computed.
    pub fn new(
        seed: u64,
        scale: f64,
        jobs: u32,
        tables: Vec<TableSummary>,
        builds: Vec<IndexBuild>,
        seconds: f64,
    ) -> SeedSummary {
        let rows = tables.iter().map(|t| t.rows).sum();
        let bytes = tables.iter().map(|t| t.bytes).sum();
        let per_second = |x: u64| {
            if seconds > 0.0 {
                x as f64 / seconds
            } else {
                0.0
            }
        };
        SeedSummary {
            seed,
            scale,
            jobs,
            tables,
            builds,
            rows,
            bytes,
            seconds,
            mb_per_second: per_second(bytes) / 1e6,
            rows_per_second: per_second(rows),
            cache_key: None,
            cached: false,
        }
    }
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
    /// `key` (primary key, unique, exclusion), `index` or `foreign key`.
    pub kind: String,
    /// Seconds to build (or validate, for a foreign key).
    pub seconds: f64,
}

/// One strategy's rehearsal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyReport {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The scratch database it ran in (a clone of the seeded one).
    pub database: String,
    /// Offset of its first step from the run's start, seconds.
    pub start_s: Option<f64>,
    /// Seconds from its first step's start to its last step's end.
    pub duration_s: Option<f64>,
    /// How it ended.
    pub status: StrategyStatus,
    /// Its steps, in order.
    pub steps: Vec<StepReport>,
    /// What the application traffic felt, when the scenario has `[traffic]`.
    pub traffic: Option<TrafficReport>,
    /// Invalid indexes and NOT VALID constraints left after the steps.
    pub leftovers: Vec<Leftover>,
    /// Every lock wait the sampler saw while the strategy ran (traffic and steps).
    pub lock_waits: Vec<LockWait>,
}

/// A session waiting for a lock, as the sampler saw it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockWait {
    /// Who waited.
    pub waiter: SessionRef,
    /// `relation`, `transactionid`, `tuple`, …
    pub locktype: String,
    /// The mode asked for, e.g. `AccessExclusiveLock`.
    pub mode: String,
    /// The relation, for relation locks.
    pub relation: Option<String>,
    /// When the wait began, seconds from the run's start (exact on PG 14+).
    pub start_s: f64,
    /// When it ended (within one poll).
    pub end_s: f64,
    /// How long it lasted (the server log's exact figure when it has one, else sampled).
    pub duration_s: f64,
    /// The exact duration from the server log's "acquired … after N ms" line (waits longer
    /// than `deadlock_timeout`, local and docker backends).
    pub logged_duration_s: Option<f64>,
    /// The duration the sampler alone measured (kept beside the logged one, for comparison).
    pub sampled_duration_s: Option<f64>,
    /// The sessions it waited for (`pg_blocking_pids`: holders and earlier waiters).
    pub blocked_by: Vec<SessionRef>,
    /// How many polls saw it (0: only the server log did).
    pub samples: u32,
}

/// A session, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRef {
    /// Backend pid.
    pub pid: i32,
    /// `migration`, `traffic`, `background`, `observer` or `other`.
    pub role: String,
    /// Background session name, or the application name of others.
    pub name: Option<String>,
    /// What it was running (first 300 characters).
    pub query: Option<String>,
}

/// The lock waits of one step, summarised.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepLockSummary {
    /// Seconds the step's session spent waiting for locks.
    pub migration_wait_s: f64,
    /// What its longest wait was for, e.g. `AccessExclusiveLock on users`.
    pub migration_waited_for: Option<String>,
    /// Whom its longest wait was behind.
    pub blockers: Vec<SessionRef>,
    /// Application (traffic) lock waits during the step.
    pub app_waits: u64,
    /// Of those, waits queued behind the step's session.
    pub app_waits_behind_migration: u64,
    /// The longest application lock wait during the step, seconds.
    pub longest_app_wait_s: f64,
}

/// How a strategy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyStatus {
    /// Every step succeeded.
    Succeeded,
    /// A step failed; later steps were skipped.
    Failed,
    /// The run was interrupted during it.
    Interrupted,
    /// It did not start (an earlier failure or interruption).
    NotRun,
}

/// One step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// 1-based position in the strategy.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// `sql`, `deploy` or `pause`.
    pub kind: String,
    /// `inline`, the SQL file, or what a deploy or pause does.
    pub source: String,
    /// Offset of its start from the run's start, seconds.
    pub start_s: Option<f64>,
    /// Seconds it took.
    pub duration_s: Option<f64>,
    /// How it ended.
    pub status: StepStatus,
    /// The server's error, when it failed.
    pub error: Option<ServerError>,
    /// The statement that failed.
    pub statement: Option<String>,
    /// Rows affected (SQL steps).
    pub rows: Option<u64>,
    /// Every attempt (SQL steps; more than one after lock-timeout retries).
    pub attempts: Vec<AttemptReport>,
    /// Seconds spent in attempts that ended on a lock timeout.
    pub lock_timeout_s: f64,
    /// Relation locks the step's transaction held when it committed (transactional SQL steps).
    pub locks: Vec<LockTaken>,
    /// Relations the step rewrote (new relfilenode, same oid).
    pub rewrites: Vec<Rewrite>,
    /// WAL written while the step ran (includes concurrent traffic's), bytes.
    pub wal_bytes: Option<u64>,
    /// Lock waits during the step (when sampled).
    pub lock_summary: Option<StepLockSummary>,
    /// Command steps: the last 16 kB of stdout, then of stderr.
    pub output: Option<String>,
    /// Backfill steps: batches, rows, throttling.
    pub backfill: Option<BackfillReport>,
    /// Index builds: the `pg_stat_progress_create_index` phases the sampler saw, in order.
    pub index_phases: Vec<IndexPhase>,
}

/// One phase of an index build, as `pg_stat_progress_create_index` showed it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexPhase {
    /// The building backend.
    pub pid: i32,
    /// Its role (`migration` for a step's build).
    pub role: String,
    /// The index (null before it exists in the catalog).
    pub index: Option<String>,
    /// E.g. `building index: scanning table`, `waiting for old snapshots`.
    pub phase: String,
    /// First seen, seconds from the run's start.
    pub first_s: f64,
    /// Last seen.
    pub last_s: f64,
    /// Blocks done when last seen.
    pub blocks_done: Option<i64>,
    /// Blocks in all.
    pub blocks_total: Option<i64>,
    /// Tuples done when last seen.
    pub tuples_done: Option<i64>,
    /// Tuples in all.
    pub tuples_total: Option<i64>,
}

/// What a batched backfill did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillReport {
    /// Batches run.
    pub batches: u64,
    /// Rows updated.
    pub rows: u64,
    /// Batches after which the throttle lengthened the pause.
    pub throttled: u64,
    /// Seconds spent pausing between batches.
    pub paused_s: f64,
}

/// A relation a step rewrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// The relation.
    pub relation: String,
    /// `table`, `index` or `materialized view`.
    pub kind: String,
}

/// Something a strategy left behind that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Leftover {
    /// `invalid_index` or `not_valid_constraint`.
    pub kind: String,
    /// The index or constraint.
    pub name: String,
    /// Its table.
    pub relation: String,
}

impl StepReport {
    /// A step that has not run (yet): `skipped` until something says otherwise.
    pub fn not_run(index: usize, name: String, kind: String, source: String) -> StepReport {
        StepReport {
            index,
            name,
            kind,
            source,
            start_s: None,
            duration_s: None,
            status: StepStatus::Skipped,
            error: None,
            statement: None,
            rows: None,
            attempts: Vec::new(),
            lock_timeout_s: 0.0,
            locks: Vec::new(),
            rewrites: Vec::new(),
            wal_bytes: None,
            lock_summary: None,
            output: None,
            backfill: None,
            index_phases: Vec::new(),
        }
    }
}

/// One attempt at a SQL step (or, outside a transaction, at one of its statements).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptReport {
    /// Offset from the run's start, seconds.
    pub start_s: f64,
    /// Seconds it took.
    pub duration_s: f64,
    /// Why it failed.
    pub error: Option<ServerError>,
}

/// A lock a step held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockTaken {
    /// The relation.
    pub relation: String,
    /// `table`, `index`, `sequence`, …
    pub kind: String,
    /// `AccessExclusiveLock`, `ShareLock`, …
    pub mode: String,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It ran to completion.
    Succeeded,
    /// The server returned an error.
    Failed,
    /// The run was interrupted while it ran (its statement was cancelled).
    Interrupted,
    /// It did not run.
    Skipped,
}

/// The judgement against the budgets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// No breach.
    pub passed: bool,
    /// Each breach, named.
    pub breaches: Vec<Breach>,
    /// Budgets given that this version cannot measure yet, with why.
    pub unchecked: Vec<String>,
    /// Every budget (and the always-on "no step fails"), with its outcome.
    #[serde(default)]
    pub checks: Vec<BudgetCheck>,
}

/// One budget and how it fared.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetCheck {
    /// The budget's key, e.g. `p99-during-migration` or `max-errors-by-class.deadlock`.
    pub budget: String,
    /// The limit, as written.
    pub limit: String,
    /// `passed`, `breached` or `unchecked`.
    pub status: String,
}

/// One budget breached (or a failed step, which fails the run).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Breach {
    /// The budget's key (`max-step-duration`, …) or `step-failed`.
    pub budget: String,
    /// The strategy.
    pub strategy: String,
    /// The step, when the breach is a step's.
    pub step: Option<String>,
    /// The limit, as written.
    pub limit: Option<String>,
    /// What was measured.
    pub actual: String,
}

/// Failures to read a report back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("failed to read report {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON, truncated, or not a report.
    #[error("failed to parse report {}: {source}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// Another format version.
    #[error(
        "report {} has schema_version {found} (written by {writer}); this rehearse ({}) reads \
         schema_version {SCHEMA_VERSION}: read it with the rehearse that wrote it{}",
        path.display(),
        env!("CARGO_PKG_VERSION"),
        if *found > SCHEMA_VERSION as u64 { " or a newer one" } else { "" }
    )]
    Version {
        /// The file.
        path: std::path::PathBuf,
        /// Its version.
        found: u64,
        /// `rehearse X.Y.Z` from the report's `tool`, when it says.
        writer: String,
    },
}

impl Report {
    /// Writes the report as pretty JSON, atomically (a temp file renamed into place).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    /// Reads a report, refusing other format versions with a clear message.
    pub fn read(path: &Path) -> Result<Report, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ReadError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let found = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if found != SCHEMA_VERSION as u64 {
            let writer = match (
                value.pointer("/tool/name").and_then(|v| v.as_str()),
                value.pointer("/tool/version").and_then(|v| v.as_str()),
            ) {
                (Some(name), Some(version)) => format!("{name} {version}"),
                _ => "an unknown tool".into(),
            };
            return Err(ReadError::Version {
                path: path.to_owned(),
                found,
                writer,
            });
        }
        serde_json::from_value(value).map_err(|source| ReadError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The JSON Schema of the report, as committed in `schemas/report.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Report)).expect("schema serialises")
    }
}
