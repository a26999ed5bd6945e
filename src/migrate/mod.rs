//! Migration steps: run a strategy's steps in order on a dedicated connection, timing each on
//! the run's clock, and tell the traffic which phase it is in.
//!
//! A SQL step's statements run in one transaction, or each on its own when one of them cannot
//! run in a transaction block (see `sql`). A deploy step switches the application
//! version (gradually over `over`), a pause step waits. The first failing step ends the strategy
//! (later steps are skipped); an interruption cancels the running statement on the server and
//! marks the step interrupted.

mod backfill;
mod command;
mod locks;
mod observe;
mod record;
mod sql;

pub(crate) use observe::{left_by_steps, leftovers};
pub(crate) use record::{LeftoverRecord, StepOutcome, StepRecord};

use std::time::Duration;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::scenario::{StepAction, StrategyPlan};
use crate::traffic::Traffic;

/// What running a strategy's steps needs.
#[derive(Clone, Copy)]
pub(crate) struct StepContext<'a> {
    /// The dedicated connection the steps run on.
    pub client: &'a Client,
    /// A second connection that reads the catalog before and after each step.
    pub observer: &'a Client,
    /// The run's clock.
    pub clock: &'a RunClock,
    /// Fires on Ctrl-C.
    pub cancel: &'a CancellationToken,
    /// The migration connection's backend pid (its locks are read from `observer` while a
    /// statement that cannot run in a transaction block runs).
    pub migration_pid: Option<i32>,
    /// The running traffic, told the phase and deploys.
    pub traffic: Option<&'a Traffic>,
    /// `DATABASE_URL` and `PG*` for command steps.
    pub command_env: &'a [(String, String)],
    /// The step running (1-based), 0 between steps (the lock sampler reads index progress only
    /// while a step runs).
    pub step_running: Option<&'a std::sync::atomic::AtomicUsize>,
    /// The longest application lock wait going on, µs (from the lock sampler).
    pub app_wait_us: Option<&'a std::sync::atomic::AtomicU64>,
    /// Where steps' `at` counts from: the start of traffic (or of the strategy), on the run's
    /// clock.
    pub origin: Duration,
}

/// Runs `strategy`'s steps on `client`, reading the catalog before and after each on `observer`,
/// and returns one record per step (those that did not run included). Step `i` (0-based) is traffic
/// phase `i + 1`.
pub(crate) async fn run_steps(ctx: &StepContext<'_>, strategy: &StrategyPlan) -> Vec<StepRecord> {
    let StepContext {
        client,
        observer,
        clock,
        cancel,
        traffic,
        command_env,
        step_running,
        app_wait_us,
        origin,
        ..
    } = *ctx;
    // The step running (1-based), 0 between steps: the lock sampler reads index progress only
    // while a step runs and gives each phase to the step it saw running.
    let running = |step: usize| {
        if let Some(flag) = step_running {
            flag.store(step, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let mut reports: Vec<StepRecord> = strategy
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            StepRecord::not_run(
                i + 1,
                step.name.clone(),
                step.action.kind(),
                step.action.source(),
            )
        })
        .collect();
    for (i, (step, report)) in strategy.steps.iter().zip(reports.iter_mut()).enumerate() {
        if let Some(at) = step.at {
            // A step placed in time waits for its moment (or starts at once if it has passed);
            // after the first step, the traffic meanwhile is counted apart from the steps'.
            let wait_for = (origin + at).saturating_sub(clock.offset());
            if let (Some(t), Some(between)) = (traffic, strategy.between_phase())
                && i > 0
                && !wait_for.is_zero()
            {
                t.set_phase(between);
            }
            if !wait_for.is_zero() {
                tracing::info!(
                    "strategy {}: step {} waits {wait_for:.1?} for its start at {at:?}",
                    strategy.name,
                    step.name
                );
            }
            wait(wait_for, cancel).await;
        }
        if cancel.is_cancelled() {
            break;
        }
        tracing::info!("strategy {}: step {} running", strategy.name, step.name);
        if let Some(t) = traffic {
            t.set_phase(i + 1);
        }
        let before = observe::snapshot(observer).await;
        running(i + 1);
        let span = clock.span();
        report.start_s = Some(span.start().as_secs_f64());
        let outcome = match &step.action {
            StepAction::Sql(sql) => {
                let done = sql::run(ctx, sql, &before).await;
                report.rows = Some(done.rows);
                report.attempts = done.attempts;
                report.locks = done.locks;
                report.exclusive_spans = done.exclusive_spans;
                match (done.interrupted, done.failure) {
                    (true, _) => None,
                    (false, Some((error, statement))) => Some(Err((error, Some(statement)))),
                    (false, None) => Some(Ok(())),
                }
            }
            StepAction::Deploy {
                version,
                over,
                connections,
                wait: whole,
            } => {
                // One rollout at a time, as a deploy pipeline queues them: a deploy that comes
                // while an earlier one (`wait = false`) still rolls out waits for its end.
                let before_rollout = traffic.map_or(Duration::ZERO, Traffic::rollout_left);
                if !before_rollout.is_zero() {
                    tracing::info!(
                        "strategy {}: step {} waits {:.1} s for the rollout in progress to end",
                        strategy.name,
                        step.name,
                        before_rollout.as_secs_f64()
                    );
                }
                if wait(before_rollout, cancel).await {
                    if let Some(t) = traffic {
                        t.deploy(version, *over, *connections);
                    }
                    let lasts = if *whole { *over } else { Duration::ZERO };
                    wait(lasts, cancel).await.then_some(Ok(()))
                } else {
                    None
                }
            }
            StepAction::Pause(d) => wait(*d, cancel).await.then_some(Ok(())),
            StepAction::Backfill(plan) => {
                match backfill::run(client, plan, traffic, app_wait_us, cancel).await {
                    Ok(done) => {
                        report.rows = Some(done.rows);
                        report.backfill = Some(done);
                        Some(Ok(()))
                    }
                    Err(Some(e)) => Some(Err((e, None))),
                    Err(None) => None,
                }
            }
            StepAction::Command { argv, dir } => {
                let secret = command_env
                    .iter()
                    .find(|(k, _)| k == "PGPASSWORD")
                    .map(|(_, v)| v.as_str());
                let done = command::run(argv, dir, command_env, secret, cancel).await;
                report.output = Some(done.output);
                match (done.interrupted, done.failure) {
                    (true, _) => None,
                    (false, Some(e)) => Some(Err((e, None))),
                    (false, None) => Some(Ok(())),
                }
            }
        };
        report.duration_s = Some(span.elapsed().as_secs_f64());
        running(0);
        if outcome.is_some() {
            (report.rewrites, report.wal_bytes) = observe::changes(observer, &before).await;
        }
        match outcome {
            Some(Ok(())) => report.outcome = StepOutcome::Succeeded,
            Some(Err((error, statement))) => {
                tracing::warn!(
                    "strategy {}: step {} failed: {error}",
                    strategy.name,
                    step.name
                );
                report.outcome = StepOutcome::Failed { error, statement };
                break;
            }
            None => {
                report.outcome = StepOutcome::Interrupted;
                break;
            }
        }
    }
    reports
}

/// Waits `d`, or less if cancelled; true when the whole wait passed.
pub(crate) async fn wait(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = cancel.cancelled() => false,
    }
}
