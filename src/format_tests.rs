//! Every format, rendered from committed fixture reports (real runs, made by
//! `scripts/make-fixtures.sh`) and pinned by snapshots: a change to a template or a renderer
//! shows as a snapshot diff (`cargo insta review`). The HTML is checked by its structure, from
//! the same fixtures; the browser test (tests/integration/formats.rs) opens a live one.

use std::path::PathBuf;

use crate::report::Report;
use crate::report::render::{Format, compare_table, render};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/reports/{name}.json"))
}

/// A fixture report, read (and upgraded, for version 1) as `rehearse render` reads it.
fn fixture(name: &str) -> Report {
    crate::assemble::read_report(&fixture_path(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Every fixture matches the committed JSON Schema's version and parses.
#[test]
fn fixtures_are_reports_of_this_version() {
    for name in [
        "lock-queue",
        "failing",
        "connection-headroom",
        "estimate-0.1",
        "estimate-0.2",
        "estimate-0.4",
    ] {
        let report = fixture(name);
        let found = crate::assemble::invariants(&report);
        assert!(found.is_empty(), "{name}: {found:#?}");
        assert_eq!(
            report.schema_version,
            crate::report::SCHEMA_VERSION,
            "{name}"
        );
    }
}

#[test]
fn summary() {
    insta::assert_snapshot!(
        "summary_lock_queue",
        render(&fixture("lock-queue"), Format::Text)
    );
    insta::assert_snapshot!("summary_failing", render(&fixture("failing"), Format::Text));
    insta::assert_snapshot!(
        "summary_connection_headroom",
        render(&fixture("connection-headroom"), Format::Text)
    );
}

/// Issue 16: a skipped step printed "? WAL". A step that did not run prints no figures, and one
/// without a WAL figure (interrupted before it was read) prints the others only.
#[test]
fn issue_16_steps_without_a_wal_figure_print_none() {
    let mut report = fixture("failing");
    let typo = &mut report.strategies[1];
    assert_eq!(typo.steps[2].status, crate::report::StepStatus::Skipped);
    typo.steps[0].status = crate::report::StepStatus::Interrupted;
    typo.steps[0].wal_bytes = None;
    let text = render(&report, Format::Text);
    assert!(!text.contains("? WAL"), "{text}");
    assert!(
        text.contains("interrupted\n        no rewrite; 0 rows\n        held"),
        "{text}"
    );
    assert!(
        text.contains("never                                     -  skipped\n\n"),
        "{text}"
    );
}

#[test]
fn markdown() {
    insta::assert_snapshot!("md_lock_queue", render(&fixture("lock-queue"), Format::Md));
    insta::assert_snapshot!("md_failing", render(&fixture("failing"), Format::Md));
    insta::assert_snapshot!(
        "md_connection_headroom",
        render(&fixture("connection-headroom"), Format::Md)
    );
}

#[test]
fn a_background_session_that_failed_is_in_markdown_and_html() {
    let mut report = fixture("lock-queue");
    let traffic = report.strategies[0].traffic.as_mut().expect("traffic");
    traffic.background[0].error = Some("canceling statement due to lock timeout".into());
    let md = render(&report, Format::Md);
    assert!(
        md.contains("background session `long report`: canceling statement due to lock timeout"),
        "{md}"
    );
    let html = render(&report, Format::Html);
    assert!(html.contains("<th>background session</th>"), "{html}");
    assert!(html.contains("<td>canceling statement due to lock timeout</td>"));
}

#[test]
fn junit() {
    insta::assert_snapshot!(
        "junit_lock_queue",
        render(&fixture("lock-queue"), Format::Junit)
    );
    insta::assert_snapshot!("junit_failing", render(&fixture("failing"), Format::Junit));
}

#[test]
fn compare() {
    insta::assert_snapshot!("compare_lock_queue", compare_table(&fixture("lock-queue")));
    insta::assert_snapshot!("compare_failing", compare_table(&fixture("failing")));
}

#[test]
fn diff_against_last_night() {
    // Last night's report was written by the previous version (schema_version 1).
    let base = fixture("v1-lock-queue");
    let new = fixture("lock-queue");
    let thresholds = crate::diff::Thresholds {
        ratio: 1.5,
        floor: std::time::Duration::from_millis(100),
    };
    let d = crate::diff::diff(&base, &new, thresholds);
    insta::assert_snapshot!("diff_md_lock_queue", d.markdown());
    // A regression: the careful strategy's step now fails.
    let failing = fixture("failing");
    let d = crate::diff::diff(&new, &failing, thresholds);
    insta::assert_snapshot!("diff_md_other_scenario", d.markdown());
}

#[test]
fn estimate_markdown() {
    let reports: Vec<(f64, Report)> = [0.1, 0.2, 0.4]
        .into_iter()
        .map(|s| (s, fixture(&format!("estimate-{s}"))))
        .collect();
    let estimate =
        crate::estimate::estimate(&reports, 1.0, &crate::estimate::MemoryContext::default());
    insta::assert_snapshot!("estimate_md", estimate.markdown());
}

#[test]
fn a_version_1_report_renders_with_its_figures_computed() {
    let report = fixture("v1-lock-queue");
    let plain = &report.strategies[0].figures;
    assert!(plain.longest_stall_s.unwrap() > 2.0);
    assert!(plain.delayed.as_ref().unwrap().count > 10);
    insta::assert_snapshot!("md_v1_lock_queue", render(&report, Format::Md));
}

/// The HTML's structure: the sections, tables and charts each fixture calls for, and nothing
/// fetched from elsewhere.
#[test]
fn html_structure() {
    use scraper::{Html, Selector};
    html_has_connections_chart();
    let select = |html: &Html, css: &str| {
        html.select(&Selector::parse(css).expect("valid selector"))
            .count()
    };
    for name in ["lock-queue", "failing"] {
        let report = fixture(name);
        let text = render(&report, Format::Html);
        assert_eq!(
            text,
            render(&report, Format::Html),
            "{name}: not deterministic"
        );
        let html = Html::parse_document(&text);
        let title = html
            .select(&Selector::parse("title").unwrap())
            .next()
            .map(|t| t.text().collect::<String>())
            .unwrap_or_default();
        assert!(title.contains(&report.scenario.name), "{name}: {title}");
        assert!(title.contains(report.outcome.shout()), "{name}: {title}");
        // One row per budget, plus the header.
        assert_eq!(
            select(&html, "#budgets tr"),
            report.verdict.checks.len() + 1,
            "{name}"
        );
        let strategies = report.strategies.len();
        assert_eq!(select(&html, "h2[id^=strategy-]"), strategies, "{name}");
        assert_eq!(select(&html, "#compare tr"), strategies + 1, "{name}");
        let steps: usize = report.strategies.iter().map(|s| s.steps.len()).sum();
        let failed = report
            .strategies
            .iter()
            .flat_map(|s| &s.steps)
            .filter(|s| s.error.is_some())
            .count();
        // A header per strategy, a row per step and one more under each failed step.
        assert_eq!(
            select(&html, "table.steps tr"),
            strategies + steps + failed,
            "{name}"
        );
        let traffic = report
            .strategies
            .iter()
            .filter(|s| s.traffic.is_some())
            .count();
        let waits = report
            .strategies
            .iter()
            .filter(|s| !s.lock_waits.is_empty())
            .count();
        let overlay = usize::from(traffic >= 2);
        assert_eq!(
            select(&html, ".chart svg"),
            2 * traffic + waits + overlay,
            "{name}: latency and throughput per strategy with traffic, lock waits, overlay"
        );
        assert_eq!(select(&html, "script[src], link, img"), 0, "{name}");
        for fetch in ["src=\"http", "href=\"http", "url(http"] {
            assert!(
                !text.contains(fetch),
                "{name}: report.html fetches `{fetch}`"
            );
        }
    }
}

/// Names and descriptions reach report.md as text, never as HTML or table syntax.
#[test]
fn markdown_escapes_what_users_wrote() {
    let mut report = fixture("failing");
    report.scenario.name = "x <svg onload=alert(1)> | y".into();
    report.strategies[0].name = "<b>bold</b>".into();
    let md = render(&report, Format::Md);
    assert!(!md.contains("<svg") && !md.contains("<b>"), "{md}");
    assert!(md.contains("&lt;svg onload=alert(1)&gt; \\| y"), "{md}");
}

#[test]
fn matrix_of_majors() {
    use crate::report::render::{MatrixRun, matrix, matrix_text};
    let a = fixture("lock-queue");
    let mut b = fixture("lock-queue");
    b.environment.server_version = Some("17.12 (Debian)".into());
    // a step that rewrites on one major only, and one twice as slow
    b.strategies[0].steps[0]
        .rewrites
        .push(crate::report::Rewrite {
            relation: "users".into(),
            kind: crate::pg::RelKind::Table,
        });
    b.strategies[1].steps[0].duration_s = b.strategies[1].steps[0].duration_s.map(|d| d * 3.0);
    let runs = [
        MatrixRun {
            major: 15,
            report: Some(&a),
            error: None,
        },
        MatrixRun {
            major: 17,
            report: Some(&b),
            error: None,
        },
        MatrixRun {
            major: 13,
            report: None,
            error: Some("no image, no binaries".into()),
        },
    ];
    let m = matrix(&runs);
    let differing: Vec<(&str, &str)> = m
        .rows
        .iter()
        .filter(|r| r.differs)
        .map(|r| (r.strategy.as_str(), r.figure))
        .collect();
    assert!(differing.contains(&("plain", "rewrite")), "{differing:?}");
    assert!(
        differing.contains(&("lock-timeout-retry", "duration")),
        "{differing:?}"
    );
    insta::assert_snapshot!(matrix_text(&m));
    let dir = tempfile::tempdir().unwrap();
    let files = crate::report::render::write_matrix(&m, dir.path()).unwrap();
    let md = std::fs::read_to_string(&files[0]).unwrap();
    assert!(md.contains("| **plain** |"), "{md}");
    let html = std::fs::read_to_string(&files[1]).unwrap();
    assert!(html.contains(r#"class="differs""#) && html.contains("pg17/report.html"));
}

/// A strategy whose deploy opened connections beside the pool has the connections line and
/// chart; one far below the limit with no deploy (lock-queue) has neither.
fn html_has_connections_chart() {
    let html = render(&fixture("connection-headroom"), Format::Html);
    assert_eq!(
        html.matches("Client connections open on the server")
            .count(),
        2
    );
    assert!(html.contains("attempts refused"), "no connections line");
    let quiet = render(&fixture("lock-queue"), Format::Html);
    assert!(!quiet.contains("Client connections open"));
}
