//! Traffic: the latency books turned into percentiles per phase, per query and over time; the
//! operations the migration delayed, counted from the books.

use hdrhistogram::Histogram;

use crate::report::{
    BackgroundReport, DelayedOps, ErrorReport, IntervalReport, LatencyStats, Percentiles,
    PhaseReport, QueryStats, StartPoint, TrafficReport,
};
use crate::scenario::{Arrival, PhaseKind, Rate};
use crate::traffic::{Book, TrafficRecord};

/// An operation is delayed when it is slower than this many times the baseline's p99…
const DELAYED_FACTOR: u64 = 2;
/// …and than this (µs), so a sub-millisecond baseline does not make every operation "delayed".
const DELAYED_FLOOR_US: u64 = 10_000;

/// The report's traffic section, and the operations the migration delayed.
pub(super) fn traffic(t: &TrafficRecord) -> (TrafficReport, Option<DelayedOps>) {
    let merged = |kind: Option<PhaseKind>| {
        let mut book = Book::new();
        for phase in t.phases.iter().filter(|p| kind.is_none_or(|k| p.kind == k)) {
            for (_, b) in &phase.queries {
                book.merge(b);
            }
        }
        book
    };
    let overall = merged(None);
    let during = merged(Some(PhaseKind::Step));
    let baseline = merged(Some(PhaseKind::Baseline));
    let delayed = (!baseline.latency.is_empty() && !during.latency.is_empty()).then(|| {
        let threshold_us =
            (DELAYED_FACTOR * baseline.latency.value_at_quantile(0.99)).max(DELAYED_FLOOR_US);
        let latency = &during.latency;
        DelayedOps {
            threshold_ms: threshold_us as f64 / 1000.0,
            count: latency.count_between(threshold_us, latency.max().max(threshold_us)),
        }
    });
    let s = |us: u64| us as f64 / 1e6;
    let ms = |us: u64| us as f64 / 1e3;
    let phases = t
        .phases
        .iter()
        .map(|p| {
            let mut all = Book::new();
            let queries = p
                .queries
                .iter()
                .filter(|(_, b)| b.count() > 0)
                .map(|(name, b)| {
                    all.merge(b);
                    QueryStats {
                        query: name.clone(),
                        stats: stats(b),
                    }
                })
                .collect();
            PhaseReport {
                name: p.name.clone(),
                kind: p.kind,
                start_s: p.start_us.map(s),
                end_s: p.end_us.map(s),
                all: stats(&all),
                queries,
            }
        })
        .collect();
    let report = TrafficReport {
        replay: t.replay.as_ref().map(|r| crate::report::ReplayReport {
            capture: r.capture.clone(),
            captured: r.captured,
            sessions: r.sessions,
            replayed: r.replayed,
            skipped: r
                .skipped
                .iter()
                .map(|(reason, count)| crate::report::SkipCount {
                    reason: reason.clone(),
                    count: *count,
                })
                .collect(),
            speed: r.speed,
            looped: r.repeat,
        }),
        rate: match t.rate {
            Rate::PerSecond(r) => Some(r),
            Rate::Max => None,
        },
        connections: t.connections,
        arrival: match (t.rate, t.arrival) {
            (Rate::Max, _) => "max",
            (_, Arrival::Poisson) => "poisson",
            (_, Arrival::Uniform) => "uniform",
        }
        .into(),
        interval_s: t.interval.as_secs_f64(),
        warmup_s: t.warmup.as_secs_f64(),
        scheduled: t.scheduled,
        recorded: t.succeeded + t.failed,
        succeeded: t.succeeded,
        failed: t.failed,
        abandoned: t.abandoned,
        dropped: t.dropped,
        reprepared: t.reprepared,
        surge_connections: t.surged,
        refused_connections: t.refused,
        lateness: percentiles(&t.lateness),
        overall: stats(&overall),
        phases,
        during_migration: (during.count() > 0).then(|| stats(&during)),
        series: t
            .series
            .iter()
            .map(|i| IntervalReport {
                t_s: s(i.start_us),
                completed: i.completed,
                errors: i.errors,
                p50_ms: i.p50_us.map(ms),
                p99_ms: i.p99_us.map(ms),
                max_ms: i.max_us.map(ms),
                in_flight: i.in_flight,
                queued: i.queued,
            })
            .collect(),
        by_start_s: t.by_start_bucket.as_secs_f64(),
        by_start: t
            .by_start
            .iter()
            .map(|b| StartPoint {
                t_s: s(b.start_us),
                count: b.count,
                errors: b.errors,
                p50_ms: ms(b.p50_us),
                p99_ms: ms(b.p99_us),
                max_ms: ms(b.max_us),
            })
            .collect(),
        errors: t
            .errors
            .iter()
            .map(|e| ErrorReport {
                class: e.class,
                sqlstate: e.sqlstate.clone(),
                query: e.query.clone().unwrap_or_else(|| "*".into()),
                count: e.count,
                first_s: s(e.first_us),
                last_s: s(e.last_us),
                example: e.example.clone(),
            })
            .collect(),
        background: t
            .background
            .iter()
            .map(|b| BackgroundReport {
                name: b.name.clone(),
                start_s: b.start_s,
                end_s: b.end_s,
                error: b.error.clone(),
            })
            .collect(),
    };
    (report, delayed)
}

fn stats(b: &Book) -> LatencyStats {
    LatencyStats {
        count: b.count(),
        errors: b.errors,
        latency: percentiles(&b.latency),
        service: percentiles(&b.service),
    }
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
