//! What a report must never contradict in itself: checked on every report the test suite
//! produces (`rehearse check-report`) and by the contention check script.

use crate::pg::SessionRole;
use crate::report::{Report, StepStatus, StrategyReport};
use crate::scenario::PhaseKind;

/// How far a phase boundary may be from its step's start, seconds: the phase is marked just
/// before the catalog snapshot that precedes the step.
const BOUNDARY_S: f64 = 0.5;
/// How far a sampled wait's duration may be from the logged one: two polls…
const SAMPLED_SLACK_S: f64 = 0.25;
/// …and a share of the wait (a busy server answers polls late).
const SAMPLED_SLACK_SHARE: f64 = 0.2;

/// Every way `report` contradicts itself, said plainly; empty when it is consistent.
pub(crate) fn invariants(report: &Report) -> Vec<String> {
    let mut found = Vec::new();
    for s in &report.strategies {
        strategy(s, &mut |m: String| {
            found.push(format!("strategy {}: {m}", s.name));
        });
    }
    let breached = report.verdict.breaches.iter().any(|b| !b.expected);
    if report.verdict.passed && breached {
        found.push("the verdict passed with breaches".into());
    }
    found
}

fn strategy(s: &StrategyReport, fail: &mut impl FnMut(String)) {
    for w in &s.lock_waits {
        let who = format!("wait of pid {} for {} ", w.waiter.pid, w.mode);
        if !(w.duration_s >= 0.0 && w.end_s >= w.start_s - 1e-9) {
            fail(format!(
                "{who}ends before it starts ({} → {})",
                w.start_s, w.end_s
            ));
        }
        if let Some(logged) = w.logged_duration_s
            && (w.duration_s - logged).abs() > 1e-6
        {
            fail(format!(
                "{who}lasts {} s but the server logged {logged} s",
                w.duration_s
            ));
        }
        // The sampler sees a wait to within a poll or two; beyond that, one of the two matched
        // the wrong wait.
        if let (Some(logged), Some(sampled)) = (w.logged_duration_s, w.sampled_duration_s)
            && (logged - sampled).abs() > SAMPLED_SLACK_S + SAMPLED_SLACK_SHARE * logged
        {
            fail(format!(
                "{who}was logged as {logged:.3} s but sampled as {sampled:.3} s"
            ));
        }
    }
    for step in &s.steps {
        if let Some(l) = &step.lock_summary
            && l.app_waits_behind_migration > l.app_waits
        {
            fail(format!(
                "step {}: {} application waits behind the migration of {} in all",
                step.name, l.app_waits_behind_migration, l.app_waits
            ));
        }
        // Counted again from the waits themselves, over the step's window.
        if let (Some(l), Some(start), Some(took)) =
            (&step.lock_summary, step.start_s, step.duration_s)
        {
            let during: Vec<_> = s
                .lock_waits
                .iter()
                .filter(|w| {
                    w.waiter.role == SessionRole::Traffic
                        && w.start_s < start + took
                        && w.end_s > start
                })
                .collect();
            let behind = during
                .iter()
                .filter(|w| {
                    w.blocked_by
                        .iter()
                        .any(|b| b.role == SessionRole::Migration)
                })
                .count() as u64;
            let all = during.len() as u64;
            if (all, behind) != (l.app_waits, l.app_waits_behind_migration) {
                fail(format!(
                    "step {}: the summary counts {} application waits ({} behind the migration), \
                     the waits themselves {all} ({behind})",
                    step.name, l.app_waits, l.app_waits_behind_migration
                ));
            }
        }
        let longest_span = step
            .exclusive_spans
            .iter()
            .map(|[start, end]| end - start)
            .reduce(f64::max);
        if let (Some(held), Some(took)) = (
            step.exclusive_hold_s,
            longest_span.or_else(|| {
                step.attempts
                    .last()
                    .map(|a| a.duration_s)
                    .or(step.duration_s)
            }),
        ) && held > took + 1e-9
        {
            fail(format!(
                "step {} held ACCESS EXCLUSIVE for {held} s, longer than the transaction that \
                 held it ({took} s)",
                step.name
            ));
        }
        if let (Some(start), Some(took)) = (step.start_s, step.duration_s)
            && step
                .exclusive_spans
                .iter()
                .any(|&[s, e]| s < start - 1e-6 || e > start + took + 1e-6 || e < s)
        {
            fail(format!(
                "step {} has an ACCESS EXCLUSIVE span outside its own",
                step.name
            ));
        }
        if step.status == StepStatus::Skipped && step.start_s.is_some() {
            fail(format!("step {} was skipped but has a start", step.name));
        }
    }
    if let (Some(first), Some(start)) = (s.steps.first().and_then(|st| st.start_s), s.start_s)
        && (first - start).abs() > 1e-9
    {
        fail(format!("starts at {start} but its first step at {first}"));
    }
    let Some(t) = &s.traffic else {
        return;
    };
    if t.recorded != t.succeeded + t.failed {
        fail(format!(
            "{} operations recorded, {} succeeded + {} failed",
            t.recorded, t.succeeded, t.failed
        ));
    }
    if t.recorded != t.scheduled {
        fail(format!(
            "{} operations scheduled, {} recorded",
            t.scheduled, t.recorded
        ));
    }
    let in_phases: u64 = t.phases.iter().map(|p| p.all.count).sum();
    if in_phases != t.overall.count || t.overall.count + t.abandoned + t.dropped != t.recorded {
        fail(format!(
            "{in_phases} operations in phases, {} overall, {} recorded ({} abandoned, {} dropped)",
            t.overall.count, t.recorded, t.abandoned, t.dropped
        ));
    }
    let by_class: u64 = t.errors.iter().map(|e| e.count).sum();
    if by_class != t.failed + t.refused_connections {
        fail(format!(
            "{by_class} errors by class, {} operations failed, {} connections refused",
            t.failed, t.refused_connections
        ));
    }
    if let Some(c) = &s.connections
        && c.series.iter().any(|p| p.open > c.peak)
    {
        fail(format!("a connection count above the peak ({})", c.peak));
    }
    // Step i's phase is phase i + 1; it begins where the step begins and ends no later than
    // the next step begins.
    for (i, step) in s.steps.iter().enumerate() {
        let phase = t.phases.get(i + 1).filter(|p| p.kind == PhaseKind::Step);
        if let (Some(phase), Some(start)) = (phase, step.start_s)
            && let Some(phase_start) = phase.start_s
            && (phase_start - start).abs() > BOUNDARY_S
        {
            fail(format!(
                "step {} starts at {start:.3} s but its traffic phase at {phase_start:.3} s",
                step.name
            ));
        }
        let next_start = s.steps.get(i + 1).and_then(|n| n.start_s);
        if let (Some(phase), Some(next)) = (phase, next_start)
            && let Some(phase_end) = phase.end_s
            && phase_end > next + BOUNDARY_S
        {
            fail(format!(
                "step {}'s traffic phase ends at {phase_end:.3} s, after the next step began \
                 ({next:.3} s)",
                step.name
            ));
        }
    }
    let app_waits = s
        .lock_waits
        .iter()
        .filter(|w| w.waiter.role == SessionRole::Traffic);
    if let Some(longest) = s.figures.longest_stall_s
        && app_waits.clone().any(|w| w.duration_s > longest + 1e-9)
    {
        fail(format!(
            "an application wait is longer than the longest stall ({longest} s)"
        ));
    }
}
