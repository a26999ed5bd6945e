//! `max-duration`: the longest a whole strategy (first step's start to last step's end) may
//! take.

use std::time::Duration;

use super::{Budget, Found, human};
use crate::report::StrategyReport;

/// No strategy longer than this.
pub(super) struct MaxDuration(pub(super) Duration);

impl Budget for MaxDuration {
    fn key(&self) -> String {
        "max-duration".into()
    }

    fn limit(&self) -> String {
        human(self.0)
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        strategy
            .duration_s
            .filter(|took| *took > self.0.as_secs_f64())
            .map(|took| Found::run(format!("{took:.3} s")))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{step, strategy};
    use super::*;
    use crate::report::StepStatus;

    #[test]
    fn the_whole_strategy_counts() {
        let s = strategy(vec![
            step("a", 1.5, StepStatus::Succeeded),
            step("b", 1.5, StepStatus::Succeeded),
        ]);
        assert_eq!(MaxDuration(Duration::from_secs(2)).check(&s).len(), 1);
        assert!(MaxDuration(Duration::from_secs(4)).check(&s).is_empty());
    }
}
