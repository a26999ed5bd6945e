//! Scratch databases: the seeded template and each strategy's clone of it. Every one a run
//! creates is recorded here and dropped however the run ends (sessions still in it are ended
//! first); a kept template (the seed cache's) is handed back with [`Scratch::keep`].

use super::{DbError, Server};
use crate::pg::quote_ident;

/// The scratch databases one run created on a server.
#[derive(Debug, Default)]
pub struct Scratch {
    databases: Vec<String>,
    /// Written as each database's comment, so what a killed run left can be found.
    owner: Option<super::owner::Owner>,
    /// Clone with `STRATEGY FILE_COPY` (PG 15+): since PG 15 CREATE DATABASE copies through WAL
    /// by default, which for a seeded template of hundreds of MB is several times slower.
    file_copy: bool,
}

impl Scratch {
    /// Scratch databases of `owner` on a server of version `server_version_num`.
    pub fn new(server_version_num: u32, owner: super::owner::Owner) -> Scratch {
        Scratch {
            databases: Vec::new(),
            owner: Some(owner),
            file_copy: server_version_num >= 150_000,
        }
    }

    /// Creates `name`, a copy of `template` when given.
    pub async fn create(
        &mut self,
        client: &tokio_postgres::Client,
        name: &str,
        template: Option<&str>,
    ) -> Result<(), DbError> {
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
            .map_err(|e| DbError::Statement {
                what: format!("create scratch database {name}"),
                message: crate::pg::describe(&e),
            })?;
        self.databases.push(name.to_owned());
        if let Some(owner) = &self.owner {
            let comment = format!(
                "COMMENT ON DATABASE {} IS '{}'",
                quote_ident(name),
                owner.to_string().replace('\'', "''")
            );
            client
                .batch_execute(&comment)
                .await
                .map_err(|e| DbError::Statement {
                    what: format!("mark scratch database {name} with its owner"),
                    message: crate::pg::describe(&e),
                })?;
        }
        Ok(())
    }

    /// Keeps `name` when the run ends (a seeded template kept for later runs).
    pub fn keep(&mut self, name: &str) {
        self.databases.retain(|d| d != name);
    }

    /// Drops `name` now (a strategy's clone, once the strategy is done).
    pub async fn drop_one(&mut self, server: &Server, client: &tokio_postgres::Client, name: &str) {
        if drop_database(client, name).await.is_ok() {
            self.databases.retain(|d| d != name);
        } else if let Ok(fresh) = server.connect(server.maintenance_db()).await {
            // The first connection may be the one that broke; try once more on a new one.
            if drop_database(&fresh, name).await.is_ok() {
                self.databases.retain(|d| d != name);
            }
        }
    }

    /// Drops every database still recorded.
    pub async fn drop_all(&mut self, server: &Server) {
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

/// Drops the `rehearse_*` databases a stopped run left in a kept cluster, except `keep`. Only
/// for clusters this run holds alone (a seed cache entry): on an existing server other runs may
/// be working, so nothing is swept there.
pub async fn sweep_leftovers(client: &tokio_postgres::Client, keep: &str) {
    let Ok(rows) = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'rehearse\\_%' AND datname <> $1",
            &[&keep],
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
pub async fn drop_database(client: &tokio_postgres::Client, name: &str) -> Result<(), String> {
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
