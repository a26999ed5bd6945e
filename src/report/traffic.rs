//! The traffic part of the report: what the application felt, per phase and over time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pg::ErrorClass;
use crate::scenario::PhaseKind;

/// What the replayed application traffic observed during one strategy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficReport {
    /// The replay of a captured statement log, when the traffic was one (its statements'
    /// figures are under the queries `replay select`, `replay insert`, …).
    #[serde(default)]
    pub replay: Option<ReplayReport>,
    /// Target operations per second; `null` for `rate = "max"`.
    pub rate: Option<f64>,
    /// Connections.
    pub connections: usize,
    /// `poisson`, `uniform` or `max`.
    pub arrival: String,
    /// Time-series resolution, seconds.
    pub interval_s: f64,
    /// Traffic run before the baseline to warm the fresh copy of the data, not measured,
    /// seconds.
    #[serde(default)]
    pub warmup_s: f64,
    /// Operations the schedule started (intended start before traffic stopped).
    pub scheduled: u64,
    /// Operations recorded (succeeded + failed); equals `scheduled` unless some were abandoned.
    pub recorded: u64,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Operations that failed (see `errors`).
    pub failed: u64,
    /// Operations still queued or running when traffic stopped and given up on after the drain
    /// timeout (counted as failed with class `abandoned`).
    pub abandoned: u64,
    /// Operations that could not even be queued (a minute of operations already waited for a
    /// connection), counted as failed with class `dropped`.
    #[serde(default)]
    pub dropped: u64,
    /// Statements re-prepared after the server invalidated their cached plan (SQLSTATE 0A000).
    pub reprepared: u64,
    /// Connections deploys opened beside the pool while their rollouts lasted (`connections`
    /// on a deploy step).
    #[serde(default)]
    pub surge_connections: u64,
    /// Attempts to open those that the server refused: each is in `errors` (query
    /// `connect (<version>)`) and in the strategy's error count, not in `failed` (which counts
    /// operations).
    #[serde(default)]
    pub refused_connections: u64,
    /// Schedule lateness (actual send − intended start), milliseconds.
    pub lateness: Percentiles,
    /// Every operation of the run.
    pub overall: LatencyStats,
    /// Per phase: baseline, each step, recovery.
    pub phases: Vec<PhaseReport>,
    /// Operations whose intended start fell while a migration step ran, all steps together.
    pub during_migration: Option<LatencyStats>,
    /// The time series, by completion time (throughput, errors, in-flight and queued).
    pub series: Vec<IntervalReport>,
    /// The width of a `by_start` bucket, seconds.
    pub by_start_s: f64,
    /// Latency by intended start: each operation counted where it was due, in short buckets,
    /// so a stall shows as the ramp it was (the charts draw latency from this).
    pub by_start: Vec<StartPoint>,
    /// Errors by class, SQLSTATE and query.
    pub errors: Vec<ErrorReport>,
    /// Background sessions.
    pub background: Vec<BackgroundReport>,
}

/// Percentiles of a distribution, milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// Latency of a set of operations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    /// Operations recorded.
    pub count: u64,
    /// Of which failed.
    pub errors: u64,
    /// Response time: completion − intended start (includes queueing and lock waits).
    pub latency: Percentiles,
    /// Service time: completion − actual send.
    pub service: Percentiles,
}

/// One phase of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    /// `baseline`, a step's name, or `recovery`.
    pub name: String,
    /// Baseline, step or recovery.
    pub kind: PhaseKind,
    /// Offset of its start from the run's start, seconds.
    pub start_s: Option<f64>,
    /// Offset of its end, seconds.
    pub end_s: Option<f64>,
    /// All operations whose intended start fell in the phase.
    pub all: LatencyStats,
    /// Per query.
    pub queries: Vec<QueryStats>,
}

/// One query's operations in a phase.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryStats {
    /// The query's name.
    pub query: String,
    /// Its latency.
    #[serde(flatten)]
    pub stats: LatencyStats,
}

/// One interval of the time series (by completion time).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntervalReport {
    /// Start of the interval from the run's start, seconds.
    pub t_s: f64,
    /// Operations completed in it.
    pub completed: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency of those, ms (null when none completed).
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Maximum, ms.
    pub max_ms: Option<f64>,
    /// Most operations running at once, sampled.
    pub in_flight: u64,
    /// Most operations waiting for a free connection, sampled.
    pub queued: u64,
}

/// Operations due in one `by_start` bucket.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartPoint {
    /// The bucket's start, seconds from the run's start.
    pub t_s: f64,
    /// Operations due in it.
    pub count: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
}

/// Errors of one class, SQLSTATE and query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorReport {
    /// The class, by SQLSTATE.
    pub class: ErrorClass,
    /// SQLSTATE, when the server sent one.
    pub sqlstate: Option<String>,
    /// The query.
    pub query: String,
    /// How many.
    pub count: u64,
    /// First occurrence, seconds from the run's start.
    pub first_s: f64,
    /// Last occurrence.
    pub last_s: f64,
    /// The first message.
    pub example: String,
}

/// A background session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackgroundReport {
    /// Its name.
    pub name: String,
    /// When its statement started, seconds from the run's start.
    pub start_s: Option<f64>,
    /// When it ended (or was stopped).
    pub end_s: Option<f64>,
    /// The server's error, if any (a stopped session says so).
    pub error: Option<String>,
}

/// What a replay of a captured log replayed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayReport {
    /// The capture, as the scenario names it.
    pub capture: String,
    /// Statements in the capture.
    pub captured: u64,
    /// Sessions replayed, a connection each.
    pub sessions: usize,
    /// Statements sent.
    pub replayed: u64,
    /// Statements of the capture left out, by reason (cursor fetches, include/exclude).
    pub skipped: Vec<SkipCount>,
    /// How many times faster than captured.
    pub speed: f64,
    /// Whether the capture started again when it ended.
    pub looped: bool,
}

/// Statements left out for one reason.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipCount {
    /// Why.
    pub reason: String,
    /// How many.
    pub count: u64,
}
