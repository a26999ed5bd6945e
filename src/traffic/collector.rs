//! The one owner of every traffic measurement. Workers send a [`Sample`] per operation; the
//! collector keeps HdrHistograms per (phase, query), the time series and the error classes, so no
//! histogram is ever shared between tasks. Memory does not grow with the number of operations:
//! only with phases × queries and with the number of intervals.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::pg::ErrorClass;
use crate::report::{
    DelayedOps, ErrorReport, IntervalReport, LatencyStats, Percentiles, PhaseReport, QueryStats,
};

/// What workers and the run tell the collector.
#[derive(Debug)]
pub enum Event {
    /// Operations finished (or failed), batched by a worker.
    Samples(Vec<Sample>),
    /// A phase began at this offset (µs).
    Phase {
        /// Phase index.
        index: usize,
        /// Offset, µs.
        at_us: u64,
    },
    /// Periodic: sample in-flight and queued counts, close finished intervals.
    Tick {
        /// Now, µs.
        now_us: u64,
        /// Operations running.
        in_flight: u64,
        /// Operations waiting for a connection.
        queued: u64,
    },
}

/// One operation's timings, all µs on the run's clock.
#[derive(Debug)]
pub struct Sample {
    /// Query index.
    pub query: u16,
    /// Phase at the intended start.
    pub phase: u16,
    /// When it should have started.
    pub intended_us: u64,
    /// When it was sent.
    pub sent_us: u64,
    /// When it completed.
    pub done_us: u64,
    /// Why it failed.
    pub failure: Option<Box<Failure>>,
    /// Whether a statement had to be re-prepared.
    pub reprepared: bool,
}

/// A failed operation.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Its class.
    pub class: ErrorClass,
    /// SQLSTATE.
    pub sqlstate: Option<String>,
    /// Message.
    pub message: String,
}

/// What the collector returns when the channel closes.
pub struct Collected {
    /// Every operation.
    pub overall: LatencyStats,
    /// Per phase.
    pub phases: Vec<PhaseReport>,
    /// Every step phase together.
    pub during_migration: Option<LatencyStats>,
    /// Operations due during steps that were slow against the baseline.
    pub delayed: Option<DelayedOps>,
    /// Time series.
    pub series: Vec<IntervalReport>,
    /// Errors.
    pub errors: Vec<ErrorReport>,
    /// Lateness percentiles.
    pub lateness: Percentiles,
    /// Counts.
    pub succeeded: u64,
    /// Counts.
    pub failed: u64,
    /// Re-prepared statements.
    pub reprepared: u64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 hour at 3 significant digits; values beyond are clamped.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.max(1));
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    }
}

#[derive(Clone)]
struct Book {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    errors: u64,
}

impl Book {
    fn new() -> Book {
        Book {
            latency: histogram(),
            service: histogram(),
            errors: 0,
        }
    }

    fn add(&mut self, s: &Sample) {
        record(&mut self.latency, s.done_us.saturating_sub(s.intended_us));
        record(&mut self.service, s.done_us.saturating_sub(s.sent_us));
        self.errors += s.failure.is_some() as u64;
    }

    fn stats(&self) -> LatencyStats {
        LatencyStats {
            count: self.latency.len(),
            errors: self.errors,
            latency: percentiles(&self.latency),
            service: percentiles(&self.service),
        }
    }
}

struct Interval {
    latency: Histogram<u64>,
    completed: u64,
    errors: u64,
    in_flight: u64,
    queued: u64,
}

struct ErrorAcc {
    count: u64,
    first_us: u64,
    last_us: u64,
    example: String,
}

/// The collector's state.
pub struct Collector {
    /// p99 latency (µs) of the last closed interval that had completions, for throttles.
    recent_p99_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
    query_names: Vec<String>,
    phase_names: Vec<(String, &'static str)>,
    phase_starts: Vec<Option<u64>>,
    books: Vec<Vec<Book>>,
    migration: Book,
    lateness: Histogram<u64>,
    interval_us: u64,
    start_us: u64,
    open: BTreeMap<u64, Interval>,
    next_closed: u64,
    series: Vec<IntervalReport>,
    errors: BTreeMap<(ErrorClass, Option<String>, u16), ErrorAcc>,
    succeeded: u64,
    failed: u64,
    reprepared: u64,
}

impl Collector {
    /// A collector for these queries and phases (names with kinds), intervals of `interval_us`
    /// from `start_us`.
    pub fn new(
        query_names: Vec<String>,
        phase_names: Vec<(String, &'static str)>,
        interval_us: u64,
        start_us: u64,
        recent_p99_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Collector {
        let phases = phase_names.len();
        Collector {
            recent_p99_us,
            books: vec![vec![Book::new(); query_names.len()]; phases],
            query_names,
            phase_starts: vec![None; phases],
            phase_names,
            migration: Book::new(),
            lateness: histogram(),
            interval_us,
            start_us,
            open: BTreeMap::new(),
            next_closed: 0,
            series: Vec::new(),
            errors: BTreeMap::new(),
            succeeded: 0,
            failed: 0,
            reprepared: 0,
        }
    }

    /// Takes one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Samples(batch) => batch.into_iter().for_each(|s| self.sample(s)),
            Event::Phase { index, at_us } => {
                if let Some(slot) = self.phase_starts.get_mut(index) {
                    slot.get_or_insert(at_us);
                }
            }
            Event::Tick {
                now_us,
                in_flight,
                queued,
            } => {
                let i = self.interval_of(now_us);
                let interval = self.interval(i);
                interval.in_flight = interval.in_flight.max(in_flight);
                interval.queued = interval.queued.max(queued);
                // An interval is closed once a whole further interval has passed.
                let closable =
                    (now_us.saturating_sub(self.start_us) / self.interval_us).saturating_sub(1);
                self.close_until(closable);
            }
        }
    }

    fn interval_of(&self, at_us: u64) -> u64 {
        at_us.saturating_sub(self.start_us) / self.interval_us
    }

    fn interval(&mut self, i: u64) -> &mut Interval {
        self.open.entry(i).or_insert_with(|| Interval {
            latency: histogram(),
            completed: 0,
            errors: 0,
            in_flight: 0,
            queued: 0,
        })
    }

    fn sample(&mut self, s: Sample) {
        let phase = (s.phase as usize).min(self.books.len() - 1);
        self.books[phase][s.query as usize].add(&s);
        let kind = self.phase_names[phase].1;
        if kind == "step" {
            self.migration.add(&s);
        }
        record(&mut self.lateness, s.sent_us.saturating_sub(s.intended_us));
        self.reprepared += s.reprepared as u64;
        let i = self.interval_of(s.done_us).max(self.next_closed);
        let interval = self.interval(i);
        interval.completed += 1;
        record(
            &mut interval.latency,
            s.done_us.saturating_sub(s.intended_us),
        );
        match s.failure {
            None => self.succeeded += 1,
            Some(f) => {
                let Failure {
                    class,
                    sqlstate,
                    message,
                } = *f;
                interval.errors += 1;
                self.failed += 1;
                let acc = self
                    .errors
                    .entry((class, sqlstate, s.query))
                    .or_insert_with(|| ErrorAcc {
                        count: 0,
                        first_us: s.done_us,
                        last_us: s.done_us,
                        example: message,
                    });
                acc.count += 1;
                acc.first_us = acc.first_us.min(s.done_us);
                acc.last_us = acc.last_us.max(s.done_us);
            }
        }
    }

    /// Operations recorded so far.
    pub fn recorded(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Records `count` operations given up on at stop.
    pub fn abandon(&mut self, count: u64, at_us: u64) {
        if count == 0 {
            return;
        }
        self.failed += count;
        self.errors.insert(
            (ErrorClass::Abandoned, None, u16::MAX),
            ErrorAcc {
                count,
                first_us: at_us,
                last_us: at_us,
                example: "still queued or running when traffic stopped".into(),
            },
        );
    }

    fn close_until(&mut self, last: u64) {
        while self.next_closed < last {
            let i = self.next_closed;
            let interval = self.open.remove(&i);
            let t_s = (self.start_us + i * self.interval_us) as f64 / 1e6;
            let report = match interval {
                None => IntervalReport {
                    t_s,
                    completed: 0,
                    errors: 0,
                    p50_ms: None,
                    p99_ms: None,
                    max_ms: None,
                    in_flight: 0,
                    queued: 0,
                },
                Some(iv) => {
                    let some = !iv.latency.is_empty();
                    if some {
                        self.recent_p99_us.store(
                            iv.latency.value_at_quantile(0.99),
                            std::sync::atomic::Ordering::Relaxed,
                        );
                    }
                    let ms = |us: u64| some.then_some(us as f64 / 1000.0);
                    IntervalReport {
                        t_s,
                        completed: iv.completed,
                        errors: iv.errors,
                        p50_ms: ms(iv.latency.value_at_quantile(0.5)),
                        p99_ms: ms(iv.latency.value_at_quantile(0.99)),
                        max_ms: ms(iv.latency.max()),
                        in_flight: iv.in_flight,
                        queued: iv.queued,
                    }
                }
            };
            self.series.push(report);
            self.next_closed += 1;
        }
    }

    /// Closes every interval and builds the results; `end_us` is when traffic stopped.
    pub fn finish(mut self, end_us: u64) -> Collected {
        let last = self
            .open
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(self.interval_of(end_us.saturating_sub(1)));
        self.close_until(last + 1);
        let ends: Vec<Option<u64>> = (0..self.phase_starts.len())
            .map(|i| {
                self.phase_starts[i + 1..]
                    .iter()
                    .flatten()
                    .next()
                    .copied()
                    .or(Some(end_us))
            })
            .collect();
        let s = |us: u64| us as f64 / 1e6;
        let mut overall = Book::new();
        // Delayed: slower than twice the baseline's p99 (and than 10 ms, so a sub-millisecond
        // baseline does not make every ordinary operation "delayed").
        let baseline = self
            .phase_names
            .iter()
            .position(|(_, kind)| *kind == "baseline")
            .map(|p| {
                let mut h = histogram();
                for b in &self.books[p] {
                    h.add(&b.latency).expect("same bounds");
                }
                h
            })
            .filter(|h| !h.is_empty());
        let delayed = match (&baseline, self.migration.latency.is_empty()) {
            (Some(base), false) => {
                let threshold_us = (2 * base.value_at_quantile(0.99)).max(10_000);
                let latency = &self.migration.latency;
                Some(DelayedOps {
                    threshold_ms: threshold_us as f64 / 1000.0,
                    count: latency.count_between(threshold_us, latency.max().max(threshold_us)),
                })
            }
            _ => None,
        };
        let phases: Vec<PhaseReport> = self
            .phase_names
            .iter()
            .enumerate()
            .map(|(p, (name, kind))| {
                let mut all = Book::new();
                let queries = self.books[p]
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| !b.latency.is_empty())
                    .map(|(q, b)| {
                        all.latency.add(&b.latency).expect("same bounds");
                        all.service.add(&b.service).expect("same bounds");
                        all.errors += b.errors;
                        overall.latency.add(&b.latency).expect("same bounds");
                        overall.service.add(&b.service).expect("same bounds");
                        overall.errors += b.errors;
                        QueryStats {
                            query: self.query_names[q].clone(),
                            stats: b.stats(),
                        }
                    })
                    .collect();
                PhaseReport {
                    name: name.clone(),
                    kind: (*kind).to_owned(),
                    start_s: self.phase_starts[p].map(s),
                    end_s: self.phase_starts[p].and(ends[p]).map(s),
                    all: all.stats(),
                    queries,
                }
            })
            .collect();
        let errors = self
            .errors
            .into_iter()
            .map(|((class, sqlstate, q), acc)| ErrorReport {
                class,
                sqlstate,
                query: self
                    .query_names
                    .get(q as usize)
                    .cloned()
                    .unwrap_or_else(|| "*".into()),
                count: acc.count,
                first_s: s(acc.first_us),
                last_s: s(acc.last_us),
                example: acc.example,
            })
            .collect();
        Collected {
            overall: overall.stats(),
            phases,
            during_migration: (!self.migration.latency.is_empty()).then(|| self.migration.stats()),
            delayed,
            series: self.series,
            errors,
            lateness: percentiles(&self.lateness),
            succeeded: self.succeeded,
            failed: self.failed,
            reprepared: self.reprepared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(phase: u16, intended_ms: u64, done_ms: u64, failed: bool) -> Event {
        Event::Samples(vec![Sample {
            query: 0,
            phase,
            intended_us: intended_ms * 1000,
            sent_us: intended_ms * 1000,
            done_us: done_ms * 1000,
            failure: failed.then(|| {
                Box::new(Failure {
                    class: ErrorClass::LockTimeout,
                    sqlstate: Some("55P03".into()),
                    message: "lock timeout".into(),
                })
            }),
            reprepared: false,
        }])
    }

    #[test]
    fn latency_counts_from_the_intended_start_and_phases_split() {
        let mut c = Collector::new(
            vec!["q".into()],
            vec![
                ("baseline".into(), "baseline"),
                ("alter".into(), "step"),
                ("recovery".into(), "recovery"),
            ],
            1_000_000,
            0,
            Default::default(),
        );
        c.handle(Event::Phase { index: 0, at_us: 0 });
        c.handle(sample(0, 100, 101, false));
        c.handle(Event::Phase {
            index: 1,
            at_us: 1_000_000,
        });
        // Intended at 1.2 s, done at 3.7 s: 2.5 s of latency, whatever the service time.
        c.handle(sample(1, 1200, 3700, false));
        c.handle(sample(1, 1300, 3700, true));
        c.handle(Event::Phase {
            index: 2,
            at_us: 3_700_000,
        });
        let out = c.finish(5_000_000);
        assert_eq!(out.phases[0].all.count, 1);
        assert_eq!(out.phases[1].all.count, 2);
        assert!(out.phases[1].all.latency.max_ms >= 2499.0);
        assert_eq!(out.phases[1].end_s, Some(3.7));
        assert_eq!(out.during_migration.unwrap().errors, 1);
        assert_eq!(out.errors[0].class, ErrorClass::LockTimeout);
        assert_eq!((out.succeeded, out.failed), (2, 1));
        // Intervals 0..=4, the stall's completions in interval 3, none in 1 and 2.
        let completed: Vec<u64> = out.series.iter().map(|i| i.completed).collect();
        assert_eq!(completed, [1, 0, 0, 2, 0]);
    }
}
