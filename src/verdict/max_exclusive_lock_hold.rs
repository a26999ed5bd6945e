//! `max-exclusive-lock-hold`: the longest a step may hold ACCESS EXCLUSIVE (an upper bound: the
//! transaction that held it, less the step's own lock waits in it).

use std::time::Duration;

use super::{Budget, Found, human};
use crate::report::StrategyReport;

/// No step holds ACCESS EXCLUSIVE longer than this.
pub(super) struct MaxExclusiveLockHold(pub(super) Duration);

impl Budget for MaxExclusiveLockHold {
    fn key(&self) -> String {
        "max-exclusive-lock-hold".into()
    }

    fn limit(&self) -> String {
        human(self.0)
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        strategy
            .steps
            .iter()
            .filter_map(|s| {
                let held = s.exclusive_hold_s?;
                (held > self.0.as_secs_f64()).then(|| {
                    Found::step(
                        &s.name,
                        format!("ACCESS EXCLUSIVE held for up to {held:.3} s"),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{step, strategy};
    use super::*;
    use crate::report::StepStatus;

    #[test]
    fn reads_the_hold_the_assembler_computed() {
        let mut held = step("rewrite", 3.0, StepStatus::Succeeded);
        held.exclusive_hold_s = Some(2.5);
        let s = strategy(vec![held, step("other", 9.0, StepStatus::Succeeded)]);
        let found = MaxExclusiveLockHold(Duration::from_secs(1)).check(&s);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].step.as_deref(), Some("rewrite"));
    }
}
