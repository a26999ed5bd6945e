//! The validated, immutable plan a run executes: the scenario file with defaults applied, CLI
//! overrides folded in, referenced files read, and row counts scaled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Problem, ScenarioError};
use super::file::{BackfillSection, CommandValue, MajorVersion, ScenarioFile, StepSection};
use super::seed::{self, SeedPlan};
use super::traffic::{self, TrafficPlan};
use crate::pg::ErrorClass;
use crate::pg::split::{self, Statement};

/// The seed used when neither the scenario nor `--seed` gives one.
pub(super) const DEFAULT_SEED: u64 = 42;

/// Checks a seed section against the schema SQL, without a database: every problem found.
pub(super) type SeedCheck = fn(&str, &SeedPlan, &[KeyUse]) -> Vec<Problem>;

/// A column a step walks by key (a backfill's), for the schema check: it must be an integer.
#[derive(Debug, Clone)]
pub(crate) struct KeyUse {
    /// The table.
    pub table: String,
    /// The key column.
    pub column: String,
    /// The scenario line.
    pub line: Option<usize>,
    /// The scenario key, for messages.
    pub key: String,
}

/// What the command line may change in a scenario.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// Multiplies every table's row count (must be > 0).
    pub scale: Option<f64>,
    /// Replaces the scenario's random seed.
    pub seed: Option<u64>,
    /// Rehearse only this strategy.
    pub strategy: Option<String>,
    /// Rehearse on these majors instead of the scenario's (`--postgres 13,17`).
    pub postgres: Option<Vec<u32>>,
}

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The scenario file it came from.
    pub path: PathBuf,
    /// The scenario's name.
    pub name: String,
    /// The scenario's description.
    pub description: Option<String>,
    /// Which Postgres to run.
    pub database: DatabasePlan,
    /// The schema, as SQL.
    pub schema: SqlSource,
    /// How to fill the tables.
    pub seed: SeedPlan,
    /// The application traffic replayed during each strategy.
    pub traffic: Option<TrafficPlan>,
    /// The strategies to rehearse, in file order.
    pub strategies: Vec<StrategyPlan>,
    /// Limits the run must stay within.
    pub budgets: Budgets,
}

/// `[database]`, validated.
#[derive(Debug, Clone, Default)]
pub struct DatabasePlan {
    /// Major version wanted.
    pub major: Option<u32>,
    /// Only `major` will do: no local binaries of another major in its place (one column of a
    /// side-by-side run on several majors).
    pub exact_major: bool,
    /// With two or more: rehearse on each of these majors, side by side (`postgres = [13,
    /// 17]` or `--postgres 13,17`); `major` is the first.
    pub majors: Vec<u32>,
    /// Container image wanted.
    pub image: Option<String>,
    /// Server settings, in key order.
    pub settings: Vec<(String, String)>,
}

/// SQL and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct SqlSource {
    /// `inline` or the file's path as given in the scenario.
    pub origin: String,
    /// The SQL text.
    pub sql: String,
}

/// One strategy, validated.
#[derive(Debug, Clone)]
pub(crate) struct StrategyPlan {
    /// Unique name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Shown for contrast: its breaches are expected and do not fail the run.
    pub expect_breach: bool,
    /// Steps in order.
    pub steps: Vec<StepPlan>,
}

/// One step.
#[derive(Debug, Clone)]
pub(crate) struct StepPlan {
    /// Name shown in reports.
    pub name: String,
    /// What it does.
    pub action: StepAction,
    /// Start no earlier than this offset from the start of the strategy's traffic (or of the
    /// strategy without traffic).
    pub at: Option<Duration>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub(crate) enum StepAction {
    /// Run SQL (read from its file already).
    Sql(SqlStep),
    /// Switch the application to `version`, gradually over `over`.
    Deploy {
        /// The version deployed.
        version: String,
        /// How long the shift takes (zero: at once).
        over: Duration,
        /// Connections the new version opens beside the old version's during the rollout.
        connections: usize,
        /// Whether the step lasts as long as the rollout (else the next steps run during it).
        wait: bool,
    },
    /// Wait, traffic running.
    Pause(Duration),
    /// Update a table in key-range batches.
    Backfill(BackfillSection),
    /// Run an external command in the scenario's folder.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Where it runs (the scenario file's folder).
        dir: PathBuf,
    },
}

/// A SQL step: its statements and how to run them.
#[derive(Debug, Clone)]
pub(crate) struct SqlStep {
    /// The SQL and where it came from.
    pub source: SqlSource,
    /// The statements, split as psql would.
    pub statements: Vec<Statement>,
    /// All statements in one transaction (else each on its own).
    pub transaction: bool,
    /// `lock_timeout`, if set.
    pub lock_timeout: Option<Duration>,
    /// `statement_timeout`, if set.
    pub statement_timeout: Option<Duration>,
    /// Retries after a lock timeout.
    pub retries: u32,
    /// Pause before the first retry, doubled for each further one.
    pub retry_backoff: Duration,
}

/// Default pause before the first retry after a lock timeout.
pub(super) const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// What kind of step a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// SQL statements.
    Sql,
    /// An application deploy.
    Deploy,
    /// A pause, traffic running.
    Pause,
    /// An external command.
    Command,
    /// A batched backfill.
    Backfill,
}

impl StepKind {
    /// The name reports use: `sql`, `deploy`, …
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Sql => "sql",
            StepKind::Deploy => "deploy",
            StepKind::Pause => "pause",
            StepKind::Command => "command",
            StepKind::Backfill => "backfill",
        }
    }

    /// Whether the step changes the database itself (SQL, a migration tool, a backfill), so
    /// the catalog is read before and after it.
    pub fn touches_database(self) -> bool {
        matches!(self, StepKind::Sql | StepKind::Command | StepKind::Backfill)
    }
}

/// What a phase of a strategy's traffic is: the baseline before the first step, a step, or the
/// recovery after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Traffic before the first step.
    Baseline,
    /// Traffic while a step runs.
    Step,
    /// Traffic after the last step.
    Recovery,
    /// Traffic while a step waits for its `at`, after the step before it ended (every such
    /// wait of a strategy together).
    Between,
}

impl StrategyPlan {
    /// The strategy's traffic phases in order, named: the baseline, one per step, the recovery.
    /// Step `i` (0-based) is phase `i + 1`.
    pub(crate) fn phases(&self) -> Vec<(String, PhaseKind)> {
        std::iter::once(("baseline".to_owned(), PhaseKind::Baseline))
            .chain(self.steps.iter().map(|s| (s.name.clone(), PhaseKind::Step)))
            .chain(std::iter::once((
                "recovery".to_owned(),
                PhaseKind::Recovery,
            )))
            .chain(
                self.between_phase()
                    .map(|_| ("between steps".to_owned(), PhaseKind::Between)),
            )
            .collect()
    }

    /// The index of the phase counting the time steps wait for their `at` (after the recovery),
    /// when a step after the first has one.
    pub(crate) fn between_phase(&self) -> Option<usize> {
        self.steps
            .iter()
            .skip(1)
            .any(|s| s.at.is_some())
            .then_some(self.steps.len() + 2)
    }
}

impl StepAction {
    /// What kind of step it is.
    pub(crate) fn kind(&self) -> StepKind {
        match self {
            StepAction::Sql(_) => StepKind::Sql,
            StepAction::Deploy { .. } => StepKind::Deploy,
            StepAction::Pause(_) => StepKind::Pause,
            StepAction::Command { .. } => StepKind::Command,
            StepAction::Backfill(_) => StepKind::Backfill,
        }
    }

    /// Where the step's SQL came from, or what it does.
    pub(crate) fn source(&self) -> String {
        match self {
            StepAction::Sql(sql) => sql.source.origin.clone(),
            StepAction::Deploy { version, over, .. } if over.is_zero() => {
                format!("deploy {version}")
            }
            StepAction::Deploy {
                version,
                over,
                connections,
                ..
            } => {
                let surge = if *connections > 0 {
                    format!(" with {connections} new connections")
                } else {
                    String::new()
                };
                format!(
                    "deploy {version} over {}{surge}",
                    humantime::format_duration(*over)
                )
            }
            StepAction::Pause(d) => format!("pause {}", humantime::format_duration(*d)),
            StepAction::Command { argv, .. } => argv.join(" "),
            StepAction::Backfill(b) => format!(
                "UPDATE {} SET {} by {} keys of {}",
                b.table,
                b.set,
                b.batch.unwrap_or(1000),
                b.key
            ),
        }
    }
}

/// `[budgets]`: kept in the plan; `verdict` checks the ones a run can measure.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Budgets {
    /// Longest lock wait of any application operation.
    pub max_lock_wait: Option<Duration>,
    /// p99 latency while steps run.
    pub p99_during_migration: Option<Duration>,
    /// Application errors allowed.
    pub max_errors: Option<u64>,
    /// Longest single step.
    pub max_step_duration: Option<Duration>,
    /// Longest strategy (all its steps).
    pub max_duration: Option<Duration>,
    /// p99 during migration over baseline p99.
    pub p99_vs_baseline: Option<f64>,
    /// Application errors allowed per error class.
    pub max_errors_by_class: Vec<(ErrorClass, u64)>,
    /// Longest ACCESS EXCLUSIVE hold of a step.
    pub max_exclusive_lock_hold: Option<Duration>,
    /// Application operations that may be lost (dropped or abandoned); 0 unless given.
    pub max_lost_operations: Option<u64>,
}

impl Plan {
    /// Reads, parses and validates a scenario file, applying `overrides`. `check_seed` checks
    /// the seed section against the schema SQL (the seeder's own check, passed in so the
    /// scenario does not depend on the seeder); its problems are listed with the others.
    pub(crate) fn load(
        path: &Path,
        overrides: &Overrides,
        check_seed: SeedCheck,
    ) -> Result<Plan, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: ScenarioFile = toml::from_str(&text).map_err(|e| ScenarioError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Builder {
            text: &text,
            dir: path.parent().unwrap_or(Path::new(".")),
            problems: Vec::new(),
            key_uses: Vec::new(),
        }
        .build(path, file, overrides, check_seed)
    }

    /// Total number of steps over all strategies.
    pub(crate) fn step_count(&self) -> usize {
        self.strategies.iter().map(|s| s.steps.len()).sum()
    }
}

/// Collects every problem of a file before failing, so one `validate` shows them all.
struct Builder<'a> {
    text: &'a str,
    dir: &'a Path,
    problems: Vec<Problem>,
    /// The backfills' key columns, checked against the schema.
    key_uses: Vec<KeyUse>,
}

impl Builder<'_> {
    fn build(
        mut self,
        path: &Path,
        file: ScenarioFile,
        overrides: &Overrides,
        check_seed: SeedCheck,
    ) -> Result<Plan, ScenarioError> {
        let name = file.name.get_ref().trim().to_owned();
        if let Some(message) = name_problem(&name) {
            self.problem(Some(&file.name), "name", message);
        }
        let database = self.database(&file, overrides);
        let schema = self.schema(&file);
        let seed = self.seed(&file, overrides);
        let traffic = file.traffic.as_ref().map(|t| {
            let dir = self.dir.to_owned();
            self.collect(|report| traffic::plan(t, &dir, report))
        });
        let mut strategies = self.strategies(&file, traffic.as_ref());
        self.check_connections(&database, traffic.as_ref());
        if let Some(schema) = &schema {
            // The seed section and the backfills' keys against the tables the schema SQL
            // creates (no database needed).
            let key_uses = std::mem::take(&mut self.key_uses);
            self.problems
                .extend(check_seed(&schema.sql, &seed, &key_uses));
        }
        let mut budgets = Budgets {
            max_lock_wait: file.budgets.max_lock_wait,
            p99_during_migration: file.budgets.p99_during_migration,
            max_errors: file.budgets.max_errors,
            max_step_duration: file.budgets.max_step_duration,
            max_duration: file.budgets.max_duration,
            p99_vs_baseline: file.budgets.p99_vs_baseline,
            max_errors_by_class: Vec::new(),
            max_exclusive_lock_hold: file.budgets.max_exclusive_lock_hold,
            max_lost_operations: file.budgets.max_lost_operations,
        };
        if let Some(r) = budgets.p99_vs_baseline
            && !(r.is_finite() && r > 0.0)
        {
            self.problem::<()>(
                None,
                "budgets.p99-vs-baseline",
                format!("expected a ratio above 0, found {r}"),
            );
        }
        for (class, limit) in &file.budgets.max_errors_by_class {
            match class.parse::<ErrorClass>() {
                Ok(c) => budgets.max_errors_by_class.push((c, *limit)),
                Err(message) => self.problem::<()>(
                    None,
                    &format!("budgets.max-errors-by-class.{class}"),
                    message,
                ),
            }
        }

        if !self.problems.is_empty() {
            // In file order; problems without a line last.
            self.problems
                .sort_by_key(|p| (p.line.is_none(), p.line.unwrap_or(0)));
            return Err(ScenarioError::Invalid {
                path: path.to_owned(),
                problems: self.problems,
            });
        }
        if let Some(wanted) = &overrides.strategy {
            let available = strategies
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            strategies.retain(|s| &s.name == wanted);
            if strategies.is_empty() {
                return Err(ScenarioError::UnknownStrategy {
                    path: path.to_owned(),
                    name: wanted.clone(),
                    available,
                });
            }
        }
        Ok(Plan {
            path: path.to_owned(),
            name,
            description: file.description,
            database,
            schema: schema.unwrap_or(SqlSource {
                origin: String::new(),
                sql: String::new(),
            }),
            seed,
            traffic,
            strategies,
            budgets,
        })
    }

    /// `expect = "breach"` or nothing.
    fn expect(&mut self, expect: Option<&Spanned<String>>, i: usize) -> bool {
        let Some(value) = expect else {
            return false;
        };
        if value.get_ref() == "breach" {
            return true;
        }
        self.problem(
            Some(value),
            &format!("strategy[{i}].expect"),
            format!(
                "expected \"breach\" (the naive way, shown for contrast), found \"{}\"",
                value.get_ref()
            ),
        );
        false
    }

    fn line_of<T>(&self, spanned: &Spanned<T>) -> usize {
        line_at(self.text, spanned.span().start)
    }

    fn problem<T>(&mut self, at: Option<&Spanned<T>>, key: &str, message: String) {
        let line = at.map(|s| self.line_of(s));
        self.problems.push(Problem {
            line,
            key: key.to_owned(),
            message,
        });
    }

    fn database(&mut self, file: &ScenarioFile, overrides: &Overrides) -> DatabasePlan {
        fn one(v: &MajorVersion) -> Option<u32> {
            let parsed = match v {
                MajorVersion::Number(n) => u32::try_from(*n).ok(),
                MajorVersion::Text(s) => s.trim().parse::<u32>().ok(),
                MajorVersion::List(_) | MajorVersion::Other(_) => None,
            };
            parsed.filter(|m| (9..=99).contains(m))
        }
        let mut majors = match file.database.postgres.as_ref() {
            None => Vec::new(),
            Some(v) => {
                let parsed: Option<Vec<u32>> = match v.get_ref() {
                    MajorVersion::List(list) if !list.is_empty() => list.iter().map(one).collect(),
                    MajorVersion::List(_) => None,
                    single => one(single).map(|m| vec![m]),
                };
                parsed.unwrap_or_else(|| {
                    self.problem(
                        Some(v),
                        "database.postgres",
                        format!(
                            "expected a Postgres major version such as 17 or \"17\", or a list \
                             of them such as [13, 15, 17]; found {}",
                            v.get_ref().found()
                        ),
                    );
                    Vec::new()
                })
            }
        };
        if let Some(wanted) = &overrides.postgres {
            majors.clone_from(wanted);
        }
        let exact_major = overrides.postgres.is_some();
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = majors.iter().find(|m| !seen.insert(**m)) {
            // Rehearsing a major twice side by side is not a comparison: say so, don't merge.
            let (at, key) = if exact_major {
                (None, "--postgres")
            } else {
                (file.database.postgres.as_ref(), "database.postgres")
            };
            self.problem(
                at,
                key,
                format!("{twice} is listed twice; list each major once"),
            );
        }
        if majors.len() > 1 && file.database.image.is_some() {
            self.problem(
                file.database.postgres.as_ref(),
                "database.image",
                "an image holds one major; to rehearse on several, leave `image` out (each major \
                 gets postgres:<major>, else the offline-built rehearse/postgres:<major>)"
                    .into(),
            );
        }
        DatabasePlan {
            exact_major,
            major: majors.first().copied(),
            majors,
            image: file.database.image.clone(),
            settings: file
                .database
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        }
    }

    /// A `max_connections` the scenario sets must hold the traffic's pool, its background
    /// sessions and rehearse's own sessions, or no strategy can start.
    fn check_connections(&mut self, database: &DatabasePlan, traffic: Option<&TrafficPlan>) {
        let Some(t) = traffic else {
            return;
        };
        let Some(max) = database
            .settings
            .iter()
            .find(|(k, _)| k == "max_connections")
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        else {
            return;
        };
        let pool = t
            .replay
            .as_ref()
            .map_or(t.connections, |r| r.capture.sessions.len());
        let needed = pool + t.background.len() + OWN_CONNECTIONS;
        if max < needed {
            self.problem::<()>(
                None,
                "database.settings.max_connections",
                format!(
                    "{max} cannot hold the traffic's {pool} connections, its {} background \
                     session(s) and rehearse's own {OWN_CONNECTIONS} (the migration and its \
                     observers): at least {needed}",
                    t.background.len()
                ),
            );
        }
    }

    fn schema(&mut self, file: &ScenarioFile) -> Option<SqlSource> {
        let section = file.schema.get_ref();
        match (&section.file, &section.sql) {
            (Some(path), None) => self.read_sql(path, "schema.file"),
            (None, Some(sql)) => Some(SqlSource {
                origin: "inline".into(),
                sql: sql.clone(),
            }),
            _ => {
                self.problem(
                    Some(&file.schema),
                    "schema",
                    "expected exactly one of `file` (a SQL file) and `sql` (inline SQL)".into(),
                );
                None
            }
        }
    }

    fn read_sql(&mut self, path: &Spanned<String>, key: &str) -> Option<SqlSource> {
        let full = self.dir.join(path.get_ref());
        match std::fs::read_to_string(&full) {
            Ok(sql) => Some(SqlSource {
                origin: path.get_ref().clone(),
                sql,
            }),
            Err(e) => {
                let message = format!("cannot read SQL file {}: {e}", full.display());
                self.problem(Some(path), key, message);
                None
            }
        }
    }

    fn seed(&mut self, file: &ScenarioFile, overrides: &Overrides) -> SeedPlan {
        let text = self.text;
        self.collect(|report| {
            seed::plan(
                &file.seed,
                overrides.scale.unwrap_or(1.0),
                overrides.seed.or(file.seed.seed).unwrap_or(DEFAULT_SEED),
                &|offset| line_at(text, offset),
                report,
            )
        })
    }

    /// Runs a section's validator, turning what it reports (span, key, message) into problems
    /// with their lines.
    fn collect<T>(&mut self, check: impl FnOnce(&mut traffic::Report<'_>) -> T) -> T {
        let text = self.text;
        let mut found = Vec::new();
        let out = check(&mut |span, key, message| {
            found.push(Problem {
                line: span.map(|r| line_at(text, r.start)),
                key,
                message,
            });
        });
        self.problems.extend(found);
        out
    }

    fn strategies(
        &mut self,
        file: &ScenarioFile,
        traffic: Option<&TrafficPlan>,
    ) -> Vec<StrategyPlan> {
        if file.strategies.is_empty() {
            self.problems.push(Problem {
                line: None,
                key: "strategy".into(),
                message: "expected at least one [[strategy]] with steps".into(),
            });
        }
        let mut plans: Vec<StrategyPlan> = Vec::new();
        for (i, strategy) in file.strategies.iter().enumerate() {
            let name = strategy.name.get_ref().trim().to_owned();
            if let Some(message) = name_problem(&name) {
                self.problem(
                    Some(&strategy.name),
                    &format!("strategy[{i}].name"),
                    message,
                );
            } else if plans.iter().any(|p| p.name == name) {
                self.problem(
                    Some(&strategy.name),
                    &format!("strategy[{i}].name"),
                    format!("duplicate strategy name `{name}`; names must be unique"),
                );
            }
            if strategy.steps.get_ref().is_empty() {
                self.problem(
                    Some(&strategy.steps),
                    &format!("strategy[{i}].steps"),
                    format!("strategy `{name}` has no steps; expected at least one"),
                );
            }
            let mut steps = Vec::new();
            for (j, step) in strategy.steps.get_ref().iter().enumerate() {
                let key = format!("strategy[{i}].steps[{j}]");
                if step.get_ref().dir.is_some() {
                    steps.extend(self.dir_steps(step, &key));
                } else {
                    steps.extend(self.step(step, &key, j, traffic));
                }
            }
            plans.push(StrategyPlan {
                name,
                description: strategy.description.clone(),
                expect_breach: self.expect(strategy.expect.as_ref(), i),
                steps,
            });
        }
        plans
    }

    fn step(
        &mut self,
        step: &Spanned<StepSection>,
        key: &str,
        index: usize,
        traffic: Option<&TrafficPlan>,
    ) -> Option<StepPlan> {
        let section = step.get_ref();
        if !self.one_action(step, key) {
            return None;
        }
        if section.down.is_some() {
            self.problem(Some(step), key, "`down` goes with `dir`".into());
        }
        if section.over.is_some() && section.deploy.is_none() {
            self.problem(Some(step), key, "`over` goes with `deploy`".into());
        }
        if section.wait.is_some() && section.deploy.is_none() {
            self.problem(Some(step), key, "`wait` goes with `deploy`".into());
        }
        if section.deploy.is_some()
            && section.over.is_none_or(|o| o.is_zero())
            && (section.connections.is_some() || section.wait == Some(false))
        {
            self.problem(
                Some(step),
                &format!("{key}.over"),
                "`connections` and `wait = false` need a rollout: `over` longer than 0 (e.g. \
                 over = \"20s\")"
                    .into(),
            );
        }
        if let Some(n) = &section.connections {
            if section.deploy.is_none() {
                self.problem(
                    Some(n),
                    &format!("{key}.connections"),
                    "`connections` goes with `deploy` and `over` (the new version's connections \
                     open during the rollout)"
                        .into(),
                );
            } else if !(1..=MAX_SURGE).contains(n.get_ref()) {
                self.problem(
                    Some(n),
                    &format!("{key}.connections"),
                    format!("must be between 1 and {MAX_SURGE}, not {}", n.get_ref()),
                );
            }
        }
        let sql_only = section.transaction.is_some()
            || section.lock_timeout.is_some()
            || section.statement_timeout.is_some()
            || section.retries.is_some()
            || section.retry_backoff.is_some();
        if sql_only && section.sql.is_none() && section.file.is_none() {
            self.problem(
                Some(step),
                key,
                "`transaction`, `lock-timeout`, `statement-timeout`, `retries` and \
                 `retry-backoff` go with `sql` or `file`"
                    .into(),
            );
        }
        let default_name = format!("step {}", index + 1);
        let (action, name) = if let Some(sql) = &section.sql {
            let source = SqlSource {
                origin: "inline".into(),
                sql: sql.clone(),
            };
            (
                StepAction::Sql(self.sql_step(source, section, step, key)?),
                default_name,
            )
        } else if let Some(path) = &section.file {
            let sql = self.read_sql(path, &format!("{key}.file"))?;
            let stem = Path::new(path.get_ref()).file_stem().map_or_else(
                || path.get_ref().clone(),
                |s| s.to_string_lossy().into_owned(),
            );
            (
                StepAction::Sql(self.sql_step(sql, section, step, key)?),
                stem,
            )
        } else if let Some(backfill) = &section.backfill {
            let line = Some(self.line_of(step));
            self.key_uses.push(KeyUse {
                table: backfill.table.clone(),
                column: backfill.key.clone(),
                line,
                key: format!("{key}.backfill.key"),
            });
            if backfill.batch == Some(0) {
                self.problem(
                    Some(step),
                    &format!("{key}.backfill.batch"),
                    "must be above 0".into(),
                );
            }
            (
                StepAction::Backfill(backfill.clone()),
                format!("backfill {}", backfill.table),
            )
        } else if let Some(command) = &section.command {
            let argv = match command {
                CommandValue::Shell(line) => vec!["sh".into(), "-c".into(), line.clone()],
                CommandValue::Args(args) => args.clone(),
            };
            if argv.is_empty() || argv[0].trim().is_empty() {
                self.problem(
                    Some(step),
                    &format!("{key}.command"),
                    "the command is empty".into(),
                );
                return None;
            }
            let name = match command {
                CommandValue::Shell(line) => line.split_whitespace().next().unwrap_or("command"),
                CommandValue::Args(args) => args[0].as_str(),
            }
            .to_owned();
            // The scenario's folder ("" for a file in the current directory).
            let dir = if self.dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                self.dir.to_owned()
            };
            (StepAction::Command { argv, dir }, name)
        } else if let Some(version) = &section.deploy {
            let v = version.get_ref().clone();
            match traffic {
                None => self.problem(
                    Some(version),
                    &format!("{key}.deploy"),
                    "a deploy step needs a [traffic] section whose queries name app versions"
                        .into(),
                ),
                Some(t)
                    if v != t.initial_app
                        && !t
                            .queries
                            .iter()
                            .any(|q| q.apps.as_ref().is_some_and(|a| a.contains(&v))) =>
                {
                    self.problem(
                        Some(version),
                        &format!("{key}.deploy"),
                        format!("no query names app version `{v}` in its `app` list"),
                    );
                }
                Some(t) if traffic::weight_for(&t.queries, &v) == 0 => self.problem(
                    Some(version),
                    &format!("{key}.deploy"),
                    format!("no query of app version `{v}` has a weight above 0 (check `app`)"),
                ),
                Some(_) => {}
            }
            let over = section.over.unwrap_or_default();
            let connections = section
                .connections
                .as_ref()
                .map_or(0, |n| (*n.get_ref()).clamp(0, MAX_SURGE) as usize);
            (
                StepAction::Deploy {
                    version: v.clone(),
                    over,
                    connections,
                    wait: section.wait.unwrap_or(true),
                },
                format!("deploy {v}"),
            )
        } else {
            let pause = section.pause.unwrap_or_default();
            (
                StepAction::Pause(pause),
                format!("pause {}", humantime::format_duration(pause)),
            )
        };
        if let Some(given) = &section.name
            && let Some(message) = name_problem(given)
        {
            self.problem(Some(step), &format!("{key}.name"), message);
        }
        Some(StepPlan {
            name: section.name.clone().unwrap_or(name),
            action,
            at: section.at,
        })
    }
}

impl Builder<'_> {
    /// Checks that a step says exactly one thing to do.
    fn one_action(&mut self, step: &Spanned<StepSection>, key: &str) -> bool {
        let s = step.get_ref();
        let given = [
            s.sql.is_some(),
            s.file.is_some(),
            s.dir.is_some(),
            s.command.is_some(),
            s.backfill.is_some(),
            s.deploy.is_some(),
            s.pause.is_some(),
        ];
        let one = given.iter().filter(|g| **g).count() == 1;
        if !one {
            self.problem(
                Some(step),
                key,
                "expected exactly one of `sql` (inline SQL), `file` (a SQL file), `dir` (a \
                 migration directory), `command` (an external command), `backfill` (batched updates), \
                 `deploy` (an app version) and `pause` (a duration)"
                    .into(),
            );
        }
        one
    }

    /// Expands a migration directory into one step per migration (then the downs, if asked).
    fn dir_steps(&mut self, step: &Spanned<StepSection>, key: &str) -> Vec<StepPlan> {
        let section = step.get_ref();
        if !self.one_action(step, key) {
            return Vec::new();
        }
        let dir = section.dir.as_ref().expect("checked by the caller");
        let path = self.dir.join(dir.get_ref());
        let migrations = match super::migrations::read(&path) {
            Ok((_, m)) => m,
            Err(message) => {
                self.problem(Some(dir), &format!("{key}.dir"), message);
                return Vec::new();
            }
        };
        let origin = |file: &str| format!("{}/{file}", dir.get_ref().trim_end_matches('/'));
        let mut steps = Vec::new();
        for m in &migrations {
            let source = SqlSource {
                origin: origin(&m.up.0),
                sql: m.up.1.clone(),
            };
            if let Some(mut sql) = self.sql_step(source, section, step, key) {
                sql.transaction &= !m.no_transaction;
                // `at` places the directory's first migration; the others follow it.
                let at = if steps.is_empty() { section.at } else { None };
                steps.push(StepPlan {
                    name: m.name.clone(),
                    action: StepAction::Sql(sql),
                    at,
                });
            }
        }
        if section.down == Some(true) {
            for m in migrations.iter().rev() {
                let Some((file, sql)) = &m.down else {
                    self.problem(
                        Some(dir),
                        &format!("{key}.down"),
                        format!("migration {} has no down migration", m.name),
                    );
                    continue;
                };
                let source = SqlSource {
                    origin: origin(file),
                    sql: sql.clone(),
                };
                if let Some(mut sql) = self.sql_step(source, section, step, key) {
                    sql.transaction &= !m.no_transaction;
                    steps.push(StepPlan {
                        name: format!("down {}", m.name),
                        action: StepAction::Sql(sql),
                        at: None,
                    });
                }
            }
        }
        steps
    }

    /// Splits a SQL step into statements and checks its options.
    fn sql_step(
        &mut self,
        source: SqlSource,
        section: &StepSection,
        step: &Spanned<StepSection>,
        key: &str,
    ) -> Option<SqlStep> {
        for (name, timeout) in [
            ("lock-timeout", section.lock_timeout),
            ("statement-timeout", section.statement_timeout),
        ] {
            if let Some(message) = timeout.and_then(timeout_problem) {
                self.problem(Some(step), &format!("{key}.{name}"), message);
            }
        }
        let statements = split::split(&source.sql);
        // An empty or comment-only migration file (an irreversible migration's down.sql, say) is
        // a step that does nothing, as the migration tools treat it; empty inline SQL is a slip.
        if statements.is_empty() && source.origin == "inline" {
            self.problem(Some(step), key, "the step's SQL is empty".into());
            return None;
        }
        let outside: Vec<&Statement> = statements
            .iter()
            .filter(|s| split::needs_autocommit(&s.text))
            .collect();
        if section.transaction == Some(true)
            && let Some(first) = outside.first()
        {
            self.problem(
                Some(step),
                &format!("{key}.transaction"),
                format!(
                    "statement at line {} of {} cannot run inside a transaction block ({}); \
                     remove `transaction = true`",
                    first.line,
                    source.origin,
                    first.text.lines().next().unwrap_or("")
                ),
            );
        }
        Some(SqlStep {
            transaction: section.transaction.unwrap_or(outside.is_empty()),
            statements,
            source,
            lock_timeout: section.lock_timeout,
            statement_timeout: section.statement_timeout,
            retries: section.retries.unwrap_or(0),
            retry_backoff: section.retry_backoff.unwrap_or(DEFAULT_RETRY_BACKOFF),
        })
    }
}

/// The longest name a scenario, strategy or step may have: names become folder names, report
/// headings and JUnit test names.
pub(crate) const MAX_NAME: usize = 200;

/// The connections rehearse holds while a strategy runs: the migration's, the observer's, the
/// lock sampler's, the server watch's and the traffic's set-up.
const OWN_CONNECTIONS: usize = 5;

/// The most connections a deploy may open beside the pool.
const MAX_SURGE: i64 = 10_000;

/// What is wrong with a name, if anything: empty, too long, or holding control characters (a
/// NUL or a newline breaks file names, XML and tables).
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME {
        return Some(format!(
            "is {chars} characters long; names may have at most {MAX_NAME}"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "holds the control character {c:?}; names are one line of text"
        ));
    }
    None
}

/// What is wrong with a Postgres timeout setting, if anything: the server counts whole
/// milliseconds (less rounds to 0, which turns the timeout off) up to `INT_MAX`.
fn timeout_problem(t: Duration) -> Option<String> {
    const MAX_MS: u128 = i32::MAX as u128;
    if t.as_millis() == 0 {
        return Some(format!(
            "{} is under 1ms: Postgres would round it to 0, which turns the timeout off; \
             give at least 1ms",
            humantime::format_duration(t)
        ));
    }
    if t.as_millis() > MAX_MS {
        return Some(format!(
            "{} is over Postgres's maximum of {MAX_MS} ms (about 24.8 days)",
            humantime::format_duration(t)
        ));
    }
    None
}

/// 1-based line of byte offset `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}
