//! Scenario files: the TOML format, its validation, and the immutable plan a run executes.
//!
//! `file` mirrors the TOML with strict serde types, `plan` validates it (collecting every problem
//! with its line) and applies command-line overrides. Nothing here touches a database.

mod error;
mod file;
mod plan;

pub use error::{Problem, ScenarioError};
pub use plan::{
    Budgets, DEFAULT_SEED, DatabasePlan, Overrides, Plan, SeedPlan, SqlSource, StepPlan,
    StrategyPlan, TablePlan, scale_rows,
};
