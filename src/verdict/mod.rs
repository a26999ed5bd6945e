//! Budgets × report → pass/fail, with every breach named.
//!
//! Each budget is one small item in a file of its own ([`Budget`]): its key, its limit as
//! written, whether it needs traffic to be measured, and what breaches it in a strategy. It
//! reads the strategy's report and its derived figures, never recomputes them. A failed step
//! always fails the run. Without `[traffic]` the latency, error and application lock-wait
//! budgets are listed as unchecked rather than silently passed; an interrupted run never passes.
//! Every budget given gets a [`BudgetCheck`] (JUnit shows one test case per budget).

mod lost_operations;
mod max_duration;
mod max_errors;
mod max_errors_by_class;
mod max_exclusive_lock_hold;
mod max_lock_wait;
mod max_step_duration;
mod p99_during_migration;
mod p99_vs_baseline;
mod step_failed;

use std::time::Duration;

use crate::report::{Breach, BudgetCheck, CheckStatus, StrategyReport, StrategyStatus, Verdict};
use crate::scenario::Budgets;

/// One budget.
trait Budget {
    /// Its key, e.g. `max-lock-wait`.
    fn key(&self) -> String;
    /// Its limit, as people read it.
    fn limit(&self) -> String;
    /// Whether it can only be measured with application traffic.
    fn needs_traffic(&self) -> bool {
        false
    }
    /// What breaches it in one strategy.
    fn check(&self, strategy: &StrategyReport) -> Vec<Found>;
}

/// A breach found in a strategy: the step (when it is a step's) and what was measured.
struct Found {
    step: Option<String>,
    actual: String,
}

impl Found {
    fn run(actual: String) -> Found {
        Found { step: None, actual }
    }

    fn step(step: &str, actual: String) -> Found {
        Found {
            step: Some(step.to_owned()),
            actual,
        }
    }
}

/// The budgets a scenario sets, in the order reports list them; "no step fails" first.
fn budgets(b: &Budgets) -> Vec<Box<dyn Budget>> {
    let mut all: Vec<Box<dyn Budget>> = vec![Box::new(step_failed::StepFailed)];
    let mut add = |budget: Option<Box<dyn Budget>>| all.extend(budget);
    add(b
        .max_step_duration
        .map(|d| Box::new(max_step_duration::MaxStepDuration(d)) as _));
    add(b
        .max_duration
        .map(|d| Box::new(max_duration::MaxDuration(d)) as _));
    add(b
        .max_exclusive_lock_hold
        .map(|d| Box::new(max_exclusive_lock_hold::MaxExclusiveLockHold(d)) as _));
    add(b
        .max_lock_wait
        .map(|d| Box::new(max_lock_wait::MaxLockWait(d)) as _));
    add(b
        .p99_during_migration
        .map(|d| Box::new(p99_during_migration::P99DuringMigration(d)) as _));
    add(b
        .p99_vs_baseline
        .map(|r| Box::new(p99_vs_baseline::P99VsBaseline(r)) as _));
    add(b
        .max_errors
        .map(|n| Box::new(max_errors::MaxErrors(n)) as _));
    add(Some(Box::new(lost_operations::LostOperations(
        b.max_lost_operations.unwrap_or(0),
    ))));
    for (class, limit) in &b.max_errors_by_class {
        add(Some(Box::new(max_errors_by_class::MaxErrorsByClass(
            *class, *limit,
        ))));
    }
    all
}

/// Judges the strategies' results against the budgets. `interrupted`: the run did not finish,
/// so it cannot pass, whatever was measured. `scenario_traffic`: the scenario has `[traffic]`
/// (when no strategy got to run it, its budgets were not measured rather than not applicable).
pub(crate) fn judge(
    strategies: &[StrategyReport],
    budgets: &Budgets,
    interrupted: bool,
    scenario_traffic: bool,
) -> Verdict {
    let traffic = strategies.iter().any(|s| s.traffic.is_some());
    let mut breaches = Vec::new();
    let mut unchecked = Vec::new();
    let mut checks = Vec::new();
    for budget in self::budgets(budgets) {
        let key = budget.key();
        // Always on where there is traffic; without it, not a budget the scenario asked for.
        if key == lost_operations::KEY && !traffic && budgets.max_lost_operations.is_none() {
            continue;
        }
        let status = if budget.needs_traffic() && !traffic {
            unchecked.push(if scenario_traffic {
                format!("budget {key}: not measured (no strategy ran with traffic)")
            } else {
                format!("budget {key} needs a [traffic] section to measure; not checked")
            });
            CheckStatus::Unchecked
        } else {
            let before = breaches.len();
            for strategy in strategies {
                for found in budget.check(strategy) {
                    breaches.push(Breach {
                        budget: key.clone(),
                        strategy: strategy.name.clone(),
                        step: found.step,
                        limit: (key != step_failed::KEY).then(|| budget.limit()),
                        actual: found.actual,
                        expected: strategy.expect_breach,
                    });
                }
            }
            let found = &breaches[before..];
            if found.iter().any(|b| !b.expected) {
                CheckStatus::Breached
            } else if !found.is_empty() {
                CheckStatus::Expected
            } else {
                CheckStatus::Passed
            }
        };
        checks.push(BudgetCheck {
            budget: key,
            limit: budget.limit(),
            status,
        });
    }
    // Breaches by strategy, in the order budgets are listed.
    breaches.sort_by_key(|b| {
        strategies
            .iter()
            .position(|s| s.name == b.strategy)
            .unwrap_or(usize::MAX)
    });
    for s in strategies.iter().filter(|s| s.expect_breach) {
        let ran = s.status != StrategyStatus::NotRun;
        if ran && !interrupted && !breaches.iter().any(|b| b.strategy == s.name) {
            unchecked.push(format!(
                "strategy {} is expected to breach a budget and breached none",
                s.name
            ));
        }
    }
    if interrupted {
        unchecked.push("the run was interrupted: it cannot pass".into());
    }
    Verdict {
        passed: breaches.iter().all(|b| b.expected) && !interrupted,
        breaches,
        unchecked,
        checks,
    }
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Strategies to judge, built as the assembler would.

    use crate::report::{StepReport, StepStatus, StrategyFigures, StrategyReport, StrategyStatus};
    use crate::scenario::StepKind;

    /// A step that ran for `seconds` and ended with `status`.
    pub(crate) fn step(name: &str, seconds: f64, status: StepStatus) -> StepReport {
        StepReport {
            index: 1,
            name: name.into(),
            kind: StepKind::Sql,
            source: "inline".into(),
            start_s: Some(0.0),
            duration_s: Some(seconds),
            status,
            error: None,
            statement: None,
            rows: None,
            attempts: Vec::new(),
            lock_timeout_s: 0.0,
            locks: Vec::new(),
            exclusive_spans: Vec::new(),
            exclusive_hold_s: None,
            rewrites: Vec::new(),
            wal_bytes: None,
            lock_summary: None,
            output: None,
            backfill: None,
            index_phases: Vec::new(),
        }
    }

    /// A strategy of these steps.
    pub(crate) fn strategy(steps: Vec<StepReport>) -> StrategyReport {
        StrategyReport {
            name: "s".into(),
            description: None,
            expect_breach: false,
            database: "db".into(),
            start_s: Some(0.0),
            duration_s: Some(steps.iter().filter_map(|s| s.duration_s).sum()),
            status: StrategyStatus::Succeeded,
            error: None,
            steps,
            traffic: None,
            leftovers: Vec::new(),
            lock_waits: Vec::new(),
            connections: None,
            figures: StrategyFigures::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{step, strategy};
    use super::*;
    use crate::report::StepStatus;

    #[test]
    fn durations_over_budget_are_breaches_in_budget_order() {
        let budgets = Budgets {
            max_step_duration: Some(Duration::from_secs(1)),
            max_duration: Some(Duration::from_secs(2)),
            ..Budgets::default()
        };
        let ok = strategy(vec![step("one", 0.5, StepStatus::Succeeded)]);
        assert!(judge(&[ok], &budgets, false, false).passed);
        let slow = strategy(vec![step("one", 3.0, StepStatus::Succeeded)]);
        let v = judge(&[slow], &budgets, false, false);
        let names: Vec<_> = v.breaches.iter().map(|b| b.budget.as_str()).collect();
        assert_eq!(names, ["max-step-duration", "max-duration"]);
    }

    #[test]
    fn a_failed_step_fails_and_unmeasured_budgets_are_listed() {
        let budgets = Budgets {
            max_errors: Some(0),
            ..Budgets::default()
        };
        let v = judge(
            &[strategy(vec![step("one", 0.1, StepStatus::Failed)])],
            &budgets,
            false,
            false,
        );
        assert!(!v.passed);
        assert_eq!(v.breaches[0].budget, "step-failed");
        assert_eq!(v.unchecked.len(), 1);
        let statuses: Vec<(&str, CheckStatus)> = v
            .checks
            .iter()
            .map(|c| (c.budget.as_str(), c.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("step-failed", CheckStatus::Breached),
                ("max-errors", CheckStatus::Unchecked)
            ]
        );
    }

    #[test]
    fn breaches_of_a_strategy_shown_for_contrast_do_not_fail_the_run() {
        let budgets = Budgets {
            max_step_duration: Some(Duration::from_secs(1)),
            ..Budgets::default()
        };
        let mut naive = strategy(vec![step("one", 3.0, StepStatus::Succeeded)]);
        naive.name = "naive".into();
        naive.expect_breach = true;
        let safe = strategy(vec![step("one", 0.5, StepStatus::Succeeded)]);
        let v = judge(&[naive.clone(), safe.clone()], &budgets, false, false);
        assert!(v.passed, "{v:?}");
        assert!(v.breaches[0].expected);
        assert_eq!(v.checks[1].status, CheckStatus::Expected);
        // the safe one breaching fails the run
        let mut slow = safe;
        slow.steps[0].duration_s = Some(2.0);
        let v = judge(&[naive.clone(), slow], &budgets, false, false);
        assert!(!v.passed);
        assert_eq!(v.checks[1].status, CheckStatus::Breached);
        // the naive one not breaching is said, and does not fail the run
        naive.steps[0].duration_s = Some(0.1);
        let v = judge(&[naive], &budgets, false, false);
        assert!(v.passed);
        assert!(
            v.unchecked[0].contains("naive is expected to breach"),
            "{v:?}"
        );
    }

    #[test]
    fn an_interrupted_run_never_passes() {
        let ok = strategy(vec![step("one", 0.5, StepStatus::Skipped)]);
        let v = judge(&[ok], &Budgets::default(), true, false);
        assert!(!v.passed);
        assert!(v.breaches.is_empty());
    }
}
