//! What the seeder reads from the catalog: the tables' shapes with their exact types, and the
//! indexes and constraints it sets aside during the load and builds afterwards.

use std::collections::BTreeMap;

use tokio_postgres::Client;
use tokio_postgres::types::{Kind, Type};

use super::checks::Check;
use super::literal::{LiteralKind, RangeKind};
use super::shape::{
    Bound, ColType, ColumnShape, CompositeRef, Fill, Partitions, Shapes, TableShape, normalize,
    parse_bound,
};

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
    /// The sequence each sequence-filled column takes its values from, by column name: owned
    /// (serial, identity) or only named by the default (`nextval('t_id_seq')`).
    pub sequences: BTreeMap<String, String>,
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
        let (shape, types, sequences) = columns(client, &qualified, oid).await?;
        shapes.tables.insert(normalize(name), shape);
        tables.insert(
            normalize(name),
            Table {
                qualified,
                oid,
                partitioned: row.get(2),
                types,
                sequences,
            },
        );
    }
    Ok((shapes, tables))
}

/// A table's columns: their shapes, server types and sequences.
type Columns = (TableShape, BTreeMap<String, Type>, BTreeMap<String, String>);

async fn columns(
    client: &Client,
    qualified: &str,
    oid: u32,
) -> Result<Columns, tokio_postgres::Error> {
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
                    -- Unique alone: the only key of a unique index, partial or not, or the
                    -- only column an expression key (lower(name)) reads.
                    EXISTS (SELECT 1 FROM pg_index i
                             WHERE i.indrelid = a.attrelid AND i.indisunique
                               AND i.indnkeyatts = 1
                               AND (i.indkey[0] = a.attnum
                                    OR (i.indkey[0] = 0
                                        AND pg_get_indexdef(i.indexrelid, 1, true)
                                            ~ ('\\m' || a.attname || '\\M')))),
                    (SELECT format('%s|%s', f.confrelid::regclass::text, fa.attname)
                       FROM pg_constraint f
                       JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
                      WHERE f.conrelid = a.attrelid AND f.contype = 'f'
                        AND array_length(f.conkey, 1) = 1 AND f.conkey[1] = a.attnum
                      LIMIT 1),
                    coalesce(
                        (SELECT dep.refobjid::regclass::text
                           FROM pg_depend dep
                           JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
                          WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                          LIMIT 1),
                        pg_get_serial_sequence(a.attrelid::regclass::text, a.attname))
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let mut shape = TableShape {
        columns: Vec::new(),
        unique_sets: Vec::new(),
        composite_refs: Vec::new(),
        partitions: None,
    };
    let mut types = BTreeMap::new();
    let mut sequences = BTreeMap::new();
    if rows.is_empty() {
        return Ok((shape, types, sequences));
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
            checks: Vec::new(),
            fill,
            unique: r.get(5),
            references: r
                .get::<_, Option<String>>(6)
                .and_then(|s| s.split_once('|').map(|(t, c)| (normalize(t), c.to_owned()))),
        });
        if let Some(sequence) = r.get::<_, Option<String>>(7) {
            sequences.insert(name.clone(), sequence);
        }
        types.insert(name, ty);
    }
    constraints(client, oid, &mut shape).await?;
    shape.partitions = partitions(client, oid).await?;
    Ok((shape, types, sequences))
}

/// What the table's constraints and its domains require beyond the columns' own flags: CHECKs
/// on one column (a domain's, through domains of domains, and the table's), a domain's NOT
/// NULL, keys over several columns, and foreign keys — several-column ones, and those declared
/// on a partitioned table's partitions, which count as the table's.
async fn constraints(
    client: &Client,
    oid: u32,
    shape: &mut TableShape,
) -> Result<(), tokio_postgres::Error> {
    let domain_checks = client
        .query(
            "WITH RECURSIVE chain (attname, typid) AS (
                 SELECT a.attname::text, a.atttypid FROM pg_attribute a
                  WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                 UNION ALL
                 SELECT c.attname, t.typbasetype FROM chain c JOIN pg_type t ON t.oid = c.typid
                  WHERE t.typtype = 'd')
             SELECT c.attname, t.typname::text, t.typnotnull,
                    coalesce(array_agg(pg_get_constraintdef(k.oid) ORDER BY k.conname)
                             FILTER (WHERE k.oid IS NOT NULL), '{}')
               FROM chain c
               JOIN pg_type t ON t.oid = c.typid AND t.typtype = 'd'
               LEFT JOIN pg_constraint k ON k.contypid = t.oid AND k.contype = 'c'
              GROUP BY 1, 2, 3",
            &[&oid],
        )
        .await?;
    for r in &domain_checks {
        let Some(column) = shape
            .columns
            .iter_mut()
            .find(|c| c.name == r.get::<_, &str>(0))
        else {
            continue;
        };
        let domain: String = r.get(1);
        column.not_null |= r.get::<_, bool>(2);
        for text in r.get::<_, Vec<String>>(3) {
            column.checks.push(Check {
                text,
                subject: "VALUE".into(),
                origin: format!("domain {domain}"),
            });
        }
    }
    let table_checks = client
        .query(
            "SELECT a.attname::text, k.conname::text, pg_get_constraintdef(k.oid)
               FROM pg_constraint k
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
              WHERE k.conrelid = $1 AND k.contype = 'c' AND array_length(k.conkey, 1) = 1",
            &[&oid],
        )
        .await?;
    for r in &table_checks {
        let name: String = r.get(0);
        if let Some(column) = shape.columns.iter_mut().find(|c| c.name == name) {
            column.checks.push(Check {
                text: r.get(2),
                subject: name.clone(),
                origin: format!("constraint {}", r.get::<_, String>(1)),
            });
        }
    }
    let keys = client
        .query(
            "SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts > 1
                AND k.ord <= i.indnkeyatts
              GROUP BY i.indexrelid
             HAVING count(a.attname) = max(i.indnkeyatts)",
            &[&oid],
        )
        .await?;
    for r in &keys {
        let set: Vec<String> = r.get(0);
        if !shape.unique_sets.contains(&set) {
            shape.unique_sets.push(set);
        }
    }
    let references = client
        .query(
            "SELECT (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM unnest(f.conkey) WITH ORDINALITY AS k (n, ord)
                       JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n),
                    coalesce(pp.relid, f.confrelid)::regclass::text,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM unnest(f.confkey) WITH ORDINALITY AS k (n, ord)
                       JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n)
               FROM pg_constraint f
               LEFT JOIN LATERAL (
                    -- A key of a partition: the partitioned table's.
                    SELECT t.relid FROM pg_partition_ancestors(f.confrelid) WITH ORDINALITY t (relid, n)
                     WHERE t.relid <> f.confrelid
                     ORDER BY t.n DESC LIMIT 1) pp ON true
              WHERE f.contype = 'f'
                AND (f.conrelid = $1
                     OR f.conrelid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass)))",
            &[&oid],
        )
        .await?;
    for r in &references {
        let columns: Vec<String> = r.get(0);
        let target = normalize(&r.get::<_, String>(1));
        let target_columns: Vec<String> = r.get(2);
        if let ([column], [target_column]) = (columns.as_slice(), target_columns.as_slice()) {
            if let Some(c) = shape.columns.iter_mut().find(|c| &c.name == column)
                && c.references.is_none()
            {
                c.references = Some((target, target_column.clone()));
            }
            continue;
        }
        let reference = CompositeRef {
            columns,
            target,
            target_columns,
        };
        if !shape.composite_refs.contains(&reference) {
            shape.composite_refs.push(reference);
        }
    }
    Ok(())
}

/// The partition bounds of a table partitioned by one column (`None` when it is not, or by
/// an expression or several columns, or by hash: any value has a partition then).
async fn partitions(
    client: &Client,
    oid: u32,
) -> Result<Option<Partitions>, tokio_postgres::Error> {
    let Some(key) = client
        .query_opt(
            "SELECT a.attname::text, p.partstrat::text
               FROM pg_partitioned_table p
               JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
              WHERE p.partrelid = $1 AND p.partnatts = 1 AND p.partstrat IN ('r', 'l')",
            &[&oid],
        )
        .await?
    else {
        return Ok(None);
    };
    // Leaf partitions' bounds; a sub-partitioned partition's own bound covers its leaves.
    let bounds = client
        .query(
            "SELECT pg_get_expr(c.relpartbound, c.oid)
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = $1",
            &[&oid],
        )
        .await?;
    let mut partitions = Partitions {
        column: key.get(0),
        ranges: Vec::new(),
        lists: Vec::new(),
        default: false,
    };
    for r in &bounds {
        let bound: String = r.get(0);
        match parse_bound(&bound) {
            Some(Bound::Range(from, to)) => partitions.ranges.push((from, to)),
            Some(Bound::List(values)) => partitions.lists.extend(values),
            // A default partition, or a bound this reader does not follow: every value fits.
            Some(Bound::Default) | None => partitions.default = true,
        }
    }
    Ok(Some(partitions))
}

/// The generator class of a server type; domains are their base type.
fn col_type(ty: &Type, typmod: i32) -> ColType {
    match ty.kind() {
        Kind::Domain(inner) => return col_type(inner, typmod),
        Kind::Enum(labels) => return ColType::Enum(labels.clone()),
        Kind::Array(element) => {
            return match col_type(element, -1) {
                ColType::Other(_) => ColType::Other(ty.name().to_owned()),
                element => ColType::Array(Box::new(element)),
            };
        }
        Kind::Range(element) | Kind::Multirange(element) => {
            let kind = match *element {
                Type::INT4 | Type::INT8 => RangeKind::Int,
                Type::NUMERIC => RangeKind::Numeric,
                Type::DATE => RangeKind::Date,
                Type::TIMESTAMP | Type::TIMESTAMPTZ => RangeKind::Timestamp,
                _ => return ColType::Other(ty.name().to_owned()),
            };
            return if matches!(ty.kind(), Kind::Range(_)) {
                ColType::Range(kind)
            } else {
                ColType::MultiRange(kind)
            };
        }
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
        Type::CHAR => ColType::Literal(LiteralKind::Char),
        _ => LiteralKind::from_name(ty.name(), u32::try_from(typmod).ok())
            .map_or_else(|| ColType::Other(ty.name().to_owned()), ColType::Literal),
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
