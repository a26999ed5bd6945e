//! The seeded template every strategy clones: found in the seed cache or created and seeded.
//!
//! With a seed cache (a kept local cluster or a docker volume, see `crate::db`), the template
//! is `rehearse_seed_<key>` and outlives the run; its database comment marks it complete and
//! holds what seeding recorded, so a half-seeded template (a run stopped while seeding) is never
//! reused. Without one it is `rehearse_<run>_seed`, dropped with the run's other scratch
//! databases.

use super::{SeedError, Seeded};
use crate::clock::RunClock;
use crate::db::{Scratch, Server, drop_database, sweep_leftovers};
use crate::pg::quote_ident;
use crate::scenario::{SeedPlan, SqlSource};

/// A seed worth a warning when the server's free space cannot be checked.
const LARGE_SEED: u64 = 10 << 30;

/// Marks a kept template as completely seeded: its comment holds what seeding recorded.
const SEEDED_MARK: &str = "rehearse seed cache: ";

/// A run's seeded template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// The database's name.
    pub name: String,
    /// The seed cache key, when the template is kept for later runs.
    pub cache_key: Option<String>,
}

/// How to seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeding<'a> {
    /// The schema SQL.
    pub schema: &'a SqlSource,
    /// The seed section.
    pub plan: &'a SeedPlan,
    /// Connections that load and index.
    pub jobs: usize,
    /// Discard a cached template and seed again.
    pub fresh: bool,
}

impl Template {
    /// The template of run `run_id` on `server` (a kept one when the server holds a seed cache
    /// entry).
    pub(crate) fn for_run(server: &Server, run_id: &str) -> Template {
        match &server.seed_cache {
            Some(key) => Template {
                name: format!("rehearse_seed_{key}"),
                cache_key: Some(key.clone()),
            },
            None => Template {
                name: format!("rehearse_{run_id}_seed"),
                cache_key: None,
            },
        }
    }

    /// Reuses the cached template, or creates the template, runs the schema and seeds it.
    pub(crate) async fn prepare(
        &self,
        server: &Server,
        maintenance: &tokio_postgres::Client,
        seeding: Seeding<'_>,
        scratch: &mut Scratch,
        clock: &RunClock,
    ) -> Result<Seeded, SeedError> {
        if self.cache_key.is_some() {
            // A cache entry is held by this run alone: what a stopped run left in it can go.
            sweep_leftovers(maintenance, &self.name).await;
            if let Some(seeded) = self.cached(maintenance, seeding.fresh).await? {
                tracing::info!(
                    "reusing the seeded template {} (run with --fresh to reseed)",
                    self.name
                );
                return Ok(seeded);
            }
        }
        let needed = super::estimate_bytes(&seeding.schema.sql, seeding.plan);
        match server.disk_free().await {
            Some((free, place)) if needed > free => {
                return Err(SeedError::Db(crate::db::DbError::NoSpace {
                    needed: super::human_bytes(needed),
                    free: super::human_bytes(free),
                    place,
                }));
            }
            None if needed > LARGE_SEED => tracing::warn!(
                "seeding needs about {}; the free space of the server's disk cannot be checked from here",
                super::human_bytes(needed)
            ),
            _ => {}
        }
        scratch.create(maintenance, &self.name, None).await?;
        let client = server.connect(&self.name).await?;
        tracing::info!("creating the schema from {}", seeding.schema.origin);
        let skipped = super::create_schema(&client, seeding.schema).await?;
        drop(client);
        let start_s = clock.offset().as_secs_f64();
        let mut seeded = super::fill(server, &self.name, seeding.plan, seeding.jobs).await?;
        if skipped > 0 {
            seeded.notes.insert(
                0,
                format!(
                    "skipped {skipped} ownership or privilege statement(s) of the schema naming roles this server does not have"
                ),
            );
        }
        seeded.start_s = Some(start_s);
        if let Some(key) = &self.cache_key {
            seeded.cache_key = Some(key.clone());
            self.mark(maintenance, &seeded).await?;
            // Kept for the next run with the same data.
            scratch.keep(&self.name);
        }
        Ok(seeded)
    }

    async fn mark(
        &self,
        client: &tokio_postgres::Client,
        seeded: &Seeded,
    ) -> Result<(), SeedError> {
        let json = serde_json::to_string(seeded).expect("the seed record serializes");
        let sql = format!(
            "COMMENT ON DATABASE {} IS '{SEEDED_MARK}{}'",
            quote_ident(&self.name),
            json.replace('\'', "''")
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| SeedError::server(format!("mark {} as seeded", self.name), &e))
    }

    /// What seeded the kept template, if it is complete. An unfinished one (a run stopped while
    /// seeding, or a marker this version cannot read) and, with `fresh`, any one is dropped.
    async fn cached(
        &self,
        client: &tokio_postgres::Client,
        fresh: bool,
    ) -> Result<Option<Seeded>, SeedError> {
        let row = client
            .query_opt(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1",
                &[&self.name],
            )
            .await
            .map_err(|e| SeedError::server("look for a seeded template", &e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let comment: String = row.get(0);
        let seeded = comment
            .strip_prefix(SEEDED_MARK)
            .and_then(|json| serde_json::from_str::<Seeded>(json).ok());
        if let (Some(mut seeded), false) = (seeded, fresh) {
            seeded.cached = true;
            seeded.start_s = None;
            return Ok(Some(seeded));
        }
        drop_database(client, &self.name)
            .await
            .map_err(|message| SeedError::Server {
                what: format!("drop the old template {}", self.name),
                message,
                environment: true,
            })?;
        Ok(None)
    }
}
