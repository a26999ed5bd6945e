//! Batched backfills: `UPDATE table SET … WHERE key >= lo AND key < lo + batch AND (where)`, one
//! batch per transaction, so row locks are held briefly and WAL and bloat spread out, with a
//! pause between batches. The optional throttle doubles the pause (up to 1 s) while the
//! application's recent p99 is above `max-p99` or one of its sessions has been waiting for a
//! lock longer than `max-lock-wait`, and relaxes it back once neither holds. Progress is
//! logged every tenth of the key range.
//!
//! The key is a smallint, integer or bigint column (or a domain over one): the range ends are
//! sent as bigint and compared across widths (`id >= $1::int8`, which an index on `id` still
//! serves); a key of another type fails the step before any batch, naming its type.

use std::time::Duration;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::record::BackfillRecord;
use crate::pg::ServerError;
use crate::pg::quote_ident;
use crate::scenario::BackfillSection;
use crate::traffic::Traffic;

const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Runs the backfill; `Err(None)` means interrupted.
pub(super) async fn run(
    client: &Client,
    plan: &BackfillSection,
    traffic: Option<&Traffic>,
    app_wait_us: Option<&std::sync::atomic::AtomicU64>,
    cancel: &CancellationToken,
) -> Result<BackfillRecord, Option<ServerError>> {
    let key = quote_ident(&plan.key);
    let server = |e: tokio_postgres::Error| Some(ServerError::from_driver(&e, None));
    if let Some(message) = key_type_problem(client, plan).await.map_err(server)? {
        return Err(Some(ServerError::message(message)));
    }
    let range = client
        .query_one(
            &format!(
                "SELECT min({key})::int8, max({key})::int8 FROM {}",
                plan.table
            ),
            &[],
        )
        .await
        .map_err(server)?;
    let mut report = BackfillRecord::default();
    let (Some(lo), Some(hi)) = (
        range.get::<_, Option<i64>>(0),
        range.get::<_, Option<i64>>(1),
    ) else {
        return Ok(report);
    };
    let batch = plan.batch.unwrap_or(1000).max(1) as i64;
    let condition = plan
        .condition
        .as_deref()
        .map(|c| format!(" AND ({c})"))
        .unwrap_or_default();
    let update = client
        .prepare(&format!(
            "UPDATE {} SET {} WHERE {key} >= $1::int8 AND {key} < $2::int8{condition}",
            plan.table, plan.set
        ))
        .await
        .map_err(server)?;
    let base = plan.sleep.unwrap_or_default();
    let mut pause = base;
    let mut next_report = 1;
    let mut start = lo;
    while start <= hi {
        let end = start.saturating_add(batch);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&start, &end];
        let rows = tokio::select! {
            r = client.execute(&update, &params) => r.map_err(server)?,
            () = cancel.cancelled() => {
                let _ = client.cancel_token().cancel_query(tokio_postgres::NoTls).await;
                return Err(None);
            }
        };
        report.batches += 1;
        report.rows += rows;
        start = end;
        let done = ((start - lo) as f64 / (hi - lo + 1) as f64).min(1.0);
        if done * 10.0 >= f64::from(next_report) {
            tracing::info!(
                "backfill {}: {:.0} % ({} rows in {} batches)",
                plan.table,
                done * 100.0,
                report.rows,
                report.batches
            );
            next_report = (done * 10.0).floor() as u32 + 1;
        }
        let p99_hot = match (plan.max_p99, traffic) {
            (Some(limit), Some(t)) => t.recent_p99().is_some_and(|p99| p99 > limit),
            _ => false,
        };
        let wait_hot = match (plan.max_lock_wait, app_wait_us) {
            (Some(limit), Some(gauge)) => {
                u128::from(gauge.load(std::sync::atomic::Ordering::Relaxed)) > limit.as_micros()
            }
            _ => false,
        };
        if plan.max_p99.is_some() || plan.max_lock_wait.is_some() {
            let hot = p99_hot || wait_hot;
            pause = if hot {
                report.throttled += 1;
                (pause * 2).max(Duration::from_millis(10)).min(MAX_PAUSE)
            } else {
                (pause / 2).max(base)
            };
        }
        report.paused_s += pause.as_secs_f64();
        if !pause.is_zero() && !super::wait(pause, cancel).await {
            return Err(None);
        }
    }
    Ok(report)
}

/// Why the key column cannot be walked in integer ranges: its type, when it is not a smallint,
/// integer or bigint (or a domain over one). A table or column that does not exist is left to
/// the server's own error.
async fn key_type_problem(
    client: &Client,
    plan: &BackfillSection,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT format_type(a.atttypid, a.atttypmod),
                    coalesce(nullif(t.typbasetype, 0), t.oid)
                      IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2
                AND a.attnum > 0 AND NOT a.attisdropped",
            &[&plan.table, &plan.key],
        )
        .await?;
    Ok(row.and_then(|r| {
        let integer: bool = r.get(1);
        (!integer).then(|| {
            format!(
                "backfill key `{}.{}` is {}, not an integer type (smallint, integer or bigint): \
                 batches walk ranges of integer keys; choose an integer key column",
                plan.table,
                plan.key,
                r.get::<_, String>(0)
            )
        })
    }))
}
