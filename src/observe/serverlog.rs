//! Lock waits from the server log. With `log_lock_waits = on`, a session that waits longer than
//! `deadlock_timeout` logs "still waiting for …" and, once it gets the lock, "acquired … after
//! N ms": an exact duration for every wait longer than the threshold (rehearse sets 100 ms), which
//! the sampler can only bound to within a poll. Lines carry `log_line_prefix = '%m [%p] '` and
//! `log_timezone = 'UTC'`, both set by rehearse on the servers it starts.

use chrono::{DateTime, NaiveDateTime, Utc};

/// One "acquired … after N ms" line.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedWait {
    /// When the lock was acquired.
    pub at: DateTime<Utc>,
    /// The waiting backend.
    pub pid: i32,
    /// Lock mode, e.g. `AccessExclusiveLock`.
    pub mode: String,
    /// What was locked, as the log says it (`relation 16390 of database 5`, `transaction 812`…).
    pub object: String,
    /// The relation's oid, for relation locks.
    pub relation_oid: Option<u32>,
    /// How long it waited, seconds.
    pub waited_s: f64,
}

/// Every completed wait in `log` (the text of a server log).
pub fn parse(log: &str) -> Vec<LoggedWait> {
    log.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<LoggedWait> {
    // 2026-11-21 05:05:48.343 UTC [1234] LOG:  process 1234 acquired AccessShareLock on relation 16390 of database 5 after 2503.092 ms
    let (stamp, rest) = line.split_once(" UTC [")?;
    let at = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.3f")
        .ok()?
        .and_utc();
    let message = rest.split_once("LOG:")?.1.trim();
    let rest = message.strip_prefix("process ")?;
    let (pid, rest) = rest.split_once(" acquired ")?;
    let pid: i32 = pid.parse().ok()?;
    let (mode, rest) = rest.split_once(" on ")?;
    let (object, rest) = rest.rsplit_once(" after ")?;
    let waited_ms: f64 = rest.strip_suffix(" ms")?.parse().ok()?;
    let relation_oid = object
        .strip_prefix("relation ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|oid| oid.parse().ok());
    Some(LoggedWait {
        at,
        pid,
        mode: mode.to_owned(),
        object: object.to_owned(),
        relation_oid,
        waited_s: waited_ms / 1000.0,
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
        assert_eq!(waits[0].mode, "AccessShareLock");
        assert_eq!(waits[0].relation_oid, Some(16390));
        assert!((waits[0].waited_s - 2.503092).abs() < 1e-9);
        assert_eq!(waits[1].object, "transaction 812");
        assert_eq!(waits[1].relation_oid, None);
    }
}
