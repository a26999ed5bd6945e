//! The command line: clap definitions, and each command's glue from arguments to the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::db::BackendKind;
use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED, EXIT_USAGE, Error};
use crate::report::Report;
use crate::run::{CacheMode, Settings, load_plan};
use crate::scenario::Overrides;

/// `println!` that cannot panic: a reader that went away (`rehearse cache list | head -1`) ends
/// the output, not the command, which exits quietly with the code it would have had.
///
/// Write errors are dropped rather than SIGPIPE reset to its default (which would end the
/// process at the first write to the closed pipe) because this process also writes to Unix
/// sockets — the server, the Docker engine — where a closed peer must be an error the run
/// handles, not a death that skips its cleanup.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that cannot panic (see [`out!`]).
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that cannot panic (see [`out!`]): standard error may be a closed pipe too.
macro_rules! eout {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

const EXAMPLES: &str = "\
Examples:
  rehearse run scenarios/add-index.toml                   # provisions Postgres by itself
  rehearse run scenarios/add-not-null-column.toml --backend local --scale 0.1
  rehearse run scenarios/add-index.toml --backend url --database-url postgresql://postgres@127.0.0.1:5432/postgres
  rehearse compare scenarios/lock-queue.toml              # strategies side by side
  rehearse run scenarios/add-not-null-column.toml --postgres 15,17   # each major side by side
  rehearse estimate scenarios/add-index.toml --scales 0.01,0.03,0.1 --target 1
  rehearse diff last-night/report.json tonight/report.json
  rehearse validate scenarios/*.toml

Exit codes: 0 passed, 1 a step failed or a budget was breached (not counting strategies with expect = 'breach'), 2 usage or scenario error,
3 environment error (no Docker, no Postgres binaries, connection refused), 130 interrupted.";

/// Rehearse PostgreSQL schema migrations at production scale before they reach production.
#[derive(Debug, Parser)]
#[command(name = "rehearse", version, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rehearse a scenario: provision Postgres, seed it, run each strategy, write the report.
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Rehearse every strategy of a scenario on identical copies of the seeded data with the
    /// same traffic schedule, and show them side by side (terminal, report.html, report.md).
    Compare(RunArgs),
    /// Rehearse at several scales and predict each step's duration at a larger one.
    Estimate {
        /// The run's options (`--scale` excepted).
        #[command(flatten)]
        run: RunArgs,
        /// The scales to rehearse, growing: e.g. 0.01,0.03,0.1.
        #[arg(
            long,
            value_delimiter = ',',
            required = true,
            allow_negative_numbers = true
        )]
        scales: Vec<f64>,
        /// The scale to predict (1 = the scenario's row counts).
        #[arg(long, default_value = "1", allow_negative_numbers = true)]
        target: f64,
        /// Rehearsals per scale: their spread is the noise the range is built from.
        #[arg(long, default_value = "2", value_name = "N")]
        repeat: usize,
        /// Rehearse the scales again, up to N times each, while their noise leaves a
        /// prediction uncertain by more than --max-uncertainty (only the strategies of such
        /// steps; the target is measured only in the first --repeat rounds) [default: 6, or
        /// --repeat when larger; equal to --repeat, or --repeat 1, turns it off]
        #[arg(long, value_name = "N")]
        max_repeat: Option<usize>,
        /// How uncertain (95 %, in percent: 20 or 20%) the repeats' noise may leave a
        /// prediction before the scales are rehearsed again (uncertainties under 0.1 s never
        /// count).
        #[arg(
            long,
            value_name = "PERCENT",
            default_value = "20",
            value_parser = percent,
            allow_negative_numbers = true
        )]
        max_uncertainty: f64,
        /// The production server's memory (e.g. 64GB): the full scale's shared_buffers,
        /// effective_cache_size, maintenance_work_mem and work_mem come from it (else from the
        /// scenario's settings or Postgres's defaults), and the data outgrowing it is warned of.
        #[arg(long, value_name = "SIZE", value_parser = memory_size)]
        target_memory: Option<u64>,
        /// Rehearse every scale with the full scale's memory settings instead of scaling them
        /// with the data.
        #[arg(long)]
        no_memory_scaling: bool,
        /// Also rehearse the target scale in every round, beside the others but not fitted, and
        /// show how far each prediction was from it: how far to trust this scenario's estimates
        /// on this machine.
        #[arg(long)]
        measure_target: bool,
        /// Scale every table with the data, small ones too (by default tables under 64 MB at the
        /// target, together under 5 % of the data, are seeded at the target's size at every
        /// scale: scaled down, lookups into them would fit CPU caches the target's do not).
        #[arg(long)]
        scale_small_tables: bool,
    },
    /// Compare two reports of the same scenario (e.g. last night's and tonight's) and list
    /// regressions; exit 1 when there is one.
    Diff {
        /// The earlier report.json.
        base: PathBuf,
        /// The later report.json.
        new: PathBuf,
        /// A duration or latency regressed when it grew by more than this ratio…
        #[arg(long, default_value = "1.5", value_name = "RATIO", value_parser = ratio_above_one)]
        threshold: f64,
        /// …and by more than this much.
        #[arg(long, default_value = "100ms", value_name = "DURATION", value_parser = humantime::parse_duration)]
        min_change: std::time::Duration,
        /// Print Markdown (for a pull-request or CI comment) instead of text.
        #[arg(long)]
        md: bool,
    },
    /// Check scenario files (syntax, keys, types, referenced files) without touching a database.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Write a complete scenario for an existing database into a new folder: its schema
    /// (pg_dump --schema-only), a seed section shaped like it (profile), a traffic section from
    /// pg_stat_statements when installed, a strategy for a migrations folder, and budgets.
    /// Read-only; no rows are read.
    Init {
        /// The database (postgresql://USER[:PASSWORD]@HOST:PORT/DB).
        #[arg(long, value_name = "URL")]
        from_database: String,
        /// The folder to write (new, or empty).
        dir: PathBuf,
        /// Schemas to include (repeatable).
        #[arg(long, value_name = "NAME", default_value = "public")]
        schema: Vec<String>,
        /// Multiply the real row counts (e.g. 0.1 to start small).
        #[arg(long, value_name = "SCALE", default_value_t = 1.0, value_parser = positive_scale)]
        scale: f64,
    },
    /// Write a seed section shaped like an existing database, from its catalog and planner
    /// statistics only (read-only; no rows are read).
    Profile {
        /// The database to profile (postgresql://USER[:PASSWORD]@HOST:PORT/DB).
        #[arg(long, value_name = "URL")]
        database_url: String,
        /// Schemas to profile (repeatable).
        #[arg(long, value_name = "NAME", default_value = "public")]
        schema: Vec<String>,
        /// Write the seed section here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write a [traffic] section from pg_stat_statements (the extension must be
        /// installed in the profiled database).
        #[arg(long)]
        traffic: bool,
        /// With --traffic: take two snapshots this far apart (e.g. 60s) instead of counting
        /// since pg_stat_statements was last reset.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "traffic")]
        window: Option<std::time::Duration>,
        /// With --traffic: keep the busiest statements that together make up this share of
        /// all calls.
        #[arg(
            long,
            value_name = "FRACTION",
            default_value_t = 0.95,
            requires = "traffic"
        )]
        coverage: f64,
    },
    /// Re-render a report.json as HTML, Markdown or JUnit XML (to standard output, or --out).
    Render {
        /// The report.json to render.
        report: PathBuf,
        /// The format.
        #[arg(long, value_enum, default_value = "html")]
        format: crate::report::render::Format,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List what rehearsals that died left behind (cluster folders and their servers,
    /// containers and volumes, scratch databases on --database-url, external commands), and
    /// with --yes remove it. Nothing of a running rehearsal is touched.
    Gc {
        /// Remove what was found (else only list it).
        #[arg(long)]
        yes: bool,
        /// Also look for scratch databases on this server
        /// (postgresql://USER[:PASSWORD]@HOST:PORT/DB).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// List or clear the seed cache (kept clusters and docker volumes holding seeded data).
    Cache {
        /// What to do.
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Print the JSON Schema of report.json.
    #[command(hide = true)]
    ReportSchema,
    /// Watch a run's process and remove what the run left if it dies (started by each run).
    #[command(hide = true)]
    Reap {
        /// The run's owner mark.
        #[arg(long)]
        owner: String,
        /// Look for containers and volumes.
        #[arg(long)]
        docker: bool,
        /// The seed cache folder.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Check reports for contradictions within themselves (the test suite's and the contention
    /// script's check); exit 1 when one has any.
    #[command(hide = true)]
    CheckReport {
        /// The report.json files.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
}

/// `rehearse cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Show the entries, their size and whether a running rehearsal holds them.
    List,
    /// Remove every entry no running rehearsal holds.
    Clear,
}

/// `rehearse run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Where Postgres comes from: a container (docker), installed binaries (local), an existing
    /// server (url), or the first that works (auto).
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendKind,
    /// The server for `--backend url` (postgresql://USER[:PASSWORD]@HOST:PORT/DB).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Container image for `--backend docker` [default: the scenario's, else postgres:<major>,
    /// else the offline-built rehearse/postgres:<major>].
    #[arg(long)]
    pub image: Option<String>,
    /// Directory holding initdb and postgres, for `--backend local`.
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// Let `--backend url` run on a server whose database already holds tables.
    #[arg(long)]
    pub allow_existing_tables: bool,
    /// Output folder [default: reports/<scenario name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Multiply every table's row count by this (> 0).
    #[arg(long, value_parser = positive_scale, allow_negative_numbers = true)]
    pub scale: Option<f64>,
    /// Random seed for the synthetic data [default: the scenario's, else 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rehearse only this strategy.
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Rehearse on each of these Postgres majors, side by side (e.g. 13,15,17,18) [default: the
    /// scenario's `[database] postgres`].
    #[arg(long, value_name = "MAJORS", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(9..=99))]
    pub postgres: Option<Vec<u32>>,
    /// Connections that load and index the seed data [default: the number of CPUs, at least 2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub seed_jobs: Option<u32>,
    /// Seed again even if a cached seeded database matches (and replace the cache entry).
    #[arg(long)]
    pub fresh: bool,
    /// Do not keep the seeded database for later runs, nor reuse one.
    #[arg(long, conflicts_with = "fresh")]
    pub no_cache: bool,
    /// Run without the lock sampler (for the sampler's overhead benchmark only).
    #[arg(long, hide = true)]
    pub no_lock_sampler: bool,
}

impl RunArgs {
    /// What the command line may change in the scenario.
    fn overrides(&self) -> Overrides {
        Overrides {
            scale: self.scale,
            seed: self.seed,
            strategy: self.strategy.clone(),
            postgres: self.postgres.clone(),
        }
    }

    /// The flags, validated: refuses combinations that cannot work before anything starts.
    fn settings(&self) -> Result<Settings, Error> {
        if self.backend == BackendKind::Url && self.database_url.is_none() {
            return Err(Error::Usage(
                "--backend url needs --database-url postgresql://USER@HOST:PORT/DB".into(),
            ));
        }
        if matches!(self.backend, BackendKind::Local | BackendKind::Docker)
            && self.database_url.is_some()
        {
            return Err(Error::Usage(format!(
                "--database-url names an existing server, but --backend {} starts one; use \
                 --backend url (or auto) with --database-url, or drop it",
                self.backend.name()
            )));
        }
        Ok(Settings {
            backend: self.backend,
            database_url: self.database_url.clone(),
            image: self.image.clone(),
            pg_bin: self.pg_bin.clone(),
            allow_existing_tables: self.allow_existing_tables,
            out: self.out.clone(),
            seed_jobs: self
                .seed_jobs
                .map_or_else(default_seed_jobs, |n| n as usize),
            cache: match (self.fresh, self.no_cache) {
                (true, _) => CacheMode::Fresh,
                (_, true) => CacheMode::Off,
                _ => CacheMode::Use,
            },
            cache_dir: crate::db::cache::default_dir(),
            lock_sampler: !self.no_lock_sampler,
        })
    }
}

fn positive_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected a number such as 0.1 or 2, found `{s}`"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("the scale must be greater than 0, found {s}"))
    }
}

/// Runs a parsed command and returns the process exit code. Errors are printed here, once.
pub async fn execute(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run_or_compare(&args, false).await,
        Command::Compare(args) => run_or_compare(&args, true).await,
        Command::Estimate {
            run,
            scales,
            target,
            repeat,
            max_repeat,
            max_uncertainty,
            target_memory,
            no_memory_scaling,
            measure_target,
            scale_small_tables,
        } => {
            if repeat == 1 && max_repeat.is_some_and(|m| m > 1) {
                eprintln!(
                    "estimate: --max-repeat has no effect with --repeat 1: without repeats there \
                     is no measured noise to decide by"
                );
            }
            let how = crate::run::estimate::EstimateOptions {
                scales,
                target,
                repeat,
                max_repeat: max_repeat
                    .unwrap_or(crate::run::estimate::DEFAULT_MAX_REPEAT.max(repeat)),
                max_uncertainty: max_uncertainty / 100.0,
                target_memory,
                scale_memory: !no_memory_scaling,
                measure_target,
                scale_small_tables,
            };
            estimate(&run, &how).await
        }
        Command::Diff {
            base,
            new,
            threshold,
            min_change,
            md,
        } => diff(&base, &new, threshold, min_change, md),
        Command::Validate { scenarios } => Ok(validate(&scenarios)),
        Command::Cache { action } => cache(action).await,
        Command::Render {
            report,
            format,
            out,
        } => render(&report, format, out.as_deref()),
        Command::Profile {
            database_url,
            schema,
            out,
            traffic,
            window,
            coverage,
        } => {
            let traffic = traffic.then_some(crate::profile::TrafficOptions {
                window,
                coverage: coverage.clamp(0.01, 1.0),
            });
            profile(&database_url, &schema, out.as_deref(), traffic).await
        }
        Command::Init {
            from_database,
            dir,
            schema,
            scale,
        } => init(&from_database, &dir, &schema, scale).await,
        Command::CheckReport { reports } => check_reports(&reports),
        Command::Gc { yes, database_url } => gc(yes, database_url).await,
        Command::Reap {
            owner,
            docker,
            cache_dir,
        } => {
            let Some(owner) = crate::db::owner::Owner::parse(&owner) else {
                return EXIT_USAGE;
            };
            let watch = crate::db::reaper::Watch {
                owner,
                docker,
                cache_dir,
                url: None,
            };
            crate::db::reaper::reap(watch).await;
            Ok(EXIT_PASSED)
        }
        Command::ReportSchema => {
            let schema = serde_json::to_string_pretty(&Report::json_schema()).expect("json");
            out!("{schema}");
            Ok(EXIT_PASSED)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eout!("error: {e}");
            e.exit_code()
        }
    }
}

fn validate(paths: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASSED;
    for path in paths {
        match load_plan(path, &Overrides::default()) {
            Ok(plan) => out!(
                "ok: {} ({} strateg{}, {} step{})",
                path.display(),
                plan.strategies.len(),
                if plan.strategies.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                plan.step_count(),
                if plan.step_count() == 1 { "" } else { "s" }
            ),
            Err(e) => {
                eout!("error: {e}");
                code = EXIT_USAGE;
            }
        }
    }
    code
}

async fn cache(action: CacheAction) -> Result<i32, Error> {
    let dir = crate::db::cache::default_dir();
    match action {
        CacheAction::List => {
            let entries = crate::db::cache::list(&dir)?;
            out!(
                "seed cache {}: {} entr{}",
                dir.display(),
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            );
            for e in entries {
                out!(
                    "  {:60} {:14} {:>10}{}",
                    e.name,
                    e.kind,
                    e.bytes
                        .map_or("–".into(), |b| crate::report::render::bytes(b as f64)),
                    if e.in_use { "  (in use)" } else { "" }
                );
            }
        }
        CacheAction::Clear => {
            let (removed, skipped) = crate::db::cache::clear(&dir).await?;
            out!(
                "removed {} entr{} from {}",
                removed.len(),
                if removed.len() == 1 { "y" } else { "ies" },
                dir.display()
            );
            for name in skipped {
                out!("  kept {name}: a running rehearsal holds it");
            }
        }
    }
    Ok(EXIT_PASSED)
}

async fn gc(yes: bool, url: Option<String>) -> Result<i32, Error> {
    let scope = crate::db::leftovers::Scope {
        run: None,
        temp_dir: std::env::temp_dir(),
        cache_dir: Some(crate::db::cache::default_dir()),
        docker: crate::db::docker::engine().await.is_ok(),
        url: url.clone(),
    };
    let found = crate::db::leftovers::find(&scope).await;
    if found.is_empty() {
        out!("nothing left behind by rehearsals that died");
        return Ok(EXIT_PASSED);
    }
    let mut failed = false;
    for leftover in &found {
        if !yes {
            out!("  {leftover}");
            continue;
        }
        match crate::db::leftovers::remove(leftover, url.as_deref()).await {
            Ok(()) => out!("  removed {leftover}"),
            Err(e) => {
                failed = true;
                out!("  FAILED to remove {leftover}: {e}");
            }
        }
    }
    if !yes {
        out!(
            "{} thing(s) left behind by rehearsals that died; `rehearse gc --yes` removes them",
            found.len()
        );
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_PASSED })
}

fn check_reports(paths: &[PathBuf]) -> Result<i32, Error> {
    let mut code = EXIT_PASSED;
    for path in paths {
        let report = crate::assemble::read_report(path)?;
        let found = crate::assemble::invariants(&report);
        for f in &found {
            out!("{}: {f}", path.display());
        }
        if !found.is_empty() {
            code = EXIT_FAILED;
        }
    }
    Ok(code)
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').trim().parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "expected a percentage from 0 to 1000, such as 20, found `{s}`"
        )),
    }
}

fn ratio_above_one(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 1.0 => Ok(r),
        _ => Err(format!(
            "expected a ratio of 1 or more, such as 1.5, found `{s}`"
        )),
    }
}

fn diff(
    base: &std::path::Path,
    new: &std::path::Path,
    ratio: f64,
    floor: std::time::Duration,
    md: bool,
) -> Result<i32, Error> {
    let read = crate::assemble::read_report;
    let (base, new) = (read(base)?, read(new)?);
    let d = crate::diff::diff(&base, &new, crate::diff::Thresholds { ratio, floor });
    out_raw!("{}", if md { d.markdown() } else { d.text() });
    Ok(if d.regressed() {
        EXIT_FAILED
    } else {
        EXIT_PASSED
    })
}

fn render(
    path: &std::path::Path,
    format: crate::report::render::Format,
    out: Option<&std::path::Path>,
) -> Result<i32, Error> {
    let report = crate::assemble::read_report(path)?;
    let text = crate::report::render::render(&report, format);
    if let Some(file) = out {
        std::fs::write(file, text).map_err(|source| Error::Output {
            path: file.to_owned(),
            source,
        })?;
    } else {
        out_raw!("{text}");
    }
    Ok(EXIT_PASSED)
}

async fn init(
    url: &str,
    dir: &std::path::Path,
    schemas: &[String],
    scale: f64,
) -> Result<i32, Error> {
    let written = crate::profile::init(url, dir, schemas, scale).await?;
    for note in &written.notes {
        eout!("could not infer: {note}");
    }
    match load_plan(&written.scenario, &Overrides::default()) {
        Ok(_) => {
            out!(
                "wrote {} (and schema.sql, migrations/ beside it); it validates.\n\
                 next: put your migrations in {}, then: rehearse run {}",
                written.scenario.display(),
                dir.join("migrations").display(),
                written.scenario.display()
            );
            Ok(EXIT_PASSED)
        }
        Err(e) => {
            eout!(
                "wrote {}, but it does not validate yet:\n{e}",
                written.scenario.display()
            );
            Ok(EXIT_USAGE)
        }
    }
}

async fn profile(
    url: &str,
    schemas: &[String],
    out: Option<&std::path::Path>,
    traffic: Option<crate::profile::TrafficOptions>,
) -> Result<i32, Error> {
    let (client, target) = crate::db::connect_url(url).await?;
    if let Some(window) = traffic.and_then(|t| t.window) {
        eout!("reading pg_stat_statements twice, {window:?} apart…");
    }
    let (toml, notes) = crate::profile::profile(&client, schemas, traffic, 1.0).await?;
    if let Some(path) = out {
        std::fs::write(path, &toml).map_err(|source| Error::Output {
            path: path.to_owned(),
            source,
        })?;
    } else {
        out_raw!("{toml}");
    }
    eout!("profiled {target}");
    for note in &notes {
        eout!("could not infer: {note}");
    }
    Ok(EXIT_PASSED)
}

/// One loading connection per CPU (at least 2: one generates while the other's backend works).
fn default_seed_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// A run's cancellation: fired by the first SIGINT or SIGTERM.
fn signals() -> CancellationToken {
    let cancel = CancellationToken::new();
    tokio::spawn(watch_signals(cancel.clone()));
    cancel
}

async fn estimate(
    args: &RunArgs,
    how: &crate::run::estimate::EstimateOptions,
) -> Result<i32, Error> {
    let settings = args.settings()?;
    crate::run::estimate::estimate(&args.scenario, &args.overrides(), &settings, how, signals())
        .await
}

/// A memory size: `64GB`, `512MB`, `1TB`, at least 64 MB.
fn memory_size(text: &str) -> Result<u64, String> {
    match crate::estimate::memory::parse_bytes(text, 1) {
        Some(b) if b >= 64 << 20 => Ok(b),
        Some(_) => Err("at least 64MB".into()),
        None => Err("a size such as 64GB or 512MB".into()),
    }
}

async fn run_or_compare(args: &RunArgs, compare: bool) -> Result<i32, Error> {
    let settings = args.settings()?;
    crate::run::command::run_or_compare(
        &args.scenario,
        &args.overrides(),
        &settings,
        compare,
        signals(),
    )
    .await
}

/// First SIGINT/SIGTERM: stop the run in order (cleanup, report). Second: exit at once, leaving
/// the cleanup to the run's reaper (which sees this process die).
async fn watch_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {},
        _ = term.recv() => {},
    }
    eout!("interrupted: stopping the run and cleaning up (press Ctrl-C again to exit at once)");
    cancel.cancel();
    tokio::select! {
        _ = int.recv() => {},
        _ = term.recv() => {},
    }
    eout!(
        "interrupted again: exiting now; the reaper removes the server and scratch data (`rehearse gc` lists anything left)"
    );
    std::process::exit(EXIT_INTERRUPTED);
}
