//! Error classes by SQLSTATE (see DESIGN.md, "Errors", and
//! <https://www.postgresql.org/docs/current/errcodes-appendix.html>): what kind of failure an
//! application operation met, and whether a failure is the environment's or the scenario's.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of failure an operation met.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 55P03: lock_timeout.
    LockTimeout,
    /// 57014: statement_timeout or a cancel.
    StatementTimeout,
    /// 40P01.
    Deadlock,
    /// 40001.
    Serialization,
    /// 42703, 42P01, 0A000, 42883, 26000: the code and the schema disagree.
    SchemaMismatch,
    /// 23xxx.
    Constraint,
    /// 53xxx.
    Resources,
    /// The connection was lost (08xxx, 57P01, or closed).
    Connection,
    /// Still queued or running when traffic stopped, and given up on.
    Abandoned,
    /// Could not even be queued: a minute of operations was already waiting.
    Dropped,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Classifies a SQLSTATE (`None` when the driver failed without one).
    pub fn of(sqlstate: Option<&str>, connection_closed: bool) -> ErrorClass {
        if connection_closed {
            return ErrorClass::Connection;
        }
        let Some(code) = sqlstate else {
            return ErrorClass::Other;
        };
        match code {
            "55P03" => ErrorClass::LockTimeout,
            "57014" => ErrorClass::StatementTimeout,
            "40P01" => ErrorClass::Deadlock,
            "40001" => ErrorClass::Serialization,
            "42703" | "42P01" | "0A000" | "42883" | "26000" | "42804" => ErrorClass::SchemaMismatch,
            "57P01" | "57P02" | "57P03" => ErrorClass::Connection,
            c if c.starts_with("23") => ErrorClass::Constraint,
            c if c.starts_with("53") => ErrorClass::Resources,
            c if c.starts_with("08") => ErrorClass::Connection,
            _ => ErrorClass::Other,
        }
    }

    /// Every class.
    pub const ALL: [ErrorClass; 11] = [
        ErrorClass::LockTimeout,
        ErrorClass::StatementTimeout,
        ErrorClass::Deadlock,
        ErrorClass::Serialization,
        ErrorClass::SchemaMismatch,
        ErrorClass::Constraint,
        ErrorClass::Resources,
        ErrorClass::Connection,
        ErrorClass::Abandoned,
        ErrorClass::Dropped,
        ErrorClass::Other,
    ];

    /// Whether a failure of this class is the environment's (the server ran out of something or
    /// went away) rather than the scenario's.
    pub fn is_environment(self) -> bool {
        matches!(self, ErrorClass::Resources | ErrorClass::Connection)
    }

    /// The name used in reports and budgets.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::LockTimeout => "lock_timeout",
            ErrorClass::StatementTimeout => "statement_timeout",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::Serialization => "serialization",
            ErrorClass::SchemaMismatch => "schema_mismatch",
            ErrorClass::Constraint => "constraint",
            ErrorClass::Resources => "resources",
            ErrorClass::Connection => "connection",
            ErrorClass::Abandoned => "abandoned",
            ErrorClass::Dropped => "dropped",
            ErrorClass::Other => "other",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ErrorClass {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorClass::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.name()).collect();
                format!("unknown error class; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorClass;

    #[test]
    fn sqlstates_map_to_the_documented_classes() {
        let class = |c| ErrorClass::of(Some(c), false).name();
        assert_eq!(class("55P03"), "lock_timeout");
        assert_eq!(class("57014"), "statement_timeout");
        assert_eq!(class("40P01"), "deadlock");
        assert_eq!(class("40001"), "serialization");
        assert_eq!(class("42703"), "schema_mismatch");
        assert_eq!(class("0A000"), "schema_mismatch");
        assert_eq!(class("23505"), "constraint");
        assert_eq!(class("53300"), "resources");
        assert_eq!(class("08006"), "connection");
        assert_eq!(class("XX000"), "other");
        assert_eq!(ErrorClass::of(None, true).name(), "connection");
        for c in ErrorClass::ALL {
            assert_eq!(c.name().parse::<ErrorClass>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }
}
