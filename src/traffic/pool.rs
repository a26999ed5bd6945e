//! The connection pool's threads. Each connection gets an OS thread of its own (up to
//! [`MAX_THREADS`]; past that, connections share them round-robin), each thread with its own
//! single-threaded tokio runtime: a connection's socket, its driver task and its worker always
//! run on one thread, with no cross-thread wake-ups per operation (measured here: about 10 % more
//! throughput than one multi-threaded runtime).
//!
//! Why one thread per connection, not a few as `pgbench -j 2` does: a client thread and the
//! server backend it talks to wake each other on every operation, and the kernel runs such a
//! pair on one CPU when it can. With four connections on a thread, the thread's four backends
//! land on whatever CPUs the kernel gave them at fork, and the run keeps that placement: on
//! 2 cores, select-only at `rate = "max"` ran at about 100 k ops/s when each thread's backends
//! happened to share its CPU and 67–82 k when they were split (placement read from
//! `/proc/<pid>/stat` in 10 runs). The baseline then measured the placement, not the
//! application. With a thread per connection every pair can meet (`pgbench -j 8` against
//! `-j 2`, 6 interleaved rounds: 97–104 k every round against 83 k or 106–109 k).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::collector::Event;
use super::schedule::Op;
use super::worker::{self, Context, Source};
use crate::db::DbError;

/// The running pool.
pub(super) struct Pool {
    threads: Vec<std::thread::JoinHandle<()>>,
    abandon: CancellationToken,
}

/// The most threads a pool starts: enough for every connection of the scenarios we have seen,
/// few enough that a pool of thousands of connections does not start thousands of threads.
pub(super) const MAX_THREADS: usize = 64;

/// How many threads serve `connections` connections: one each, up to [`MAX_THREADS`].
pub(super) fn threads_for(connections: usize) -> usize {
    connections.clamp(1, MAX_THREADS)
}

/// Connects `connections` connections over [`threads_for`] threads and starts a worker on each.
/// Returns once every connection is up (or the first failure).
pub(super) async fn start(
    ctx: Arc<Context>,
    connections: usize,
    queue: Option<async_channel::Receiver<Op>>,
    events: mpsc::Sender<Event>,
    seed: u64,
) -> Result<Pool, DbError> {
    let abandon = CancellationToken::new();
    let threads = threads_for(connections);
    let mut handles = Vec::new();
    let mut ready = Vec::new();
    for t in 0..threads {
        // Connections t, t + threads, t + 2·threads, … run on thread t.
        let ids: Vec<u64> = (t..connections)
            .step_by(threads)
            .map(|i| i as u64)
            .collect();
        let (ctx, queue, events, stop) =
            (ctx.clone(), queue.clone(), events.clone(), abandon.clone());
        let (tx, rx) = oneshot::channel();
        ready.push(rx);
        let handle =
            match crate::db::spawn_with_own_runtime(format!("rehearse-traffic-{t}"), move |rt| {
                rt.block_on(run_thread(ctx, ids, queue, events, seed, stop, tx));
            }) {
                Ok(h) => h,
                Err(e) => {
                    abandon.cancel();
                    return Err(e);
                }
            };
        handles.push(handle);
    }
    let pool = Pool {
        threads: handles,
        abandon,
    };
    for rx in ready {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                pool.abandon.cancel();
                return Err(e);
            }
            Err(_) => {
                pool.abandon.cancel();
                return Err(DbError::Cluster {
                    what: "start a traffic thread".into(),
                    reason: "the thread ended before connecting".into(),
                });
            }
        }
    }
    Ok(pool)
}

async fn run_thread(
    ctx: Arc<Context>,
    ids: Vec<u64>,
    queue: Option<async_channel::Receiver<Op>>,
    events: mpsc::Sender<Event>,
    seed: u64,
    abandon: CancellationToken,
    ready: oneshot::Sender<Result<(), DbError>>,
) {
    let Some(clients) = connect_all(&ctx.config, &ctx.target, ids.len(), ready).await else {
        return;
    };
    let mut workers = tokio::task::JoinSet::new();
    for (id, (client, driver)) in ids.into_iter().zip(clients) {
        let source = match &queue {
            Some(q) => Source::Queue(q.clone()),
            None => Source::ClosedLoop,
        };
        workers.spawn(worker::run(
            ctx.clone(),
            id,
            seed,
            source,
            events.clone(),
            client,
            driver,
        ));
    }
    drop(queue);
    tokio::select! {
        () = async { while workers.join_next().await.is_some() {} } => {}
        () = abandon.cancelled() => workers.abort_all(),
    }
}

impl Pool {
    /// The pool of threads started elsewhere (a replay's), ended by `abandon`.
    pub(super) fn of_threads(
        threads: Vec<std::thread::JoinHandle<()>>,
        abandon: CancellationToken,
    ) -> Pool {
        Pool { threads, abandon }
    }

    /// Ends the workers now (their operations are abandoned).
    pub(super) fn abandon_now(self) {
        self.abandon.cancel();
    }

    /// Waits for the workers to finish their queued operations, up to `timeout`; then abandons
    /// what is left. Returns whether everything finished.
    pub(super) async fn join(self, timeout: Duration) -> bool {
        let Pool { threads, abandon } = self;
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        });
        tokio::pin!(joined);
        tokio::select! {
            _ = &mut joined => true,
            () = tokio::time::sleep(timeout) => {
                abandon.cancel();
                let _ = joined.await;
                false
            }
        }
    }
}

/// Opens `n` connections and tells `ready` whether they all came up (the first failure if
/// not); returns them, with the futures that drive their sockets, when they did.
pub(super) async fn connect_all(
    config: &tokio_postgres::Config,
    target: &str,
    n: usize,
    ready: oneshot::Sender<Result<(), DbError>>,
) -> Option<Vec<(tokio_postgres::Client, crate::db::Driver)>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        match crate::db::connect_undriven(config, target).await {
            Ok(c) => clients.push(c),
            Err(e) => {
                let _ = ready.send(Err(e));
                return None;
            }
        }
    }
    let _ = ready.send(Ok(()));
    Some(clients)
}
