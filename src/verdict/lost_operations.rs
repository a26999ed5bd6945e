//! `max-lost-operations`: on whenever there is traffic. An operation dropped (a minute of
//! operations already waited for a connection) or abandoned (still running when traffic
//! stopped) is a measurement lost: the run does not pass unless the scenario allows some.

use super::{Budget, Found};
use crate::report::StrategyReport;

/// The key.
pub(super) const KEY: &str = "max-lost-operations";

/// At most this many operations lost (0 unless the scenario says).
pub(super) struct LostOperations(pub(super) u64);

impl Budget for LostOperations {
    fn key(&self) -> String {
        KEY.into()
    }

    fn limit(&self) -> String {
        self.0.to_string()
    }

    fn needs_traffic(&self) -> bool {
        true
    }

    fn check(&self, strategy: &StrategyReport) -> Vec<Found> {
        let Some(t) = &strategy.traffic else {
            return Vec::new();
        };
        let lost = t.dropped + t.abandoned;
        if lost <= self.0 {
            return Vec::new();
        }
        vec![Found::run(format!(
            "{lost} operations lost ({} dropped with the queue full, {} abandoned at stop)",
            t.dropped, t.abandoned
        ))]
    }
}
