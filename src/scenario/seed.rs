//! `[seed]`, validated: row counts scaled and every column generator spelled out.
//!
//! This checks what the scenario file alone can tell (one generator per column, ranges that are
//! ranges, fractions that are fractions). Whether a generator suits its column's type, whether
//! a key's table exists and whether a unique column can get enough distinct values depend on the
//! schema; `seed::check` answers those against the schema SQL before any database work.

use super::file::{ColumnSeedSection, SeedSection};
use super::traffic::{Report, constant, fake_kind, key_dist};
use crate::values::{Constant, FakeKind, KeyDistPlan};

/// `[seed]`, validated and scaled.
#[derive(Debug, Clone)]
pub(crate) struct SeedPlan {
    /// Random seed.
    pub seed: u64,
    /// Row-count multiplier applied.
    pub scale: f64,
    /// Tables to fill, in name order (the seeder orders them by their references).
    pub tables: Vec<TablePlan>,
}

/// One table to fill.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    /// Table name as written (may be schema-qualified).
    pub name: String,
    /// Rows to insert after scaling.
    pub rows: u64,
    /// Line of `seed.tables.NAME.rows` in the scenario file.
    pub line: Option<usize>,
    /// Columns given a generator in the scenario, in name order.
    pub columns: Vec<ColumnPlan>,
}

/// One column's generator as the scenario gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnPlan {
    /// Column name.
    pub name: String,
    /// How values are made.
    pub generator: GenPlan,
    /// Fraction of NULL rows.
    pub null: f64,
    /// Every non-NULL value distinct (`unique = true`).
    pub unique: bool,
    /// Line of the entry in the scenario file.
    pub line: Option<usize>,
}

/// A column generator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GenPlan {
    /// Only modifiers were given: the default for the column's type.
    Default,
    /// 1, 2, 3, … (row number + 1).
    Serial,
    /// Fake text, optionally held to a length range in characters.
    Fake {
        /// The kind.
        kind: FakeKind,
        /// `[min, max]` characters.
        length: Option<(usize, usize)>,
    },
    /// A uniform number in `[low, high]`.
    Range {
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
        /// Both bounds were integers and no `scale` was given.
        integer: bool,
        /// Digits after the point.
        scale: u32,
    },
    /// Timestamps in `[from, to)` seconds since the epoch (UTC), skewed toward `to`.
    Timestamp {
        /// Earliest, seconds since 1970.
        from: i64,
        /// Latest, seconds since 1970.
        to: i64,
        /// 1 uniform; above 1 favours recent values (`to − (to − from)·u^skew`).
        skew: f64,
    },
    /// Labels with weights.
    Enum(Vec<(String, f64)>),
    /// A JSON object of about `bytes` bytes.
    Json {
        /// Target size of the document's text.
        bytes: usize,
    },
    /// A key of another (or the same) table.
    Key {
        /// Referenced table as written.
        table: String,
        /// Referenced column.
        column: String,
        /// How keys are drawn.
        dist: KeyDistPlan,
    },
    /// A constant.
    Value(Constant),
}

impl GenPlan {
    /// The scenario key that selects this generator, for messages.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            GenPlan::Default => "(type default)",
            GenPlan::Serial => "serial",
            GenPlan::Fake { .. } => "fake",
            GenPlan::Range { .. } => "range",
            GenPlan::Timestamp { .. } => "timestamp",
            GenPlan::Enum(_) => "enum",
            GenPlan::Json { .. } => "json",
            GenPlan::Key { .. } => "key",
            GenPlan::Value(_) => "value",
        }
    }
}

/// Validates `[seed]` and scales its row counts.
pub(super) fn plan(
    section: &SeedSection,
    scale: f64,
    seed: u64,
    line_at: &dyn Fn(usize) -> usize,
    report: &mut Report<'_>,
) -> SeedPlan {
    let mut tables = Vec::new();
    for (name, table) in &section.tables {
        let key = format!("seed.tables.{name}.rows");
        let rows = match table.rows.get_ref() {
            toml::Value::Integer(n) if *n > 0 => *n as u64,
            other => {
                report(
                    Some(table.rows.span()),
                    key,
                    format!("expected a positive whole number of rows, found {other}"),
                );
                continue;
            }
        };
        let mut columns = Vec::new();
        for (column, spec) in &table.columns {
            let key = format!("seed.tables.{name}.columns.{column}");
            match column_plan(spec.get_ref()) {
                Ok((generator, null, unique)) => columns.push(ColumnPlan {
                    name: column.clone(),
                    generator,
                    null,
                    unique,
                    line: Some(line_at(spec.span().start)),
                }),
                Err(message) => report(Some(spec.span()), key, message),
            }
        }
        tables.push(TablePlan {
            name: name.clone(),
            rows: scale_rows(rows, scale),
            line: Some(line_at(table.rows.span().start)),
            columns,
        });
    }
    SeedPlan {
        seed,
        scale,
        tables,
    }
}

/// Rows after applying `--scale` (at least one).
pub(crate) fn scale_rows(rows: u64, scale: f64) -> u64 {
    ((rows as f64) * scale).round().max(1.0) as u64
}

fn column_plan(s: &ColumnSeedSection) -> Result<(GenPlan, f64, bool), String> {
    let given = [
        ("serial", s.serial.is_some()),
        ("fake", s.fake.is_some()),
        ("range", s.range.is_some()),
        ("timestamp", s.timestamp.is_some()),
        ("enum", s.labels.is_some()),
        ("json", s.json.is_some()),
        ("key", s.key.is_some()),
        ("value", s.value.is_some()),
    ];
    let chosen: Vec<&str> = given.iter().filter(|g| g.1).map(|g| g.0).collect();
    if chosen.len() > 1 {
        return Err(format!(
            "expected at most one generator, found {}",
            chosen.join(" and ")
        ));
    }
    let misplaced = |name: &str, present: bool, owner: &str| -> Result<(), String> {
        if present && chosen.first() != Some(&owner) {
            Err(format!("`{name}` goes with `{owner}`"))
        } else {
            Ok(())
        }
    };
    misplaced("length", s.length.is_some(), "fake")?;
    misplaced("scale", s.scale.is_some(), "range")?;
    misplaced("skew", s.skew.is_some(), "timestamp")?;
    for (name, present) in [
        ("dist", s.dist.is_some()),
        ("exponent", s.exponent.is_some()),
        ("hot", s.hot.is_some()),
        ("share", s.share.is_some()),
    ] {
        misplaced(name, present, "key")?;
    }
    let null = s.null.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&null) {
        return Err(format!("`null` is a fraction from 0 to 1, found {null}"));
    }
    let generator = if s.serial == Some(true) {
        GenPlan::Serial
    } else if s.serial == Some(false) {
        return Err("`serial = false` means nothing; leave the key out".into());
    } else if let Some(f) = &s.fake {
        let kind = fake_kind(f)?;
        let length = match s.length {
            Some([lo, hi]) if lo >= 0 && lo <= hi => Some((lo as usize, hi as usize)),
            Some([lo, hi]) => {
                return Err(format!(
                    "`length = [min, max]` needs 0 ≤ min ≤ max, found [{lo}, {hi}]"
                ));
            }
            None => None,
        };
        GenPlan::Fake { kind, length }
    } else if let Some([lo, hi]) = &s.range {
        let as_f64 = |v: &toml::Value| v.as_integer().map(|i| i as f64).or(v.as_float());
        let scale = match s.scale {
            Some(d) if (0..=12).contains(&d) => Some(d as u32),
            Some(d) => return Err(format!("`scale` is 0 to 12 digits, found {d}")),
            None => None,
        };
        let integer = lo.is_integer() && hi.is_integer() && scale.is_none();
        match (as_f64(lo), as_f64(hi)) {
            (Some(low), Some(high)) if low <= high => GenPlan::Range {
                low,
                high,
                integer,
                scale: scale.unwrap_or(if integer { 0 } else { 2 }),
            },
            _ => return Err("expected `range = [low, high]` with numbers, low ≤ high".into()),
        }
    } else if let Some([from, to]) = &s.timestamp {
        let from = instant(from)?;
        let to = instant(to)?;
        if from >= to {
            return Err("expected `timestamp = [from, to]` with from before to".into());
        }
        let skew = s.skew.unwrap_or(1.0);
        if !(skew.is_finite() && skew > 0.0) {
            return Err(format!("`skew` must be above 0, found {skew}"));
        }
        GenPlan::Timestamp { from, to, skew }
    } else if let Some(labels) = &s.labels {
        if labels.is_empty() {
            return Err("`enum` needs at least one label".into());
        }
        if labels.values().any(|w| !(w.is_finite() && *w >= 0.0))
            || labels.values().sum::<f64>() <= 0.0
        {
            return Err("`enum` weights must be 0 or more, and not all 0".into());
        }
        GenPlan::Enum(labels.iter().map(|(l, w)| (l.clone(), *w)).collect())
    } else if let Some(bytes) = s.json {
        if !(2..=1_000_000).contains(&bytes) {
            return Err(format!(
                "`json` is a size from 2 to 1000000 bytes, found {bytes}"
            ));
        }
        GenPlan::Json {
            bytes: bytes as usize,
        }
    } else if let Some(k) = &s.key {
        let Some((table, column)) = k.rsplit_once('.') else {
            return Err(format!("expected `key = \"table.column\"`, found `{k}`"));
        };
        GenPlan::Key {
            table: table.into(),
            column: column.into(),
            dist: key_dist(s.dist, s.exponent, s.hot, s.share)?,
        }
    } else if let Some(v) = &s.value {
        GenPlan::Value(constant(v)?)
    } else {
        GenPlan::Default
    };
    Ok((generator, null, s.unique.unwrap_or(false)))
}

/// A TOML date, date-time or string as seconds since the epoch (UTC).
fn instant(v: &toml::Value) -> Result<i64, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("expected a date or date-time, found {other}")),
    };
    crate::values::parse_instant(&text)
        .map(|d| d.timestamp())
        .ok_or_else(|| {
            format!(
                "expected a date such as 2024-01-31, found `{}`",
                text.trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<(GenPlan, f64, bool), String> {
        column_plan(&toml::from_str(toml).unwrap())
    }

    #[test]
    fn scaling_rounds_and_keeps_one_row() {
        assert_eq!(scale_rows(1000, 0.5), 500);
        assert_eq!(scale_rows(10, 0.001), 1);
        assert_eq!(scale_rows(3, 2.5), 8);
    }

    #[test]
    fn generators_and_modifiers() {
        assert_eq!(parse("serial = true").unwrap().0, GenPlan::Serial);
        assert_eq!(
            parse("range = [1, 10]").unwrap().0,
            GenPlan::Range {
                low: 1.0,
                high: 10.0,
                integer: true,
                scale: 0
            }
        );
        let (g, null, _) =
            parse("timestamp = [2020-01-01, \"2021-01-01\"]\nskew = 2.0\nnull = 0.5").unwrap();
        assert_eq!(
            g,
            GenPlan::Timestamp {
                from: 1_577_836_800,
                to: 1_609_459_200,
                skew: 2.0
            }
        );
        assert_eq!(null, 0.5);
        assert_eq!(parse("null = 0.1").unwrap().0, GenPlan::Default);
    }

    #[test]
    fn refusals_say_why() {
        assert!(
            parse("serial = true\nfake = \"name\"")
                .unwrap_err()
                .contains("at most one")
        );
        assert!(
            parse("fake = \"name\"\nskew = 2.0")
                .unwrap_err()
                .contains("goes with `timestamp`")
        );
        assert!(parse("null = 1.5").unwrap_err().contains("fraction"));
        assert!(parse("range = [5, 1]").unwrap_err().contains("low ≤ high"));
        assert!(
            parse("fake = \"nope\"")
                .unwrap_err()
                .contains("unknown fake kind")
        );
        assert!(
            parse("key = \"users\"")
                .unwrap_err()
                .contains("table.column")
        );
        assert!(parse("enum = { a = 0 }").unwrap_err().contains("not all 0"));
    }
}
