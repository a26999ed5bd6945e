//! `max-errors`: how many application operations may fail, all classes together.

use super::{Budget, Found};
use crate::report::StrategyReport;

/// At most this many application errors.
pub(super) struct MaxErrors(pub(super) u64);

impl Budget for MaxErrors {
    fn key(&self) -> String {
        "max-errors".into()
    }

    fn limit(&self) -> String {
        self.0.to_string()
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        let f = &strategy.figures;
        if f.errors <= self.0 {
            return Vec::new();
        }
        let classes: Vec<String> = f
            .errors_by_class
            .iter()
            .map(|(class, n)| format!("{n} {class}"))
            .collect();
        vec![Found::run(format!(
            "{} errors ({})",
            f.errors,
            classes.join(", ")
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::strategy;
    use super::*;
    use crate::pg::ErrorClass;

    #[test]
    fn counts_every_class() {
        let mut s = strategy(Vec::new());
        s.figures.errors = 4;
        s.figures.errors_by_class = [(ErrorClass::LockTimeout, 3), (ErrorClass::Deadlock, 1)]
            .into_iter()
            .collect();
        assert_eq!(
            MaxErrors(0).check(&s)[0].actual,
            "4 errors (3 lock_timeout, 1 deadlock)"
        );
        assert!(MaxErrors(4).check(&s).is_empty());
    }
}
