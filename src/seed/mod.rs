//! Schema creation and synthetic rows: builds the seeded database every strategy clones.
//!
//! Tables are filled in foreign-key order by binary COPY, one row generator per column chosen
//! from the column's type and name ([`generate`]), with a seeded RNG per table so the same seed
//! gives the same rows. Columns the server fills (identity, serial, generated) are left to it.
//! After loading, the database is vacuumed (hint bits, visibility map, frozen rows) and analysed,
//! so the rehearsal meets tables in the state production's are in, not the state of a fresh
//! bulk load whose first readers rewrite every page.

mod catalog;
mod generate;
mod keys;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures_util::pin_mut;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

pub use catalog::quote_ident;
pub use keys::{KeyPool, load_key_pool};
pub use value::Value;

use crate::report::{SeedSummary, TableSummary};
use crate::scenario::{SeedPlan, SqlSource};
use generate::Generator;

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
    /// The server rejected rows or a catalog query.
    #[error("failed to {what}: {message}")]
    Server {
        /// Which operation.
        what: String,
        /// The server's message.
        message: String,
        /// Whether the connection was lost (an environment failure rather than a scenario one).
        connection_lost: bool,
    },
}

impl SeedError {
    fn server(what: impl Into<String>, e: &tokio_postgres::Error) -> SeedError {
        SeedError::Server {
            what: what.into(),
            message: crate::db::describe(e),
            connection_lost: e.is_closed(),
        }
    }
}

/// Runs the schema SQL.
pub async fn create_schema(client: &Client, schema: &SqlSource) -> Result<(), SeedError> {
    client
        .batch_execute(&schema.sql)
        .await
        .map_err(|e| SeedError::Schema {
            origin: schema.origin.clone(),
            message: crate::db::describe_in(&e, &schema.sql),
        })
}

/// Fills the plan's tables and analyses the database.
pub async fn fill(client: &Client, plan: &SeedPlan) -> Result<SeedSummary, SeedError> {
    let started = Instant::now();
    let mut tables = Vec::new();
    for table in &plan.tables {
        let found = catalog::table(client, &table.name)
            .await
            .map_err(|e| SeedError::server(format!("read table {}", table.name), &e))?
            .ok_or_else(|| SeedError::UnknownTable {
                table: table.name.clone(),
            })?;
        tables.push((found, table.rows, table.name.clone()));
    }
    let order = load_order(&tables)?;

    let mut summaries = Vec::new();
    for index in order {
        let (table, rows, name) = &tables[index];
        tracing::info!("seeding {} ({rows} rows)", table.qualified);
        let t = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ fnv1a(name));
        load(client, table, *rows, &mut rng).await?;
        let bytes: i64 = client
            .query_one(
                "SELECT pg_total_relation_size(to_regclass($1))",
                &[&table.qualified],
            )
            .await
            .map_err(|e| SeedError::server(format!("measure {}", table.qualified), &e))?
            .get(0);
        summaries.push(TableSummary {
            table: table.qualified.clone(),
            rows: *rows,
            bytes: bytes as u64,
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    let t = Instant::now();
    client
        .batch_execute("VACUUM (FREEZE, ANALYZE)")
        .await
        .map_err(|e| SeedError::server("vacuum and analyze the seeded database", &e))?;
    Ok(SeedSummary {
        seed: plan.seed,
        scale: plan.scale,
        tables: summaries,
        vacuum_analyze_seconds: t.elapsed().as_secs_f64(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Orders tables so every referenced table is loaded before the tables referencing it.
fn load_order(tables: &[(catalog::Table, u64, String)]) -> Result<Vec<usize>, SeedError> {
    let index: BTreeMap<&str, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, (t, _, _))| (t.qualified.as_str(), i))
        .collect();
    let deps: Vec<BTreeSet<usize>> = tables
        .iter()
        .enumerate()
        .map(|(i, (t, _, _))| {
            t.columns
                .iter()
                .filter_map(|c| c.references.as_ref())
                .filter_map(|(target, _)| index.get(target.as_str()).copied())
                .filter(|&d| d != i)
                .collect()
        })
        .collect();
    let mut done = vec![false; tables.len()];
    let mut order = Vec::new();
    while order.len() < tables.len() {
        let ready: Vec<usize> = (0..tables.len())
            .filter(|&i| !done[i] && deps[i].iter().all(|&d| done[d]))
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = (0..tables.len())
                .filter(|&i| !done[i])
                .map(|i| tables[i].0.qualified.as_str())
                .collect();
            return Err(SeedError::Cycle(stuck.join(", ")));
        }
        for i in ready {
            done[i] = true;
            order.push(i);
        }
    }
    Ok(order)
}

async fn load(
    client: &Client,
    table: &catalog::Table,
    rows: u64,
    rng: &mut ChaCha8Rng,
) -> Result<(), SeedError> {
    let mut columns = Vec::new();
    for column in &table.columns {
        if column.server_filled {
            continue;
        }
        if let Some(generator) = generator_for(client, table, column).await? {
            columns.push((column, generator));
        }
    }
    if columns.is_empty() {
        let sql = format!(
            "INSERT INTO {} SELECT FROM generate_series(1, $1::int8)",
            table.qualified
        );
        client
            .execute(&sql, &[&(rows as i64)])
            .await
            .map_err(|e| SeedError::server(format!("insert rows into {}", table.qualified), &e))?;
        return Ok(());
    }
    let names: Vec<String> = columns.iter().map(|(c, _)| c.quoted()).collect();
    let types: Vec<Type> = columns.iter().map(|(c, _)| c.ty.clone()).collect();
    let copy = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.qualified,
        names.join(", ")
    );
    let what = || format!("load rows into {}", table.qualified);
    let sink = client
        .copy_in(&copy)
        .await
        .map_err(|e| SeedError::server(what(), &e))?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let mut row: Vec<Value> = Vec::with_capacity(columns.len());
    for n in 0..rows {
        row.clear();
        row.extend(columns.iter().map(|(c, g)| g.value(n, rng).coerce(&c.ty)));
        let refs: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        writer
            .as_mut()
            .write(&refs)
            .await
            .map_err(|e| SeedError::server(what(), &e))?;
    }
    writer
        .finish()
        .await
        .map_err(|e| SeedError::server(what(), &e))?;
    Ok(())
}

/// The generator for a column, or `None` to leave it to its default.
async fn generator_for(
    client: &Client,
    table: &catalog::Table,
    column: &catalog::Column,
) -> Result<Option<Generator>, SeedError> {
    if let Some((target, key)) = &column.references {
        if target == &table.qualified {
            return if column.not_null {
                Err(SeedError::Unsupported {
                    table: table.qualified.clone(),
                    column: column.name.clone(),
                    type_name: column.type_name.clone(),
                    reason: "a NOT NULL reference to its own table cannot be generated yet".into(),
                })
            } else {
                Ok(Some(Generator::Null))
            };
        }
        return key_pool(client, table, column, target, key)
            .await
            .map(|p| Some(Generator::Reference(p)));
    }
    match generate::for_column(column) {
        Ok(g) => Ok(Some(g)),
        Err(_) if column.has_default => Ok(None),
        Err(_) if !column.not_null => Ok(Some(Generator::Null)),
        Err(generate::Unsupported(reason)) => Err(SeedError::Unsupported {
            table: table.qualified.clone(),
            column: column.name.clone(),
            type_name: column.type_name.clone(),
            reason,
        }),
    }
}

async fn key_pool(
    client: &Client,
    table: &catalog::Table,
    column: &catalog::Column,
    target: &str,
    key: &str,
) -> Result<KeyPool, SeedError> {
    let what = format!(
        "read the keys of {target} for {}.{}",
        table.qualified, column.name
    );
    load_key_pool(client, target, key)
        .await
        .map_err(|e| SeedError::server(&what, &e))?
        .ok_or_else(|| SeedError::EmptyReference {
            table: table.qualified.clone(),
            column: column.name.clone(),
            target: target.to_owned(),
        })
}

/// A stable hash of a table name, so each table has its own RNG stream.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
