//! The derived figures, computed once from a strategy's report data: what every format's
//! side-by-side table and the verdict read.

use std::collections::BTreeMap;

use crate::pg::{LockMode, SessionRole};
use crate::report::{
    DelayedOps, IntervalReport, LockWait, Stability, StepReport, StrategyFigures, StrategyReport,
    TrafficReport,
};
use crate::scenario::PhaseKind;

/// A strategy's figures. `delayed` comes from the traffic's latency books (see
/// `traffic::traffic`), which the report does not keep.
pub(crate) fn strategy_figures(s: &StrategyReport, delayed: Option<DelayedOps>) -> StrategyFigures {
    let traffic = s.traffic.as_ref();
    let longest = s
        .lock_waits
        .iter()
        .filter(|w| w.waiter.role == SessionRole::Traffic)
        .max_by(|a, b| a.duration_s.total_cmp(&b.duration_s));
    let during = traffic.and_then(|t| t.during_migration.as_ref());
    let mut errors_by_class = BTreeMap::new();
    for e in traffic.iter().flat_map(|t| &t.errors) {
        *errors_by_class.entry(e.class).or_default() += e.count;
    }
    StrategyFigures {
        longest_stall_s: traffic.map(|_| longest.map_or(0.0, |w| w.duration_s)),
        longest_stall_on: longest.map(|w| {
            format!(
                "{} on {}",
                w.mode,
                w.relation.as_deref().unwrap_or(w.locktype.name())
            )
        }),
        max_during_ms: during.map(|d| d.latency.max_ms),
        p99_during_ms: during.map(|d| d.latency.p99_ms),
        p99_baseline_ms: traffic.and_then(|t| {
            t.phases
                .iter()
                .find(|p| p.kind == PhaseKind::Baseline)
                .filter(|p| p.all.count > 0)
                .map(|p| p.all.latency.p99_ms)
        }),
        baseline_stability: traffic.and_then(baseline_stability),
        delayed,
        errors: traffic.map_or(0, |t| t.failed + t.refused_connections),
        errors_by_class,
        wal_bytes: s.steps.iter().filter_map(|st| st.wal_bytes).sum(),
        rewrites: s
            .steps
            .iter()
            .flat_map(|st| st.rewrites.iter().map(|r| r.relation.clone()))
            .collect(),
        exclusive_hold_s: s
            .steps
            .iter()
            .filter_map(|st| st.exclusive_hold_s)
            .reduce(f64::max),
    }
}

/// The spread of the baseline's whole intervals: throughput and p99.
fn baseline_stability(t: &TrafficReport) -> Option<Stability> {
    let baseline = t.phases.iter().find(|p| p.kind == PhaseKind::Baseline)?;
    let (start, end) = (baseline.start_s?, baseline.end_s?);
    let inside: Vec<&IntervalReport> = t
        .series
        .iter()
        .filter(|i| i.t_s >= start - 1e-9 && i.t_s + t.interval_s <= end + 1e-9)
        .collect();
    if inside.is_empty() || t.interval_s <= 0.0 {
        return None;
    }
    let rates: Vec<f64> = inside
        .iter()
        .map(|i| i.completed as f64 / t.interval_s)
        .collect();
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let sd = (rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let p99s: Vec<f64> = inside.iter().filter_map(|i| i.p99_ms).collect();
    Some(Stability {
        intervals: inside.len() as u64,
        ops_per_s: mean,
        ops_per_s_cv_pct: if mean > 0.0 { sd / mean * 100.0 } else { 0.0 },
        p99_min_ms: p99s.iter().copied().reduce(f64::min).unwrap_or(0.0),
        p99_max_ms: p99s.iter().copied().reduce(f64::max).unwrap_or(0.0),
    })
}

/// How long a step held an ACCESS EXCLUSIVE lock, at most: the longest of the transactions (or
/// statements run outside one) that held one, less the step's own lock waits in it — it took
/// the lock after them and kept it to that transaction's end. Reports without those spans: the
/// step's last attempt (waits of earlier attempts, retried after a lock timeout, held nothing).
pub(crate) fn exclusive_hold_s(step: &StepReport, waits: &[LockWait]) -> Option<f64> {
    if !step
        .locks
        .iter()
        .any(|l| l.mode == LockMode::AccessExclusiveLock)
    {
        return None;
    }
    let spans: Vec<(f64, f64)> = if step.exclusive_spans.is_empty() {
        let (start, took) = match step.attempts.last() {
            Some(a) => (a.start_s, a.duration_s),
            None => (step.start_s?, step.duration_s?),
        };
        vec![(start, start + took)]
    } else {
        step.exclusive_spans.iter().map(|&[s, e]| (s, e)).collect()
    };
    spans
        .into_iter()
        .map(|(start, end)| {
            let waited: f64 = waits
                .iter()
                .filter(|w| w.waiter.role == SessionRole::Migration)
                .map(|w| (w.end_s.min(end) - w.start_s.max(start)).max(0.0))
                .fold(0.0, |total, overlap| total + overlap);
            (end - start - waited).max(0.0)
        })
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::LockType;
    use crate::report::{AttemptReport, LockTaken, SessionRef, StepStatus};
    use crate::verdict::test_support::step;

    fn migration_wait(start_s: f64, end_s: f64) -> LockWait {
        LockWait {
            waiter: SessionRef {
                pid: 1,
                role: SessionRole::Migration,
                name: None,
                query: None,
            },
            locktype: LockType::Relation,
            mode: LockMode::AccessExclusiveLock,
            relation: Some("users".into()),
            start_s,
            end_s,
            duration_s: end_s - start_s,
            logged_duration_s: None,
            sampled_duration_s: None,
            blocked_by: Vec::new(),
            samples: 1,
        }
    }

    #[test]
    fn only_the_last_attempt_holds_the_lock() {
        // Two attempts time out after waiting 1 s each; the third waits 0.3 s, then holds the
        // lock for 2 s.
        let mut s = step("add-column", 4.8, StepStatus::Succeeded);
        s.locks = vec![LockTaken {
            relation: "users".into(),
            kind: crate::pg::RelKind::Table,
            mode: LockMode::AccessExclusiveLock,
        }];
        s.attempts = [(0.0, 1.0), (1.25, 1.0), (2.5, 2.3)]
            .into_iter()
            .map(|(start_s, duration_s)| AttemptReport {
                start_s,
                duration_s,
                error: None,
            })
            .collect();
        let waits = [
            migration_wait(0.0, 1.0),
            migration_wait(1.25, 2.25),
            migration_wait(2.5, 2.8),
        ];
        let held = exclusive_hold_s(&s, &waits).unwrap();
        assert!((held - 2.0).abs() < 1e-9, "{held}");
    }

    /// Issue 16: outside a transaction, locks are recorded too; ACCESS EXCLUSIVE is held by the
    /// statements that took it, not for the whole step (a long index build after a quick
    /// ALTER does not count).
    #[test]
    fn only_the_transactions_that_held_it_count() {
        let mut s = step("dbmate-no-transaction", 10.0, StepStatus::Succeeded);
        s.locks = vec![LockTaken {
            relation: "users".into(),
            kind: crate::pg::RelKind::Table,
            mode: LockMode::AccessExclusiveLock,
        }];
        s.attempts = vec![AttemptReport {
            start_s: 0.0,
            duration_s: 10.0,
            error: None,
        }];
        // An ALTER that waited 0.5 s then held the lock 0.2 s; a second one holding it 0.4 s.
        s.exclusive_spans = vec![[0.0, 0.7], [9.5, 9.9]];
        let held = exclusive_hold_s(&s, &[migration_wait(0.0, 0.5)]).unwrap();
        assert!((held - 0.4).abs() < 1e-9, "{held}");
    }
}
