//! What the traffic recorded during one strategy, as raw as memory allows: latency books
//! (HdrHistograms of response and service time) per phase and query, the closed intervals of
//! the time series, error tallies by class, SQLSTATE and query, and the background sessions.
//! Times are microseconds on the run's clock. The assembler turns this into the report.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::pg::ErrorClass;
use crate::scenario::{Arrival, PhaseKind, Rate};

/// Everything one strategy's traffic recorded.
pub(crate) struct TrafficRecord {
    /// The arrival rate asked for.
    pub rate: Rate,
    /// How arrivals were spaced.
    pub arrival: Arrival,
    /// Connections.
    pub connections: usize,
    /// Time-series resolution.
    pub interval: Duration,
    /// Unmeasured traffic before the baseline.
    pub warmup: Duration,
    /// Operations the schedule started (intended start before traffic stopped).
    pub scheduled: u64,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Operations that failed, abandoned ones included.
    pub failed: u64,
    /// Operations still queued or running when traffic stopped, given up on.
    pub abandoned: u64,
    /// Operations that could not even be queued.
    pub dropped: u64,
    /// Statements re-prepared after the server invalidated their cached plan.
    pub reprepared: u64,
    /// Connections deploys opened beside the pool (their surges).
    pub surged: u64,
    /// Connection attempts of deploys' surges the server refused.
    pub refused: u64,
    /// Actual send − intended start of every operation, µs.
    pub lateness: Histogram<u64>,
    /// Per phase (baseline, each step, recovery), per query.
    pub phases: Vec<PhaseBook>,
    /// The time series, by completion time.
    pub series: Vec<IntervalRecord>,
    /// Latency by intended start, in buckets of `by_start_bucket`.
    pub by_start: Vec<StartBucket>,
    /// The width of a by-start bucket.
    pub by_start_bucket: Duration,
    /// Errors by class, SQLSTATE and query.
    pub errors: Vec<ErrorTally>,
    /// Background sessions.
    pub background: Vec<BackgroundRun>,
    /// The replay of a captured log, when the traffic was one.
    pub replay: Option<ReplayRecord>,
}

/// What a replay replayed.
pub(crate) struct ReplayRecord {
    /// The capture as the scenario names it.
    pub capture: String,
    /// Statements in the capture.
    pub captured: u64,
    /// Sessions replayed (a connection each).
    pub sessions: usize,
    /// Statements sent.
    pub replayed: u64,
    /// Statements of the capture not replayed, by reason.
    pub skipped: Vec<(String, u64)>,
    /// How many times faster than captured.
    pub speed: f64,
    /// Whether the capture started again when it ended.
    pub repeat: bool,
}

/// Response and service times of a set of operations, µs.
#[derive(Clone)]
pub(crate) struct Book {
    /// Completion − intended start.
    pub latency: Histogram<u64>,
    /// Completion − actual send.
    pub service: Histogram<u64>,
    /// Operations that failed.
    pub errors: u64,
}

impl Book {
    /// An empty book.
    pub(crate) fn new() -> Book {
        Book {
            latency: histogram(),
            service: histogram(),
            errors: 0,
        }
    }

    /// Adds another book's operations.
    pub(crate) fn merge(&mut self, other: &Book) {
        self.latency.add(&other.latency).expect("same bounds");
        self.service.add(&other.service).expect("same bounds");
        self.errors += other.errors;
    }

    /// Operations recorded.
    pub(crate) fn count(&self) -> u64 {
        self.latency.len()
    }
}

impl Default for Book {
    fn default() -> Self {
        Book::new()
    }
}

/// One phase's operations (those whose intended start fell in it), per query.
pub(crate) struct PhaseBook {
    /// `baseline`, the step's name, or `recovery`.
    pub name: String,
    /// What the phase is.
    pub kind: PhaseKind,
    /// When it began, µs (none when it never began).
    pub start_us: Option<u64>,
    /// When it ended, µs.
    pub end_us: Option<u64>,
    /// Per query, in scenario order: its name and book.
    pub queries: Vec<(String, Book)>,
}

/// One closed interval of the time series.
pub(crate) struct IntervalRecord {
    /// Its start, µs.
    pub start_us: u64,
    /// Operations completed in it.
    pub completed: u64,
    /// Of which failed.
    pub errors: u64,
    /// Latency percentiles of those, µs (none when none completed).
    pub p50_us: Option<u64>,
    /// 99th percentile.
    pub p99_us: Option<u64>,
    /// Maximum.
    pub max_us: Option<u64>,
    /// Most operations running at once, sampled.
    pub in_flight: u64,
    /// Most operations waiting for a connection, sampled.
    pub queued: u64,
}

/// Operations due in one short bucket, by intended start.
#[derive(Debug, Clone)]
pub(crate) struct StartBucket {
    /// The bucket's start, µs.
    pub start_us: u64,
    /// Operations due in it.
    pub count: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
}

/// Errors of one class, SQLSTATE and query.
pub(crate) struct ErrorTally {
    /// The class.
    pub class: ErrorClass,
    /// SQLSTATE, when the server sent one.
    pub sqlstate: Option<String>,
    /// The query (none for operations abandoned at stop).
    pub query: Option<String>,
    /// How many.
    pub count: u64,
    /// First occurrence, µs.
    pub first_us: u64,
    /// Last occurrence, µs.
    pub last_us: u64,
    /// The first message.
    pub example: String,
}

/// A background session's run.
pub(crate) struct BackgroundRun {
    /// Its name.
    pub name: String,
    /// When its statement started, seconds on the run's clock.
    pub start_s: Option<f64>,
    /// When it ended (or was stopped).
    pub end_s: Option<f64>,
    /// The server's error, if any (a stopped session says so).
    pub error: Option<String>,
}

/// A histogram for µs latencies: 1 µs to 1 hour at 3 significant digits; values beyond are
/// clamped.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}
