//! A strategy's part of the report: its steps, what each did to the database, what the
//! application felt, and the figures that decide between strategies.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{LockWait, ServerError, StepLockSummary, TrafficReport};
use crate::pg::{ErrorClass, LeftoverKind, LockMode, RelKind, SessionRole};
use crate::scenario::StepKind;

/// One strategy's rehearsal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyReport {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The scenario shows it for contrast (`expect = "breach"`): its breaches do not fail the
    /// run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expect_breach: bool,
    /// The scratch database it ran in (a clone of the seeded one).
    pub database: String,
    /// Offset of its first step from the run's start, seconds.
    pub start_s: Option<f64>,
    /// Seconds from its first step's start to its last step's end.
    pub duration_s: Option<f64>,
    /// How it ended.
    pub status: StrategyStatus,
    /// Why it could not finish (the server died: when, during which phase, the cause).
    #[serde(default)]
    pub error: Option<String>,
    /// Its steps, in order.
    pub steps: Vec<StepReport>,
    /// What the application traffic felt, when the scenario has `[traffic]`.
    pub traffic: Option<TrafficReport>,
    /// Invalid indexes and NOT VALID constraints left after the steps.
    pub leftovers: Vec<Leftover>,
    /// Every lock wait seen while the strategy ran (traffic and steps): the sampler's, with the
    /// server log's exact durations folded in.
    pub lock_waits: Vec<LockWait>,
    /// Client connections open on the server while the strategy ran, against
    /// `max_connections` (the lock sampler counts them); null without the sampler.
    #[serde(default)]
    pub connections: Option<ConnectionsReport>,
    /// The figures that decide between strategies, derived once from the above.
    pub figures: StrategyFigures,
}

/// The figures that decide between strategies: every format's side-by-side table and the
/// verdict read these.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyFigures {
    /// The longest application lock wait (the longest stall a request saw on a lock), seconds;
    /// null without traffic.
    pub longest_stall_s: Option<f64>,
    /// What that wait was for, e.g. `AccessShareLock on users`.
    pub longest_stall_on: Option<String>,
    /// Slowest application operation due while steps ran, ms.
    pub max_during_ms: Option<f64>,
    /// p99 latency of operations due while steps ran, ms.
    pub p99_during_ms: Option<f64>,
    /// p99 latency of the baseline, ms.
    pub p99_baseline_ms: Option<f64>,
    /// How steady the baseline was, over its whole intervals.
    pub baseline_stability: Option<Stability>,
    /// Operations due while steps ran that the migration delayed.
    pub delayed: Option<DelayedOps>,
    /// Application errors, all classes.
    pub errors: u64,
    /// Application errors by class.
    pub errors_by_class: BTreeMap<ErrorClass, u64>,
    /// WAL written while the steps ran, bytes.
    pub wal_bytes: u64,
    /// Relations rewritten, in step order.
    pub rewrites: Vec<String>,
    /// The longest ACCESS EXCLUSIVE hold of a step (an upper bound), seconds.
    pub exclusive_hold_s: Option<f64>,
}

/// Client connections open on the server (every database and user, rehearse's own sessions
/// included) while a strategy ran.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsReport {
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// Slots of those reserved for superusers (`superuser_reserved_connections`, plus
    /// `reserved_connections` on 16+): other roles are refused (SQLSTATE 53300) once
    /// `max_connections − reserved` are open.
    pub reserved: u32,
    /// The most open at once.
    pub peak: u32,
    /// When that count was first seen, seconds from the run's start.
    pub peak_at_s: f64,
    /// Each change of the count, in order.
    pub series: Vec<ConnectionPoint>,
}

/// The connections open from `t_s` on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPoint {
    /// Seconds from the run's start.
    pub t_s: f64,
    /// Client connections open.
    pub open: u32,
}

/// The spread of a phase's per-interval throughput and p99: a baseline that wanders measures the
/// machine, not the application.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stability {
    /// Whole intervals of the time series inside the phase.
    pub intervals: u64,
    /// Mean operations per second over them.
    pub ops_per_s: f64,
    /// Their coefficient of variation (standard deviation / mean), percent.
    pub ops_per_s_cv_pct: f64,
    /// The lowest interval p99, ms.
    pub p99_min_ms: f64,
    /// The highest interval p99, ms.
    pub p99_max_ms: f64,
}

/// Operations due while steps ran that took longer than a threshold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayedOps {
    /// Twice the baseline's p99, at least 10 ms.
    pub threshold_ms: f64,
    /// Operations slower than that.
    pub count: u64,
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

impl StrategyStatus {
    /// The word reports use: `succeeded`, `not_run`, …
    pub fn name(self) -> &'static str {
        match self {
            StrategyStatus::Succeeded => "succeeded",
            StrategyStatus::Failed => "failed",
            StrategyStatus::Interrupted => "interrupted",
            StrategyStatus::NotRun => "not_run",
        }
    }
}

/// One step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    /// 1-based position in the strategy.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What kind of step.
    pub kind: StepKind,
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
    /// Every attempt (SQL steps): the first, then one per lock-timeout retry.
    pub attempts: Vec<AttemptReport>,
    /// Seconds spent in attempts that ended on a lock timeout.
    pub lock_timeout_s: f64,
    /// Relation locks the step's statements took (SQL steps): in a transaction, those held when
    /// it ended; outside one, those seen while the statement ran.
    pub locks: Vec<LockTaken>,
    /// When the step may have held an ACCESS EXCLUSIVE lock: `[start_s, end_s]` of each of its
    /// transactions (or statements run outside one) that held one. Reports written before it
    /// was recorded have none; their last attempt stands in.
    #[serde(default)]
    pub exclusive_spans: Vec<[f64; 2]>,
    /// How long the step held an ACCESS EXCLUSIVE lock, at most, seconds.
    pub exclusive_hold_s: Option<f64>,
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

impl StepStatus {
    /// The word reports use.
    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Interrupted => "interrupted",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// One attempt at a SQL step: the first, or a retry after a lock timeout (outside a
/// transaction, a retry starts again at the statement that timed out).
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
    /// What kind of relation.
    pub kind: RelKind,
    /// The mode held.
    pub mode: LockMode,
}

/// A relation a step rewrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// The relation.
    pub relation: String,
    /// What kind of relation.
    pub kind: RelKind,
}

/// Something a strategy left behind that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Leftover {
    /// What it is.
    pub kind: LeftoverKind,
    /// The index or constraint.
    pub name: String,
    /// Its table.
    pub relation: String,
}

/// One phase of an index build, as `pg_stat_progress_create_index` showed it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexPhase {
    /// The building backend.
    pub pid: i32,
    /// Its role (`migration` for a step's build).
    pub role: SessionRole,
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
