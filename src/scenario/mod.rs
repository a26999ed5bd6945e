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

pub(crate) use error::list as list_problems;
pub use error::{Problem, ScenarioError};
pub(crate) use file::BackfillSection;
pub(crate) use plan::{
    Budgets, KeyUse, Overrides, Plan, SqlSource, SqlStep, StepAction, StrategyPlan,
};
pub use plan::{DatabasePlan, PhaseKind, StepKind};
pub(crate) use seed::{ColumnPlan, GenPlan, SeedPlan, TablePlan};
pub(crate) use traffic::{
    Arrival, BackgroundPlan, Isolation, ParamPlan, QueryPlan, Rate, ReplayPlan, TrafficPlan,
};
