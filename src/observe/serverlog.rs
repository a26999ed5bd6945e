//! Lock waits from the server log. With `log_lock_waits = on`, a session that waits longer than
//! `deadlock_timeout` logs "still waiting for …", and once the wait ends, "acquired … after N
//! ms" (or "failed to acquire", or the deadlock detector's lines); a wait its statement's
//! cancellation ends (lock_timeout, statement_timeout, a cancel request) logs no end line, only
//! the ERROR that cancelled it, whose time ends the wait. That gives an exact duration for every
//! wait longer than the threshold (rehearse sets 100 ms), which the sampler can only bound to
//! within a poll.
//!
//! Lines carry `log_line_prefix = '%m [%p] '` and `log_timezone = 'UTC'`, both set by rehearse
//! on the servers it starts. The lock is described as `DescribeLockTag()` in the server's
//! `lmgr.c` writes it ("relation 16390 of database 5", "tuple (0,1) of relation …", "transaction
//! 812", "virtual transaction 3/12", "advisory lock [5,0,42,1]", …); a message raised while the
//! statement was being parsed ends in "at character N". The same forms hold on every supported
//! major (13 to 18), as the fixtures in `tests/fixtures/serverlog/` show.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::pg::{LockMode, LockType};

/// A completed wait, as the log tells it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedWait {
    /// When the wait ended.
    pub at: DateTime<Utc>,
    /// The waiting backend.
    pub pid: i32,
    /// Lock mode.
    pub mode: LockMode,
    /// What kind of object.
    pub locktype: LockType,
    /// The relation's oid, for relation, extend, page and tuple locks.
    pub relation_oid: Option<u32>,
    /// The database's oid, when the lock names one.
    pub database_oid: Option<u32>,
    /// How long it waited, seconds.
    pub waited_s: f64,
    /// Whether it got the lock (else its statement was cancelled or it failed).
    pub acquired: bool,
    /// Whom it waited for, as the "still waiting" line's DETAIL says: the holders of the lock,
    /// then the processes ahead of it in the wait queue.
    pub blocked_by: Vec<i32>,
}

/// A lock as `DescribeLockTag()` names it.
#[derive(Debug, Clone, PartialEq)]
struct LockTag {
    locktype: LockType,
    relation_oid: Option<u32>,
    database_oid: Option<u32>,
}

/// A wait logged as "still waiting" and not ended yet.
struct Waiting {
    /// When that line was written.
    since: DateTime<Utc>,
    mode: LockMode,
    tag: LockTag,
    /// How long it had waited then, seconds.
    after_s: f64,
    /// Holders and earlier waiters, from the DETAIL line.
    blocked_by: Vec<i32>,
}

/// One log line that matters here.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    /// "process P still waiting for MODE on TAG after N ms".
    Waiting {
        mode: LockMode,
        tag: LockTag,
        after_s: f64,
    },
    /// "process P acquired|failed to acquire|detected deadlock while waiting for MODE on TAG
    /// after N ms".
    Ended {
        mode: LockMode,
        tag: LockTag,
        after_s: f64,
        acquired: bool,
    },
    /// The DETAIL of a "still waiting" line: "Process(es) holding the lock: 7747. Wait
    /// queue: 7580, 7581."
    Detail { holders: Vec<i32>, queue: Vec<i32> },
    /// An ERROR that cancels the backend's statement (lock_timeout, statement_timeout, a
    /// cancel request, a deadlock) or a FATAL that ends it: a wait, if any, ended here. Other
    /// errors (a PL/pgSQL handler may have caught the cancellation) end nothing.
    Cancelled,
}

/// Every completed wait in `log` (the text of a server log), in log order.
pub(crate) fn parse(log: &str) -> Vec<ParsedWait> {
    let mut waits: Vec<ParsedWait> = Vec::new();
    // Per backend: the wait it logged as "still waiting" and has not ended yet. A backend waits
    // for one lock at a time, so a newer "still waiting" line replaces an older one (the server
    // repeats it after a spurious wake-up).
    let mut open: BTreeMap<i32, Waiting> = BTreeMap::new();
    // Per backend: the wait it last ended, which a DETAIL after a "detected deadlock" or
    // "failed to acquire" line belongs to.
    let mut ended: BTreeMap<i32, usize> = BTreeMap::new();
    for (at, pid, line) in log.lines().filter_map(parse_line) {
        match line {
            Line::Waiting { mode, tag, after_s } => {
                ended.remove(&pid);
                open.insert(
                    pid,
                    Waiting {
                        since: at,
                        mode,
                        tag,
                        after_s,
                        blocked_by: Vec::new(),
                    },
                );
            }
            Line::Detail { holders, queue } => {
                let ahead = queue.iter().take_while(|p| **p != pid).copied();
                let blocked_by: Vec<i32> = holders.into_iter().chain(ahead).collect();
                if let Some(w) = open.get_mut(&pid) {
                    w.blocked_by = blocked_by;
                } else if let Some(&k) = ended.get(&pid)
                    && waits[k].blocked_by.is_empty()
                {
                    waits[k].blocked_by = blocked_by;
                }
            }
            Line::Ended {
                mode,
                tag,
                after_s,
                acquired,
            } => {
                let blocked_by = match open.remove(&pid) {
                    Some(w) if w.mode == mode && w.tag == tag => w.blocked_by,
                    Some(other) => {
                        // Not the wait it had logged: keep that one open.
                        open.insert(pid, other);
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                ended.insert(pid, waits.len());
                waits.push(ParsedWait::new(
                    at, pid, mode, tag, after_s, acquired, blocked_by,
                ));
            }
            Line::Cancelled => {
                // A statement cancelled while waiting logs no end line: the ERROR ends it.
                if let Some(w) = open.remove(&pid) {
                    let more = (at - w.since).num_microseconds().unwrap_or(0) as f64 / 1e6;
                    let waited_s = w.after_s + more.max(0.0);
                    ended.insert(pid, waits.len());
                    waits.push(ParsedWait::new(
                        at,
                        pid,
                        w.mode,
                        w.tag,
                        waited_s,
                        false,
                        w.blocked_by,
                    ));
                }
            }
        }
    }
    waits
}

impl ParsedWait {
    fn new(
        at: DateTime<Utc>,
        pid: i32,
        mode: LockMode,
        tag: LockTag,
        waited_s: f64,
        acquired: bool,
        blocked_by: Vec<i32>,
    ) -> ParsedWait {
        ParsedWait {
            at,
            pid,
            mode,
            locktype: tag.locktype,
            relation_oid: tag.relation_oid,
            database_oid: tag.database_oid,
            waited_s,
            acquired,
            blocked_by,
        }
    }
}

fn parse_line(line: &str) -> Option<(DateTime<Utc>, i32, Line)> {
    // 2026-11-21 05:05:48.343 UTC [1234] LOG:  process 1234 acquired AccessShareLock on …
    let (stamp, rest) = line.split_once(" UTC [")?;
    let at = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f")
        .ok()?
        .and_utc();
    let (pid, rest) = rest.split_once("] ")?;
    let pid: i32 = pid.parse().ok()?;
    if rest.starts_with("FATAL:")
        || rest.strip_prefix("ERROR:").is_some_and(|m| {
            let m = m.trim_start();
            m.starts_with("canceling statement due to") || m.starts_with("deadlock detected")
        })
    {
        return Some((at, pid, Line::Cancelled));
    }
    if let Some(detail) = rest.strip_prefix("DETAIL:") {
        return detail_line(detail.trim()).map(|line| (at, pid, line));
    }
    let message = rest.strip_prefix("LOG:")?.trim();
    let message = message.strip_prefix("process ")?;
    let (_, message) = message.split_once(' ')?;
    let (ended, acquired, message) = if let Some(m) = message.strip_prefix("still waiting for ") {
        (false, false, m)
    } else if let Some(m) = message.strip_prefix("acquired ") {
        (true, true, m)
    } else if let Some(m) = message.strip_prefix("failed to acquire ") {
        (true, false, m)
    } else if let Some(m) = message.strip_prefix("detected deadlock while waiting for ") {
        (true, false, m)
    } else {
        return None;
    };
    let (mode, message) = message.split_once(" on ")?;
    let mode: LockMode = mode.parse().ok()?;
    // "… after 1665.192 ms", possibly followed by " at character 22".
    let message = match message.rfind(" at character ") {
        Some(i) if message[i + 14..].chars().all(|c| c.is_ascii_digit()) => &message[..i],
        _ => message,
    };
    let (tag, after) = message.rsplit_once(" after ")?;
    let after_ms = after.strip_suffix(" ms")?.parse::<f64>().ok()?;
    // The server writes a plain decimal; "nan", "inf" or a negative is not its line.
    if !after_ms.is_finite() || after_ms < 0.0 {
        return None;
    }
    let after_s = after_ms / 1000.0;
    let tag = lock_tag(tag)?;
    let line = if ended {
        Line::Ended {
            mode,
            tag,
            after_s,
            acquired,
        }
    } else {
        Line::Waiting { mode, tag, after_s }
    };
    Some((at, pid, line))
}

/// "Process holding the lock: 7747. Wait queue: 7580, 7581." (or "Processes …").
fn detail_line(text: &str) -> Option<Line> {
    let rest = text
        .strip_prefix("Process holding the lock: ")
        .or_else(|| text.strip_prefix("Processes holding the lock: "))?;
    let (holders, queue) = rest.split_once(". Wait queue: ")?;
    let pids = |s: &str| -> Vec<i32> {
        s.trim_end_matches('.')
            .split(", ")
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    };
    Some(Line::Detail {
        holders: pids(holders),
        queue: pids(queue),
    })
}

/// Reads a lock description as `DescribeLockTag()` writes it.
fn lock_tag(text: &str) -> Option<LockTag> {
    let numbers: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let n = |i: usize| numbers.get(i).copied();
    let (locktype, relation_oid, database_oid) = if text.starts_with("relation ") {
        (LockType::Relation, n(0), n(1))
    } else if text.starts_with("extension of relation ") {
        (LockType::Extend, n(0), n(1))
    } else if text.starts_with("page ") {
        (LockType::Page, n(1), n(2))
    } else if text.starts_with("tuple (") {
        (LockType::Tuple, n(2), n(3))
    } else if text.starts_with("transaction ") {
        (LockType::Transactionid, None, None)
    } else if text.starts_with("virtual transaction ") {
        (LockType::Virtualxid, None, None)
    } else if text.starts_with("speculative token ") {
        (LockType::Spectoken, None, None)
    } else if text.starts_with("object ") {
        (LockType::Object, None, n(2))
    } else if text.starts_with("advisory lock ") {
        (LockType::Advisory, None, n(0))
    } else if text.starts_with("user lock ") {
        (LockType::Userlock, None, n(0))
    } else if text.starts_with("pg_database.datfrozenxid") {
        (LockType::Frozenid, None, n(0))
    } else if text.starts_with("remote transaction ") {
        (LockType::Applytransaction, None, n(2))
    } else {
        return None;
    };
    Some(LockTag {
        locktype,
        relation_oid,
        database_oid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquired_lines_parse_and_others_do_not() {
        let log = "\
2026-11-21 05:05:48.343 UTC [1] LOG:  database system is ready to accept connections
2026-11-21 05:06:01.100 UTC [7580] LOG:  process 7580 still waiting for AccessShareLock on relation 16390 of database 5 after 100.124 ms
2026-11-21 05:06:01.100 UTC [7580] DETAIL:  Process holding the lock: 7747. Wait queue: 7580.
2026-11-21 05:06:03.503 UTC [7580] LOG:  process 7580 acquired AccessShareLock on relation 16390 of database 5 after 2503.092 ms
2026-11-21 05:06:04.000 UTC [7581] LOG:  process 7581 acquired ShareLock on transaction 812 after 150.5 ms
";
        let waits = parse(log);
        assert_eq!(waits.len(), 2);
        assert_eq!(waits[0].pid, 7580);
        assert_eq!(waits[0].mode, LockMode::AccessShareLock);
        assert_eq!(waits[0].relation_oid, Some(16390));
        assert_eq!(waits[0].database_oid, Some(5));
        assert!((waits[0].waited_s - 2.503_092).abs() < 1e-9);
        assert!(waits[0].acquired);
        assert_eq!(waits[1].locktype, LockType::Transactionid);
        assert_eq!(waits[1].relation_oid, None);
        assert_eq!(waits[0].blocked_by, [7747]);
        assert!(waits[1].blocked_by.is_empty());
    }

    #[test]
    fn the_at_character_suffix_and_every_lock_tag_parse() {
        let line = |tag: &str, suffix: &str| {
            format!(
                "2026-11-21 05:06:03.503 UTC [7] LOG:  process 7 acquired ExclusiveLock on {tag} after 1665.192 ms{suffix}\n"
            )
        };
        let cases = [
            (
                "relation 16390 of database 5",
                LockType::Relation,
                Some(16390),
            ),
            (
                "extension of relation 16390 of database 5",
                LockType::Extend,
                Some(16390),
            ),
            (
                "page 3 of relation 16390 of database 5",
                LockType::Page,
                Some(16390),
            ),
            (
                "tuple (0,1) of relation 16390 of database 5",
                LockType::Tuple,
                Some(16390),
            ),
            ("transaction 812", LockType::Transactionid, None),
            ("virtual transaction 3/12", LockType::Virtualxid, None),
            (
                "speculative token 4 of transaction 812",
                LockType::Spectoken,
                None,
            ),
            (
                "object 16400 of class 1259 of database 5",
                LockType::Object,
                None,
            ),
            ("advisory lock [5,0,42,1]", LockType::Advisory, None),
        ];
        for (tag, locktype, oid) in cases {
            for suffix in ["", " at character 22"] {
                let waits = parse(&line(tag, suffix));
                assert_eq!(waits.len(), 1, "{tag}{suffix}");
                assert_eq!(waits[0].locktype, locktype, "{tag}");
                assert_eq!(waits[0].relation_oid, oid, "{tag}");
                assert!((waits[0].waited_s - 1.665_192).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_repeated_line_replaces_the_wait_and_unrelated_errors_end_nothing() {
        let log = "\
2026-11-21 05:06:01.100 UTC [9] LOG:  process 9 still waiting for ShareLock on transaction 7 after 100.000 ms
2026-11-21 05:06:01.300 UTC [9] LOG:  process 9 still waiting for ShareLock on transaction 7 after 300.000 ms
2026-11-21 05:06:01.500 UTC [9] ERROR:  duplicate key value violates unique constraint \"k\"
2026-11-21 05:06:02.000 UTC [9] LOG:  process 9 acquired ShareLock on transaction 7 after 1000.000 ms
2026-11-21 05:06:09.000 UTC [9] ERROR:  canceling statement due to user request
";
        let waits = parse(log);
        assert_eq!(waits.len(), 1, "{waits:#?}");
        assert!(waits[0].acquired);
        assert!((waits[0].waited_s - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_deadlock_keeps_its_blockers() {
        let log = "\
2026-11-21 05:06:02.000 UTC [9] LOG:  process 9 detected deadlock while waiting for ShareLock on transaction 7 after 1000.000 ms
2026-11-21 05:06:02.000 UTC [9] DETAIL:  Process holding the lock: 8. Wait queue: .
2026-11-21 05:06:02.000 UTC [9] ERROR:  deadlock detected
";
        let waits = parse(log);
        assert_eq!(waits.len(), 1, "{waits:#?}");
        assert!(!waits[0].acquired);
        assert_eq!(waits[0].blocked_by, [8]);
    }

    #[test]
    fn a_wait_cancelled_by_lock_timeout_ends_at_its_error() {
        let log = "\
2026-11-21 05:06:01.100 UTC [9] LOG:  process 9 still waiting for AccessExclusiveLock on relation 16390 of database 5 after 100.000 ms
2026-11-21 05:06:01.100 UTC [9] DETAIL:  Processes holding the lock: 8, 10. Wait queue: 11, 9, 12.
2026-11-21 05:06:01.400 UTC [9] ERROR:  canceling statement due to lock timeout
2026-11-21 05:06:01.400 UTC [9] STATEMENT:  ALTER TABLE users ADD COLUMN x int
";
        let waits = parse(log);
        assert_eq!(waits.len(), 1);
        assert!(!waits[0].acquired);
        assert_eq!(waits[0].mode, LockMode::AccessExclusiveLock);
        assert!(
            (waits[0].waited_s - 0.4).abs() < 1e-9,
            "{}",
            waits[0].waited_s
        );
        // Holders, then the one waiter ahead of it in the queue.
        assert_eq!(waits[0].blocked_by, [8, 10, 11]);
    }

    /// Real logs of `tests/fixtures/scenarios/log-forms.toml` on each supported major
    /// (`scripts/make-log-fixtures.sh`): every form parses, on every major alike.
    #[test]
    fn real_logs_of_every_major_parse() {
        let logs = [
            (
                "13",
                include_str!("../../tests/fixtures/serverlog/pg13.log"),
            ),
            (
                "15",
                include_str!("../../tests/fixtures/serverlog/pg15.log"),
            ),
            (
                "17",
                include_str!("../../tests/fixtures/serverlog/pg17.log"),
            ),
            (
                "18",
                include_str!("../../tests/fixtures/serverlog/pg18.log"),
            ),
        ];
        for (major, log) in logs {
            let waits = parse(log);
            let count = |t: LockType| waits.iter().filter(|w| w.locktype == t).count();
            // Three strategies each: the row-lock pair; the first also the ALTER and the
            // reader parsed behind it, the index build, the advisory and the type locks; the
            // other two an ALTER cancelled by its timeout.
            assert_eq!(count(LockType::Relation), 4, "pg{major}: {waits:#?}");
            assert_eq!(count(LockType::Transactionid), 3, "pg{major}");
            assert_eq!(count(LockType::Tuple), 3, "pg{major}");
            assert_eq!(count(LockType::Virtualxid), 1, "pg{major}");
            assert_eq!(count(LockType::Advisory), 1, "pg{major}");
            assert_eq!(count(LockType::Object), 1, "pg{major}");
            let cancelled: Vec<&ParsedWait> = waits.iter().filter(|w| !w.acquired).collect();
            assert_eq!(
                cancelled.len(),
                2,
                "pg{major}: lock_timeout and statement_timeout"
            );
            for w in &cancelled {
                assert_eq!(w.mode, LockMode::AccessExclusiveLock);
                assert!((0.35..0.5).contains(&w.waited_s), "pg{major}: {w:?}");
            }
            // Every acquired wait's duration is the log's own figure, and every wait names
            // its blocker.
            for line in log.lines().filter(|l| l.contains(" acquired ")) {
                let ms: f64 = line
                    .rsplit_once(" after ")
                    .and_then(|(_, r)| r.split(" ms").next())
                    .and_then(|n| n.parse().ok())
                    .unwrap();
                assert!(
                    waits
                        .iter()
                        .any(|w| (w.waited_s * 1000.0 - ms).abs() < 1e-6),
                    "pg{major}: {line}"
                );
            }
            assert!(waits.iter().all(|w| !w.blocked_by.is_empty()), "pg{major}");
        }
    }
}
