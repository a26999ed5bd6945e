//! Constants a scenario gives for a parameter or a column.

use super::Value;

/// A constant parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Constant {
    /// Text.
    Text(String),
    /// Integer.
    Integer(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl Constant {
    /// The constant as a value (the caller coerces it to the column's or parameter's type).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Constant::Text(s) => Value::Text(s.clone()),
            Constant::Integer(i) => Value::I64(*i),
            Constant::Float(f) => Value::F64(*f),
            Constant::Bool(b) => Value::Bool(*b),
        }
    }
}
