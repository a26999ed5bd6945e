//! Splitting migration SQL into statements, as psql would: semicolons inside string literals,
//! quoted identifiers, dollar-quoted bodies, comments and `BEGIN ATOMIC … END` function bodies
//! do not end a statement.

/// One statement of a SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement, without its terminating semicolon, trimmed.
    pub text: String,
    /// 1-based line of the text where it starts.
    pub line: usize,
}

/// Splits `sql` into statements. Empty statements (and comment-only ones) are dropped.
pub fn split(sql: &str) -> Vec<Statement> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Depth of BEGIN ATOMIC … END bodies (with CASE … END inside them).
    let mut atomic = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' => i = skip_quoted(bytes, i, b'\'', backslash_escapes(bytes, i)),
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'$' => match dollar_tag(&sql[i..]) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = sql[body..]
                        .find(tag)
                        .map_or(bytes.len(), |n| body + n + tag.len());
                }
                None => i += 1,
            },
            b';' if atomic == 0 => {
                push(&mut out, sql, start, i);
                i += 1;
                start = i;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = i + sql[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'))
                    .unwrap_or(sql.len() - i);
                let word = &sql[i..end];
                let opens_body = word.eq_ignore_ascii_case("begin")
                    && next_word(sql, end).eq_ignore_ascii_case("atomic");
                // Inside a body, CASE … END nests like BEGIN … END.
                let opens_case = atomic > 0 && word.eq_ignore_ascii_case("case");
                if opens_body || opens_case {
                    atomic += 1;
                } else if atomic > 0 && word.eq_ignore_ascii_case("end") {
                    atomic -= 1;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    push(&mut out, sql, start, bytes.len());
    out
}

fn push(out: &mut Vec<Statement>, sql: &str, start: usize, end: usize) {
    let piece = &sql[start..end];
    if strip_comments(piece).trim().is_empty() {
        return;
    }
    let lead = piece.len() - piece.trim_start().len();
    let line = sql[..start + lead].matches('\n').count() + 1;
    out.push(Statement {
        text: piece.trim().to_owned(),
        line,
    });
}

/// `E'…'` strings take backslash escapes.
fn backslash_escapes(bytes: &[u8], quote: usize) -> bool {
    quote > 0
        && matches!(bytes[quote - 1], b'E' | b'e')
        && (quote < 2 || !(bytes[quote - 2].is_ascii_alphanumeric() || bytes[quote - 2] == b'_'))
}

/// Index just past the closing quote (a doubled quote is an escaped quote).
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Index just past a (nestable) block comment.
fn skip_block_comment(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$tag$` or `$$` at the start of `s`.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag
        .chars()
        .enumerate()
        .all(|(k, c)| c == '_' || c.is_alphabetic() || (k > 0 && c.is_ascii_digit()));
    valid.then(|| &s[..end + 2])
}

fn next_word(sql: &str, from: usize) -> &str {
    let rest = strip_leading_space_and_comments(&sql[from..]);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn strip_leading_space_and_comments(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix("--") {
            s = rest.find('\n').map_or("", |n| &rest[n + 1..]);
        } else if t.starts_with("/*") {
            s = &t[skip_block_comment(t.as_bytes(), 0)..];
        } else {
            return t;
        }
    }
}

/// The statement without comments (for keyword checks).
pub fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i);
                out.push(' ');
            }
            b'\'' | b'"' => {
                let end = skip_quoted(bytes, i, bytes[i], false);
                out.push_str(&text[i..end]);
                i = end;
            }
            _ => {
                let ch = text[i..].chars().next().expect("in bounds");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// Whether a statement cannot run inside a transaction block (`CONCURRENTLY`, `VACUUM`, …).
pub fn needs_autocommit(text: &str) -> bool {
    let words: Vec<String> = strip_comments(text)
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(12)
        .map(str::to_ascii_uppercase)
        .collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    let has = |word: &str| words.iter().any(|x| x == word);
    match w(0) {
        "VACUUM" => true,
        "CREATE" | "DROP" if has("DATABASE") || has("TABLESPACE") => true,
        // CREATE [UNIQUE] INDEX CONCURRENTLY …: the keyword comes before ON.
        "CREATE" => words
            .iter()
            .take_while(|x| *x != "ON")
            .any(|x| x == "CONCURRENTLY"),
        "DROP" | "REINDEX" => words.iter().take(4).any(|x| x == "CONCURRENTLY"),
        "ALTER" if w(1) == "SYSTEM" => true,
        "ALTER" if w(1) == "TABLE" && has("DETACH") && has("CONCURRENTLY") => true,
        "CLUSTER" => words.len() == 1,
        _ => false,
    }
}

/// What a statement does to a transaction block, read from its first words. Statements run one
/// by one (outside a step's own transaction) need it to know whether a block is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEffect {
    /// `BEGIN`, `START TRANSACTION`: opens a block.
    Opens,
    /// `COMMIT`, `END`, `ROLLBACK`, `ABORT`, `PREPARE TRANSACTION`: ends the block, releasing
    /// its locks.
    Closes,
    /// `COMMIT AND CHAIN`, `ROLLBACK AND CHAIN`: ends the block and opens the next at once.
    Chains,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`, `LOCK`, `DECLARE`, `SET LOCAL`, `SET TRANSACTION`,
    /// `SET CONSTRAINTS`: means something inside a block only (outside one, the server refuses
    /// it or warns that it has no effect).
    InsideOnly,
    /// Anything else.
    None,
}

/// What `text` does to a transaction block (see [`BlockEffect`]).
pub fn block_effect(text: &str) -> BlockEffect {
    let words: Vec<String> = strip_comments(text)
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .take(8)
        .map(str::to_ascii_uppercase)
        .collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    let has = |word: &str| words.iter().any(|x| x == word);
    match w(0) {
        "BEGIN" => BlockEffect::Opens,
        "START" if w(1) == "TRANSACTION" => BlockEffect::Opens,
        "PREPARE" if w(1) == "TRANSACTION" => BlockEffect::Closes,
        // COMMIT PREPARED and ROLLBACK PREPARED end a prepared transaction, not this session's.
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" if w(1) == "PREPARED" => BlockEffect::None,
        "ROLLBACK" if has("TO") => BlockEffect::InsideOnly,
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" if has("CHAIN") && !has("NO") => {
            BlockEffect::Chains
        }
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" => BlockEffect::Closes,
        "SAVEPOINT" | "RELEASE" | "LOCK" | "DECLARE" => BlockEffect::InsideOnly,
        "SET" if matches!(w(1), "LOCAL" | "TRANSACTION" | "CONSTRAINTS") => BlockEffect::InsideOnly,
        _ => BlockEffect::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn semicolons_in_literals_comments_and_bodies_do_not_split() {
        let sql = "
-- a comment; with a semicolon
SELECT 'a;b', \"we;ird\", E'it\\'s;';
/* block; /* nested; */ still */ SELECT 2;
CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql;
DO $$ BEGIN PERFORM 1; END $$;
CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END;
  SELECT 3;
END;
SELECT 4
";
        let got = texts(sql);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].starts_with("-- a comment") && got[0].ends_with("E'it\\'s;'"));
        assert!(got[2].ends_with("LANGUAGE plpgsql"));
        assert!(got[4].starts_with("CREATE FUNCTION g") && got[4].ends_with("END"));
        assert_eq!(got[5], "SELECT 4");
    }

    #[test]
    fn statements_know_their_line() {
        let lines: Vec<usize> = split("SELECT 1;\n\n  SELECT 2;\nSELECT\n3;")
            .iter()
            .map(|s| s.line)
            .collect();
        assert_eq!(lines, [1, 3, 4]);
    }

    #[test]
    fn comment_only_pieces_are_dropped() {
        assert_eq!(texts("SELECT 1; -- done\n"), ["SELECT 1"]);
        assert!(split("  ;; /* nothing */ ").is_empty());
    }

    #[test]
    fn statements_that_cannot_run_in_a_transaction() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently if not exists i on t(a)",
            "DROP INDEX CONCURRENTLY i",
            "REINDEX INDEX CONCURRENTLY i",
            "VACUUM (ANALYZE) t",
            "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
            "-- comment\nVACUUM",
        ] {
            assert!(needs_autocommit(sql), "{sql}");
        }
        for sql in [
            "CREATE INDEX i ON t (a)",
            "CREATE INDEX i ON t (concurrently)",
            "ALTER TABLE t ADD COLUMN concurrently int",
            "SELECT 'VACUUM'",
        ] {
            assert!(!needs_autocommit(sql), "{sql}");
        }
    }

    #[test]
    fn what_statements_do_to_a_transaction_block() {
        use BlockEffect::{Chains, Closes, InsideOnly, Opens};
        for (sql, effect) in [
            ("BEGIN", Opens),
            ("begin transaction isolation level serializable", Opens),
            ("-- first\nSTART TRANSACTION", Opens),
            ("COMMIT", Closes),
            ("end", Closes),
            ("ROLLBACK WORK", Closes),
            ("ABORT", Closes),
            ("PREPARE TRANSACTION 'x'", Closes),
            ("COMMIT AND CHAIN", Chains),
            ("COMMIT AND NO CHAIN", Closes),
            ("ROLLBACK TO SAVEPOINT a", InsideOnly),
            ("rollback to a", InsideOnly),
            ("SAVEPOINT a", InsideOnly),
            ("RELEASE SAVEPOINT a", InsideOnly),
            ("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", InsideOnly),
            ("SET LOCAL lock_timeout = '1s'", InsideOnly),
            ("COMMIT PREPARED 'x'", BlockEffect::None),
            ("SET lock_timeout = '1s'", BlockEffect::None),
            ("DO $$ BEGIN COMMIT; END $$", BlockEffect::None),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
                BlockEffect::None,
            ),
            ("ALTER TABLE t ADD COLUMN \"commit\" int", BlockEffect::None),
        ] {
            assert_eq!(block_effect(sql), effect, "{sql}");
        }
    }
}
