//! Heavyweight locks: the modes `pg_locks.mode` shows and the kinds of object `pg_locks.locktype`
//! names. See <https://www.postgresql.org/docs/current/explicit-locking.html> for the modes and
//! their conflicts, and <https://www.postgresql.org/docs/current/view-pg-locks.html> for the
//! lock types.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A lock mode, named as `pg_locks.mode` and the server log name it.
///
/// The eight table-level modes are ordered from weakest to strongest; row-level waits show up as
/// `ShareLock`/`ExclusiveLock` on a transaction id or a tuple. `SIReadLock` is a serializable
/// transaction's predicate lock, which never blocks anyone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum LockMode {
    /// `ACCESS SHARE`: plain SELECT.
    AccessShareLock,
    /// `ROW SHARE`: SELECT … FOR UPDATE/SHARE.
    RowShareLock,
    /// `ROW EXCLUSIVE`: INSERT, UPDATE, DELETE, MERGE.
    RowExclusiveLock,
    /// `SHARE UPDATE EXCLUSIVE`: VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT.
    ShareUpdateExclusiveLock,
    /// `SHARE`: CREATE INDEX (blocks writes, not reads).
    ShareLock,
    /// `SHARE ROW EXCLUSIVE`: CREATE TRIGGER, ADD FOREIGN KEY.
    ShareRowExclusiveLock,
    /// `EXCLUSIVE`: REFRESH MATERIALIZED VIEW CONCURRENTLY.
    ExclusiveLock,
    /// `ACCESS EXCLUSIVE`: most ALTER TABLE forms, DROP, TRUNCATE, VACUUM FULL.
    AccessExclusiveLock,
    /// A serializable transaction's predicate lock.
    #[serde(rename = "SIReadLock")]
    SiReadLock,
}

impl LockMode {
    /// Every mode, weakest first.
    pub const ALL: [LockMode; 9] = [
        LockMode::AccessShareLock,
        LockMode::RowShareLock,
        LockMode::RowExclusiveLock,
        LockMode::ShareUpdateExclusiveLock,
        LockMode::ShareLock,
        LockMode::ShareRowExclusiveLock,
        LockMode::ExclusiveLock,
        LockMode::AccessExclusiveLock,
        LockMode::SiReadLock,
    ];

    /// The name Postgres uses, e.g. `AccessExclusiveLock`.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShareLock => "AccessShareLock",
            LockMode::RowShareLock => "RowShareLock",
            LockMode::RowExclusiveLock => "RowExclusiveLock",
            LockMode::ShareUpdateExclusiveLock => "ShareUpdateExclusiveLock",
            LockMode::ShareLock => "ShareLock",
            LockMode::ShareRowExclusiveLock => "ShareRowExclusiveLock",
            LockMode::ExclusiveLock => "ExclusiveLock",
            LockMode::AccessExclusiveLock => "AccessExclusiveLock",
            LockMode::SiReadLock => "SIReadLock",
        }
    }

    /// The name without the `Lock` suffix, for tables: `AccessExclusive`.
    pub fn short(self) -> &'static str {
        self.name().trim_end_matches("Lock")
    }

    /// Whether holding `self` blocks a request for `other` on the same object (the table in
    /// "Conflicting Lock Modes" of the docs; the relation is symmetric).
    pub fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::{
            AccessExclusiveLock, AccessShareLock, ExclusiveLock, RowExclusiveLock, RowShareLock,
            ShareLock, ShareRowExclusiveLock, ShareUpdateExclusiveLock, SiReadLock,
        };
        // Bit i of a mode's mask: conflicts with ALL[i].
        let mask = |m: LockMode| -> u16 {
            match m {
                AccessShareLock => 0b1000_0000,
                RowShareLock => 0b1100_0000,
                RowExclusiveLock => 0b1111_0000,
                ShareUpdateExclusiveLock => 0b1111_1000,
                ShareLock => 0b1110_1100,
                ShareRowExclusiveLock => 0b1111_1100,
                ExclusiveLock => 0b1111_1110,
                AccessExclusiveLock => 0b1111_1111,
                SiReadLock => 0,
            }
        };
        let index = |m: LockMode| LockMode::ALL.iter().position(|x| *x == m).unwrap_or(8);
        index(other) < 8 && mask(self) & (1 << index(other)) != 0
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LockMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown lock mode `{s}`"))
    }
}

/// The kind of object a lock is on (`pg_locks.locktype`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LockType {
    /// A table, index, sequence or view.
    Relation,
    /// Extending a relation by new pages.
    Extend,
    /// Updating `pg_database.datfrozenxid`.
    Frozenid,
    /// A page of a relation.
    Page,
    /// A row version (a waiter for a row lock holds this while it queues).
    Tuple,
    /// A transaction id: waiting for another transaction to end (row locks).
    Transactionid,
    /// A virtual transaction id (CREATE INDEX CONCURRENTLY waiting for old snapshots).
    Virtualxid,
    /// Speculative insertion (INSERT … ON CONFLICT).
    Spectoken,
    /// A non-relation database object.
    Object,
    /// A user lock (unused by modern servers).
    Userlock,
    /// An advisory lock (`pg_advisory_lock`).
    Advisory,
    /// A remote transaction applied by a logical replication worker (PG 16+).
    Applytransaction,
}

impl LockType {
    /// Every type.
    pub const ALL: [LockType; 12] = [
        LockType::Relation,
        LockType::Extend,
        LockType::Frozenid,
        LockType::Page,
        LockType::Tuple,
        LockType::Transactionid,
        LockType::Virtualxid,
        LockType::Spectoken,
        LockType::Object,
        LockType::Userlock,
        LockType::Advisory,
        LockType::Applytransaction,
    ];

    /// The name `pg_locks.locktype` shows.
    pub fn name(self) -> &'static str {
        match self {
            LockType::Relation => "relation",
            LockType::Extend => "extend",
            LockType::Frozenid => "frozenid",
            LockType::Page => "page",
            LockType::Tuple => "tuple",
            LockType::Transactionid => "transactionid",
            LockType::Virtualxid => "virtualxid",
            LockType::Spectoken => "spectoken",
            LockType::Object => "object",
            LockType::Userlock => "userlock",
            LockType::Advisory => "advisory",
            LockType::Applytransaction => "applytransaction",
        }
    }
}

impl fmt::Display for LockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LockType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LockType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown lock type `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockMode::*;

    #[test]
    fn names_round_trip() {
        for m in LockMode::ALL {
            assert_eq!(m.name().parse::<LockMode>(), Ok(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        for t in LockType::ALL {
            assert_eq!(t.name().parse::<LockType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
        }
        assert!("".parse::<LockMode>().is_err());
        assert_eq!(AccessExclusiveLock.short(), "AccessExclusive");
    }

    #[test]
    fn conflicts_follow_the_documented_table() {
        // Reads conflict only with ACCESS EXCLUSIVE.
        let blocks_reads: Vec<_> = LockMode::ALL
            .into_iter()
            .filter(|m| m.conflicts_with(AccessShareLock))
            .collect();
        assert_eq!(blocks_reads, [AccessExclusiveLock]);
        // CREATE INDEX (SHARE) blocks writes but not reads, nor another SHARE.
        assert!(ShareLock.conflicts_with(RowExclusiveLock));
        assert!(!ShareLock.conflicts_with(AccessShareLock));
        assert!(!ShareLock.conflicts_with(ShareLock));
        // SHARE UPDATE EXCLUSIVE conflicts with itself (autovacuum vs CONCURRENTLY).
        assert!(ShareUpdateExclusiveLock.conflicts_with(ShareUpdateExclusiveLock));
        assert!(!SiReadLock.conflicts_with(AccessExclusiveLock));
        // Symmetric.
        for a in LockMode::ALL {
            for b in LockMode::ALL {
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a} {b}");
            }
        }
    }
}
