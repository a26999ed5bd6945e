//! Scenario files: the TOML format, its validation, and the immutable plan a run executes.
//!
//! `file` mirrors the TOML with strict serde types, `plan` validates it (collecting every problem
//! with its line) and applies command-line overrides; `traffic` validates the `[traffic]`
//! section. Nothing here touches a database.

mod error;
mod file;
pub mod migrations;
mod plan;
mod seed;
mod traffic;

pub use error::{Problem, ScenarioError, list as list_problems};
pub use file::BackfillSection;
pub use plan::{
    Budgets, DEFAULT_RETRY_BACKOFF, DEFAULT_SEED, DatabasePlan, Overrides, PhaseKind, Plan,
    SeedCheck, SqlSource, SqlStep, StepAction, StepKind, StepPlan, StrategyPlan,
};
pub use seed::{ColumnPlan, GenPlan, SeedPlan, TablePlan, scale_rows};
pub use traffic::{Arrival, BackgroundPlan, ParamPlan, QueryPlan, Rate, TrafficPlan, weight_for};
