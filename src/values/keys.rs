//! The keys of a loaded table, to draw foreign keys and query parameters from.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::value::Value;
use crate::pg::quote_ident;

/// Keys to draw from: an integer range (no copy of the keys) or a sample of them.
#[derive(Debug, Clone)]
pub(crate) enum KeyPool {
    /// Integer keys in this inclusive range.
    Range(i64, i64),
    /// Other keys: up to 100,000 of them, in key order.
    Values(Vec<Value>),
}

impl KeyPool {
    /// How many keys there are to choose from.
    pub(crate) fn len(&self) -> u64 {
        match self {
            // The whole i64 range has 2^64 keys: one more than u64 holds.
            KeyPool::Range(lo, hi) => {
                let n = (i128::from(*hi) - i128::from(*lo) + 1).max(0);
                u64::try_from(n).unwrap_or(u64::MAX)
            }
            KeyPool::Values(v) => v.len() as u64,
        }
    }

    /// The `i`-th key in key order (`i < len()`).
    pub(crate) fn get(&self, i: u64) -> Value {
        match self {
            // Two's complement: lo + i, for any i below the range's length.
            KeyPool::Range(lo, _) => Value::I64(lo.wrapping_add(i as i64)),
            KeyPool::Values(v) => v[i as usize].clone(),
        }
    }
}

/// Reads the keys of `table.column`; `None` when the table has no rows. Integer columns give a
/// range (min to max), others a sample of at most 100,000 values.
pub(crate) async fn load_key_pool(
    client: &Client,
    table: &str,
    column: &str,
) -> Result<Option<KeyPool>, tokio_postgres::Error> {
    let key = quote_ident(column);
    let probe = client
        .prepare(&format!("SELECT {key} FROM {table} LIMIT 0"))
        .await?;
    let ty = probe.columns()[0].type_().clone();
    if matches!(ty, Type::INT2 | Type::INT4 | Type::INT8) {
        let row = client
            .query_one(
                &format!("SELECT min({key})::int8, max({key})::int8 FROM {table}"),
                &[],
            )
            .await?;
        return Ok(
            match (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)) {
                (Some(lo), Some(hi)) => Some(KeyPool::Range(lo, hi)),
                _ => None,
            },
        );
    }
    let rows = client
        .query(
            &format!(
                "SELECT {key}::text FROM {table} WHERE {key} IS NOT NULL ORDER BY 1 LIMIT 100000"
            ),
            &[],
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let values = rows
        .iter()
        .map(|r| Value::Text(r.get::<_, String>(0)).coerce(&ty))
        .collect();
    Ok(Some(KeyPool::Values(values)))
}
