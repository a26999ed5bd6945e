//! `rehearse estimate`: step durations at production scale from rehearsals at smaller ones.
//!
//! Each scale is rehearsed `--repeat` times, in rounds of every scale (full rehearsals, the
//! seeding cached), under memory settings scaled with the data ([`memory`]), and again, up to
//! `--max-repeat`, while the noise leaves a prediction uncertain ([`Estimate::imprecise`]).
//! For every step
//! (matched by strategy and name across the runs), its duration is fitted against the rows it
//! involves — the seeded rows of the tables it locked, rewrote or backfilled, else all seeded
//! rows; across scales of one scenario, rows, heap and index bytes and WAL grow together — by
//! [`fit::choose`]: linear
//! unless a superlinear term beats the measured noise. The prediction at the target comes with
//! a 95 % prediction interval (the noise of one run — the repeats', at least
//! [`fit::TARGET_RUN_NOISE`] — the fit's uncertainty there, the `a + b·n·ln n` reading of the
//! same points as the model's own uncertainty, and the smaller scales' miss of the largest
//! beyond the noise), widened when the target crosses a memory threshold the rehearsed scales
//! did not, and with how good the fit is: R², and how well the smaller scales alone predict
//! the largest one.

pub(crate) mod fit;
pub(crate) mod memory;

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use crate::pg::RelKind;
use crate::report::render::{bytes, seconds};
use crate::report::{Report, StepReport, StepStatus};
use crate::scenario::StepKind;
use fit::{Fit, Model};

/// Durations below this at the largest scale are noise, not a trend.
const TOO_FAST_S: f64 = 0.02;

/// One rehearsed point of a step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Point {
    /// The scale.
    pub scale: f64,
    /// Rows involved.
    pub rows: u64,
    /// Seconds the step took.
    pub seconds: f64,
    /// Heap and index bytes of the tables it involves (all seeded bytes when none).
    pub bytes: u64,
    /// The server's shared_buffers in that run, bytes, when known.
    pub shared_buffers: Option<u64>,
    /// Rows of each table involved (empty: all seeded rows).
    #[serde(skip)]
    pub table_rows: Vec<(String, u64)>,
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
    /// How far the prediction itself may be off by the rehearsals' noise (the fitted curve's
    /// relative standard deviation at the target): what more repeats shrink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_sd: Option<f64>,
    /// `good`, `fair`, `poor`, or why there is no fit.
    pub quality: String,
    /// Why the range was widened (the target crosses a memory threshold the rehearsals did
    /// not).
    pub warnings: Vec<String>,
    /// Seconds the step took in each rehearsal of the target itself (`--measure-target`), not
    /// fitted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measured_s: Vec<f64>,
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
    /// Rehearsals per scale: `--repeat`, or the most any scale had after extra rounds.
    pub repeat: usize,
    /// The memory settings of each scale, scaled with the data (empty when they were not).
    pub memory: Vec<ScaleMemory>,
    /// Small tables seeded at the target's size at every scale.
    pub kept_tables: Vec<KeptTable>,
    /// Per step.
    pub steps: Vec<StepEstimate>,
    /// What could not be estimated.
    pub notes: Vec<String>,
}

/// A small table seeded at the target's size at every scale.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeptTable {
    /// As the scenario names it.
    pub table: String,
    /// Its rows, at every scale.
    pub rows: u64,
}

/// The memory settings one scale ran with.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScaleMemory {
    /// The scale.
    pub scale: f64,
    /// Its settings.
    pub settings: Vec<memory::Scaled>,
}

/// What the estimate knows beyond the reports: memory, and the tables kept at the target's size.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryContext {
    /// Each scale's scaled settings (empty: not scaled).
    pub scaled: Vec<ScaleMemory>,
    /// shared_buffers at the target scale, bytes.
    pub target_shared_buffers: Option<u64>,
    /// The memory the data can be cached in at the target (this machine's, or the target
    /// server's), bytes.
    pub target_memory: Option<u64>,
    /// Small tables seeded at the target's size at every scale.
    pub kept: Vec<KeptTable>,
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

/// The seeded rows and bytes a step involves, with each table's rows.
fn rows_involved(report: &Report, step: &StepReport) -> (u64, u64, Vec<(String, u64)>) {
    let Some(seed) = &report.seed else {
        return (0, 0, Vec::new());
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
        return (seed.rows, seed.bytes, Vec::new());
    }
    (
        tables.iter().map(|t| t.rows).sum(),
        tables.iter().map(|t| t.bytes).sum(),
        tables.iter().map(|t| (t.table.clone(), t.rows)).collect(),
    )
}

/// The rows a step involves at the target: each table's rows at the largest scale, scaled to the
/// target, but those of a table whose rows did not change between scales (a small table kept at
/// the target's size) as they are.
fn target_rows(points: &[Point], target: f64) -> u64 {
    let Some(last) = points.last() else {
        return 0;
    };
    let scaled = |rows: u64| (rows as f64 * target / last.scale).round() as u64;
    if last.table_rows.is_empty() {
        return scaled(last.rows);
    }
    let several_scales = points.iter().any(|p| p.scale != last.scale);
    last.table_rows
        .iter()
        .map(|(table, rows)| {
            let kept = several_scales
                && points
                    .iter()
                    .all(|p| p.table_rows.iter().any(|(t, r)| t == table && r == rows));
            if kept { *rows } else { scaled(*rows) }
        })
        .sum()
}

/// Fits every step of the reports (one or more per scale, in scale order) and predicts the
/// target.
pub(crate) fn estimate(reports: &[(f64, Report)], target: f64, memory: &MemoryContext) -> Estimate {
    let (_, first) = &reports[0];
    let mut scales: Vec<f64> = reports.iter().map(|(s, _)| *s).collect();
    scales.dedup();
    let repeat = scales
        .iter()
        .map(|s| reports.iter().filter(|(r, _)| r == s).count())
        .max()
        .unwrap_or(0);
    let mut out = Estimate {
        scenario: first.scenario.name.clone(),
        repeat,
        scales,
        target,
        memory: memory.scaled.clone(),
        kept_tables: memory.kept.clone(),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    for strategy in &first.strategies {
        for step in &strategy.steps {
            let mut points = Vec::new();
            let mut tables = Vec::new();
            for (scale, report) in reports {
                let Some(rehearsed) = report.strategies.iter().find(|s| s.name == strategy.name)
                else {
                    let ran = |r: &Report| r.strategies.iter().any(|s| s.name == strategy.name);
                    // A round of extra repeats rehearses only the strategies it needs: a
                    // strategy missing from one report of a scale is not missing there.
                    let note = format!(
                        "{} did not run at scale {scale}; left out there",
                        strategy.name
                    );
                    if !reports.iter().any(|(s, r)| s == scale && ran(r))
                        && !out.notes.contains(&note)
                    {
                        out.notes.push(note);
                    }
                    continue;
                };
                let found = rehearsed.steps.iter().find(|st| st.name == step.name);
                match found {
                    Some(st) if st.status == StepStatus::Succeeded => {
                        let (rows, bytes, table_rows) = rows_involved(report, st);
                        tables = table_rows.iter().map(|(t, _)| t.clone()).collect();
                        points.push(Point {
                            table_rows,
                            scale: *scale,
                            rows,
                            seconds: st.duration_s.unwrap_or(0.0),
                            bytes,
                            shared_buffers: report
                                .environment
                                .settings
                                .get("shared_buffers")
                                .and_then(|v| memory::parse_bytes(v, 8192)),
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
                memory,
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
    memory: &MemoryContext,
) -> StepEstimate {
    let target_rows = target_rows(&points, target);
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
        prediction_sd: None,
        quality: String::new(),
        warnings: Vec::new(),
        measured_s: Vec::new(),
    };
    let xy: Vec<(f64, f64)> = e
        .points
        .iter()
        .map(|p| (p.rows as f64, p.seconds))
        .collect();
    let distinct = fit::distinct_rows(&xy);
    if distinct < 2 && xy.len() >= 2 && xy.iter().all(|(rows, _)| *rows as u64 == target_rows) {
        // Its tables are small and were kept at the target's size: measured, not extrapolated.
        let mean = xy.iter().map(|(_, y)| y).sum::<f64>() / xy.len() as f64;
        let h = 1.96 * fit::TARGET_RUN_NOISE;
        let (low, high) = xy
            .iter()
            .fold((mean / (1.0 + h), mean * (1.0 + h)), |(l, hi), (_, y)| {
                (l.min(*y), hi.max(*y))
            });
        e.predicted_s = Some(mean);
        e.low_s = Some(low);
        e.high_s = Some(high);
        e.quality = "rehearsed at the target's size (its tables are small and kept so)".into();
        return e;
    }
    if distinct < 2 {
        e.quality = if xy.len() < 2 {
            "too few successful runs to fit".into()
        } else {
            "the rows involved did not change between scales".into()
        };
        return e;
    }
    let held = fit::HeldOut::of(&xy);
    let (largest, last) = (held.largest, held.median);
    if last < TOO_FAST_S {
        e.quality = format!(
            "too fast to extrapolate ({} at the largest scale: does not grow with rows)",
            seconds(last)
        );
        e.predicted_s = Some(last);
        return e;
    }
    let Some((fit, pure)) = fit::choose(&xy) else {
        e.quality = "the rows involved did not change between scales".into();
        return e;
    };
    let n = target_rows as f64;
    let predicted = fit.predict(n);
    let (mut low, mut high) = fit.interval(n, pure);
    // The model's own uncertainty: the same points read as n·ln n.
    if let Some(other) = Fit::new(Model::NLogN, &fit::central(&xy)) {
        let p = other.predict(n);
        low = low.min(p);
        high = high.max(p);
    }
    // What the repeats cannot show: how far the smaller scales miss the largest one beyond
    // what the noise explains (a bias between scales), compounded over the doublings from the
    // largest scale to the target, on the side it missed: if the small scales fell short of the
    // largest, the cost grows faster than the fit, and the range opens upward.
    if distinct >= 3
        && let Some((f, _)) = fit::choose(&held.smaller)
    {
        let guess = f.predict(largest);
        let miss = (guess - last).abs() / last.max(1e-9);
        e.holdout_error = Some(miss);
        let bias = (miss - noise_explains(&held, pure)).max(0.0);
        let factor = (1.0 + bias).powf((n / largest).log2().max(1.0));
        if guess < last {
            high = high.max(predicted * factor);
        } else {
            low = low.min(predicted / factor);
        }
    }
    for warning in memory_warnings(&e, memory) {
        // Beyond a threshold the rehearsals did not cross, the cost may grow faster than they
        // show: the range opens upward by half the prediction.
        high = high.max(predicted * 1.5);
        e.warnings.push(warning);
    }
    e.quality = match (distinct, e.holdout_error) {
        (2, _) => "2 scales: the fit cannot be judged".into(),
        (_, Some(h)) if fit.r2 >= 0.98 && h <= 0.15 => "good".into(),
        (_, Some(h)) if fit.r2 >= 0.9 && h <= 0.35 => "fair".into(),
        _ => "poor".into(),
    };
    e.prediction_sd = fit.curve_sd(n, pure);
    e.fit = Some(fit);
    e.predicted_s = Some(predicted);
    e.low_s = Some(low);
    e.high_s = Some(high);
    e
}

/// How far (relative, about 95 % of the time) the smaller scales' fit may miss the largest
/// scale's median by noise alone: the difference of two estimates, each about as noisy as the
/// mean of the largest scale's repeats (a median of three or more is a little noisier). 0
/// without repeats (every miss is then carried).
fn noise_explains(held: &fit::HeldOut, pure: Option<(f64, usize)>) -> f64 {
    let Some((var, _)) = pure else {
        return 0.0;
    };
    2.0 * (2.0 * var / held.repeats.max(1) as f64).sqrt()
}

impl StepEstimate {
    /// How far (relative, 95 %) the rehearsals' noise leaves the prediction uncertain.
    fn uncertainty(&self) -> Option<f64> {
        self.prediction_sd.map(|sd| 1.96 * sd)
    }

    /// The target's measured durations against the prediction: `5.04 s · 6.75 s at scale 1:
    /// the prediction is 12 % above their median; the range holds 2 of 2`.
    fn measured_line(&self, target: f64) -> Option<String> {
        if self.measured_s.is_empty() {
            return None;
        }
        let values: Vec<String> = self.measured_s.iter().map(|s| seconds(*s)).collect();
        let mut line = format!("{} at scale {target}", values.join(" · "));
        if let Some(p) = self.predicted_s {
            let median = fit::median(&self.measured_s);
            if median > 0.0 {
                let error = (p - median) / median * 100.0;
                let side = if error >= 0.0 { "above" } else { "below" };
                let what = if self.measured_s.len() == 1 {
                    "it"
                } else {
                    "their median"
                };
                let _ = write!(
                    line,
                    ": the prediction is {:.0} % {side} {what}",
                    error.abs()
                );
            }
        }
        if let (Some(low), Some(high)) = (self.low_s, self.high_s) {
            let held = self
                .measured_s
                .iter()
                .filter(|s| (low..=high).contains(*s))
                .count();
            let _ = write!(
                line,
                "; the range holds {held} of {}",
                self.measured_s.len()
            );
        }
        Some(line)
    }
}

/// The memory thresholds the target crosses and the largest rehearsal did not.
fn memory_warnings(e: &StepEstimate, memory: &MemoryContext) -> Vec<String> {
    let Some(last) = e.points.last() else {
        return Vec::new();
    };
    let target_bytes = (last.bytes as f64 * e.target_rows as f64 / last.rows.max(1) as f64) as u64;
    let mut out = Vec::new();
    if let (Some(rehearsed), Some(target)) = (last.shared_buffers, memory.target_shared_buffers)
        && last.bytes <= rehearsed
        && target_bytes > target
    {
        out.push(format!(
            "the largest rehearsed scale fits in shared_buffers ({} of data, {} of buffers); \
             the target does not ({} of data, {})",
            bytes(last.bytes as f64),
            bytes(rehearsed as f64),
            bytes(target_bytes as f64),
            bytes(target as f64)
        ));
    }
    if let Some(limit) = memory.target_memory
        && last.bytes <= limit
        && target_bytes > limit
    {
        out.push(format!(
            "the largest rehearsed scale fits in memory; the target does not ({} of data, {} \
             of memory): reads from disk are not rehearsed",
            bytes(target_bytes as f64),
            bytes(limit as f64)
        ));
    }
    out
}

/// A prediction uncertain by less than this many seconds (at 95 %) is not worth rehearsing
/// again, however large that is relative to it: a step that hardly grows, extrapolated far.
const NEGLIGIBLE_S: f64 = 0.1;

impl Estimate {
    /// The steps whose prediction the rehearsals' noise leaves uncertain (at 95 %) by more
    /// than `limit` (relative) and by more than [`NEGLIGIBLE_S`]: (strategy, step, that
    /// uncertainty, relative).
    pub(crate) fn imprecise(&self, limit: f64) -> Vec<(&str, &str, f64)> {
        self.steps
            .iter()
            .filter_map(|e| {
                let within = e.uncertainty()?;
                let seconds = within * e.predicted_s?;
                (within > limit && seconds > NEGLIGIBLE_S).then_some((
                    e.strategy.as_str(),
                    e.step.as_str(),
                    within,
                ))
            })
            .collect()
    }

    /// Adds each step's durations in the rehearsals of the target itself.
    pub(crate) fn compare_with(&mut self, measured: &[Report]) {
        for e in &mut self.steps {
            e.measured_s = measured
                .iter()
                .filter_map(|r| r.strategies.iter().find(|s| s.name == e.strategy))
                .filter_map(|s| s.steps.iter().find(|st| st.name == e.step))
                .filter(|st| st.status == StepStatus::Succeeded)
                .filter_map(|st| st.duration_s)
                .collect();
        }
    }

    /// The text in a Markdown code block (`estimate.md`).
    pub(crate) fn markdown(&self) -> String {
        format!("```text\n{}```\n", self.text())
    }

    /// The estimate as a table for the terminal (and, indented, Markdown).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "estimate for {} at scale {} from scales {}{}:",
            self.scenario,
            self.target,
            self.scales
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if self.repeat > 1 {
                // Extra rounds rehearse only the strategies that needed them.
                let fewer = self
                    .steps
                    .iter()
                    .any(|e| e.points.len() < self.repeat * self.scales.len());
                let up_to = if fewer { "up to " } else { "" };
                format!(", {up_to}{} rehearsals each", self.repeat)
            } else {
                String::new()
            }
        );
        for m in &self.memory {
            let settings: Vec<String> = m
                .settings
                .iter()
                .map(|s| {
                    let why = match (&s.kept_for, s.clamped) {
                        (Some(why), _) => format!(" (kept for {why})"),
                        (None, true) => " (its minimum)".to_owned(),
                        (None, false) => String::new(),
                    };
                    format!("{} {}{why}", s.name, bytes(s.bytes as f64))
                })
                .collect();
            let _ = writeln!(
                out,
                "  settings at scale {}: {}",
                m.scale,
                settings.join(", ")
            );
        }
        if !self.kept_tables.is_empty() {
            let kept: Vec<String> = self
                .kept_tables
                .iter()
                .map(|k| format!("{} ({} rows)", k.table, k.rows))
                .collect();
            let _ = writeln!(
                out,
                "  at the target's size at every scale (small tables, looked up rather than \
                 scanned): {}",
                kept.join(", ")
            );
        }
        for e in &self.steps {
            let rehearsed: Vec<String> = e
                .points
                .iter()
                .map(|p| format!("{} rows {}", p.rows, seconds(p.seconds)))
                .collect();
            let _ = writeln!(out, "\n  {} / {}", e.strategy, e.step);
            let _ = writeln!(out, "    rehearsed   {}", rehearsed.join(" · "));
            match (&e.fit, e.predicted_s) {
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
                        "    fit         {} · R² {:.4}{}{} · {}",
                        fit.model.formula(),
                        fit.r2,
                        e.uncertainty()
                            .map(|u| format!(" · the noise leaves ±{:.0} %", u * 100.0))
                            .unwrap_or_default(),
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
            if let Some(line) = e.measured_line(self.target) {
                let _ = writeln!(out, "    measured    {line}");
            }
            for w in &e.warnings {
                let _ = writeln!(out, "    warning     {w}");
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

    fn point(scale: f64, tables: &[(&str, u64)]) -> Point {
        Point {
            scale,
            rows: tables.iter().map(|(_, r)| r).sum(),
            seconds: 1.0,
            bytes: 0,
            shared_buffers: None,
            table_rows: tables.iter().map(|(t, r)| ((*t).to_owned(), *r)).collect(),
        }
    }

    #[test]
    fn a_table_kept_at_the_targets_size_is_not_scaled_to_it() {
        let points = [
            point(0.05, &[("teams", 40_000), ("users", 200_000)]),
            point(0.1, &[("teams", 40_000), ("users", 400_000)]),
        ];
        assert_eq!(target_rows(&points, 1.0), 4_040_000);
        // Every table scaled: all rows grow to the target.
        let points = [
            point(0.05, &[("teams", 2_000), ("users", 200_000)]),
            point(0.1, &[("teams", 4_000), ("users", 400_000)]),
        ];
        assert_eq!(target_rows(&points, 1.0), 4_040_000);
        assert_eq!(target_rows(&points[1..], 1.0), 4_040_000);
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
