//! What a report must never contradict in itself: checked on every report the test suite
//! produces (`rehearse check-report`) and by the contention check script.

use crate::report::{Report, StepStatus, StrategyReport};
use crate::scenario::PhaseKind;

/// How far a phase boundary may be from its step's start, seconds: the phase is marked just
/// before the catalog snapshot that precedes the step.
const BOUNDARY_S: f64 = 0.5;

/// Every way `report` contradicts itself, said plainly; empty when it is consistent.
pub(crate) fn invariants(report: &Report) -> Vec<String> {
    let mut found = Vec::new();
    for s in &report.strategies {
        strategy(s, &mut |m: String| {
            found.push(format!("strategy {}: {m}", s.name));
        });
    }
    let breached = !report.verdict.breaches.is_empty();
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
    if in_phases != t.overall.count || t.overall.count + t.abandoned != t.recorded {
        fail(format!(
            "{in_phases} operations in phases, {} overall, {} recorded ({} abandoned)",
            t.overall.count, t.recorded, t.abandoned
        ));
    }
    let by_class: u64 = t.errors.iter().map(|e| e.count).sum();
    if by_class != t.failed {
        fail(format!(
            "{by_class} errors by class, {} operations failed",
            t.failed
        ));
    }
    // Step i's phase is phase i + 1; it begins where the step begins.
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
    }
    let app_waits = s
        .lock_waits
        .iter()
        .filter(|w| w.waiter.role == crate::pg::SessionRole::Traffic);
    if let Some(longest) = s.figures.longest_stall_s
        && app_waits.clone().any(|w| w.duration_s > longest + 1e-9)
    {
        fail(format!(
            "an application wait is longer than the longest stall ({longest} s)"
        ));
    }
}
