//! `p99-during-migration`: the p99 latency of operations due while steps ran.

use std::time::Duration;

use super::{Budget, Found, human};
use crate::report::StrategyReport;

/// p99 during the steps at most this.
pub(super) struct P99DuringMigration(pub(super) Duration);

impl Budget for P99DuringMigration {
    fn key(&self) -> String {
        "p99-during-migration".into()
    }

    fn limit(&self) -> String {
        human(self.0)
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        strategy
            .figures
            .p99_during_ms
            .filter(|p99| *p99 > self.0.as_secs_f64() * 1000.0)
            .map(|p99| Found::run(format!("{p99:.1} ms")))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::strategy;
    use super::*;

    #[test]
    fn compares_milliseconds() {
        let mut s = strategy(Vec::new());
        s.figures.p99_during_ms = Some(120.0);
        assert_eq!(
            P99DuringMigration(Duration::from_millis(100)).check(&s)[0].actual,
            "120.0 ms"
        );
        assert!(
            P99DuringMigration(Duration::from_millis(200))
                .check(&s)
                .is_empty()
        );
    }
}
