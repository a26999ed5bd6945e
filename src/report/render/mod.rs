//! The report's other formats, each a view over [`Report`]: `report.html` (self-contained, with
//! charts), `report.md` (pull-request comments, CI job summaries) and `junit.xml` (one test case
//! per budget), all templates; the terminal summary and the side-by-side table as text.
//! Renderers read the report and its stored figures; they compute nothing the verdict or
//! another format needs. `rehearse render` re-renders an old `report.json` with them.

mod charts;
mod compare;
mod matrix;
mod summary;
mod units;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::{Report, StrategyReport};
use crate::pg::{LockMode, RelKind};

pub use compare::{compare_table, errors_text};
pub use matrix::{Matrix, MatrixRun, folder as matrix_folder, matrix, matrix_text, write_matrix};
pub use summary::write_summary;
pub use units::{bytes, millis, seconds};

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `report.html`: charts and tables in one file.
    Html,
    /// `report.md`: for pull requests and CI summaries.
    Md,
    /// `junit.xml`: one test case per budget.
    Junit,
    /// The summary `rehearse run` prints.
    Text,
}

impl Format {
    /// Every format a run writes, in order.
    pub const FILES: [Format; 3] = [Format::Html, Format::Md, Format::Junit];

    /// The file a run writes it to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Html => "report.html",
            Format::Md => "report.md",
            Format::Junit => "junit.xml",
            Format::Text => "summary.txt",
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
    env.add_template("matrix.md", include_str!("templates/matrix.md.j2"))
        .expect("valid template");
    env.add_template("matrix.html", include_str!("templates/matrix.html.j2"))
        .expect("valid template");
    env.add_filter("dur", |s: Option<f64>| s.map_or("–".into(), seconds));
    env.add_filter("ms", |ms: Option<f64>| ms.map_or("–".into(), millis));
    env.add_filter("bytes", |b: Option<f64>| b.map_or("–".into(), bytes));
    env.add_filter("md", markdown_text);
    env
}

/// The relations a step rewrote, comma-separated; `None` when it rewrote none.
fn rewritten(step: &crate::report::StepReport) -> Option<String> {
    (!step.rewrites.is_empty()).then(|| {
        step.rewrites
            .iter()
            .map(|r| r.relation.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Text safe inside a Markdown table cell: no HTML (GitHub renders tags), no cell breaks.
fn markdown_text(s: String) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A strategy with what its templates show beside the report's data.
#[derive(Serialize)]
struct StrategyView<'a> {
    #[serde(flatten)]
    data: &'a StrategyReport,
    steps: Vec<StepView>,
    charts: Vec<Value>,
    /// The connections line, when they are worth a line.
    connections_line: Option<String>,
}

/// The connections a strategy held against the server's limit, in words — when a deploy opened
/// more, one was refused, or the peak came within a fifth of the limit (else nothing: a pool
/// far below the limit is not news).
pub(super) fn connections_line(s: &StrategyReport) -> Option<String> {
    let c = s.connections.as_ref()?;
    let (surged, refused) = s
        .traffic
        .as_ref()
        .map_or((0, 0), |t| (t.surge_connections, t.refused_connections));
    let usable = c.max_connections.saturating_sub(c.reserved);
    let near = u64::from(c.peak) * 5 >= u64::from(usable) * 4;
    if surged == 0 && refused == 0 && !near {
        return None;
    }
    let mut line = format!(
        "connections: peak {} of max_connections {} ({} reserved for superusers) at {:.1} s",
        c.peak, c.max_connections, c.reserved, c.peak_at_s
    );
    if surged > 0 || refused > 0 {
        let _ = write!(
            line,
            "; deploys opened {surged} more beside the pool, {refused} attempts refused"
        );
    }
    Some(line)
}

/// A step as the tables show it.
#[derive(Serialize)]
struct StepView {
    index: usize,
    name: String,
    kind: String,
    status: &'static str,
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
            // Index locks follow their table's; only exclusive ones say something more.
            let mut locks: Vec<String> = st
                .locks
                .iter()
                .filter(|l| l.kind != RelKind::Index || l.mode == LockMode::AccessExclusiveLock)
                .map(|l| format!("{} on {}", l.mode.short(), l.relation))
                .collect();
            locks.dedup();
            StepView {
                index: st.index,
                name: st.name.clone(),
                kind: st.kind.name().to_owned(),
                status: st.status.name(),
                duration_s: st.duration_s,
                locks: locks.join(", "),
                rewrite: rewritten(st).unwrap_or_else(|| "no".into()),
                wal_bytes: st.wal_bytes.map(|b| b as f64),
                retries: st.attempts.len().saturating_sub(1),
                waited_s: st
                    .lock_summary
                    .as_ref()
                    .map(|l| l.migration_wait_s)
                    .filter(|w| *w > 0.0),
                error: st.error.as_ref().map(ToString::to_string),
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
            let connections_line = connections_line(s);
            if with_charts
                && connections_line.is_some()
                && let Some(svg) = charts::connections(s)
            {
                charts.push(Value::from_safe_string(svg));
            }
            StrategyView {
                data: s,
                steps: step_views(s),
                charts,
                connections_line,
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
        overlay => overlay,
        outcome => report.outcome.shout(),
    }
}

/// Renders one format.
pub fn render(report: &Report, format: Format) -> String {
    render_with(&environment(), report, format)
}

fn render_with(env: &Environment<'_>, report: &Report, format: Format) -> String {
    if format == Format::Text {
        let mut out = Vec::new();
        write_summary(report, &mut out).expect("writing to memory");
        return String::from_utf8(out).expect("the summary is UTF-8");
    }
    let template = env
        .get_template(format.file_name())
        .expect("templates are added above");
    template
        .render(view(report, format == Format::Html))
        .unwrap_or_else(|e| panic!("the {} template failed: {e:#}", format.file_name()))
}

/// Writes every file format next to `report.json`; returns the files written. A file that
/// cannot be written completely is removed rather than left half-written.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let env = environment();
    let mut written = Vec::new();
    for format in Format::FILES {
        let path = dir.join(format.file_name());
        if let Err(e) = std::fs::write(&path, render_with(&env, report, format)) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        written.push(path);
    }
    Ok(written)
}
