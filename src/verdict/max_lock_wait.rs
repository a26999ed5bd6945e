//! `max-lock-wait`: the longest any application operation may wait for a lock.

use std::time::Duration;

use super::{Budget, Found, human};
use crate::report::StrategyReport;

/// No application lock wait longer than this.
pub(super) struct MaxLockWait(pub(super) Duration);

impl Budget for MaxLockWait {
    fn key(&self) -> String {
        "max-lock-wait".into()
    }

    fn limit(&self) -> String {
        human(self.0)
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        let f = &strategy.figures;
        f.longest_stall_s
            .filter(|s| *s > self.0.as_secs_f64())
            .map(|s| {
                Found::run(format!(
                    "{s:.3} s for {}",
                    f.longest_stall_on.as_deref().unwrap_or("a lock")
                ))
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::strategy;
    use super::*;

    #[test]
    fn reads_the_longest_stall() {
        let mut s = strategy(Vec::new());
        s.figures.longest_stall_s = Some(2.5);
        s.figures.longest_stall_on = Some("AccessShareLock on users".into());
        let found = MaxLockWait(Duration::from_millis(500)).check(&s);
        assert_eq!(found[0].actual, "2.500 s for AccessShareLock on users");
        assert!(MaxLockWait(Duration::from_secs(3)).check(&s).is_empty());
    }
}
