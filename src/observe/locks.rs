//! The lock sampler: polls `pg_stat_activity` for sessions waiting on a lock (reading `pg_locks`
//! only when one does, as it locks the lock table's partitions) and asks `pg_blocking_pids()`
//! who they wait for (hard blocks: holders; soft blocks: earlier waiters in
//! the queue). `pg_blocking_pids` takes the lock manager's shared state briefly, so it is called
//! only for sessions whose `wait_event_type = 'Lock'`. The poll runs every 100 ms, and every
//! 20 ms while someone waits. Consecutive sightings of one wait (same pid, lock, relation) become
//! one [`Sighting`] with its start, end and blockers; its start comes from `pg_locks.waitstart`
//! where the server has it (PG 14+), so a wait's duration is exact at the start and within one
//! poll at the end. A session `pg_stat_activity` shows waiting whose ungranted `pg_locks` row is
//! gone by the time it is read (the wait just ended) is no wait to record: it is skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, Config};
use tokio_util::sync::CancellationToken;

use super::record::{ConnectionCount, ProgressPhase, Session, Sighting};
use crate::clock::RunClock;
use crate::pg::{LockMode, LockType, SessionRole};

const IDLE_POLL: Duration = Duration::from_millis(100);
const BUSY_POLL: Duration = Duration::from_millis(20);

/// A running sampler.
pub(crate) struct Sampler {
    /// Set while a migration step runs: index-build progress is read only then.
    pub step_running: Arc<AtomicUsize>,
    /// The longest lock wait of an application session going on at the last poll, µs (for
    /// backfill throttles).
    pub app_wait_us: Arc<AtomicU64>,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<Sampled>>,
}

/// What the sampler saw.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    /// Every lock wait, in order of start.
    pub waits: Vec<Sighting>,
    /// Index-build phases.
    pub phases: Vec<ProgressPhase>,
    /// Client connections open on the server: each change of the count, with when it was seen.
    pub connections: Vec<ConnectionCount>,
    /// `max_connections`, and the slots reserved for superusers, when they could be read.
    pub limits: Option<(u32, u32)>,
}

impl Drop for Sampler {
    /// A sampler dropped without [`Sampler::stop`] (an error path) stops polling all the same.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Cheap: reads only the backend status array. `pg_locks` (below) reads the whole lock table
/// under its partition locks, so it is queried only when this finds someone waiting.
/// It also counts the client connections open on the whole server (against `max_connections`).
const PROBE: &str = "
    SELECT count(*) FILTER (
             WHERE a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()),
           count(*) FILTER (WHERE a.backend_type = 'client backend')
      FROM pg_stat_get_activity(NULL) a";

/// The server's connection limit and the slots reserved for superusers (and, on 16+, for
/// roles with `pg_use_reserved_connections`).
const LIMITS: &str = "
    SELECT current_setting('max_connections')::int,
           current_setting('superuser_reserved_connections')::int
             + coalesce(current_setting('reserved_connections', true)::int, 0)";

const WAITERS: &str = "
    SELECT a.pid, a.application_name, left(a.query, 300), pg_blocking_pids(a.pid),
           l.locktype, l.mode, l.relation::regclass::text,
           extract(epoch FROM now() - (to_jsonb(l) ->> 'waitstart')::timestamptz)::float8,
           coalesce(l.transactionid::text, l.virtualxid, l.page || ',' || l.tuple,
                    l.classid || '/' || l.objid, '')
      FROM pg_stat_activity a
      JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
     WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
       AND a.pid <> pg_backend_pid()";

const SESSIONS: &str = "
    SELECT pid, application_name, left(query, 300), state
      FROM pg_stat_activity WHERE pid = ANY($1)";

/// Index builds in progress (CREATE INDEX [CONCURRENTLY], REINDEX), with their phase.
const PROGRESS: &str = "
    SELECT p.pid, a.application_name, p.phase, p.index_relid::regclass::text,
           p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
      FROM pg_stat_progress_create_index p
      JOIN pg_stat_activity a ON a.pid = p.pid
     WHERE p.datname = current_database()";

struct Open {
    wait: Sighting,
    last_seen_s: f64,
}

impl Sampler {
    /// Starts sampling the database `config` points at, on a thread of its own (like the traffic
    /// pool's, so its wake-ups never land on the threads that run traffic or the collector).
    pub(crate) async fn start(
        config: Config,
        target: String,
        clock: RunClock,
    ) -> Result<Sampler, crate::db::DbError> {
        let stop = CancellationToken::new();
        let step_running = Arc::new(AtomicUsize::new(0));
        let app_wait_us = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop2, running2, gauge) = (stop.clone(), step_running.clone(), app_wait_us.clone());
        let thread =
            crate::db::spawn_with_own_runtime("rehearse-lock-sampler".into(), move |rt| {
                rt.block_on(async move {
                    match crate::db::connect(&config, &target).await {
                        Ok(client) => {
                            let _ = ready_tx.send(Ok(()));
                            run(client, clock, stop2, running2, gauge).await
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            Sampled::default()
                        }
                    }
                })
            })?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(Sampler {
                step_running,
                app_wait_us,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(crate::db::DbError::Cluster {
                what: "start the lock sampler".into(),
                reason: "its thread ended".into(),
            }),
        }
    }

    /// Stops sampling and returns what it saw.
    pub(crate) async fn stop(mut self) -> Sampled {
        self.stop.cancel();
        let Some(thread) = self.thread.take() else {
            return Sampled::default();
        };
        tokio::task::spawn_blocking(move || thread.join().unwrap_or_default())
            .await
            .unwrap_or_default()
    }
}

async fn run(
    client: Client,
    clock: RunClock,
    stop: CancellationToken,
    step_running: Arc<AtomicUsize>,
    app_wait_us: Arc<AtomicU64>,
) -> Sampled {
    let limits = client.query_one(LIMITS, &[]).await.ok().map(|r| {
        let (max, reserved): (i32, i32) = (r.get(0), r.get(1));
        (max.max(0) as u32, reserved.max(0) as u32)
    });
    let mut connections: Vec<ConnectionCount> = Vec::new();
    let mut phases: Vec<ProgressPhase> = Vec::new();
    // A wait is one backend waiting for one lock: two waits of a session on different
    // transaction ids (or tuples, or objects) are two waits, however close.
    let mut open: BTreeMap<(i32, LockType, LockMode, Option<String>, String), Open> =
        BTreeMap::new();
    let mut done: Vec<Sighting> = Vec::new();
    let mut names: BTreeMap<i32, Session> = BTreeMap::new();
    loop {
        let now_s = clock.offset().as_secs_f64();
        let waiting = client.query_one(PROBE, &[]).await.map(|r| {
            let open = r.get::<_, i64>(1).max(0) as u32;
            if connections.last().is_none_or(|c| c.open != open) {
                connections.push(ConnectionCount { t_s: now_s, open });
            }
            r.get::<_, i64>(0)
        });
        let rows = match waiting {
            Ok(0) => Ok(Vec::new()),
            Ok(_) => client.query(WAITERS, &[]).await,
            Err(e) => Err(e),
        };
        // A failed poll sees nothing: it must not end the waits in progress.
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!("lock sampler: {e}");
                tokio::select! {
                    () = tokio::time::sleep(BUSY_POLL) => continue,
                    () = stop.cancelled() => break,
                }
            }
        };
        let mut blockers: Vec<i32> = rows
            .iter()
            .flat_map(|r| r.get::<_, Vec<i32>>(3))
            .filter(|pid| !names.contains_key(pid))
            .collect();
        blockers.sort_unstable();
        blockers.dedup();
        if !blockers.is_empty()
            && let Ok(found) = client.query(SESSIONS, &[&blockers]).await
        {
            for r in found {
                let pid: i32 = r.get(0);
                names.insert(pid, session(pid, r.get(1), r.get(2)));
            }
        }
        let mut seen = Vec::new();
        for r in &rows {
            let pid: i32 = r.get(0);
            let app: Option<String> = r.get(1);
            let query: Option<String> = r.get(2);
            // A lock type or mode the server names in a way this version does not know is no
            // wait to record (nor is a row without them).
            let (Some(locktype), Some(mode)) = (
                r.get::<_, Option<&str>>(4)
                    .and_then(|t| t.parse::<LockType>().ok()),
                r.get::<_, Option<&str>>(5)
                    .and_then(|m| m.parse::<LockMode>().ok()),
            ) else {
                continue;
            };
            let relation: Option<String> = r.get(6);
            let key = (pid, locktype, mode, relation.clone(), r.get::<_, String>(8));
            let waited_s: Option<f64> = r.get(7);
            let blocked_by: Vec<Session> = r
                .get::<_, Vec<i32>>(3)
                .into_iter()
                .map(|b| {
                    names.get(&b).cloned().unwrap_or(Session {
                        pid: b,
                        role: SessionRole::Other,
                        name: None,
                        query: None,
                    })
                })
                .collect();
            let entry = open.entry(key.clone()).or_insert_with(|| Open {
                wait: Sighting {
                    waiter: session(pid, app.clone(), query.clone()),
                    locktype,
                    mode,
                    relation,
                    start_s: waited_s.map_or(now_s, |w| (now_s - w).max(0.0)),
                    end_s: now_s,
                    blocked_by: Vec::new(),
                    samples: 0,
                },
                last_seen_s: now_s,
            });
            entry.last_seen_s = now_s;
            entry.wait.samples += 1;
            for b in blocked_by {
                if !entry.wait.blocked_by.iter().any(|x| x.pid == b.pid) {
                    entry.wait.blocked_by.push(b);
                }
            }
            seen.push(key);
        }
        // Waits not seen in this poll have ended.
        let ended: Vec<_> = open.keys().filter(|k| !seen.contains(k)).cloned().collect();
        for key in ended {
            if let Some(o) = open.remove(&key) {
                done.push(finish(o, now_s));
            }
        }
        let longest = open
            .values()
            .filter(|o| o.wait.waiter.role == SessionRole::Traffic)
            .map(|o| ((now_s - o.wait.start_s).max(0.0) * 1e6) as u64)
            .max()
            .unwrap_or(0);
        app_wait_us.store(longest, Ordering::Relaxed);
        // Index-build phases are timed when the progress view is read, not at the poll's start.
        let progress_s = clock.offset().as_secs_f64();
        let running = step_running.load(Ordering::Relaxed);
        let progress = if running > 0 {
            client.query(PROGRESS, &[]).await
        } else {
            Ok(Vec::new())
        };
        if let Ok(rows) = progress {
            for r in rows {
                let pid: i32 = r.get(0);
                let phase: String = r.get(2);
                let latest = phases.iter_mut().rev().find(|p| p.pid == pid);
                match latest {
                    // The same phase of the same step goes on; another step's is a new phase.
                    Some(p) if p.phase == phase && p.step == Some(running) => {
                        p.last_s = progress_s;
                        p.blocks_done = r.get(4);
                        p.tuples_done = r.get(6);
                    }
                    _ => phases.push(ProgressPhase {
                        pid,
                        role: SessionRole::of(&r.get::<_, Option<String>>(1).unwrap_or_default()),
                        index: r.get(3),
                        phase,
                        step: Some(running),
                        first_s: progress_s,
                        last_s: progress_s,
                        blocks_done: r.get(4),
                        blocks_total: r.get(5),
                        tuples_done: r.get(6),
                        tuples_total: r.get(7),
                    }),
                }
            }
        }
        let pause = if open.is_empty() {
            IDLE_POLL
        } else {
            BUSY_POLL
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => break,
        }
    }
    let now_s = clock.offset().as_secs_f64();
    done.extend(open.into_values().map(|o| finish(o, now_s)));
    done.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Sampled {
        waits: done,
        phases,
        connections,
        limits,
    }
}

/// A wait last seen at `last_seen_s` ended somewhere before `gone_s`: take the midpoint.
fn finish(o: Open, gone_s: f64) -> Sighting {
    let mut wait = o.wait;
    wait.end_s = f64::midpoint(o.last_seen_s, gone_s).max(wait.start_s);
    wait
}

fn session(pid: i32, app: Option<String>, query: Option<String>) -> Session {
    let app = app.unwrap_or_default();
    let name = app
        .strip_prefix(SessionRole::BACKGROUND_PREFIX)
        .map(str::to_owned)
        .or_else(|| (!app.is_empty()).then(|| app.clone()));
    Session {
        pid,
        role: SessionRole::of(&app),
        name,
        query,
    }
}
