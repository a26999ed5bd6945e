//! Budgets × report → pass/fail, with every breach named.
//!
//! A failed step always fails the run. Step and strategy durations are always measured; the
//! latency, error and application lock-wait budgets need `[traffic]` (without it they are
//! listed as unchecked rather than silently passed).

use std::time::Duration;

use crate::report::{Breach, StepStatus, StrategyReport, Verdict};
use crate::scenario::Budgets;

/// Judges the strategies' results against the budgets.
pub fn judge(strategies: &[StrategyReport], budgets: &Budgets) -> Verdict {
    let mut breaches = Vec::new();
    for strategy in strategies {
        for step in &strategy.steps {
            if step.status == StepStatus::Failed {
                breaches.push(Breach {
                    budget: "step-failed".into(),
                    strategy: strategy.name.clone(),
                    step: Some(step.name.clone()),
                    limit: None,
                    actual: step
                        .error
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "failed".into()),
                });
            }
            if let (Some(limit), Some(took)) = (budgets.max_step_duration, step.duration_s)
                && took > limit.as_secs_f64()
            {
                breaches.push(Breach {
                    budget: "max-step-duration".into(),
                    strategy: strategy.name.clone(),
                    step: Some(step.name.clone()),
                    limit: Some(human(limit)),
                    actual: format!("{took:.3} s"),
                });
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
                breaches.push(Breach {
                    budget: "max-lock-wait".into(),
                    strategy: strategy.name.clone(),
                    step: None,
                    limit: Some(human(limit)),
                    actual: format!(
                        "{:.3} s for {} on {}",
                        wait.duration_s,
                        wait.mode,
                        wait.relation.as_deref().unwrap_or(&wait.locktype)
                    ),
                });
            }
            if let (Some(limit), Some(during)) =
                (budgets.p99_during_migration, &traffic.during_migration)
                && during.latency.p99_ms > limit.as_secs_f64() * 1000.0
            {
                breaches.push(Breach {
                    budget: "p99-during-migration".into(),
                    strategy: strategy.name.clone(),
                    step: None,
                    limit: Some(human(limit)),
                    actual: format!("{:.1} ms", during.latency.p99_ms),
                });
            }
            if let Some(limit) = budgets.max_errors
                && traffic.failed > limit
            {
                let classes: Vec<String> = traffic
                    .errors
                    .iter()
                    .map(|e| format!("{} {}", e.count, e.class))
                    .collect();
                breaches.push(Breach {
                    budget: "max-errors".into(),
                    strategy: strategy.name.clone(),
                    step: None,
                    limit: Some(limit.to_string()),
                    actual: format!("{} errors ({})", traffic.failed, classes.join(", ")),
                });
            }
        }
        if let (Some(limit), Some(took)) = (budgets.max_duration, strategy.duration_s)
            && took > limit.as_secs_f64()
        {
            breaches.push(Breach {
                budget: "max-duration".into(),
                strategy: strategy.name.clone(),
                step: None,
                limit: Some(human(limit)),
                actual: format!("{took:.3} s"),
            });
        }
    }
    let mut unchecked = Vec::new();
    let traffic = strategies.iter().any(|s| s.traffic.is_some());
    let needs = "needs a [traffic] section to measure; not checked";
    if budgets.max_lock_wait.is_some() && !traffic {
        unchecked.push(format!("budget max-lock-wait {needs}"));
    }
    if budgets.p99_during_migration.is_some() && !traffic {
        unchecked.push(format!("budget p99-during-migration {needs}"));
    }
    if budgets.max_errors.is_some() && !traffic {
        unchecked.push(format!("budget max-errors {needs}"));
    }
    Verdict {
        passed: breaches.is_empty(),
        breaches,
        unchecked,
    }
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
    }
}
