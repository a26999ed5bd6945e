//! The assembler: the one place that turns what a run observed into the [`Report`].
//!
//! Observers record (the traffic's latency books, the steps' outcomes, the sampler's lock
//! sightings and index phases, the server log's waits, the catalog's leftovers, the seeding's
//! figures, the server's facts), all on the run's clock; [`assemble`] joins them by time,
//! computes every derived figure once ([`figures`]), asks the verdict, and decides the outcome.
//! No other code constructs the report's types. Reports of version 1 are read and upgraded here
//! too ([`read_report`]), with the same figure code.

mod figures;
mod invariants;
mod locks;
mod seed;
mod steps;
mod traffic;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::db::ServerFacts;
use crate::migrate::{LeftoverRecord, StepRecord};
use crate::observe::{ConnectionCount, LoggedWait, Sampled};
use crate::report::{
    ConnectionPoint, ConnectionsReport, Environment, Leftover, Outcome, ReadError, Report,
    SCHEMA_VERSION, ScenarioInfo, StrategyFigures, StrategyReport, StrategyStatus, Tool,
};
use crate::scenario::{Plan, StrategyPlan};
use crate::seed::Seeded;
use crate::traffic::TrafficRecord;

pub(crate) use figures::{exclusive_hold_s, strategy_figures};
pub(crate) use invariants::invariants;

/// Everything a run observed, as the observers recorded it.
#[derive(Default)]
pub(crate) struct Observations {
    /// Identifies the run.
    pub run_id: String,
    /// Wall-clock start.
    pub started_at: DateTime<Utc>,
    /// Seconds from start to end.
    pub duration_s: f64,
    /// The server, once it answered.
    pub server: Option<ServerFacts>,
    /// The seeding (or the cached template's), once done.
    pub seed: Option<Seeded>,
    /// The strategies that started, in scenario order.
    pub strategies: Vec<StrategyRun>,
    /// Why the run could not complete, if it could not.
    pub error: Option<String>,
    /// Whether the user interrupted the run.
    pub interrupted: bool,
}

/// What one strategy's rehearsal recorded.
#[derive(Default)]
pub(crate) struct StrategyRun {
    /// The scratch database it ran in.
    pub database: String,
    /// Every step, run or not.
    pub steps: Vec<StepRecord>,
    /// The traffic, when the scenario has some.
    pub traffic: Option<TrafficRecord>,
    /// What the lock sampler saw, when it ran.
    pub sampled: Option<Sampled>,
    /// Lock waits the server logged.
    pub logged: Vec<LoggedWait>,
    /// What the steps left behind.
    pub leftovers: Vec<LeftoverRecord>,
    /// Whether the run was interrupted before the strategy finished.
    pub interrupted: bool,
    /// The backend pid of the connection that ran the steps.
    pub migration_pid: Option<i32>,
    /// Why the strategy could not finish (the server died), when it could not.
    pub failure: Option<String>,
}

/// Turns a run's observations into its report (verdict and outcome included).
pub(crate) fn assemble(plan: &Plan, observed: Observations) -> Report {
    let mut runs = observed.strategies.into_iter();
    let strategies: Vec<StrategyReport> = plan
        .strategies
        .iter()
        .map(|s| match runs.next() {
            Some(run) => strategy(s, run),
            None => not_run(s),
        })
        .collect();
    let verdict = crate::verdict::judge(
        &strategies,
        &plan.budgets,
        observed.interrupted,
        plan.traffic.is_some(),
    );
    let outcome = if observed.interrupted {
        Outcome::Interrupted
    } else if observed.error.is_some() {
        Outcome::Error
    } else if verdict.passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run_id: observed.run_id,
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            description: plan.description.clone(),
            path: plan.path.display().to_string(),
        },
        started_at: observed.started_at.to_rfc3339(),
        duration_s: observed.duration_s,
        outcome,
        // An interruption is not an error to report; the outcome says it.
        error: observed.error.filter(|_| !observed.interrupted),
        environment: environment(plan, observed.server),
        seed: observed.seed.map(seed::summary),
        strategies,
        verdict,
    }
}

fn environment(plan: &Plan, server: Option<ServerFacts>) -> Environment {
    let base = Environment {
        scale: plan.seed.scale,
        seed: plan.seed.seed,
        ..Environment::default()
    };
    let Some(f) = server else {
        return base;
    };
    Environment {
        backend: Some(f.backend),
        target: Some(f.target),
        image: f.image,
        binaries: f.binaries,
        server_version: Some(f.version),
        server_version_num: Some(f.version_num),
        settings: f.settings,
        settings_applied: f.settings_applied,
        server_log: f.log,
        notes: f.notes,
        ..base
    }
}

fn strategy(plan: &StrategyPlan, run: StrategyRun) -> StrategyReport {
    let ran = run.sampled.is_some();
    let sampled = run.sampled.unwrap_or_default();
    let lock_waits = locks::lock_waits(&sampled.waits, &run.logged, run.migration_pid);
    let steps: Vec<_> = run
        .steps
        .iter()
        .map(|s| {
            let waits = ran.then_some(&lock_waits[..]);
            steps::step(s, waits, &sampled.phases)
        })
        .collect();
    let (traffic, delayed) = match &run.traffic {
        Some(t) => {
            let (report, delayed) = traffic::traffic(t);
            (Some(report), delayed)
        }
        None => (None, None),
    };
    let start_s = steps.first().and_then(|s| s.start_s);
    let end_s = steps
        .iter()
        .filter_map(|s| Some(s.start_s? + s.duration_s?))
        .next_back();
    let mut report = StrategyReport {
        name: plan.name.clone(),
        description: plan.description.clone(),
        expect_breach: plan.expect_breach,
        database: run.database,
        start_s,
        duration_s: end_s.zip(start_s).map(|(end, start)| end - start),
        status: if run.failure.is_some() {
            StrategyStatus::Failed
        } else {
            steps::strategy_status(&steps, run.interrupted)
        },
        error: run.failure,
        steps,
        traffic,
        leftovers: run
            .leftovers
            .into_iter()
            .map(|l| Leftover {
                kind: l.kind,
                name: l.name,
                relation: l.relation,
            })
            .collect(),
        lock_waits,
        connections: sampled
            .limits
            .map(|limits| connections(limits, &sampled.connections)),
        figures: StrategyFigures::default(),
    };
    report.figures = strategy_figures(&report, delayed);
    report
}

fn not_run(plan: &StrategyPlan) -> StrategyReport {
    StrategyReport {
        name: plan.name.clone(),
        description: plan.description.clone(),
        expect_breach: plan.expect_breach,
        database: String::new(),
        start_s: None,
        duration_s: None,
        status: StrategyStatus::NotRun,
        error: None,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                steps::step(
                    &StepRecord::not_run(i + 1, s.name.clone(), s.action.kind(), s.action.source()),
                    None,
                    &[],
                )
            })
            .collect(),
        traffic: None,
        leftovers: Vec::new(),
        lock_waits: Vec::new(),
        connections: None,
        figures: StrategyFigures::default(),
    }
}

/// The connections the sampler counted, against the server's limits.
fn connections(
    (max_connections, reserved): (u32, u32),
    seen: &[ConnectionCount],
) -> ConnectionsReport {
    // The first time the highest count was seen (max_by_key keeps the last of equals).
    let peak = seen.iter().rev().max_by_key(|c| c.open);
    ConnectionsReport {
        max_connections,
        reserved,
        peak: peak.map_or(0, |p| p.open),
        peak_at_s: peak.map_or(0.0, |p| p.t_s),
        series: seen
            .iter()
            .map(|c| ConnectionPoint {
                t_s: c.t_s,
                open: c.open,
            })
            .collect(),
    }
}

/// Reads a report: this version as is, version 1 upgraded (its derived figures computed by the
/// same code as a new run's).
pub(crate) fn read_report(path: &Path) -> Result<Report, ReadError> {
    let mut value = Report::read_json(path)?;
    if value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        != Some(1)
    {
        return Report::from_json(path, value);
    }
    let mut delayed = Vec::new();
    for s in value
        .get_mut("strategies")
        .and_then(|s| s.as_array_mut())
        .into_iter()
        .flatten()
    {
        let traffic = s.pointer_mut("/traffic").and_then(|t| t.as_object_mut());
        let d = traffic.and_then(|t| {
            // Version 1 kept no latency by intended start: the charts fall back to the series.
            t.insert("by_start_s".into(), 0.0.into());
            t.insert("by_start".into(), serde_json::Value::Array(Vec::new()));
            t.remove("delayed")
        });
        delayed.push(d.and_then(|d| serde_json::from_value(d).ok()));
        if let Some(waits) = s.get_mut("lock_waits").and_then(|w| w.as_array_mut()) {
            // Version 1 could record a sighting whose lock was gone when read: no wait.
            waits.retain(|w| w["mode"].as_str().is_some_and(|m| !m.is_empty()));
        }
        if let Some(obj) = s.as_object_mut() {
            obj.insert(
                "figures".into(),
                serde_json::to_value(StrategyFigures::default()).expect("serializes"),
            );
        }
        for step in s
            .get_mut("steps")
            .and_then(|s| s.as_array_mut())
            .into_iter()
            .flatten()
        {
            if let Some(obj) = step.as_object_mut() {
                obj.insert("exclusive_hold_s".into(), serde_json::Value::Null);
            }
        }
    }
    value["schema_version"] = SCHEMA_VERSION.into();
    let mut report = Report::from_json(path, value)?;
    for (s, delayed) in report.strategies.iter_mut().zip(delayed) {
        for step in &mut s.steps {
            // Summaries counted again: version 1 could count sightings without a lock.
            if let (Some(_), Some(start), Some(took)) =
                (&step.lock_summary, step.start_s, step.duration_s)
            {
                step.lock_summary = Some(locks::step_summary(&s.lock_waits, start, start + took));
            }
            step.exclusive_hold_s = exclusive_hold_s(step, &s.lock_waits);
        }
        s.figures = strategy_figures(s, delayed);
    }
    Ok(report)
}
