//! What a run needs to know about its server to be reproduced: how it was had, its version and
//! the effective values of the settings rehearse or the scenario set.

use std::collections::BTreeMap;

use super::{DbError, Server};
use crate::scenario::DatabasePlan;

/// The server a run rehearsed on, as the report describes it.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    /// `docker`, `local` or `url`.
    pub backend: String,
    /// Where, without password.
    pub target: String,
    /// Container image (docker).
    pub image: Option<String>,
    /// Binary directory (local).
    pub binaries: Option<String>,
    /// The server log, when captured.
    pub log: Option<String>,
    /// Whether the scenario's settings were applied.
    pub settings_applied: bool,
    /// How the server was chosen.
    pub notes: Vec<String>,
    /// `server_version`.
    pub version: String,
    /// `server_version_num`.
    pub version_num: u32,
    /// Effective values of the settings rehearse and the scenario set.
    pub settings: BTreeMap<String, String>,
}

impl Server {
    /// Reads the server's version and effective settings on `client`.
    pub async fn facts(
        &self,
        client: &tokio_postgres::Client,
        plan: &DatabasePlan,
    ) -> Result<ServerFacts, DbError> {
        let failed = |what: &str| {
            let what = what.to_owned();
            move |e: tokio_postgres::Error| DbError::Statement {
                what,
                message: crate::pg::describe(&e),
            }
        };
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('server_version_num')::int4",
                &[],
            )
            .await
            .map_err(failed("read the server version"))?;
        let names: Vec<String> = super::effective_settings(plan, None)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let rows = client
            .query(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1) ORDER BY name",
                &[&names],
            )
            .await
            .map_err(failed("read the server settings"))?;
        Ok(ServerFacts {
            backend: self.backend.name().into(),
            target: self.target.clone(),
            image: self.image.clone(),
            binaries: self.binaries.as_ref().map(|p| p.display().to_string()),
            log: self.log.as_ref().map(|p| p.display().to_string()),
            settings_applied: self.settings_applied,
            notes: self.notes.clone(),
            version: row.get(0),
            version_num: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
            settings: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        })
    }
}
