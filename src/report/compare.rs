//! The figures that decide between strategies, one row per strategy: what every format's
//! side-by-side table shows.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Report, StrategyReport};

/// One strategy's deciding figures.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// Strategy name.
    pub strategy: String,
    /// `succeeded`, `failed`, …
    pub status: String,
    /// Seconds from its first step's start to its last step's end.
    pub duration_s: Option<f64>,
    /// Longest application lock wait (the longest stall a request saw on a lock), seconds.
    pub longest_stall_s: Option<f64>,
    /// Slowest application operation while steps ran, ms.
    pub max_during_ms: Option<f64>,
    /// p99 latency while steps ran, ms.
    pub p99_during_ms: Option<f64>,
    /// p99 latency of the baseline, ms.
    pub p99_baseline_ms: Option<f64>,
    /// Operations due during the steps slower than twice the baseline's p99 (at least 10 ms).
    pub delayed_ops: Option<u64>,
    /// Application errors by class.
    pub errors: BTreeMap<String, u64>,
    /// WAL written while the steps ran, bytes.
    pub wal_bytes: u64,
    /// Relations rewritten.
    pub rewrites: Vec<String>,
    /// Longest ACCESS EXCLUSIVE hold of a step (upper bound), seconds.
    pub exclusive_hold_s: Option<f64>,
}

impl CompareRow {
    /// The figures of one strategy.
    pub fn of(s: &StrategyReport) -> CompareRow {
        let traffic = s.traffic.as_ref();
        let app_waits = s.lock_waits.iter().filter(|w| w.waiter.role == "traffic");
        CompareRow {
            strategy: s.name.clone(),
            status: format!("{:?}", s.status).to_lowercase(),
            duration_s: s.duration_s,
            longest_stall_s: traffic
                .map(|_| app_waits.clone().map(|w| w.duration_s).fold(0.0, f64::max)),
            max_during_ms: traffic
                .and_then(|t| t.during_migration.as_ref())
                .map(|d| d.latency.max_ms),
            p99_during_ms: traffic
                .and_then(|t| t.during_migration.as_ref())
                .map(|d| d.latency.p99_ms),
            p99_baseline_ms: traffic.and_then(|t| {
                t.phases
                    .iter()
                    .find(|p| p.kind == "baseline")
                    .filter(|p| p.all.count > 0)
                    .map(|p| p.all.latency.p99_ms)
            }),
            delayed_ops: traffic.map(|t| t.delayed.as_ref().map_or(0, |d| d.count)),
            errors: traffic
                .map(|t| {
                    let mut by_class = BTreeMap::new();
                    for e in &t.errors {
                        *by_class.entry(e.class.name().to_owned()).or_default() += e.count;
                    }
                    by_class
                })
                .unwrap_or_default(),
            wal_bytes: s.steps.iter().filter_map(|st| st.wal_bytes).sum(),
            rewrites: s
                .steps
                .iter()
                .flat_map(|st| st.rewrites.iter().map(|r| r.relation.clone()))
                .collect(),
            exclusive_hold_s: s
                .steps
                .iter()
                .filter_map(crate::verdict::exclusive_hold_s)
                .reduce(f64::max),
        }
    }

    /// Errors as `3 lock_timeout, 1 deadlock`, or `0`.
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "0".into();
        }
        self.errors
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The rows of every strategy that ran.
pub fn rows(report: &Report) -> Vec<CompareRow> {
    report.strategies.iter().map(CompareRow::of).collect()
}

/// The side-by-side table for the terminal.
pub fn text_table(rows: &[CompareRow]) -> String {
    use super::render::{bytes, seconds};
    let header = [
        "strategy",
        "status",
        "duration",
        "longest stall",
        "p99 migr.",
        "p99 base",
        "delayed",
        "errors",
        "WAL",
        "rewrites",
    ];
    let dash = || "–".to_owned();
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        table.push(vec![
            r.strategy.clone(),
            r.status.clone(),
            r.duration_s.map_or_else(dash, seconds),
            r.longest_stall_s.map_or_else(dash, seconds),
            r.p99_during_ms.map_or_else(dash, |m| seconds(m / 1000.0)),
            r.p99_baseline_ms.map_or_else(dash, |m| seconds(m / 1000.0)),
            r.delayed_ops.map_or_else(dash, |n| n.to_string()),
            r.errors_text(),
            bytes(r.wal_bytes as f64),
            if r.rewrites.is_empty() {
                "none".into()
            } else {
                r.rewrites.join(", ")
            },
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
