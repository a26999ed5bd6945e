//! A connection worker: one connection running one operation at a time, like a pooled
//! connection of the application. It prepares statements once and caches them, re-prepares a
//! statement the server invalidated (SQLSTATE 0A000, "cached plan must not change result type")
//! as drivers do, reconnects when the connection is lost, and reports every operation to the
//! collector.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio_postgres::{Client, Config, Statement};

use super::collector::{Event, Failure, Sample};
use super::params::ParamSource;
use super::schedule::{Mix, Op, Shared, Slot};
use crate::clock::RunClock;
use crate::pg::ErrorClass;
use crate::scenario::QueryPlan;
use crate::values::Value;

/// What every worker shares.
pub(super) struct Context {
    /// Where to connect.
    pub config: Config,
    /// Shown in errors.
    pub target: String,
    /// The queries.
    pub queries: Vec<QueryPlan>,
    /// Per query, per parameter.
    pub params: Vec<Vec<ParamSource>>,
    /// The run's clock.
    pub clock: RunClock,
    /// Phase, stop flag, counters.
    pub shared: Arc<Shared>,
    /// The mix, for closed-loop (`rate = "max"`) workers that pick their own operations.
    pub mix: Mix,
    /// During the warm-up, the pause between one connection's operations that keeps the pool
    /// at the scenario's rate (none for `rate = "max"`).
    pub warmup_gap: Option<Duration>,
}

/// Where a worker's operations come from.
pub(super) enum Source {
    /// The open-loop schedule's queue.
    Queue(async_channel::Receiver<Op>),
    /// Back to back, picked by the worker (`rate = "max"`).
    ClosedLoop,
}

/// Samples are sent in batches of up to this many (each send may wake the collector's thread:
/// at tens of thousands of operations a second, fewer sends leave more CPU to the server)…
const BATCH: usize = 256;
/// …or, when an operation completes, once the oldest has waited this long (µs), half the
/// shortest time-series interval (an interval is closed a whole interval after its end). While
/// an operation runs long, the ticker asks for them ([`flush_requested`]): a timer of the
/// connection's own would make every wait for the server arm a kernel timer.
const BATCH_AGE_US: u64 = 50_000;

/// The connection and what runs on it.
struct Conn {
    ctx: Arc<Context>,
    client: Option<Client>,
    statements: Vec<Option<Vec<Statement>>>,
    rng: ChaCha8Rng,
    /// Raw parameter values of the current operation (reused).
    raw: Vec<Value>,
    /// Those values coerced to a statement's parameter types (reused).
    bound: Vec<Value>,
}

/// Samples on their way to the collector.
struct Outbox {
    pending: Vec<Sample>,
    events: mpsc::Sender<Event>,
}

impl Outbox {
    fn new(events: mpsc::Sender<Event>) -> Outbox {
        Outbox {
            pending: Vec::with_capacity(BATCH),
            events,
        }
    }

    async fn flush(&mut self) {
        if !self.pending.is_empty() {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
            let _ = self.events.send(Event::Samples(batch)).await;
        }
    }
}

/// Ready once the ticker has asked `slot`'s connection to send its samples (clearing the
/// request): an atomic flag and a registered waker, no timer. The worker's waker never changes,
/// so it is registered again only after the ticker took it to wake the worker (`registered`
/// says whether it is still there: the ticker sets the flag before taking it).
fn flush_requested<'a>(slot: &'a Slot, registered: &'a mut bool) -> impl Future<Output = ()> + 'a {
    std::future::poll_fn(move |cx| {
        if !slot.flush.load(Ordering::Acquire) {
            if *registered {
                return std::task::Poll::Pending;
            }
            slot.flush_waker.register(cx.waker());
            *registered = true;
            if !slot.flush.load(Ordering::Acquire) {
                return std::task::Poll::Pending;
            }
        }
        slot.flush.store(false, Ordering::Relaxed);
        *registered = false;
        std::task::Poll::Ready(())
    })
}

struct Worker {
    id: usize,
    ctx: Arc<Context>,
    conn: Conn,
    /// The connection's socket, polled here rather than in a task of its own: one task wake-up
    /// less per operation.
    driver: Option<crate::db::Driver>,
    outbox: Outbox,
    /// Whether its waker is registered for the ticker's flush requests.
    flush_registered: bool,
}

/// Runs one connection until its source ends (queue closed and drained, or stop for closed loop).
pub(super) async fn run(
    ctx: Arc<Context>,
    id: u64,
    seed: u64,
    source: Source,
    events: mpsc::Sender<Event>,
    client: Client,
    driver: crate::db::Driver,
) {
    let mut worker = Worker {
        id: id as usize,
        conn: Conn {
            statements: vec![None; ctx.queries.len()],
            ctx: ctx.clone(),
            client: Some(client),
            rng: ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            raw: Vec::new(),
            bound: Vec::new(),
        },
        ctx,
        driver: Some(driver),
        outbox: Outbox::new(events),
        flush_registered: false,
    };
    worker.warm_up().await;
    match source {
        Source::Queue(ops) => {
            while let Ok(op) = ops.recv().await {
                let sent_us = worker.ctx.clock.offset().as_micros() as u64;
                worker.run_op(op, sent_us).await;
                // An idle pool sends at once, so low-rate runs report promptly.
                if ops.is_empty() {
                    worker.outbox.flush().await;
                }
            }
        }
        Source::ClosedLoop => {
            let shared = worker.ctx.shared.clone();
            while !shared.stop.load(Ordering::Relaxed) {
                let now = worker.ctx.clock.offset().as_micros() as u64;
                let version = shared.version_at(now, &mut worker.conn.rng);
                let op = Op {
                    intended_us: now,
                    query: worker.ctx.mix.pick(version, &mut worker.conn.rng),
                    phase: shared.phase.load(Ordering::Relaxed) as u16,
                };
                shared.slots[id as usize]
                    .scheduled
                    .fetch_add(1, Ordering::Relaxed);
                // Sent as soon as picked: the time read above serves as both.
                worker.run_op(op, now).await;
            }
        }
    }
    worker.outbox.flush().await;
    // Closing the client ends its connection: let the driver say goodbye to the server.
    worker.conn.client = None;
    if let Some(driver) = worker.driver.take() {
        let _ = tokio::time::timeout(Duration::from_secs(5), driver).await;
    }
}

/// Polls `driver` (while it lasts) alongside `work`, until `work` is done.
async fn driving<T>(driver: &mut Option<crate::db::Driver>, work: impl Future<Output = T>) -> T {
    tokio::pin!(work);
    loop {
        let Some(d) = driver.as_mut() else {
            return work.await;
        };
        tokio::select! {
            biased;
            () = d => *driver = None,
            out = &mut work => return out,
        }
    }
}

impl Worker {
    /// Runs the mix at the scenario's rate (back to back for `rate = "max"`), unmeasured, while
    /// the pool warms up: the fresh copy's pages come into shared buffers and every statement
    /// gets prepared.
    async fn warm_up(&mut self) {
        let shared = self.ctx.shared.clone();
        while shared.warming.load(Ordering::Relaxed) && !shared.stop.load(Ordering::Relaxed) {
            let now = self.ctx.clock.offset().as_micros() as u64;
            let version = shared.version_at(now, &mut self.conn.rng);
            let query = self.ctx.mix.pick(version, &mut self.conn.rng);
            let failure = driving(&mut self.driver, self.conn.execute(query as usize))
                .await
                .0
                .err();
            let failed = failure.is_some();
            if failure.is_some_and(|f| f.class == ErrorClass::Connection) {
                self.reconnect().await;
            }
            // At the scenario's rate, not faster (a failing query warms nothing: no spinning).
            let gap = self.ctx.warmup_gap.unwrap_or_default();
            let gap = if failed {
                gap.max(Duration::from_millis(10))
            } else {
                gap
            };
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
        }
    }

    /// Replaces a lost connection (and its driver), retrying with backoff until stopped.
    async fn reconnect(&mut self) {
        let conn = &mut self.conn;
        conn.client = None;
        self.driver = None;
        conn.statements.iter_mut().for_each(|s| *s = None);
        let mut backoff = Duration::from_millis(50);
        while !self.ctx.shared.stop.load(Ordering::Relaxed) {
            if let Ok((client, driver)) =
                crate::db::connect_undriven(&self.ctx.config, &self.ctx.target).await
            {
                conn.client = Some(client);
                self.driver = Some(driver);
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Runs `op`, sent at `sent_us`, and records it.
    async fn run_op(&mut self, op: Op, sent_us: u64) {
        // Borrowed, not cloned: an Arc's count is a cache line every connection writes.
        let slot = &self.ctx.shared.slots[self.id];
        slot.busy.store(true, Ordering::Relaxed);
        // While a slow operation runs (a lock wait), send what is pending so the time series
        // is not held back by it. The operation is pinned here, once: moved into the futures
        // below, its state would be copied at each level, on every operation.
        let (result, reprepared) = {
            let mut execute = std::pin::pin!(self.conn.execute(op.query as usize));
            let (outbox, registered) = (&mut self.outbox, &mut self.flush_registered);
            driving(&mut self.driver, async {
                loop {
                    tokio::select! {
                        biased;
                        done = &mut execute => break done,
                        () = flush_requested(slot, &mut *registered), if !outbox.pending.is_empty() => outbox.flush().await,
                    }
                }
            })
            .await
        };
        let done_us = self.ctx.clock.offset().as_micros() as u64;
        slot.busy.store(false, Ordering::Relaxed);
        let failure = result.err();
        let lost = failure
            .as_ref()
            .is_some_and(|f| f.class == ErrorClass::Connection);
        let sample = Sample {
            query: op.query,
            phase: op.phase,
            intended_us: op.intended_us,
            sent_us,
            done_us,
            failure: failure.map(Box::new),
            reprepared,
        };
        self.outbox.pending.push(sample);
        let oldest = self.outbox.pending[0].done_us;
        let full = self.outbox.pending.len() >= BATCH;
        if full || done_us.saturating_sub(oldest) >= BATCH_AGE_US || lost {
            self.outbox.flush().await;
        }
        if lost {
            self.reconnect().await;
        }
    }
}

impl Conn {
    /// Runs query `q` once, re-preparing and retrying once if its cached plan was invalidated.
    async fn execute(&mut self, q: usize) -> (Result<(), Failure>, bool) {
        match self.try_execute(q).await {
            Err(e) if is_stale_plan(&e) => {
                self.statements[q] = None;
                (self.try_execute(q).await.map_err(|e| failure(&e)), true)
            }
            other => (other.map_err(|e| failure(&e)), false),
        }
    }

    async fn try_execute(&mut self, q: usize) -> Result<(), Execute> {
        let Some(client) = self.client.as_mut() else {
            return Err(Execute::NoConnection);
        };
        if self.statements[q].is_none() {
            let mut prepared = Vec::new();
            for sql in &self.ctx.queries[q].statements {
                prepared.push(client.prepare(sql).await.map_err(Execute::Db)?);
            }
            self.statements[q] = Some(prepared);
        }
        let statements = self.statements[q].as_ref().expect("prepared above");
        let query = &self.ctx.queries[q];
        let (raw, bound) = (&mut self.raw, &mut self.bound);
        raw.clear();
        raw.extend(self.ctx.params[q].iter().map(|p| p.draw(&mut self.rng)));
        if !query.transaction {
            bind(&statements[0], raw, bound)?;
            client
                .execute_raw(&statements[0], bound.iter())
                .await
                .map_err(Execute::Db)?;
            return Ok(());
        }
        let tx = client.transaction().await.map_err(Execute::Db)?;
        for (i, statement) in statements.iter().enumerate() {
            if i > 0 && !query.think.is_zero() {
                tokio::time::sleep(query.think).await;
            }
            bind(statement, raw, bound)?;
            tx.execute_raw(statement, bound.iter())
                .await
                .map_err(Execute::Db)?;
        }
        tx.commit().await.map_err(Execute::Db)
    }
}

/// Why an attempt failed.
enum Execute {
    Db(tokio_postgres::Error),
    Params { needed: usize, given: usize },
    NoConnection,
}

/// The first k raw values, coerced to the statement's k parameter types, into `bound`.
fn bind(statement: &Statement, raw: &[Value], bound: &mut Vec<Value>) -> Result<(), Execute> {
    let types = statement.params();
    if types.len() > raw.len() {
        return Err(Execute::Params {
            needed: types.len(),
            given: raw.len(),
        });
    }
    bound.clear();
    bound.extend(types.iter().zip(raw).map(|(ty, v)| v.clone().coerce(ty)));
    Ok(())
}

fn is_stale_plan(e: &Execute) -> bool {
    matches!(e, Execute::Db(db) if db.code() == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED))
}

fn failure(e: &Execute) -> Failure {
    match e {
        Execute::Db(db) => {
            let sqlstate = db.code().map(|c| c.code().to_owned());
            Failure {
                class: ErrorClass::of(sqlstate.as_deref(), db.is_closed()),
                sqlstate,
                message: crate::pg::describe(db),
            }
        }
        Execute::Params { needed, given } => Failure {
            class: ErrorClass::Other,
            sqlstate: None,
            message: format!("the statement takes {needed} parameters; the scenario gives {given}"),
        },
        Execute::NoConnection => Failure {
            class: ErrorClass::Connection,
            sqlstate: None,
            message: "no connection (reconnecting)".into(),
        },
    }
}
