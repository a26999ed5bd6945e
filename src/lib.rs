//! rehearse: rehearses PostgreSQL schema migrations at production scale.
//!
//! The pipeline (see DESIGN.md): a [`scenario`] becomes an immutable plan; [`db`] provides a
//! Postgres server; [`seed`] creates the schema and fills it; [`migrate`] runs each strategy's
//! steps on its own copy of the seeded data, timed on the run's one [`clock`]; [`report`] holds
//! what was observed and renders it; [`verdict`] judges it against the budgets. [`run`] wires the
//! parts together and owns ordering and shutdown. [`profile`] writes a seed section shaped like
//! a real database from its planner statistics.

mod assemble;
pub mod cli;
mod clock;
pub mod db;
mod diff;
pub mod error;
mod estimate;
#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod fuzz_tests;
mod migrate;
mod observe;
pub mod pg;
mod profile;
pub mod report;
mod run;
pub mod scenario;
mod seed;
mod traffic;
mod values;
mod verdict;

pub use seed::LogWriter;
