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
    /// Where `report.json` is, when it was written.
    pub report_path: Option<PathBuf>,
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
    // If this process dies without cleaning up, the reaper removes what the run left.
    let _reaper = db::reaper::Reaper::spawn(&db::reaper::Watch {
        owner: options.backend.owner.clone(),
        docker: matches!(
            options.backend.kind,
            db::BackendKind::Docker | db::BackendKind::Auto
        ),
        cache_dir: options.backend.cache.as_ref().map(|c| c.dir.clone()),
        url: options.backend.database_url.clone(),
    });
    let out_lock = std::fs::create_dir_all(&options.out)
        .map_err(|source| Error::Output {
            path: options.out.clone(),
            source,
        })
        .and_then(|()| lock_out(&options.out, &options.backend.owner));
    let error = match out_lock {
        Ok(_lock) => {
            let server = tokio::select! {
                server = db::provision(&options.backend, &plan.database) => server.map_err(Error::from),
                () = cancel.cancelled() => Err(Error::Interrupted),
            };
            match server {
                Ok(server) => {
                    warn_about_leftovers(&server, options).await;
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
        Err(e) => Some(e),
    };

    observed.duration_s = clock.offset().as_secs_f64();
    observed.interrupted = matches!(error, Some(Error::Interrupted)) || cancel.is_cancelled();
    observed.error = error.as_ref().map(ToString::to_string);
    let error = error.filter(|e| !matches!(e, Error::Interrupted));
    let report = crate::assemble::assemble(plan, observed);
    // The folder is another run's: its report is left alone.
    let busy = matches!(error, Some(Error::Busy { .. }));
    let (written, error) = match (busy, error) {
        (true, error) => (false, error),
        (false, error) => match write_report(&report, &options.out) {
            Ok(()) => (true, error),
            Err(e) => (false, error.or(Some(e))),
        },
    };
    RunResult {
        report,
        report_path: written.then(|| options.out.join("report.json")),
        error,
    }
}

/// Takes the output folder for this run: a second run writing to the same folder would mix its
/// report and server log with this one's. Held until dropped.
fn lock_out(
    out: &std::path::Path,
    owner: &db::owner::Owner,
) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    use nix::fcntl::{Flock, FlockArg};
    use std::io::{Read, Seek, Write};
    let path = out.join(".rehearse.lock");
    let io = |source| Error::Output {
        path: path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            lock.set_len(0).map_err(io)?;
            lock.rewind().map_err(io)?;
            writeln!(lock, "{owner}").map_err(io)?;
            Ok(lock)
        }
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let other = db::owner::Owner::parse(&text).map_or_else(
                || "another rehearse".to_owned(),
                |o| format!("run {} (pid {})", o.run_id, o.pid),
            );
            Err(Error::Busy {
                out: out.to_owned(),
                other,
            })
        }
        Err((_, errno)) => Err(io(errno.into())),
    }
}

/// Says (once, at the start) what rehearsals that died left on this backend.
async fn warn_about_leftovers(server: &Server, options: &RunOptions) {
    let scope = db::leftovers::Scope {
        run: None,
        temp_dir: std::env::temp_dir(),
        cache_dir: options.backend.cache.as_ref().map(|c| c.dir.clone()),
        docker: server.backend == db::BackendKind::Docker,
        url: options
            .backend
            .database_url
            .clone()
            .filter(|_| server.backend == db::BackendKind::Url),
    };
    let found = db::leftovers::find(&scope).await;
    if let Some(first) = found.first() {
        tracing::warn!(
            "{} thing(s) left behind by rehearsals that died (e.g. {first}); `rehearse gc --yes` removes them",
            found.len()
        );
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
    let mut maintenance = server.connect(server.maintenance_db()).await?;
    let facts = server.facts(&maintenance, &plan.database).await?;
    *scratch = Scratch::new(facts.version_num, options.backend.owner.clone());
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
        // A server that restarted after a crash dropped every connection: connect again.
        if maintenance.is_closed() {
            maintenance = server.connect(server.maintenance_db()).await?;
        }
        let database = format!("rehearse_{}_s{}", options.run_id, i + 1);
        // Every strategy starts from an identical copy of the seeded data.
        scratch
            .create(&maintenance, &database, Some(&template.name))
            .await?;
        let run =
            rehearse_strategy(plan, options, strategy, server, &database, clock, cancel).await;
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                scratch.drop_one(server, &maintenance, &database).await;
                return Err(e);
            }
        };
        if let Some(failure) = run.failure.clone() {
            // What was measured until the server died is kept; nothing more can run.
            observed.strategies.push(run);
            return Err(Error::Db(db::DbError::ServerDied { cause: failure }));
        }
        scratch.drop_one(server, &maintenance, &database).await;
        observed.strategies.push(run);
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
    let observer = server
        .connect_as(database, SessionRole::OBSERVER_APP)
        .await?;
    tracing::info!("strategy {}: rehearsing in {database}", strategy.name);
    let migration_pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .ok()
        .map(|r| r.get::<_, i32>(0));
    // The strategy stops early on Ctrl-C or when the server dies (the watch's cause says why).
    let watch = db::ServerWatch::start(
        server.config_as(server.maintenance_db(), SessionRole::OBSERVER_APP),
        server.target.clone(),
    );
    let stop = cancel.child_token();
    let dead = watch.dead.clone();
    let stop_on_death = stop.clone();
    let guard = tokio::spawn(async move {
        dead.cancelled().await;
        stop_on_death.cancel();
    });
    let since_s = clock.offset().as_secs_f64();
    // Invalid indexes and NOT VALID constraints the schema already had are not the steps'.
    let existing_leftovers = crate::migrate::leftovers(&observer).await;
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
    // When the watch saw the server die: the time and the phase in progress.
    let mut death: Option<(f64, String)> = None;
    let mut note_death = |phase: String| {
        if watch.dead.is_cancelled() && death.is_none() {
            death = Some((clock.offset().as_secs_f64(), phase));
        }
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
                crate::migrate::wait(t.baseline, &stop).await;
            }
            note_death("the baseline".into());
            Some(running)
        }
        None => None,
    };
    let origin = traffic
        .as_ref()
        .map_or_else(|| clock.offset(), crate::traffic::Traffic::started);
    let mut env = server.env_for(database);
    env.push((
        db::leftovers::COMMAND_ENV.to_owned(),
        options.backend.owner.to_string(),
    ));
    let context = crate::migrate::StepContext {
        client: &client,
        observer: &observer,
        clock,
        cancel: &stop,
        migration_pid,
        traffic: traffic.as_ref(),
        command_env: &env,
        step_running: sampler.as_ref().map(|s| s.step_running.as_ref()),
        app_wait_us: sampler.as_ref().map(|s| s.app_wait_us.as_ref()),
        origin,
    };
    let steps = crate::migrate::run_steps(&context, strategy).await;
    note_death(
        steps
            .iter()
            .rev()
            .find(|s| s.start_s.is_some())
            .map_or_else(|| "the steps".into(), |s| format!("step {}", s.name)),
    );
    let traffic = match (traffic, &plan.traffic) {
        (Some(running), Some(t)) => {
            // A rollout the steps did not wait for (`wait = false`) is part of the strategy:
            // recovery begins when it ends.
            let left = running.rollout_left();
            if !left.is_zero() && !stop.is_cancelled() {
                tracing::info!(
                    "strategy {}: the rollout goes on for {:.1} s after the last step",
                    strategy.name,
                    left.as_secs_f64()
                );
                crate::migrate::wait(left, &stop).await;
            }
            running.set_phase(strategy.steps.len() + 1);
            tracing::info!("strategy {}: recovery", strategy.name);
            crate::migrate::wait(t.recovery, &stop).await;
            note_death("the recovery".into());
            Some(running.stop(&stop).await)
        }
        _ => None,
    };
    guard.abort();
    let sampled = match sampler {
        Some(s) => Some(s.stop().await),
        None => None,
    };
    let failure = watch.cause().map(|cause| {
        let (at_s, phase) = death.unwrap_or((clock.offset().as_secs_f64(), "the strategy".into()));
        format!("the server died at {at_s:.1} s, during {phase}: {cause}")
    });
    let (logged, leftovers) = if failure.is_some() {
        (Vec::new(), Vec::new())
    } else {
        let logged = match &server.log {
            Some(log) => crate::observe::logged_waits(log, since_s, clock, &observer).await,
            None => Vec::new(),
        };
        let now = crate::migrate::leftovers(&observer).await;
        (
            logged,
            crate::migrate::left_by_steps(&existing_leftovers, now),
        )
    };
    Ok(StrategyRun {
        database: database.to_owned(),
        steps,
        traffic,
        sampled,
        logged,
        leftovers,
        interrupted: cancel.is_cancelled(),
        migration_pid,
        failure,
    })
}
