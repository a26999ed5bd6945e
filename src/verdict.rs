//! Budgets × report → pass/fail, with every breach named.
//!
//! A failed step always fails the run. Step and strategy durations and exclusive-lock holds are
//! always measured; the latency, error and application lock-wait budgets need `[traffic]`
//! (without it they are listed as unchecked rather than silently passed). Every budget given
//! gets a [`BudgetCheck`] (JUnit shows one test case per budget).

use std::time::Duration;

use crate::report::{Breach, BudgetCheck, StepReport, StepStatus, StrategyReport, Verdict};
use crate::scenario::Budgets;

/// Judges the strategies' results against the budgets.
pub fn judge(strategies: &[StrategyReport], budgets: &Budgets) -> Verdict {
    let mut breaches = Vec::new();
    let mut unchecked = Vec::new();
    let traffic = strategies.iter().any(|s| s.traffic.is_some());
    let mut checks = vec![BudgetCheck {
        budget: "step-failed".into(),
        limit: "no step fails".into(),
        status: String::new(),
    }];
    let mut budget = |name: &str, limit: Option<String>, needs_traffic: bool| {
        if let Some(limit) = limit {
            let status = if needs_traffic && !traffic {
                unchecked.push(format!(
                    "budget {name} needs a [traffic] section to measure; not checked"
                ));
                "unchecked"
            } else {
                ""
            };
            checks.push(BudgetCheck {
                budget: name.into(),
                limit,
                status: status.into(),
            });
        }
    };
    budget(
        "max-step-duration",
        budgets.max_step_duration.map(human),
        false,
    );
    budget("max-duration", budgets.max_duration.map(human), false);
    budget(
        "max-exclusive-lock-hold",
        budgets.max_exclusive_lock_hold.map(human),
        false,
    );
    budget("max-lock-wait", budgets.max_lock_wait.map(human), true);
    budget(
        "p99-during-migration",
        budgets.p99_during_migration.map(human),
        true,
    );
    budget(
        "p99-vs-baseline",
        budgets
            .p99_vs_baseline
            .map(|r| format!("{r}× baseline p99")),
        true,
    );
    budget(
        "max-errors",
        budgets.max_errors.map(|n| n.to_string()),
        true,
    );
    for (class, limit) in &budgets.max_errors_by_class {
        budget(
            &format!("max-errors-by-class.{class}"),
            Some(limit.to_string()),
            true,
        );
    }

    for strategy in strategies {
        let mut breach =
            |budget: &str, step: Option<&str>, limit: Option<String>, actual: String| {
                breaches.push(Breach {
                    budget: budget.into(),
                    strategy: strategy.name.clone(),
                    step: step.map(str::to_owned),
                    limit,
                    actual,
                })
            };
        for step in &strategy.steps {
            if step.status == StepStatus::Failed {
                breach(
                    "step-failed",
                    Some(&step.name),
                    None,
                    step.error
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "failed".into()),
                );
            }
            if let (Some(limit), Some(took)) = (budgets.max_step_duration, step.duration_s)
                && took > limit.as_secs_f64()
            {
                breach(
                    "max-step-duration",
                    Some(&step.name),
                    Some(human(limit)),
                    format!("{took:.3} s"),
                );
            }
            if let (Some(limit), Some(held)) =
                (budgets.max_exclusive_lock_hold, exclusive_hold_s(step))
                && held > limit.as_secs_f64()
            {
                breach(
                    "max-exclusive-lock-hold",
                    Some(&step.name),
                    Some(human(limit)),
                    format!("ACCESS EXCLUSIVE held for up to {held:.3} s"),
                );
            }
        }
        if let Some(traffic) = &strategy.traffic {
            let longest = strategy
                .lock_waits
                .iter()
                .filter(|w| w.waiter.role == "traffic")
                .max_by(|a, b| a.duration_s.total_cmp(&b.duration_s));
            if let (Some(limit), Some(wait)) = (budgets.max_lock_wait, longest)
                && wait.duration_s > limit.as_secs_f64()
            {
                breach(
                    "max-lock-wait",
                    None,
                    Some(human(limit)),
                    format!(
                        "{:.3} s for {} on {}",
                        wait.duration_s,
                        wait.mode,
                        wait.relation.as_deref().unwrap_or(&wait.locktype)
                    ),
                );
            }
            if let (Some(limit), Some(during)) =
                (budgets.p99_during_migration, &traffic.during_migration)
                && during.latency.p99_ms > limit.as_secs_f64() * 1000.0
            {
                breach(
                    "p99-during-migration",
                    None,
                    Some(human(limit)),
                    format!("{:.1} ms", during.latency.p99_ms),
                );
            }
            let baseline = traffic.phases.iter().find(|p| p.kind == "baseline");
            if let (Some(ratio), Some(during), Some(baseline)) =
                (budgets.p99_vs_baseline, &traffic.during_migration, baseline)
                && baseline.all.count > 0
                && during.latency.p99_ms > ratio * baseline.all.latency.p99_ms
            {
                breach(
                    "p99-vs-baseline",
                    None,
                    Some(format!("{ratio}× baseline p99")),
                    format!(
                        "{:.1} ms during migration vs {:.1} ms baseline ({:.1}×)",
                        during.latency.p99_ms,
                        baseline.all.latency.p99_ms,
                        during.latency.p99_ms / baseline.all.latency.p99_ms.max(1e-9)
                    ),
                );
            }
            if let Some(limit) = budgets.max_errors
                && traffic.failed > limit
            {
                let classes: Vec<String> = traffic
                    .errors
                    .iter()
                    .map(|e| format!("{} {}", e.count, e.class))
                    .collect();
                breach(
                    "max-errors",
                    None,
                    Some(limit.to_string()),
                    format!("{} errors ({})", traffic.failed, classes.join(", ")),
                );
            }
            for (class, limit) in &budgets.max_errors_by_class {
                let count: u64 = traffic
                    .errors
                    .iter()
                    .filter(|e| &e.class == class)
                    .map(|e| e.count)
                    .sum();
                if count > *limit {
                    breach(
                        &format!("max-errors-by-class.{class}"),
                        None,
                        Some(limit.to_string()),
                        format!("{count} {class} errors"),
                    );
                }
            }
        }
        if let (Some(limit), Some(took)) = (budgets.max_duration, strategy.duration_s)
            && took > limit.as_secs_f64()
        {
            breach(
                "max-duration",
                None,
                Some(human(limit)),
                format!("{took:.3} s"),
            );
        }
    }
    for check in &mut checks {
        if check.status.is_empty() {
            check.status = if breaches.iter().any(|b| b.budget == check.budget) {
                "breached"
            } else {
                "passed"
            }
            .into();
        }
    }
    Verdict {
        passed: breaches.is_empty(),
        breaches,
        unchecked,
        checks,
    }
}

/// How long a step held an ACCESS EXCLUSIVE lock, at most: a transactional step that held one
/// at commit took it after its own lock wait and kept it to the end of its last attempt.
pub fn exclusive_hold_s(step: &StepReport) -> Option<f64> {
    if !step.locks.iter().any(|l| l.mode == "AccessExclusiveLock") {
        return None;
    }
    let attempt = step
        .attempts
        .last()
        .map(|a| a.duration_s)
        .or(step.duration_s)?;
    let waited = step
        .lock_summary
        .as_ref()
        .map_or(0.0, |l| l.migration_wait_s);
    Some((attempt - waited).max(0.0))
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{StepReport, StrategyStatus};

    fn strategy(step_seconds: f64, status: StepStatus) -> StrategyReport {
        StrategyReport {
            name: "s".into(),
            description: None,
            database: "db".into(),
            start_s: Some(0.0),
            duration_s: Some(step_seconds),
            status: StrategyStatus::Succeeded,
            traffic: None,
            leftovers: Vec::new(),
            lock_waits: Vec::new(),
            steps: vec![StepReport {
                start_s: Some(0.0),
                duration_s: Some(step_seconds),
                status,
                ..StepReport::not_run(1, "one".into(), "sql".into(), "inline".into())
            }],
        }
    }

    #[test]
    fn durations_over_budget_are_breaches() {
        let budgets = Budgets {
            max_step_duration: Some(Duration::from_secs(1)),
            max_duration: Some(Duration::from_secs(2)),
            ..Budgets::default()
        };
        assert!(judge(&[strategy(0.5, StepStatus::Succeeded)], &budgets).passed);
        let v = judge(&[strategy(3.0, StepStatus::Succeeded)], &budgets);
        let names: Vec<_> = v.breaches.iter().map(|b| b.budget.as_str()).collect();
        assert_eq!(names, ["max-step-duration", "max-duration"]);
    }

    #[test]
    fn a_failed_step_fails_and_unmeasured_budgets_are_listed() {
        let budgets = Budgets {
            max_errors: Some(0),
            ..Budgets::default()
        };
        let v = judge(&[strategy(0.1, StepStatus::Failed)], &budgets);
        assert!(!v.passed);
        assert_eq!(v.breaches[0].budget, "step-failed");
        assert_eq!(v.unchecked.len(), 1);
        let statuses: Vec<(&str, &str)> = v
            .checks
            .iter()
            .map(|c| (c.budget.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [("step-failed", "breached"), ("max-errors", "unchecked")]
        );
    }
}
