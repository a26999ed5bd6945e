//! Plausible values for a column, chosen from its type and name.
//!
//! This is the minimal generator set: a column's type decides what can go in it, and its name
//! refines that (`email` gets e-mail addresses, `created_at` timestamps in a range). Unique
//! columns embed the row number, foreign keys draw from the referenced table's keys.

use chrono::{DateTime, NaiveDate, Utc};
use fake::Fake;
use fake::faker::address::en::{CityName, CountryName, StreetName};
use fake::faker::company::en::CompanyName;
use fake::faker::internet::en::Username;
use fake::faker::lorem::en::{Paragraph, Sentence, Words};
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::faker::phone_number::en::PhoneNumber;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tokio_postgres::types::Type;

use super::catalog::Column;
use super::keys::KeyPool;
use super::value::{Value, base_type};

/// How one column's values are made.
#[derive(Debug, Clone)]
pub enum Generator {
    /// Sequential integers from 1 (unique integer columns).
    Sequence,
    /// Uniform integers in a range.
    Integer(i64, i64),
    /// Uniform floats in [0, max).
    Float(f64),
    /// Decimals with `scale` digits after the point, below `10^digits`.
    Decimal {
        /// Digits before the point.
        digits: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// A coin toss.
    Bool,
    /// Text of a kind, cut to `max_len` characters.
    Text {
        /// What kind of text.
        kind: TextKind,
        /// varchar(n)/char(n) limit.
        max_len: Option<usize>,
        /// Make every value distinct by embedding the row number.
        unique: bool,
    },
    /// One of these labels (enums).
    Label(Vec<String>),
    /// Timestamps between 2019-01-01 and 2026-01-01.
    Timestamp,
    /// Same range, as a date.
    Date,
    /// Random (version 4) UUIDs from the seeded RNG.
    Uuid,
    /// A small JSON document.
    Json,
    /// 16 random bytes.
    Bytes,
    /// A key of another table.
    Reference(KeyPool),
    /// Always NULL (self-references, types without a generator on nullable columns).
    Null,
}

/// Kinds of text, picked from the column name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// e-mail address
    Email,
    /// full name
    FullName,
    /// first name
    FirstName,
    /// last name
    LastName,
    /// user name
    Username,
    /// city
    City,
    /// country
    Country,
    /// street
    Street,
    /// phone number
    Phone,
    /// company
    Company,
    /// one of a few statuses
    Status,
    /// a sentence
    Sentence,
    /// a paragraph
    Paragraph,
    /// a few words
    Words,
}

const STATUSES: [&str; 4] = ["active", "active", "inactive", "pending"];
const FROM_SECS: i64 = 1_546_300_800; // 2019-01-01
const TO_SECS: i64 = 1_767_225_600; // 2026-01-01

/// Why a column cannot be generated.
pub struct Unsupported(pub String);

/// Picks a generator for a column the seeder must fill.
pub fn for_column(column: &Column) -> Result<Generator, Unsupported> {
    if !column.enum_labels.is_empty() {
        return Ok(Generator::Label(column.enum_labels.clone()));
    }
    let name = column.name.to_ascii_lowercase();
    let ty = base_type(&column.ty);
    let generator = match ty {
        Type::INT2 | Type::INT4 | Type::INT8 if column.unique => Generator::Sequence,
        Type::INT2 => Generator::Integer(0, 1_000),
        Type::INT4 => Generator::Integer(0, 100_000),
        Type::INT8 => Generator::Integer(0, 1_000_000),
        Type::FLOAT4 | Type::FLOAT8 => Generator::Float(1_000.0),
        Type::NUMERIC => {
            let (digits, scale) = numeric_bounds(column.typmod);
            Generator::Decimal { digits, scale }
        }
        Type::BOOL => Generator::Bool,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Generator::Text {
            kind: text_kind(&name),
            max_len: (column.typmod > 4).then(|| (column.typmod - 4) as usize),
            unique: column.unique,
        },
        Type::TIMESTAMP | Type::TIMESTAMPTZ => Generator::Timestamp,
        Type::DATE => Generator::Date,
        Type::UUID => Generator::Uuid,
        Type::JSON | Type::JSONB => Generator::Json,
        Type::BYTEA => Generator::Bytes,
        _ => {
            return Err(Unsupported(format!(
                "no generator for type {} yet",
                column.type_name
            )));
        }
    };
    Ok(generator)
}

fn numeric_bounds(typmod: i32) -> (u32, u32) {
    if typmod < 4 {
        return (6, 2);
    }
    let precision = (((typmod - 4) >> 16) & 0xffff) as u32;
    let scale = ((typmod - 4) & 0xffff) as u32;
    (precision.saturating_sub(scale).min(12), scale.min(6))
}

fn text_kind(name: &str) -> TextKind {
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["email", "mail"]) {
        TextKind::Email
    } else if has(&["first_name", "firstname", "given_name"]) {
        TextKind::FirstName
    } else if has(&["last_name", "lastname", "surname", "family_name"]) {
        TextKind::LastName
    } else if has(&["username", "login", "handle", "slug"]) {
        TextKind::Username
    } else if has(&["name"]) && has(&["company", "org", "business"]) {
        TextKind::Company
    } else if has(&["name"]) {
        TextKind::FullName
    } else if has(&["city"]) {
        TextKind::City
    } else if has(&["country"]) {
        TextKind::Country
    } else if has(&["street", "address"]) {
        TextKind::Street
    } else if has(&["phone", "mobile"]) {
        TextKind::Phone
    } else if has(&["company"]) {
        TextKind::Company
    } else if has(&["status", "state", "kind", "type"]) {
        TextKind::Status
    } else if has(&["title", "subject", "summary"]) {
        TextKind::Sentence
    } else if has(&["description", "body", "content", "comment", "note", "text"]) {
        TextKind::Paragraph
    } else {
        TextKind::Words
    }
}

impl Generator {
    /// The value for row `row` (0-based).
    pub fn value(&self, row: u64, rng: &mut ChaCha8Rng) -> Value {
        match self {
            Generator::Sequence => Value::I64(row as i64 + 1),
            Generator::Integer(lo, hi) => Value::I64(rng.random_range(*lo..=*hi)),
            Generator::Float(max) => Value::F64(rng.random_range(0.0..*max)),
            Generator::Decimal { digits, scale } => {
                let units = 10i64.pow(*digits + *scale);
                let n = rng.random_range(0..units);
                Value::Numeric(rust_decimal::Decimal::new(n, *scale))
            }
            Generator::Bool => Value::Bool(rng.random()),
            Generator::Text {
                kind,
                max_len,
                unique,
            } => Value::Text(text(*kind, row, *unique, *max_len, rng)),
            Generator::Label(labels) => {
                Value::Text(labels[rng.random_range(0..labels.len())].clone())
            }
            Generator::Timestamp => Value::TimestampTz(timestamp(rng)),
            Generator::Date => Value::Date(timestamp(rng).date_naive()),
            Generator::Uuid => {
                Value::Uuid(uuid::Builder::from_random_bytes(rng.random()).into_uuid())
            }
            Generator::Json => Value::Json(serde_json::json!({
                "source": Words(1..3).fake_with_rng::<Vec<String>, _>(rng).join(" "),
                "score": rng.random_range(0..1000),
                "note": Sentence(3..8).fake_with_rng::<String, _>(rng),
            })),
            Generator::Bytes => Value::Bytes(rng.random::<[u8; 16]>().to_vec()),
            Generator::Reference(pool) => pool.get(rng.random_range(0..pool.len())),
            Generator::Null => Value::Null,
        }
    }
}

fn timestamp(rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    let secs = rng.random_range(FROM_SECS..TO_SECS);
    DateTime::from_timestamp(secs, 0).unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(2020, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or_default()
    })
}

fn text(
    kind: TextKind,
    row: u64,
    unique: bool,
    max_len: Option<usize>,
    rng: &mut ChaCha8Rng,
) -> String {
    let mut s: String = match kind {
        TextKind::Email => {
            let first: String = FirstName().fake_with_rng(rng);
            let last: String = LastName().fake_with_rng(rng);
            // The row number keeps addresses distinct, as a unique index on email requires.
            return fit_len(
                format!(
                    "{}.{}{row}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase().replace(['\'', ' '], "")
                ),
                max_len,
            );
        }
        TextKind::FullName => Name().fake_with_rng(rng),
        TextKind::FirstName => FirstName().fake_with_rng(rng),
        TextKind::LastName => LastName().fake_with_rng(rng),
        TextKind::Username => Username().fake_with_rng(rng),
        TextKind::City => CityName().fake_with_rng(rng),
        TextKind::Country => CountryName().fake_with_rng(rng),
        TextKind::Street => StreetName().fake_with_rng(rng),
        TextKind::Phone => PhoneNumber().fake_with_rng(rng),
        TextKind::Company => CompanyName().fake_with_rng(rng),
        TextKind::Status => STATUSES[rng.random_range(0..STATUSES.len())].to_owned(),
        TextKind::Sentence => Sentence(4..10).fake_with_rng(rng),
        TextKind::Paragraph => Paragraph(2..5).fake_with_rng(rng),
        TextKind::Words => Words(1..4).fake_with_rng::<Vec<String>, _>(rng).join(" "),
    };
    if unique {
        let suffix = format!("-{row}");
        let keep = max_len
            .map(|m| m.saturating_sub(suffix.len()))
            .unwrap_or(usize::MAX);
        s = fit_len(s, Some(keep));
        s.push_str(&suffix);
        return s;
    }
    fit_len(s, max_len)
}

fn fit_len(mut s: String, max_len: Option<usize>) -> String {
    if let Some(max) = max_len
        && s.chars().count() > max
    {
        s = s.chars().take(max).collect();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_pick_text_kinds() {
        assert_eq!(text_kind("email"), TextKind::Email);
        assert_eq!(text_kind("full_name"), TextKind::FullName);
        assert_eq!(text_kind("company_name"), TextKind::Company);
        assert_eq!(text_kind("status"), TextKind::Status);
        assert_eq!(text_kind("bio_text"), TextKind::Paragraph);
        assert_eq!(text_kind("zzz"), TextKind::Words);
    }

    #[test]
    fn unique_text_fits_and_stays_distinct() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let a = text(TextKind::Paragraph, 7, true, Some(10), &mut rng);
        let b = text(TextKind::Paragraph, 8, true, Some(10), &mut rng);
        assert!(a.chars().count() <= 10 && b.chars().count() <= 10);
        assert!(a.ends_with("-7") && b.ends_with("-8"));
    }

    #[test]
    fn numeric_typmod_bounds() {
        // numeric(5,2): typmod = ((5 << 16) | 2) + 4
        assert_eq!(numeric_bounds((5 << 16 | 2) + 4), (3, 2));
        assert_eq!(numeric_bounds(-1), (6, 2));
    }

    #[test]
    fn same_seed_same_values() {
        let g = Generator::Text {
            kind: TextKind::FullName,
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
