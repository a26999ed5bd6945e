//! The one owner of every traffic measurement. Workers send a [`Sample`] per operation; the
//! collector keeps HdrHistograms per (phase, query), the time series and the error classes, so no
//! histogram is ever shared between tasks. Memory does not grow with the number of operations:
//! only with phases × queries and with the number of intervals. It computes nothing for the
//! report: [`Collector::finish`] hands its books to the assembler.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::by_start::ByStart;
use super::record::{Book, ErrorTally, IntervalRecord, PhaseBook, StartBucket, histogram};
use crate::pg::ErrorClass;
use crate::scenario::PhaseKind;

/// What workers and the run tell the collector.
#[derive(Debug)]
pub(super) enum Event {
    /// Operations finished (or failed), batched by a worker.
    Samples(Vec<Sample>),
    /// A phase began at this offset (µs).
    Phase {
        /// Phase index.
        index: usize,
        /// Offset, µs.
        at_us: u64,
    },
    /// A deploy's new connection was refused (it is tried again later).
    Refused {
        /// When, µs.
        at_us: u64,
        /// The version deployed.
        version: String,
        /// Why.
        failure: Failure,
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
pub(super) struct Sample {
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
pub(super) struct Failure {
    /// Its class.
    pub class: ErrorClass,
    /// SQLSTATE.
    pub sqlstate: Option<String>,
    /// Message.
    pub message: String,
}

/// What the collector recorded, when the channel closes.
pub(super) struct Collected {
    /// Per phase, per query.
    pub phases: Vec<PhaseBook>,
    /// The time series.
    pub series: Vec<IntervalRecord>,
    /// Latency by intended start.
    pub by_start: Vec<StartBucket>,
    /// Errors.
    pub errors: Vec<ErrorTally>,
    /// Lateness, µs.
    pub lateness: Histogram<u64>,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Operations that failed.
    pub failed: u64,
    /// Re-prepared statements.
    pub reprepared: u64,
    /// Deploys' new connections refused (in `errors` too, not in `failed`).
    pub refused: u64,
}

/// The width of a by-start bucket, µs: fine enough to show a stall's ramp.
pub(super) const BY_START_BUCKET_US: u64 = 100_000;

fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.max(1));
}

impl Book {
    fn add(&mut self, s: &Sample) {
        record(&mut self.latency, s.done_us.saturating_sub(s.intended_us));
        record(&mut self.service, s.done_us.saturating_sub(s.sent_us));
        self.errors += u64::from(s.failure.is_some());
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
pub(super) struct Collector {
    /// p99 latency (µs) of the last closed interval that had completions, for throttles.
    recent_p99_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
    query_names: Vec<String>,
    phase_names: Vec<(String, PhaseKind)>,
    phase_starts: Vec<Option<u64>>,
    /// When each phase last stopped being the current one.
    phase_ends: Vec<Option<u64>>,
    /// The phase in force.
    current: Option<usize>,
    books: Vec<Vec<Book>>,
    lateness: Histogram<u64>,
    interval_us: u64,
    start_us: u64,
    open: BTreeMap<u64, Interval>,
    next_closed: u64,
    series: Vec<IntervalRecord>,
    by_start: ByStart,
    errors: BTreeMap<(ErrorClass, Option<String>, u16), ErrorAcc>,
    /// Refused connections by class, SQLSTATE and version.
    refused: BTreeMap<(ErrorClass, Option<String>, String), ErrorAcc>,
    succeeded: u64,
    failed: u64,
    reprepared: u64,
}

impl Collector {
    /// A collector for these queries and phases (names with kinds), intervals of `interval_us`
    /// from `start_us`.
    pub(super) fn new(
        query_names: Vec<String>,
        phase_names: Vec<(String, PhaseKind)>,
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
            phase_ends: vec![None; phases],
            current: None,
            phase_names,
            lateness: histogram(),
            interval_us,
            start_us,
            open: BTreeMap::new(),
            next_closed: 0,
            series: Vec::new(),
            by_start: ByStart::new(BY_START_BUCKET_US, start_us),
            errors: BTreeMap::new(),
            refused: BTreeMap::new(),
            succeeded: 0,
            failed: 0,
            reprepared: 0,
        }
    }

    /// Takes one event.
    pub(super) fn handle(&mut self, event: Event) {
        match event {
            Event::Samples(batch) => batch.into_iter().for_each(|s| self.sample(s)),
            Event::Phase { index, at_us } => {
                if let Some(slot) = self.phase_starts.get_mut(index) {
                    slot.get_or_insert(at_us);
                    if let Some(previous) = self.current.filter(|c| *c != index) {
                        self.phase_ends[previous] = Some(at_us);
                    }
                    self.current = Some(index);
                }
            }
            Event::Refused {
                at_us,
                version,
                failure,
            } => {
                let i = self.interval_of(at_us).max(self.next_closed);
                self.interval(i).errors += 1;
                let acc = self
                    .refused
                    .entry((failure.class, failure.sqlstate, version))
                    .or_insert_with(|| ErrorAcc {
                        count: 0,
                        first_us: at_us,
                        last_us: at_us,
                        example: failure.message,
                    });
                acc.count += 1;
                acc.first_us = acc.first_us.min(at_us);
                acc.last_us = acc.last_us.max(at_us);
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
                self.by_start.close_old(now_us);
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
        record(&mut self.lateness, s.sent_us.saturating_sub(s.intended_us));
        self.by_start.add(
            s.intended_us,
            s.done_us.saturating_sub(s.intended_us),
            s.failure.is_some(),
        );
        self.reprepared += u64::from(s.reprepared);
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
    pub(super) fn recorded(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Records operations that could not be queued (`count`, due from `first_us` to `last_us`).
    pub(super) fn dropped(&mut self, count: u64, first_us: u64, last_us: u64) {
        if count == 0 {
            return;
        }
        self.failed += count;
        self.errors.insert(
            (ErrorClass::Dropped, None, u16::MAX - 1),
            ErrorAcc {
                count,
                first_us,
                last_us,
                example: "a minute of operations was already waiting for a connection".into(),
            },
        );
    }

    /// Records `count` operations given up on at stop.
    pub(super) fn abandon(&mut self, count: u64, at_us: u64) {
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
            let start_us = self.start_us + i * self.interval_us;
            let record = match self.open.remove(&i) {
                None => IntervalRecord {
                    start_us,
                    completed: 0,
                    errors: 0,
                    p50_us: None,
                    p99_us: None,
                    max_us: None,
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
                    let us = |v: u64| some.then_some(v);
                    IntervalRecord {
                        start_us,
                        completed: iv.completed,
                        errors: iv.errors,
                        p50_us: us(iv.latency.value_at_quantile(0.5)),
                        p99_us: us(iv.latency.value_at_quantile(0.99)),
                        max_us: us(iv.latency.max()),
                        in_flight: iv.in_flight,
                        queued: iv.queued,
                    }
                }
            };
            self.series.push(record);
            self.next_closed += 1;
        }
    }

    /// Closes every interval and hands over the books; `end_us` is when traffic stopped.
    pub(super) fn finish(mut self, end_us: u64) -> Collected {
        let last = self
            .open
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(self.interval_of(end_us.saturating_sub(1)));
        self.close_until(last + 1);
        if let Some(current) = self.current {
            self.phase_ends[current] = Some(end_us);
        }
        let (starts, ends) = (self.phase_starts, self.phase_ends);
        let phases = self
            .phase_names
            .into_iter()
            .zip(self.books)
            .enumerate()
            .map(|(p, ((name, kind), books))| {
                // A phase ends when the next one began (the time between steps, last when it
                // stopped being current), else when traffic stopped.
                PhaseBook {
                    name,
                    kind,
                    start_us: starts[p],
                    end_us: starts[p].and(ends[p]),
                    queries: self.query_names.iter().cloned().zip(books).collect(),
                }
            })
            .collect();
        let query_names = self.query_names;
        let refused = self.refused.values().map(|a| a.count).sum();
        let tally = |class, sqlstate, query, acc: ErrorAcc| ErrorTally {
            class,
            sqlstate,
            query,
            count: acc.count,
            first_us: acc.first_us,
            last_us: acc.last_us,
            example: acc.example,
        };
        let errors = self
            .errors
            .into_iter()
            .map(|((class, sqlstate, q), acc)| {
                tally(class, sqlstate, query_names.get(q as usize).cloned(), acc)
            })
            .chain(self.refused.into_iter().map(|((class, sqlstate, v), acc)| {
                tally(class, sqlstate, Some(format!("connect ({v})")), acc)
            }))
            .collect();
        Collected {
            phases,
            series: self.series,
            by_start: self.by_start.finish(),
            errors,
            lateness: self.lateness,
            succeeded: self.succeeded,
            failed: self.failed,
            reprepared: self.reprepared,
            refused,
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
                ("baseline".into(), PhaseKind::Baseline),
                ("alter".into(), PhaseKind::Step),
                ("recovery".into(), PhaseKind::Recovery),
            ],
            1_000_000,
            0,
            std::sync::Arc::default(),
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
        let count = |p: usize| out.phases[p].queries[0].1.count();
        assert_eq!((count(0), count(1)), (1, 2));
        assert!(out.phases[1].queries[0].1.latency.max() >= 2_499_000);
        assert_eq!(out.phases[1].end_us, Some(3_700_000));
        assert_eq!(out.phases[1].queries[0].1.errors, 1);
        assert_eq!(out.errors[0].class, ErrorClass::LockTimeout);
        assert_eq!((out.succeeded, out.failed), (2, 1));
        // Intervals 0..=4, the stall's completions in interval 3, none in 1 and 2.
        let completed: Vec<u64> = out.series.iter().map(|i| i.completed).collect();
        assert_eq!(completed, [1, 0, 0, 2, 0]);
    }
}
