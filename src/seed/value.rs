//! A generated column value, encoded for binary COPY.
//!
//! The seeder picks each column's generator from the column's actual type, so [`Value`] accepts
//! any type and encodes itself with the matching `postgres-types` encoder.

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// One value of a generated row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
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
    /// json, jsonb
    Json(serde_json::Value),
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
            Value::Json(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The generator was chosen from the column's type; the encoders above check it again.
        true
    }

    to_sql_checked!();
}
