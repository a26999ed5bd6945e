//! One scenario on several Postgres majors, side by side (`--postgres 13,15,17,18`): per
//! strategy and step, the figures that change between versions — duration, rewrite, locks held,
//! application waits, p99 — one column per major, rows where the majors disagree marked.
//! Each major's run keeps its own full report; this is the table above them.

use std::fmt::Write as _;

use serde::Serialize;

use super::units::{millis, seconds};
use crate::pg::{LockMode, RelKind};
use crate::report::{Report, StepReport, StepStatus, StrategyReport, StrategyStatus};
use crate::scenario::PhaseKind;

/// One figure of a step: its text and, for numbers, its value in seconds.
type Figure = dyn Fn(&StrategyReport, &StepReport, usize) -> Option<(String, f64)>;

/// One major's run: its report, or why there is none.
pub struct MatrixRun<'a> {
    /// The major asked for.
    pub major: u32,
    /// Its report, when the run got that far.
    pub report: Option<&'a Report>,
    /// Why the run failed to rehearse, when it did.
    pub error: Option<String>,
}

/// The side-by-side table.
#[derive(Debug, Serialize)]
pub struct Matrix {
    /// The scenario's name.
    pub scenario: String,
    /// Column headings: the server's version per major (or the major asked for).
    pub columns: Vec<String>,
    /// Per major: the run's outcome (`passed`, `failed`, `error: …`).
    pub outcomes: Vec<String>,
    /// Per major: the folder of its full report, relative to the matrix's (`pg17`).
    pub folders: Vec<String>,
    /// One row per strategy, step and figure.
    pub rows: Vec<MatrixRow>,
}

/// One figure of one step on every major.
#[derive(Debug, Serialize)]
pub struct MatrixRow {
    /// The strategy.
    pub strategy: String,
    /// The step (empty for a strategy-wide figure).
    pub step: String,
    /// What the row shows.
    pub figure: &'static str,
    /// The value per major, in column order (`–` where it was not measured).
    pub cells: Vec<String>,
    /// The majors disagree: different words, or numbers more than 2× apart.
    pub differs: bool,
}

/// Builds the table from each major's run.
pub fn matrix(runs: &[MatrixRun<'_>]) -> Matrix {
    let scenario = runs
        .iter()
        .find_map(|r| r.report.map(|r| r.scenario.name.clone()))
        .unwrap_or_default();
    let columns = runs
        .iter()
        .map(|r| {
            r.report
                .and_then(|rep| rep.environment.server_version.as_deref())
                .and_then(|v| v.split_whitespace().next())
                .map_or_else(|| format!("PG {}", r.major), |v| format!("PG {v}"))
        })
        .collect();
    let outcomes = runs
        .iter()
        .map(|r| match (&r.error, r.report) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(rep)) => rep.outcome.shout().to_lowercase(),
            (None, None) => "not run".into(),
        })
        .collect();
    let folders = runs.iter().map(|r| folder(r.major)).collect();
    // Strategies and steps in the order of the first report that has them.
    let first = runs
        .iter()
        .filter(|r| r.error.is_none())
        .find_map(|r| r.report)
        .or_else(|| runs.iter().find_map(|r| r.report));
    let Some(first) = first else {
        return Matrix {
            scenario,
            columns,
            outcomes,
            folders,
            rows: Vec::new(),
        };
    };
    let mut rows = Vec::new();
    for strategy in &first.strategies {
        let per_major: Vec<Option<&StrategyReport>> = runs
            .iter()
            .map(|r| {
                r.report
                    .and_then(|rep| rep.strategies.iter().find(|s| s.name == strategy.name))
            })
            .collect();
        let traffic = per_major.iter().flatten().any(|s| s.traffic.is_some());
        for (i, step) in strategy.steps.iter().enumerate() {
            let steps: Vec<Option<(&StrategyReport, &StepReport)>> = per_major
                .iter()
                .map(|s| s.and_then(|s| s.steps.get(i).map(|st| (s, st))))
                .collect();
            let mut row = |figure: &'static str, numeric: bool, f: &Figure| {
                let values: Vec<Option<(String, f64)>> = steps
                    .iter()
                    .map(|s| s.and_then(|(sr, st)| f(sr, st, i)))
                    .collect();
                rows.push(MatrixRow {
                    strategy: strategy.name.clone(),
                    step: step.name.clone(),
                    figure,
                    differs: differs(&values, numeric),
                    cells: values
                        .into_iter()
                        .map(|v| v.map_or_else(|| "–".into(), |(s, _)| s))
                        .collect(),
                });
            };
            row("duration", true, &|_, st, _| duration(st));
            row("rewrite", false, &|_, st, _| {
                (st.status != StepStatus::Skipped).then(|| (rewrite(st), 0.0))
            });
            row("locks held", false, &|_, st, _| {
                (st.status != StepStatus::Skipped).then(|| (locks(st), 0.0))
            });
            row("app waits behind it", true, &|_, st, _| {
                st.lock_summary.as_ref().map(|l| {
                    let n = l.app_waits_behind_migration;
                    let text = if n == 0 {
                        "0".to_owned()
                    } else {
                        format!("{n}, longest {}", seconds(l.longest_app_wait_s))
                    };
                    (text, l.longest_app_wait_s)
                })
            });
            if traffic {
                row("app p99 during it", true, &|sr, _, i| step_p99(sr, i));
            }
        }
        if traffic {
            let values: Vec<Option<(String, f64)>> = per_major
                .iter()
                .map(|s| {
                    s.filter(|s| s.status != StrategyStatus::NotRun).map(|s| {
                        let by_class = &s.figures.errors_by_class;
                        let total: u64 = by_class.values().sum();
                        let text = if by_class.is_empty() {
                            "0".to_owned()
                        } else {
                            by_class
                                .iter()
                                .map(|(c, n)| format!("{n} {}", c.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        (text, total as f64)
                    })
                })
                .collect();
            rows.push(MatrixRow {
                strategy: strategy.name.clone(),
                step: String::new(),
                figure: "app errors",
                differs: differs(&values, false),
                cells: values
                    .into_iter()
                    .map(|v| v.map_or_else(|| "–".into(), |(s, _)| s))
                    .collect(),
            });
        }
    }
    Matrix {
        scenario,
        columns,
        outcomes,
        folders,
        rows,
    }
}

/// The folder a major's run writes its report to, inside the matrix's.
pub fn folder(major: u32) -> String {
    format!("pg{major}")
}

/// Writes `matrix.md` and `matrix.html` into `dir`; returns the files written.
pub fn write_matrix(m: &Matrix, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let env = super::environment();
    let mut written = Vec::new();
    for name in ["matrix.md", "matrix.html"] {
        let text = env
            .get_template(name)
            .expect("added above")
            .render(minijinja::context! { m })
            .unwrap_or_else(|e| panic!("the {name} template failed: {e:#}"));
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

fn duration(step: &StepReport) -> Option<(String, f64)> {
    match step.status {
        StepStatus::Succeeded => step.duration_s.map(|d| (seconds(d), d)),
        StepStatus::Failed => {
            let state = step
                .error
                .as_ref()
                .and_then(|e| e.sqlstate.clone())
                .unwrap_or_default();
            Some((format!("failed {state}").trim_end().to_owned(), f64::NAN))
        }
        other => Some((other.name().to_owned(), f64::NAN)),
    }
}

fn rewrite(step: &StepReport) -> String {
    super::rewritten(step).unwrap_or_else(|| "none".into())
}

/// The strongest lock the step held on each table (indexes left out: they follow the table).
fn locks(step: &StepReport) -> String {
    let mut strongest: Vec<(&str, LockMode)> = Vec::new();
    for lock in step
        .locks
        .iter()
        .filter(|l| l.kind == RelKind::Table && l.mode != LockMode::SiReadLock)
    {
        match strongest.iter_mut().find(|(r, _)| *r == lock.relation) {
            Some((_, mode)) if lock.mode > *mode => *mode = lock.mode,
            Some(_) => {}
            None => strongest.push((&lock.relation, lock.mode)),
        }
    }
    if strongest.is_empty() {
        return "none".into();
    }
    strongest
        .iter()
        .map(|(r, m)| format!("{} on {r}", m.short()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The p99 of operations due while the `index`-th step ran.
fn step_p99(strategy: &StrategyReport, index: usize) -> Option<(String, f64)> {
    let phase = strategy
        .traffic
        .as_ref()?
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Step)
        .nth(index)?;
    if phase.all.count == 0 {
        return Some(("no ops".into(), f64::NAN));
    }
    let p99 = phase.all.latency.p99_ms;
    Some((millis(p99), p99 / 1000.0))
}

/// Whether the majors disagree: words that differ, or numbers (seconds) more than 2× apart
/// where the larger is above 10 ms.
fn differs(values: &[Option<(String, f64)>], numeric: bool) -> bool {
    let present: Vec<&(String, f64)> = values.iter().flatten().collect();
    if present.len() < 2 {
        return false;
    }
    let numbers: Vec<f64> = present.iter().map(|(_, n)| *n).collect();
    if numeric && numbers.iter().all(|n| n.is_finite()) {
        let max = numbers.iter().copied().fold(f64::MIN, f64::max);
        let min = numbers.iter().copied().fold(f64::MAX, f64::min);
        return max > 0.010 && max > 2.0 * min;
    }
    present.iter().any(|(s, _)| *s != present[0].0)
}

/// The table for the terminal: one line per row, `*` before rows where the majors disagree.
pub fn matrix_text(m: &Matrix) -> String {
    let label = |r: &MatrixRow| {
        if r.step.is_empty() {
            format!("{} · {}", r.strategy, r.figure)
        } else {
            format!("{} · {} · {}", r.strategy, r.step, r.figure)
        }
    };
    let first = m
        .rows
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let widths: Vec<usize> = (0..m.columns.len())
        .map(|i| {
            m.rows
                .iter()
                .map(|r| r.cells[i].chars().count())
                .chain([
                    m.columns[i].chars().count(),
                    m.outcomes[i].chars().count().min(40),
                ])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, mark: &str, head: &str, cells: &[String]| {
        let mut text = format!("  {mark} {head:<first$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(text, "  {c:<w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, " ", "", &m.columns);
    let outcomes: Vec<String> = m
        .outcomes
        .iter()
        .map(|o| o.chars().take(40).collect())
        .collect();
    line(&mut out, " ", "outcome", &outcomes);
    for r in &m.rows {
        line(
            &mut out,
            if r.differs { "*" } else { " " },
            &label(r),
            &r.cells,
        );
    }
    out
}
