//! Replaying a captured statement log: each captured session on a connection of its own, its
//! statements in order at their captured offsets (divided by `speed`), open loop — a statement
//! that is late because the one before it waited (a lock) is sent at once, and its latency
//! counts from when it was due. Statements with parameters run as prepared statements with the
//! captured values as text, so the server types them as it did in production. With `loop`, the
//! capture starts again when it ends.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, Statement};
use tokio_util::sync::CancellationToken;

use super::collector::{Event, Failure, Sample};
use super::schedule::Shared;
use crate::clock::RunClock;
use crate::db::DbError;
use crate::pg::ErrorClass;
use crate::pg::capture::{Kind, Session};
use crate::scenario::ReplayPlan;

/// Samples are sent in batches of up to this many.
const BATCH: usize = 64;

/// What every replayed session shares.
pub(super) struct Context {
    /// Where to connect.
    pub config: Config,
    /// Shown in errors.
    pub target: String,
    /// The run's clock.
    pub clock: RunClock,
    /// Phase, counters.
    pub shared: Arc<Shared>,
    /// When the replay starts, µs on the run's clock: set once every session is connected.
    pub start_us: std::sync::atomic::AtomicU64,
    /// Fired when every session is connected and `start_us` is set.
    pub go: CancellationToken,
    /// The replay.
    pub plan: ReplayPlan,
    /// Fired when the traffic stops: sessions waiting for their next statement end.
    pub stopping: CancellationToken,
}

/// Connects a connection per captured session, each on a thread with a runtime of its own (as
/// the pool's, [`super::pool::threads_for`]), and starts them. Returns once all are connected.
pub(super) async fn start(
    ctx: Arc<Context>,
    events: mpsc::Sender<Event>,
) -> Result<super::pool::Pool, DbError> {
    let sessions = ctx.plan.capture.sessions.len();
    let threads = super::pool::threads_for(sessions);
    let abandon = CancellationToken::new();
    let mut handles = Vec::new();
    let mut ready = Vec::new();
    for t in 0..threads {
        let ids: Vec<usize> = (t..sessions).step_by(threads).collect();
        let (ctx, events, stop) = (ctx.clone(), events.clone(), abandon.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        ready.push(rx);
        let handle = crate::db::spawn_with_own_runtime(format!("rehearse-replay-{t}"), move |rt| {
            rt.block_on(run_thread(ctx, ids, events, stop, tx));
        });
        match handle {
            Ok(h) => handles.push(h),
            Err(e) => {
                abandon.cancel();
                return Err(e);
            }
        }
    }
    let pool = super::pool::Pool::of_threads(handles, abandon);
    for rx in ready {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                pool.abandon_now();
                return Err(e);
            }
            Err(_) => {
                pool.abandon_now();
                return Err(DbError::Cluster {
                    what: "start a replay thread".into(),
                    reason: "the thread ended before connecting".into(),
                });
            }
        }
    }
    Ok(pool)
}

async fn run_thread(
    ctx: Arc<Context>,
    ids: Vec<usize>,
    events: mpsc::Sender<Event>,
    abandon: CancellationToken,
    ready: tokio::sync::oneshot::Sender<Result<(), DbError>>,
) {
    let Some(clients) = super::pool::connect_all(&ctx.config, &ctx.target, ids.len(), ready).await
    else {
        return;
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (id, (client, driver)) in ids.into_iter().zip(clients) {
        tokio::spawn(driver);
        tasks.spawn(session(ctx.clone(), id, client, events.clone()));
    }
    tokio::select! {
        () = async { while tasks.join_next().await.is_some() {} } => {}
        () = abandon.cancelled() => tasks.abort_all(),
    }
}

/// Replays captured session `id` on `client`.
async fn session(ctx: Arc<Context>, id: usize, client: Client, events: mpsc::Sender<Event>) {
    tokio::select! {
        () = ctx.go.cancelled() => {}
        () = ctx.stopping.cancelled() => return,
    }
    let start_us = ctx.start_us.load(Ordering::Relaxed);
    let captured: &Session = &ctx.plan.capture.sessions[id];
    let shared = &ctx.shared;
    let slot = &shared.slots[id];
    let speed = ctx.plan.speed;
    // One pass of the capture, at the replay's speed, plus a pause so passes do not overlap.
    let period_us = (ctx.plan.capture.duration_us as f64 / speed) as u64 + 1_000;
    let mut prepared: HashMap<Arc<str>, Statement> = HashMap::new();
    let mut pending: Vec<Sample> = Vec::with_capacity(BATCH);
    let mut round = 0u64;
    'replay: loop {
        for statement in &captured.statements {
            let intended_us =
                start_us + round * period_us + (statement.offset_us as f64 / speed) as u64;
            let now_us = ctx.clock.offset().as_micros() as u64;
            if intended_us > now_us {
                // Send what is pending before a pause, so the time series keeps up.
                if intended_us - now_us > 20_000 && !pending.is_empty() {
                    let _ = events
                        .send(Event::Samples(std::mem::take(&mut pending)))
                        .await;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_micros(intended_us - now_us)) => {}
                    () = ctx.stopping.cancelled() => break 'replay,
                }
            }
            if shared.stop.load(Ordering::Relaxed) {
                break 'replay;
            }
            slot.scheduled.fetch_add(1, Ordering::Relaxed);
            slot.busy.store(true, Ordering::Relaxed);
            let phase = shared.phase.load(Ordering::Relaxed) as u16;
            let sent_us = ctx.clock.offset().as_micros() as u64;
            let result = execute(&client, &mut prepared, statement).await;
            let done_us = ctx.clock.offset().as_micros() as u64;
            slot.busy.store(false, Ordering::Relaxed);
            let lost = result
                .as_ref()
                .is_err_and(|f| f.class == ErrorClass::Connection);
            pending.push(Sample {
                query: Kind::ALL
                    .iter()
                    .position(|k| *k == statement.kind)
                    .unwrap_or(0) as u16,
                phase,
                intended_us,
                sent_us,
                done_us,
                failure: result.err().map(Box::new),
                reprepared: false,
            });
            if pending.len() >= BATCH {
                let _ = events
                    .send(Event::Samples(std::mem::take(&mut pending)))
                    .await;
            }
            if lost {
                // The session is gone with its connection, as the application's would be.
                break 'replay;
            }
        }
        if !ctx.plan.repeat {
            break;
        }
        round += 1;
    }
    if !pending.is_empty() {
        let _ = events.send(Event::Samples(pending)).await;
    }
}

/// Runs one captured statement.
async fn execute(
    client: &Client,
    prepared: &mut HashMap<Arc<str>, Statement>,
    statement: &crate::pg::capture::Statement,
) -> Result<(), Failure> {
    let Some(params) = &statement.params else {
        return client
            .batch_execute(&statement.sql)
            .await
            .map_err(|e| failure(&e));
    };
    let prepared_statement = match prepared.get(&statement.sql) {
        Some(s) => s.clone(),
        None => {
            let s = client
                .prepare(&statement.sql)
                .await
                .map_err(|e| failure(&e))?;
            prepared.insert(statement.sql.clone(), s.clone());
            s
        }
    };
    let wanted = prepared_statement.params().len();
    if params.len() < wanted {
        return Err(Failure {
            class: ErrorClass::Other,
            sqlstate: None,
            message: format!(
                "the capture gives {} parameters; the statement takes {wanted}",
                params.len()
            ),
        });
    }
    let values = params[..wanted].iter().map(|p| TextParam(p.as_deref()));
    client
        .execute_raw(&prepared_statement, values)
        .await
        .map(|_| ())
        .map_err(|e| failure(&e))
}

fn failure(e: &tokio_postgres::Error) -> Failure {
    let sqlstate = e.code().map(|c| c.code().to_owned());
    Failure {
        class: ErrorClass::of(sqlstate.as_deref(), e.is_closed()),
        sqlstate,
        message: crate::pg::describe(e),
    }
}

/// A captured parameter, sent as text for the server to parse as the parameter's type.
#[derive(Debug)]
struct TextParam<'a>(Option<&'a str>);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}
