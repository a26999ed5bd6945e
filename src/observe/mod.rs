//! Observers that watch the server while a strategy runs, on their own connections: the lock
//! sampler (who waits for which lock, behind whom). Sessions are told apart by their
//! `application_name`, which rehearse sets on every connection it opens.

mod locks;
mod serverlog;

pub use locks::{Sampler, step_waits};
pub use serverlog::{LoggedWait, parse as parse_server_log};

use crate::clock::RunClock;
use crate::report::{LockWait, SessionRef};

/// Folds the server log's exact waits into the sampler's: a sampled wait of the same backend and
/// mode that ended within a second of the logged one takes the logged duration; a logged wait
/// the sampler missed is added (with `samples = 0`). `relation_name` resolves a relation oid.
pub fn reconcile(
    waits: &mut Vec<LockWait>,
    logged: &[LoggedWait],
    clock: &RunClock,
    relation_name: impl Fn(u32) -> Option<String>,
) {
    for l in logged {
        let end_s = (l.at - clock.wall_start()).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let matched = waits
            .iter_mut()
            .filter(|w| w.waiter.pid == l.pid && w.mode == l.mode)
            .min_by(|a, b| (a.end_s - end_s).abs().total_cmp(&(b.end_s - end_s).abs()))
            .filter(|w| (w.end_s - end_s).abs() < 1.0);
        match matched {
            Some(w) => {
                w.sampled_duration_s = Some(w.duration_s);
                w.logged_duration_s = Some(l.waited_s);
                w.duration_s = l.waited_s;
                w.start_s = end_s - l.waited_s;
                w.end_s = end_s;
            }
            None => {
                let waiter = waits
                    .iter()
                    .flat_map(|w| std::iter::once(&w.waiter).chain(&w.blocked_by))
                    .find(|s| s.pid == l.pid)
                    .cloned()
                    .unwrap_or(SessionRef {
                        pid: l.pid,
                        role: "other".into(),
                        name: None,
                        query: None,
                    });
                waits.push(LockWait {
                    waiter,
                    locktype: if l.relation_oid.is_some() {
                        "relation".into()
                    } else {
                        l.object.split_whitespace().next().unwrap_or("").into()
                    },
                    mode: l.mode.clone(),
                    relation: l.relation_oid.and_then(&relation_name),
                    start_s: end_s - l.waited_s,
                    end_s,
                    duration_s: l.waited_s,
                    logged_duration_s: Some(l.waited_s),
                    sampled_duration_s: None,
                    blocked_by: Vec::new(),
                    samples: 0,
                });
            }
        }
    }
    waits.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
}

/// `application_name` of the connection that runs the migration steps.
pub const MIGRATION: &str = "rehearse migration";
/// `application_name` of traffic connections.
pub const TRAFFIC: &str = "rehearse traffic";
/// `application_name` prefix of background sessions (followed by the session's name).
pub const BACKGROUND: &str = "rehearse background: ";
/// `application_name` of observer connections.
pub const OBSERVER: &str = "rehearse observer";

/// The role of a session, from its `application_name`.
pub fn role_of(application_name: &str) -> &'static str {
    if application_name == MIGRATION {
        "migration"
    } else if application_name == TRAFFIC {
        "traffic"
    } else if application_name.starts_with(BACKGROUND) {
        "background"
    } else if application_name == OBSERVER {
        "observer"
    } else {
        "other"
    }
}
