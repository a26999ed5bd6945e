//! What the seeder reads from the catalog: the tables' shapes with their exact types, and the
//! indexes and constraints it sets aside during the load and builds afterwards.

use std::collections::BTreeMap;

use tokio_postgres::Client;
use tokio_postgres::types::{Kind, Type};

use super::shape::{ColType, ColumnShape, Fill, Shapes, TableShape, normalize};

/// A table as the server has it.
#[derive(Debug, Clone)]
pub(super) struct Table {
    /// `schema.table` as `regclass` prints it (quoted as needed).
    pub qualified: String,
    /// Its oid.
    pub oid: u32,
    /// Partitioned: COPY cannot FREEZE into it.
    pub partitioned: bool,
    /// Column types the server resolved, by column name (for encoding).
    pub types: BTreeMap<String, Type>,
}

/// Reads the named tables (as the scenario writes them). Missing tables are left out of both
/// results; the resolver reports them.
pub(super) async fn tables(
    client: &Client,
    names: &[String],
) -> Result<(Shapes, BTreeMap<String, Table>), tokio_postgres::Error> {
    let mut shapes = Shapes {
        complete: true,
        ..Shapes::default()
    };
    let mut tables = BTreeMap::new();
    for name in names {
        let Some(row) = client
            .query_opt(
                "SELECT c.oid::regclass::text, c.oid, c.relkind = 'p'
                   FROM pg_class c
                  WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
                &[name],
            )
            .await?
        else {
            continue;
        };
        let qualified: String = row.get(0);
        let oid: u32 = row.get(1);
        let (shape, types) = columns(client, &qualified, oid).await?;
        shapes.tables.insert(normalize(name), shape);
        tables.insert(
            normalize(name),
            Table {
                qualified,
                oid,
                partitioned: row.get(2),
                types,
            },
        );
    }
    Ok((shapes, tables))
}

async fn columns(
    client: &Client,
    qualified: &str,
    oid: u32,
) -> Result<(TableShape, BTreeMap<String, Type>), tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT a.attname::text,
                    format_type(a.atttypid, a.atttypmod),
                    a.attnotnull,
                    CASE WHEN a.attgenerated <> '' THEN 'computed'
                         WHEN a.attidentity <> '' THEN 'sequence'
                         WHEN pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%' THEN 'sequence'
                         WHEN d.adbin IS NOT NULL THEN 'default'
                         ELSE 'nothing' END,
                    a.atttypmod,
                    EXISTS (SELECT 1 FROM pg_index i
                             WHERE i.indrelid = a.attrelid AND i.indisunique
                               AND i.indnatts = 1 AND i.indkey[0] = a.attnum
                               AND i.indpred IS NULL),
                    (SELECT format('%s|%s', f.confrelid::regclass::text, fa.attname)
                       FROM pg_constraint f
                       JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
                      WHERE f.conrelid = a.attrelid AND f.contype = 'f'
                        AND array_length(f.conkey, 1) = 1 AND f.conkey[1] = a.attnum
                      LIMIT 1)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let mut shape = TableShape {
        columns: Vec::new(),
    };
    let mut types = BTreeMap::new();
    if rows.is_empty() {
        return Ok((shape, types));
    }
    // Let the server resolve every column's type, domains and enums included.
    let names: Vec<String> = rows
        .iter()
        .map(|r| quote_ident(r.get::<_, &str>(0)))
        .collect();
    let probe = client
        .prepare(&format!(
            "SELECT {} FROM {qualified} LIMIT 0",
            names.join(", ")
        ))
        .await?;
    for (r, c) in rows.iter().zip(probe.columns()) {
        let name: String = r.get(0);
        let ty = c.type_().clone();
        let fill = match r.get::<_, &str>(3) {
            "computed" => Fill::Computed,
            "sequence" => Fill::Sequence,
            "default" => Fill::Default,
            _ => Fill::Nothing,
        };
        shape.columns.push(ColumnShape {
            name: name.clone(),
            ty: col_type(&ty, r.get(4)),
            type_name: r.get(1),
            not_null: r.get(2),
            fill,
            unique: r.get(5),
            references: r
                .get::<_, Option<String>>(6)
                .and_then(|s| s.split_once('|').map(|(t, c)| (normalize(t), c.to_owned()))),
        });
        types.insert(name, ty);
    }
    Ok((shape, types))
}

/// The generator class of a server type; domains are their base type.
fn col_type(ty: &Type, typmod: i32) -> ColType {
    match ty.kind() {
        Kind::Domain(inner) => return col_type(inner, typmod),
        Kind::Enum(labels) => return ColType::Enum(labels.clone()),
        _ => {}
    }
    match *ty {
        Type::INT2 => ColType::Int(2),
        Type::INT4 => ColType::Int(4),
        Type::INT8 => ColType::Int(8),
        Type::FLOAT4 | Type::FLOAT8 => ColType::Float,
        Type::NUMERIC => {
            if typmod < 4 {
                ColType::Numeric {
                    precision: None,
                    scale: 0,
                }
            } else {
                ColType::Numeric {
                    precision: Some((((typmod - 4) >> 16) & 0xffff) as u32),
                    scale: ((typmod - 4) & 0xffff) as u32,
                }
            }
        }
        Type::BOOL => ColType::Bool,
        Type::TEXT | Type::NAME => ColType::Text { max_len: None },
        Type::VARCHAR | Type::BPCHAR => ColType::Text {
            max_len: (typmod > 4).then(|| (typmod - 4) as usize),
        },
        Type::TIMESTAMP => ColType::Timestamp,
        Type::TIMESTAMPTZ => ColType::TimestampTz,
        Type::DATE => ColType::Date,
        Type::UUID => ColType::Uuid,
        Type::JSON => ColType::Json,
        Type::JSONB => ColType::Jsonb,
        Type::BYTEA => ColType::Bytea,
        _ if ty.name() == "citext" => ColType::Text { max_len: None },
        _ => ColType::Other(ty.name().to_owned()),
    }
}

/// An index or constraint set aside during the load.
#[derive(Debug, Clone)]
pub(super) struct Deferred {
    /// Its name.
    pub name: String,
    /// The table it is on (normalized key of a seeded table, or the qualified name of another).
    pub table: String,
    /// What it is.
    pub kind: DeferredKind,
    /// SQL to drop it.
    pub drop: String,
    /// SQL to build it again.
    pub create: String,
}

/// Kinds of deferred objects, in the order they are built again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeferredKind {
    /// Primary key, unique or exclusion constraint (and its index).
    Key,
    /// A plain index.
    Index,
    /// A foreign key; needs the referenced table's key built first.
    ForeignKey {
        /// Referenced table (normalized).
        references: String,
    },
}

/// The indexes and constraints on `tables` (oid → key) and the foreign keys into them.
pub(super) async fn deferred(
    client: &Client,
    tables: &BTreeMap<u32, String>,
) -> Result<Vec<Deferred>, tokio_postgres::Error> {
    let oids: Vec<u32> = tables.keys().copied().collect();
    let key = |oid: u32, fallback: String| tables.get(&oid).cloned().unwrap_or(fallback);
    let mut out = Vec::new();
    let rows = client
        .query(
            "SELECT c.conname::text, c.conrelid, c.conrelid::regclass::text, c.contype::text,
                    pg_get_constraintdef(c.oid), c.confrelid, c.confrelid::regclass::text
               FROM pg_constraint c
              WHERE (c.conrelid = ANY($1) AND c.contype IN ('p', 'u', 'x', 'f'))
                 OR (c.confrelid = ANY($1) AND c.contype = 'f')
              ORDER BY c.contype = 'f' DESC, c.conname",
            &[&oids],
        )
        .await?;
    for r in &rows {
        let name: String = r.get(0);
        let relid: u32 = r.get(1);
        let qualified: String = r.get(2);
        let kind = if r.get::<_, &str>(3) == "f" {
            DeferredKind::ForeignKey {
                references: key(r.get(5), r.get(6)),
            }
        } else {
            DeferredKind::Key
        };
        out.push(Deferred {
            drop: format!(
                "ALTER TABLE {qualified} DROP CONSTRAINT {}",
                quote_ident(&name)
            ),
            create: format!(
                "ALTER TABLE {qualified} ADD CONSTRAINT {} {}",
                quote_ident(&name),
                r.get::<_, String>(4)
            ),
            name,
            table: key(relid, qualified),
            kind,
        });
    }
    let rows = client
        .query(
            "SELECT ic.relname::text, i.indrelid, pg_get_indexdef(i.indexrelid),
                    i.indexrelid::regclass::text
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = ANY($1)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                 WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
              ORDER BY 1",
            &[&oids],
        )
        .await?;
    for r in &rows {
        // A partitioned table's index is defined `ON ONLY` the parent (pg_dump then attaches
        // the partitions' indexes); built again, it must cover the partitions too.
        let create = r.get::<_, String>(2).replacen(" ON ONLY ", " ON ", 1);
        out.push(Deferred {
            name: r.get(0),
            table: key(r.get(1), String::new()),
            kind: DeferredKind::Index,
            drop: format!("DROP INDEX {}", r.get::<_, String>(3)),
            create,
        });
    }
    Ok(out)
}

/// Quotes an identifier (always, so reserved words such as `order` are safe).
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
