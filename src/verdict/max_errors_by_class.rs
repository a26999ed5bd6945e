//! `max-errors-by-class.CLASS`: how many application operations may fail with one class.

use super::{Budget, Found};
use crate::pg::ErrorClass;
use crate::report::StrategyReport;

/// At most this many errors of this class.
pub(super) struct MaxErrorsByClass(pub(super) ErrorClass, pub(super) u64);

impl Budget for MaxErrorsByClass {
    fn key(&self) -> String {
        format!("max-errors-by-class.{}", self.0)
    }

    fn limit(&self) -> String {
        self.1.to_string()
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        let count = strategy
            .figures
            .errors_by_class
            .get(&self.0)
            .copied()
            .unwrap_or(0);
        if count <= self.1 {
            return Vec::new();
        }
        vec![Found::run(format!("{count} {} errors", self.0))]
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::strategy;
    use super::*;

    #[test]
    fn only_its_class_counts() {
        let mut s = strategy(Vec::new());
        s.figures.errors_by_class = [(ErrorClass::LockTimeout, 3)].into_iter().collect();
        let lock_timeouts = MaxErrorsByClass(ErrorClass::LockTimeout, 1);
        assert_eq!(lock_timeouts.key(), "max-errors-by-class.lock_timeout");
        assert_eq!(lock_timeouts.check(&s)[0].actual, "3 lock_timeout errors");
        assert!(
            MaxErrorsByClass(ErrorClass::Deadlock, 0)
                .check(&s)
                .is_empty()
        );
    }
}
