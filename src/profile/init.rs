//! `rehearse init --from-database URL DIR`: a complete scenario for a real database, in one
//! command. The schema comes from `pg_dump --schema-only` (the tool every Postgres user has);
//! the seed section from the catalog statistics (`profile`); the traffic section from
//! `pg_stat_statements` when it is installed; a strategy points at a migrations folder with an
//! example migration; budgets have sane defaults. Nothing but the catalog, the statistics and the
//! statements view is read: no row of any table.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio_postgres::Client;

use super::TrafficOptions;
use crate::db::DbError;
use crate::error::Error;

/// What `init` wrote.
pub(crate) struct Written {
    /// The scenario file.
    pub scenario: PathBuf,
    /// What could not be inferred or was left out.
    pub notes: Vec<String>,
}

/// Writes `dir/schema.sql`, `dir/scenario.toml` and `dir/migrations/` for the database at
/// `url`, with row counts times `scale`.
pub(crate) async fn init(
    url: &str,
    dir: &Path,
    schemas: &[String],
    scale: f64,
) -> Result<Written, Error> {
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(Error::Usage(format!(
            "{} exists and is not empty: give init a new folder",
            dir.display()
        )));
    }
    let config = crate::db::parse_url(url)?;
    let (client, target) = crate::db::connect_url(url).await?;
    let major = server_major(&client, &target).await?;
    let database = config.get_dbname().unwrap_or("postgres").to_owned();
    let pg_dump = find_pg_dump(major)?;
    let output = |source: std::io::Error, path: &Path| Error::Output {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir.join("migrations")).map_err(|e| output(e, dir))?;

    eprintln!("dumping the schema of {target} with {}…", pg_dump.display());
    let mut dump = Command::new(&pg_dump);
    dump.args(["--schema-only", "--no-owner", "--no-privileges"])
        .envs(crate::db::libpq_env(&config, &database))
        .env_remove("DATABASE_URL");
    for schema in schemas {
        dump.arg("--schema").arg(schema);
    }
    let dumped = dump.output().map_err(|e| {
        Error::Db(DbError::Cluster {
            what: format!("run {}", pg_dump.display()),
            reason: e.to_string(),
        })
    })?;
    if !dumped.status.success() {
        return Err(Error::Db(DbError::Cluster {
            what: "dump the schema".into(),
            reason: String::from_utf8_lossy(&dumped.stderr).trim().to_owned(),
        }));
    }
    let schema_path = dir.join("schema.sql");
    std::fs::write(&schema_path, &dumped.stdout).map_err(|e| output(e, &schema_path))?;

    eprintln!("profiling the tables and the statements…");
    let mut notes = Vec::new();
    let traffic = TrafficOptions {
        window: None,
        coverage: 0.95,
    };
    let (profile, profile_notes) =
        match super::profile(&client, schemas, Some(traffic), scale).await {
            Ok(done) => done,
            Err(e) => {
                notes.push(format!("no traffic section: {e}"));
                super::profile(&client, schemas, None, scale).await?
            }
        };
    notes.extend(profile_notes);
    let first_table: Option<String> = client
        .query_opt(
            "SELECT CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname)
                         ELSE format('%I.%I', n.nspname, c.relname) END
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1)
              ORDER BY c.reltuples DESC, 1 LIMIT 1",
            &[&schemas],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0));
    let example = match &first_table {
        Some(table) => format!(
            "-- An example migration. Replace this folder's files with your project's migrations:\n\
             -- sqlx, dbmate, golang-migrate, Flyway and diesel layouts are recognised.\n\
             ALTER TABLE {table} ADD COLUMN rehearse_example text;\n"
        ),
        None => "-- An example migration: replace it with your project's migrations.\nSELECT 1;\n"
            .into(),
    };
    let migration = dir.join("migrations/0001_example.sql");
    std::fs::write(&migration, example).map_err(|e| output(e, &migration))?;

    let has_traffic = profile.contains("\n[traffic]\n");
    let name = database
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>();
    let scenario = format!(
        "# Written by `rehearse init --from-database` from {target} (PostgreSQL {major}).\n\
         # The schema is pg_dump's; the seed and traffic sections come from the catalog statistics\n\
         # and pg_stat_statements (no row was read). Review them, then put your migrations in\n\
         # migrations/ and run: rehearse run {scenario_path}\n\
         name = \"{name}\"\n\
         description = \"Rehearsal of {name}'s migrations on data shaped like it\"\n\n\
         [database]\npostgres = \"{major}\"\n\n\
         [schema]\nfile = \"schema.sql\"\n{profile}{no_traffic}\n\
         [budgets]\n\
         max-lock-wait = \"1s\"                 # longest application wait for a lock\n\
         max-exclusive-lock-hold = \"2s\"       # longest a step holds ACCESS EXCLUSIVE\n\
         {traffic_budgets}\n\
         [[strategy]]\n\
         name = \"migrations\"\n\
         description = \"The migrations in migrations/, in order\"\n\
         steps = [{{ dir = \"migrations\", lock-timeout = \"5s\", retries = 3 }}]\n",
        scenario_path = dir.join("scenario.toml").display(),
        no_traffic = if has_traffic {
            ""
        } else {
            "# No [traffic] section: pg_stat_statements is not installed (or not readable) in the\n\
             # database. With it, `rehearse profile --traffic --database-url URL` writes one.\n"
        },
        traffic_budgets = if has_traffic {
            "p99-vs-baseline = 5.0               # p99 during a step over the baseline's\n\
             max-errors = 0                      # application errors\n"
        } else {
            ""
        },
    );
    let scenario_path = dir.join("scenario.toml");
    std::fs::write(&scenario_path, scenario).map_err(|e| output(e, &scenario_path))?;
    Ok(Written {
        scenario: scenario_path,
        notes,
    })
}

async fn server_major(client: &Client, target: &str) -> Result<u32, DbError> {
    let num: String = client
        .query_one("SHOW server_version_num", &[])
        .await
        .map_err(|e| DbError::Query {
            what: "read the server version".into(),
            target: target.to_owned(),
            message: crate::pg::describe(&e),
        })?
        .get(0);
    Ok(num.parse::<u32>().unwrap_or(0) / 10_000)
}

/// A `pg_dump` at least as new as the server (older ones refuse newer servers): Debian's
/// versioned folders, newest first, then `pg_dump` on PATH.
fn find_pg_dump(major: u32) -> Result<PathBuf, DbError> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let m: u32 = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join("bin/pg_dump");
            path.is_file().then_some((m, path))
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    if let Some(version) = version_of(Path::new("pg_dump")) {
        candidates.push((version, PathBuf::from("pg_dump")));
    }
    let found: Vec<u32> = candidates.iter().map(|(m, _)| *m).collect();
    candidates
        .into_iter()
        .find(|(m, _)| *m >= major)
        .map(|(_, p)| p)
        .ok_or_else(|| DbError::Cluster {
            what: "find pg_dump".into(),
            reason: format!(
                "the server is PostgreSQL {major} and pg_dump must be as new (found: {}); install \
                 postgresql-client-{major}",
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        })
}

/// The major version `pg_dump --version` prints.
fn version_of(pg_dump: &Path) -> Option<u32> {
    let out = Command::new(pg_dump).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.split('.').next()?.parse::<u32>().ok())
}
