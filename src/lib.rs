//! rehearse: rehearses PostgreSQL schema migrations at production scale.
//!
//! The pipeline (see DESIGN.md): a [`scenario`] becomes an immutable plan; [`db`] provides a
//! Postgres server; [`seed`] creates the schema and fills it; [`migrate`] runs each strategy's
//! steps on its own copy of the seeded data, timed on the run's one [`clock`]; [`report`] holds
//! what was observed and renders it; [`verdict`] judges it against the budgets. [`run`] wires the
//! parts together and owns ordering and shutdown. [`profile`] writes a seed section shaped like
//! a real database from its planner statistics.

pub mod assemble;
pub mod cli;
pub mod clock;
pub mod db;
pub mod diff;
pub mod error;
pub mod estimate;
pub mod migrate;
pub mod observe;
pub mod pg;
pub mod profile;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod traffic;
pub mod values;
pub mod verdict;
