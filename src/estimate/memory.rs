//! Rehearsing small under production-like memory pressure. A rehearsal at scale s < 1 holds s
//! of the data; run on the full server's memory settings, the whole table sits in
//! shared_buffers, sorts fit in maintenance_work_mem and checkpoints never come, so the small
//! runs are a different experiment from the full one. [`scaled`] scales the settings that
//! size memory and WAL for the data by the same factor, so the data-to-memory ratio and the
//! checkpoint cadence of a small rehearsal are those of the target; the parallel-scan
//! thresholds scale too, so a table gets as many parallel workers as at the target. The full scale's values are
//! the scenario's settings, else Postgres's defaults, else (`--target-memory`) the usual
//! proportions of the production server's memory.

use serde::Serialize;

/// A setting scaled for a rehearsal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Scaled {
    /// Its name.
    pub name: String,
    /// Its value at the target scale, bytes.
    pub full_bytes: u64,
    /// Its value at this scale, bytes.
    pub bytes: u64,
    /// Whether the server's minimum held it above `full × scale`: the pressure of this scale is
    /// then lighter than the target's.
    pub clamped: bool,
    /// Why it was held above `full × scale` when not for the server's minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_for: Option<String>,
}

/// The maintenance_work_mem a parallel index build needs per participant (Postgres's
/// `plan_create_index_workers`: workers are dropped while `maintenance_work_mem / (workers + 1)`
/// is below 32 MB; the table's size decides the rest, and the scan thresholds scale with it).
const INDEX_BUILD_SHARE: u64 = 32 << 20;

/// The least maintenance_work_mem that gives an index build as many parallel workers as the
/// full scale's value does (0 when the full scale builds without workers): scaling it below
/// would rehearse a serial build of what the target builds in parallel (an index of 4 M rows
/// then took 3.4 s predicted against 2.6 s measured).
pub(crate) fn parallel_index_floor(settings: &[(String, String)], full_mwm: u64) -> u64 {
    let max_workers: u64 = settings
        .iter()
        .find(|(k, _)| k == "max_parallel_maintenance_workers")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(2);
    let kb = full_mwm >> 10;
    let workers = (0..=max_workers)
        .rev()
        .find(|w| kb / (w + 1) >= INDEX_BUILD_SHARE >> 10)
        .unwrap_or(0);
    if workers == 0 {
        0
    } else {
        INDEX_BUILD_SHARE * (workers + 1)
    }
}

/// The settings scaled, with their Postgres defaults, the server's minimum (bytes), and the
/// unit a bare number is in (bytes).
/// The parallel-scan thresholds are scaled too: the planner gives a table as many parallel
/// workers (an index build, a VALIDATE's scan) at a small scale as at the target.
const SETTINGS: [(&str, u64, u64, u64); 7] = [
    ("shared_buffers", 128 << 20, 2 << 20, 8 << 10),
    ("effective_cache_size", 4 << 30, 8 << 10, 8 << 10),
    ("maintenance_work_mem", 64 << 20, 1 << 20, 1 << 10),
    ("work_mem", 4 << 20, 64 << 10, 1 << 10),
    ("max_wal_size", 1 << 30, 32 << 20, 1 << 20),
    ("min_parallel_table_scan_size", 8 << 20, 0, 8 << 10),
    ("min_parallel_index_scan_size", 512 << 10, 0, 8 << 10),
];

/// The full-scale value of each scaled setting: the scenario's (`settings`), else the share of
/// `target_memory` a tuned server gives it, else Postgres's default.
pub(crate) fn full_values(
    settings: &[(String, String)],
    target_memory: Option<u64>,
) -> Vec<(&'static str, u64)> {
    SETTINGS
        .iter()
        .map(|&(name, default, _, unit)| {
            let given = settings
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| parse_bytes(v, unit));
            let from_memory = target_memory.and_then(|m| match name {
                "shared_buffers" => Some(m / 4),
                "effective_cache_size" => Some(m / 4 * 3),
                "maintenance_work_mem" => Some((m / 16).min(2 << 30)),
                "work_mem" => Some((m / 256).clamp(4 << 20, 256 << 20)),
                _ => None,
            });
            (name, given.or(from_memory).unwrap_or(default))
        })
        .collect()
}

/// The settings of a rehearsal at `scale` (at most 1): each full value × scale, not below the
/// server's minimum; `min_wal_size` follows `max_wal_size` down; maintenance_work_mem not below
/// `mwm_floor` ([`parallel_index_floor`]).
pub(crate) fn scaled(full: &[(&'static str, u64)], scale: f64, mwm_floor: u64) -> Vec<Scaled> {
    let factor = scale.clamp(0.0, 1.0);
    full.iter()
        .map(|&(name, full_bytes)| {
            let min = SETTINGS.iter().find(|s| s.0 == name).map_or(0, |s| s.2);
            let want = (full_bytes as f64 * factor) as u64;
            let floor = if name == "maintenance_work_mem" {
                mwm_floor.min(full_bytes)
            } else {
                0
            };
            Scaled {
                name: name.to_owned(),
                full_bytes,
                bytes: want.max(min).max(floor),
                clamped: want < min,
                kept_for: (want < floor && floor > min)
                    .then(|| "parallel index builds, as at the target".to_owned()),
            }
        })
        .collect()
}

/// `settings` with the scaled ones replacing (or joining) them, in key order.
pub(crate) fn apply(settings: &[(String, String)], scaled: &[Scaled]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = settings
        .iter()
        .filter(|(k, _)| !scaled.iter().any(|s| &s.name == k) && k != "min_wal_size")
        .cloned()
        .collect();
    for s in scaled {
        // Sizes in kB, rounded down to the 8 kB blocks some of them count in.
        let kb = (s.bytes / 8192 * 8).max(if s.name.starts_with("min_parallel") {
            0
        } else {
            8
        });
        out.push((s.name.clone(), format!("{kb}kB")));
        if s.name == "max_wal_size" {
            // min_wal_size may not exceed max_wal_size (its default is 80MB).
            let min = s.bytes.min(80 << 20);
            out.push(("min_wal_size".into(), format!("{}kB", min / 1024)));
        }
    }
    out.sort();
    out
}

/// A memory size as Postgres and people write it: `512MB`, `1 GB`, `64kB`, or a bare number
/// in the setting's unit (`unit` bytes).
pub(crate) fn parse_bytes(text: &str, unit: u64) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" => unit,
        "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        "tb" | "t" => 1 << 40,
        _ => return None,
    };
    let bytes = n * factor as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < 2f64.powi(62)).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_scale_with_the_data_and_stop_at_the_minimum() {
        let given = vec![("shared_buffers".to_owned(), "1GB".to_owned())];
        let full = full_values(&given, None);
        assert_eq!(full[0], ("shared_buffers", 1 << 30));
        assert_eq!(full[4], ("max_wal_size", 1 << 30));
        let s = scaled(&full, 0.1, 0);
        assert_eq!(s[0].bytes, (1u64 << 30) / 10);
        assert!(!s[0].clamped);
        let tiny = scaled(&full, 0.01, 0);
        let wal = tiny.iter().find(|s| s.name == "max_wal_size").unwrap();
        assert_eq!((wal.bytes, wal.clamped), (32 << 20, true));
        let applied = apply(&given, &tiny);
        assert!(applied.contains(&("min_wal_size".into(), "32768kB".into())));
        assert!(applied.contains(&("min_parallel_table_scan_size".into(), "80kB".into())));
        assert_eq!(
            applied
                .iter()
                .filter(|(k, _)| k == "shared_buffers")
                .count(),
            1
        );
    }

    #[test]
    fn index_builds_keep_their_parallel_workers() {
        // 64 MB (the default) gives one worker (32 MB each for it and the leader): kept.
        assert_eq!(parallel_index_floor(&[], 64 << 20), 64 << 20);
        assert_eq!(parallel_index_floor(&[], 63 << 20), 0);
        assert_eq!(parallel_index_floor(&[], 1 << 30), 96 << 20);
        let none = vec![(
            "max_parallel_maintenance_workers".to_owned(),
            "0".to_owned(),
        )];
        assert_eq!(parallel_index_floor(&none, 1 << 30), 0);
        let full = full_values(&[], None);
        let s = scaled(&full, 0.1, parallel_index_floor(&[], 64 << 20));
        let mwm = s.iter().find(|s| s.name == "maintenance_work_mem").unwrap();
        assert_eq!(mwm.bytes, 64 << 20);
        assert!(mwm.kept_for.is_some() && !mwm.clamped);
    }

    #[test]
    fn target_memory_sets_the_full_scale() {
        let full = full_values(&[], Some(16 << 30));
        assert_eq!(full[0], ("shared_buffers", 4 << 30));
        assert_eq!(full[1], ("effective_cache_size", 12 << 30));
        assert_eq!(full[2], ("maintenance_work_mem", 1 << 30));
        assert_eq!(full[3], ("work_mem", 64 << 20));
    }

    #[test]
    fn sizes_parse_as_postgres_writes_them() {
        assert_eq!(parse_bytes("512MB", 1), Some(512 << 20));
        assert_eq!(parse_bytes("16384", 8192), Some(128 << 20));
        assert_eq!(parse_bytes("1 GB", 1), Some(1 << 30));
        assert_eq!(parse_bytes("lots", 1), None);
    }
}
