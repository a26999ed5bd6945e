//! The report: the public, versioned data model of what a run observed, and its renderers.
//!
//! `report.json` is the source of truth; every other format ([`render`]) is a view over
//! [`Report`]. The model is plain data (no histograms, channels or handles) and its JSON Schema
//! is committed as `schemas/report.schema.json`. Its values are built in one place, the
//! assembler (`crate::assemble`), from what the observers recorded; derived figures (the longest
//! stall, baseline p99, operations delayed, exclusive-lock holds, waits behind the migration)
//! are computed there once and stored here, so every format and the verdict read the same
//! numbers. Bump [`SCHEMA_VERSION`] on any change that breaks readers.

mod locks;
pub mod render;
mod seed;
mod strategy;
mod traffic;
mod verdict;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::pg::ServerError;
pub use locks::{LockWait, SessionRef, StepLockSummary};
pub use seed::{IndexBuild, IndexBuildKind, SeedSummary, TableSummary};
pub use strategy::{
    AttemptReport, BackfillReport, ConnectionPoint, ConnectionsReport, DelayedOps, IndexPhase,
    Leftover, LockTaken, Rewrite, Stability, StepReport, StepStatus, StrategyFigures,
    StrategyReport, StrategyStatus,
};
pub use traffic::{
    BackgroundReport, ErrorReport, IntervalReport, LatencyStats, Percentiles, PhaseReport,
    QueryStats, ReplayReport, SkipCount, StartPoint, TrafficReport,
};
pub use verdict::{Breach, BudgetCheck, CheckStatus, Verdict};

/// Version of the report format. Readers refuse other versions (version 1 reports are read and
/// upgraded by `crate::assemble::read_report`).
pub const SCHEMA_VERSION: u32 = 2;

/// Everything a run observed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Version of this format ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The tool that wrote the report.
    pub tool: Tool,
    /// Identifies the run (scratch database names and container labels carry it).
    pub run_id: String,
    /// The scenario rehearsed.
    pub scenario: ScenarioInfo,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    /// Seconds from start to the end of the run.
    pub duration_s: f64,
    /// How the run ended.
    pub outcome: Outcome,
    /// Why the run could not complete, when `outcome` is `error`.
    pub error: Option<String>,
    /// Where and how it ran, enough to reproduce it.
    pub environment: Environment,
    /// The seeded data, when seeding completed.
    pub seed: Option<SeedSummary>,
    /// One entry per strategy, in scenario order.
    pub strategies: Vec<StrategyReport>,
    /// The judgement against the budgets.
    pub verdict: Verdict,
}

/// The tool that wrote the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `rehearse`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The scenario rehearsed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The file, as given on the command line.
    pub path: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step succeeded and every checked budget held.
    Passed,
    /// A step failed or a budget was breached.
    Failed,
    /// The user interrupted the run.
    Interrupted,
    /// The run could not complete (environment or scenario error).
    Error,
}

impl Outcome {
    /// As the summary shouts it: `PASSED`.
    pub fn shout(self) -> &'static str {
        match self {
            Outcome::Passed => "PASSED",
            Outcome::Failed => "FAILED",
            Outcome::Interrupted => "INTERRUPTED",
            Outcome::Error => "ERROR",
        }
    }
}

/// Where and how the run ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// `docker`, `local` or `url` (the backend actually used).
    pub backend: Option<String>,
    /// The server, without password.
    pub target: Option<String>,
    /// Container image (docker backend).
    pub image: Option<String>,
    /// Binary directory (local backend).
    pub binaries: Option<String>,
    /// `SHOW server_version`.
    pub server_version: Option<String>,
    /// `SHOW server_version_num`.
    pub server_version_num: Option<u32>,
    /// Effective values of the settings rehearse or the scenario set.
    pub settings: BTreeMap<String, String>,
    /// Whether the scenario's settings were applied (not possible on the url backend).
    pub settings_applied: bool,
    /// The server log, when captured.
    pub server_log: Option<String>,
    /// Row-count multiplier.
    pub scale: f64,
    /// Random seed.
    pub seed: u64,
    /// Things worth knowing about how the server was chosen.
    pub notes: Vec<String>,
}

/// Failures to read a report back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("failed to read report {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON, truncated, or not a report.
    #[error("failed to parse report {}: {source}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// Another format version.
    #[error(
        "report {} has schema_version {found} (written by {writer}); this rehearse ({}) reads \
         schema_version 1 and {SCHEMA_VERSION}: read it with the rehearse that wrote it{}",
        path.display(),
        env!("CARGO_PKG_VERSION"),
        if *found > u64::from(SCHEMA_VERSION) { " or a newer one" } else { "" }
    )]
    Version {
        /// The file.
        path: std::path::PathBuf,
        /// Its version.
        found: u64,
        /// `rehearse X.Y.Z` from the report's `tool`, when it says.
        writer: String,
    },
}

impl Report {
    /// Writes the report as pretty JSON, atomically (a temp file renamed into place; the temp
    /// file is removed if the write fails).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        let written = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Reads a report as JSON, refusing versions other than 1 and [`SCHEMA_VERSION`] with a
    /// clear message. A version 1 report is returned as written (without the figures version 2
    /// added); `crate::assemble::read_report` reads and upgrades it.
    pub fn read_json(path: &Path) -> Result<serde_json::Value, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ReadError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != 1 && found != u64::from(SCHEMA_VERSION) {
            let writer = match (
                value.pointer("/tool/name").and_then(|v| v.as_str()),
                value.pointer("/tool/version").and_then(|v| v.as_str()),
            ) {
                (Some(name), Some(version)) => format!("{name} {version}"),
                _ => "an unknown tool".into(),
            };
            return Err(ReadError::Version {
                path: path.to_owned(),
                found,
                writer,
            });
        }
        Ok(value)
    }

    /// A report from its JSON (of this version).
    pub fn from_json(path: &Path, value: serde_json::Value) -> Result<Report, ReadError> {
        serde_json::from_value(value).map_err(|source| ReadError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The JSON Schema of the report, as committed in `schemas/report.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Report)).expect("schema serialises")
    }

    /// The strategy named `name`.
    pub fn strategy(&self, name: &str) -> Option<&StrategyReport> {
        self.strategies.iter().find(|s| s.name == name)
    }
}
