//! `p99-vs-baseline`: the p99 during the steps over the baseline's p99.

use super::{Budget, Found};
use crate::report::StrategyReport;

/// p99 during the steps at most this many times the baseline's.
pub(super) struct P99VsBaseline(pub(super) f64);

impl Budget for P99VsBaseline {
    fn key(&self) -> String {
        "p99-vs-baseline".into()
    }

    fn limit(&self) -> String {
        format!("{}× baseline p99", self.0)
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        let f = &strategy.figures;
        let (Some(during), Some(baseline)) = (f.p99_during_ms, f.p99_baseline_ms) else {
            return Vec::new();
        };
        if during <= self.0 * baseline {
            return Vec::new();
        }
        vec![Found::run(format!(
            "{during:.1} ms during migration vs {baseline:.1} ms baseline ({:.1}×)",
            during / baseline.max(1e-9)
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::strategy;
    use super::*;

    #[test]
    fn the_ratio_to_the_baseline_counts() {
        let mut s = strategy(Vec::new());
        s.figures.p99_baseline_ms = Some(2.0);
        s.figures.p99_during_ms = Some(10.0);
        assert_eq!(
            P99VsBaseline(3.0).check(&s)[0].actual,
            "10.0 ms during migration vs 2.0 ms baseline (5.0×)"
        );
        assert!(P99VsBaseline(5.0).check(&s).is_empty());
        s.figures.p99_baseline_ms = None;
        assert!(P99VsBaseline(3.0).check(&s).is_empty());
    }
}
