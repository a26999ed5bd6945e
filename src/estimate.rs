//! `rehearse estimate`: step durations at production scale from rehearsals at smaller ones.
//!
//! Each scale is a full rehearsal. For every step (matched by strategy and name across the
//! runs), its duration is fitted against the rows it involves — the seeded rows of the tables
//! it locked, rewrote or backfilled, else all seeded rows — with two models, `a + b·n` and
//! `a + b·n·ln n`, by least squares; the one that better predicts each rehearsed scale from the
//! others is kept. The prediction
//! at the target scale comes with a range (the predictions of the fits that leave one scale
//! out, and at least ±10 %) and with how good the fit is: R², and how well the smaller scales
//! alone predict the largest one.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use crate::pg::RelKind;
use crate::report::render::seconds;
use crate::report::{Report, StepReport, StepStatus};
use crate::scenario::StepKind;

/// Durations below this at the largest scale are noise, not a trend.
const TOO_FAST_S: f64 = 0.02;

/// The growth models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Model {
    /// `a + b·n`
    Linear,
    /// `a + b·n·ln n`
    NLogN,
}

impl Model {
    fn x(self, n: f64) -> f64 {
        match self {
            Model::Linear => n,
            Model::NLogN => n * n.max(2.0).ln(),
        }
    }
}

/// A least-squares fit.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Fit {
    /// Which model.
    pub model: Model,
    /// Intercept, seconds.
    pub a: f64,
    /// Slope, seconds per unit of the model's x.
    pub b: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Sum of squared residuals.
    pub sse: f64,
}

impl Fit {
    /// Fits `model` to (rows, seconds) points (at least two distinct row counts).
    pub(crate) fn new(model: Model, points: &[(f64, f64)]) -> Option<Fit> {
        let n = points.len() as f64;
        let xs: Vec<f64> = points.iter().map(|(r, _)| model.x(*r)).collect();
        let mx = xs.iter().sum::<f64>() / n;
        let my = points.iter().map(|(_, d)| d).sum::<f64>() / n;
        let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let sxy: f64 = xs
            .iter()
            .zip(points)
            .map(|(x, (_, d))| (x - mx) * (d - my))
            .sum();
        let b = sxy / sxx;
        let a = my - b * mx;
        let sse: f64 = xs
            .iter()
            .zip(points)
            .map(|(x, (_, d))| (d - (a + b * x)).powi(2))
            .sum();
        let sst: f64 = points.iter().map(|(_, d)| (d - my).powi(2)).sum();
        let r2 = if sst > 0.0 { 1.0 - sse / sst } else { 1.0 };
        Some(Fit {
            model,
            a,
            b,
            r2,
            sse,
        })
    }

    /// The fitted duration at `rows`.
    pub(crate) fn predict(&self, rows: f64) -> f64 {
        (self.a + self.b * self.model.x(rows)).max(0.0)
    }
}

/// The model that predicts best for these points: with three or more, by leave-one-out
/// prediction error (each point predicted from the others); with two, both fit exactly and the
/// simpler (linear) one is kept.
pub(crate) fn best_fit(points: &[(f64, f64)]) -> Option<Fit> {
    let linear = Fit::new(Model::Linear, points)?;
    if points.len() < 3 {
        return Some(linear);
    }
    let loo = |model: Model| -> f64 {
        (0..points.len())
            .map(|skip| {
                let rest: Vec<(f64, f64)> = points
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, p)| *p)
                    .collect();
                let (rows, actual) = points[skip];
                Fit::new(model, &rest).map_or(f64::MAX, |f| {
                    // Relative errors: every scale counts, not only the largest.
                    ((f.predict(rows) - actual) / actual.max(1e-9)).powi(2)
                })
            })
            .sum()
    };
    match Fit::new(Model::NLogN, points) {
        Some(nlogn) if loo(Model::NLogN) < loo(Model::Linear) => Some(nlogn),
        _ => Some(linear),
    }
}

/// One rehearsed point of a step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Point {
    /// The scale.
    pub scale: f64,
    /// Rows involved.
    pub rows: u64,
    /// Seconds the step took.
    pub seconds: f64,
}

/// A step's estimate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepEstimate {
    /// Strategy.
    pub strategy: String,
    /// Step.
    pub step: String,
    /// The tables whose rows it involves (empty: all seeded rows).
    pub tables: Vec<String>,
    /// The rehearsed points.
    pub points: Vec<Point>,
    /// Rows involved at the target scale.
    pub target_rows: u64,
    /// The fit kept, when one could be made.
    pub fit: Option<Fit>,
    /// Predicted seconds at the target.
    pub predicted_s: Option<f64>,
    /// Low end of the range.
    pub low_s: Option<f64>,
    /// High end of the range.
    pub high_s: Option<f64>,
    /// Relative error predicting the largest scale from the smaller ones (needs 3 scales).
    pub holdout_error: Option<f64>,
    /// `good`, `fair`, `poor`, or why there is no fit.
    pub quality: String,
}

/// The whole estimate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Estimate {
    /// The scenario.
    pub scenario: String,
    /// Scales rehearsed.
    pub scales: Vec<f64>,
    /// The scale predicted.
    pub target: f64,
    /// Per step.
    pub steps: Vec<StepEstimate>,
    /// What could not be estimated.
    pub notes: Vec<String>,
}

/// Checks `--scales` and `--target` before any run.
pub(crate) fn check_scales(scales: &[f64], target: f64) -> Result<(), String> {
    if scales.len() < 2 {
        return Err(format!(
            "estimate needs at least two scales to fit a trend, got {}",
            scales.len()
        ));
    }
    if let Some(bad) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(format!("scales must be above 0, found {bad}"));
    }
    if let Some([a, b]) = scales.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!(
            "scales must grow from one to the next, but {a} is followed by {b}"
        ));
    }
    if !(target.is_finite() && target > 0.0) {
        return Err(format!("the target scale must be above 0, found {target}"));
    }
    Ok(())
}

/// The seeded rows a step involves, with the tables they come from.
fn rows_involved(report: &Report, step: &StepReport) -> (u64, Vec<String>) {
    let Some(seed) = &report.seed else {
        return (0, Vec::new());
    };
    let mut touched: BTreeSet<&str> = step
        .locks
        .iter()
        .filter(|l| l.kind == RelKind::Table)
        .map(|l| l.relation.as_str())
        .collect();
    touched.extend(
        step.rewrites
            .iter()
            .filter(|r| r.kind == RelKind::Table)
            .map(|r| r.relation.as_str()),
    );
    if step.kind == StepKind::Backfill {
        // "UPDATE <table> SET …"
        touched.extend(step.source.split_whitespace().nth(1));
    }
    let tables: Vec<_> = seed
        .tables
        .iter()
        .filter(|t| touched.contains(t.table.as_str()))
        .collect();
    if tables.is_empty() {
        return (seed.rows, Vec::new());
    }
    (
        tables.iter().map(|t| t.rows).sum(),
        tables.iter().map(|t| t.table.clone()).collect(),
    )
}

/// Fits every step of the reports (one per scale, in scale order) and predicts the target.
pub(crate) fn estimate(reports: &[(f64, Report)], target: f64) -> Estimate {
    let (_, first) = &reports[0];
    let mut out = Estimate {
        scenario: first.scenario.name.clone(),
        scales: reports.iter().map(|(s, _)| *s).collect(),
        target,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    for strategy in &first.strategies {
        for step in &strategy.steps {
            let mut points = Vec::new();
            let mut tables = Vec::new();
            for (scale, report) in reports {
                let found = report
                    .strategies
                    .iter()
                    .find(|s| s.name == strategy.name)
                    .and_then(|s| s.steps.iter().find(|st| st.name == step.name));
                match found {
                    Some(st) if st.status == StepStatus::Succeeded => {
                        let (rows, t) = rows_involved(report, st);
                        tables = t;
                        points.push(Point {
                            scale: *scale,
                            rows,
                            seconds: st.duration_s.unwrap_or(0.0),
                        });
                    }
                    _ => out.notes.push(format!(
                        "{} / {} did not succeed at scale {scale}; left out there",
                        strategy.name, step.name
                    )),
                }
            }
            if matches!(step.kind, StepKind::Pause | StepKind::Deploy) {
                continue;
            }
            out.steps.push(step_estimate(
                &strategy.name,
                &step.name,
                tables,
                points,
                target,
            ));
        }
    }
    out
}

fn step_estimate(
    strategy: &str,
    step: &str,
    tables: Vec<String>,
    points: Vec<Point>,
    target: f64,
) -> StepEstimate {
    // Rows scale with the scale: the target's rows from the largest rehearsed point.
    let target_rows = points
        .last()
        .map_or(0, |p| (p.rows as f64 * target / p.scale).round() as u64);
    let mut e = StepEstimate {
        strategy: strategy.into(),
        step: step.into(),
        tables,
        points,
        target_rows,
        fit: None,
        predicted_s: None,
        low_s: None,
        high_s: None,
        holdout_error: None,
        quality: String::new(),
    };
    let xy: Vec<(f64, f64)> = e
        .points
        .iter()
        .map(|p| (p.rows as f64, p.seconds))
        .collect();
    if xy.len() < 2 {
        e.quality = "too few successful runs to fit".into();
        return e;
    }
    let last = xy[xy.len() - 1].1;
    if last < TOO_FAST_S {
        e.quality = format!(
            "too fast to extrapolate ({} at the largest scale: does not grow with rows)",
            seconds(last)
        );
        e.predicted_s = Some(last);
        return e;
    }
    let Some(fit) = best_fit(&xy) else {
        e.quality = "the rows involved did not change between scales".into();
        return e;
    };
    let n = target_rows as f64;
    let predicted = fit.predict(n);
    let mut low = predicted * 0.9;
    let mut high = predicted * 1.1;
    if xy.len() >= 3 {
        for skip in 0..xy.len() {
            let rest: Vec<(f64, f64)> = xy
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            if let Some(f) = Fit::new(fit.model, &rest) {
                let p = f.predict(n);
                low = low.min(p);
                high = high.max(p);
            }
        }
        if let Some(f) = Fit::new(fit.model, &xy[..xy.len() - 1]) {
            let (rows, actual) = xy[xy.len() - 1];
            e.holdout_error = Some((f.predict(rows) - actual).abs() / actual.max(1e-9));
        }
    }
    e.quality = match (xy.len(), e.holdout_error) {
        (2, _) => "2 scales: the fit cannot be judged".into(),
        (_, Some(h)) if fit.r2 >= 0.98 && h <= 0.15 => "good".into(),
        (_, Some(h)) if fit.r2 >= 0.9 && h <= 0.35 => "fair".into(),
        _ => "poor".into(),
    };
    e.fit = Some(fit);
    e.predicted_s = Some(predicted);
    e.low_s = Some(low);
    e.high_s = Some(high);
    e
}

impl Estimate {
    /// The text in a Markdown code block (`estimate.md`).
    pub(crate) fn markdown(&self) -> String {
        format!("```text\n{}```\n", self.text())
    }

    /// The estimate as a table for the terminal (and, indented, Markdown).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "estimate for {} at scale {} from scales {}:",
            self.scenario,
            self.target,
            self.scales
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        for e in &self.steps {
            let rehearsed: Vec<String> = e
                .points
                .iter()
                .map(|p| format!("{} rows {}", p.rows, seconds(p.seconds)))
                .collect();
            let _ = writeln!(out, "\n  {} / {}", e.strategy, e.step);
            let _ = writeln!(out, "    rehearsed   {}", rehearsed.join(" · "));
            match (e.fit, e.predicted_s) {
                (Some(fit), Some(p)) => {
                    let _ = writeln!(
                        out,
                        "    predicted   {} at {} rows (range {} – {})",
                        seconds(p),
                        e.target_rows,
                        seconds(e.low_s.unwrap_or(p)),
                        seconds(e.high_s.unwrap_or(p))
                    );
                    let _ = writeln!(
                        out,
                        "    fit         {} · R² {:.4}{} · {}",
                        match fit.model {
                            Model::Linear => "a + b·n",
                            Model::NLogN => "a + b·n·ln n",
                        },
                        fit.r2,
                        e.holdout_error
                            .map(|h| format!(
                                " · the smaller scales predict the largest within {:.0} %",
                                h * 100.0
                            ))
                            .unwrap_or_default(),
                        e.quality
                    );
                }
                (None, Some(p)) => {
                    let _ = writeln!(out, "    predicted   about {} ({})", seconds(p), e.quality);
                }
                _ => {
                    let _ = writeln!(out, "    no estimate: {}", e.quality);
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "\n  note: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_data_fits_linear_and_nlogn_data_fits_nlogn() {
        let linear: Vec<(f64, f64)> = [1e4f64, 3e4, 1e5]
            .iter()
            .map(|n| (*n, 0.01 + n * 2e-6))
            .collect();
        let fit = best_fit(&linear).unwrap();
        assert_eq!(fit.model, Model::Linear);
        assert!((fit.predict(1e6) - 2.01).abs() < 1e-6);
        let sorted: Vec<(f64, f64)> = [1e4f64, 3e4, 1e5, 3e5]
            .iter()
            .map(|n| (*n, n * n.ln() * 1e-7))
            .collect();
        assert_eq!(best_fit(&sorted).unwrap().model, Model::NLogN);
    }

    #[test]
    fn scales_must_be_two_or_more_and_grow() {
        assert!(
            check_scales(&[0.1], 1.0)
                .unwrap_err()
                .contains("at least two")
        );
        assert!(
            check_scales(&[0.1, 0.05], 1.0)
                .unwrap_err()
                .contains("grow")
        );
        assert!(check_scales(&[0.1, 0.1], 1.0).unwrap_err().contains("grow"));
        assert!(
            check_scales(&[0.0, 0.1], 1.0)
                .unwrap_err()
                .contains("above 0")
        );
        assert!(
            check_scales(&[0.01, 0.1], 0.0)
                .unwrap_err()
                .contains("target")
        );
        assert!(check_scales(&[0.01, 0.03, 0.1], 1.0).is_ok());
    }
}
