//! The seed summary: what seeding recorded, with its totals and rates.

use crate::report::{IndexBuild, IndexBuildKind, SeedSummary, TableSummary};
use crate::seed::{BuildKind, Seeded};

/// The report's seed section.
pub(super) fn summary(s: Seeded) -> SeedSummary {
    let rows = s.tables.iter().map(|t| t.rows).sum();
    let bytes = s.tables.iter().map(|t| t.bytes).sum();
    let per_second = |x: u64| {
        if s.seconds > 0.0 {
            x as f64 / s.seconds
        } else {
            0.0
        }
    };
    SeedSummary {
        seed: s.seed,
        scale: s.scale,
        jobs: s.jobs,
        start_s: s.start_s,
        tables: s
            .tables
            .into_iter()
            .map(|t| TableSummary {
                table: t.table,
                rows: t.rows,
                bytes: t.bytes,
                seconds: t.load_s,
                index_seconds: t.index_s,
                analyze_seconds: t.analyze_s,
            })
            .collect(),
        builds: s
            .builds
            .into_iter()
            .map(|b| IndexBuild {
                name: b.name,
                table: b.table,
                kind: match b.kind {
                    BuildKind::Key => IndexBuildKind::Key,
                    BuildKind::Index => IndexBuildKind::Index,
                    BuildKind::ForeignKey => IndexBuildKind::ForeignKey,
                },
                seconds: b.seconds,
            })
            .collect(),
        rows,
        bytes,
        seconds: s.seconds,
        mb_per_second: per_second(bytes) / 1e6,
        rows_per_second: per_second(rows),
        cache_key: s.cache_key,
        cached: s.cached,
        notes: s.notes,
    }
}
