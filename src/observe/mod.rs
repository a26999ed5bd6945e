//! Observers that watch the server while a strategy runs, on their own connections, and record
//! what they saw on the run's clock: the lock sampler (who waits for which lock, behind whom,
//! and index-build progress) and the server log's exact lock waits. Sessions are told apart by
//! the `application_name` rehearse sets on every connection it opens
//! ([`crate::pg::SessionRole`]). What they record is joined with the steps and the traffic by
//! the assembler.

mod locks;
mod record;
pub(crate) mod serverlog;

use std::path::Path;

pub(crate) use locks::{Sampled, Sampler};
pub(crate) use record::{ConnectionCount, LoggedWait, ProgressPhase, Session, Sighting};
pub(crate) use serverlog::parse as parse_server_log;

use crate::clock::RunClock;

/// The lock waits the server logged in `log` that ended after `since_s` (seconds on the run's
/// clock), in the database `client` is connected to, with relation names resolved through
/// `client`. Nothing when the log cannot be read.
pub(crate) async fn logged_waits(
    log: &Path,
    since_s: f64,
    clock: &RunClock,
    client: &tokio_postgres::Client,
) -> Vec<LoggedWait> {
    // The log is written by the server (local) or copied from the container: give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let Ok(text) = tokio::fs::read_to_string(log).await else {
        return Vec::new();
    };
    let database: Option<u32> = client
        .query_one(
            "SELECT oid FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .ok()
        .map(|r| r.get(0));
    let mut waits = Vec::new();
    for w in parse_server_log(&text) {
        let end_s = (w.at - clock.wall_start()).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let elsewhere = w.database_oid.is_some() && w.database_oid != database;
        if end_s < since_s || elsewhere {
            continue;
        }
        let relation = match w.relation_oid {
            Some(oid) => client
                .query_one("SELECT $1::oid::regclass::text", &[&oid])
                .await
                .ok()
                .map(|r| r.get::<_, String>(0)),
            None => None,
        };
        waits.push(LoggedWait {
            end_s,
            pid: w.pid,
            mode: w.mode,
            locktype: w.locktype,
            relation,
            waited_s: w.waited_s,
            acquired: w.acquired,
            blocked_by: w.blocked_by,
            in_database: w.database_oid.is_some(),
        });
    }
    waits
}
