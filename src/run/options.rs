//! Run options in two tiers, as ripgrep's flags: [`Settings`] are the command line's flags
//! validated once (valid for any scenario), and [`RunOptions`] are everything one run needs,
//! complete when built (its id, output folder, server log, cache entry): nothing is filled in
//! later.

use std::path::{Path, PathBuf};

use crate::db::{BackendKind, BackendOptions, CacheSpot};
use crate::scenario::Plan;

/// What to do with the seed cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheMode {
    /// Reuse a cached template, or seed and keep one.
    Use,
    /// Discard the cached template and seed again (`--fresh`).
    Fresh,
    /// Neither reuse nor keep (`--no-cache`).
    Off,
}

/// The command line's run flags, validated.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The backend asked for.
    pub backend: BackendKind,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--image`.
    pub image: Option<String>,
    /// `--pg-bin`.
    pub pg_bin: Option<PathBuf>,
    /// `--allow-existing-tables`.
    pub allow_existing_tables: bool,
    /// `--out`, else `reports/<scenario name>`.
    pub out: Option<PathBuf>,
    /// Connections that load and index the seed data.
    pub seed_jobs: usize,
    /// The seed cache.
    pub cache: CacheMode,
    /// Where the seed cache lives.
    pub cache_dir: PathBuf,
    /// Whether the lock sampler runs (off only for the sampler's overhead benchmark).
    pub lock_sampler: bool,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Identifies the run: scratch database names and container labels carry it.
    pub run_id: String,
    /// The server to use.
    pub backend: BackendOptions,
    /// The output folder.
    pub out: PathBuf,
    /// Connections that load and index the seed data.
    pub seed_jobs: usize,
    /// Discard a cached template and seed again.
    pub fresh: bool,
    /// Whether the lock sampler runs.
    pub lock_sampler: bool,
}

impl Settings {
    /// The output folder for `plan`: `--out`, else `reports/<scenario name>`.
    pub(crate) fn out_for(&self, plan: &Plan) -> PathBuf {
        self.out.clone().unwrap_or_else(|| default_out(plan))
    }

    /// Complete options for one run of `plan`, writing to `out`, with a new run id.
    pub(crate) fn options(&self, plan: &Plan, out: PathBuf) -> RunOptions {
        let run_id = new_run_id();
        RunOptions {
            backend: BackendOptions {
                kind: self.backend,
                database_url: self.database_url.clone(),
                image: self.image.clone(),
                pg_bin: self.pg_bin.clone(),
                allow_existing_tables: self.allow_existing_tables,
                log_path: out.join("postgres.log"),
                run_id: run_id.clone(),
                cache: (self.cache != CacheMode::Off).then(|| CacheSpot {
                    key: crate::seed::cache_key(&plan.schema.sql, &plan.seed),
                    dir: self.cache_dir.clone(),
                    fresh: self.cache == CacheMode::Fresh,
                }),
                owner: crate::db::owner::Owner::current(&run_id),
            },
            run_id,
            out,
            seed_jobs: self.seed_jobs,
            fresh: self.cache == CacheMode::Fresh,
            lock_sampler: self.lock_sampler,
        }
    }
}

/// A short random id.
fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// The default output folder for a scenario: `reports/<scenario name>`, the name made safe for
/// a file name.
fn default_out(plan: &Plan) -> PathBuf {
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
