//! The relation locks a step's statements take, read from `pg_locks`.
//!
//! A statement in a transaction is read on its own connection just before the transaction ends:
//! locks last until then, so that is every lock its statements took. A statement that cannot run
//! in a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`, …) commits by itself, several
//! times over; its session is read from another connection while it runs — every 2 ms for its
//! first 100 reads, then every 20 ms — so a lock it holds more briefly than that may be missed.
//! A relation the step dropped has left `pg_class` by then: its lock is named by the name the
//! relation had before the step (see <https://www.postgresql.org/docs/current/view-pg-locks.html>).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio_postgres::{Client, Row};

use super::observe::Snapshot;
use super::record::HeldLock;
use crate::pg::{LockMode, RelKind};

/// The granted relation locks of a session (`$1`, else the one asking) in this database, with
/// the names of the relations that still exist: oid, mode, name, relkind. Catalogs and TOAST
/// tables are left out.
const SESSION_LOCKS: &str = "
    SELECT l.relation::int8, l.mode, c.oid::regclass::text, c.relkind::text
      FROM pg_locks l
      LEFT JOIN pg_class c ON c.oid = l.relation
      LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.pid = coalesce($1::int4, pg_backend_pid())
       AND l.locktype = 'relation' AND l.granted
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND (n.nspname IS NULL
            OR (n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%'))";

/// Pause between reads of another session's locks, at first.
const FAST: Duration = Duration::from_millis(2);
/// Reads made at the fast pace before slowing down (`pg_locks` takes every lock-manager
/// partition: a long index build is not read 500 times a second).
const FAST_READS: u32 = 100;
/// Pause between reads after the first ones.
const SLOW: Duration = Duration::from_millis(20);

/// The locks a step took, each relation and mode once.
pub(super) struct LockBook<'a> {
    /// The catalog before the step: names of relations the step drops.
    before: &'a Snapshot,
    /// (relation, mode name) → the lock: ordered by relation, then mode name.
    held: BTreeMap<(String, &'static str), HeldLock>,
}

impl<'a> LockBook<'a> {
    /// An empty book; `before` names relations gone from the catalog.
    pub(super) fn new(before: &'a Snapshot) -> LockBook<'a> {
        LockBook {
            before,
            held: BTreeMap::new(),
        }
    }

    /// Adds the locks the session of `client` holds now (in a transaction: every lock its
    /// statements took so far). True when one is ACCESS EXCLUSIVE.
    pub(super) async fn read_own(&mut self, client: &Client) -> bool {
        let rows = client
            .query(SESSION_LOCKS, &[&None::<i32>])
            .await
            .unwrap_or_default();
        self.add(&rows)
    }

    /// Runs `work` — a statement on session `pid` outside a transaction — while reading that
    /// session's locks from `observer`. Returns what `work` returned, and whether an ACCESS
    /// EXCLUSIVE lock was seen.
    pub(super) async fn watch<F: Future>(
        &mut self,
        work: F,
        observer: &Client,
        pid: i32,
    ) -> (F::Output, bool) {
        tokio::pin!(work);
        let Ok(query) = observer.prepare(SESSION_LOCKS).await else {
            return (work.await, false);
        };
        let mut reads = 0u32;
        let mut exclusive = false;
        loop {
            let pause = if reads < FAST_READS { FAST } else { SLOW };
            let read = async {
                tokio::time::sleep(pause).await;
                observer.query(&query, &[&Some(pid)]).await
            };
            // The statement's end is never delayed by a read in flight: that read is dropped
            // (the connection discards its answer).
            tokio::select! {
                biased;
                out = &mut work => return (out, exclusive),
                rows = read => {
                    reads += 1;
                    if let Ok(rows) = rows {
                        exclusive |= self.add(&rows);
                    }
                }
            }
        }
    }

    /// Adds rows of [`SESSION_LOCKS`]; true when one is ACCESS EXCLUSIVE on a relation it could
    /// name.
    fn add(&mut self, rows: &[Row]) -> bool {
        let mut exclusive = false;
        for row in rows {
            let Ok(mode) = row.get::<_, &str>(1).parse::<LockMode>() else {
                continue;
            };
            let named = match (
                row.get::<_, Option<String>>(2),
                row.get::<_, Option<&str>>(3),
            ) {
                (Some(name), Some(kind)) => Some((name, RelKind::from_relkind(kind))),
                // Gone from the catalog (dropped by the step): the name it had before.
                _ => self
                    .before
                    .relation(row.get(0))
                    .map(|(name, kind)| (name.to_owned(), kind)),
            };
            // A relation neither there before nor now was created and dropped by the step.
            let Some((relation, kind)) = named else {
                continue;
            };
            exclusive |= mode == LockMode::AccessExclusiveLock;
            self.held
                .entry((relation.clone(), mode.name()))
                .or_insert(HeldLock {
                    relation,
                    kind,
                    mode,
                });
        }
        exclusive
    }

    /// The locks, by relation, then mode name.
    pub(super) fn into_locks(self) -> Vec<HeldLock> {
        self.held.into_values().collect()
    }
}
