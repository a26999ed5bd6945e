//! Error classes of application operations, by SQLSTATE (see DESIGN.md, "Errors").

/// What kind of failure an application operation met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// Every class's name.
    pub const NAMES: [&'static str; 10] = [
        "lock_timeout",
        "statement_timeout",
        "deadlock",
        "serialization",
        "schema_mismatch",
        "constraint",
        "resources",
        "connection",
        "abandoned",
        "other",
    ];

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
            ErrorClass::Other => "other",
        }
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
    }
}
