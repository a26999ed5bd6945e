//! Who owns what a run creates: every cluster folder, container, volume, scratch database and
//! external command of a run carries its owner — the run's id, the rehearse process (pid and
//! start time, so a reused pid is not mistaken for it) and the host — so that what a killed run
//! left can be told from what a running one uses (`rehearse gc`, the reaper, the warning a run
//! prints when it starts).

use std::collections::HashMap;
use std::fmt;

/// The owner of a run's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The run's id.
    pub run_id: String,
    /// The rehearse process.
    pub pid: u32,
    /// Its start time, in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    pub started: u64,
    /// The host it runs on.
    pub host: String,
}

/// Docker label holding the owner, as [`Owner`]'s text.
pub const OWNER_LABEL: &str = "org.rehearse.owner";

impl Owner {
    /// This process, owning run `run_id`.
    pub fn current(run_id: &str) -> Owner {
        let pid = std::process::id();
        Owner {
            run_id: run_id.to_owned(),
            pid,
            started: start_ticks(pid).unwrap_or(0),
            host: hostname(),
        }
    }

    /// Whether the owning process still runs. An owner on another host cannot be checked and
    /// counts as alive (nothing of another machine's runs is ever removed).
    pub fn is_alive(&self) -> bool {
        if self.host != hostname() {
            return true;
        }
        start_ticks(self.pid).is_some_and(|t| self.started == 0 || t == self.started)
    }

    /// Reads the text [`Display`](fmt::Display) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Owner> {
        let fields: HashMap<&str, &str> = text
            .trim()
            .strip_prefix("rehearse ")?
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        Some(Owner {
            run_id: (*fields.get("run")?).to_owned(),
            pid: fields.get("pid")?.parse().ok()?,
            started: fields.get("start")?.parse().ok()?,
            host: (*fields.get("host")?).to_owned(),
        })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rehearse run={} pid={} start={} host={}",
            self.run_id, self.pid, self.started, self.host
        )
    }
}

/// A process's start time in clock ticks since boot, if it runs.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// This machine's name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` runs (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_and_this_process_is_alive() {
        let me = Owner::current("abc123");
        assert!(me.started > 0);
        assert_eq!(Owner::parse(&me.to_string()), Some(me.clone()));
        assert!(me.is_alive());
        let gone = Owner {
            started: me.started + 1,
            ..me.clone()
        };
        assert!(!gone.is_alive(), "a reused pid is not the owner");
        let elsewhere = Owner {
            host: "another-host".into(),
            pid: u32::MAX,
            ..me
        };
        assert!(
            elsewhere.is_alive(),
            "another host's runs are never judged dead"
        );
        assert_eq!(Owner::parse("something else"), None);
    }
}
