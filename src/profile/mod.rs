//! `rehearse profile`: a seed section shaped like a real database, from its catalog and planner
//! statistics only.
//!
//! Row counts come from `pg_class.reltuples`; per column, `pg_stats` gives the NULL fraction,
//! the average width, the number of distinct values, the most common values with their
//! frequencies, and the histogram bounds. From those: ranges from the histogram's ends,
//! timestamp skew from where the histogram's bounds fall, labels and weights for low-cardinality
//! columns, text lengths from the average width, key distributions (Zipf exponent fitted to the
//! most common keys' frequencies). No table is read: the session is read-only and only queries
//! catalogs. What could not be inferred is said, in the output and on stderr.

mod init;
mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write;

use tokio_postgres::Client;

pub(crate) use init::init;
pub(crate) use traffic::TrafficOptions;

use crate::db::DbError;
use crate::values::FakeKind;

/// One column as the catalog and the statistics describe it.
#[derive(Debug, Default)]
struct ColumnStats {
    name: String,
    type_name: String,
    base: String,
    not_null: bool,
    sequence: bool,
    computed: bool,
    has_stats: bool,
    null_frac: f64,
    avg_width: i32,
    n_distinct: f64,
    mcv: Vec<String>,
    mcf: Vec<f64>,
    bounds: Vec<String>,
    references: Option<String>,
}

/// Profiles every ordinary and partitioned table of `schemas` and returns the seed section (and
/// with `traffic`, the traffic section), as TOML with comments, and the notes on what could not
/// be inferred.
pub(crate) async fn profile(
    client: &Client,
    schemas: &[String],
    traffic: Option<TrafficOptions>,
    scale: f64,
) -> Result<(String, Vec<String>), DbError> {
    let query = |what: &'static str| {
        move |source: tokio_postgres::Error| DbError::Query {
            what: what.into(),
            target: "the profiled database".into(),
            message: crate::pg::describe(&source),
        }
    };
    client
        .batch_execute("SET default_transaction_read_only = on; BEGIN READ ONLY")
        .await
        .map_err(query("start a read-only transaction"))?;
    let tables = client
        .query(
            "SELECT c.oid, CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname)
                               ELSE format('%I.%I', n.nspname, c.relname) END,
                    c.reltuples::float8, c.relkind = 'p',
                    coalesce(s.n_live_tup, 0)::float8
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname = ANY($1)
              ORDER BY 2",
            &[&schemas],
        )
        .await
        .map_err(query("list tables"))?;
    let mut out = String::new();
    let mut notes = Vec::new();
    let mut profiled: BTreeMap<String, (u64, Vec<ColumnStats>)> = BTreeMap::new();
    for t in &tables {
        let oid: u32 = t.get(0);
        let name: String = t.get(1);
        let partitioned: bool = t.get(3);
        let mut rows: f64 = t.get(2);
        if partitioned {
            rows = client
                .query_one(
                    "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
                       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = $1",
                    &[&oid],
                )
                .await
                .map_err(query("count partition rows"))?
                .get(0);
        }
        if rows < 0.0 {
            // Never vacuumed or analysed: the statistics collector's count, if any.
            rows = t.get(4);
            notes.push(format!(
                "{name}: never analysed; rows from pg_stat_user_tables ({rows:.0}); run ANALYZE for column shapes"
            ));
        }
        let rows = (rows * scale).round().max(1.0) as u64;
        let columns = columns(client, oid)
            .await
            .map_err(query("read column statistics"))?;
        let _ = writeln!(out, "\n[seed.tables.{}]", toml_key(&name));
        let _ = writeln!(out, "rows = {rows}");
        let mut lines = Vec::new();
        for c in &columns {
            match generator(c, rows) {
                Some(Line::Gen(spec)) => {
                    lines.push(format!("{} = {{ {spec} }}", toml_key(&c.name)));
                }
                Some(Line::Comment(text)) => lines.push(format!("# {}: {text}", c.name)),
                None => {}
            }
            if !c.has_stats && !c.sequence && !c.computed {
                notes.push(format!(
                    "{name}.{}: no statistics (table not analysed, or no privilege on it); \
                     type default used",
                    c.name
                ));
            }
            if c.base == "?" && !crate::seed::generates(&c.type_name) {
                notes.push(format!(
                    "{name}.{}: type {} has no generator; the column is left to its default",
                    c.name, c.type_name
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(out, "[seed.tables.{}.columns]", toml_key(&name));
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
        profiled.insert(name, (rows, columns));
    }
    let _ = client.batch_execute("COMMIT").await;
    if tables.is_empty() {
        notes.push(format!("no tables in schema(s) {}", schemas.join(", ")));
    }
    let mut header = String::from(
        "# Seed section profiled by `rehearse profile` from catalog statistics (no rows were read).\n\
         # Pair it with the schema (pg_dump --schema-only) in a scenario's [schema] section.\n\
         # Labels of low-cardinality columns and range ends are values from pg_stats: review them.\n",
    );
    let traffic = match traffic {
        Some(options) => {
            let (section, traffic_notes) = traffic::section(client, &profiled, options).await?;
            notes.extend(traffic_notes);
            section
        }
        None => String::new(),
    };
    for n in &notes {
        let _ = writeln!(header, "# could not infer: {n}");
    }
    Ok((
        format!("{header}\n[seed]\nseed = 42\n{out}{traffic}\n"),
        notes,
    ))
}

async fn columns(client: &Client, oid: u32) -> Result<Vec<ColumnStats>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                    format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), NULL),
                    a.attnotnull,
                    a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),
                    a.attgenerated <> '',
                    s.attname IS NOT NULL,
                    coalesce(s.null_frac, 0)::float8, coalesce(s.avg_width, 0), coalesce(s.n_distinct, 0)::float8,
                    coalesce(array_to_json(s.most_common_vals::text::text[])::text, '[]'),
                    coalesce(array_to_json(s.most_common_freqs)::text, '[]'),
                    coalesce(array_to_json(s.histogram_bounds::text::text[])::text, '[]'),
                    (SELECT format('%s.%s', CASE WHEN fn.nspname = 'public' THEN quote_ident(fc.relname)
                                                 ELSE format('%I.%I', fn.nspname, fc.relname) END,
                                   fa.attname)
                       FROM pg_constraint f
                       JOIN pg_class fc ON fc.oid = f.confrelid
                       JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                       JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
                      WHERE f.conrelid = a.attrelid AND f.contype = 'f'
                        AND array_length(f.conkey, 1) = 1 AND f.conkey[1] = a.attnum LIMIT 1),
                    t.typtype = 'e'
               FROM pg_attribute a
               JOIN pg_type t ON t.oid = a.atttypid
               JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                                   AND s.attname = a.attname
                                   -- A partitioned table's statistics cover its partitions.
                                   AND s.inherited = (c.relkind = 'p')
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let json_list =
        |s: String| serde_json::from_str::<Vec<serde_json::Value>>(&s).unwrap_or_default();
    Ok(rows
        .iter()
        .map(|r| {
            let is_enum: bool = r.get(14);
            ColumnStats {
                name: r.get(0),
                type_name: r.get(1),
                base: if is_enum {
                    "enum".into()
                } else {
                    base_class(r.get(2))
                },
                not_null: r.get(3),
                sequence: r.get(4),
                computed: r.get(5),
                has_stats: r.get(6),
                null_frac: r.get(7),
                avg_width: r.get(8),
                n_distinct: r.get(9),
                mcv: json_list(r.get(10))
                    .into_iter()
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                    .collect(),
                mcf: json_list(r.get(11))
                    .iter()
                    .filter_map(serde_json::Value::as_f64)
                    .collect(),
                bounds: json_list(r.get(12))
                    .into_iter()
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                    .collect(),
                references: r.get(13),
            }
        })
        .collect())
}

fn base_class(type_name: &str) -> String {
    let t = type_name.to_ascii_lowercase();
    let class = match t.split('(').next().unwrap_or("").trim() {
        "smallint" | "integer" | "bigint" => "int",
        "real" | "double precision" | "numeric" => "number",
        "text" | "character varying" | "character" | "citext" => "text",
        "timestamp with time zone" | "timestamp without time zone" | "date" => "time",
        "json" | "jsonb" => "json",
        "boolean" => "bool",
        "uuid" => "uuid",
        _ => "?",
    };
    class.to_owned()
}

enum Line {
    Gen(String),
    Comment(String),
}

/// The generator line for a column, `None` when the type default is right.
fn generator(c: &ColumnStats, rows: u64) -> Option<Line> {
    if c.computed {
        return None;
    }
    if c.sequence {
        return Some(Line::Comment("serial (identity or sequence)".into()));
    }
    let mut parts = Vec::new();
    let distinct = if c.n_distinct < 0.0 {
        -c.n_distinct * rows as f64
    } else {
        c.n_distinct
    };
    let unique = c.n_distinct == -1.0;
    if let Some(target) = &c.references {
        parts.push(format!("key = \"{target}\""));
        if let Some(exponent) = zipf_exponent(&c.mcf, distinct) {
            parts.push(format!("dist = \"zipf\", exponent = {exponent:.2}"));
        }
    } else if c.has_stats
        && !unique
        && c.base != "bool"
        && !c.mcv.is_empty()
        && (c.base == "enum" || (c.base == "text" && c.avg_width <= 40))
        && (c.mcf.iter().sum::<f64>() > 0.95 || (distinct > 0.0 && distinct <= 20.0))
    {
        let labels: Vec<String> = c
            .mcv
            .iter()
            .zip(&c.mcf)
            .map(|(v, f)| format!("{} = {}", toml_key(v), (f * 1000.0).round() / 10.0))
            .collect();
        parts.push(format!("enum = {{ {} }}", labels.join(", ")));
    } else {
        match c.base.as_str() {
            "int" | "number" => {
                // The ends of the histogram, widened by the most common values (which the
                // histogram leaves out).
                let values = c
                    .bounds
                    .iter()
                    .chain(&c.mcv)
                    .filter_map(|v| Some((v.parse::<f64>().ok()?, v)));
                let lo = values.clone().min_by(|a, b| a.0.total_cmp(&b.0));
                let hi = values.max_by(|a, b| a.0.total_cmp(&b.0));
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    parts.push(format!("range = [{}, {}]", lo.1, hi.1));
                }
            }
            "time" => {
                let values = c
                    .bounds
                    .iter()
                    .chain(&c.mcv)
                    .filter_map(|v| Some((epoch(v)?, v)));
                let lo = values.clone().min_by(|a, b| a.0.total_cmp(&b.0));
                let hi = values.max_by(|a, b| a.0.total_cmp(&b.0));
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && lo.0 < hi.0
                {
                    parts.push(format!(
                        "timestamp = [\"{}\", \"{}\"]",
                        toml_date(lo.1),
                        toml_date(hi.1)
                    ));
                    if let Some(skew) = time_skew(&c.bounds) {
                        parts.push(format!("skew = {skew:.2}"));
                    }
                }
            }
            "text" => {
                let kind = crate::seed::text_kind_for(&c.name);
                let name = FakeKind::ALL
                    .iter()
                    .find(|(_, k)| *k == kind)
                    .map_or("sentence", |(n, _)| n);
                parts.push(format!("fake = \"{name}\""));
                if matches!(
                    kind,
                    FakeKind::Sentence | FakeKind::Paragraph | FakeKind::Word
                ) && c.avg_width > 0
                {
                    let w = f64::from(c.avg_width);
                    parts.push(format!(
                        "length = [{}, {}]",
                        (w * 0.5).floor() as i64,
                        (w * 1.5).ceil() as i64
                    ));
                }
            }
            "json" if c.avg_width > 0 => parts.push(format!("json = {}", c.avg_width.max(2))),
            "?" if !crate::seed::generates(&c.type_name) => {
                return Some(Line::Comment(format!("{}: no generator", c.type_name)));
            }
            _ => {}
        }
    }
    if c.null_frac > 0.0005 && !c.not_null {
        parts.push(format!("null = {:.3}", c.null_frac));
    }
    if unique && c.references.is_none() && !parts.is_empty() && c.base == "text" {
        parts.push("unique = true".into());
    }
    (!parts.is_empty()).then(|| Line::Gen(parts.join(", ")))
}

/// The Zipf exponent that fits the most common keys' frequencies (log frequency against log
/// rank), when they are skewed enough to matter.
fn zipf_exponent(freqs: &[f64], distinct: f64) -> Option<f64> {
    if freqs.len() < 3 || distinct <= 0.0 || freqs[0] < 3.0 / distinct {
        return None;
    }
    let points: Vec<(f64, f64)> = freqs
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0.0)
        .map(|(i, f)| (((i + 1) as f64).ln(), f.ln()))
        .collect();
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let cov: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    (var > 0.0).then(|| (-cov / var).clamp(0.3, 4.0))
}

/// The skew exponent `s` of `to − (to − from)·u^s` that puts as many histogram bounds in the
/// later half as the real data has: P(later half) = 0.5^(1/s).
fn time_skew(bounds: &[String]) -> Option<f64> {
    let secs: Vec<f64> = bounds.iter().filter_map(|b| epoch(b)).collect();
    if secs.len() < 4 {
        return None;
    }
    let (lo, hi) = (secs[0], secs[secs.len() - 1]);
    let mid = f64::midpoint(lo, hi);
    let later = secs.iter().filter(|s| **s > mid).count() as f64 / secs.len() as f64;
    if later <= 0.55 {
        return None;
    }
    let later = later.min(0.99);
    Some(0.5f64.ln() / later.ln())
}

fn epoch(text: &str) -> Option<f64> {
    let t = text.trim();
    // pg_stats prints offsets as `+00` (or `+05:30`); anything else is a scenario-style date.
    chrono::DateTime::parse_from_str(&format!("{t}00"), "%Y-%m-%d %H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|d| d.to_utc())
        .ok()
        .or_else(|| crate::values::parse_instant(t))
        .map(|d| d.timestamp() as f64)
}

/// A timestamp as the seed section takes it (`YYYY-MM-DD HH:MM:SS`, UTC).
fn toml_date(text: &str) -> String {
    match epoch(text).and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0)) {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => text.to_owned(),
    }
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        let mut s = String::from("\"");
        for c in key.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_exponents_fit_skewed_frequencies() {
        let freqs: Vec<f64> = (1..=20).map(|k| 0.2 / f64::from(k).powf(1.3)).collect();
        let e = zipf_exponent(&freqs, 10_000.0).unwrap();
        assert!((e - 1.3).abs() < 0.01, "{e}");
        assert_eq!(zipf_exponent(&[0.001, 0.001, 0.001], 1000.0), None);
    }

    #[test]
    fn recent_heavy_histograms_give_a_skew() {
        // Bounds of a u^3 skew toward the end of 1000 days: quantile q is at 1000·(1 − (1 − q)³).
        let bounds: Vec<String> = (0..=20)
            .map(|i| {
                let q = f64::from(i) / 20.0;
                let days = 1000.0 * (1.0 - (1.0 - q).powi(3));
                let t =
                    chrono::DateTime::from_timestamp(1_600_000_000 + (days * 86400.0) as i64, 0)
                        .unwrap();
                t.format("%Y-%m-%d %H:%M:%S+00").to_string()
            })
            .collect();
        let s = time_skew(&bounds).unwrap();
        assert!((2.0..4.5).contains(&s), "{s}");
    }

    #[test]
    fn keys_are_quoted_when_needed() {
        assert_eq!(toml_key("users"), "users");
        assert_eq!(toml_key("app.users"), "\"app.users\"");
        assert_eq!(toml_key("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
