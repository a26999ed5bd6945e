//! What can be wrong with a scenario, said so that the user can fix it.

use std::path::PathBuf;

/// One thing wrong in a scenario file: where, which key, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the scenario file, when the parser knows it.
    pub line: Option<usize>,
    /// Dotted key, e.g. `strategy[1].steps[0].file`.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: `{}`: {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// Failures to turn a scenario file into a plan. All map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("failed to read scenario {}: {source}", path.display())]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("failed to parse scenario {}:\n{message}", path.display())]
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// The parser's message, with line, column and the offending key.
        message: String,
    },
    /// The file parsed but does not describe a runnable rehearsal.
    #[error("invalid scenario {}:\n{}", path.display(), list(problems))]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// Everything wrong with it, in file order.
        problems: Vec<Problem>,
    },
    /// `--strategy` named a strategy the scenario does not have.
    #[error("scenario {} has no strategy named `{name}` (it has: {available})", path.display())]
    UnknownStrategy {
        /// The scenario file.
        path: PathBuf,
        /// The name given.
        name: String,
        /// The names it has.
        available: String,
    },
}

/// Problems as an indented list, one per line.
pub(crate) fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
