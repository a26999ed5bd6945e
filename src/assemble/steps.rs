//! Steps: each step's record with its lock waits and index-build phases joined by time, and how
//! the strategy ended.

use crate::migrate::{StepOutcome, StepRecord};
use crate::observe::ProgressPhase;
use crate::pg::{ErrorClass, SessionRole};
use crate::report::{
    AttemptReport, BackfillReport, IndexPhase, LockTaken, LockWait, Rewrite, StepReport,
    StepStatus, StrategyStatus,
};

/// A step's report. `waits` are the strategy's lock waits when the sampler ran.
pub(super) fn step(
    r: &StepRecord,
    waits: Option<&[LockWait]>,
    progress: &[ProgressPhase],
) -> StepReport {
    let (status, error, statement) = match &r.outcome {
        StepOutcome::Succeeded => (StepStatus::Succeeded, None, None),
        StepOutcome::Failed { error, statement } => {
            (StepStatus::Failed, Some(error.clone()), statement.clone())
        }
        StepOutcome::Interrupted => (StepStatus::Interrupted, None, None),
        StepOutcome::NotRun => (StepStatus::Skipped, None, None),
    };
    let window = r.start_s.zip(r.duration_s).map(|(s, d)| (s, s + d));
    let mut report = StepReport {
        index: r.index,
        name: r.name.clone(),
        kind: r.kind,
        source: r.source.clone(),
        start_s: r.start_s,
        duration_s: r.duration_s,
        status,
        error,
        statement,
        rows: r.rows,
        attempts: r
            .attempts
            .iter()
            .map(|a| AttemptReport {
                start_s: a.start_s,
                duration_s: a.duration_s,
                error: a.error.clone(),
            })
            .collect(),
        lock_timeout_s: r
            .attempts
            .iter()
            .filter(|a| {
                a.error
                    .as_ref()
                    .is_some_and(|e| e.class() == ErrorClass::LockTimeout)
            })
            .fold(0.0, |total, a| total + a.duration_s),
        locks: r
            .locks
            .iter()
            .map(|l| LockTaken {
                relation: l.relation.clone(),
                kind: l.kind,
                mode: l.mode,
            })
            .collect(),
        exclusive_spans: r.exclusive_spans.iter().map(|&(s, e)| [s, e]).collect(),
        exclusive_hold_s: None,
        rewrites: r
            .rewrites
            .iter()
            .map(|w| Rewrite {
                relation: w.relation.clone(),
                kind: w.kind,
            })
            .collect(),
        wal_bytes: r.wal_bytes,
        lock_summary: waits
            .zip(window)
            .map(|(w, (start, end))| super::locks::step_summary(w, start, end)),
        output: r.output.clone(),
        backfill: r.backfill.as_ref().map(|b| BackfillReport {
            batches: b.batches,
            rows: b.rows,
            throttled: b.throttled,
            paused_s: b.paused_s,
        }),
        // A build phase belongs to the step the sampler saw running.
        index_phases: progress
            .iter()
            .filter(|p| p.role == SessionRole::Migration && p.step == Some(r.index))
            .map(index_phase)
            .collect(),
    };
    report.exclusive_hold_s = super::exclusive_hold_s(&report, waits.unwrap_or_default());
    report
}

fn index_phase(p: &ProgressPhase) -> IndexPhase {
    IndexPhase {
        pid: p.pid,
        role: p.role,
        index: p.index.clone(),
        phase: p.phase.clone(),
        first_s: p.first_s,
        last_s: p.last_s,
        blocks_done: p.blocks_done,
        blocks_total: p.blocks_total,
        tuples_done: p.tuples_done,
        tuples_total: p.tuples_total,
    }
}

/// How a strategy ended: interrupted if the run was stopped before it finished (whatever its
/// steps say), else failed if a step failed, else succeeded.
pub(super) fn strategy_status(steps: &[StepReport], interrupted: bool) -> StrategyStatus {
    if interrupted || steps.iter().any(|s| s.status == StepStatus::Interrupted) {
        StrategyStatus::Interrupted
    } else if steps.iter().any(|s| s.status == StepStatus::Failed) {
        StrategyStatus::Failed
    } else {
        StrategyStatus::Succeeded
    }
}
