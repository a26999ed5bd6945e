//! What the observers saw, on the run's clock: lock waits as the sampler sighted them, index
//! build phases from the progress view, and lock waits the server logged. The assembler joins
//! these with the steps and the traffic.

use crate::pg::{LockMode, LockType, SessionRole};

/// A session as an observer saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    /// Backend pid.
    pub pid: i32,
    /// The part it plays (from its `application_name`).
    pub role: SessionRole,
    /// Background session name, or the application name of others.
    pub name: Option<String>,
    /// What it was running (first 300 characters).
    pub query: Option<String>,
}

/// One lock wait, from consecutive sightings of the same (pid, lock type, mode, relation).
#[derive(Debug, Clone)]
pub(crate) struct Sighting {
    /// Who waited.
    pub waiter: Session,
    /// What kind of object the lock is on.
    pub locktype: LockType,
    /// The mode asked for.
    pub mode: LockMode,
    /// The relation, for relation and tuple locks.
    pub relation: Option<String>,
    /// When the wait began, seconds on the run's clock (`pg_locks.waitstart` on PG 14+, else
    /// the first sighting).
    pub start_s: f64,
    /// When it ended: halfway between the last poll that saw it and the first that did not.
    pub end_s: f64,
    /// Everyone `pg_blocking_pids()` named while it waited (holders and earlier waiters).
    pub blocked_by: Vec<Session>,
    /// Polls that saw it.
    pub samples: u32,
}

/// One phase of an index build, as `pg_stat_progress_create_index` showed it.
#[derive(Debug, Clone)]
pub(crate) struct ProgressPhase {
    /// The building backend.
    pub pid: i32,
    /// Its role.
    pub role: SessionRole,
    /// The index (none before it exists in the catalog).
    pub index: Option<String>,
    /// The phase, e.g. `building index: scanning table`.
    pub phase: String,
    /// The step (1-based) that was running when the phase was seen.
    pub step: Option<usize>,
    /// First seen, seconds on the run's clock.
    pub first_s: f64,
    /// Last seen.
    pub last_s: f64,
    /// Blocks done when last seen.
    pub blocks_done: Option<i64>,
    /// Blocks in all.
    pub blocks_total: Option<i64>,
    /// Tuples done when last seen.
    pub tuples_done: Option<i64>,
    /// Tuples in all.
    pub tuples_total: Option<i64>,
}

/// A lock wait the server logged (`log_lock_waits`), with its exact duration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoggedWait {
    /// When the wait ended (the lock was acquired, or the statement was cancelled), seconds on
    /// the run's clock.
    pub end_s: f64,
    /// The waiting backend.
    pub pid: i32,
    /// The mode asked for.
    pub mode: LockMode,
    /// What kind of object the lock is on.
    pub locktype: LockType,
    /// The relation's name, for relation and tuple locks (resolved from its oid).
    pub relation: Option<String>,
    /// How long it waited, seconds.
    pub waited_s: f64,
    /// Whether it got the lock (else its statement was cancelled while waiting).
    pub acquired: bool,
    /// The pids it waited for (holders, then earlier waiters), from the log's DETAIL.
    pub blocked_by: Vec<i32>,
    /// Whether the log names the rehearsal's database (a relation, an object, an advisory
    /// lock); waits on transaction ids name none, and may be another database's.
    pub in_database: bool,
}

/// The client connections open on the server, from when the sampler saw this count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConnectionCount {
    /// Seconds on the run's clock.
    pub t_s: f64,
    /// Client backends (every database, every user).
    pub open: u32,
}
