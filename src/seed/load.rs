//! Loading: generated rows streamed by binary COPY on several connections, indexes and
//! constraints built after each table's load, then ANALYZE.
//!
//! The work is a small task graph run on a fixed set of connections: a table's load waits for
//! the tables whose keys it reads; its primary key, unique constraints and indexes start as soon
//! as it is loaded (while other tables still load); a foreign key waits for both of its tables
//! and the referenced key; ANALYZE comes last for each table. Each load runs
//! `BEGIN; TRUNCATE; COPY … (FORMAT binary, FREEZE); COMMIT`, so rows arrive frozen and
//! all-visible, as a long-lived production table's are, with no VACUUM pass afterwards. Rows are
//! generated and encoded on a thread of their own, a few chunks ahead of the server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, pin_mut};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;
use tokio_postgres::Client;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use super::SeedError;
use super::catalog::{Deferred, DeferredKind, Table};
use super::generate::ColGen;
use super::literal::{put_copy_text, text_of};
use super::record::{Build, BuildKind, TableLoad};
use super::resolve::TableGen;
use crate::pg::quote_ident;
use crate::values::{Pick, Value, fnv1a, load_key_pool};

/// Rows per RNG block: the unit of determinism.
const BLOCK: u64 = 65_536;
/// Bytes per chunk handed to the connection.
const CHUNK: usize = 256 * 1024;

/// What the loader works on, shared by its tasks.
pub(super) struct Work {
    /// Tables to load.
    pub tables: Vec<TableGen>,
    /// Their catalog entries, by normalized name.
    pub catalog: BTreeMap<String, Table>,
    /// Indexes and constraints to build after the load.
    pub deferred: Vec<Deferred>,
    /// The scenario seed.
    pub seed: u64,
    /// Rows generated so far, per table (for progress).
    pub progress: Vec<Arc<AtomicU64>>,
    /// What the reader should know, gathered while loading.
    pub notes: std::sync::Mutex<Vec<String>>,
}

/// What the loader measured.
pub(super) struct Outcome {
    /// Per table, in load order.
    pub tables: Vec<TableLoad>,
    /// Every index and constraint build.
    pub builds: Vec<Build>,
    /// What the reader should know.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Load(usize),
    Build(usize),
    Analyze(usize),
}

struct Done {
    task: Task,
    client: Client,
    seconds: f64,
}

/// Runs the whole load on `clients`.
pub(super) async fn run(work: Arc<Work>, clients: Vec<Client>) -> Result<Outcome, SeedError> {
    let n = work.tables.len();
    let table_index: BTreeMap<&str, usize> = work
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    // What each task waits for.
    let mut tasks: Vec<(Task, Vec<Task>)> = Vec::new();
    for (i, t) in work.tables.iter().enumerate() {
        let deps = t
            .deps
            .iter()
            .filter_map(|d| table_index.get(d.as_str()))
            .map(|&d| Task::Load(d))
            .collect();
        tasks.push((Task::Load(i), deps));
    }
    for (i, d) in work.deferred.iter().enumerate() {
        let mut deps = Vec::new();
        if let Some(&t) = table_index.get(d.table.as_str()) {
            deps.push(Task::Load(t));
        }
        if let DeferredKind::ForeignKey { references } = &d.kind
            && let Some(&r) = table_index.get(references.as_str())
        {
            deps.push(Task::Load(r));
            deps.extend(
                work.deferred
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.kind == DeferredKind::Key && &k.table == references)
                    .map(|(k, _)| Task::Build(k)),
            );
        }
        tasks.push((Task::Build(i), deps));
    }
    for i in 0..n {
        let mut deps = vec![Task::Load(i)];
        deps.extend(
            work.deferred
                .iter()
                .enumerate()
                .filter(|(_, d)| d.table == work.tables[i].key)
                .map(|(k, _)| Task::Build(k)),
        );
        tasks.push((Task::Analyze(i), deps));
    }
    // Loads first, biggest first; then keys, indexes, foreign keys; ANALYZE last.
    let rank = |t: &Task| match t {
        Task::Load(i) => (0, u64::MAX - work.tables[*i].rows),
        Task::Build(i) => (
            match work.deferred[*i].kind {
                DeferredKind::Key => 1,
                DeferredKind::Index => 2,
                DeferredKind::ForeignKey { .. } => 3,
            },
            *i as u64,
        ),
        Task::Analyze(i) => (4, *i as u64),
    };
    tasks.sort_by_key(|(t, _)| rank(t));

    let mut idle = clients;
    let mut started = vec![false; tasks.len()];
    let mut finished: BTreeMap<Task, f64> = BTreeMap::new();
    let mut running: JoinSet<Result<Done, SeedError>> = JoinSet::new();
    loop {
        for (k, (task, deps)) in tasks.iter().enumerate() {
            if idle.is_empty() {
                break;
            }
            if started[k] || !deps.iter().all(|d| finished.contains_key(d)) {
                continue;
            }
            started[k] = true;
            let client = idle.pop().expect("checked above");
            let work = Arc::clone(&work);
            let task = *task;
            running.spawn(async move {
                let t = Instant::now();
                execute(&work, task, &client).await?;
                Ok(Done {
                    task,
                    client,
                    seconds: t.elapsed().as_secs_f64(),
                })
            });
        }
        match running.join_next().await {
            None => break,
            Some(Ok(Ok(done))) => {
                finished.insert(done.task, done.seconds);
                idle.push(done.client);
            }
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(e)) => {
                return Err(SeedError::Server {
                    what: "run a seeding task".into(),
                    message: e.to_string(),
                    environment: false,
                });
            }
        }
    }
    if let Some((k, _)) = started.iter().enumerate().find(|(_, s)| !**s) {
        // Only a dependency the graph cannot satisfy leaves a task unstarted.
        let table = match tasks[k].0 {
            Task::Load(i) | Task::Analyze(i) => &work.tables[i].key,
            Task::Build(i) => &work.deferred[i].table,
        };
        return Err(SeedError::Cycle(table.clone()));
    }

    let mut builds = Vec::new();
    for (i, d) in work.deferred.iter().enumerate() {
        builds.push(Build {
            name: d.name.clone(),
            table: work
                .catalog
                .get(&d.table)
                .map_or(d.table.clone(), |t| t.qualified.clone()),
            kind: match d.kind {
                DeferredKind::Key => BuildKind::Key,
                DeferredKind::Index => BuildKind::Index,
                DeferredKind::ForeignKey { .. } => BuildKind::ForeignKey,
            },
            seconds: finished.get(&Task::Build(i)).copied().unwrap_or_default(),
        });
    }
    let mut tables = Vec::new();
    for i in 0..n {
        let t = &work.tables[i];
        let qualified = work.catalog[&t.key].qualified.clone();
        let index_seconds = work
            .deferred
            .iter()
            .enumerate()
            .filter(|(_, d)| d.table == t.key && !matches!(d.kind, DeferredKind::ForeignKey { .. }))
            .map(|(k, _)| finished.get(&Task::Build(k)).copied().unwrap_or_default())
            .fold(0.0, |total, s| total + s);
        tables.push(TableLoad {
            table: qualified,
            rows: t.rows,
            bytes: 0,
            load_s: finished.get(&Task::Load(i)).copied().unwrap_or_default(),
            index_s: index_seconds,
            analyze_s: finished.get(&Task::Analyze(i)).copied().unwrap_or_default(),
        });
    }
    let mut notes = std::mem::take(&mut *work.notes.lock().expect("notes lock"));
    notes.sort();
    Ok(Outcome {
        tables,
        builds,
        notes,
    })
}

async fn execute(work: &Work, task: Task, client: &Client) -> Result<(), SeedError> {
    match task {
        Task::Load(i) => load(work, i, client).await,
        Task::Build(i) => {
            let d = &work.deferred[i];
            tracing::debug!("building {}", d.name);
            client
                .batch_execute(&d.create)
                .await
                .map_err(|e| SeedError::server(format!("build {} after the load", d.name), &e))
        }
        Task::Analyze(i) => {
            let table = &work.catalog[&work.tables[i].key];
            // A partitioned table's rows could not be frozen by COPY: VACUUM does it.
            let sql = if table.partitioned {
                format!("VACUUM (FREEZE, ANALYZE) {}", table.qualified)
            } else {
                format!("ANALYZE {}", table.qualified)
            };
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| SeedError::server(format!("analyze {}", table.qualified), &e))
        }
    }
}

async fn load(work: &Work, i: usize, client: &Client) -> Result<(), SeedError> {
    let tgen = &work.tables[i];
    let table = &work.catalog[&tgen.key];
    let what = || format!("load rows into {}", table.qualified);
    let mut columns = Vec::new();
    let mut tuples: BTreeMap<usize, Arc<Vec<Vec<Value>>>> = BTreeMap::new();
    for c in &tgen.columns {
        let mut generator = c.generator.clone();
        if let Some(spec) = &c.pending_tuple {
            let pool = if let Some(pool) = tuples.get(&spec.group) {
                Arc::clone(pool)
            } else {
                let target = &work.catalog[&spec.target].qualified;
                let pool = Arc::new(
                    load_tuples(
                        client,
                        target,
                        &spec.target_columns,
                        &table.types,
                        tgen,
                        spec.group,
                    )
                    .await
                    .map_err(|e| SeedError::server(format!("read the keys of {target}"), &e))?,
                );
                if pool.is_empty() {
                    return Err(SeedError::EmptyReference {
                        table: table.qualified.clone(),
                        column: c.name.clone(),
                        target: target.clone(),
                    });
                }
                if spec.unique && (pool.len() as u64) < tgen.rows {
                    return Err(SeedError::Server {
                        what: what(),
                        message: format!(
                            "its key is a foreign key into {target}, which has only {} rows for {} (one each)",
                            pool.len(),
                            tgen.rows
                        ),
                        environment: false,
                    });
                }
                tuples.insert(spec.group, Arc::clone(&pool));
                pool
            };
            generator = ColGen::Tuple {
                pick: Pick::new(crate::values::KeyDistPlan::Uniform, pool.len() as u64),
                unique: spec
                    .unique
                    .then(|| super::generate::Permutation::new(pool.len() as u64)),
                pool,
                position: spec.position,
                salt: fnv1a(&format!("{}:{}", tgen.key, spec.group)),
            };
        }
        if let Some((target, column, dist)) = &c.pending_key {
            let target = &work.catalog[target].qualified;
            let pool = load_key_pool(client, target, column)
                .await
                .map_err(|e| SeedError::server(format!("read the keys of {target}"), &e))?
                .ok_or_else(|| SeedError::EmptyReference {
                    table: table.qualified.clone(),
                    column: c.name.clone(),
                    target: target.clone(),
                })?;
            generator = ColGen::Key {
                pick: Pick::new(*dist, pool.len()),
                pool,
                unique: None,
                combo: None,
            };
        }
        columns.push(Column {
            ty: table.types[&c.name].clone(),
            generator,
            null: c.null,
        });
    }
    combine(tgen, &mut columns).map_err(|message| SeedError::Server {
        what: what(),
        message,
        environment: false,
    })?;
    client
        .batch_execute(&format!("BEGIN; TRUNCATE {}", table.qualified))
        .await
        .map_err(|e| SeedError::server(what(), &e))?;
    // The seeded rows are the generators' alone: user triggers (which may update other tables
    // row by row, slowly, or change the rows) are off during the load, in its transaction.
    let triggers = client
        .query(
            "SELECT t.tgrelid::regclass::text, t.tgname::text, t.tgenabled::text
               FROM pg_trigger t
              WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
                AND (t.tgrelid = $1::text::regclass
                     OR t.tgrelid IN (SELECT relid FROM pg_partition_tree($1::text::regclass)))
              ORDER BY 1, 2",
            &[&table.qualified],
        )
        .await
        .map_err(|e| SeedError::server(format!("read the triggers of {}", table.qualified), &e))?;
    let triggers: Vec<(String, String, String)> = triggers
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (relation, name, _) in &triggers {
        client
            .batch_execute(&format!(
                "ALTER TABLE {relation} DISABLE TRIGGER {}",
                quote_ident(name)
            ))
            .await
            .map_err(|e| SeedError::server(format!("disable trigger {name} on {relation}"), &e))?;
    }
    if !triggers.is_empty() {
        let mut names: Vec<&str> = triggers.iter().map(|(_, n, _)| n.as_str()).collect();
        names.dedup();
        work.notes.lock().expect("notes lock").push(format!(
            "user triggers of {} disabled while loading: {}",
            table.qualified,
            names.join(", ")
        ));
    }
    if columns.is_empty() {
        let sql = format!(
            "INSERT INTO {} SELECT FROM generate_series(1, $1::int8)",
            table.qualified
        );
        client
            .execute(&sql, &[&(tgen.rows as i64)])
            .await
            .map_err(|e| SeedError::server(what(), &e))?;
        work.progress[i].store(tgen.rows, Ordering::Relaxed);
    } else {
        let names: Vec<String> = tgen.columns.iter().map(|c| quote_ident(&c.name)).collect();
        // Binary when every value has a binary encoder here; else text, parsed by the server.
        let text = columns
            .iter()
            .any(|c| !binary_encodable(&c.ty) || c.generator.writes_literals(&c.ty));
        let copy = format!(
            "COPY {} ({}) FROM STDIN (FORMAT {}{})",
            table.qualified,
            names.join(", "),
            if text { "text" } else { "binary" },
            if table.partitioned { "" } else { ", FREEZE" }
        );
        let sink = client
            .copy_in::<_, Bytes>(&copy)
            .await
            .map_err(|e| SeedError::server(what(), &e))?;
        pin_mut!(sink);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let rows = tgen.rows;
        // Each table has its own RNG stream.
        let seed = work.seed ^ fnv1a(&tgen.key);
        let counter = Arc::clone(&work.progress[i]);
        let producer = std::thread::Builder::new()
            .name(format!("seed-{}", tgen.key))
            .spawn(move || {
                if text {
                    encode_text(&columns, rows, seed, &counter, &tx);
                    Ok(())
                } else {
                    encode(&columns, rows, seed, &counter, &tx)
                }
            })
            .map_err(|e| SeedError::Server {
                what: "start a generator thread".into(),
                message: e.to_string(),
                environment: false,
            })?;
        while let Some(chunk) = rx.recv().await {
            sink.send(chunk)
                .await
                .map_err(|e| SeedError::server(what(), &e))?;
        }
        let encoded = producer
            .join()
            .unwrap_or_else(|_| Err("the generator panicked".into()));
        if let Err(message) = encoded {
            return Err(SeedError::Server {
                what: what(),
                message,
                environment: false,
            });
        }
        sink.as_mut()
            .finish()
            .await
            .map_err(|e| SeedError::server(what(), &e))?;
    }
    for (relation, name, enabled) in &triggers {
        let how = match enabled.as_str() {
            "A" => "ENABLE ALWAYS TRIGGER",
            "R" => "ENABLE REPLICA TRIGGER",
            _ => "ENABLE TRIGGER",
        };
        client
            .batch_execute(&format!(
                "ALTER TABLE {relation} {how} {}",
                quote_ident(name)
            ))
            .await
            .map_err(|e| SeedError::server(format!("enable trigger {name} on {relation}"), &e))?;
    }
    for c in tgen.columns.iter().filter(|c| c.sequence) {
        // The sequence the default names, owned by the column or not: the application's next
        // insert must get a value above every seeded one.
        let Some(sequence) = table.sequences.get(&c.name) else {
            continue;
        };
        client
            // Serial values: 1 to the row count.
            .query_one(
                "SELECT setval($1::text::regclass, $2)",
                &[sequence, &(tgen.rows.max(1) as i64)],
            )
            .await
            .map_err(|e| {
                SeedError::server(
                    format!("move the sequence of {}.{}", table.qualified, c.name),
                    &e,
                )
            })?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| SeedError::server(what(), &e))
}

struct Column {
    ty: Type,
    generator: ColGen,
    null: f64,
}

/// Reads up to 100,000 rows of `columns` of `target` (non-NULL, in key order), each value as
/// the referencing column's type takes it.
async fn load_tuples(
    client: &Client,
    target: &str,
    columns: &[String],
    types: &BTreeMap<String, Type>,
    tgen: &TableGen,
    group: usize,
) -> Result<Vec<Vec<Value>>, tokio_postgres::Error> {
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("{}::text", quote_ident(c)))
        .collect();
    let present: Vec<String> = columns
        .iter()
        .map(|c| format!("{} IS NOT NULL", quote_ident(c)))
        .collect();
    let rows = client
        .query(
            &format!(
                "SELECT {} FROM {target} WHERE {} ORDER BY {} LIMIT 100000",
                list.join(", "),
                present.join(" AND "),
                (1..=columns.len())
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[],
        )
        .await?;
    // The referencing columns' types, in key order.
    let referencing: Vec<Option<&Type>> = (0..columns.len())
        .map(|position| {
            tgen.columns
                .iter()
                .find(|c| {
                    c.pending_tuple
                        .as_ref()
                        .is_some_and(|t| t.group == group && t.position == position)
                })
                .and_then(|c| types.get(&c.name))
        })
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| {
                    let text: String = r.get(i);
                    match referencing[i] {
                        Some(ty) if binary_encodable(ty) => Value::Text(text).coerce(ty),
                        _ => Value::Literal(text),
                    }
                })
                .collect()
        })
        .collect())
}

/// Gives the columns of each key over several foreign keys (a junction table's) distinct
/// combinations: a permutation of all combinations of their pools, each column taking its
/// digit. Refuses a table with more rows than combinations.
fn combine(tgen: &TableGen, columns: &mut [Column]) -> Result<(), String> {
    let sets: std::collections::BTreeSet<usize> = tgen
        .columns
        .iter()
        .filter_map(|c| c.combo.map(|(s, _)| s))
        .collect();
    for set in sets {
        let mut members: Vec<(usize, usize)> = tgen
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.combo.filter(|(s, _)| *s == set).map(|(_, p)| (p, i)))
            .collect();
        members.sort_unstable();
        let sizes: Vec<u64> = members
            .iter()
            .map(|&(_, i)| match &columns[i].generator {
                ColGen::Key { pool, .. } => pool.len(),
                _ => 1,
            })
            .collect();
        let product = sizes
            .iter()
            .fold(1u128, |p, &n| p.saturating_mul(u128::from(n)));
        if product < u128::from(tgen.rows) {
            let names: Vec<&str> = members
                .iter()
                .map(|&(_, i)| tgen.columns[i].name.as_str())
                .collect();
            return Err(format!(
                "its key ({}) has only {product} distinct combinations of the referenced keys for {} rows",
                names.join(", "),
                tgen.rows
            ));
        }
        let permutation =
            super::generate::Permutation::new(u64::try_from(product).unwrap_or(u64::MAX));
        let mut stride = 1u64;
        for (k, &(_, i)) in members.iter().enumerate() {
            if let ColGen::Key { combo, .. } = &mut columns[i].generator {
                *combo = Some(super::generate::Combo {
                    permutation,
                    stride,
                });
            }
            stride = stride.saturating_mul(sizes[k]);
        }
    }
    Ok(())
}

/// Generates and encodes every row in binary COPY format, in chunks. Each block of rows has
/// its own RNG seeded from the table seed and the block number.
fn encode(
    columns: &[Column],
    rows: u64,
    seed: u64,
    counter: &AtomicU64,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), String> {
    let mut buf = BytesMut::with_capacity(CHUNK + 64 * 1024);
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0); // flags
    buf.put_i32(0); // header extension length
    let ncols = columns.len() as i16;
    let mut done = 0u64;
    for block in 0..rows.div_ceil(BLOCK) {
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix(seed ^ splitmix(block)));
        let end = ((block + 1) * BLOCK).min(rows);
        for row in block * BLOCK..end {
            buf.put_i16(ncols);
            for c in columns {
                if c.null > 0.0 && rng.random_bool(c.null) {
                    buf.put_i32(-1);
                    continue;
                }
                let value = c.generator.value(row, &mut rng).coerce(&c.ty);
                let at = buf.len();
                buf.put_i32(0);
                match value.to_sql_checked(&c.ty, &mut buf) {
                    Ok(IsNull::No) => {
                        let len = (buf.len() - at - 4) as i32;
                        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
                    }
                    Ok(IsNull::Yes) => {
                        buf.truncate(at);
                        buf.put_i32(-1);
                    }
                    Err(e) => return Err(format!("cannot encode a value of type {}: {e}", c.ty)),
                }
            }
            if buf.len() >= CHUNK {
                let n = row + 1 - done;
                done = row + 1;
                counter.fetch_add(n, Ordering::Relaxed);
                if tx.blocking_send(buf.split().freeze()).is_err() {
                    // The load was abandoned (error or interruption).
                    return Ok(());
                }
                buf.reserve(CHUNK + 64 * 1024);
            }
        }
    }
    buf.put_i16(-1);
    counter.fetch_add(rows - done, Ordering::Relaxed);
    let _ = tx.blocking_send(buf.freeze());
    Ok(())
}

/// Like [`encode`], in COPY's text format: every value as its literal.
fn encode_text(
    columns: &[Column],
    rows: u64,
    seed: u64,
    counter: &AtomicU64,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 64 * 1024);
    let mut done = 0u64;
    for block in 0..rows.div_ceil(BLOCK) {
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix(seed ^ splitmix(block)));
        let end = ((block + 1) * BLOCK).min(rows);
        for row in block * BLOCK..end {
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    buf.push(b'\t');
                }
                if c.null > 0.0 && rng.random_bool(c.null) {
                    buf.extend_from_slice(b"\\N");
                    continue;
                }
                let value = c.generator.value(row, &mut rng).coerce(&c.ty);
                match text_of(&value) {
                    Some(t) => put_copy_text(&mut buf, &t),
                    None => buf.extend_from_slice(b"\\N"),
                }
            }
            buf.push(b'\n');
            if buf.len() >= CHUNK {
                let n = row + 1 - done;
                done = row + 1;
                counter.fetch_add(n, Ordering::Relaxed);
                let chunk = Bytes::from(std::mem::replace(
                    &mut buf,
                    Vec::with_capacity(CHUNK + 64 * 1024),
                ));
                if tx.blocking_send(chunk).is_err() {
                    return;
                }
            }
        }
    }
    counter.fetch_add(rows - done, Ordering::Relaxed);
    let _ = tx.blocking_send(Bytes::from(buf));
}

/// Whether [`Value`] has a binary encoder for columns of type `ty` (domains by their base).
fn binary_encodable(ty: &Type) -> bool {
    let ty = crate::values::base_type(ty);
    matches!(ty.kind(), Kind::Enum(_))
        || ty.name() == "citext"
        || matches!(
            ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::BYTEA
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::DATE
                | Type::UUID
                | Type::JSON
                | Type::JSONB
        )
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
