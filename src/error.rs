//! The top-level error and the exit codes users depend on (see README, "Exit codes"): one
//! function ([`exit_code`]) decides a command's code from how it ended.

use std::path::PathBuf;

use crate::db::DbError;
use crate::report::{Outcome, ReadError};
use crate::scenario::ScenarioError;
use crate::seed::SeedError;
use crate::traffic::TrafficError;

/// Exit code: every step succeeded and every checked budget held.
pub const EXIT_PASSED: i32 = 0;
/// Exit code: a budget was breached or a step failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage or scenario error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: environment error (no Docker, no Postgres binaries, connection refused).
pub const EXIT_ENVIRONMENT: i32 = 3;
/// Exit code: interrupted (Ctrl-C or SIGTERM).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Anything that stops a command from completing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is missing or wrong.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A command-line value is wrong.
    #[error("{0}")]
    Usage(String),
    /// No server could be had or reached.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The schema or the seed failed.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The traffic does not fit the seeded schema.
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// A report could not be read.
    #[error(transparent)]
    Report(#[from] ReadError),
    /// The output folder could not be written.
    #[error("failed to write {}: {source}", path.display())]
    Output {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another rehearsal writes to the same output folder.
    #[error(
        "failed to start: {other} is writing to {} now; give this run its own --out",
        out.display()
    )]
    Busy {
        /// The output folder.
        out: PathBuf,
        /// The other run.
        other: String,
    },
    /// The user interrupted the command (Ctrl-C or SIGTERM).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Seed(
                SeedError::Server {
                    environment: true, ..
                }
                | SeedError::Db(_),
            )
            | Error::Traffic(TrafficError::Connect(_))
            | Error::Db(_)
            | Error::Output { .. }
            | Error::Busy { .. } => EXIT_ENVIRONMENT,
            Error::Scenario(_)
            | Error::Usage(_)
            | Error::Report(_)
            | Error::Seed(_)
            | Error::Traffic(_) => EXIT_USAGE,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// The exit code of a command that ran a rehearsal: the error's, if it could not complete,
/// else the report's outcome's.
pub fn exit_code(outcome: Option<Outcome>, error: Option<&Error>) -> i32 {
    match (error, outcome) {
        (Some(e), _) => e.exit_code(),
        (None, Some(Outcome::Passed) | None) => EXIT_PASSED,
        (None, Some(Outcome::Interrupted)) => EXIT_INTERRUPTED,
        (None, Some(Outcome::Failed | Outcome::Error)) => EXIT_FAILED,
    }
}
