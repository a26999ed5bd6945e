//! What running a step recorded: its span on the run's clock, how it ended, every attempt, the
//! locks it held, what it rewrote and the WAL it wrote. After the steps, what was left behind.
//! The assembler turns these into the report's steps.

use crate::pg::{LeftoverKind, LockMode, RelKind, ServerError};
use crate::scenario::StepKind;

/// One step, run or not.
#[derive(Debug, Clone)]
pub(crate) struct StepRecord {
    /// 1-based position in the strategy.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What kind of step.
    pub kind: StepKind,
    /// Where its SQL came from, or what it does.
    pub source: String,
    /// Its start, seconds on the run's clock (none when it did not run).
    pub start_s: Option<f64>,
    /// Seconds it took.
    pub duration_s: Option<f64>,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Rows affected.
    pub rows: Option<u64>,
    /// Every attempt (SQL steps): the first, then one per retry.
    pub attempts: Vec<Attempt>,
    /// Relation locks its statements took.
    pub locks: Vec<HeldLock>,
    /// Spans (start, end; seconds on the run's clock) of its transactions, or statements run
    /// outside one, that held an ACCESS EXCLUSIVE lock.
    pub exclusive_spans: Vec<(f64, f64)>,
    /// Relations it rewrote.
    pub rewrites: Vec<Rewritten>,
    /// WAL written while it ran, bytes.
    pub wal_bytes: Option<u64>,
    /// Command steps: the tails of stdout and stderr.
    pub output: Option<String>,
    /// Backfill steps: what the batches did.
    pub backfill: Option<BackfillRecord>,
}

impl StepRecord {
    /// A step that has not run (yet).
    pub(crate) fn not_run(
        index: usize,
        name: String,
        kind: StepKind,
        source: String,
    ) -> StepRecord {
        StepRecord {
            index,
            name,
            kind,
            source,
            start_s: None,
            duration_s: None,
            outcome: StepOutcome::NotRun,
            rows: None,
            attempts: Vec::new(),
            locks: Vec::new(),
            exclusive_spans: Vec::new(),
            rewrites: Vec::new(),
            wal_bytes: None,
            output: None,
            backfill: None,
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepOutcome {
    /// It ran to completion.
    Succeeded,
    /// It failed: the server's (or the tool's) error, and the statement that failed.
    Failed {
        /// The error.
        error: ServerError,
        /// The statement, for SQL steps.
        statement: Option<String>,
    },
    /// The run was interrupted while it ran.
    Interrupted,
    /// It did not run.
    NotRun,
}

/// One attempt at a SQL step: the first, or a retry after a lock timeout (outside a
/// transaction, a retry starts again at the statement that timed out).
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    /// Its start, seconds on the run's clock.
    pub start_s: f64,
    /// Seconds it took.
    pub duration_s: f64,
    /// Why it failed.
    pub error: Option<ServerError>,
}

/// A relation lock a step took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldLock {
    /// The relation.
    pub relation: String,
    /// Its kind.
    pub kind: RelKind,
    /// The mode.
    pub mode: LockMode,
}

/// A relation that got a new relfilenode under the same oid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewritten {
    /// The relation.
    pub relation: String,
    /// Its kind.
    pub kind: RelKind,
}

/// What a batched backfill did.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackfillRecord {
    /// Batches run.
    pub batches: u64,
    /// Rows updated.
    pub rows: u64,
    /// Batches after which the throttle lengthened the pause.
    pub throttled: u64,
    /// Seconds spent pausing between batches.
    pub paused_s: f64,
}

/// Something the steps left that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeftoverRecord {
    /// What it is.
    pub kind: LeftoverKind,
    /// The index's or the constraint's oid: tells what a step left from what was already there.
    pub oid: u32,
    /// The index or constraint.
    pub name: String,
    /// Its table.
    pub relation: String,
}
