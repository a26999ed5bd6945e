//! `rehearse estimate`: a rehearsal at each scale, then the fit (`crate::estimate`), printed
//! and written beside the scales' reports.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{Settings, load_plan, run};
use crate::error::{EXIT_INTERRUPTED, EXIT_PASSED, Error, exit_code};
use crate::estimate::memory;
use crate::report::Outcome;
use crate::scenario::Overrides;

/// The most rehearsals per scale.
const MAX_REPEAT: usize = 20;

/// Rehearsals per scale at most by default, while the noise leaves a prediction uncertain.
pub(crate) const DEFAULT_MAX_REPEAT: usize = 6;

/// This machine's memory (MemTotal), bytes: what the OS can cache the data in.
fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// How `estimate` rehearses.
#[derive(Debug, Clone)]
pub(crate) struct EstimateOptions {
    /// The scales to rehearse, growing.
    pub scales: Vec<f64>,
    /// The scale to predict.
    pub target: f64,
    /// Rehearsals per scale.
    pub repeat: usize,
    /// Rehearsals per scale at most, more than `repeat` while the noise leaves a prediction
    /// uncertain.
    pub max_repeat: usize,
    /// Rehearse again while a prediction's own uncertainty (95 %, relative) is above this.
    pub max_uncertainty: f64,
    /// The production server's memory, when given.
    pub target_memory: Option<u64>,
    /// Scale the memory settings with the data (else every scale runs with the full ones).
    pub scale_memory: bool,
    /// Also rehearse the target scale in every round, not fitted: the prediction's error.
    pub measure_target: bool,
    /// Scale small tables with the data too, rather than keeping them at the target's size.
    pub scale_small_tables: bool,
}

/// A table kept at the target's size at every scale is at most this big there…
const KEPT_TABLE_BYTES: u64 = 64 << 20;
/// …and the kept tables together at most this share of the data.
const KEPT_SHARE: f64 = 0.05;

/// The small tables to seed at the target's size at every scale: looked up (a foreign key
/// check, a join) rather than scanned, a small table scaled down fits CPU caches the target's
/// does not, and each lookup costs less than it will (a VALIDATE of a foreign key to 40,000
/// teams was predicted 12–34 % short from rehearsals with 4,000). The smallest first, while each
/// stays under 64 MB and together under 5 % of the data, so what the steps scan still grows.
fn small_tables(target: &crate::scenario::Plan) -> Vec<crate::estimate::KeptTable> {
    let bytes = crate::seed::estimate_table_bytes(&target.schema.sql, &target.seed);
    let total: u64 = bytes.iter().fold(0, |a, b| a.saturating_add(*b));
    let mut order: Vec<usize> = (0..bytes.len()).collect();
    order.sort_by_key(|i| bytes[*i]);
    let mut kept = Vec::new();
    let mut sum = 0u64;
    for i in order {
        sum = sum.saturating_add(bytes[i]);
        if bytes[i] > KEPT_TABLE_BYTES || sum as f64 > total as f64 * KEPT_SHARE {
            break;
        }
        kept.push(crate::estimate::KeptTable {
            table: target.seed.tables[i].name.clone(),
            rows: target.seed.tables[i].rows,
        });
    }
    kept
}

/// Rehearses at every scale and predicts `target`; returns the exit code (1 when a scale's
/// rehearsal failed, even though the estimate was printed).
pub(crate) async fn estimate(
    scenario: &Path,
    overrides: &Overrides,
    settings: &Settings,
    how: &EstimateOptions,
    cancel: CancellationToken,
) -> Result<i32, Error> {
    let (scales, target) = (&how.scales[..], how.target);
    if overrides.scale.is_some() {
        return Err(Error::Usage(
            "estimate takes --scales (the runs) and --target (the prediction), not --scale".into(),
        ));
    }
    crate::estimate::check_scales(scales, target).map_err(Error::Usage)?;
    for (flag, n) in [("--repeat", how.repeat), ("--max-repeat", how.max_repeat)] {
        if !(1..=MAX_REPEAT).contains(&n) {
            return Err(Error::Usage(format!(
                "{flag} must be between 1 and {MAX_REPEAT}, not {n}"
            )));
        }
    }
    if how.max_repeat < how.repeat {
        return Err(Error::Usage(format!(
            "--max-repeat {} is below --repeat {}: the repeats beyond --repeat are at most \
             --max-repeat",
            how.max_repeat, how.repeat
        )));
    }
    if how.measure_target
        && let Some(largest) = scales.last().filter(|largest| target <= **largest)
    {
        return Err(Error::Usage(format!(
            "--measure-target measures a target beyond the rehearsed scales, but the target {target} \
             is not above the largest scale {largest}: give a --target above it, or leave out \
             --measure-target"
        )));
    }
    let mut reports = Vec::new();
    let mut measured = Vec::new();
    let mut unscaled = false;
    let mut out_dir = None;
    let mut code = EXIT_PASSED;
    let mut context = crate::estimate::MemoryContext {
        target_memory: how.target_memory.or_else(machine_memory),
        ..Default::default()
    };
    // Each scale's plan, with its memory settings, made once.
    let plan_at = |scale: f64| {
        let overrides = Overrides {
            scale: Some(scale),
            ..overrides.clone()
        };
        let plan = load_plan(scenario, &overrides)?;
        if plan.database.majors.len() > 1 {
            return Err(Error::Usage(
                "estimate extrapolates on one major; pick one with --postgres N".into(),
            ));
        }
        let full = memory::full_values(&plan.database.settings, how.target_memory);
        Ok((plan, full))
    };
    // With --target-memory, a plan's memory settings are the target server's shares of it.
    let at_target_memory = |plan: &mut crate::scenario::Plan, full: &[(&'static str, u64)]| {
        if how.target_memory.is_some() {
            let at_full = memory::scaled(full, 1.0, 0);
            plan.database.settings = memory::apply(&plan.database.settings, &at_full);
        }
    };
    // The target's plan names the small tables, and is the one measured. A target no disk
    // could hold may still be predicted, just not measured.
    let target_plan = match plan_at(target) {
        Ok(plan) => Some(plan),
        Err(e) if how.measure_target => return Err(e),
        Err(_) => None,
    };
    if !how.scale_small_tables
        && let Some((plan, _)) = &target_plan
    {
        context.kept = small_tables(plan);
    }
    let mut plans = Vec::new();
    for scale in scales {
        let (mut plan, full) = plan_at(*scale)?;
        for table in &mut plan.seed.tables {
            if let Some(k) = context.kept.iter().find(|k| k.table == table.name) {
                table.rows = k.rows;
            }
        }
        context.target_shared_buffers = full
            .iter()
            .find(|(name, _)| *name == "shared_buffers")
            .map(|(_, b)| *b);
        if how.scale_memory {
            let mwm = full
                .iter()
                .find(|(name, _)| *name == "maintenance_work_mem")
                .map_or(0, |(_, b)| *b);
            let floor = memory::parallel_index_floor(&plan.database.settings, mwm);
            let scaled = memory::scaled(&full, scale / target, floor);
            plan.database.settings = memory::apply(&plan.database.settings, &scaled);
            context.scaled.push(crate::estimate::ScaleMemory {
                scale: *scale,
                settings: scaled,
            });
        } else {
            at_target_memory(&mut plan, &full);
        }
        plans.push((*scale, plan, false));
    }
    // The target itself, measured as a plain run at that scale would be (with the target
    // server's memory when given).
    if how.measure_target
        && let Some((mut plan, target_full)) = target_plan
    {
        at_target_memory(&mut plan, &target_full);
        plans.push((target, plan, true));
    }
    // Rounds of every scale, not one scale's repeats back to back: the repeats of a scale are
    // then minutes apart, and their spread — the noise the range is built from — includes the
    // machine's drift over the estimate, not only the noise between neighbouring runs. After
    // `--repeat` rounds, rounds of the small scales go on (up to `--max-repeat`) while the noise
    // leaves a prediction uncertain, each with only the strategies of such steps.
    let max_repeat = how.max_repeat;
    let per_round = plans.iter().filter(|p| !p.2).count();
    let mut planned = per_round * how.repeat;
    let mut only: Option<Vec<String>> = None;
    let mut interrupted = false;
    let mut still_uncertain = None;
    let mut round = 0;
    'rounds: loop {
        round += 1;
        let extra = round > how.repeat;
        for (scale, plan, is_target) in &plans {
            if extra && *is_target {
                continue;
            }
            let base = settings.out_for(plan);
            let dir = if how.repeat == 1 {
                base.join(format!("scale-{scale}"))
            } else {
                base.join(format!("scale-{scale}"))
                    .join(format!("run-{round}"))
            };
            out_dir = Some(base);
            let mut plan = plan.clone();
            if let Some(only) = &only {
                plan.strategies.retain(|s| only.contains(&s.name));
            }
            let options = settings.options(&plan, dir);
            let _ = writeln!(
                std::io::stderr().lock(),
                "estimate: {} scale {scale} ({round} of {})",
                if *is_target {
                    "measuring the target,"
                } else {
                    "rehearsing at"
                },
                if extra {
                    format!("at most {max_repeat}")
                } else {
                    how.repeat.to_string()
                }
            );
            let result = run(&plan, &options, cancel.clone()).await;
            if let Some(e) = result.error {
                return Err(e);
            }
            let scale_code = exit_code(Some(result.report.outcome), None);
            if scale_code == EXIT_INTERRUPTED {
                // The rehearsals that finished are kept: fitted below when they span two scales.
                interrupted = true;
                break 'rounds;
            }
            if result.report.outcome != Outcome::Passed {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "estimate: the rehearsal at scale {scale} failed ({}); its steps are fitted \
                     as measured",
                    options.out.join("report.json").display()
                );
            }
            if how.scale_memory && !result.report.environment.settings_applied && !unscaled {
                unscaled = true;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "estimate: the server's settings cannot be set on this backend: the memory \
                     settings were not scaled with the data"
                );
            }
            code = code.max(scale_code);
            if *is_target {
                measured.push(result.report);
            } else {
                reports.push((*scale, result.report));
            }
        }
        if round < how.repeat {
            continue;
        }
        // Without repeats there is no measured noise to go by.
        if how.repeat < 2 {
            break;
        }
        reports.sort_by(|a, b| a.0.total_cmp(&b.0));
        let so_far = crate::estimate::estimate(&reports, target, &context);
        let imprecise = so_far.imprecise(how.max_uncertainty);
        if imprecise.is_empty() {
            break;
        }
        let steps: Vec<String> = imprecise
            .iter()
            .map(|(strategy, step, within)| format!("{strategy} / {step} ±{:.0} %", within * 100.0))
            .collect();
        if round >= max_repeat {
            let note = format!(
                "after {max_repeat} rehearsals per scale (--max-repeat) the noise still leaves {} \
                 uncertain at the target: read the range, or rehearse larger scales",
                steps.join(", ")
            );
            let _ = writeln!(std::io::stderr().lock(), "estimate: {note}");
            still_uncertain = Some(note);
            break;
        }
        let _ = writeln!(
            std::io::stderr().lock(),
            "estimate: the rehearsals' noise leaves {} uncertain at the target; rehearsing the \
             scales again ({} of at most {max_repeat})",
            steps.join(", "),
            round + 1
        );
        let mut names: Vec<String> = imprecise.iter().map(|(s, _, _)| (*s).to_owned()).collect();
        names.dedup();
        planned += per_round;
        only = Some(names);
    }
    // The fit takes the points in scale order.
    reports.sort_by(|a, b| a.0.total_cmp(&b.0));
    let finished = reports.len();
    if interrupted {
        let mut rehearsed: Vec<f64> = reports.iter().map(|(s, _)| *s).collect();
        rehearsed.dedup();
        if rehearsed.len() < 2 {
            let _ = writeln!(
                std::io::stderr().lock(),
                "estimate: interrupted after {finished} finished rehearsal(s), too few scales to fit"
            );
            return Ok(EXIT_INTERRUPTED);
        }
        code = EXIT_INTERRUPTED;
    }
    if unscaled {
        context.scaled.clear();
    }
    let mut estimate = crate::estimate::estimate(&reports, target, &context);
    if how.measure_target {
        estimate.compare_with(&measured);
    }
    estimate.notes.extend(still_uncertain);
    if interrupted {
        estimate.notes.push(format!(
            "interrupted: fitted from the {finished} of {planned} rehearsals that finished"
        ));
    }
    let text = estimate.text();
    // A closed standard output (`| head`) ends the printing, not the command.
    let _ = write!(std::io::stdout().lock(), "{text}");
    if let Some(dir) = out_dir {
        let json = dir.join("estimate.json");
        let md = dir.join("estimate.md");
        std::fs::write(
            &json,
            serde_json::to_string_pretty(&estimate).expect("serializes"),
        )
        .and_then(|()| std::fs::write(&md, estimate.markdown()))
        .map_err(|source| Error::Output {
            path: dir.clone(),
            source,
        })?;
        let _ = writeln!(
            std::io::stdout().lock(),
            "  estimate {} (and estimate.md; each scale's report in scale-*/)",
            json.display()
        );
    }
    Ok(code)
}
