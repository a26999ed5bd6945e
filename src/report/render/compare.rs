//! The side-by-side table for the terminal: one row per strategy, from its stored figures (the
//! same figures report.md and report.html show).

use std::collections::BTreeMap;

use super::units::{bytes, millis, seconds};
use crate::pg::ErrorClass;
use crate::report::{Report, StrategyReport};

const HEADER: [&str; 10] = [
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

/// The table, aligned, each line indented by two spaces.
pub fn compare_table(report: &Report) -> String {
    let mut table: Vec<Vec<String>> = vec![HEADER.iter().map(ToString::to_string).collect()];
    table.extend(report.strategies.iter().map(row));
    let widths: Vec<usize> = (0..HEADER.len())
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

fn row(s: &StrategyReport) -> Vec<String> {
    let f = &s.figures;
    let dash = || "–".to_owned();
    let traffic = s.traffic.is_some();
    vec![
        s.name.clone(),
        s.status.name().to_owned(),
        s.duration_s.map_or_else(dash, seconds),
        f.longest_stall_s.map_or_else(dash, seconds),
        f.p99_during_ms.map_or_else(dash, millis),
        f.p99_baseline_ms.map_or_else(dash, millis),
        match (&f.delayed, traffic) {
            (Some(d), _) => d.count.to_string(),
            (None, true) => "0".into(),
            (None, false) => dash(),
        },
        errors_text(&s.figures.errors_by_class),
        bytes(f.wal_bytes as f64),
        if f.rewrites.is_empty() {
            "none".into()
        } else {
            f.rewrites.join(", ")
        },
    ]
}

/// Errors by class as `3 lock_timeout, 1 deadlock`, or `0`.
pub fn errors_text(errors: &BTreeMap<ErrorClass, u64>) -> String {
    if errors.is_empty() {
        return "0".into();
    }
    errors
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
