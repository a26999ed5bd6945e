//! The validated `[traffic]` section: the application's queries, their parameters, the arrival
//! rate, app versions and background sessions.

use std::time::Duration;

use toml::Spanned;

use super::file::KeyDist;
pub(crate) use super::file::{Arrival, Isolation};
use super::file::{ParamSection, QuerySection, RateValue, TrafficSection};
pub(super) use crate::pg::capture::Capture;
use crate::values::{Constant, FakeKind, KeyDistPlan};

/// Default time-series resolution.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// More operations a second than one connection could ever run (even a trivial query costs
/// tens of microseconds of round trip): a rate above this times the connections is a mistake.
const MAX_RATE_PER_CONNECTION: f64 = 50_000.0;
/// Default unmeasured traffic before the baseline.
pub(crate) const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
/// Default time operations left at the traffic's end may take before they are abandoned.
const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
/// Default traffic before the first step and after the last.
pub(super) const DEFAULT_WINDOW: Duration = Duration::from_secs(5);

/// Traffic to replay while each strategy runs.
#[derive(Debug, Clone)]
pub(crate) struct TrafficPlan {
    /// Arrival rate.
    pub rate: Rate,
    /// Connections.
    pub connections: usize,
    /// Arrival spacing.
    pub arrival: Arrival,
    /// Time-series resolution.
    pub interval: Duration,
    /// Traffic before the first step.
    pub baseline: Duration,
    /// Traffic after the last step.
    pub recovery: Duration,
    /// Traffic before the baseline, not measured.
    pub warmup: Duration,
    /// How long operations left at the end may take before they are abandoned.
    pub drain: Duration,
    /// The version running at the start.
    pub initial_app: String,
    /// The application's operations.
    pub queries: Vec<QueryPlan>,
    /// Background sessions.
    pub background: Vec<BackgroundPlan>,
    /// A captured log replayed instead of the queries.
    pub replay: Option<ReplayPlan>,
}

/// A captured statement log to replay.
#[derive(Debug, Clone)]
pub(crate) struct ReplayPlan {
    /// The capture as the scenario names it.
    pub path: String,
    /// Its sessions, filtered by `include`/`exclude`.
    pub capture: std::sync::Arc<Capture>,
    /// Statements in the capture before filtering.
    pub captured: u64,
    /// How many times faster than captured.
    pub speed: f64,
    /// Start again when it ends.
    pub repeat: bool,
}

/// Operations per second, or as fast as the connections go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rate {
    /// Open loop at this many operations per second.
    PerSecond(f64),
    /// Each connection runs operations back to back (for throughput benchmarks).
    Max,
}

/// One kind of application operation.
#[derive(Debug, Clone)]
pub(crate) struct QueryPlan {
    /// Unique name.
    pub name: String,
    /// Relative frequency.
    pub weight: u32,
    /// Versions that issue it; `None` means every version.
    pub apps: Option<Vec<String>>,
    /// Statements; more than one runs as a transaction.
    pub statements: Vec<String>,
    /// Whether the statements run inside BEGIN … COMMIT.
    pub transaction: bool,
    /// Pause between the statements of a transaction.
    pub think: Duration,
    /// One generator per `$n`.
    pub params: Vec<ParamPlan>,
}

impl QueryPlan {
    /// Whether `version` of the application issues this operation.
    pub(crate) fn issued_by(&self, version: &str) -> bool {
        self.apps
            .as_ref()
            .is_none_or(|apps| apps.iter().any(|a| a == version))
    }
}

/// How a parameter's values are made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamPlan {
    /// A key of the seeded data.
    Key {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// Distribution.
        dist: KeyDistPlan,
    },
    /// A fake value.
    Fake(FakeKind),
    /// A uniform number in `[low, high]`.
    Range(f64, f64, bool),
    /// A constant.
    Value(Constant),
    /// Integers above the seeded ones of `table.column`, one per draw.
    Seq {
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
}

/// A session started at an offset into the traffic.
#[derive(Debug, Clone)]
pub(crate) struct BackgroundPlan {
    /// Name in reports.
    pub name: String,
    /// Statement.
    pub sql: String,
    /// Offset from the start of traffic.
    pub start: Duration,
    /// Keep the transaction open this long after the statement.
    pub hold: Option<Duration>,
    /// Run in a transaction of this isolation level.
    pub isolation: Option<Isolation>,
}

/// Reports a problem at a spanned place; returns nothing.
pub(super) type Report<'a> = dyn FnMut(Option<std::ops::Range<usize>>, String, String) + 'a;

/// Validates `[traffic]`, reporting each problem through `report(span, key, message)`.
pub(super) fn plan(
    section: &Spanned<TrafficSection>,
    dir: &std::path::Path,
    report: &mut Report,
) -> TrafficPlan {
    let t = section.get_ref();
    let replay = t
        .replay
        .as_ref()
        .and_then(|path| replay_plan(t, path, dir, report));
    if t.replay.is_none() {
        for (given, key) in [
            (!t.include.is_empty(), "include"),
            (!t.exclude.is_empty(), "exclude"),
            (t.speed.is_some(), "speed"),
            (t.repeat.is_some(), "loop"),
        ] {
            if given {
                report(
                    Some(section.span()),
                    format!("traffic.{key}"),
                    "goes with `replay` only".into(),
                );
            }
        }
    }
    let rate_span = t.rate.as_ref().map_or(section.span(), Spanned::span);
    let rate = match (t.rate.as_ref().map(Spanned::get_ref), &replay) {
        (None, Some(r)) => {
            let seconds = (r.capture.duration_us as f64 / 1e6 / r.speed).max(1e-3);
            let statements: usize = r.capture.sessions.iter().map(|s| s.statements.len()).sum();
            Rate::PerSecond(statements as f64 / seconds)
        }
        (Some(_), Some(_)) => {
            report(
                Some(rate_span.clone()),
                "traffic.rate".into(),
                "a replay runs at the capture's own rate (use `speed`)".into(),
            );
            Rate::Max
        }
        (None, None) => {
            report(
                Some(section.span()),
                "traffic.rate".into(),
                "expected `rate` (operations per second, or \"max\"), or `replay` with a captured log".into(),
            );
            Rate::Max
        }
        (Some(RateValue::Number(n)), None) if n.is_finite() && *n > 0.0 => Rate::PerSecond(*n),
        (Some(RateValue::Text(s)), None) if s == "max" => Rate::Max,
        (Some(other), None) => {
            report(
                Some(rate_span.clone()),
                "traffic.rate".into(),
                format!("expected operations per second (> 0) or \"max\", found {other:?}"),
            );
            Rate::Max
        }
    };
    let connections_span = t.connections.as_ref().map_or(section.span(), Spanned::span);
    let connections = match (&t.connections, &replay) {
        (Some(c), None) => *c.get_ref(),
        (None, None) => {
            report(
                Some(section.span()),
                "traffic.connections".into(),
                "expected `connections`".into(),
            );
            1
        }
        (Some(_), Some(_)) => {
            report(
                Some(connections_span.clone()),
                "traffic.connections".into(),
                "a replay opens a connection per captured session".into(),
            );
            1
        }
        (None, Some(r)) => r.capture.sessions.len() as i64,
    };
    if !(1..=1000).contains(&connections) {
        report(
            Some(connections_span.clone()),
            "traffic.connections".into(),
            if replay.is_some() {
                format!(
                    "the capture has {connections} sessions; a replay takes 1 to 1000 (filter it with include/exclude)"
                )
            } else {
                format!("expected 1 to 1000 connections, found {connections}")
            },
        );
    }
    if let Rate::PerSecond(r) = rate
        && replay.is_none()
        && r > connections.max(1) as f64 * MAX_RATE_PER_CONNECTION
    {
        report(
            Some(rate_span.clone()),
            "traffic.rate".into(),
            format!(
                "{r} operations a second on {connections} connection(s) is {:.0} a second per \
                 connection; a connection runs one operation at a time, and even the simplest \
                 query takes over 20 µs, so at most {MAX_RATE_PER_CONNECTION:.0} a second each: \
                 lower the rate, add connections, or use rate = \"max\" to measure how fast \
                 they go",
                r / connections.max(1) as f64
            ),
        );
    }
    let interval = t.interval.unwrap_or(DEFAULT_INTERVAL);
    if interval < Duration::from_millis(100) {
        report(
            Some(section.span()),
            "traffic.interval".into(),
            "the time-series interval must be at least 100ms".into(),
        );
    }
    if t.query.is_empty() && t.replay.is_none() {
        report(
            Some(section.span()),
            "traffic.query".into(),
            "expected at least one [[traffic.query]] (or `replay`)".into(),
        );
    }
    if !t.query.is_empty() && t.replay.is_some() {
        report(
            Some(section.span()),
            "traffic.query".into(),
            "give either `replay` or [[traffic.query]], not both".into(),
        );
    }
    let mut queries: Vec<QueryPlan> = Vec::new();
    for (i, q) in t.query.iter().enumerate() {
        let key = format!("traffic.query[{i}]");
        if let Some(message) = super::plan::name_problem(q.get_ref().name.get_ref()) {
            report(
                Some(q.get_ref().name.span()),
                format!("{key}.name"),
                message,
            );
        }
        if let Some(query) = query(q, &key, report) {
            if queries.iter().any(|other| other.name == query.name) {
                report(
                    Some(q.get_ref().name.span()),
                    format!("{key}.name"),
                    format!("duplicate query name `{}`", query.name),
                );
            }
            queries.push(query);
        }
    }
    let initial_app = t.app.clone().unwrap_or_else(|| "v1".into());
    if !queries.is_empty() && weight_for(&queries, &initial_app) == 0 {
        report(
            Some(section.span()),
            "traffic".into(),
            format!(
                "no query of app version `{initial_app}` (the version running at the start) has a \
                 weight above 0"
            ),
        );
    }
    let mut background: Vec<BackgroundPlan> = Vec::new();
    for (i, b) in t.background.iter().enumerate() {
        let section = b.get_ref();
        let plan = BackgroundPlan {
            name: section
                .name
                .clone()
                .unwrap_or_else(|| format!("background {}", i + 1)),
            sql: section.sql.clone(),
            start: section.start,
            hold: section.hold,
            isolation: section.isolation,
        };
        if let Some(message) = super::plan::name_problem(&plan.name) {
            report(
                Some(b.span()),
                format!("traffic.background[{i}].name"),
                message,
            );
        }
        if background.iter().any(|other| other.name == plan.name) {
            report(
                Some(b.span()),
                format!("traffic.background[{i}].name"),
                format!(
                    "duplicate background session name `{}`; names must be unique",
                    plan.name
                ),
            );
        }
        background.push(plan);
    }
    TrafficPlan {
        rate,
        connections: connections.clamp(1, 1000) as usize,
        arrival: t.arrival,
        interval,
        baseline: t.baseline.unwrap_or(DEFAULT_WINDOW),
        recovery: t.recovery.unwrap_or(DEFAULT_WINDOW),
        warmup: t.warmup.unwrap_or(DEFAULT_WARMUP),
        drain: t.drain.unwrap_or(DEFAULT_DRAIN),
        initial_app,
        queries,
        background,
        replay,
    }
}

/// The replay of `path` (relative to the scenario's folder), filtered, or `None` with its
/// problems reported.
fn replay_plan(
    t: &TrafficSection,
    path: &Spanned<String>,
    dir: &std::path::Path,
    report: &mut Report,
) -> Option<ReplayPlan> {
    let speed = t.speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0 && speed <= 1000.0) {
        report(
            Some(path.span()),
            "traffic.speed".into(),
            format!("expected a speed above 0 and up to 1000, found {speed}"),
        );
        return None;
    }
    let patterns = |list: &[String], key: &str, report: &mut Report| -> Option<Vec<regex::Regex>> {
        let mut out = Vec::new();
        for p in list {
            match regex::Regex::new(p) {
                Ok(r) => out.push(r),
                Err(e) => {
                    report(
                        Some(path.span()),
                        format!("traffic.{key}"),
                        format!("`{p}` is not a regular expression: {e}"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    };
    let include = patterns(&t.include, "include", report)?;
    let exclude = patterns(&t.exclude, "exclude", report)?;
    let mut capture = match crate::pg::capture::read(&dir.join(path.get_ref())) {
        Ok(c) => c,
        Err(message) => {
            report(Some(path.span()), "traffic.replay".into(), message);
            return None;
        }
    };
    let captured: u64 = capture
        .sessions
        .iter()
        .map(|s| s.statements.len() as u64)
        .sum();
    let mut left_out = 0;
    for session in &mut capture.sessions {
        session.statements.retain(|s| {
            let keep = (include.is_empty() || include.iter().any(|r| r.is_match(&s.sql)))
                && !exclude.iter().any(|r| r.is_match(&s.sql));
            if !keep {
                left_out += 1;
            }
            keep
        });
    }
    capture.sessions.retain(|s| !s.statements.is_empty());
    if left_out > 0 {
        capture
            .skipped
            .insert("left out by include/exclude".into(), left_out);
    }
    if capture.sessions.is_empty() {
        report(
            Some(path.span()),
            "traffic.replay".into(),
            "include/exclude leave no statement to replay".into(),
        );
        return None;
    }
    Some(ReplayPlan {
        path: path.get_ref().clone(),
        capture: std::sync::Arc::new(capture),
        captured,
        speed,
        repeat: t.repeat.unwrap_or(false),
    })
}

/// Sum of the weights of the queries `version` issues.
pub(crate) fn weight_for(queries: &[QueryPlan], version: &str) -> u64 {
    queries
        .iter()
        .filter(|q| q.issued_by(version))
        .map(|q| u64::from(q.weight))
        .sum()
}

fn query(q: &Spanned<QuerySection>, key: &str, report: &mut Report) -> Option<QueryPlan> {
    let section = q.get_ref();
    let weight = match &section.weight {
        None => 1,
        Some(w) if (0..=1_000_000).contains(w.get_ref()) => *w.get_ref() as u32,
        Some(w) => {
            report(
                Some(w.span()),
                format!("{key}.weight"),
                format!("expected a weight from 0 to 1000000, found {}", w.get_ref()),
            );
            0
        }
    };
    let (statements, transaction) = match (&section.sql, &section.transaction) {
        (Some(sql), None) => (vec![sql.clone()], false),
        (None, Some(list)) if !list.is_empty() => (list.clone(), true),
        _ => {
            report(
                Some(q.span()),
                key.into(),
                "expected exactly one of `sql` (a statement) and `transaction` (a non-empty list)"
                    .into(),
            );
            return None;
        }
    };
    let params = section
        .params
        .iter()
        .enumerate()
        .filter_map(|(j, p)| param(p, &format!("{key}.params[{j}]"), report))
        .collect();
    Some(QueryPlan {
        name: section.name.get_ref().clone(),
        weight,
        apps: section.app.clone(),
        statements,
        transaction,
        think: section.think.unwrap_or_default(),
        params,
    })
}

fn param(p: &Spanned<ParamSection>, key: &str, report: &mut Report) -> Option<ParamPlan> {
    let s = p.get_ref();
    let given = [
        s.key.is_some(),
        s.seq.is_some(),
        s.fake.is_some(),
        s.range.is_some(),
        s.value.is_some(),
    ];
    let mut fail = |message: String| {
        report(Some(p.span()), key.into(), message);
        None
    };
    if given.iter().filter(|g| **g).count() != 1 {
        return fail("expected exactly one of `key`, `fake`, `range`, `value` and `seq`".into());
    }
    if s.key.is_none()
        && (s.dist.is_some() || s.exponent.is_some() || s.hot.is_some() || s.share.is_some())
    {
        return fail("`dist`, `exponent`, `hot` and `share` go with `key`".into());
    }
    if let Some(k) = &s.key {
        let Some((table, column)) = k.rsplit_once('.') else {
            return fail(format!("expected `key = \"table.column\"`, found `{k}`"));
        };
        return match key_dist(s.dist, s.exponent, s.hot, s.share) {
            Ok(dist) => Some(ParamPlan::Key {
                table: table.into(),
                column: column.into(),
                dist,
            }),
            Err(message) => fail(message),
        };
    }
    if let Some(k) = &s.seq {
        let Some((table, column)) = k.rsplit_once('.') else {
            return fail(format!("expected `seq = \"table.column\"`, found `{k}`"));
        };
        return Some(ParamPlan::Seq {
            table: table.into(),
            column: column.into(),
        });
    }
    if let Some(f) = &s.fake {
        return match fake_kind(f) {
            Ok(kind) => Some(ParamPlan::Fake(kind)),
            Err(message) => fail(message),
        };
    }
    if let Some([lo, hi]) = &s.range {
        let as_f64 = |v: &toml::Value| v.as_integer().map(|i| i as f64).or(v.as_float());
        let integers = lo.is_integer() && hi.is_integer();
        return match (as_f64(lo), as_f64(hi)) {
            (Some(l), Some(h)) if l <= h => Some(ParamPlan::Range(l, h, integers)),
            _ => fail("expected `range = [low, high]` with numbers, low ≤ high".into()),
        };
    }
    let value = s.value.as_ref()?;
    match constant(value) {
        Ok(c) => Some(ParamPlan::Value(c)),
        Err(message) => fail(message),
    }
}

/// A key distribution from its keys (`dist`, `exponent`, `hot`, `share`), with defaults.
pub(super) fn key_dist(
    dist: Option<KeyDist>,
    exponent: Option<f64>,
    hot: Option<f64>,
    share: Option<f64>,
) -> Result<KeyDistPlan, String> {
    let exponent = exponent.unwrap_or(1.1);
    if !(exponent.is_finite() && exponent > 0.0) {
        return Err(format!("`exponent` must be above 0, found {exponent}"));
    }
    Ok(match dist.unwrap_or(KeyDist::Uniform) {
        KeyDist::Uniform => KeyDistPlan::Uniform,
        KeyDist::Zipf => KeyDistPlan::Zipf(exponent),
        KeyDist::Latest => KeyDistPlan::Latest(exponent),
        KeyDist::Hot => {
            let hot = hot.unwrap_or(0.1);
            let share = share.unwrap_or(0.9);
            if !(hot > 0.0 && hot < 1.0 && (0.0..=1.0).contains(&share)) {
                return Err("`hot` must be in (0, 1) and `share` in [0, 1]".into());
            }
            KeyDistPlan::Hot { hot, share }
        }
    })
}

/// A fake kind by its scenario name.
pub(super) fn fake_kind(name: &str) -> Result<FakeKind, String> {
    FakeKind::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let known: Vec<&str> = FakeKind::ALL.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown fake kind `{name}`; expected one of {}",
                known.join(", ")
            )
        })
}

/// A TOML scalar as a constant.
pub(super) fn constant(value: &toml::Value) -> Result<Constant, String> {
    Ok(match value {
        toml::Value::String(t) => Constant::Text(t.clone()),
        toml::Value::Integer(i) => Constant::Integer(*i),
        toml::Value::Float(f) => Constant::Float(*f),
        toml::Value::Boolean(b) => Constant::Bool(*b),
        other => return Err(format!("unsupported constant {other}")),
    })
}
