//! What a step did to the database, read from the catalog before and after it on a separate
//! connection: which relations were rewritten (a rewrite gives a relation a new relfilenode under
//! the same oid) and how much WAL was written meanwhile (`pg_current_wal_lsn()` difference; it
//! includes the WAL of concurrent traffic). After the steps: indexes left INVALID (a failed
//! CREATE INDEX CONCURRENTLY) and constraints left NOT VALID, less those already there before
//! the first step.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::record::{LeftoverRecord, Rewritten};
use crate::pg::{LeftoverKind, RelKind};

/// A catalog snapshot taken before a step.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    /// oid → (name, relkind, filenode) of every user relation (a view or a partitioned table
    /// has no filenode).
    relations: BTreeMap<i64, (String, String, Option<i64>)>,
    /// Write-ahead log position.
    lsn: Option<String>,
}

impl Snapshot {
    /// The name and kind relation `oid` had before the step: how a lock on a relation the step
    /// dropped is named.
    pub(super) fn relation(&self, oid: i64) -> Option<(&str, RelKind)> {
        self.relations
            .get(&oid)
            .map(|(name, kind, _)| (name.as_str(), RelKind::from_relkind(kind)))
    }
}

const RELATIONS: &str = "
    SELECT c.oid::int8, c.oid::regclass::text, c.relkind::text, pg_relation_filenode(c.oid)::int8
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%'";

/// Reads the relations' names and filenodes, and the WAL position.
pub(super) async fn snapshot(client: &Client) -> Snapshot {
    let relations = client
        .query(RELATIONS, &[])
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
                .collect()
        })
        .unwrap_or_default();
    let lsn = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .ok()
        .map(|r| r.get(0));
    Snapshot { relations, lsn }
}

/// What changed since `before`: rewritten tables, indexes and materialized views, and WAL bytes.
pub(super) async fn changes(client: &Client, before: &Snapshot) -> (Vec<Rewritten>, Option<u64>) {
    let after = snapshot(client).await;
    let rewrites = after
        .relations
        .iter()
        .filter(|(_, (_, kind, _))| matches!(kind.as_str(), "r" | "i" | "m"))
        .filter_map(|(oid, (name, kind, filenode))| {
            let (_, _, old) = before.relations.get(oid)?;
            (old.is_some() && filenode.is_some() && old != filenode).then(|| Rewritten {
                relation: name.clone(),
                kind: RelKind::from_relkind(kind),
            })
        })
        .collect();
    let wal = match (&before.lsn, &after.lsn) {
        (Some(a), Some(b)) => client
            .query_one(
                "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::int8",
                &[b, a],
            )
            .await
            .ok()
            .map(|r| r.get::<_, i64>(0).max(0) as u64),
        _ => None,
    };
    (rewrites, wal)
}

/// Indexes that are INVALID and constraints that are NOT VALID, as the catalog has them now.
pub(crate) async fn leftovers(client: &Client) -> Vec<LeftoverRecord> {
    let mut found = Vec::new();
    if let Ok(rows) = client
        .query(
            "SELECT i.indexrelid, i.indexrelid::regclass::text, i.indrelid::regclass::text
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              ORDER BY 2",
            &[],
        )
        .await
    {
        found.extend(rows.iter().map(|r| LeftoverRecord {
            kind: LeftoverKind::InvalidIndex,
            oid: r.get(0),
            name: r.get(1),
            relation: r.get(2),
        }));
    }
    if let Ok(rows) = client
        .query(
            "SELECT oid, conname::text, conrelid::regclass::text FROM pg_constraint
              WHERE NOT convalidated AND contype IN ('c', 'f') ORDER BY 3, 2",
            &[],
        )
        .await
    {
        found.extend(rows.iter().map(|r| LeftoverRecord {
            kind: LeftoverKind::NotValidConstraint,
            oid: r.get(0),
            name: r.get(1),
            relation: r.get(2),
        }));
    }
    found
}

/// What the steps left: the leftovers in `now` that were not already in `before` (read before
/// the first step). The same index or constraint is recognised by its oid, so one the schema
/// created stays out even when a step renamed its table; one a step dropped and created again
/// is new.
pub(crate) fn left_by_steps(
    before: &[LeftoverRecord],
    now: Vec<LeftoverRecord>,
) -> Vec<LeftoverRecord> {
    now.into_iter()
        .filter(|l| !before.iter().any(|b| b.kind == l.kind && b.oid == l.oid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftover(kind: LeftoverKind, oid: u32, name: &str, relation: &str) -> LeftoverRecord {
        LeftoverRecord {
            kind,
            oid,
            name: name.into(),
            relation: relation.into(),
        }
    }

    /// Issue 16: NOT VALID constraints and invalid indexes the schema itself created were listed
    /// as left behind by the migration.
    #[test]
    fn issue_16_only_what_the_steps_left_is_listed() {
        let before = [
            leftover(LeftoverKind::NotValidConstraint, 10, "positive", "orders"),
            leftover(LeftoverKind::InvalidIndex, 11, "audit_at_idx", "audit"),
        ];
        let now = vec![
            // The schema's, its table renamed by a step: still the schema's.
            leftover(
                LeftoverKind::NotValidConstraint,
                10,
                "positive",
                "purchases",
            ),
            leftover(LeftoverKind::InvalidIndex, 11, "audit_at_idx", "audit"),
            // The steps': a new constraint, and an index dropped and built again (new oid).
            leftover(
                LeftoverKind::NotValidConstraint,
                20,
                "has_user",
                "purchases",
            ),
            leftover(LeftoverKind::InvalidIndex, 21, "audit_at_idx", "audit"),
        ];
        let left = left_by_steps(&before, now);
        let oids: Vec<u32> = left.iter().map(|l| l.oid).collect();
        assert_eq!(oids, [20, 21]);
    }
}
