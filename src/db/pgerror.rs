//! Server errors as people need to read them: SQLSTATE, message, detail, hint, and the line of
//! the SQL they point at.

use crate::report::ServerError;

/// The server's error (or the driver's, when the server sent none) as a report entry. `sql` is
/// the text that was sent, so a character position can be turned into a line.
pub fn server_error(e: &tokio_postgres::Error, sql: Option<&str>) -> ServerError {
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
            message: e.to_string(),
            detail: None,
            hint: None,
            position: None,
            line: None,
        },
    }
}

/// One line: `ERROR 42P01: relation "x" does not exist (line 3) — hint: …`.
pub fn describe(e: &tokio_postgres::Error) -> String {
    server_error(e, None).to_string()
}

/// Like [`describe`], with the line in `sql` the error points at.
pub fn describe_in(e: &tokio_postgres::Error, sql: &str) -> String {
    server_error(e, Some(sql)).to_string()
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
