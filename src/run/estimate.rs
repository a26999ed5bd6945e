//! `rehearse estimate`: a rehearsal at each scale, then the fit (`crate::estimate`), printed
//! and written beside the scales' reports.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{Settings, load_plan, run};
use crate::error::{EXIT_INTERRUPTED, EXIT_PASSED, Error, exit_code};
use crate::report::Outcome;
use crate::scenario::Overrides;

/// Rehearses at every scale and predicts `target`; returns the exit code (1 when a scale's
/// rehearsal failed, even though the estimate was printed).
pub(crate) async fn estimate(
    scenario: &Path,
    overrides: &Overrides,
    settings: &Settings,
    scales: &[f64],
    target: f64,
    cancel: CancellationToken,
) -> Result<i32, Error> {
    if overrides.scale.is_some() {
        return Err(Error::Usage(
            "estimate takes --scales (the runs) and --target (the prediction), not --scale".into(),
        ));
    }
    crate::estimate::check_scales(scales, target).map_err(Error::Usage)?;
    let mut reports = Vec::new();
    let mut out_dir = None;
    let mut code = EXIT_PASSED;
    for scale in scales {
        let overrides = Overrides {
            scale: Some(*scale),
            ..overrides.clone()
        };
        let plan = load_plan(scenario, &overrides)?;
        if plan.database.majors.len() > 1 {
            return Err(Error::Usage(
                "estimate extrapolates on one major; pick one with --postgres N".into(),
            ));
        }
        let base = settings.out_for(&plan);
        let options = settings.options(&plan, base.join(format!("scale-{scale}")));
        let _ = writeln!(
            std::io::stderr().lock(),
            "estimate: rehearsing at scale {scale}"
        );
        let result = run(&plan, &options, cancel.clone()).await;
        if let Some(e) = result.error {
            return Err(e);
        }
        let scale_code = exit_code(Some(result.report.outcome), None);
        if scale_code == EXIT_INTERRUPTED {
            return Ok(scale_code);
        }
        if result.report.outcome != Outcome::Passed {
            let _ = writeln!(
                std::io::stderr().lock(),
                "estimate: the rehearsal at scale {scale} failed ({}); its steps are fitted as \
                 measured",
                options.out.join("report.json").display()
            );
        }
        code = code.max(scale_code);
        out_dir = Some(base);
        reports.push((*scale, result.report));
    }
    let estimate = crate::estimate::estimate(&reports, target);
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
