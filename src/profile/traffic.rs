//! `rehearse profile --traffic`: a `[traffic]` section from `pg_stat_statements`.
//!
//! Two snapshots of the view `--window` apart (or one, against the time since its last reset)
//! give each statement's calls per second. The statements that make up `--coverage` of all
//! calls become queries, weighted by their calls; utility statements, the catalog's and the
//! monitoring's are left out. Each `$n` gets a generator from what it is compared with or
//! assigned to: keys of a profiled table (with the distribution its statistics show), `seq` for
//! an inserted serial key, a range from a number column's histogram, a fake value for text, a
//! constant where nothing fits. A statement the profiled database cannot prepare is left out and
//! listed with the reason. Nothing but the view and the catalog is read.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::ControlFlow;
use std::time::Duration;

use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, SetExpr, Statement, TableFactor, TableObject, Value,
    Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tokio_postgres::Client;

use super::{ColumnStats, toml_key, zipf_exponent};
use crate::db::DbError;

/// The profiled tables: rows and columns, by the name the seed section gives them.
pub(super) type Tables = BTreeMap<String, (u64, Vec<ColumnStats>)>;

/// What to profile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrafficOptions {
    /// Two snapshots this far apart; `None`: since the view's last reset.
    pub window: Option<Duration>,
    /// The share of all calls the chosen statements make up.
    pub coverage: f64,
}

/// One statement of the view over the window.
#[derive(Debug, Clone)]
struct Seen {
    query: String,
    calls: f64,
}

/// A chosen statement's query.
struct Query {
    name: String,
    weight: f64,
    sql: String,
    params: Vec<String>,
}

/// The `[traffic]` section (TOML with comments) and the notes on what was left out.
pub(crate) async fn section(
    client: &Client,
    tables: &Tables,
    options: TrafficOptions,
) -> Result<(String, Vec<String>), DbError> {
    let failed = |what: &'static str| {
        move |e: tokio_postgres::Error| DbError::Query {
            what: what.into(),
            target: "the profiled database".into(),
            message: crate::pg::describe(&e),
        }
    };
    let installed = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'",
            &[],
        )
        .await
        .map_err(failed("look for pg_stat_statements"))?;
    if installed.is_none() {
        return Err(DbError::Query {
            what: "profile the traffic".into(),
            target: "the profiled database".into(),
            message: "pg_stat_statements is not installed in this database: add it to \
                      shared_preload_libraries (a restart), run CREATE EXTENSION pg_stat_statements, \
                      let the application run, then profile again (or profile without --traffic)"
                .into(),
        });
    }
    let snapshot = || async {
        client
            .query(
                "SELECT queryid::text, query, calls::float8
                   FROM pg_stat_statements
                  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .map_err(|e| DbError::Query {
                what: "read pg_stat_statements".into(),
                target: "the profiled database".into(),
                message: format!(
                    "{}{}",
                    crate::pg::describe(&e),
                    if e.to_string().contains("shared_preload_libraries") {
                        "; add pg_stat_statements to shared_preload_libraries and restart"
                    } else {
                        ""
                    }
                ),
            })
    };
    let (seen, seconds) = match options.window {
        Some(window) => {
            let before = snapshot().await?;
            tokio::time::sleep(window).await;
            let after = snapshot().await?;
            let earlier: BTreeMap<String, f64> =
                before.iter().map(|r| (r.get(0), r.get(2))).collect();
            let seen: Vec<Seen> = after
                .iter()
                .map(|r| {
                    let id: String = r.get(0);
                    Seen {
                        query: r.get(1),
                        calls: r.get::<_, f64>(2) - earlier.get(&id).copied().unwrap_or(0.0),
                    }
                })
                .collect();
            (seen, window.as_secs_f64())
        }
        None => {
            let since = client
                .query_one(
                    "SELECT extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_statements_info",
                    &[],
                )
                .await
                .map_err(|e| DbError::Query {
                    what: "read when pg_stat_statements was reset".into(),
                    target: "the profiled database".into(),
                    message: format!(
                        "{} (before PG 14 there is no reset time: give --window)",
                        crate::pg::describe(&e)
                    ),
                })?
                .get::<_, f64>(0);
            let rows = snapshot().await?;
            let seen = rows
                .iter()
                .map(|r| Seen {
                    query: r.get(1),
                    calls: r.get(2),
                })
                .collect();
            (seen, since.max(1.0))
        }
    };
    let mut notes = Vec::new();
    let mut candidates: Vec<Seen> = Vec::new();
    let mut hidden = 0;
    for s in seen.into_iter().filter(|s| s.calls > 0.0) {
        match left_out(&s.query) {
            Some(Skip::Hidden) => hidden += 1,
            Some(_) => {}
            None => candidates.push(s),
        }
    }
    if hidden > 0 {
        notes.push(format!(
            "{hidden} statement(s) of other users hidden (<insufficient privilege>): \
             GRANT pg_read_all_stats TO the profiling role"
        ));
    }
    candidates.sort_by(|a, b| b.calls.total_cmp(&a.calls));
    let total: f64 = candidates.iter().map(|s| s.calls).sum();
    let mut chosen = Vec::new();
    let mut covered = 0.0;
    let mut left = Vec::new();
    for s in candidates {
        if covered >= options.coverage * total && !chosen.is_empty() {
            break;
        }
        covered += s.calls;
        match client.prepare(&s.query).await {
            Ok(statement) => {
                let types: Vec<String> = statement
                    .params()
                    .iter()
                    .map(|t| t.name().to_owned())
                    .collect();
                chosen.push((s, types));
            }
            Err(e) => left.push(format!(
                "{}: cannot be prepared here ({})",
                short(&s.query),
                crate::pg::describe(&e)
            )),
        }
    }
    let kept_calls: f64 = chosen.iter().map(|(s, _)| s.calls).sum();
    let mut queries = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (s, types) in &chosen {
        let inferred = infer(&s.query, types, tables);
        let base = inferred.name.clone();
        let n = names.entry(base.clone()).or_default();
        *n += 1;
        let name = if *n == 1 { base } else { format!("{base}-{n}") };
        for (i, why) in inferred.guesses.iter().enumerate() {
            if let Some(why) = why {
                notes.push(format!("{name}: ${} is a constant ({why})", i + 1));
            }
        }
        queries.push(Query {
            name,
            weight: s.calls,
            sql: s.query.clone(),
            params: inferred.params,
        });
    }
    let rate = kept_calls / seconds;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n# Traffic profiled by `rehearse profile --traffic` from pg_stat_statements over {:.0} s: \
         {} statement(s), {:.1} % of {:.0} calls (utility, catalog and monitoring statements left out).",
        seconds,
        queries.len(),
        if total > 0.0 {
            100.0 * kept_calls / total
        } else {
            0.0
        },
        total
    );
    let _ = writeln!(
        out,
        "# Parameters are inferred from what each $n is compared with: review them."
    );
    for l in &left {
        let _ = writeln!(out, "# left out: {l}");
    }
    let _ = writeln!(out, "[traffic]");
    let _ = writeln!(out, "rate = {:.1}", (rate * 10.0).round() / 10.0);
    let _ = writeln!(out, "connections = 8");
    for q in &queries {
        let _ = writeln!(out, "\n[[traffic.query]]");
        let _ = writeln!(out, "name = {}", toml_string(&q.name));
        let _ = writeln!(out, "weight = {}", q.weight.round().max(1.0));
        let _ = writeln!(out, "sql = {}", toml_string(&q.sql));
        if !q.params.is_empty() {
            let _ = writeln!(out, "params = [{}]", q.params.join(", "));
        }
    }
    if queries.is_empty() {
        notes.push("no application statement in pg_stat_statements over the window".into());
    }
    notes.extend(left);
    Ok((out, notes))
}

/// Why a statement is not the application's.
#[derive(Debug, PartialEq)]
enum Skip {
    /// Another user's text, hidden.
    Hidden,
    /// SET, BEGIN, VACUUM, DDL…
    Utility,
    /// It reads the catalog or the statistics views: monitoring, tools, this profiler.
    Catalog,
}

fn left_out(query: &str) -> Option<Skip> {
    if query.starts_with("<insufficient privilege>") {
        return Some(Skip::Hidden);
    }
    let text = crate::pg::split::strip_comments(query);
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !matches!(
        first.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH" | "MERGE" | "VALUES" | "TABLE"
    ) {
        return Some(Skip::Utility);
    }
    let lower = text.to_ascii_lowercase();
    let catalog = [
        "pg_catalog.",
        "information_schema.",
        "pg_stat",
        "pg_locks",
        "pg_class",
        "pg_namespace",
        "pg_database",
        "pg_settings",
        "pg_extension",
        "pg_type",
        "pg_attribute",
        "pg_index",
        "pg_constraint",
        "current_setting(",
        "pg_is_in_recovery",
        "version()",
    ];
    if catalog.iter().any(|c| lower.contains(c)) || lower.trim() == "select $1" {
        return Some(Skip::Catalog);
    }
    None
}

/// What was inferred for one statement.
struct Inferred {
    name: String,
    params: Vec<String>,
    /// Per parameter, why it is a constant (`None` when a generator fits).
    guesses: Vec<Option<String>>,
}

/// The column each `$n` is compared with or assigned to, as (qualifier, column).
type Uses = BTreeMap<usize, (Option<String>, String, Use)>;

/// How a parameter meets its column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Use {
    /// `col = $n`, `col IN (…)`.
    Equals,
    /// `col < $n`, `BETWEEN`.
    Compares,
    /// `INSERT (col) VALUES ($n)`, `SET col = $n`.
    Writes,
}

fn infer(sql: &str, types: &[String], tables: &Tables) -> Inferred {
    let parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok();
    let statement = parsed.as_ref().and_then(|p| p.first());
    let mut uses = Uses::new();
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    let mut relations: Vec<String> = Vec::new();
    let mut verb = "query";
    if let Some(statement) = statement {
        let mut collect = Collect {
            uses: &mut uses,
            aliases: &mut aliases,
            relations: &mut relations,
        };
        let _ = statement.visit(&mut collect);
        match statement {
            Statement::Insert(insert) => {
                verb = "insert";
                if let TableObject::TableName(name) = &insert.table {
                    let table = name.to_string();
                    relations.insert(0, table.clone());
                    if let Some(SetExpr::Values(values)) =
                        insert.source.as_deref().map(|q| q.body.as_ref())
                    {
                        for row in &values.rows {
                            for (column, expr) in insert.columns.iter().zip(&row.content) {
                                if let Some(n) = placeholder(expr) {
                                    uses.insert(
                                        n,
                                        (Some(table.clone()), column.to_string(), Use::Writes),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            Statement::Update(update) => {
                verb = "update";
                for a in &update.assignments {
                    if let (AssignmentTarget::ColumnName(column), Some(n)) =
                        (&a.target, placeholder(&a.value))
                    {
                        uses.insert(n, (None, column.to_string(), Use::Writes));
                    }
                }
            }
            Statement::Delete(_) => verb = "delete",
            _ => verb = "select",
        }
    }
    let first_table = relations
        .first()
        .cloned()
        .unwrap_or_else(|| "statement".into());
    let name = format!("{verb}-{}", plain(&first_table));
    let lower = sql.to_ascii_lowercase();
    let mut params = Vec::new();
    let mut guesses = Vec::new();
    for (i, ty) in types.iter().enumerate() {
        let n = i + 1;
        if lower.contains(&format!("limit ${n}")) {
            params.push("{ value = 20 }".to_owned());
            guesses.push(None);
            continue;
        }
        if lower.contains(&format!("offset ${n}")) {
            params.push("{ value = 0 }".to_owned());
            guesses.push(None);
            continue;
        }
        let found = uses.get(&n).and_then(|(qualifier, column, how)| {
            let table = match qualifier {
                Some(q) => aliases
                    .get(&q.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_else(|| q.clone()),
                None => relations
                    .iter()
                    .find(|t| {
                        stats_of(tables, t).is_some_and(|cs| cs.iter().any(|c| c.name == *column))
                    })
                    .cloned()?,
            };
            let stats = stats_of(tables, &table)?;
            let c = stats.iter().find(|c| c.name == *column)?;
            let key = profile_key(tables, &table);
            let rows = tables.get(&key).map_or(0, |(r, _)| *r);
            Some((key, rows, c, *how))
        });
        match found {
            Some((table, rows, c, how)) => match generator(&table, rows, c, how) {
                Some(g) => {
                    params.push(g);
                    guesses.push(None);
                }
                None => {
                    params.push(constant(ty));
                    guesses.push(Some(format!(
                        "nothing fits {table}.{} ({})",
                        c.name, c.type_name
                    )));
                }
            },
            None => {
                params.push(constant(ty));
                guesses.push(Some(
                    "not compared with a column of a profiled table".into(),
                ));
            }
        }
    }
    Inferred {
        name,
        params,
        guesses,
    }
}

/// Collects placeholders compared with columns, and table aliases.
struct Collect<'a> {
    uses: &'a mut Uses,
    aliases: &'a mut BTreeMap<String, String>,
    relations: &'a mut Vec<String>,
}

impl Visitor for Collect<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor {
            let table = name.to_string();
            if let Some(alias) = alias {
                self.aliases
                    .insert(alias.name.value.to_ascii_lowercase(), table.clone());
            }
            if !self.relations.contains(&table) {
                self.relations.push(table);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let mut note = |column: &Expr, value: &Expr, how: Use| {
            if let (Some(c), Some(n)) = (column_of(column), placeholder(value)) {
                self.uses.entry(n).or_insert((c.0, c.1, how));
            }
        };
        match expr {
            Expr::BinaryOp { left, op, right } => {
                let how = match op {
                    BinaryOperator::Eq | BinaryOperator::NotEq => Use::Equals,
                    BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq => Use::Compares,
                    _ => return ControlFlow::Continue(()),
                };
                note(left, right, how);
                note(right, left, how);
            }
            Expr::InList { expr, list, .. } => {
                for item in list {
                    note(expr, item, Use::Equals);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                note(expr, low, Use::Compares);
                note(expr, high, Use::Compares);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `$n` → n.
fn placeholder(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => placeholder(inner),
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A column reference: (qualifier, column).
fn column_of(expr: &Expr) -> Option<(Option<String>, String)> {
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => column_of(inner),
        Expr::Identifier(i) => Some((None, i.value.clone())),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let column = parts.last()?.value.clone();
            let qualifier = parts[parts.len() - 2].value.clone();
            Some((Some(qualifier), column))
        }
        _ => None,
    }
}

/// The profiled table a statement's name means (`users`, `public.users`, `"Users"`).
fn stats_of<'a>(tables: &'a Tables, name: &str) -> Option<&'a Vec<ColumnStats>> {
    tables.get(&profile_key(tables, name)).map(|(_, c)| c)
}

/// The name a statement's table has in the profile.
fn profile_key(tables: &Tables, name: &str) -> String {
    let plain_name = plain(name);
    if tables.contains_key(name) {
        return name.to_owned();
    }
    tables
        .keys()
        .find(|k| plain(k) == plain_name)
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// `public."Users"` → `users`-ish: the last part, unquoted.
fn plain(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches('"')
        .to_owned()
}

/// The generator of a parameter meeting column `c` of `table`.
fn generator(table: &str, rows: u64, c: &ColumnStats, how: Use) -> Option<String> {
    let unique = c.n_distinct == -1.0;
    if how == Use::Writes && c.sequence && c.base == "int" {
        return Some(format!("{{ seq = \"{}.{}\" }}", table, toml_key(&c.name)));
    }
    if let Some(target) = &c.references {
        let mut g = format!("{{ key = \"{target}\"");
        let distinct = if c.n_distinct < 0.0 {
            -c.n_distinct * rows as f64
        } else {
            c.n_distinct
        };
        if let Some(e) = zipf_exponent(&c.mcf, distinct) {
            let _ = write!(g, ", dist = \"zipf\", exponent = {e:.2}");
        }
        g.push_str(" }");
        return Some(g);
    }
    if (unique || c.sequence) && how != Use::Writes {
        return Some(format!("{{ key = \"{}.{}\" }}", table, toml_key(&c.name)));
    }
    match c.base.as_str() {
        "int" | "number" if how == Use::Writes || how == Use::Compares || !c.bounds.is_empty() => {
            let values: Vec<f64> = c
                .bounds
                .iter()
                .chain(&c.mcv)
                .filter_map(|v| v.parse().ok())
                .collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo <= hi).then(|| format!("{{ range = [{lo}, {hi}] }}"))
        }
        "int" | "number" => c.mcv.first().map(|v| format!("{{ value = {v} }}")),
        "text" | "enum" if !c.mcv.is_empty() && how != Use::Writes => {
            Some(format!("{{ value = {} }}", toml_string(&c.mcv[0])))
        }
        "text" => {
            let kind = crate::seed::text_kind_for(&c.name);
            let name = crate::values::FakeKind::ALL
                .iter()
                .find(|(_, k)| *k == kind)
                .map_or("word", |(n, _)| n);
            Some(format!("{{ fake = \"{name}\" }}"))
        }
        "enum" => c
            .mcv
            .first()
            .map(|v| format!("{{ value = {} }}", toml_string(v))),
        "bool" => Some("{ value = true }".into()),
        "time" => {
            let middle = c.bounds.get(c.bounds.len() / 2).or(c.mcv.first())?;
            Some(format!("{{ value = {} }}", toml_string(middle)))
        }
        "uuid" => Some("{ fake = \"uuid\" }".into()),
        _ => None,
    }
}

/// A constant for a parameter of type `ty`.
fn constant(ty: &str) -> String {
    match ty {
        "int2" | "int4" | "int8" | "numeric" | "float4" | "float8" | "oid" => {
            "{ value = 1 }".into()
        }
        "bool" => "{ value = true }".into(),
        "timestamp" | "timestamptz" | "date" => "{ value = \"2025-01-01\" }".into(),
        "uuid" => "{ fake = \"uuid\" }".into(),
        "json" | "jsonb" => "{ value = \"{}\" }".into(),
        _ => "{ value = \"x\" }".into(),
    }
}

/// A TOML basic string (or a multi-line literal for SQL with quotes and newlines).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The start of a statement, for notes.
fn short(query: &str) -> String {
    let one_line: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(80).collect::<String>())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(name: &str, base: &str) -> ColumnStats {
        ColumnStats {
            name: name.into(),
            type_name: base.into(),
            base: base.into(),
            has_stats: true,
            ..ColumnStats::default()
        }
    }

    fn tables() -> Tables {
        let mut users = vec![
            stats("id", "int"),
            stats("email", "text"),
            stats("status", "text"),
            stats("score", "int"),
        ];
        users[0].sequence = true;
        users[0].n_distinct = -1.0;
        users[2].mcv = vec!["active".into(), "banned".into()];
        users[3].bounds = vec!["0".into(), "50".into(), "100".into()];
        let mut orders = vec![
            stats("id", "int"),
            stats("user_id", "int"),
            stats("total", "number"),
        ];
        orders[0].sequence = true;
        orders[0].n_distinct = -1.0;
        orders[1].references = Some("users.id".into());
        orders[2].bounds = vec!["1.5".into(), "99.5".into()];
        BTreeMap::from([
            ("users".to_owned(), (1000, users)),
            ("orders".to_owned(), (5000, orders)),
        ])
    }

    #[test]
    fn parameters_follow_their_columns() {
        let t = tables();
        let q = infer(
            "SELECT email FROM users WHERE id = $1",
            &["int8".into()],
            &t,
        );
        assert_eq!(
            (q.name.as_str(), q.params[0].as_str()),
            ("select-users", "{ key = \"users.id\" }")
        );
        let q = infer(
            "SELECT o.total FROM orders o JOIN users u ON u.id = o.user_id WHERE o.user_id = $1 AND u.status = $2 LIMIT $3",
            &["int8".into(), "text".into(), "int8".into()],
            &t,
        );
        assert_eq!(
            q.params,
            [
                "{ key = \"users.id\" }",
                "{ value = \"active\" }",
                "{ value = 20 }"
            ]
        );
        let q = infer(
            "INSERT INTO orders (user_id, total) VALUES ($1, $2)",
            &["int8".into(), "numeric".into()],
            &t,
        );
        assert_eq!(q.name, "insert-orders");
        assert_eq!(
            q.params,
            ["{ key = \"users.id\" }", "{ range = [1.5, 99.5] }"]
        );
        let q = infer(
            "UPDATE users SET score = $1 WHERE id = $2",
            &["int4".into(), "int8".into()],
            &t,
        );
        assert_eq!(q.params, ["{ range = [0, 100] }", "{ key = \"users.id\" }"]);
        let q = infer("SELECT $1::int + 1", &["int4".into()], &t);
        assert_eq!(q.params, ["{ value = 1 }"]);
        assert!(q.guesses[0].is_some());
    }

    #[test]
    fn utility_catalog_and_hidden_statements_are_left_out() {
        assert_eq!(left_out("SET application_name = $1"), Some(Skip::Utility));
        assert_eq!(left_out("BEGIN"), Some(Skip::Utility));
        assert_eq!(
            left_out("SELECT count(*) FROM pg_stat_activity"),
            Some(Skip::Catalog)
        );
        assert_eq!(left_out("<insufficient privilege>"), Some(Skip::Hidden));
        assert_eq!(
            left_out("/* app */ SELECT 1 FROM users WHERE id = $1"),
            None
        );
        assert_eq!(toml_string("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
