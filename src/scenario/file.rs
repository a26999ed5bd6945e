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
pub struct ScenarioFile {
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
pub struct DatabaseSection {
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
pub enum MajorVersion {
    /// `postgres = 17`
    Number(i64),
    /// `postgres = "17"`
    Text(String),
}

/// A server setting's value: TOML strings, integers, floats and booleans are all accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
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
pub struct SchemaSection {
    /// A SQL file, relative to the scenario file.
    pub file: Option<Spanned<String>>,
    /// Inline SQL.
    pub sql: Option<String>,
}

/// `[seed]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SeedSection {
    /// Random seed; the same seed gives the same rows.
    pub seed: Option<u64>,
    /// Per table, how to fill it.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSeedSection>,
}

/// `[seed.tables.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TableSeedSection {
    /// Rows at scale 1.0.
    pub rows: Spanned<i64>,
}

/// `[[strategy]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StrategySection {
    /// Unique among the scenario's strategies.
    pub name: Spanned<String>,
    /// What this way of making the change does.
    pub description: Option<String>,
    /// Run in order on a dedicated connection.
    pub steps: Spanned<Vec<Spanned<StepSection>>>,
}

/// One migration step: exactly one of `sql` and `file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StepSection {
    /// Shown in reports; defaults to the file name or `step N`.
    pub name: Option<String>,
    /// Inline SQL (one or more statements).
    pub sql: Option<String>,
    /// A SQL file, relative to the scenario file.
    pub file: Option<Spanned<String>>,
}

/// `[budgets]`: parsed and kept in the plan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BudgetsSection {
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
}
