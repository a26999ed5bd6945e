//! Application traffic: the application's queries replayed at a fixed arrival rate over a pool of
//! connections while the migration runs, measured without coordinated omission.
//!
//! [`start`] checks the traffic against the seeded schema (every query of the starting app
//! version must prepare, with the right parameter count; every key must exist and have rows),
//! connects the pool, and starts the scheduler, the workers, the collector and the background
//! sessions. [`Traffic::set_phase`] and [`Traffic::deploy`] are called by the migration;
//! [`Traffic::stop`] stops scheduling, lets queued operations finish (or abandons them after a
//! timeout, counted), and returns what it recorded. Latency is completion − intended start; service
//! time is completion − actual send.

mod background;
mod by_start;
mod collector;
mod params;
mod pool;
mod record;
mod replay;
mod schedule;
mod surge;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::db::{DbError, Server};
use crate::scenario::{ParamPlan, PhaseKind, Rate, TrafficPlan};
use crate::values::{Pick, load_key_pool};
use collector::{Collector, Event};
use params::ParamSource;
use schedule::{Mix, Shared};

pub(crate) use record::{Book, TrafficRecord};

/// Problems found before traffic starts.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// A query of the starting app version does not prepare.
    #[error(
        "failed to prepare traffic query `{query}` (traffic.query[{index}], app version \
         {version}) against the seeded schema: {message}"
    )]
    Prepare {
        /// Query name.
        query: String,
        /// Its index.
        index: usize,
        /// The version checked.
        version: String,
        /// The server's message.
        message: String,
    },
    /// Parameter count mismatch.
    #[error(
        "traffic query `{query}` (traffic.query[{index}].params): statement {statement} takes \
         {needed} parameter(s) but {given} are given"
    )]
    Params {
        /// Query name.
        query: String,
        /// Its index.
        index: usize,
        /// 1-based statement number.
        statement: usize,
        /// Parameters the statement takes.
        needed: usize,
        /// Parameters the scenario gives.
        given: usize,
    },
    /// A key parameter names a missing table or column, or one with no rows.
    #[error(
        "traffic query `{query}` (traffic.query[{index}].params[{param}]): key `{key}`: {message}"
    )]
    Key {
        /// Query name.
        query: String,
        /// Its index.
        index: usize,
        /// Parameter index.
        param: usize,
        /// `table.column`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The pool could not connect.
    #[error(transparent)]
    Connect(#[from] DbError),
}

/// Running traffic.
pub(crate) struct Traffic {
    plan: TrafficPlan,
    shared: Arc<Shared>,
    clock: RunClock,
    events: Option<mpsc::Sender<Event>>,
    scheduler: Option<std::thread::JoinHandle<()>>,
    queue: Option<async_channel::Receiver<schedule::Op>>,
    pool: Option<pool::Pool>,
    ticker: tokio::task::JoinHandle<()>,
    collector: Option<tokio::task::JoinHandle<Collector>>,
    background: Option<background::Sessions>,
    recent_p99_us: Arc<std::sync::atomic::AtomicU64>,
    started: Duration,
    /// Fired on stop: replayed sessions waiting for their next statement end.
    replay_stopping: Option<CancellationToken>,
    /// Where a deploy's new connections connect.
    config: tokio_postgres::Config,
    /// Deploys' connection surges, in order.
    surges: std::sync::Mutex<Vec<surge::Surge>>,
}

/// Checks the traffic against the seeded database `dbname` and starts it. `phases` names the
/// phases in order (baseline, each step, recovery) with their kinds.
pub(crate) async fn start(
    server: &Server,
    dbname: &str,
    plan: &TrafficPlan,
    phases: Vec<(String, PhaseKind)>,
    clock: RunClock,
    seed: u64,
) -> Result<Traffic, TrafficError> {
    if let Some(replay) = &plan.replay {
        return start_replay(server, dbname, plan, replay, phases, clock).await;
    }
    let check = server.connect(dbname).await?;
    let params = resolve_params(&check, plan).await?;
    check_queries(&check, plan).await?;
    drop(check);

    let versions: Vec<String> = std::iter::once(plan.initial_app.clone())
        .chain(
            plan.queries
                .iter()
                .flat_map(|q| q.apps.clone().unwrap_or_default()),
        )
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let initial = versions
        .iter()
        .position(|v| v == &plan.initial_app)
        .unwrap_or(0);
    let shared = Arc::new(Shared::new(plan.connections, versions.clone(), initial));
    let ctx = Arc::new(worker::Context {
        config: server.config_as(dbname, crate::pg::SessionRole::TRAFFIC_APP),
        target: server.target.clone(),
        queries: plan.queries.clone(),
        params,
        clock,
        shared: shared.clone(),
        mix: Mix::new(&plan.queries, &versions),
        warmup_gap: match plan.rate {
            Rate::PerSecond(r) => Some(Duration::from_secs_f64(plan.connections as f64 / r)),
            Rate::Max => None,
        },
    });

    let (events, rx) = mpsc::channel(65_536);
    // A minute of operations may wait for a connection (a long lock wait queues them); beyond
    // that, operations are dropped and counted, so memory stays bounded.
    let capacity = match plan.rate {
        Rate::PerSecond(r) => (r * 60.0).clamp(10_000.0, 2_000_000.0) as usize,
        Rate::Max => 1,
    };
    let (queue_tx, queue_rx) = async_channel::bounded(capacity);
    // Connect the whole pool before the first operation is due; its workers warm the fresh copy
    // of the data (unmeasured) until the warm-up ends.
    shared
        .warming
        .store(!plan.warmup.is_zero(), Ordering::Relaxed);
    let queue = matches!(plan.rate, Rate::PerSecond(_)).then(|| queue_rx.clone());
    let pool = pool::start(ctx.clone(), plan.connections, queue, events.clone(), seed).await?;
    if !plan.warmup.is_zero() {
        tokio::time::sleep(plan.warmup).await;
        shared.warming.store(false, Ordering::Relaxed);
    }

    let start_us = clock.offset().as_micros() as u64;
    let query_names = plan.queries.iter().map(|q| q.name.clone()).collect();
    let interval_us = plan.interval.as_micros() as u64;
    let recent_p99_us = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let collector = Collector::new(
        query_names,
        phases,
        interval_us,
        start_us,
        recent_p99_us.clone(),
    );
    let collector = collect(collector, rx, &events, start_us).await;

    let scheduler = match plan.rate {
        Rate::PerSecond(rate) => {
            let (shared, ctx, arrival) = (shared.clone(), ctx.clone(), plan.arrival);
            Some(
                std::thread::Builder::new()
                    .name("rehearse-scheduler".into())
                    .spawn(move || {
                        schedule::run(&shared, &ctx.mix, rate, arrival, clock, queue_tx, seed);
                    })
                    .expect("spawn the scheduler thread"),
            )
        }
        Rate::Max => None,
    };
    let ticker = tokio::spawn(tick(
        events.clone(),
        shared.clone(),
        queue_rx.clone(),
        clock,
        plan.interval.min(Duration::from_millis(100)),
    ));
    let background = background::Sessions::start(
        server.config_as(dbname, crate::pg::SessionRole::BACKGROUND_PREFIX),
        server.target.clone(),
        &plan.background,
        clock,
        Duration::from_micros(start_us),
    );
    Ok(Traffic {
        plan: plan.clone(),
        shared,
        clock,
        events: Some(events),
        scheduler,
        queue: Some(queue_rx),
        pool: Some(pool),
        ticker,
        collector: Some(collector),
        background: Some(background),
        recent_p99_us,
        started: Duration::from_micros(start_us),
        replay_stopping: None,
        config: server.config_as(dbname, crate::pg::SessionRole::TRAFFIC_APP),
        surges: std::sync::Mutex::default(),
    })
}

/// Starts replaying a captured log instead of the scenario's queries: a connection per
/// captured session, each statement at its offset.
async fn start_replay(
    server: &Server,
    dbname: &str,
    plan: &TrafficPlan,
    replay: &crate::scenario::ReplayPlan,
    phases: Vec<(String, PhaseKind)>,
    clock: RunClock,
) -> Result<Traffic, TrafficError> {
    let sessions = replay.capture.sessions.len();
    let shared = Arc::new(Shared::new(sessions, vec![plan.initial_app.clone()], 0));
    let (events, rx) = mpsc::channel(65_536);
    let recent_p99_us = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let query_names = crate::pg::capture::Kind::ALL
        .iter()
        .map(|k| k.name().to_owned())
        .collect();
    let interval_us = plan.interval.as_micros() as u64;
    let stopping = CancellationToken::new();
    // Every session connects first; the capture's time starts once all have.
    let ctx = Arc::new(replay::Context {
        config: server.config_as(dbname, crate::pg::SessionRole::TRAFFIC_APP),
        target: server.target.clone(),
        clock,
        shared: shared.clone(),
        start_us: std::sync::atomic::AtomicU64::new(0),
        go: CancellationToken::new(),
        plan: replay.clone(),
        stopping: stopping.clone(),
    });
    let pool = replay::start(ctx.clone(), events.clone()).await?;
    let start_us = clock.offset().as_micros() as u64 + 10_000;
    ctx.start_us.store(start_us, Ordering::Relaxed);
    let collector = Collector::new(
        query_names,
        phases,
        interval_us,
        start_us,
        recent_p99_us.clone(),
    );
    let collector = collect(collector, rx, &events, start_us).await;
    ctx.go.cancel();
    let (_, queue_rx) = async_channel::bounded(1);
    let ticker = tokio::spawn(tick(
        events.clone(),
        shared.clone(),
        queue_rx.clone(),
        clock,
        plan.interval.min(Duration::from_millis(100)),
    ));
    let background = background::Sessions::start(
        server.config_as(dbname, crate::pg::SessionRole::BACKGROUND_PREFIX),
        server.target.clone(),
        &plan.background,
        clock,
        Duration::from_micros(start_us),
    );
    Ok(Traffic {
        plan: plan.clone(),
        shared,
        clock,
        events: Some(events),
        scheduler: None,
        queue: Some(queue_rx),
        pool: Some(pool),
        ticker,
        collector: Some(collector),
        background: Some(background),
        recent_p99_us,
        started: Duration::from_micros(start_us),
        replay_stopping: Some(stopping),
        config: server.config_as(dbname, crate::pg::SessionRole::TRAFFIC_APP),
        surges: std::sync::Mutex::default(),
    })
}

impl Traffic {
    /// Marks the start of phase `index` (0 baseline, 1..=n steps, n+1 recovery).
    pub(crate) fn set_phase(&self, index: usize) {
        self.shared.phase.store(index, Ordering::Relaxed);
        let at_us = self.clock.offset().as_micros() as u64;
        if let Some(events) = &self.events {
            let _ = events.try_send(Event::Phase { index, at_us });
        }
    }

    /// The p99 latency of the last time-series interval that had completions (for throttles).
    pub(crate) fn recent_p99(&self) -> Option<Duration> {
        match self.recent_p99_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Deploys `version`: at once, or shifting operations to it linearly over `over`, with
    /// `connections` more connections open while the rollout lasts (the new version's pools
    /// beside the old's). The plan was validated, so every deployed version is one the queries
    /// name.
    pub(crate) fn deploy(&self, version: &str, over: Duration, connections: usize) {
        let Some(index) = self.shared.versions.iter().position(|v| v == version) else {
            tracing::warn!("deploy of unknown app version {version} ignored");
            return;
        };
        let now = self.clock.offset().as_micros() as u64;
        self.shared.deploy(index, now, over.as_micros() as u64);
        if connections > 0
            && !over.is_zero()
            && let Some(events) = &self.events
        {
            let plan = surge::SurgePlan {
                config: self.config.clone(),
                version: version.to_owned(),
                connections,
                start_us: now,
                over,
            };
            let started = surge::Surge::start(plan, self.clock, events.clone());
            self.surges.lock().expect("surges lock").push(started);
        }
    }

    /// How long the rollout in progress (a deploy with `wait = false`) goes on.
    pub(crate) fn rollout_left(&self) -> Duration {
        let now = self.clock.offset().as_micros() as u64;
        self.shared.rollout_end_us().map_or(Duration::ZERO, |end| {
            Duration::from_micros(end.saturating_sub(now))
        })
    }

    /// When traffic started, on the run's clock: the origin of background sessions' `start`
    /// and of steps' `at`.
    pub(crate) fn started(&self) -> Duration {
        self.started
    }

    /// Stops scheduling, lets started operations finish (up to a timeout) and background
    /// sessions still running end (up to a cap, or until `interrupt` fires), and returns what
    /// was recorded.
    pub(crate) async fn stop(mut self, interrupt: &CancellationToken) -> TrafficRecord {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(stopping) = &self.replay_stopping {
            stopping.cancel();
        }
        if let Some(scheduler) = self.scheduler.take() {
            let _ = tokio::task::spawn_blocking(move || scheduler.join()).await;
        }
        let drained = match self.pool.take() {
            Some(pool) => pool.join(self.plan.drain).await,
            None => true,
        };
        if !drained {
            tracing::warn!(
                "traffic: operations still queued or running {:?} after the traffic ended (drain); abandoned them",
                self.plan.drain
            );
        }
        drop(self.queue.take());
        let surges = std::mem::take(&mut *self.surges.lock().expect("surges lock"));
        let mut surged = 0;
        for s in surges {
            surged += s.end().await;
        }
        self.ticker.abort();
        let end_us = self.clock.offset().as_micros() as u64;
        let background = match self.background.take() {
            Some(b) => b.finish(background::CAP, interrupt).await,
            None => Vec::new(),
        };
        drop(self.events.take());
        let mut collector = self
            .collector
            .take()
            .expect("stop runs once")
            .await
            .expect("collector task");
        let (plan, shared) = (&self.plan, &self.shared);
        let scheduled = shared.scheduled();
        let dropped = *shared.dropped.lock().expect("dropped lock");
        collector.dropped(dropped.count, dropped.first_us, dropped.last_us);
        let abandoned = scheduled.saturating_sub(collector.recorded());
        collector.abandon(abandoned, end_us);
        let c = collector.finish(end_us);
        TrafficRecord {
            rate: plan.rate,
            arrival: plan.arrival,
            connections: plan.connections,
            interval: plan.interval,
            warmup: plan.warmup,
            scheduled,
            succeeded: c.succeeded,
            failed: c.failed,
            abandoned,
            dropped: dropped.count,
            reprepared: c.reprepared,
            surged,
            refused: c.refused,
            lateness: c.lateness,
            phases: c.phases,
            series: c.series,
            by_start: c.by_start,
            by_start_bucket: Duration::from_micros(collector::BY_START_BUCKET_US),
            errors: c.errors,
            background,
            replay: plan.replay.as_ref().map(|r| record::ReplayRecord {
                capture: r.path.clone(),
                captured: r.captured,
                sessions: r.capture.sessions.len(),
                replayed: scheduled,
                skipped: r
                    .capture
                    .skipped
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
                speed: r.speed,
                repeat: r.repeat,
            }),
        }
    }
}

impl Drop for Traffic {
    /// Traffic dropped without [`Traffic::stop`] (an error path) stops all the same: no
    /// scheduler, worker or background session outlives it.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(pool) = self.pool.take() {
            pool.abandon_now();
        }
        if let Some(background) = self.background.take() {
            background.cancel_now();
        }
        self.ticker.abort();
    }
}

/// Starts `collector` on the events of `rx` and opens the first phase at `start_us`.
async fn collect(
    mut collector: Collector,
    mut rx: mpsc::Receiver<Event>,
    events: &mpsc::Sender<Event>,
    start_us: u64,
) -> tokio::task::JoinHandle<Collector> {
    let handle = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            collector.handle(event);
        }
        collector
    });
    let _ = events
        .send(Event::Phase {
            index: 0,
            at_us: start_us,
        })
        .await;
    handle
}

async fn tick(
    events: mpsc::Sender<Event>,
    shared: Arc<Shared>,
    queue: async_channel::Receiver<schedule::Op>,
    clock: RunClock,
    every: Duration,
) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        // Samples a connection holds while an operation runs long (a lock wait) reach the
        // collector before their interval closes: a tick asks for them at least one tick before.
        shared.request_flush();
        let event = Event::Tick {
            now_us: clock.offset().as_micros() as u64,
            in_flight: shared.in_flight(),
            queued: queue.len() as u64,
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// Turns each parameter plan into a generator, reading key pools from the seeded data.
async fn resolve_params(
    client: &tokio_postgres::Client,
    plan: &TrafficPlan,
) -> Result<Vec<Vec<ParamSource>>, TrafficError> {
    let mut all = Vec::new();
    // One counter per `seq` column, shared by every query that draws from it.
    let mut counters: BTreeMap<String, Arc<AtomicI64>> = BTreeMap::new();
    for (index, query) in plan.queries.iter().enumerate() {
        let mut sources = Vec::new();
        for (param, p) in query.params.iter().enumerate() {
            let source = match p {
                ParamPlan::Seq { table, column } => {
                    let name = format!("{table}.{column}");
                    if !counters.contains_key(&name) {
                        let max = max_key(client, table, column).await.map_err(|message| {
                            TrafficError::Key {
                                query: query.name.clone(),
                                index,
                                param,
                                key: name.clone(),
                                message,
                            }
                        })?;
                        counters.insert(name.clone(), Arc::new(AtomicI64::new(max + 1)));
                    }
                    ParamSource::Seq(Arc::clone(&counters[&name]))
                }
                ParamPlan::Key {
                    table,
                    column,
                    dist,
                } => {
                    let fail = |message: String| TrafficError::Key {
                        query: query.name.clone(),
                        index,
                        param,
                        key: format!("{table}.{column}"),
                        message,
                    };
                    let pool = load_key_pool(client, table, column)
                        .await
                        .map_err(|e| fail(crate::pg::describe(&e)))?
                        .ok_or_else(|| {
                            fail(format!(
                                "{table} has no rows to draw from (give it rows in [seed.tables])"
                            ))
                        })?;
                    ParamSource::Key {
                        pick: Pick::new(*dist, pool.len()),
                        pool,
                    }
                }
                ParamPlan::Fake(kind) => ParamSource::Fake(*kind),
                ParamPlan::Range(lo, hi, int) => ParamSource::Range(*lo, *hi, *int),
                ParamPlan::Value(c) => ParamSource::Value(c.to_value()),
            };
            sources.push(source);
        }
        all.push(sources);
    }
    Ok(all)
}

/// The largest value of an integer column (0 for an empty table), where a `seq` parameter
/// starts above.
async fn max_key(
    client: &tokio_postgres::Client,
    table: &str,
    column: &str,
) -> Result<i64, String> {
    let sql = format!(
        "SELECT coalesce(max({})::int8, 0) FROM {table}",
        crate::pg::quote_ident(column)
    );
    match client.query_one(&sql, &[]).await {
        Ok(row) => Ok(row.get(0)),
        Err(e) => Err(format!(
            "{} (a `seq` parameter needs a seeded table and an integer column)",
            crate::pg::describe(&e)
        )),
    }
}

/// Every query of the starting version must prepare, with no more parameters than given.
async fn check_queries(
    client: &tokio_postgres::Client,
    plan: &TrafficPlan,
) -> Result<(), TrafficError> {
    for (index, query) in plan.queries.iter().enumerate() {
        if !query.issued_by(&plan.initial_app) {
            continue;
        }
        for (i, sql) in query.statements.iter().enumerate() {
            let statement = client
                .prepare(sql)
                .await
                .map_err(|e| TrafficError::Prepare {
                    query: query.name.clone(),
                    index,
                    version: plan.initial_app.clone(),
                    message: crate::pg::describe_in(&e, sql),
                })?;
            let needed = statement.params().len();
            let exact = !query.transaction && needed != query.params.len();
            if needed > query.params.len() || exact {
                return Err(TrafficError::Params {
                    query: query.name.clone(),
                    index,
                    statement: i + 1,
                    needed,
                    given: query.params.len(),
                });
            }
        }
    }
    Ok(())
}
