//! The run's one clock.
//!
//! Every event of a run (a step boundary, later a query's latency or a lock sample) carries an
//! offset from the instant the run started, so the report can line events up on one timeline.
//! This is the only module that reads `Instant::now()`.

use std::time::{Duration, Instant};

/// The clock a whole run shares: the instant it started, and the wall-clock time at that instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunClock {
    start: Instant,
    wall_start: chrono::DateTime<chrono::Utc>,
}

impl RunClock {
    /// Starts a clock now.
    pub(crate) fn start() -> Self {
        RunClock {
            start: Instant::now(),
            wall_start: chrono::Utc::now(),
        }
    }

    /// Time elapsed since the run started.
    pub(crate) fn offset(&self) -> Duration {
        self.start.elapsed()
    }

    /// The wall-clock time at which the run started (for the report only).
    pub(crate) fn wall_start(&self) -> chrono::DateTime<chrono::Utc> {
        self.wall_start
    }

    /// Starts timing a span of work (a step, a seed phase) on this clock.
    pub(crate) fn span(&self) -> Span {
        Span {
            start: self.offset(),
            begun: Instant::now(),
        }
    }
}

/// A span of work being timed: where it began on the run's clock, and a monotonic start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: Duration,
    begun: Instant,
}

impl Span {
    /// Offset of the span's start from the run's start.
    pub(crate) fn start(&self) -> Duration {
        self.start
    }

    /// Time elapsed since the span began.
    pub(crate) fn elapsed(&self) -> Duration {
        self.begun.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_start_after_the_run_and_grow() {
        let clock = RunClock::start();
        std::thread::sleep(Duration::from_millis(2));
        let span = clock.span();
        assert!(span.start() >= Duration::from_millis(2));
        std::thread::sleep(Duration::from_millis(2));
        assert!(span.elapsed() >= Duration::from_millis(2));
        let through_span = span.start() + span.elapsed();
        assert!(clock.offset() >= through_span);
    }
}
