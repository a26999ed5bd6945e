//! The one place that wires the parts together and owns ordering and shutdown: provision →
//! seeded template → for each strategy, a clone of it with observers, traffic and the steps →
//! the report. However the run ends (success, a failing step, an error, an interruption), the
//! traffic is stopped, the scratch databases are dropped, the server is given back and
//! `report.json` is written. What the parts record goes to the assembler; nothing here builds a
//! report value.
//!
//! The commands built on runs sit beside it: `run` and `compare` ([`command`]) and
//! [`estimate`]. [`options`] turns validated command-line settings into complete options for
//! one run.

pub(crate) mod command;
pub(crate) mod estimate;
mod options;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

pub(crate) use options::{CacheMode, RunOptions, Settings};

use crate::assemble::{Observations, StrategyRun};
use crate::clock::RunClock;
use crate::db::{self, Scratch, Server};
use crate::error::Error;
use crate::pg::SessionRole;
use crate::report::Report;
use crate::scenario::{Overrides, Plan, StrategyPlan};
use crate::seed::{Seeding, Template};

/// What a finished run produced.
#[derive(Debug)]
pub(crate) struct RunResult {
    /// The report, as written.
    pub report: Report,
    /// Where `report.json` is.
    pub report_path: PathBuf,
    /// Why the run could not complete, when it could not.
    pub error: Option<Error>,
}

/// Reads and validates a scenario, with the seeder's check of its seed section.
pub(crate) fn load_plan(path: &std::path::Path, overrides: &Overrides) -> Result<Plan, Error> {
    Ok(Plan::load(path, overrides, crate::seed::check)?)
}

/// Runs a plan to the end (or until `cancel` fires) and writes the report.
pub(crate) async fn run(plan: &Plan, options: &RunOptions, cancel: CancellationToken) -> RunResult {
    let clock = RunClock::start();
    let mut observed = Observations {
        run_id: options.run_id.clone(),
        started_at: clock.wall_start(),
        ..Observations::default()
    };
    let error = match std::fs::create_dir_all(&options.out) {
        Ok(()) => {
            let server = tokio::select! {
                server = db::provision(&options.backend, &plan.database) => server.map_err(Error::from),
                () = cancel.cancelled() => Err(Error::Interrupted),
            };
            match server {
                Ok(server) => {
                    let mut scratch = Scratch::default();
                    let result = rehearse(
                        plan,
                        options,
                        &server,
                        &clock,
                        &cancel,
                        &mut scratch,
                        &mut observed,
                    )
                    .await;
                    scratch.drop_all(&server).await;
                    server.shutdown().await;
                    result.err()
                }
                Err(e) => {
                    db::sweep_after_failed_provision(&options.backend).await;
                    Some(e)
                }
            }
        }
        Err(source) => Some(Error::Output {
            path: options.out.clone(),
            source,
        }),
    };

    observed.duration_s = clock.offset().as_secs_f64();
    observed.interrupted = matches!(error, Some(Error::Interrupted)) || cancel.is_cancelled();
    observed.error = error.as_ref().map(ToString::to_string);
    let error = error.filter(|e| !matches!(e, Error::Interrupted));
    let report = crate::assemble::assemble(plan, observed);
    let report_path = options.out.join("report.json");
    let error = match write_report(&report, &options.out) {
        Ok(()) => error,
        Err(e) => error.or(Some(e)),
    };
    RunResult {
        report,
        report_path,
        error,
    }
}

/// Writes `report.json`, then the other formats (views of it: `rehearse render` makes them
/// again).
fn write_report(report: &Report, out: &std::path::Path) -> Result<(), Error> {
    let path = out.join("report.json");
    report
        .write(&path)
        .map_err(|source| Error::Output { path, source })?;
    crate::report::render::write_all(report, out).map_err(|source| Error::Output {
        path: out.to_owned(),
        source,
    })?;
    Ok(())
}

/// The part of a run that needs a server.
async fn rehearse(
    plan: &Plan,
    options: &RunOptions,
    server: &Server,
    clock: &RunClock,
    cancel: &CancellationToken,
    scratch: &mut Scratch,
    observed: &mut Observations,
) -> Result<(), Error> {
    let maintenance = server.connect(server.maintenance_db()).await?;
    let facts = server.facts(&maintenance, &plan.database).await?;
    *scratch = Scratch::new(facts.version_num);
    observed.server = Some(facts);
    let template = Template::for_run(server, &options.run_id);
    let seeding = Seeding {
        schema: &plan.schema,
        plan: &plan.seed,
        jobs: options.seed_jobs,
        fresh: options.fresh,
    };
    let seeded = tokio::select! {
        seeded = template.prepare(server, &maintenance, seeding, scratch, clock) => seeded?,
        () = cancel.cancelled() => return Err(Error::Interrupted),
    };
    observed.seed = Some(seeded);

    for (i, strategy) in plan.strategies.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(Error::Interrupted);
        }
        let database = format!("rehearse_{}_s{}", options.run_id, i + 1);
        // Every strategy starts from an identical copy of the seeded data.
        scratch
            .create(&maintenance, &database, Some(&template.name))
            .await?;
        let run =
            rehearse_strategy(plan, options, strategy, server, &database, clock, cancel).await;
        scratch.drop_one(server, &maintenance, &database).await;
        observed.strategies.push(run?);
    }
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    Ok(())
}

/// One strategy in its own clone: observers, traffic, baseline, steps, recovery, and what they
/// recorded.
async fn rehearse_strategy(
    plan: &Plan,
    options: &RunOptions,
    strategy: &StrategyPlan,
    server: &Server,
    database: &str,
    clock: &RunClock,
    cancel: &CancellationToken,
) -> Result<StrategyRun, Error> {
    let client = server
        .connect_as(database, SessionRole::MIGRATION_APP)
        .await?;
    tracing::info!("strategy {}: rehearsing in {database}", strategy.name);
    let migration_pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .ok()
        .map(|r| r.get::<_, i32>(0));
    let since_s = clock.offset().as_secs_f64();
    let sampler = if options.lock_sampler {
        Some(
            crate::observe::Sampler::start(
                server.config_as(database, SessionRole::OBSERVER_APP),
                server.target.clone(),
                *clock,
            )
            .await?,
        )
    } else {
        None
    };
    let traffic = match &plan.traffic {
        Some(t) => {
            let running = crate::traffic::start(
                server,
                database,
                t,
                strategy.phases(),
                *clock,
                plan.seed.seed,
            )
            .await?;
            tracing::info!("strategy {}: traffic running; baseline", strategy.name);
            // A first step placed in time (`at`) ends the baseline itself.
            if strategy.steps.first().is_none_or(|s| s.at.is_none()) {
                crate::migrate::wait(t.baseline, cancel).await;
            }
            Some(running)
        }
        None => None,
    };
    let origin = traffic
        .as_ref()
        .map_or_else(|| clock.offset(), crate::traffic::Traffic::started);
    let observer = server
        .connect_as(database, SessionRole::OBSERVER_APP)
        .await?;
    let env = server.env_for(database);
    let context = crate::migrate::StepContext {
        client: &client,
        observer: &observer,
        clock,
        cancel,
        traffic: traffic.as_ref(),
        command_env: &env,
        step_running: sampler.as_ref().map(|s| s.step_running.as_ref()),
        app_wait_us: sampler.as_ref().map(|s| s.app_wait_us.as_ref()),
        origin,
    };
    let steps = crate::migrate::run_steps(&context, strategy).await;
    let traffic = match (traffic, &plan.traffic) {
        (Some(running), Some(t)) => {
            running.set_phase(strategy.steps.len() + 1);
            tracing::info!("strategy {}: recovery", strategy.name);
            crate::migrate::wait(t.recovery, cancel).await;
            Some(running.stop(cancel).await)
        }
        _ => None,
    };
    let sampled = sampler.is_some();
    let (sightings, progress) = match sampler {
        Some(s) => s.stop().await,
        None => Default::default(),
    };
    let logged = match &server.log {
        Some(log) => crate::observe::logged_waits(log, since_s, clock, &observer).await,
        None => Vec::new(),
    };
    let leftovers = crate::migrate::leftovers(&observer).await;
    Ok(StrategyRun {
        database: database.to_owned(),
        steps,
        traffic,
        sampled,
        sightings,
        progress,
        logged,
        leftovers,
        interrupted: cancel.is_cancelled(),
        migration_pid,
    })
}
