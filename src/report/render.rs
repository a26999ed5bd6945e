//! The report's other formats, each a template over [`Report`]: `report.html` (self-contained,
//! with charts), `report.md` (pull-request comments, CI job summaries) and `junit.xml` (one
//! test case per budget). `rehearse render` re-renders an old `report.json` with them.

use std::path::{Path, PathBuf};

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::compare::CompareRow;
use super::{Report, StrategyReport, charts};

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `report.html`: charts and tables in one file.
    Html,
    /// `report.md`: for pull requests and CI summaries.
    Md,
    /// `junit.xml`: one test case per budget.
    Junit,
}

impl Format {
    /// Every format, in the order runs write them.
    pub const ALL: [Format; 3] = [Format::Html, Format::Md, Format::Junit];

    /// The file a run writes it to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Html => "report.html",
            Format::Md => "report.md",
            Format::Junit => "junit.xml",
        }
    }
}

const HTML: &str = include_str!("templates/report.html.j2");
const MD: &str = include_str!("templates/report.md.j2");
const JUNIT: &str = include_str!("templates/junit.xml.j2");

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("report.html", HTML)
        .expect("valid template");
    env.add_template("report.md", MD).expect("valid template");
    env.add_template("junit.xml", JUNIT)
        .expect("valid template");
    env.add_filter("dur", |s: Option<f64>| s.map_or("–".into(), seconds));
    env.add_filter("ms", |ms: Option<f64>| {
        ms.map_or("–".into(), |m| seconds(m / 1000.0))
    });
    env.add_filter("bytes", |b: Option<f64>| b.map_or("–".into(), bytes));
    env.add_filter("md", |s: String| s.replace('|', "\\|").replace('\n', " "));
    env
}

/// A duration as people read it: `850 µs`, `12.3 ms`, `2.07 s`, `3 min 12 s`.
pub fn seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    }
}

/// Bytes in kB/MB/GB (powers of 1000).
pub fn bytes(b: f64) -> String {
    match b {
        b if b < 1e3 => format!("{b:.0} B"),
        b if b < 1e6 => format!("{:.1} kB", b / 1e3),
        b if b < 1e9 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.2} GB", b / 1e9),
    }
}

/// A strategy with what its templates show beside the report's data.
#[derive(Serialize)]
struct StrategyView<'a> {
    #[serde(flatten)]
    data: &'a StrategyReport,
    row: CompareRow,
    steps: Vec<StepView>,
    charts: Vec<Value>,
}

#[derive(Serialize)]
struct StepView {
    index: usize,
    name: String,
    kind: String,
    status: String,
    duration_s: Option<f64>,
    locks: String,
    rewrite: String,
    wal_bytes: Option<f64>,
    retries: usize,
    waited_s: Option<f64>,
    error: Option<String>,
}

fn step_views(s: &StrategyReport) -> Vec<StepView> {
    s.steps
        .iter()
        .map(|st| {
            let mut locks: Vec<String> = st
                .locks
                .iter()
                .filter(|l| l.kind != "index" || l.mode == "AccessExclusiveLock")
                .map(|l| format!("{} on {}", l.mode.trim_end_matches("Lock"), l.relation))
                .collect();
            locks.dedup();
            StepView {
                index: st.index,
                name: st.name.clone(),
                kind: st.kind.clone(),
                status: format!("{:?}", st.status).to_lowercase(),
                duration_s: st.duration_s,
                locks: locks.join(", "),
                rewrite: if st.rewrites.is_empty() {
                    "no".into()
                } else {
                    st.rewrites
                        .iter()
                        .map(|r| r.relation.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                wal_bytes: st.wal_bytes.map(|b| b as f64),
                retries: st.attempts.len().saturating_sub(1),
                waited_s: st
                    .lock_summary
                    .as_ref()
                    .map(|l| l.migration_wait_s)
                    .filter(|w| *w > 0.0),
                error: st.error.as_ref().map(|e| e.to_string()),
            }
        })
        .collect()
}

fn view(report: &Report, with_charts: bool) -> Value {
    let strategies: Vec<StrategyView> = report
        .strategies
        .iter()
        .map(|s| {
            let mut charts = Vec::new();
            if with_charts {
                if let Some(t) = &s.traffic {
                    charts.push(Value::from_safe_string(charts::latency(s, t)));
                    charts.push(Value::from_safe_string(charts::throughput(s, t)));
                }
                if let Some(svg) = charts::lock_waits(s) {
                    charts.push(Value::from_safe_string(svg));
                }
            }
            StrategyView {
                data: s,
                row: CompareRow::of(s),
                steps: step_views(s),
                charts,
            }
        })
        .collect();
    let overlay = with_charts
        .then(|| charts::overlay(&report.strategies))
        .flatten()
        .map(Value::from_safe_string);
    context! {
        report => Value::from_serialize(report),
        strategies => Value::from_serialize(&strategies),
        compare => Value::from_serialize(strategies.iter().map(|s| &s.row).collect::<Vec<_>>()),
        overlay => overlay,
        outcome => format!("{:?}", report.outcome).to_uppercase(),
    }
}

/// Renders one format.
pub fn render(report: &Report, format: Format) -> String {
    render_with(&environment(), report, format)
}

fn render_with(env: &Environment<'_>, report: &Report, format: Format) -> String {
    let template = env
        .get_template(format.file_name())
        .expect("templates are added above");
    template
        .render(view(report, format == Format::Html))
        .unwrap_or_else(|e| panic!("the {} template failed: {e:#}", format.file_name()))
}

/// Writes every format next to `report.json`; returns the files written.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let env = environment();
    let mut written = Vec::new();
    for format in Format::ALL {
        let path = dir.join(format.file_name());
        std::fs::write(&path, render_with(&env, report, format))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(seconds(0.000_5), "500 µs");
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(2.071), "2.07 s");
        assert_eq!(seconds(192.0), "3 min 12 s");
        assert_eq!(bytes(59_500.0), "59.5 kB");
        assert_eq!(bytes(4.57e9), "4.57 GB");
    }
}
