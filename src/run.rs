//! The one place that wires the parts together: provision → schema → seed → for each strategy,
//! a clone of the seeded database and its steps → report. It owns ordering and shutdown: the
//! scratch databases are dropped, the server is given back and `report.json` is written however
//! the run ends — success, a failing step, an error, or an interruption.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::db::{self, BackendOptions, Server};
use crate::error::Error;
use crate::pg::quote_ident;
use crate::report::{
    Environment, Outcome, Report, ScenarioInfo, SeedSummary, StepStatus, StrategyReport,
    StrategyStatus, Tool, Verdict,
};
use crate::scenario::Plan;
use crate::seed;

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The backend and its options; `log_path` and `run_id` are filled in by [`run`].
    pub backend: BackendOptions,
    /// The output folder.
    pub out: PathBuf,
    /// How to seed.
    pub seed: SeedOptions,
}

/// How to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Connections that load and index the seed data.
    pub jobs: usize,
    /// Discard the cached seeded template (if any) and seed again.
    pub fresh: bool,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunResult {
    /// The report, as written.
    pub report: Report,
    /// Where `report.json` is.
    pub report_path: PathBuf,
    /// Why the run could not complete, when it could not.
    pub error: Option<Error>,
}

/// Runs a plan to the end (or until `cancel` fires) and writes the report.
pub async fn run(plan: &Plan, options: RunOptions, cancel: CancellationToken) -> RunResult {
    let clock = RunClock::start();
    let run_id = new_run_id();
    let mut backend = options.backend.clone();
    backend.run_id = run_id.clone();
    backend.log_path = options.out.join("postgres.log");

    let mut report = Report {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run_id: run_id.clone(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            description: plan.description.clone(),
            path: plan.path.display().to_string(),
        },
        started_at: clock.wall_start().to_rfc3339(),
        duration_s: 0.0,
        outcome: Outcome::Error,
        error: None,
        environment: Environment {
            scale: plan.seed.scale,
            seed: plan.seed.seed,
            ..Environment::default()
        },
        seed: None,
        strategies: plan
            .strategies
            .iter()
            .map(|s| StrategyReport {
                name: s.name.clone(),
                description: s.description.clone(),
                database: String::new(),
                start_s: None,
                duration_s: None,
                status: StrategyStatus::NotRun,
                steps: Vec::new(),
                traffic: None,
                leftovers: Vec::new(),
                lock_waits: Vec::new(),
            })
            .collect(),
        verdict: Verdict::default(),
    };

    let error = match std::fs::create_dir_all(&options.out) {
        Ok(()) => {
            let mut scratch = Scratch::default();
            let server = tokio::select! {
                server = db::provision(&backend, &plan.database) => server.map_err(Error::from),
                _ = cancel.cancelled() => Err(Error::Interrupted),
            };
            match server {
                Ok(server) => {
                    let result = rehearse(
                        plan,
                        &server,
                        &clock,
                        &cancel,
                        &mut scratch,
                        &mut report,
                        &options.seed,
                    )
                    .await;
                    scratch.drop_all(&server).await;
                    server.shutdown().await;
                    result.err()
                }
                Err(e) => {
                    db::sweep_after_failed_provision(&backend).await;
                    Some(e)
                }
            }
        }
        Err(source) => Some(Error::Output {
            path: options.out.clone(),
            source,
        }),
    };

    report.duration_s = clock.offset().as_secs_f64();
    report.verdict = crate::verdict::judge(&report.strategies, &plan.budgets);
    let (outcome, error) = match error {
        Some(Error::Interrupted) => (Outcome::Interrupted, None),
        _ if cancel.is_cancelled() => (Outcome::Interrupted, None),
        Some(e) => (Outcome::Error, Some(e)),
        None if report.verdict.passed => (Outcome::Passed, None),
        None => (Outcome::Failed, None),
    };
    report.outcome = outcome;
    report.error = error.as_ref().map(|e| e.to_string());
    let report_path = options.out.join("report.json");
    let error = match report.write(&report_path) {
        Ok(()) => error,
        Err(source) => error.or(Some(Error::Output {
            path: report_path.clone(),
            source,
        })),
    };
    // The other formats are views of report.json (`rehearse render` makes them again).
    let error = match crate::report::render::write_all(&report, &options.out) {
        Ok(_) => error,
        Err(source) => error.or(Some(Error::Output {
            path: options.out.clone(),
            source,
        })),
    };
    RunResult {
        report,
        report_path,
        error,
    }
}

/// The part of a run that needs a server.
async fn rehearse(
    plan: &Plan,
    server: &Server,
    clock: &RunClock,
    cancel: &CancellationToken,
    scratch: &mut Scratch,
    report: &mut Report,
    seeding: &SeedOptions,
) -> Result<(), Error> {
    let maintenance = server.connect(server.maintenance_db()).await?;
    describe_environment(server, &maintenance, plan, &mut report.environment).await?;
    // Since PG 15 CREATE DATABASE copies through WAL by default, which for a seeded template
    // of hundreds of MB is several times slower than copying the files.
    scratch.file_copy = report.environment.server_version_num >= Some(150000);
    let template = match &server.seed_cache {
        Some(key) => format!("rehearse_seed_{key}"),
        None => format!("rehearse_{}_seed", report.run_id),
    };
    if server.seed_cache.is_some() {
        sweep_leftovers(server, &maintenance, &template).await;
    }
    report.seed = match cached_seed(&maintenance, &template, seeding.fresh).await? {
        Some(summary) => {
            tracing::info!("reusing the seeded template {template} (run with --fresh to reseed)");
            Some(summary)
        }
        None => {
            scratch.create(&maintenance, &template, None).await?;
            let client = server.connect(&template).await?;
            let seeded = async {
                tracing::info!("creating the schema from {}", plan.schema.origin);
                seed::create_schema(&client, &plan.schema).await?;
                seed::fill(server, &template, &plan.seed, seeding.jobs).await
            };
            let mut summary = tokio::select! {
                summary = seeded => summary?,
                _ = cancel.cancelled() => return Err(Error::Interrupted),
            };
            drop(client);
            if let Some(key) = &server.seed_cache {
                summary.cache_key = Some(key.clone());
                mark_seeded(&maintenance, &template, &summary).await?;
                // Kept for the next run with the same data.
                scratch.keep(&template);
            }
            Some(summary)
        }
    };

    for (i, strategy) in plan.strategies.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(Error::Interrupted);
        }
        let database = format!("rehearse_{}_s{}", report.run_id, i + 1);
        // Every strategy starts from an identical copy of the seeded data.
        scratch
            .create(&maintenance, &database, Some(&template))
            .await?;
        let client = server
            .connect_as(&database, crate::observe::MIGRATION)
            .await?;
        tracing::info!("strategy {}: rehearsing in {database}", strategy.name);
        let strategy_start = chrono::Utc::now();
        // REHEARSE_NO_LOCK_SAMPLER=1 turns the sampler off, for the overhead A/B benchmark.
        let sampler = if std::env::var_os("REHEARSE_NO_LOCK_SAMPLER").is_some() {
            None
        } else {
            Some(
                crate::observe::Sampler::start(
                    server.config_as(&database, crate::observe::OBSERVER),
                    server.target.clone(),
                    *clock,
                )
                .await?,
            )
        };
        let traffic = match &plan.traffic {
            Some(t) => {
                let phases = phases(strategy);
                let running =
                    crate::traffic::start(server, &database, t, phases, *clock, plan.seed.seed)
                        .await?;
                tracing::info!("strategy {}: traffic running; baseline", strategy.name);
                crate::migrate::wait(t.baseline, cancel).await;
                Some(running)
            }
            None => None,
        };
        let observer = server
            .connect_as(&database, crate::observe::OBSERVER)
            .await?;
        let env = server.env_for(&database);
        let context = crate::migrate::StepContext {
            client: &client,
            observer: &observer,
            clock,
            cancel,
            traffic: traffic.as_ref(),
            command_env: &env,
            step_running: sampler.as_ref().map(|s| s.step_running.as_ref()),
            app_wait_us: sampler.as_ref().map(|s| s.app_wait_us.as_ref()),
        };
        let steps = crate::migrate::run_steps(&context, strategy).await;
        let traffic = match (traffic, &plan.traffic) {
            (Some(running), Some(t)) => {
                running.set_phase(strategy.steps.len() + 1);
                tracing::info!("strategy {}: recovery", strategy.name);
                crate::migrate::wait(t.recovery, cancel).await;
                Some(running.stop().await)
            }
            _ => None,
        };
        let (mut lock_waits, index_phases) = match sampler {
            Some(s) => s.stop().await,
            None => Default::default(),
        };
        if let Some(log) = &server.log {
            reconcile_with_log(&mut lock_waits, log, &observer, clock, strategy_start).await;
        }
        let leftovers = crate::migrate::leftovers(&observer).await;
        drop((client, observer));
        scratch.drop_one(server, &maintenance, &database).await;

        let entry = &mut report.strategies[i];
        entry.database = database;
        entry.start_s = steps.first().and_then(|s| s.start_s);
        entry.duration_s = steps
            .iter()
            .filter_map(|s| Some(s.start_s? + s.duration_s?))
            .next_back()
            .zip(entry.start_s)
            .map(|(end, start)| end - start);
        entry.status = if steps.iter().any(|s| s.status == StepStatus::Interrupted) {
            StrategyStatus::Interrupted
        } else if steps.iter().any(|s| s.status == StepStatus::Failed) {
            StrategyStatus::Failed
        } else {
            StrategyStatus::Succeeded
        };
        entry.steps = steps;
        for step in &mut entry.steps {
            if let (Some(start), Some(took)) = (step.start_s, step.duration_s) {
                step.lock_summary =
                    Some(crate::observe::step_waits(&lock_waits, start, start + took));
                step.index_phases = index_phases
                    .iter()
                    .filter(|p| {
                        p.role == "migration" && p.first_s < start + took && p.last_s >= start
                    })
                    .cloned()
                    .collect();
            }
        }
        entry.traffic = traffic;
        entry.leftovers = leftovers;
        entry.lock_waits = lock_waits;
    }
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    Ok(())
}

/// Adds the server log's exact lock waits (those logged since `since`) to the sampled ones.
async fn reconcile_with_log(
    waits: &mut Vec<crate::report::LockWait>,
    log: &Path,
    observer: &tokio_postgres::Client,
    clock: &RunClock,
    since: chrono::DateTime<chrono::Utc>,
) {
    // The log is written by the server (local) or copied from the container: give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let Ok(text) = tokio::fs::read_to_string(log).await else {
        return;
    };
    let logged: Vec<_> = crate::observe::parse_server_log(&text)
        .into_iter()
        .filter(|w| w.at >= since)
        .collect();
    let mut names = std::collections::BTreeMap::new();
    for oid in logged.iter().filter_map(|w| w.relation_oid) {
        if let Ok(row) = observer
            .query_one("SELECT $1::oid::regclass::text", &[&oid])
            .await
        {
            names.insert(oid, row.get::<_, String>(0));
        }
    }
    crate::observe::reconcile(waits, &logged, clock, |oid| names.get(&oid).cloned());
}

/// Traffic phases of a strategy: baseline, one per step, recovery.
fn phases(strategy: &crate::scenario::StrategyPlan) -> Vec<(String, &'static str)> {
    std::iter::once(("baseline".to_owned(), "baseline"))
        .chain(strategy.steps.iter().map(|s| (s.name.clone(), "step")))
        .chain(std::iter::once(("recovery".to_owned(), "recovery")))
        .collect()
}

async fn describe_environment(
    server: &Server,
    client: &tokio_postgres::Client,
    plan: &Plan,
    env: &mut Environment,
) -> Result<(), Error> {
    env.backend = Some(server.backend.name().into());
    env.target = Some(server.target.clone());
    env.image = server.image.clone();
    env.binaries = server.binaries.as_ref().map(|p| p.display().to_string());
    env.server_log = server.log.as_ref().map(|p| p.display().to_string());
    env.settings_applied = server.settings_applied;
    env.notes = server.notes.clone();
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int4",
            &[],
        )
        .await
        .map_err(|e| Error::server("read the server version", &e))?;
    env.server_version = Some(row.get(0));
    env.server_version_num = Some(row.get::<_, i32>(1) as u32);
    let names: Vec<String> = db::effective_settings(&plan.database)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let rows = client
        .query(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1) ORDER BY name",
            &[&names],
        )
        .await
        .map_err(|e| Error::server("read the server settings", &e))?;
    env.settings = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(())
}

/// The scratch databases this run created, so they are dropped however it ends.
#[derive(Debug, Default)]
struct Scratch {
    databases: Vec<String>,
    /// Clone with `STRATEGY FILE_COPY` (PG 15+).
    file_copy: bool,
}

impl Scratch {
    async fn create(
        &mut self,
        client: &tokio_postgres::Client,
        name: &str,
        template: Option<&str>,
    ) -> Result<(), Error> {
        let sql = match template {
            Some(t) => format!(
                "CREATE DATABASE {} TEMPLATE {}{}",
                quote_ident(name),
                quote_ident(t),
                if self.file_copy {
                    " STRATEGY FILE_COPY"
                } else {
                    ""
                }
            ),
            None => format!("CREATE DATABASE {}", quote_ident(name)),
        };
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| Error::server(format!("create scratch database {name}"), &e))?;
        self.databases.push(name.to_owned());
        Ok(())
    }

    /// Keeps `name` when the run ends (a seeded template kept for later runs).
    fn keep(&mut self, name: &str) {
        self.databases.retain(|d| d != name);
    }

    async fn drop_one(&mut self, server: &Server, client: &tokio_postgres::Client, name: &str) {
        if drop_database(client, name).await.is_ok() {
            self.databases.retain(|d| d != name);
        } else if let Ok(fresh) = server.connect(server.maintenance_db()).await {
            // The first connection may be the one that broke; try once more on a new one.
            if drop_database(&fresh, name).await.is_ok() {
                self.databases.retain(|d| d != name);
            }
        }
    }

    async fn drop_all(&mut self, server: &Server) {
        if self.databases.is_empty() {
            return;
        }
        match server.connect(server.maintenance_db()).await {
            Ok(client) => {
                for name in std::mem::take(&mut self.databases).into_iter().rev() {
                    if let Err(e) = drop_database(&client, &name).await {
                        tracing::warn!("failed to drop scratch database {name}: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!(
                "failed to drop scratch databases {}: {e}",
                self.databases.join(", ")
            ),
        }
    }
}

/// Marks a kept template as completely seeded: its comment holds the seed summary.
const SEEDED_MARK: &str = "rehearse seed cache: ";

async fn mark_seeded(
    client: &tokio_postgres::Client,
    template: &str,
    summary: &SeedSummary,
) -> Result<(), Error> {
    let json = serde_json::to_string(summary).expect("summary serializes");
    let sql = format!(
        "COMMENT ON DATABASE {} IS '{SEEDED_MARK}{}'",
        quote_ident(template),
        json.replace('\'', "''")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::server(format!("mark {template} as seeded"), &e))
}

/// The summary of a kept template seeded by an earlier run, if there is a finished one. An
/// unfinished one (a run stopped while seeding) and, with `--fresh`, any one is dropped.
async fn cached_seed(
    client: &tokio_postgres::Client,
    template: &str,
    fresh: bool,
) -> Result<Option<SeedSummary>, Error> {
    let row = client
        .query_opt(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1",
            &[&template],
        )
        .await
        .map_err(|e| Error::server("look for a seeded template", &e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let comment: String = row.get(0);
    let summary = comment
        .strip_prefix(SEEDED_MARK)
        .and_then(|json| serde_json::from_str::<SeedSummary>(json).ok());
    if let (Some(mut summary), false) = (summary, fresh) {
        summary.cached = true;
        return Ok(Some(summary));
    }
    drop_database(client, template)
        .await
        .map_err(|message| Error::Server {
            what: format!("drop the old template {template}"),
            message,
        })?;
    Ok(None)
}

/// Scratch databases a stopped run left in a kept cluster (only this run uses it: it holds the
/// cache lock). On an existing server other runs may be working, so nothing is swept there.
async fn sweep_leftovers(server: &Server, client: &tokio_postgres::Client, template: &str) {
    if server.backend == db::BackendKind::Url {
        return;
    }
    let Ok(rows) = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'rehearse\\_%' AND datname <> $1",
            &[&template],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        tracing::info!("dropping {name}, left by a stopped run");
        let _ = drop_database(client, &name).await;
    }
}

/// Drops a database, ending its sessions first (a step may still be running in it).
async fn drop_database(client: &tokio_postgres::Client, name: &str) -> Result<(), String> {
    let _ = client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await;
    let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
    let mut last = String::new();
    // Terminated sessions take a moment to go away.
    for _ in 0..50 {
        match client.batch_execute(&sql).await {
            Ok(()) => return Ok(()),
            Err(e) => last = crate::pg::describe(&e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(last)
}

/// A short random id: scratch database names and container labels carry it.
fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// The default output folder for a scenario: `reports/<scenario name>`.
pub fn default_out(plan: &Plan) -> PathBuf {
    let safe: String = plan
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Path::new("reports").join(safe)
}
