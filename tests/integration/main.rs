//! Integration tests: the `rehearse` binary against real Postgres (local binaries and Docker).
//!
//! One test binary with a module per theme. Docker tests run whenever an engine answers and
//! must run in CI (`CI` set).

mod cli;
mod common;
mod docker;
mod formats;
mod layout;
mod local;
mod reliability;
mod report_schema;
mod scenarios;
mod seed;
mod traffic;
mod url;
