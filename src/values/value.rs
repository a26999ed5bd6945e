//! A generated column value, encoded for binary COPY.
//!
//! The seeder picks each column's generator from the column's actual type, so [`Value`] accepts
//! any type and encodes itself with the matching `postgres-types` encoder.

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

/// One value of a generated row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// boolean
    Bool(bool),
    /// smallint
    I16(i16),
    /// integer
    I32(i32),
    /// bigint
    I64(i64),
    /// real
    F32(f32),
    /// double precision
    F64(f64),
    /// numeric
    Numeric(rust_decimal::Decimal),
    /// text, varchar, char, name, enums: the UTF-8 bytes
    Text(String),
    /// bytea
    Bytes(Vec<u8>),
    /// timestamp without time zone
    Timestamp(chrono::NaiveDateTime),
    /// timestamp with time zone
    TimestampTz(chrono::DateTime<chrono::Utc>),
    /// date
    Date(chrono::NaiveDate),
    /// uuid
    Uuid(uuid::Uuid),
    /// json, jsonb: a document already written as text
    JsonText(String),
    /// Any type, as its text literal: the server parses it (tables holding such values load
    /// by COPY in text format; there is no binary form to send).
    Literal(String),
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::I16(v) => v.to_sql(ty, out),
            Value::I32(v) => v.to_sql(ty, out),
            Value::I64(v) => v.to_sql(ty, out),
            Value::F32(v) => v.to_sql(ty, out),
            Value::F64(v) => v.to_sql(ty, out),
            Value::Numeric(v) => v.to_sql(ty, out),
            // Text's binary form is its bytes for every text-like type and for enum labels.
            Value::Text(v) => {
                out.extend_from_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            Value::Bytes(v) => v.to_sql(ty, out),
            Value::Timestamp(v) => v.to_sql(ty, out),
            Value::TimestampTz(v) => v.to_sql(ty, out),
            Value::Date(v) => v.to_sql(ty, out),
            Value::Uuid(v) => v.to_sql(ty, out),
            Value::JsonText(v) => {
                if *ty == Type::JSONB {
                    out.extend_from_slice(&[1]);
                }
                out.extend_from_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            Value::Literal(v) => Err(format!(
                "the literal {v:?} has no binary form for type {ty}; it is sent as text"
            )
            .into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The generator was chosen from the column's type; the encoders above check it again.
        true
    }

    to_sql_checked!();
}

impl Value {
    /// Converts a generated value to what a column or parameter of type `ty` takes: integers
    /// narrowed or widened, numbers to numeric or float, text parsed where the type needs it.
    pub(crate) fn coerce(self, ty: &Type) -> Value {
        let ty = base_type(ty);
        match (self, &ty) {
            (Value::I64(v), &Type::INT2) => {
                Value::I16(v.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16)
            }
            (Value::I64(v), &Type::INT4) => {
                Value::I32(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            }
            (Value::I64(v), &Type::FLOAT8) => Value::F64(v as f64),
            (Value::I64(v), &Type::FLOAT4) => Value::F32(v as f32),
            (Value::I64(v), &Type::NUMERIC) => Value::Numeric(v.into()),
            (Value::F64(v), &Type::FLOAT4) => Value::F32(v as f32),
            (Value::F64(v), &Type::NUMERIC) => {
                Value::Numeric(rust_decimal::Decimal::from_f64_retain(v).unwrap_or_default())
            }
            (Value::F64(v), &Type::INT2 | &Type::INT4 | &Type::INT8) => {
                Value::I64(v.round() as i64).coerce(&ty)
            }
            (Value::I64(v), t) if is_text(t) => Value::Text(v.to_string()),
            (Value::F64(v), t) if is_text(t) => Value::Text(v.to_string()),
            (Value::Text(s), &Type::UUID) => s.parse().map(Value::Uuid).unwrap_or(Value::Text(s)),
            (Value::Text(s), &Type::JSON | &Type::JSONB) => Value::JsonText(s),
            (Value::Text(s), &Type::TIMESTAMPTZ | &Type::TIMESTAMP | &Type::DATE) => {
                match parse_instant(&s) {
                    Some(t) => Value::TimestampTz(t).coerce(&ty),
                    None => Value::Text(s),
                }
            }
            (Value::TimestampTz(v), &Type::DATE) => Value::Date(v.date_naive()),
            (Value::Text(s), &Type::INT2 | &Type::INT4 | &Type::INT8) => match s.parse::<i64>() {
                Ok(i) => Value::I64(i).coerce(&ty),
                Err(_) => Value::Text(s),
            },
            (Value::Uuid(u), t) if is_text(t) => Value::Text(u.to_string()),
            (Value::JsonText(j), t) if is_text(t) => Value::Text(j),
            (Value::TimestampTz(v), t) if is_text(t) => Value::Text(v.to_rfc3339()),
            (Value::Date(v), t) if is_text(t) => Value::Text(v.to_string()),
            (Value::Numeric(v), &Type::FLOAT8) => Value::F64(v.try_into().unwrap_or_default()),
            (Value::Numeric(v), &Type::FLOAT4) => Value::F32(v.try_into().unwrap_or_default()),
            (Value::Numeric(v), t) if is_text(t) => Value::Text(v.to_string()),
            (Value::Bool(b), t) if is_text(t) => Value::Text(b.to_string()),
            (Value::TimestampTz(v), &Type::TIMESTAMP) => Value::Timestamp(v.naive_utc()),
            (v, _) => v,
        }
    }
}

/// A date or date-time as a scenario writes it (`2024-01-31`, `2024-01-31 12:00:00`, RFC 3339),
/// UTC unless it says otherwise.
pub(crate) fn parse_instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.to_utc());
    }
    // As Postgres prints timestamptz: `2024-01-01 00:00:00+00`, `… 12:30:00.5-05:30`.
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(d) = chrono::DateTime::parse_from_str(t, format) {
            return Some(d.to_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Some(d.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn is_text(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME)
}

/// Domains are generated as their base type.
pub(crate) fn base_type(ty: &Type) -> Type {
    match ty.kind() {
        Kind::Domain(inner) => base_type(inner),
        _ => ty.clone(),
    }
}
