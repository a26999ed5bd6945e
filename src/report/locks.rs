//! Lock waits in the report: who waited for which lock, for how long, behind whom.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pg::{LockMode, LockType, SessionRole};

/// A session waiting for a lock.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockWait {
    /// Who waited.
    pub waiter: SessionRef,
    /// What kind of object the lock is on.
    pub locktype: LockType,
    /// The mode asked for.
    pub mode: LockMode,
    /// The relation, for relation (and tuple) locks.
    pub relation: Option<String>,
    /// When the wait began, seconds from the run's start (exact on PG 14+).
    pub start_s: f64,
    /// When it ended (within one poll, or exact from the server log).
    pub end_s: f64,
    /// How long it lasted (the server log's exact figure when it has one, else sampled).
    pub duration_s: f64,
    /// The exact duration from the server log (waits longer than `deadlock_timeout`, local and
    /// docker backends).
    pub logged_duration_s: Option<f64>,
    /// The duration the sampler alone measured (kept beside the logged one, for comparison).
    pub sampled_duration_s: Option<f64>,
    /// The sessions it waited for (`pg_blocking_pids`: holders and earlier waiters).
    pub blocked_by: Vec<SessionRef>,
    /// How many polls saw it (0: only the server log did).
    pub samples: u32,
}

/// A session, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRef {
    /// Backend pid.
    pub pid: i32,
    /// The part it plays.
    pub role: SessionRole,
    /// Background session name, or the application name of others.
    pub name: Option<String>,
    /// What it was running (first 300 characters).
    pub query: Option<String>,
}

/// The lock waits of one step, summarised.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepLockSummary {
    /// Seconds the step's session spent waiting for locks.
    pub migration_wait_s: f64,
    /// What its longest wait was for, e.g. `AccessExclusiveLock on users`.
    pub migration_waited_for: Option<String>,
    /// Whom its longest wait was behind.
    pub blockers: Vec<SessionRef>,
    /// Application (traffic) lock waits during the step.
    pub app_waits: u64,
    /// Of those, waits queued behind the step's session.
    pub app_waits_behind_migration: u64,
    /// The longest application lock wait during the step, seconds.
    pub longest_app_wait_s: f64,
}
