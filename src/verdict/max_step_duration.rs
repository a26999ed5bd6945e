//! `max-step-duration`: the longest any single step may take.

use std::time::Duration;

use super::{Budget, Found, human};
use crate::report::StrategyReport;

/// No step longer than this.
pub(super) struct MaxStepDuration(pub(super) Duration);

impl Budget for MaxStepDuration {
    fn key(&self) -> String {
        "max-step-duration".into()
    }

    fn limit(&self) -> String {
        human(self.0)
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        strategy
            .steps
            .iter()
            .filter_map(|s| {
                let took = s.duration_s?;
                (took > self.0.as_secs_f64()).then(|| Found::step(&s.name, format!("{took:.3} s")))
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
    fn only_steps_over_the_limit_breach() {
        let s = strategy(vec![
            step("fast", 0.5, StepStatus::Succeeded),
            step("slow", 1.5, StepStatus::Succeeded),
        ]);
        let found = MaxStepDuration(Duration::from_secs(1)).check(&s);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].step.as_deref(), Some("slow"));
        assert_eq!(found[0].actual, "1.500 s");
    }
}
