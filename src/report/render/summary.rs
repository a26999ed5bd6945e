//! The terminal summary printed at the end of a run (and by `rehearse render --format text`).

use std::io::{self, Write};

use super::units::{bytes, millis, seconds};
use crate::pg::SessionRole;
use crate::report::{Report, StepLockSummary, StepStatus, StrategyStatus, TrafficReport};
use crate::scenario::StepKind;

/// Writes a short, human summary of `report`.
pub fn write_summary(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let env = &report.environment;
    writeln!(out, "rehearse · {}", report.scenario.name)?;
    writeln!(
        out,
        "  server   {} via {}{}",
        env.server_version.as_deref().unwrap_or("?"),
        env.backend.as_deref().unwrap_or("?"),
        env.image
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default()
    )?;
    if let Some(seed) = &report.seed {
        let how = if seed.cached {
            "reused from the seed cache (--fresh to reseed)".to_owned()
        } else {
            format!(
                "{:.1} s, {:.0} MB/s on {} connection(s)",
                seed.seconds, seed.mb_per_second, seed.jobs
            )
        };
        writeln!(
            out,
            "  seed     {} rows in {} table(s), {:.1} MB, {how} (scale {}, seed {})",
            seed.rows,
            seed.tables.len(),
            seed.bytes as f64 / 1e6,
            seed.scale,
            seed.seed
        )?;
        for note in &seed.notes {
            writeln!(out, "           {note}")?;
        }
    }
    for strategy in &report.strategies {
        writeln!(out)?;
        writeln!(
            out,
            "  strategy {}: {}{}",
            strategy.name,
            status_word(strategy.status),
            strategy
                .duration_s
                .map(|d| format!(" in {}", seconds(d)))
                .unwrap_or_default()
        )?;
        for step in &strategy.steps {
            let took = step.duration_s.map_or_else(|| "-".into(), seconds);
            let mark = match step.status {
                StepStatus::Succeeded => "ok",
                StepStatus::Failed => "FAILED",
                StepStatus::Interrupted => "interrupted",
                StepStatus::Skipped => "skipped",
            };
            writeln!(
                out,
                "    {:>2}. {:<32} {:>10}  {mark}",
                step.index, step.name, took
            )?;
            if step.attempts.len() > 1 {
                writeln!(
                    out,
                    "        {} attempts, {} of them waiting in lock timeouts",
                    step.attempts.len(),
                    seconds(step.lock_timeout_s)
                )?;
            }
            // A skipped step did nothing, and an interrupted one has no WAL figure: no
            // placeholder is printed for what was not measured.
            if step.kind == StepKind::Sql && step.status != StepStatus::Skipped {
                let rewrites: Vec<&str> =
                    step.rewrites.iter().map(|r| r.relation.as_str()).collect();
                writeln!(
                    out,
                    "        {}; {} rows{}",
                    if rewrites.is_empty() {
                        "no rewrite".to_owned()
                    } else {
                        format!("rewrote {}", rewrites.join(", "))
                    },
                    step.rows.unwrap_or(0),
                    step.wal_bytes
                        .map(|b| format!("; {} WAL", bytes(b as f64)))
                        .unwrap_or_default()
                )?;
            }
            if !step.locks.is_empty() {
                let locks: Vec<String> = step
                    .locks
                    .iter()
                    .map(|l| format!("{} on {}", l.mode, l.relation))
                    .collect();
                writeln!(out, "        held {}", locks.join(", "))?;
            }
            if !step.index_phases.is_empty() {
                let phases: Vec<&str> =
                    step.index_phases.iter().map(|p| p.phase.as_str()).collect();
                writeln!(out, "        index build: {}", phases.join(" → "))?;
            }
            if let Some(locks) = &step.lock_summary {
                write_lock_summary(locks, out)?;
            }
            if let Some(error) = &step.error {
                writeln!(out, "        {error}")?;
            }
        }
        for left in &strategy.leftovers {
            writeln!(
                out,
                "    left behind: {} {} on {}",
                left.kind.words(),
                left.name,
                left.relation
            )?;
        }
        if let Some(line) = super::connections_line(strategy) {
            writeln!(out, "    {line}")?;
        }
        if let Some(traffic) = &strategy.traffic {
            write_traffic(traffic, out)?;
            if let Some(b) = &strategy.figures.baseline_stability {
                writeln!(
                    out,
                    "      baseline steadiness: {:.0} ops/s ± {:.1} % over {} intervals; interval p99 {} to {}",
                    b.ops_per_s,
                    b.ops_per_s_cv_pct,
                    b.intervals,
                    millis(b.p99_min_ms),
                    millis(b.p99_max_ms)
                )?;
            }
        }
    }
    writeln!(out)?;
    for breach in &report.verdict.breaches {
        let at = breach
            .step
            .as_deref()
            .map(|s| format!(" step {s}"))
            .unwrap_or_default();
        let limit = breach
            .limit
            .as_deref()
            .map(|l| format!(" (limit {l})"))
            .unwrap_or_default();
        let label = if breach.expected {
            "expected"
        } else {
            "breach  "
        };
        writeln!(
            out,
            "  {label} {}: {}{at}: {}{limit}",
            breach.budget, breach.strategy, breach.actual
        )?;
    }
    for unchecked in &report.verdict.unchecked {
        writeln!(out, "  note     {unchecked}")?;
    }
    if let Some(error) = &report.error {
        writeln!(out, "  error    {error}")?;
    }
    writeln!(
        out,
        "  verdict  {} ({:.1} s)",
        report.outcome.shout(),
        report.duration_s
    )
}

fn write_traffic(t: &TrafficReport, out: &mut impl Write) -> io::Result<()> {
    let rate = t
        .rate
        .map_or_else(|| "max rate".into(), |r| format!("{r} ops/s {}", t.arrival));
    writeln!(
        out,
        "    traffic  {rate} on {} connections: {} scheduled, {} recorded, {} failed; \
         lateness p99 {}",
        t.connections,
        t.scheduled,
        t.recorded,
        t.failed,
        millis(t.lateness.p99_ms)
    )?;
    if let Some(r) = &t.replay {
        let skipped: Vec<String> = r
            .skipped
            .iter()
            .map(|s| format!("{} {}", s.count, s.reason))
            .collect();
        writeln!(
            out,
            "      replay of {}: {} of {} captured statements sent on {} sessions at {}× speed{}{}",
            r.capture,
            r.replayed,
            r.captured,
            r.sessions,
            r.speed,
            if r.looped { ", looped" } else { "" },
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped {}", skipped.join(", "))
            }
        )?;
    }
    writeln!(
        out,
        "      {:<24} {:>8} {:>6} {:>10} {:>10} {:>10}",
        "phase", "ops", "errors", "p50", "p99", "max"
    )?;
    for phase in &t.phases {
        let l = &phase.all.latency;
        // A phase with no operation has no latency, not a latency of 0.
        let latency = |ms: f64| {
            if phase.all.count == 0 {
                "–".to_owned()
            } else {
                millis(ms)
            }
        };
        writeln!(
            out,
            "      {:<24} {:>8} {:>6} {:>10} {:>10} {:>10}",
            phase.name,
            phase.all.count,
            phase.all.errors,
            latency(l.p50_ms),
            latency(l.p99_ms),
            latency(l.max_ms)
        )?;
    }
    for e in &t.errors {
        writeln!(
            out,
            "      {} × {} {} in {} ({:.2}–{:.2} s): {}",
            e.count,
            e.class,
            e.sqlstate.as_deref().unwrap_or(""),
            e.query,
            e.first_s,
            e.last_s,
            e.example
        )?;
    }
    for b in &t.background {
        if let Some(error) = &b.error {
            writeln!(out, "      background {}: {error}", b.name)?;
        }
    }
    Ok(())
}

fn write_lock_summary(l: &StepLockSummary, out: &mut impl Write) -> io::Result<()> {
    if l.migration_wait_s > 0.0 {
        let behind: Vec<String> = l
            .blockers
            .iter()
            .map(|b| match &b.name {
                Some(name) if b.role == SessionRole::Background => {
                    format!("pid {} (background {name})", b.pid)
                }
                _ => format!("pid {} ({})", b.pid, b.role),
            })
            .collect();
        writeln!(
            out,
            "        waited {} for {} behind {}",
            seconds(l.migration_wait_s),
            l.migration_waited_for.as_deref().unwrap_or("a lock"),
            if behind.is_empty() {
                "?".to_owned()
            } else {
                behind.join(", ")
            }
        )?;
    }
    if l.app_waits > 0 {
        writeln!(
            out,
            "        {} application lock waits ({} queued behind the migration); longest {}",
            l.app_waits,
            l.app_waits_behind_migration,
            seconds(l.longest_app_wait_s)
        )?;
    }
    Ok(())
}

fn status_word(status: StrategyStatus) -> &'static str {
    match status {
        StrategyStatus::Succeeded => "succeeded",
        StrategyStatus::Failed => "FAILED",
        StrategyStatus::Interrupted => "interrupted",
        StrategyStatus::NotRun => "not run",
    }
}
