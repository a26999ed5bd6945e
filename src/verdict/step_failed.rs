//! `step-failed`: always on; a failed step fails the run.

use super::{Budget, Found};
use crate::report::{StepStatus, StrategyReport};

/// The key breaches of this budget carry.
pub(super) const KEY: &str = "step-failed";

/// No step may fail.
pub(super) struct StepFailed;

impl Budget for StepFailed {
    fn key(&self) -> String {
        KEY.into()
    }

    fn limit(&self) -> String {
        "no step fails".into()
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        strategy
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
            .map(|s| {
                let error = s
                    .error
                    .as_ref()
                    .map_or_else(|| "failed".into(), ToString::to_string);
                Found::step(&s.name, error)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{step, strategy};
    use super::*;
    use crate::pg::ServerError;

    #[test]
    fn names_the_failed_step_and_its_error() {
        let mut failed = step("typo", 0.1, StepStatus::Failed);
        failed.error = Some(ServerError::message("relation \"userz\" does not exist"));
        let s = strategy(vec![step("ok", 0.1, StepStatus::Succeeded), failed]);
        let found = StepFailed.check(&s);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].step.as_deref(), Some("typo"));
        assert!(found[0].actual.contains("userz"));
    }
}
