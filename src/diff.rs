//! `rehearse diff BASE.json NEW.json`: what got worse between two runs of a scenario (last
//! night vs tonight). Strategies and steps are matched by name; a figure regresses when it grows
//! by more than the ratio *and* by more than the absolute floor (so a 2 ms step that takes 3 ms
//! is not a regression), or when something appears that was not there: a failure, a rewrite,
//! errors of a class.

use std::fmt::Write;
use std::time::Duration;

use crate::report::render::{bytes, errors_text, millis, seconds};
use crate::report::{Report, StepStatus, StrategyStatus};

/// How much worse counts as a regression.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// Ratio new / base above which a duration or latency regressed (e.g. 1.5).
    pub ratio: f64,
    /// Smallest increase of a duration or latency that counts.
    pub floor: Duration,
}

/// One figure compared.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// `strategy`, `strategy / step`.
    pub subject: String,
    /// What was compared.
    pub figure: String,
    /// Base value, as text.
    pub base: String,
    /// New value, as text.
    pub new: String,
    /// Whether it is a regression.
    pub regression: bool,
}

/// The comparison of two reports.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Every figure compared.
    pub changes: Vec<Change>,
    /// What could not be compared, said plainly.
    pub notes: Vec<String>,
}

impl Diff {
    /// Whether anything regressed.
    pub(crate) fn regressed(&self) -> bool {
        self.changes.iter().any(|c| c.regression)
    }

    /// The comparison as text: notes, then regressions, then other changes.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let width = self
            .changes
            .iter()
            .map(|c| c.subject.len() + c.figure.len() + 3)
            .max()
            .unwrap_or(0);
        for regression in [true, false] {
            for c in self.changes.iter().filter(|c| c.regression == regression) {
                let _ = writeln!(
                    out,
                    "{} {:width$}  {} → {}",
                    if c.regression {
                        "REGRESSION"
                    } else {
                        "          "
                    },
                    format!("{} · {}", c.subject, c.figure),
                    c.base,
                    c.new
                );
            }
        }
        let regressions = self.changes.iter().filter(|c| c.regression).count();
        let _ = writeln!(
            out,
            "{}",
            if regressions == 0 {
                format!("no regression ({} figures compared)", self.changes.len())
            } else {
                format!(
                    "{regressions} regression(s) in {} figures compared",
                    self.changes.len()
                )
            }
        );
        out
    }
}

impl Diff {
    /// The comparison as Markdown, for a pull-request or CI comment.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let regressions = self.changes.iter().filter(|c| c.regression).count();
        let _ = writeln!(
            out,
            "## rehearse diff: {}\n",
            if regressions == 0 {
                "no regression".to_owned()
            } else {
                format!("**{regressions} regression(s)**")
            }
        );
        for n in &self.notes {
            let _ = writeln!(out, "> {n}\n");
        }
        let _ = writeln!(out, "| | what | figure | before | after |");
        let _ = writeln!(out, "| --- | --- | --- | ---: | ---: |");
        for regression in [true, false] {
            for c in self.changes.iter().filter(|c| c.regression == regression) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    if c.regression { "❌" } else { "" },
                    c.subject.replace('|', "\\|"),
                    c.figure,
                    c.base.replace('|', "\\|"),
                    c.new.replace('|', "\\|")
                );
            }
        }
        out
    }
}

/// Compares `new` against `base`.
pub(crate) fn diff(base: &Report, new: &Report, t: Thresholds) -> Diff {
    let mut d = Diff::default();
    if base.scenario.name != new.scenario.name {
        d.notes.push(format!(
            "the reports are of different scenarios (`{}` and `{}`); comparing the strategies \
             and steps whose names match",
            base.scenario.name, new.scenario.name
        ));
    }
    if base.environment.scale != new.environment.scale {
        d.notes.push(format!(
            "the runs used different scales ({} and {}): durations are not comparable as such",
            base.environment.scale, new.environment.scale
        ));
    }
    let grew = |b: f64, n: f64| n > b * t.ratio && n - b > t.floor.as_secs_f64();
    for ns in &new.strategies {
        let Some(bs) = base.strategies.iter().find(|b| b.name == ns.name) else {
            d.notes
                .push(format!("strategy `{}` is new: nothing to compare", ns.name));
            continue;
        };
        let (bf, nf) = (&bs.figures, &ns.figures);
        let mut change = |subject: &str, figure: &str, b: String, n: String, regression: bool| {
            d.changes.push(Change {
                subject: subject.into(),
                figure: figure.into(),
                base: b,
                new: n,
                regression,
            });
        };
        let name = ns.name.as_str();
        if bs.status != ns.status {
            change(
                name,
                "status",
                bs.status.name().into(),
                ns.status.name().into(),
                ns.status != StrategyStatus::Succeeded,
            );
        }
        if let (Some(b), Some(n)) = (bs.duration_s, ns.duration_s) {
            change(name, "duration", seconds(b), seconds(n), grew(b, n));
        }
        if let (Some(b), Some(n)) = (bf.longest_stall_s, nf.longest_stall_s) {
            change(name, "longest stall", seconds(b), seconds(n), grew(b, n));
        }
        if let (Some(b), Some(n)) = (bf.p99_during_ms, nf.p99_during_ms) {
            change(
                name,
                "p99 during migration",
                millis(b),
                millis(n),
                grew(b / 1000.0, n / 1000.0),
            );
        }
        if bf.errors_by_class != nf.errors_by_class {
            let worse = nf
                .errors_by_class
                .iter()
                .any(|(class, n)| *n > bf.errors_by_class.get(class).copied().unwrap_or(0));
            change(
                name,
                "errors",
                errors_text(&bf.errors_by_class),
                errors_text(&nf.errors_by_class),
                worse,
            );
        }
        if bf.wal_bytes > 0 || nf.wal_bytes > 0 {
            let (b, n) = (bf.wal_bytes as f64, nf.wal_bytes as f64);
            // WAL is bytes, not seconds: twice the ratio and 1 MB is the floor.
            let worse = n > b * t.ratio.max(2.0) && n - b > 1e6;
            change(name, "WAL", bytes(b), bytes(n), worse);
        }
        for nstep in &ns.steps {
            let Some(bstep) = bs.steps.iter().find(|s| s.name == nstep.name) else {
                d.notes
                    .push(format!("step `{name} / {}` is new", nstep.name));
                continue;
            };
            let subject = format!("{name} / {}", nstep.name);
            if bstep.status != nstep.status {
                change(
                    &subject,
                    "status",
                    bstep.status.name().into(),
                    nstep.status.name().into(),
                    nstep.status == StepStatus::Failed,
                );
            }
            if let (Some(b), Some(n)) = (bstep.duration_s, nstep.duration_s) {
                change(&subject, "duration", seconds(b), seconds(n), grew(b, n));
            }
            let rewrote = |s: &crate::report::StepReport| {
                let mut r: Vec<&str> = s.rewrites.iter().map(|r| r.relation.as_str()).collect();
                r.sort_unstable();
                r.join(", ")
            };
            let (b, n) = (rewrote(bstep), rewrote(nstep));
            if b != n {
                let new_rewrites = nstep
                    .rewrites
                    .iter()
                    .any(|r| !bstep.rewrites.iter().any(|x| x.relation == r.relation));
                change(
                    &subject,
                    "rewrites",
                    if b.is_empty() { "none".into() } else { b },
                    if n.is_empty() { "none".into() } else { n },
                    new_rewrites,
                );
            }
        }
    }
    for bs in &base.strategies {
        if !new.strategies.iter().any(|n| n.name == bs.name) {
            d.notes.push(format!(
                "strategy `{}` is gone from the new report",
                bs.name
            ));
        }
    }
    if base.verdict.passed && !new.verdict.passed {
        let breaches: Vec<String> = new
            .verdict
            .breaches
            .iter()
            .filter(|b| !b.expected)
            .map(|b| format!("{} ({})", b.budget, b.strategy))
            .collect();
        d.changes.push(Change {
            subject: "run".into(),
            figure: "verdict".into(),
            base: "passed".into(),
            new: format!("failed: {}", breaches.join(", ")),
            regression: true,
        });
    }
    d
}
