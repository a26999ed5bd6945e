//! Lock waits: the sampler's sightings with the server log's exact durations folded in, and
//! each step's summary of who waited for whom.

use std::collections::BTreeMap;

use crate::observe::{LoggedWait, Session, Sighting};
use crate::pg::SessionRole;
use crate::report::{LockWait, SessionRef, StepLockSummary};

/// Every wait of a strategy, in order of start: each sighting, taking the logged duration of
/// the same backend and mode that ended within a second of it; each logged wait the sampler
/// missed, added (with `samples = 0`). Sessions the log names by pid only are named from what
/// the sampler saw, or as the migration when `migration_pid` is theirs.
pub(crate) fn lock_waits(
    sightings: &[Sighting],
    logged: &[LoggedWait],
    migration_pid: Option<i32>,
) -> Vec<LockWait> {
    let mut known: BTreeMap<i32, SessionRef> = BTreeMap::new();
    if let Some(pid) = migration_pid {
        known.insert(
            pid,
            SessionRef {
                pid,
                role: SessionRole::Migration,
                name: Some(SessionRole::MIGRATION_APP.into()),
                query: None,
            },
        );
    }
    for s in sightings {
        for who in std::iter::once(&s.waiter).chain(&s.blocked_by) {
            if who.role != SessionRole::Other || !known.contains_key(&who.pid) {
                known.insert(who.pid, session(who));
            }
        }
    }
    let by_pid = |pid: i32| {
        known.get(&pid).cloned().unwrap_or(SessionRef {
            pid,
            role: SessionRole::Other,
            name: None,
            query: None,
        })
    };
    let mut waits: Vec<LockWait> = sightings
        .iter()
        .map(|s| LockWait {
            waiter: session(&s.waiter),
            locktype: s.locktype,
            mode: s.mode,
            relation: s.relation.clone(),
            start_s: s.start_s,
            end_s: s.end_s,
            duration_s: (s.end_s - s.start_s).max(0.0),
            logged_duration_s: None,
            sampled_duration_s: None,
            blocked_by: s.blocked_by.iter().map(session).collect(),
            samples: s.samples,
        })
        .collect();
    for l in logged {
        let matched = waits
            .iter_mut()
            .filter(|w| w.waiter.pid == l.pid && w.mode == l.mode && w.logged_duration_s.is_none())
            .min_by(|a, b| {
                (a.end_s - l.end_s)
                    .abs()
                    .total_cmp(&(b.end_s - l.end_s).abs())
            })
            .filter(|w| (w.end_s - l.end_s).abs() < 1.0);
        match matched {
            Some(w) => {
                w.sampled_duration_s = Some(w.duration_s);
                w.logged_duration_s = Some(l.waited_s);
                w.duration_s = l.waited_s;
                w.start_s = l.end_s - l.waited_s;
                w.end_s = l.end_s;
                for pid in &l.blocked_by {
                    if !w.blocked_by.iter().any(|b| b.pid == *pid) {
                        w.blocked_by.push(by_pid(*pid));
                    }
                }
            }
            // A wait the log does not place in this database (a transaction id) is this
            // strategy's only if its session is one the rehearsal knows.
            None if !l.in_database && !known.contains_key(&l.pid) => {}
            None => waits.push(LockWait {
                waiter: by_pid(l.pid),
                locktype: l.locktype,
                mode: l.mode,
                relation: l.relation.clone(),
                start_s: l.end_s - l.waited_s,
                end_s: l.end_s,
                duration_s: l.waited_s,
                logged_duration_s: Some(l.waited_s),
                sampled_duration_s: None,
                blocked_by: l.blocked_by.iter().map(|p| by_pid(*p)).collect(),
                samples: 0,
            }),
        }
    }
    waits.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    waits
}

fn session(s: &Session) -> SessionRef {
    SessionRef {
        pid: s.pid,
        role: s.role,
        name: s.name.clone(),
        query: s.query.clone(),
    }
}

/// Summarises the waits that overlap a step (`start_s..end_s`): how long the migration waited
/// and behind whom, and how the application queued. An application wait is behind the
/// migration when the migration's session is among those it waited for, as holder of the
/// conflicting lock or as an earlier waiter in the queue, whether or not the migration itself
/// waited.
pub(super) fn step_summary(waits: &[LockWait], start_s: f64, end_s: f64) -> StepLockSummary {
    let during: Vec<&LockWait> = waits
        .iter()
        .filter(|w| w.start_s < end_s && w.end_s > start_s)
        .collect();
    let migration: Vec<&&LockWait> = during
        .iter()
        .filter(|w| w.waiter.role == SessionRole::Migration)
        .collect();
    let app: Vec<&&LockWait> = during
        .iter()
        .filter(|w| w.waiter.role == SessionRole::Traffic)
        .collect();
    let behind_migration = app
        .iter()
        .filter(|w| {
            w.blocked_by
                .iter()
                .any(|b| b.role == SessionRole::Migration)
        })
        .count();
    let longest = migration
        .iter()
        .max_by(|a, b| a.duration_s.total_cmp(&b.duration_s));
    StepLockSummary {
        migration_wait_s: migration.iter().fold(0.0, |total, w| total + w.duration_s),
        migration_waited_for: longest.map(|w| {
            format!(
                "{} on {}",
                w.mode,
                w.relation.as_deref().unwrap_or(w.locktype.name())
            )
        }),
        blockers: longest.map(|w| w.blocked_by.clone()).unwrap_or_default(),
        app_waits: app.len() as u64,
        app_waits_behind_migration: behind_migration as u64,
        longest_app_wait_s: app.iter().map(|w| w.duration_s).fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::{LockMode, LockType};

    fn who(pid: i32, role: SessionRole) -> Session {
        Session {
            pid,
            role,
            name: None,
            query: None,
        }
    }

    fn sighting(waiter: Session, mode: LockMode, span: (f64, f64), by: Vec<Session>) -> Sighting {
        Sighting {
            waiter,
            locktype: LockType::Relation,
            mode,
            relation: Some("users".into()),
            start_s: span.0,
            end_s: span.1,
            blocked_by: by,
            samples: 3,
        }
    }

    #[test]
    fn logged_durations_replace_sampled_ones_and_missed_waits_are_added() {
        let sightings = [sighting(
            who(10, SessionRole::Traffic),
            LockMode::AccessShareLock,
            (1.0, 3.05),
            vec![who(20, SessionRole::Migration)],
        )];
        let logged = [
            LoggedWait {
                end_s: 3.0,
                pid: 10,
                mode: LockMode::AccessShareLock,
                locktype: LockType::Relation,
                relation: Some("users".into()),
                waited_s: 2.1,
                acquired: true,
                blocked_by: vec![20],
                in_database: true,
            },
            LoggedWait {
                end_s: 5.0,
                pid: 20,
                mode: LockMode::AccessExclusiveLock,
                locktype: LockType::Relation,
                relation: Some("users".into()),
                waited_s: 0.15,
                acquired: true,
                blocked_by: vec![40],
                in_database: true,
            },
        ];
        let waits = lock_waits(&sightings, &logged, Some(20));
        assert_eq!(waits.len(), 2);
        assert_eq!(waits[0].logged_duration_s, Some(2.1));
        assert!((waits[0].sampled_duration_s.unwrap() - 2.05).abs() < 1e-9);
        assert!((waits[0].start_s - 0.9).abs() < 1e-9);
        // The missed one knows its role from the blockers the sampler named.
        assert_eq!(waits[1].waiter.role, SessionRole::Migration);
        assert_eq!(waits[1].samples, 0);
        // Its blocker, named by pid in the log's DETAIL, was never sampled.
        assert_eq!(waits[1].blocked_by[0].pid, 40);
        assert_eq!(waits[1].blocked_by[0].role, SessionRole::Other);
    }

    #[test]
    fn a_wait_only_the_log_saw_is_behind_the_migration_it_names() {
        let logged = [LoggedWait {
            end_s: 3.0,
            pid: 10,
            mode: LockMode::RowExclusiveLock,
            locktype: LockType::Relation,
            relation: Some("users".into()),
            waited_s: 0.5,
            acquired: true,
            blocked_by: vec![20],
            in_database: true,
        }];
        let waits = lock_waits(&[], &logged, Some(20));
        assert_eq!(waits[0].blocked_by[0].role, SessionRole::Migration);
    }

    #[test]
    fn application_waits_behind_a_migration_that_holds_the_lock_are_counted() {
        // The migration never waited: it holds ACCESS EXCLUSIVE and the application queues.
        let sightings: Vec<Sighting> = (0..3)
            .map(|i| {
                sighting(
                    who(30 + i, SessionRole::Traffic),
                    LockMode::AccessShareLock,
                    (1.0, 2.0),
                    vec![who(20, SessionRole::Migration)],
                )
            })
            .collect();
        let waits = lock_waits(&sightings, &[], None);
        let summary = step_summary(&waits, 0.5, 2.5);
        assert_eq!(summary.app_waits, 3);
        assert_eq!(summary.app_waits_behind_migration, 3);
        assert_eq!(summary.migration_wait_s, 0.0);
    }
}
