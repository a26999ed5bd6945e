//! Who a session is. rehearse sets `application_name` on every connection it opens, so an
//! observer reading `pg_stat_activity` can tell the migration from the application traffic, the
//! background sessions and itself.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The part a session plays in a rehearsal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionRole {
    /// The connection that runs the migration steps.
    Migration,
    /// An application traffic connection.
    Traffic,
    /// A background session of the scenario (a long report, an idle transaction).
    Background,
    /// One of rehearse's own observers (the lock sampler, the catalog reader).
    Observer,
    /// Anyone else (autovacuum, another client).
    Other,
}

impl SessionRole {
    /// `application_name` of the connection that runs the migration steps.
    pub const MIGRATION_APP: &'static str = "rehearse migration";
    /// `application_name` of traffic connections.
    pub const TRAFFIC_APP: &'static str = "rehearse traffic";
    /// `application_name` prefix of background sessions (followed by the session's name).
    pub const BACKGROUND_PREFIX: &'static str = "rehearse background: ";
    /// `application_name` of observer connections.
    pub const OBSERVER_APP: &'static str = "rehearse observer";

    /// The role of a session, from its `application_name`.
    pub fn of(application_name: &str) -> SessionRole {
        match application_name {
            Self::MIGRATION_APP => SessionRole::Migration,
            Self::TRAFFIC_APP => SessionRole::Traffic,
            Self::OBSERVER_APP => SessionRole::Observer,
            a if a.starts_with(Self::BACKGROUND_PREFIX) => SessionRole::Background,
            _ => SessionRole::Other,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            SessionRole::Migration => "migration",
            SessionRole::Traffic => "traffic",
            SessionRole::Background => "background",
            SessionRole::Observer => "observer",
            SessionRole::Other => "other",
        }
    }
}

impl fmt::Display for SessionRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::SessionRole;

    #[test]
    fn application_names_give_roles() {
        assert_eq!(
            SessionRole::of("rehearse migration"),
            SessionRole::Migration
        );
        assert_eq!(SessionRole::of("rehearse traffic"), SessionRole::Traffic);
        assert_eq!(
            SessionRole::of("rehearse background: long report"),
            SessionRole::Background
        );
        assert_eq!(SessionRole::of("rehearse observer"), SessionRole::Observer);
        assert_eq!(SessionRole::of("psql"), SessionRole::Other);
        assert_eq!(
            serde_json::to_value(SessionRole::Traffic).unwrap(),
            "traffic"
        );
    }
}
