//! Catalog concepts: relation kinds (`pg_class.relkind`) and what a migration can leave behind
//! that needs attention (an INVALID index, a NOT VALID constraint).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of a relation, from `pg_class.relkind`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RelKind {
    /// `r` ordinary table, `p` partitioned table.
    Table,
    /// `i` index, `I` partitioned index.
    Index,
    /// `S`.
    Sequence,
    /// `m`.
    #[serde(rename = "materialized view")]
    MaterializedView,
    /// `v`.
    View,
    /// `t`.
    Toast,
    /// `f`.
    #[serde(rename = "foreign table")]
    ForeignTable,
    /// `c` composite type.
    Composite,
}

impl RelKind {
    /// From `pg_class.relkind`.
    pub fn from_relkind(relkind: &str) -> RelKind {
        match relkind {
            "i" | "I" => RelKind::Index,
            "S" => RelKind::Sequence,
            "m" => RelKind::MaterializedView,
            "v" => RelKind::View,
            "t" => RelKind::Toast,
            "f" => RelKind::ForeignTable,
            "c" => RelKind::Composite,
            _ => RelKind::Table,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            RelKind::Table => "table",
            RelKind::Index => "index",
            RelKind::Sequence => "sequence",
            RelKind::MaterializedView => "materialized view",
            RelKind::View => "view",
            RelKind::Toast => "toast",
            RelKind::ForeignTable => "foreign table",
            RelKind::Composite => "composite",
        }
    }
}

impl fmt::Display for RelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something a migration left that needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeftoverKind {
    /// `pg_index.indisvalid` is false: a failed CREATE INDEX CONCURRENTLY, still maintained on
    /// every write but never used.
    InvalidIndex,
    /// `pg_constraint.convalidated` is false: added NOT VALID and never validated.
    NotValidConstraint,
}

impl LeftoverKind {
    /// As people read it: `invalid index`.
    pub fn words(self) -> &'static str {
        match self {
            LeftoverKind::InvalidIndex => "invalid index",
            LeftoverKind::NotValidConstraint => "not valid constraint",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relkinds_and_names() {
        assert_eq!(RelKind::from_relkind("p"), RelKind::Table);
        assert_eq!(RelKind::from_relkind("I"), RelKind::Index);
        assert_eq!(
            serde_json::to_value(RelKind::MaterializedView).unwrap(),
            "materialized view"
        );
        assert_eq!(
            serde_json::to_value(LeftoverKind::InvalidIndex).unwrap(),
            "invalid_index"
        );
    }
}
