//! Values of the types this seeder writes as text — network addresses, intervals, times, bit
//! strings, geometry, full-text search, XML, hstore, arrays and ranges — and the text form of
//! every value, for tables loaded by COPY in text format (the server parses each value with
//! the type's own input function, so a domain's checks and an array's element type are the
//! server's to enforce).

use std::fmt::Write;

use fake::Fake;
use fake::faker::lorem::en::Word;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::values::Value;

/// A scalar type generated as a text literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LiteralKind {
    /// inet: host addresses.
    Inet,
    /// cidr: network addresses (host bits zero).
    Cidr,
    /// macaddr
    MacAddr,
    /// macaddr8
    MacAddr8,
    /// interval
    Interval,
    /// money
    Money,
    /// time without time zone
    Time,
    /// time with time zone
    TimeTz,
    /// bit(n): exactly n bits.
    Bit(u32),
    /// bit varying(n): up to n bits (0: no limit).
    VarBit(u32),
    /// point
    Point,
    /// line
    Line,
    /// lseg
    Lseg,
    /// box
    Box,
    /// path
    Path,
    /// polygon
    Polygon,
    /// circle
    Circle,
    /// tsvector
    TsVector,
    /// tsquery
    TsQuery,
    /// xml
    Xml,
    /// hstore (the extension)
    Hstore,
    /// `pg_lsn`
    PgLsn,
    /// oid
    Oid,
    /// "char": one byte.
    Char,
}

/// Every kind, for the README's list and the tests.
#[cfg(test)]
pub(super) const KINDS: [LiteralKind; 24] = [
    LiteralKind::Inet,
    LiteralKind::Cidr,
    LiteralKind::MacAddr,
    LiteralKind::MacAddr8,
    LiteralKind::Interval,
    LiteralKind::Money,
    LiteralKind::Time,
    LiteralKind::TimeTz,
    LiteralKind::Bit(8),
    LiteralKind::VarBit(16),
    LiteralKind::Point,
    LiteralKind::Line,
    LiteralKind::Lseg,
    LiteralKind::Box,
    LiteralKind::Path,
    LiteralKind::Polygon,
    LiteralKind::Circle,
    LiteralKind::TsVector,
    LiteralKind::TsQuery,
    LiteralKind::Xml,
    LiteralKind::Hstore,
    LiteralKind::PgLsn,
    LiteralKind::Oid,
    LiteralKind::Char,
];

impl LiteralKind {
    /// The kind of a type by its name (as `pg_type` or SQL writes it, lowercase, without
    /// modifiers); `typmod` is the length of bit types.
    pub(super) fn from_name(name: &str, typmod: Option<u32>) -> Option<LiteralKind> {
        Some(match name {
            "inet" => LiteralKind::Inet,
            "cidr" => LiteralKind::Cidr,
            "macaddr" => LiteralKind::MacAddr,
            "macaddr8" => LiteralKind::MacAddr8,
            "interval" => LiteralKind::Interval,
            "money" => LiteralKind::Money,
            "time" | "time without time zone" => LiteralKind::Time,
            "timetz" | "time with time zone" => LiteralKind::TimeTz,
            "bit" => LiteralKind::Bit(typmod.unwrap_or(1).max(1)),
            "varbit" | "bit varying" => LiteralKind::VarBit(typmod.unwrap_or(0)),
            "point" => LiteralKind::Point,
            "line" => LiteralKind::Line,
            "lseg" => LiteralKind::Lseg,
            "box" => LiteralKind::Box,
            "path" => LiteralKind::Path,
            "polygon" => LiteralKind::Polygon,
            "circle" => LiteralKind::Circle,
            "tsvector" => LiteralKind::TsVector,
            "tsquery" => LiteralKind::TsQuery,
            "xml" => LiteralKind::Xml,
            "hstore" => LiteralKind::Hstore,
            "pg_lsn" => LiteralKind::PgLsn,
            "oid" => LiteralKind::Oid,
            "\"char\"" | "char1" => LiteralKind::Char,
            _ => return None,
        })
    }

    /// The type's name, for the README.
    #[cfg(test)]
    pub(super) fn name(self) -> &'static str {
        match self {
            LiteralKind::Inet => "inet",
            LiteralKind::Cidr => "cidr",
            LiteralKind::MacAddr => "macaddr",
            LiteralKind::MacAddr8 => "macaddr8",
            LiteralKind::Interval => "interval",
            LiteralKind::Money => "money",
            LiteralKind::Time => "time",
            LiteralKind::TimeTz => "timetz",
            LiteralKind::Bit(_) => "bit(n)",
            LiteralKind::VarBit(_) => "bit varying(n)",
            LiteralKind::Point => "point",
            LiteralKind::Line => "line",
            LiteralKind::Lseg => "lseg",
            LiteralKind::Box => "box",
            LiteralKind::Path => "path",
            LiteralKind::Polygon => "polygon",
            LiteralKind::Circle => "circle",
            LiteralKind::TsVector => "tsvector",
            LiteralKind::TsQuery => "tsquery",
            LiteralKind::Xml => "xml",
            LiteralKind::Hstore => "hstore",
            LiteralKind::PgLsn => "pg_lsn",
            LiteralKind::Oid => "oid",
            LiteralKind::Char => "\"char\"",
        }
    }

    /// What a value looks like, for the README.
    #[cfg(test)]
    pub(super) fn describe(self) -> &'static str {
        match self {
            LiteralKind::Inet => "IPv4 host addresses in 10.0.0.0/8 (IPv6 beyond 16 M distinct)",
            LiteralKind::Cidr => "/24 networks in 10.0.0.0/8 (IPv6 /64 networks beyond 65,536)",
            LiteralKind::MacAddr | LiteralKind::MacAddr8 => "locally administered addresses",
            LiteralKind::Interval => "up to 30 days, to the second",
            LiteralKind::Money => "amounts up to 10,000.00",
            LiteralKind::Time | LiteralKind::TimeTz => {
                "times of day (timetz with an offset of -08 to +09)"
            }
            LiteralKind::Bit(_) | LiteralKind::VarBit(_) => "random bits of the column's length",
            LiteralKind::Point
            | LiteralKind::Line
            | LiteralKind::Lseg
            | LiteralKind::Box
            | LiteralKind::Path
            | LiteralKind::Polygon
            | LiteralKind::Circle => "shapes with coordinates in 0–1000",
            LiteralKind::TsVector => "3–8 words",
            LiteralKind::TsQuery => "two words joined by &",
            LiteralKind::Xml => "a small <item> document",
            LiteralKind::Hstore => "two to four key/value pairs",
            LiteralKind::PgLsn => "log positions",
            LiteralKind::Oid => "integers from 1 to 100,000",
            LiteralKind::Char => "a letter",
        }
    }

    /// How many distinct values `unique` can give (`u64::MAX`: as many as there are rows).
    pub(super) fn distinct(self) -> u64 {
        match self {
            LiteralKind::Bit(n) => 1u64.checked_shl(n).unwrap_or(u64::MAX),
            LiteralKind::VarBit(n) if n > 0 => 1u64.checked_shl(n).unwrap_or(u64::MAX),
            LiteralKind::Char => 26,
            // A time of day to the microsecond.
            LiteralKind::Time => 86_400_000_000,
            _ => u64::MAX,
        }
    }

    /// The value for row `row`; with `unique`, one no other row gets.
    pub(super) fn value(self, row: u64, unique: bool, rng: &mut ChaCha8Rng) -> String {
        let mut text = String::new();
        let id = unique.then_some(row);
        match self {
            LiteralKind::Inet => match id {
                Some(r) if r >= 1 << 24 => {
                    let _ = write!(text, "fd00::{:x}:{:x}", r >> 16, r & 0xffff);
                }
                Some(r) => {
                    let _ = write!(
                        text,
                        "10.{}.{}.{}",
                        (r >> 16) & 255,
                        (r >> 8) & 255,
                        r & 255
                    );
                }
                None => {
                    let _ = write!(
                        text,
                        "10.{}.{}.{}",
                        rng.random_range(0..256),
                        rng.random_range(0..256),
                        rng.random_range(1..255)
                    );
                }
            },
            LiteralKind::Cidr => match id {
                Some(r) if r >= 1 << 16 => {
                    let _ = write!(
                        text,
                        "fd00:{:x}:{:x}:{:x}::/64",
                        (r >> 32) & 0xffff,
                        (r >> 16) & 0xffff,
                        r & 0xffff
                    );
                }
                Some(r) => {
                    let _ = write!(text, "10.{}.{}.0/24", (r >> 8) & 255, r & 255);
                }
                None => {
                    let _ = write!(
                        text,
                        "10.{}.{}.0/24",
                        rng.random_range(0..256),
                        rng.random_range(0..256)
                    );
                }
            },
            LiteralKind::MacAddr | LiteralKind::MacAddr8 => {
                let bytes = if self == LiteralKind::MacAddr { 6 } else { 8 };
                let n: u64 = id.unwrap_or_else(|| rng.random());
                // 02: locally administered, unicast.
                text.push_str("02");
                for i in (0..bytes - 1).rev() {
                    let _ = write!(text, ":{:02x}", (n >> (8 * i)) & 0xff);
                }
            }
            LiteralKind::Interval => {
                let secs = id.unwrap_or_else(|| rng.random_range(0..30 * 86_400));
                let _ = write!(text, "{secs} seconds");
            }
            LiteralKind::Money => {
                let cents = id.unwrap_or_else(|| rng.random_range(0..1_000_000));
                let _ = write!(text, "{}.{:02}", cents / 100, cents % 100);
            }
            LiteralKind::Time | LiteralKind::TimeTz => {
                let micros = match id {
                    // Spread over the day: whole seconds first, then fractions.
                    Some(r) if r < 86_400 => r * 1_000_000,
                    Some(r) => r % 86_400 * 1_000_000 + r / 86_400,
                    None => rng.random_range(0..86_400) * 1_000_000,
                };
                let secs = micros / 1_000_000;
                let _ = write!(
                    text,
                    "{:02}:{:02}:{:02}.{:06}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                    micros % 1_000_000
                );
                if self == LiteralKind::TimeTz {
                    let _ = write!(text, "{:+03}", rng.random_range(-8..=9));
                }
            }
            LiteralKind::Bit(n) => bits(&mut text, n, id, rng),
            LiteralKind::VarBit(max) => {
                let limit = if max == 0 { 32 } else { max.min(64) };
                let n = match id {
                    Some(_) => limit,
                    None => rng.random_range(1..=limit),
                };
                bits(&mut text, n, id, rng);
            }
            LiteralKind::Point => {
                let x = id.map_or_else(|| coordinate(rng), |r| r as f64);
                let _ = write!(text, "({x},{})", coordinate(rng));
            }
            LiteralKind::Line => {
                // ax + by + c = 0 with a, b not both zero.
                let _ = write!(
                    text,
                    "{{{},-1,{}}}",
                    rng.random_range(1..10),
                    id.map_or_else(|| coordinate(rng), |r| r as f64)
                );
            }
            LiteralKind::Lseg | LiteralKind::Box => {
                let x = id.map_or_else(|| coordinate(rng), |r| r as f64);
                let y = coordinate(rng);
                let open = if self == LiteralKind::Lseg { "[" } else { "" };
                let close = if self == LiteralKind::Lseg { "]" } else { "" };
                let _ = write!(
                    text,
                    "{open}({x},{y}),({},{}){close}",
                    x + rng.random_range(1.0..50.0),
                    y + rng.random_range(1.0..50.0)
                );
            }
            LiteralKind::Path | LiteralKind::Polygon => {
                let x = id.map_or_else(|| coordinate(rng), |r| r as f64);
                let y = coordinate(rng);
                let (w, h) = (rng.random_range(1.0..50.0), rng.random_range(1.0..50.0));
                let (open, close) = if self == LiteralKind::Path {
                    ("[", "]")
                } else {
                    ("(", ")")
                };
                let _ = write!(
                    text,
                    "{open}({x},{y}),({},{y}),({},{}){close}",
                    x + w,
                    x + w,
                    y + h
                );
            }
            LiteralKind::Circle => {
                let x = id.map_or_else(|| coordinate(rng), |r| r as f64);
                let _ = write!(
                    text,
                    "<({x},{}),{}>",
                    coordinate(rng),
                    rng.random_range(1.0..50.0)
                );
            }
            LiteralKind::TsVector => {
                let n = rng.random_range(3..=8);
                for i in 0..n {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(&word(rng));
                }
                if let Some(r) = id {
                    let _ = write!(text, " w{r}");
                }
            }
            LiteralKind::TsQuery => {
                let _ = write!(text, "{} & {}", word(rng), word(rng));
                if let Some(r) = id {
                    let _ = write!(text, " & w{r}");
                }
            }
            LiteralKind::Xml => {
                let n = id.unwrap_or_else(|| rng.random_range(0..1_000_000));
                let _ = write!(text, "<item id=\"{n}\"><name>{}</name></item>", word(rng));
            }
            LiteralKind::Hstore => {
                let n = rng.random_range(2..=4);
                for i in 0..n {
                    if i > 0 {
                        text.push_str(", ");
                    }
                    let _ = write!(text, "\"k{i}\"=>\"{}\"", word(rng));
                }
                if let Some(r) = id {
                    let _ = write!(text, ", \"row\"=>\"{r}\"");
                }
            }
            LiteralKind::PgLsn => {
                let n: u64 = id.unwrap_or_else(|| rng.random_range(0..1 << 40));
                let _ = write!(text, "{:X}/{:X}", n >> 32, n & 0xffff_ffff);
            }
            LiteralKind::Oid => {
                let n = id.map_or_else(|| rng.random_range(1..=100_000), |r| r + 1);
                let _ = write!(text, "{}", n.min(u64::from(u32::MAX)));
            }
            LiteralKind::Char => {
                let n = id.unwrap_or_else(|| rng.random_range(0..26));
                text.push(char::from(b'a' + (n % 26) as u8));
            }
        }
        text
    }
}

fn coordinate(rng: &mut ChaCha8Rng) -> f64 {
    (rng.random_range(0.0..1000.0f64) * 100.0).round() / 100.0
}

fn word(rng: &mut ChaCha8Rng) -> String {
    Word().fake_with_rng::<String, _>(rng).to_ascii_lowercase()
}

/// `n` bits: the row number's low bits when `id` is given (distinct), else random.
fn bits(s: &mut String, n: u32, id: Option<u64>, rng: &mut ChaCha8Rng) {
    for i in (0..n).rev() {
        let bit = match id {
            Some(r) => i < 64 && (r >> i) & 1 == 1,
            None => rng.random_bool(0.5),
        };
        s.push(if bit { '1' } else { '0' });
    }
}

/// The text form of a value, as COPY's text format and a literal take it; `None` for NULL.
pub(super) fn text_of(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => (if *b { "t" } else { "f" }).to_owned(),
        Value::I16(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(v) => float_text(f64::from(*v)),
        Value::F64(v) => float_text(*v),
        Value::Numeric(v) => v.to_string(),
        Value::Text(v) | Value::JsonText(v) | Value::Literal(v) => v.clone(),
        Value::Bytes(v) => {
            let mut s = String::with_capacity(2 + v.len() * 2);
            s.push_str("\\x");
            for b in v {
                let _ = write!(s, "{b:02x}");
            }
            s
        }
        Value::Timestamp(v) => v.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        Value::TimestampTz(v) => v.format("%Y-%m-%d %H:%M:%S%.f+00").to_string(),
        Value::Date(v) => v.to_string(),
        Value::Uuid(v) => v.to_string(),
    })
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        v.to_string()
    }
}

/// Appends `text` to a COPY text-format line, escaping what the format gives meaning to.
pub(super) fn put_copy_text(out: &mut Vec<u8>, text: &str) {
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// An array literal of `items` (each quoted, so any element type reads them).
pub(super) fn array_literal(items: &[Option<String>]) -> String {
    let mut s = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match item {
            None => s.push_str("NULL"),
            Some(text) => {
                s.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            }
        }
    }
    s.push('}');
    s
}

/// The element type of a range, as far as generating bounds goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeKind {
    /// int4range, int8range
    Int,
    /// numrange
    Numeric,
    /// daterange
    Date,
    /// tsrange, tstzrange
    Timestamp,
}

/// A range literal `[lower,upper)`; with `unique`, the lower bound is the row's own.
pub(super) fn range_literal(
    kind: RangeKind,
    row: u64,
    unique: bool,
    rng: &mut ChaCha8Rng,
) -> String {
    let (lower, width) = bounds(kind, row, unique, rng);
    format!(
        "[{},{})",
        bound_text(kind, lower),
        bound_text(kind, lower + width)
    )
}

/// A multirange literal of one to three ranges, in order and apart.
pub(super) fn multirange_literal(
    kind: RangeKind,
    row: u64,
    unique: bool,
    rng: &mut ChaCha8Rng,
) -> String {
    let (mut lower, _) = bounds(kind, row, unique, rng);
    let n = rng.random_range(1..=3);
    let mut parts = Vec::new();
    for _ in 0..n {
        let width = rng.random_range(1..=30);
        parts.push(format!(
            "[{},{})",
            bound_text(kind, lower),
            bound_text(kind, lower + width)
        ));
        lower += width + rng.random_range(1..=30);
    }
    format!("{{{}}}", parts.join(","))
}

/// A lower bound (in the kind's unit: integers, hundredths, days or minutes since 2019) and a
/// width of 1 to 30 units.
fn bounds(kind: RangeKind, row: u64, unique: bool, rng: &mut ChaCha8Rng) -> (i64, i64) {
    let span: i64 = match kind {
        RangeKind::Int => 1_000_000,
        RangeKind::Numeric => 100_000_000,
        RangeKind::Date => 2_557,
        RangeKind::Timestamp => 3_600_000,
    };
    let lower = if unique {
        i64::try_from(row).unwrap_or(i64::MAX / 2)
    } else {
        rng.random_range(0..span)
    };
    (lower, rng.random_range(1..=30))
}

fn bound_text(kind: RangeKind, unit: i64) -> String {
    const START: i64 = 1_546_300_800; // 2019-01-01
    match kind {
        RangeKind::Int => unit.to_string(),
        RangeKind::Numeric => format!("{}.{:02}", unit / 100, unit % 100),
        RangeKind::Date => chrono::DateTime::from_timestamp(START + unit * 86_400, 0)
            .unwrap_or_default()
            .date_naive()
            .to_string(),
        RangeKind::Timestamp => format!(
            "\"{}\"",
            chrono::DateTime::from_timestamp(START + unit * 60, 0)
                .unwrap_or_default()
                .format("%Y-%m-%d %H:%M:%S")
        ),
    }
}

/// A word, for arrays of text.
pub(super) fn array_word(rng: &mut ChaCha8Rng) -> String {
    word(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn unique_values_are_distinct_and_plain_ones_vary() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for kind in KINDS {
            let n = kind.distinct().min(3000);
            let values: HashSet<String> = (0..n).map(|r| kind.value(r, true, &mut rng)).collect();
            assert_eq!(values.len() as u64, n, "{kind:?}");
            let plain: HashSet<String> = (0..50).map(|r| kind.value(r, false, &mut rng)).collect();
            assert!(plain.len() > 1, "{kind:?}");
        }
        // Beyond the IPv4 block, unique addresses go on in IPv6.
        let far = LiteralKind::Inet.value(1 << 30, true, &mut rng);
        assert!(far.starts_with("fd00::"), "{far}");
    }

    #[test]
    fn the_readme_lists_every_generated_type() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for kind in KINDS {
            let row = format!("| `{}` | {} |", kind.name(), kind.describe());
            assert!(readme.contains(&row), "README.md lacks the row `{row}`");
        }
    }

    #[test]
    fn copy_text_and_array_literals_escape() {
        let mut out = Vec::new();
        put_copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, b"a\\tb\\\\c\\nd");
        assert_eq!(
            array_literal(&[Some("a\"b".into()), None, Some("c\\".into())]),
            "{\"a\\\"b\",NULL,\"c\\\\\"}"
        );
        assert_eq!(text_of(&Value::F64(f64::NAN)).unwrap(), "NaN");
        assert_eq!(text_of(&Value::Bytes(vec![1, 255])).unwrap(), "\\x01ff");
    }
}
