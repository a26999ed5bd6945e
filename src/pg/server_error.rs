//! Server errors as people need to read them: SQLSTATE, message, detail, hint, and the line of
//! the SQL they point at.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ErrorClass;

/// An error the server (or the driver, or a migration tool) returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerError {
    /// SQLSTATE, e.g. `42P01`.
    pub sqlstate: Option<String>,
    /// `ERROR`, `FATAL`, …
    pub severity: Option<String>,
    /// The primary message.
    pub message: String,
    /// DETAIL.
    pub detail: Option<String>,
    /// HINT.
    pub hint: Option<String>,
    /// 1-based character position in the SQL sent.
    pub position: Option<u32>,
    /// 1-based line in the SQL sent.
    pub line: Option<usize>,
}

impl ServerError {
    /// The server's error (or the driver's, when the server sent none). `sql` is the text that
    /// was sent, so a character position can be turned into a line.
    pub fn from_driver(e: &tokio_postgres::Error, sql: Option<&str>) -> ServerError {
        match e.as_db_error() {
            Some(db) => {
                let position = match db.position() {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
                    _ => None,
                };
                let line = position
                    .zip(sql)
                    .map(|(p, sql)| line_of_char(sql, p as usize));
                ServerError {
                    sqlstate: Some(db.code().code().to_owned()),
                    severity: Some(db.severity().to_owned()),
                    message: db.message().to_owned(),
                    detail: db.detail().map(str::to_owned),
                    hint: db.hint().map(str::to_owned),
                    position,
                    line,
                }
            }
            None => ServerError {
                sqlstate: e.code().map(|c| c.code().to_owned()),
                severity: None,
                message: driver_message(e),
                detail: None,
                hint: None,
                position: None,
                line: None,
            },
        }
    }

    /// A failure with only a message (an external command, a tool's own check).
    pub fn message(message: impl Into<String>) -> ServerError {
        ServerError {
            sqlstate: None,
            severity: None,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            line: None,
        }
    }

    /// Its class by SQLSTATE.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::of(self.sqlstate.as_deref(), false)
    }
}

/// Whether a failure is the environment's rather than the scenario's: the connection broke or
/// could not be made, the server ran out of something (53xxx: disk, memory, connections), was
/// shut down or restarted (57P0x), or failed at the system level (58xxx, XX000). A failure of
/// the scenario's own SQL or data (syntax, constraints, types) is not.
pub fn is_environment_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return ["08", "53", "57P", "58", "XX"]
            .iter()
            .any(|prefix| code.starts_with(prefix));
    }
    // No SQLSTATE: the driver failed; an I/O error underneath means the connection.
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The driver's message with its cause: `error connecting to server: Connection refused (os
/// error 111)` rather than the bare `error connecting to server`.
fn driver_message(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// One line: `ERROR 42P01: relation "x" does not exist (line 3); hint: …`.
pub fn describe(e: &tokio_postgres::Error) -> String {
    ServerError::from_driver(e, None).to_string()
}

/// Like [`describe`], with the line in `sql` the error points at.
pub fn describe_in(e: &tokio_postgres::Error, sql: &str) -> String {
    ServerError::from_driver(e, Some(sql)).to_string()
}

/// 1-based line of the 1-based character position `position` in `sql`.
fn line_of_char(sql: &str, position: usize) -> usize {
    sql.chars()
        .take(position.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count()
        + 1
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.severity, &self.sqlstate) {
            (Some(sev), Some(code)) => write!(f, "{sev} {code}: {}", self.message)?,
            _ => f.write_str(&self.message)?,
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "; detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::line_of_char;

    #[test]
    fn positions_become_lines() {
        let sql = "SELECT 1;\nSELECT nope;\n";
        assert_eq!(line_of_char(sql, 1), 1);
        assert_eq!(line_of_char(sql, 18), 2);
    }
}
