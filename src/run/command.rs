//! `rehearse run` and `rehearse compare`: one run of a scenario, its summary on the terminal,
//! and for `compare` every strategy side by side.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{Settings, load_plan, run};
use crate::error::{Error, exit_code};
use crate::scenario::Overrides;

/// Rehearses `scenario` and prints its summary; returns the exit code.
pub(crate) async fn run_or_compare(
    scenario: &Path,
    overrides: &Overrides,
    settings: &Settings,
    compare: bool,
    cancel: CancellationToken,
) -> Result<i32, Error> {
    let plan = load_plan(scenario, overrides)?;
    if compare && overrides.strategy.is_some() {
        return Err(Error::Usage(
            "compare rehearses every strategy; --strategy picks one (use `run` for that)".into(),
        ));
    }
    if compare && plan.strategies.len() < 2 {
        return Err(Error::Usage(format!(
            "compare needs a scenario with two or more strategies; {} has {}",
            scenario.display(),
            plan.strategies.len()
        )));
    }
    if plan.database.majors.len() > 1 {
        return on_each_major(&plan, settings, compare, cancel).await;
    }
    let options = settings.options(&plan, settings.out_for(&plan));
    let result = run(&plan, &options, cancel).await;
    print_summary(&result, compare);
    let code = exit_code(Some(result.report.outcome), result.error.as_ref());
    match result.error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// Rehearses `plan` on each of its majors in turn (each in `OUT/pg<major>/` with its full
/// report), then prints and writes the side-by-side table (`OUT/matrix.md`, `matrix.html`). A
/// major that cannot be rehearsed (no image, no binaries) is reported in its column and the
/// others still run; the exit code is the worst of the runs'.
async fn on_each_major(
    plan: &crate::scenario::Plan,
    settings: &Settings,
    compare: bool,
    cancel: CancellationToken,
) -> Result<i32, Error> {
    use crate::report::render::{MatrixRun, matrix, matrix_folder, matrix_text, write_matrix};
    if settings.backend == crate::db::BackendKind::Url || settings.database_url.is_some() {
        return Err(Error::Usage(
            "--database-url (the url backend) rehearses on the one server it is given; \
             rehearsing on several majors needs a backend that starts them (docker, local or \
             auto without --database-url)"
                .into(),
        ));
    }
    if settings.image.is_some() || settings.pg_bin.is_some() {
        return Err(Error::Usage(
            "--image and --pg-bin name one major's server; to rehearse on several majors, leave \
             them out (each major gets its image or its installed binaries)"
                .into(),
        ));
    }
    let base = settings.out_for(plan);
    let mut results = Vec::new();
    for &major in &plan.database.majors {
        if cancel.is_cancelled() {
            break;
        }
        let mut one = plan.clone();
        one.database.major = Some(major);
        one.database.majors = vec![major];
        one.database.exact_major = true;
        let options = settings.options(&one, base.join(matrix_folder(major)));
        println!("\n== PostgreSQL {major}");
        let result = run(&one, &options, cancel.clone()).await;
        print_summary(&result, compare);
        if let Some(e) = &result.error {
            eprintln!("error: PostgreSQL {major}: {e}");
        }
        results.push((major, result));
    }
    let runs: Vec<MatrixRun<'_>> = plan
        .database
        .majors
        .iter()
        .map(|major| match results.iter().find(|(m, _)| m == major) {
            Some((_, r)) => MatrixRun {
                major: *major,
                report: Some(&r.report),
                error: r.error.as_ref().map(ToString::to_string),
            },
            None => MatrixRun {
                major: *major,
                report: None,
                error: None,
            },
        })
        .collect();
    let table = matrix(&runs);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "\n  on {} majors (* where they differ):",
        runs.len()
    );
    let _ = write!(stdout, "{}", matrix_text(&table));
    match std::fs::create_dir_all(&base).and_then(|()| write_matrix(&table, &base)) {
        Ok(files) => {
            let _ = writeln!(stdout, "  matrix   {}", files[0].display());
        }
        Err(e) => eprintln!("error: writing the matrix to {}: {e}", base.display()),
    }
    drop(stdout);
    let codes: Vec<i32> = results
        .iter()
        .map(|(_, r)| exit_code(Some(r.report.outcome), r.error.as_ref()))
        .collect();
    if cancel.is_cancelled() || codes.contains(&crate::error::EXIT_INTERRUPTED) {
        return Ok(crate::error::EXIT_INTERRUPTED);
    }
    Ok(codes.into_iter().max().unwrap_or(0))
}

/// Prints a run's summary (and for `compare` its strategies side by side) and where its report is.
fn print_summary(result: &super::RunResult, compare: bool) {
    let mut stdout = std::io::stdout().lock();
    let _ = crate::report::render::write_summary(&result.report, &mut stdout);
    if compare {
        let _ = writeln!(
            stdout,
            "\n  side by side (identical data, same traffic schedule):"
        );
        let _ = write!(
            stdout,
            "{}",
            crate::report::render::compare_table(&result.report)
        );
    }
    match &result.report_path {
        Some(path) => {
            let _ = writeln!(
                stdout,
                "  report   {} (and report.html, report.md, junit.xml beside it)",
                path.display()
            );
        }
        None => {
            let _ = writeln!(stdout, "  report   not written");
        }
    }
}
