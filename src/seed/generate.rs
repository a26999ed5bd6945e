//! Column generators: how one value is made from the row number and a seeded RNG.
//!
//! A generator is a pure function of (row, RNG state): the loader seeds one RNG per block of
//! rows from the scenario seed, the table and the block number, so the same seed gives the
//! same rows however many connections load them. Unique values come from the row number (a
//! suffix, or a permutation of a range), never from retrying.

use std::fmt::Write;

use chrono::DateTime;
use fake::Fake;
use fake::faker::lorem::en::Words;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::literal::{LiteralKind, RangeKind};
use crate::values::{FakeKind, KeyPool, Pick, Value, fake};

/// How one column's values are made.
#[derive(Debug, Clone)]
pub(super) enum ColGen {
    /// 1, 2, 3, …
    Serial,
    /// Integers in `[lo, hi]`; with `unique`, a permutation of the range.
    Int {
        /// Lowest.
        lo: i64,
        /// Highest.
        hi: i64,
        /// Distinct values.
        unique: Option<Permutation>,
    },
    /// Decimals in `[lo, hi]` units of `10^-scale`.
    Decimal {
        /// Lowest, in units.
        lo: i64,
        /// Highest, in units.
        hi: i64,
        /// Digits after the point.
        scale: u32,
        /// Distinct values.
        unique: Option<Permutation>,
    },
    /// Floats in `[lo, hi)`.
    Float(f64, f64),
    /// A coin toss.
    Bool,
    /// Fake text.
    Text {
        /// Kind.
        kind: FakeKind,
        /// Length range in characters.
        length: Option<(usize, usize)>,
        /// The column's limit (varchar(n)).
        max_len: Option<usize>,
        /// Embed the row number so values are distinct.
        unique: bool,
    },
    /// Timestamps (seconds) in `[from, to)`, skewed toward `to`.
    Timestamp {
        /// Earliest.
        from: i64,
        /// Latest.
        to: i64,
        /// Exponent of the draw (1 uniform).
        skew: f64,
        /// Distinct seconds.
        unique: Option<Permutation>,
        /// Produce dates.
        date: bool,
    },
    /// Weighted labels.
    Enum {
        /// Labels.
        labels: Vec<String>,
        /// Cumulative weights, last = total.
        cumulative: Vec<f64>,
    },
    /// A JSON object of about `bytes` bytes of text.
    Json {
        /// Target size.
        bytes: usize,
    },
    /// UUIDs (version 4 layout) from the RNG.
    Uuid,
    /// 16 random bytes.
    Bytes,
    /// Keys of another table.
    Key {
        /// The keys.
        pool: KeyPool,
        /// How they are drawn.
        pick: Pick,
        /// One row per key, in a permuted order.
        unique: Option<Permutation>,
        /// One of several key columns that together must be distinct (a junction table's
        /// primary key): the row's combination, from a permutation of all combinations.
        combo: Option<Combo>,
    },
    /// One column of a several-column foreign key: every column of the key draws the same
    /// referenced row (the draw depends on the row number and the key, not on the RNG's state).
    Tuple {
        /// The referenced rows' keys (a sample of up to 100,000, in key order).
        pool: std::sync::Arc<Vec<Vec<Value>>>,
        /// This column's place in the key.
        position: usize,
        /// How rows are drawn.
        pick: Pick,
        /// Shared by the key's columns: which draw.
        salt: u64,
        /// One row per referenced row, in a permuted order.
        unique: Option<Permutation>,
    },
    /// One of several generators, by weight (the ranges of a table's partitions).
    Choice {
        /// The generators.
        options: Vec<ColGen>,
        /// Cumulative weights, last = total.
        cumulative: Vec<f64>,
    },
    /// A type written as its text literal.
    Literal {
        /// Which type.
        kind: LiteralKind,
        /// Distinct values (from the row number).
        unique: bool,
    },
    /// Arrays of 0–4 elements (1–4 when unique: the first is the row's own).
    Array {
        /// Generates the elements.
        element: Box<ColGen>,
        /// Generates the first element when the arrays must be distinct.
        unique: Option<Box<ColGen>>,
    },
    /// Ranges, or multiranges of 1–3 ranges.
    Range {
        /// The bounds' type.
        kind: RangeKind,
        /// Distinct lower bounds.
        unique: bool,
        /// A multirange.
        multi: bool,
    },
    /// A constant.
    Const(Value),
    /// Always NULL.
    Null,
}

/// A column's part in a combination of keys: `(permutation(row) / stride) mod its pool's size`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Combo {
    /// Over all combinations.
    pub permutation: Permutation,
    /// The product of the pool sizes of the key's earlier columns.
    pub stride: u64,
}

/// A bijection of `0..size`: `(i · step + offset) mod size` with `step` coprime to `size`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Permutation {
    size: u64,
    step: u64,
    offset: u64,
}

impl Permutation {
    /// A permutation of `0..size` (size ≥ 1).
    pub(super) fn new(size: u64) -> Permutation {
        let size = size.max(1);
        // A step near size/φ spreads consecutive rows across the range.
        let mut step = ((size as f64 * 0.618_033_988_75) as u64).max(1) % size;
        if step == 0 {
            step = 1;
        }
        while gcd(step, size) != 1 {
            step += 1;
        }
        Permutation {
            size,
            step,
            offset: size / 3,
        }
    }

    /// The image of `i` (taken modulo the size).
    pub(super) fn apply(&self, i: u64) -> u64 {
        ((u128::from(i % self.size) * u128::from(self.step) + u128::from(self.offset))
            % u128::from(self.size)) as u64
    }
}

/// `lo + k`, for `k` within the range's size (so the sum stays within `lo..=hi`).
fn offset(lo: i64, k: u64) -> i64 {
    i64::try_from(i128::from(lo) + i128::from(k)).unwrap_or(i64::MAX)
}

/// How many integers `lo..=hi` holds (at most `u64::MAX`).
pub(super) fn span(lo: i64, hi: i64) -> u64 {
    u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl ColGen {
    /// Whether some values are literals the server must parse (so the table loads as text):
    /// constants, tuples of types without a binary encoder here, and labels of a list
    /// partition of a non-text column.
    pub(super) fn writes_literals(&self, ty: &tokio_postgres::types::Type) -> bool {
        use tokio_postgres::types::{Kind, Type};
        let base = crate::values::base_type(ty);
        let text_like = matches!(base.kind(), Kind::Enum(_))
            || matches!(base, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME)
            || base.name() == "citext";
        match self {
            ColGen::Const(Value::Literal(_)) => true,
            ColGen::Tuple { pool, position, .. } => pool
                .first()
                .is_some_and(|r| matches!(r[*position], Value::Literal(_))),
            ColGen::Enum { .. } => {
                !text_like && !matches!(base, Type::INT2 | Type::INT4 | Type::INT8)
            }
            ColGen::Choice { options, .. } => options.iter().any(|o| o.writes_literals(ty)),
            _ => false,
        }
    }

    /// The value for row `row` (0-based).
    pub(super) fn value(&self, row: u64, rng: &mut ChaCha8Rng) -> Value {
        match self {
            ColGen::Serial => Value::I64(row as i64 + 1),
            ColGen::Int { lo, hi, unique } => Value::I64(match unique {
                Some(p) => offset(*lo, p.apply(row)),
                None => rng.random_range(*lo..=*hi),
            }),
            ColGen::Decimal {
                lo,
                hi,
                scale,
                unique,
            } => {
                let units = match unique {
                    Some(p) => offset(*lo, p.apply(row)),
                    None => rng.random_range(*lo..=*hi),
                };
                Value::Numeric(rust_decimal::Decimal::new(units, *scale))
            }
            ColGen::Float(lo, hi) => Value::F64(if lo < hi {
                rng.random_range(*lo..*hi)
            } else {
                *lo
            }),
            ColGen::Bool => Value::Bool(rng.random()),
            ColGen::Text {
                kind,
                length,
                max_len,
                unique,
            } => Value::Text(text(*kind, *length, *max_len, unique.then_some(row), rng)),
            ColGen::Timestamp {
                from,
                to,
                skew,
                unique,
                date,
            } => {
                let secs = if let Some(p) = unique {
                    from + p.apply(row) as i64 * if *date { 86_400 } else { 1 }
                } else {
                    let u: f64 = rng.random();
                    let back = ((to - from) as f64 * u.powf(*skew)) as i64;
                    (to - 1 - back).max(*from)
                };
                let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
                if *date {
                    Value::Date(t.date_naive())
                } else {
                    Value::TimestampTz(t)
                }
            }
            ColGen::Enum { labels, cumulative } => {
                let total = cumulative.last().copied().unwrap_or(1.0);
                let x = rng.random_range(0.0..total);
                let i = cumulative
                    .partition_point(|c| *c <= x)
                    .min(labels.len() - 1);
                Value::Text(labels[i].clone())
            }
            ColGen::Json { bytes } => Value::JsonText(json(*bytes, row, rng)),
            ColGen::Uuid => Value::Uuid(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
            ColGen::Bytes => Value::Bytes(rng.random::<[u8; 16]>().to_vec()),
            ColGen::Key {
                pool,
                pick,
                unique,
                combo,
            } => match (combo, unique) {
                (Some(c), _) => pool.get(c.permutation.apply(row) / c.stride % pool.len()),
                (None, Some(p)) => pool.get(p.apply(row)),
                (None, None) => pool.get(pick.index(pool.len(), rng)),
            },
            ColGen::Tuple {
                pool,
                position,
                pick,
                salt,
                unique,
            } => {
                let n = pool.len() as u64;
                let i = unique.map_or_else(
                    || {
                        let mut own = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(
                            row.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt,
                        );
                        pick.index(n, &mut own)
                    },
                    |p| p.apply(row),
                );
                pool[i as usize][*position].clone()
            }
            ColGen::Choice {
                options,
                cumulative,
            } => {
                let total = cumulative.last().copied().unwrap_or(1.0);
                let x = rng.random_range(0.0..total);
                let i = cumulative
                    .partition_point(|c| *c <= x)
                    .min(options.len() - 1);
                options[i].value(row, rng)
            }
            ColGen::Literal { kind, unique } => Value::Literal(kind.value(row, *unique, rng)),
            ColGen::Array { element, unique } => {
                let mut items = Vec::new();
                if let Some(first) = unique {
                    items.push(super::literal::text_of(&first.value(row, rng)));
                }
                let more = rng.random_range(if unique.is_some() { 0..=3 } else { 0..=4 });
                for _ in 0..more {
                    let item = match element.as_ref() {
                        // Arrays of text hold words: tags, labels, names.
                        ColGen::Text { max_len, .. } => {
                            let mut w = super::literal::array_word(rng);
                            cut(&mut w, max_len.unwrap_or(usize::MAX));
                            Value::Text(w)
                        }
                        other => other.value(rng.random(), rng),
                    };
                    items.push(super::literal::text_of(&item));
                }
                Value::Literal(super::literal::array_literal(&items))
            }
            ColGen::Range {
                kind,
                unique,
                multi,
            } => Value::Literal(if *multi {
                super::literal::multirange_literal(*kind, row, *unique, rng)
            } else {
                super::literal::range_literal(*kind, row, *unique, rng)
            }),
            ColGen::Const(v) => v.clone(),
            ColGen::Null => Value::Null,
        }
    }
}

fn text(
    kind: FakeKind,
    length: Option<(usize, usize)>,
    max_len: Option<usize>,
    row: Option<u64>,
    rng: &mut ChaCha8Rng,
) -> String {
    let mut s = fake(kind, rng);
    if let Some((lo, hi)) = length {
        let want = rng.random_range(lo..=hi);
        while s.len() < want {
            s.push(' ');
            s.push_str(&fake(kind, rng));
        }
        cut(&mut s, want);
        // Exactly `want` characters, none of them a trailing space (a length CHECK counts it).
        if s.ends_with(' ') {
            s.pop();
            s.push('s');
        }
    }
    let Some(row) = row else {
        if let Some(max) = max_len {
            cut(&mut s, max);
        }
        return s;
    };
    // Distinct values: the row number goes in, where it keeps an e-mail address an address.
    let mut suffix = String::new();
    let _ = write!(suffix, "{row}");
    let keep = max_len.map_or(usize::MAX, |m| m.saturating_sub(suffix.len() + 1));
    if kind == FakeKind::Email
        && let Some(at) = s.find('@')
    {
        let domain = s.split_off(at);
        cut(&mut s, keep.saturating_sub(domain.len()));
        s.push('.');
        s.push_str(&suffix);
        s.push_str(&domain);
        return s;
    }
    cut(&mut s, keep);
    s.push('-');
    s.push_str(&suffix);
    if let Some(max) = max_len {
        cut(&mut s, max);
    }
    s
}

/// Truncates to at most `max` characters.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let end = s.char_indices().nth(max).map_or(s.len(), |(i, _)| i);
        s.truncate(end);
    }
}

const PLANS: [&str; 4] = ["free", "free", "pro", "team"];
const LOCALES: [&str; 5] = ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES"];

/// A JSON object of about `bytes` bytes: a few typed fields and a text field that fills the
/// rest, so documents look like application payloads rather than padding.
fn json(bytes: usize, row: u64, rng: &mut ChaCha8Rng) -> String {
    let mut s = String::with_capacity(bytes + 32);
    let _ = write!(
        s,
        "{{\"id\":{row},\"plan\":\"{}\",\"score\":{},\"newsletter\":{},\"locale\":\"{}\"",
        PLANS[rng.random_range(0..PLANS.len())],
        rng.random_range(0..1000),
        rng.random_bool(0.3),
        LOCALES[rng.random_range(0..LOCALES.len())],
    );
    if s.len() + 2 >= bytes {
        s.push('}');
        return s;
    }
    s.push_str(",\"bio\":\"");
    // Room left for the text and the closing `"}`.
    let room = bytes.saturating_sub(s.len() + 2);
    let mut bio = String::with_capacity(room + 16);
    while bio.len() < room {
        if !bio.is_empty() {
            bio.push(' ');
        }
        let words: Vec<String> = Words(4..10).fake_with_rng(rng);
        bio.push_str(&words.join(" "));
    }
    cut(&mut bio, room);
    // Lorem words are plain letters: nothing to escape.
    s.push_str(&bio);
    s.push_str("\"}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn permutations_are_bijections() {
        for size in [1u64, 2, 7, 10, 1000, 4096] {
            let p = Permutation::new(size);
            let seen: HashSet<u64> = (0..size).map(|i| p.apply(i)).collect();
            assert_eq!(seen.len() as u64, size, "size {size}");
        }
    }

    #[test]
    fn unique_text_fits_and_stays_distinct() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let a = text(FakeKind::Paragraph, None, Some(10), Some(7), &mut rng);
        let b = text(FakeKind::Paragraph, None, Some(10), Some(8), &mut rng);
        assert!(a.chars().count() <= 10 && b.chars().count() <= 10);
        assert!(a.ends_with("-7") && b.ends_with("-8"));
        let e = text(FakeKind::Email, None, None, Some(42), &mut rng);
        assert!(e.contains(".42@"), "{e}");
    }

    #[test]
    fn lengths_and_json_sizes_hold() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..100 {
            let s = text(FakeKind::Sentence, Some((50, 80)), None, None, &mut rng);
            assert!((45..=80).contains(&s.len()), "{} {s}", s.len());
            let j = json(200, 12345, &mut rng);
            assert!((190..=210).contains(&j.len()), "{}", j.len());
            serde_json::from_str::<serde_json::Value>(&j).unwrap();
        }
    }

    #[test]
    fn skewed_timestamps_favour_recent() {
        let g = ColGen::Timestamp {
            from: 0,
            to: 1000,
            skew: 3.0,
            unique: None,
            date: false,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let recent = (0..10_000)
            .filter(|&i| match g.value(i, &mut rng) {
                Value::TimestampTz(t) => t.timestamp() >= 500,
                _ => false,
            })
            .count();
        // P(u³ < 0.5) = 0.79
        assert!((7500..8300).contains(&recent), "{recent}");
    }

    #[test]
    fn same_seed_same_values() {
        let g = ColGen::Text {
            kind: FakeKind::Name,
            length: None,
            max_len: None,
            unique: false,
        };
        let run = || {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            (0..5).map(|i| g.value(i, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
