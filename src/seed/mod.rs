//! Schema creation and synthetic rows: builds the seeded database every strategy clones.
//!
//! The seed section is matched against the tables ([`resolve`]): each column gets the
//! scenario's generator or a default from its type and name ([`generate`]). `validate` runs the
//! same match against the schema SQL parsed without a database ([`shape::from_sql`]), so bad
//! seed sections fail before anything starts. Loading ([`load`]) sets indexes and constraints
//! aside, streams rows by binary COPY on several connections, rebuilds each table's indexes as
//! soon as it is loaded, and analyses. Seeding changes only session settings; the server keeps
//! the scenario's settings throughout, so the rehearsal itself meets production-like ones.

mod catalog;
mod checks;
mod fit;
mod generate;
mod literal;
mod load;
mod progress;
mod record;
mod resolve;
mod shape;
mod template;

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use tokio_postgres::Client;

pub use progress::LogWriter;
pub(crate) use record::{BuildKind, Seeded};
pub(crate) use template::{Seeding, Template};

use crate::db::Server;
use crate::scenario::{KeyUse, Problem, SeedPlan, SqlSource};
use crate::values::{fnv1a, fnv1a_from};

/// Failures while creating the schema or filling it.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The schema SQL failed.
    #[error("failed to create the schema from {origin}: {message}")]
    Schema {
        /// `inline` or the file.
        origin: String,
        /// The server's message, with the line when it gave a position.
        message: String,
    },
    /// The seed section does not fit the tables the schema created.
    #[error("the seed section does not fit the schema:\n{}", crate::scenario::list_problems(.0))]
    Invalid(Vec<Problem>),
    /// `seed.tables` names a table the schema does not create.
    #[error("failed to seed `{table}`: the schema has no such table (key seed.tables.{table})")]
    UnknownTable {
        /// The name given.
        table: String,
    },
    /// A NOT NULL column with no default whose type has no generator.
    #[error(
        "failed to seed {table}.{column} ({type_name}): {reason}; give the column a default \
         or make it nullable"
    )]
    Unsupported {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type.
        type_name: String,
        /// Why.
        reason: String,
    },
    /// A foreign key into a table with no rows.
    #[error(
        "failed to seed {table}.{column}: it references {target}, which has no rows; \
         add seed.tables.{target} with a row count"
    )]
    EmptyReference {
        /// The referencing table.
        table: String,
        /// The referencing column.
        column: String,
        /// The referenced table.
        target: String,
    },
    /// Seeded tables reference each other in a cycle.
    #[error("failed to order tables for seeding: foreign keys form a cycle among {0}")]
    Cycle(String),
    /// The server could not be reached, or a scratch database not made.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The server rejected rows or a catalog query.
    #[error("failed to {what}: {message}")]
    Server {
        /// Which operation.
        what: String,
        /// The server's message.
        message: String,
        /// Whether the failure is the environment's (connection lost, disk full, server shut
        /// down) rather than the scenario's.
        environment: bool,
    },
}

impl SeedError {
    fn server(what: impl Into<String>, e: &tokio_postgres::Error) -> SeedError {
        let mut message = crate::pg::describe(e);
        // COPY says which column and value: `COPY t, line 1, column founded: "1800"`.
        if let Some(context) = e.as_db_error().and_then(|db| db.where_()) {
            message.push_str("; at ");
            message.push_str(context.lines().next().unwrap_or(context));
        }
        SeedError::Server {
            what: what.into(),
            message,
            environment: crate::pg::is_environment_failure(e),
        }
    }
}

/// Runs the schema SQL statement by statement, as psql runs a file: each statement in a
/// transaction of its own (so `CREATE INDEX CONCURRENTLY` works), psql's meta-commands
/// (`\restrict` and the like in newer `pg_dump` output) skipped, and a failure named with its
/// line in the file. Ownership and privilege statements for roles this server does not have
/// (`ALTER … OWNER TO`, `GRANT`, `REVOKE` in a dump made without `--no-owner`) are skipped and
/// counted: the rehearsal runs as one role. Returns the number of statements skipped that way.
pub(crate) async fn create_schema(client: &Client, schema: &SqlSource) -> Result<usize, SeedError> {
    // Meta-commands are whole lines; blank them, so lines keep their numbers.
    let sql: String = schema
        .sql
        .lines()
        .map(|line| {
            if line.trim_start().starts_with('\\') {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut skipped = 0;
    for statement in crate::pg::split::split(&sql) {
        let Err(e) = client.batch_execute(&statement.text).await else {
            continue;
        };
        if is_role_statement(&statement.text)
            && e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_OBJECT)
        {
            skipped += 1;
            continue;
        }
        // `CREATE SCHEMA public` (pg_dump --schema public writes it): it exists in every new
        // database already, which is what the statement wants.
        if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_SCHEMA)
            && crate::pg::split::strip_comments(&statement.text)
                .to_ascii_uppercase()
                .split_whitespace()
                .take(2)
                .eq(["CREATE", "SCHEMA"])
        {
            continue;
        }
        let mut error = crate::pg::ServerError::from_driver(&e, Some(&statement.text));
        error.line = Some(statement.line + error.line.map_or(0, |l| l - 1));
        return Err(SeedError::Schema {
            origin: schema.origin.clone(),
            message: error.to_string(),
        });
    }
    if skipped > 0 {
        tracing::warn!(
            "skipped {skipped} ownership or privilege statement(s) of {} naming roles this server does not have",
            schema.origin
        );
    }
    Ok(skipped)
}

/// Statements about roles: ownership and privileges.
fn is_role_statement(sql: &str) -> bool {
    let words: Vec<String> = crate::pg::split::strip_comments(sql)
        .split_whitespace()
        .take(64)
        .map(str::to_ascii_uppercase)
        .collect();
    let first = words.first().map(String::as_str);
    matches!(first, Some("GRANT" | "REVOKE"))
        || (first == Some("ALTER")
            && (words.windows(2).any(|w| w[0] == "OWNER" && w[1] == "TO")
                || words.get(1).is_some_and(|w| w == "DEFAULT")))
}

/// Checks the seed section against the schema SQL, without a database: every problem found,
/// with its scenario line. Statements the parser does not understand are left to the check
/// against the catalog when seeding.
pub(crate) fn check(schema_sql: &str, plan: &SeedPlan, key_uses: &[KeyUse]) -> Vec<Problem> {
    let shapes = shape::from_sql(schema_sql);
    let mut key_problems = Vec::new();
    for used in key_uses {
        // A table or column the schema does not create may come from an earlier step.
        if let Some(column) = shapes
            .table(&used.table)
            .and_then(|t| t.column(&used.column))
            && !matches!(column.ty, shape::ColType::Int(_) | shape::ColType::Other(_))
        {
            key_problems.push(Problem {
                line: used.line,
                key: used.key.clone(),
                message: format!(
                    "a backfill walks an integer key; `{}.{}` is {}",
                    used.table, used.column, column.type_name
                ),
            });
        }
    }
    let mut problems = match resolve::resolve(&shapes, plan, resolve::Source::Sql) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    problems.extend(key_problems);
    let bytes = estimate_bytes_of(&shapes, plan);
    if bytes > NO_DISK_HOLDS {
        let biggest = plan.tables.iter().max_by_key(|t| t.rows);
        problems.push(Problem {
            line: biggest.and_then(|t| t.line),
            key: biggest.map_or_else(
                || "seed.tables".into(),
                |t| format!("seed.tables.{}.rows", t.name),
            ),
            message: format!(
                "the seeded data would take about {} (rows × their columns' widths, plus \
                 indexes): more than any disk holds; check the row counts and --scale",
                human_bytes(bytes)
            ),
        });
    }
    problems
}

/// An estimate beyond this is a mistake, whatever the machine (a petabyte).
const NO_DISK_HOLDS: u64 = 1 << 50;

/// About how many bytes the seeded tables take on disk, indexes included, from the schema SQL
/// (a table the parser did not understand counts 64 bytes a row).
pub(crate) fn estimate_bytes(schema_sql: &str, plan: &SeedPlan) -> u64 {
    estimate_bytes_of(&shape::from_sql(schema_sql), plan)
}

fn estimate_bytes_of(shapes: &shape::Shapes, plan: &SeedPlan) -> u64 {
    table_bytes_of(shapes, plan)
        .into_iter()
        .fold(0u64, u64::saturating_add)
}

/// About how many bytes each of the plan's tables takes on disk, indexes included, in the
/// plan's order.
pub(crate) fn estimate_table_bytes(schema_sql: &str, plan: &SeedPlan) -> Vec<u64> {
    table_bytes_of(&shape::from_sql(schema_sql), plan)
}

fn table_bytes_of(shapes: &shape::Shapes, plan: &SeedPlan) -> Vec<u64> {
    // Tuple header and line pointer, then a third more for indexes.
    const ROW_OVERHEAD: u64 = 28;
    plan.tables
        .iter()
        .map(|t| {
            let width = shapes.table(&t.name).map_or(64, |s| {
                ROW_OVERHEAD
                    + s.columns
                        .iter()
                        .map(|c| c.ty.estimated_width())
                        .sum::<u64>()
            });
            let bytes = u128::from(t.rows) * u128::from(width) * 4 / 3;
            u64::try_from(bytes).unwrap_or(u64::MAX)
        })
        .collect()
}

/// Bytes in kB/MB/GB/TB.
pub(crate) fn human_bytes(b: u64) -> String {
    let b = b as f64;
    match b {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b => format!("{:.1} MB", b / 1e6),
    }
}

/// Fills the plan's tables in `dbname` on `jobs` connections and analyses them.
pub(crate) async fn fill(
    server: &Server,
    dbname: &str,
    plan: &SeedPlan,
    jobs: usize,
) -> Result<Seeded, SeedError> {
    let started = Instant::now();
    let connect = || async {
        let client = server
            .connect(dbname)
            .await
            .map_err(|e| SeedError::Server {
                what: "connect for seeding".into(),
                message: e.to_string(),
                environment: true,
            })?;
        // Session settings only: a commit need not wait for the WAL flush while seeding.
        client
            .batch_execute("SET synchronous_commit = off")
            .await
            .map_err(|e| SeedError::server("configure a seeding session", &e))?;
        Ok::<_, SeedError>(client)
    };
    let admin = connect().await?;
    let names: Vec<String> = plan.tables.iter().map(|t| t.name.clone()).collect();
    let (shapes, catalog) = catalog::tables(&admin, &names)
        .await
        .map_err(|e| SeedError::server("read the seeded tables from the catalog", &e))?;
    let tables =
        resolve::resolve(&shapes, plan, resolve::Source::Catalog).map_err(SeedError::Invalid)?;
    let oids = tables
        .iter()
        .map(|t| (catalog[&t.key].oid, t.key.clone()))
        .collect();
    let deferred = catalog::deferred(&admin, &oids)
        .await
        .map_err(|e| SeedError::server("read the indexes and constraints to set aside", &e))?;
    if !deferred.is_empty() {
        let drops: Vec<&str> = deferred.iter().map(|d| d.drop.as_str()).collect();
        admin
            .batch_execute(&format!("BEGIN; {}; COMMIT", drops.join("; ")))
            .await
            .map_err(|e| SeedError::server("set indexes and constraints aside for the load", &e))?;
    }
    for t in &tables {
        // Said before the progress bars start, so no log line cuts through them.
        tracing::info!("seeding {} ({} rows)", catalog[&t.key].qualified, t.rows);
    }
    let progress: Vec<Arc<AtomicU64>> = tables.iter().map(|_| Arc::default()).collect();
    let bars = progress::Progress::start(
        tables
            .iter()
            .zip(&progress)
            .map(|(t, p)| (t.name.clone(), t.rows, Arc::clone(p)))
            .collect(),
    );
    let mut clients = vec![admin];
    for _ in 1..jobs.max(1) {
        clients.push(connect().await?);
    }
    let work = Arc::new(load::Work {
        tables,
        catalog,
        deferred,
        seed: plan.seed,
        progress,
        notes: std::sync::Mutex::default(),
    });
    let outcome = load::run(Arc::clone(&work), clients).await;
    bars.finish().await;
    let mut outcome = outcome?;
    let client = connect().await?;
    for t in &mut outcome.tables {
        let bytes: i64 = client
            .query_one(
                "SELECT pg_total_relation_size(to_regclass($1))",
                &[&t.table],
            )
            .await
            .map_err(|e| SeedError::server(format!("measure {}", t.table), &e))?
            .get(0);
        t.bytes = bytes as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!("seeded in {seconds:.1} s");
    Ok(Seeded {
        seed: plan.seed,
        scale: plan.scale,
        jobs: jobs as u32,
        start_s: None,
        seconds,
        tables: outcome.tables,
        builds: outcome.builds,
        cache_key: None,
        cached: false,
        notes: outcome.notes,
    })
}

/// The seed cache key: what the seeded data depends on (the schema SQL, every table's rows and
/// generators, the scale, the seed, and this tool's version, whose generators may change).
pub(crate) fn cache_key(schema_sql: &str, plan: &SeedPlan) -> String {
    let mut text = format!(
        "{} {}\n{schema_sql}\nseed {} scale {}\n",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        plan.seed,
        plan.scale
    );
    for t in &plan.tables {
        let _ = writeln!(text, "{} {}", t.name, t.rows);
        for c in &t.columns {
            let _ = writeln!(
                text,
                "  {} {:?} {} {}",
                c.name, c.generator, c.null, c.unique
            );
        }
    }
    // Two FNV-1a passes with different offsets: 96 bits, stable across builds and machines.
    format!(
        "{:016x}{:08x}",
        fnv1a(&text),
        fnv1a_from(0x8422_2325_cbf2_9ce4, &text) as u32
    )
}

/// Whether a type (as `format_type` writes it) has a default generator (enums and domains
/// aside, which the catalog resolves).
pub(crate) fn generates(type_name: &str) -> bool {
    !matches!(
        shape::ColType::from_name(type_name, &std::collections::BTreeMap::new()),
        shape::ColType::Other(_)
    )
}

/// The fake kind a text column's name suggests (words for status-like names).
pub(crate) fn text_kind_for(column: &str) -> crate::values::FakeKind {
    resolve::text_kind(&column.to_ascii_lowercase()).unwrap_or(crate::values::FakeKind::Word)
}
