//! What the seeder needs to know about a table, read from the catalog.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

/// A table to fill.
#[derive(Debug, Clone)]
pub struct Table {
    /// `schema.table`, quoted as needed.
    pub qualified: String,
    /// Columns in attribute order, generated and identity columns included.
    pub columns: Vec<Column>,
}

/// One column and what constrains its values.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name (unquoted).
    pub name: String,
    /// Type name as `format_type` prints it, e.g. `character varying(120)`.
    pub type_name: String,
    /// The type, resolved by the server (includes enums and domains).
    pub ty: Type,
    /// NOT NULL.
    pub not_null: bool,
    /// Filled by the server: identity, generated, or a `nextval` default.
    pub server_filled: bool,
    /// Has some other default the server could use.
    pub has_default: bool,
    /// `atttypmod`: length of varchar(n), precision of numeric(p, s).
    pub typmod: i32,
    /// Sole column of a unique index or constraint.
    pub unique: bool,
    /// Single-column foreign key: (referenced table, referenced column).
    pub references: Option<(String, String)>,
    /// Labels, when the type is an enum.
    pub enum_labels: Vec<String>,
}

impl Column {
    /// The column name quoted for SQL.
    pub fn quoted(&self) -> String {
        quote_ident(&self.name)
    }
}

/// Reads a table's columns; `None` when the table does not exist.
pub async fn table(client: &Client, name: &str) -> Result<Option<Table>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            "SELECT c.oid::regclass::text, c.oid
               FROM pg_class c
              WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
            &[&name],
        )
        .await?
    else {
        return Ok(None);
    };
    let qualified: String = row.get(0);
    let oid: u32 = row.get(1);
    let rows = client
        .query(
            "SELECT a.attname::text,
                    format_type(a.atttypid, a.atttypmod),
                    a.attnotnull,
                    a.attidentity <> '' OR a.attgenerated <> ''
                      OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),
                    d.adbin IS NOT NULL,
                    a.atttypmod,
                    EXISTS (SELECT 1 FROM pg_index i
                             WHERE i.indrelid = a.attrelid AND i.indisunique
                               AND i.indnatts = 1 AND i.indkey[0] = a.attnum),
                    (SELECT format('%s|%s', f.confrelid::regclass::text, fa.attname)
                       FROM pg_constraint f
                       JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
                      WHERE f.conrelid = a.attrelid AND f.contype = 'f'
                        AND array_length(f.conkey, 1) = 1 AND f.conkey[1] = a.attnum
                      LIMIT 1),
                    ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                           WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    if rows.is_empty() {
        return Ok(Some(Table {
            qualified,
            columns: Vec::new(),
        }));
    }
    // Let the server resolve every column's type, custom types included.
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
    let columns = rows
        .iter()
        .zip(probe.columns())
        .map(|(r, c)| Column {
            name: r.get(0),
            type_name: r.get(1),
            ty: c.type_().clone(),
            not_null: r.get(2),
            server_filled: r.get(3),
            has_default: r.get(4),
            typmod: r.get(5),
            unique: r.get(6),
            references: r
                .get::<_, Option<String>>(7)
                .and_then(|s| s.split_once('|').map(|(t, c)| (t.to_owned(), c.to_owned()))),
            enum_labels: r.get(8),
        })
        .collect();
    Ok(Some(Table { qualified, columns }))
}

/// Quotes an identifier (always, so reserved words such as `order` are safe).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
