//! Reading a captured statement log: what an application's sessions ran, and when, as the
//! server logs it with `log_min_duration_statement = 0` (or `log_statement = 'all'`), in any of
//! its three formats — stderr (with a `log_line_prefix` that starts with `%m` or `%t` and holds
//! `[%p]`, the default), csvlog and jsonlog. Each session (a backend pid, until it disconnects)
//! becomes a sequence of statements at their offsets from the capture's first statement.
//! Statements run through the extended protocol keep their parameters (the `DETAIL:
//! parameters:` line) and are replayed with them, as text, so the server types them as it did.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDateTime;

/// A parsed capture.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture {
    /// Sessions with at least one statement, in order of their first statement.
    pub sessions: Vec<Session>,
    /// From the first statement's start to the last one's, µs.
    pub duration_us: u64,
    /// Log entries that are statements but are not replayed, by reason.
    pub skipped: BTreeMap<String, u64>,
}

/// One captured session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Its statements, in order.
    pub statements: Vec<Statement>,
}

/// One captured statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// When it started, µs after the capture's first statement.
    pub offset_us: u64,
    /// Its text.
    pub sql: Arc<str>,
    /// Its parameters (`None`: simple protocol; a `None` value is SQL NULL).
    pub params: Option<Vec<Option<String>>>,
    /// What it is, for the report.
    pub kind: Kind,
}

/// What a statement does, for the report's per-kind figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// SELECT, WITH … SELECT, VALUES, TABLE.
    Select,
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, …
    Transaction,
    /// Anything else.
    Other,
}

impl Kind {
    /// Every kind, in report order.
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Select,
        Kind::Insert,
        Kind::Update,
        Kind::Delete,
        Kind::Transaction,
        Kind::Other,
    ];

    /// The name its figures go under.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Select => "replay select",
            Kind::Insert => "replay insert",
            Kind::Update => "replay update",
            Kind::Delete => "replay delete",
            Kind::Transaction => "replay transaction control",
            Kind::Other => "replay other",
        }
    }

    fn of(sql: &str) -> Kind {
        let text = crate::pg::split::strip_comments(sql);
        let first = text
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .find(|w| !w.is_empty())
            .unwrap_or_default()
            .to_ascii_uppercase();
        match first.as_str() {
            "SELECT" | "VALUES" | "TABLE" | "SHOW" => Kind::Select,
            "INSERT" => Kind::Insert,
            "UPDATE" => Kind::Update,
            "DELETE" => Kind::Delete,
            "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT"
            | "RELEASE" | "PREPARE" => Kind::Transaction,
            "WITH" => {
                let upper = text.to_ascii_uppercase();
                if upper.contains("INSERT INTO") {
                    Kind::Insert
                } else if upper.contains("UPDATE ") {
                    Kind::Update
                } else if upper.contains("DELETE FROM") {
                    Kind::Delete
                } else {
                    Kind::Select
                }
            }
            _ => Kind::Other,
        }
    }
}

/// One log entry, whatever the format.
#[derive(Debug)]
struct Entry {
    at: NaiveDateTime,
    pid: String,
    severity: String,
    message: String,
    detail: Option<String>,
}

/// Reads the capture at `path`; `Err` says what is wrong with it.
pub(crate) fn read(path: &Path) -> Result<Capture, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let entries = if extension == "csv" {
        csv_entries(&text)?
    } else if extension == "json" || text.trim_start().starts_with('{') {
        json_entries(&text)?
    } else {
        stderr_entries(&text)
    };
    let capture = assemble(entries);
    if capture.sessions.is_empty() {
        return Err(format!(
            "{} holds no statements to replay: capture with log_min_duration_statement = 0 \
             (or log_statement = 'all') and a log_line_prefix that starts with %m and holds [%p]",
            path.display()
        ));
    }
    Ok(capture)
}

/// Entries of a stderr-format log. Continuation lines (a tab first) belong to the entry before.
fn stderr_entries(text: &str) -> Vec<Entry> {
    let prefix = regex::Regex::new(
        r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: [A-Za-z+\-:0-9]+)? .*?\[(\d+)\].*?(LOG|DETAIL|ERROR|STATEMENT|FATAL|WARNING|NOTICE|HINT|CONTEXT|INFO|DEBUG\d?|PANIC):  (.*)$",
    )
    .expect("valid pattern");
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('\t') {
            if let Some(last) = entries.last_mut() {
                last.message.push('\n');
                last.message.push_str(rest);
            }
            continue;
        }
        let Some(c) = prefix.captures(line) else {
            continue;
        };
        let Some(at) = timestamp(&c[1]) else {
            continue;
        };
        entries.push(Entry {
            at,
            pid: c[2].to_owned(),
            severity: c[3].to_owned(),
            message: c[4].to_owned(),
            detail: None,
        });
    }
    // A DETAIL line is the detail of the entry of its pid before it.
    let mut merged: Vec<Entry> = Vec::new();
    for e in entries {
        if e.severity == "DETAIL"
            && let Some(owner) = merged.iter_mut().rev().find(|m| m.pid == e.pid)
        {
            owner.detail = Some(e.message);
            continue;
        }
        merged.push(e);
    }
    merged
}

fn csv_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut entries = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("csvlog record {}: {e}", i + 1))?;
        let field = |n: usize| record.get(n).unwrap_or_default();
        let Some(at) = timestamp(field(0)) else {
            return Err(format!(
                "csvlog record {}: `{}` is not a log time",
                i + 1,
                field(0)
            ));
        };
        entries.push(Entry {
            at,
            pid: field(3).to_owned(),
            severity: field(11).to_owned(),
            message: field(13).to_owned(),
            detail: Some(field(14).to_owned()).filter(|d| !d.is_empty()),
        });
    }
    Ok(entries)
}

fn json_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("jsonlog line {}: {e}", i + 1))?;
        let s = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        };
        let Some(at) = timestamp(s("timestamp")) else {
            return Err(format!("jsonlog line {}: no timestamp", i + 1));
        };
        entries.push(Entry {
            at,
            pid: v.get("pid").map(ToString::to_string).unwrap_or_default(),
            severity: s("error_severity").to_owned(),
            message: s("message").to_owned(),
            detail: v
                .get("detail")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        });
    }
    Ok(entries)
}

/// `2026-11-30 12:00:00.123 UTC` (zone names and offsets ignored: one log has one zone).
fn timestamp(text: &str) -> Option<NaiveDateTime> {
    let mut parts = text.split_whitespace();
    let date = parts.next()?;
    // `12:00:00.123+00` (jsonlog, csvlog with an offset zone): the time without the offset.
    let time = parts.next()?.split(['+', '-']).next().unwrap_or_default();
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// A statement as logged: when it started, its text, its parameters.
type Logged = (NaiveDateTime, Arc<str>, Option<Vec<Option<String>>>);

/// Turns entries into sessions of statements.
fn assemble(entries: Vec<Entry>) -> Capture {
    let mut capture = Capture::default();
    // Per pid: how many sessions it ended (a reused pid is a new session).
    let mut generation: BTreeMap<String, u32> = BTreeMap::new();
    let mut sessions: BTreeMap<String, Vec<Logged>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for e in entries {
        if e.severity != "LOG" {
            continue;
        }
        if e.message.starts_with("disconnection:") {
            *generation.entry(e.pid.clone()).or_default() += 1;
            continue;
        }
        let (duration_ms, rest) = match e.message.strip_prefix("duration: ") {
            Some(rest) => match rest.split_once(" ms") {
                Some((ms, after)) => (ms.trim().parse::<f64>().ok(), after.trim_start()),
                None => continue,
            },
            None => (None, e.message.as_str()),
        };
        let (sql, params) = if let Some(sql) = rest.strip_prefix("statement: ") {
            (sql, None)
        } else if let Some(after) = rest.strip_prefix("execute ") {
            if after.starts_with("fetch from") {
                *capture
                    .skipped
                    .entry("fetches from a cursor".into())
                    .or_default() += 1;
                continue;
            }
            let Some((_, sql)) = after.split_once(": ") else {
                continue;
            };
            let params = e
                .detail
                .as_deref()
                .and_then(|d| d.strip_prefix("parameters: "))
                .map(parse_parameters)
                .unwrap_or_default();
            (sql, Some(params))
        } else {
            // parse and bind steps of the extended protocol, checkpoints, connections…
            continue;
        };
        // A duration is logged when the statement ends: it started that long before.
        let start = duration_ms.map_or(e.at, |ms| {
            e.at - chrono::Duration::microseconds((ms * 1000.0) as i64)
        });
        let key = format!("{}#{}", e.pid, generation.get(&e.pid).copied().unwrap_or(0));
        if !sessions.contains_key(&key) {
            order.push(key.clone());
        }
        sessions
            .entry(key)
            .or_default()
            .push((start, Arc::from(sql), params));
    }
    let first = sessions
        .values()
        .flat_map(|s| s.iter().map(|(t, _, _)| *t))
        .min();
    let last = sessions
        .values()
        .flat_map(|s| s.iter().map(|(t, _, _)| *t))
        .max();
    let Some(first) = first else {
        return capture;
    };
    capture.duration_us = last.map_or(0, |l| {
        (l - first).num_microseconds().unwrap_or(0).max(0) as u64
    });
    for key in order {
        let mut statements: Vec<Statement> = sessions
            .remove(&key)
            .unwrap_or_default()
            .into_iter()
            .map(|(t, sql, params)| Statement {
                offset_us: (t - first).num_microseconds().unwrap_or(0).max(0) as u64,
                kind: Kind::of(&sql),
                sql,
                params,
            })
            .collect();
        // A session runs one statement at a time: keep its order, never earlier than the one
        // before (a rounding of the log's milliseconds could swap them).
        for i in 1..statements.len() {
            if statements[i].offset_us < statements[i - 1].offset_us {
                statements[i].offset_us = statements[i - 1].offset_us;
            }
        }
        capture.sessions.push(Session { statements });
    }
    capture
}

/// `$1 = '42', $2 = NULL, $3 = 'it''s'` → `["42", NULL, "it's"]`.
fn parse_parameters(text: &str) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // `$n = `
        while chars.peek().is_some_and(|c| *c != '=') {
            chars.next();
        }
        if chars.next().is_none() {
            break;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.peek() {
            Some('\'') => {
                chars.next();
                let mut value = String::new();
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            value.push('\'');
                            chars.next();
                        } else {
                            break;
                        }
                    } else {
                        value.push(c);
                    }
                }
                out.push(Some(value));
            }
            Some(_) => {
                let word: String = chars.by_ref().take_while(|c| *c != ',').collect();
                out.push((word.trim() != "NULL").then(|| word.trim().to_owned()));
                continue;
            }
            None => break,
        }
        // Past the comma.
        while chars.peek().is_some_and(|c| *c != ',') {
            chars.next();
        }
        chars.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STDERR: &str = "\
2026-11-30 12:00:00.100 UTC [11] LOG:  connection authorized: user=app database=app
2026-11-30 12:00:00.105 UTC [11] LOG:  duration: 0.050 ms  parse <unnamed>: SELECT email FROM users WHERE id = $1
2026-11-30 12:00:00.106 UTC [11] LOG:  duration: 0.040 ms  bind <unnamed>: SELECT email FROM users WHERE id = $1
2026-11-30 12:00:00.106 UTC [11] DETAIL:  parameters: $1 = '42'
2026-11-30 12:00:00.110 UTC [11] LOG:  duration: 2.000 ms  execute <unnamed>: SELECT email FROM users WHERE id = $1
2026-11-30 12:00:00.110 UTC [11] DETAIL:  parameters: $1 = '42'
2026-11-30 12:00:00.200 UTC [12] LOG:  duration: 0.300 ms  statement: UPDATE users
\tSET name = 'x' WHERE id = 1
2026-11-30 12:00:00.300 UTC [11] LOG:  duration: 0.100 ms  statement: BEGIN
2026-11-30 12:00:00.400 UTC [11] LOG:  disconnection: session time: 0:00:00.300 user=app database=app
2026-11-30 12:00:00.500 UTC [11] LOG:  duration: 0.100 ms  execute S_1: INSERT INTO t (a, b) VALUES ($1, $2)
2026-11-30 12:00:00.500 UTC [11] DETAIL:  parameters: $1 = 'it''s', $2 = NULL
2026-11-30 12:00:00.600 UTC [13] LOG:  checkpoint starting: time
";

    #[test]
    fn stderr_logs_become_sessions_of_statements() {
        let c = assemble(stderr_entries(STDERR));
        assert_eq!(c.sessions.len(), 3, "{c:#?}");
        let first = &c.sessions[0];
        assert_eq!(first.statements.len(), 2);
        assert_eq!(first.statements[0].offset_us, 0);
        assert_eq!(first.statements[0].params, Some(vec![Some("42".into())]));
        assert_eq!(first.statements[0].kind, Kind::Select);
        assert_eq!(&*first.statements[1].sql, "BEGIN");
        let update = &c.sessions[1].statements[0];
        assert_eq!(&*update.sql, "UPDATE users\nSET name = 'x' WHERE id = 1");
        assert_eq!(update.offset_us, 200_000 - 300 - 108_000);
        // The reused pid after its disconnection is a new session.
        let reused = &c.sessions[2].statements[0];
        assert_eq!(reused.params, Some(vec![Some("it's".into()), None]));
        assert_eq!(reused.kind, Kind::Insert);
        assert_eq!(c.duration_us, 500_000 - 100 - 108_000);
    }

    #[test]
    fn csv_and_json_logs_read_the_same() {
        let csv = "2026-11-30 12:00:00.110 UTC,\"app\",\"app\",11,\"[local]\",6755a3f0.b,1,\"SELECT\",2026-11-30 12:00:00 UTC,3/2,0,LOG,00000,\"duration: 2.000 ms  execute <unnamed>: SELECT email FROM users WHERE id = $1\",\"parameters: $1 = '42'\",,,,,,,,\"psql\",\"client backend\",,0\n";
        let c = assemble(csv_entries(csv).unwrap());
        assert_eq!(
            c.sessions[0].statements[0].params,
            Some(vec![Some("42".into())])
        );
        let json = r#"{"timestamp":"2026-11-30 12:00:00.110 UTC","user":"app","dbname":"app","pid":11,"error_severity":"LOG","message":"duration: 2.000 ms  statement: SELECT 1","backend_type":"client backend"}"#;
        let c = assemble(json_entries(json).unwrap());
        assert_eq!(&*c.sessions[0].statements[0].sql, "SELECT 1");
    }

    #[test]
    fn parameters_parse() {
        assert_eq!(
            parse_parameters("$1 = '1', $2 = NULL, $3 = 'a, b', $4 = ''''"),
            vec![
                Some("1".into()),
                None,
                Some("a, b".into()),
                Some("'".into())
            ]
        );
    }
}
