//! The scenario file as written: strict serde types mirroring the TOML.
//!
//! Every section denies unknown keys, so a typo is an error that names the key, the file and the
//! line. Nothing here is validated beyond its type; `plan.rs` turns these into an immutable plan.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ScenarioFile {
    /// Short name, used in reports.
    pub name: Spanned<String>,
    /// One or two sentences saying what the scenario rehearses.
    pub description: Option<String>,
    /// Which Postgres to run and with which settings.
    #[serde(default)]
    pub database: DatabaseSection,
    /// The schema the application has before the migration.
    pub schema: Spanned<SchemaSection>,
    /// How many rows to put in each table.
    #[serde(default)]
    pub seed: SeedSection,
    /// The application's traffic, replayed while the migration runs.
    pub traffic: Option<Spanned<TrafficSection>>,
    /// The ways of making the change; each is rehearsed on its own copy of the seeded data.
    #[serde(rename = "strategy", default)]
    pub strategies: Vec<StrategySection>,
    /// Limits a run must stay within to pass.
    #[serde(default)]
    pub budgets: BudgetsSection,
}

/// `[database]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct DatabaseSection {
    /// Major version wanted, as `"17"` or `17`.
    pub postgres: Option<Spanned<MajorVersion>>,
    /// Container image to run (docker backend); overrides `postgres:<major>`.
    pub image: Option<String>,
    /// Server settings (`postgres -c key=value`), e.g. `{ shared_buffers = "512MB" }`.
    #[serde(default)]
    pub settings: BTreeMap<String, SettingValue>,
}

/// A Postgres major version written as a string or an integer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum MajorVersion {
    /// `postgres = 17`
    Number(i64),
    /// `postgres = "17"`
    Text(String),
    /// `postgres = [13, 15, 17]`: the same scenario on each major, side by side.
    List(Vec<MajorVersion>),
    /// Anything else: refused with the line, in words.
    Other(toml::Value),
}

impl MajorVersion {
    /// What was written, for messages.
    pub(super) fn found(&self) -> String {
        match self {
            MajorVersion::Number(n) => n.to_string(),
            MajorVersion::Text(t) => format!("{t:?}"),
            MajorVersion::List(list) => format!(
                "[{}]",
                list.iter()
                    .map(MajorVersion::found)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            MajorVersion::Other(v) => v.to_string(),
        }
    }
}

/// A server setting's value: TOML strings, integers, floats and booleans are all accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum SettingValue {
    /// `on`, `"512MB"`, …
    Text(String),
    /// `100`
    Integer(i64),
    /// `0.5`
    Float(f64),
    /// `true`
    Bool(bool),
}

impl std::fmt::Display for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Text(s) => f.write_str(s),
            SettingValue::Integer(i) => write!(f, "{i}"),
            SettingValue::Float(x) => write!(f, "{x}"),
            SettingValue::Bool(b) => f.write_str(if *b { "on" } else { "off" }),
        }
    }
}

/// `[schema]`: exactly one of `file` and `sql`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct SchemaSection {
    /// A SQL file, relative to the scenario file.
    pub file: Option<Spanned<String>>,
    /// Inline SQL.
    pub sql: Option<String>,
}

/// `[seed]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct SeedSection {
    /// Random seed; the same seed gives the same rows.
    pub seed: Option<u64>,
    /// Per table, how to fill it.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSeedSection>,
}

/// `[seed.tables.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct TableSeedSection {
    /// Rows at scale 1.0.
    pub rows: Spanned<toml::Value>,
    /// Per column, how to make its values; columns not named get a default from their type.
    #[serde(default)]
    pub columns: BTreeMap<String, Spanned<ColumnSeedSection>>,
}

/// `[seed.tables.NAME.columns]` entry: one generator key (`serial`, `fake`, `range`,
/// `timestamp`, `enum`, `json`, `key`, `value`) and its modifiers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ColumnSeedSection {
    /// `serial = true`: 1, 2, 3, … (the row number).
    pub serial: Option<bool>,
    /// A fake kind: `name`, `email`, `sentence`, `paragraph`, `uuid`, …
    pub fake: Option<String>,
    /// With `fake`: the text length range in characters, `[min, max]`.
    pub length: Option<[i64; 2]>,
    /// A uniform number in `[low, high]`: integers when both bounds are, else decimals.
    pub range: Option<[toml::Value; 2]>,
    /// With `range`: digits after the point.
    pub scale: Option<i64>,
    /// Timestamps in `[from, to]` (dates or date-times, as TOML values or strings).
    pub timestamp: Option<[toml::Value; 2]>,
    /// With `timestamp`: skew toward recent; 1 is uniform, 2 squares the draw, …
    pub skew: Option<f64>,
    /// Labels with weights, `{ active = 85, banned = 5 }`.
    #[serde(rename = "enum")]
    pub labels: Option<BTreeMap<String, f64>>,
    /// A JSON document of about this many bytes.
    pub json: Option<i64>,
    /// A key of another seeded table, `"table.column"`.
    pub key: Option<String>,
    /// With `key`: `uniform` (default), `zipf`, `hot` or `latest`.
    pub dist: Option<KeyDist>,
    /// With `dist = "zipf"` or `"latest"`: the exponent (default 1.1).
    pub exponent: Option<f64>,
    /// With `dist = "hot"`: the fraction of keys that are hot (default 0.1).
    pub hot: Option<f64>,
    /// With `dist = "hot"`: the share of rows that reference hot keys (default 0.9).
    pub share: Option<f64>,
    /// A constant.
    pub value: Option<toml::Value>,
    /// Fraction of rows that are NULL, 0 to 1.
    pub null: Option<f64>,
    /// Every value distinct (implied when the schema has a unique index on the column).
    pub unique: Option<bool>,
}

/// `[[strategy]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct StrategySection {
    /// Unique among the scenario's strategies.
    pub name: Spanned<String>,
    /// What this way of making the change does.
    pub description: Option<String>,
    /// `"breach"`: the naive way, shown for contrast; its breaches do not fail the run.
    pub expect: Option<Spanned<String>>,
    /// Run in order on a dedicated connection.
    pub steps: Spanned<Vec<Spanned<StepSection>>>,
}

/// One migration step: exactly one of `sql`, `file`, `deploy` and `pause`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct StepSection {
    /// Shown in reports; defaults to the file name or `step N`.
    pub name: Option<String>,
    /// Inline SQL (one or more statements).
    pub sql: Option<String>,
    /// A SQL file, relative to the scenario file.
    pub file: Option<Spanned<String>>,
    /// A migration directory: every migration in it becomes a step, in version order.
    pub dir: Option<Spanned<String>>,
    /// With `dir`: after the up migrations, run the down migrations in reverse order.
    pub down: Option<bool>,
    /// An external command (`"sqlx migrate run"` through `sh -c`, or an argument list) run
    /// with DATABASE_URL and the PG* variables pointing at the rehearsal database.
    pub command: Option<CommandValue>,
    /// A batched backfill.
    pub backfill: Option<BackfillSection>,
    /// Switch the application to this version.
    pub deploy: Option<Spanned<String>>,
    /// With `deploy`: shift traffic to the new version gradually over this long.
    #[serde(default, with = "humantime_serde")]
    pub over: Option<Duration>,
    /// With `deploy` and `over`: the new version's connections, opened over the rollout beside
    /// the old version's and closed when it ends.
    pub connections: Option<Spanned<i64>>,
    /// With `deploy`: `false` runs the next steps while the rollout goes on.
    pub wait: Option<bool>,
    /// Wait this long (traffic keeps running).
    #[serde(default, with = "humantime_serde")]
    pub pause: Option<Duration>,
    /// SQL steps: run all statements in one transaction (default: yes, unless a statement
    /// cannot run in one, such as CREATE INDEX CONCURRENTLY).
    pub transaction: Option<bool>,
    /// SQL steps: `lock_timeout` for the step's statements.
    #[serde(default, with = "humantime_serde")]
    pub lock_timeout: Option<Duration>,
    /// SQL steps: `statement_timeout` for the step's statements.
    #[serde(default, with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    /// SQL steps: retries after a lock timeout (SQLSTATE 55P03).
    pub retries: Option<u32>,
    /// SQL steps: pause before the first retry; doubled for each further one (default 500ms).
    #[serde(default, with = "humantime_serde")]
    pub retry_backoff: Option<Duration>,
    /// Start no earlier than this offset from the start of the strategy's traffic (or of the
    /// strategy, without traffic): a contention case placed in time.
    #[serde(default, with = "humantime_serde")]
    pub at: Option<Duration>,
}

/// `backfill = { … }`: `UPDATE table SET … WHERE key in [lo, lo + batch) AND (where)`, batch by
/// batch, each in its own transaction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct BackfillSection {
    /// The table.
    pub table: String,
    /// An integer key column to walk in ranges.
    pub key: String,
    /// The assignments, e.g. `name = full_name`.
    pub set: String,
    /// Extra condition, e.g. `name IS NULL`.
    #[serde(rename = "where")]
    pub condition: Option<String>,
    /// Keys per batch (default 1000).
    pub batch: Option<u64>,
    /// Pause between batches (default none).
    #[serde(default, with = "humantime_serde")]
    pub sleep: Option<Duration>,
    /// Throttle: while the application's p99 is above this, pauses grow (doubling, up to 1 s).
    #[serde(default, with = "humantime_serde")]
    pub max_p99: Option<Duration>,
    /// Throttle: while an application session has waited longer than this for a lock, pauses
    /// grow the same way.
    #[serde(default, with = "humantime_serde")]
    pub max_lock_wait: Option<Duration>,
}

/// A command line: a shell string or an argument list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum CommandValue {
    /// Run through `sh -c`.
    Shell(String),
    /// Run directly.
    Args(Vec<String>),
}

/// `[traffic]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct TrafficSection {
    /// Operations per second over all connections, or `"max"` (each connection back to back).
    /// Not with `replay`.
    pub rate: Option<Spanned<RateValue>>,
    /// Connections (each runs one operation at a time). Not with `replay`.
    pub connections: Option<Spanned<i64>>,
    /// A captured statement log (stderr, csvlog or jsonlog, with log_min_duration_statement =
    /// 0) to replay instead of `[[traffic.query]]`: each logged session on a connection of its
    /// own, each statement at its offset.
    pub replay: Option<Spanned<String>>,
    /// With `replay`: how many times faster than captured (default 1).
    pub speed: Option<f64>,
    /// With `replay`: start the capture again when it ends, for as long as the traffic runs.
    #[serde(rename = "loop")]
    pub repeat: Option<bool>,
    /// With `replay`: replay only statements matching one of these regular expressions.
    #[serde(default)]
    pub include: Vec<String>,
    /// With `replay`: leave out statements matching one of these regular expressions.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `poisson` (default) or `uniform` arrivals.
    #[serde(default)]
    pub arrival: Arrival,
    /// Time-series resolution (default 1s; 100ms at the finest).
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Traffic before the first step (default 5s).
    #[serde(default, with = "humantime_serde")]
    pub baseline: Option<Duration>,
    /// Traffic after the last step (default 5s).
    #[serde(default, with = "humantime_serde")]
    pub recovery: Option<Duration>,
    /// Traffic run before the baseline and not measured: a fresh copy of the data is cold
    /// (nothing in shared buffers, no prepared statements), where production is warm. Default
    /// 1s; "0s" to measure from the first operation.
    #[serde(default, with = "humantime_serde")]
    pub warmup: Option<Duration>,
    /// How long operations still queued or running when the traffic ends may take to finish
    /// before they are abandoned (counted as lost). Default 30s.
    #[serde(default, with = "humantime_serde")]
    pub drain: Option<Duration>,
    /// The application version running when the rehearsal starts (default `v1`).
    pub app: Option<String>,
    /// The queries and transactions of the application.
    #[serde(default)]
    pub query: Vec<Spanned<QuerySection>>,
    /// Sessions started at an offset: long readers, idle transactions.
    #[serde(default)]
    pub background: Vec<Spanned<BackgroundSection>>,
}

/// A rate: a number or `"max"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RateValue {
    /// Operations per second.
    Number(f64),
    /// `"max"`.
    Text(String),
}

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Arrival {
    /// Exponential gaps (a Poisson process), as independent users produce.
    #[default]
    Poisson,
    /// Equal gaps.
    Uniform,
}

/// `[[traffic.query]]`: exactly one of `sql` and `transaction`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct QuerySection {
    /// Unique name, used in reports.
    pub name: Spanned<String>,
    /// Relative frequency (default 1).
    pub weight: Option<Spanned<i64>>,
    /// Application versions that issue it (default: all).
    pub app: Option<Vec<String>>,
    /// One statement with `$n` parameters.
    pub sql: Option<String>,
    /// Several statements run in one transaction; a statement with k parameters gets the first k.
    pub transaction: Option<Vec<String>>,
    /// Pause between the statements of a transaction.
    #[serde(default, with = "humantime_serde")]
    pub think: Option<Duration>,
    /// One generator per `$n`.
    #[serde(default)]
    pub params: Vec<Spanned<ParamSection>>,
}

/// A parameter generator: exactly one of `key`, `fake`, `range` and `value`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ParamSection {
    /// `table.column` of the seeded data.
    pub key: Option<String>,
    /// `table.column`: integers above the seeded ones (max + 1, + 2, …), one per operation, for
    /// inserts that must not collide with seeded keys.
    pub seq: Option<String>,
    /// With `key`: `uniform` (default), `zipf`, `hot` or `latest`.
    pub dist: Option<KeyDist>,
    /// With `dist = "zipf"` or `"latest"`: the exponent (default 1.1).
    pub exponent: Option<f64>,
    /// With `dist = "hot"`: the fraction of keys that are hot (default 0.1).
    pub hot: Option<f64>,
    /// With `dist = "hot"`: the share of draws that go to hot keys (default 0.9).
    pub share: Option<f64>,
    /// A fake value: `name`, `email`, `sentence`, …
    pub fake: Option<String>,
    /// A uniform number in `[low, high]`.
    pub range: Option<[toml::Value; 2]>,
    /// A constant.
    pub value: Option<toml::Value>,
}

/// How keys are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Low keys much more likely (Zipf's law).
    Zipf,
    /// A hot set takes most draws.
    Hot,
    /// The newest (highest) keys much more likely.
    Latest,
}

/// `[[traffic.background]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct BackgroundSection {
    /// Shown in reports (default `background N`).
    pub name: Option<String>,
    /// The statement to run.
    pub sql: String,
    /// When to start, from the start of traffic.
    #[serde(with = "humantime_serde")]
    pub start: Duration,
    /// Run `sql` in a transaction and keep it open, idle, this long before committing.
    #[serde(default, with = "humantime_serde")]
    pub hold: Option<Duration>,
    /// The transaction's isolation level (with `hold`, or for `sql` alone): a REPEATABLE READ
    /// transaction keeps its snapshot while idle, which CREATE INDEX CONCURRENTLY waits for; an
    /// idle READ COMMITTED one holds none.
    pub isolation: Option<Isolation>,
}

/// A transaction isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Isolation {
    /// `READ COMMITTED` (the default): a snapshot per statement.
    ReadCommitted,
    /// `REPEATABLE READ`: one snapshot for the whole transaction.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl Isolation {
    /// As SQL writes it.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// `[budgets]`: parsed and kept in the plan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct BudgetsSection {
    /// Longest time any application operation may wait on a lock.
    #[serde(default, with = "humantime_serde")]
    pub max_lock_wait: Option<Duration>,
    /// p99 latency of application operations while steps run.
    #[serde(default, with = "humantime_serde")]
    pub p99_during_migration: Option<Duration>,
    /// Errors seen by application operations.
    pub max_errors: Option<u64>,
    /// Longest any single step may take.
    #[serde(default, with = "humantime_serde")]
    pub max_step_duration: Option<Duration>,
    /// Longest a strategy's steps may take all together.
    #[serde(default, with = "humantime_serde")]
    pub max_duration: Option<Duration>,
    /// p99 during migration over the baseline's p99, e.g. `3.0`.
    pub p99_vs_baseline: Option<f64>,
    /// Errors allowed per class, e.g. `{ lock_timeout = 0, deadlock = 0 }`.
    #[serde(default)]
    pub max_errors_by_class: BTreeMap<String, u64>,
    /// Longest a step may hold an ACCESS EXCLUSIVE lock.
    #[serde(default, with = "humantime_serde")]
    pub max_exclusive_lock_hold: Option<Duration>,
    /// Application operations that may be dropped (the queue was full) or abandoned (still
    /// running when traffic stopped); 0 unless given.
    pub max_lost_operations: Option<u64>,
}
