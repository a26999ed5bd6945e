//! The url backend: an existing server given by `--database-url`.
//!
//! rehearse never works in the database the URL names: it creates scratch databases beside it
//! and drops them afterwards. Still, a URL may point at production by mistake, so a target whose
//! database already holds user tables is refused unless `--allow-existing-tables` is given. The
//! password is never printed: every message shows [`super::redacted`] targets.

use tokio_postgres::Config;

use super::{BackendKind, BackendOptions, DbError, Server};

/// Parses a URL into connection settings (the password never appears in errors).
pub fn parse(url: &str) -> Result<Config, DbError> {
    let mut config: Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::BadUrl(strip_password(&e.to_string(), url)))?;
    if config.get_dbname().is_none() {
        config.dbname(config.get_user().unwrap_or("postgres").to_owned());
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    Ok(config)
}

/// Connects to a URL; also returns the target as messages show it (no password).
pub async fn connect(url: &str) -> Result<(tokio_postgres::Client, String), DbError> {
    let config = parse(url)?;
    let target = super::redacted(&config);
    Ok((super::connect(&config, &target).await?, target))
}

/// Checks the server answers, looks unused, and lets us create databases.
pub(super) async fn provision(options: &BackendOptions) -> Result<Server, DbError> {
    let url = options.database_url.as_deref().ok_or_else(|| {
        DbError::BadUrl("--backend url needs --database-url postgresql://USER@HOST:PORT/DB".into())
    })?;
    let config = parse(url)?;
    let target = super::redacted(&config);
    let client = super::connect(&config, &target).await?;
    let query = |what: &str| {
        let target = target.clone();
        let what = what.to_owned();
        move |source: tokio_postgres::Error| DbError::Query {
            what,
            target,
            message: crate::pg::describe(&source),
        }
    };

    let row = client
        .query_one(
            "SELECT count(*), min(format('%I.%I', n.nspname, c.relname))
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await
        .map_err(query("list user tables"))?;
    let tables: i64 = row.get(0);
    if tables > 0 && !options.allow_existing_tables {
        return Err(DbError::NotEmpty {
            target,
            dbname: config.get_dbname().unwrap_or_default().to_owned(),
            tables,
            example: row.get::<_, Option<String>>(1).unwrap_or_default(),
        });
    }
    let row = client
        .query_one(
            "SELECT current_user::text, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(query("read the role's privileges"))?;
    if !row.get::<_, bool>(1) {
        return Err(DbError::NoCreateDb {
            target,
            role: row.get(0),
        });
    }
    let note = "backend url: the server's own settings are used; the scenario's [database] \
                settings and log_lock_waits cannot be applied by rehearse"
        .to_owned();
    tracing::info!("using existing server {target}");
    Ok(Server {
        backend: BackendKind::Url,
        config,
        target,
        image: None,
        binaries: None,
        log: None,
        settings_applied: false,
        notes: vec![note],
        // Someone else's server: rehearse leaves nothing behind there, so no seed cache.
        seed_cache: None,
        handle: super::Handle::Url,
    })
}

/// Parser messages may quote the input: never let a password through.
fn strip_password(message: &str, url: &str) -> String {
    let password = url
        .parse::<url::Url>()
        .ok()
        .and_then(|u| u.password().map(str::to_owned));
    match password {
        Some(p) if !p.is_empty() => message.replace(&p, "***"),
        _ => message.to_owned(),
    }
}
