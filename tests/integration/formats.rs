//! The report's other formats from a real run: report.html opens in a real headless browser
//! (Debian's chromium) with its charts and no console errors (a screenshot is kept), report.md
//! and junit.xml say what the verdict says, and `render` rebuilds them from report.json.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{Sandbox, assert_exit, stderr, stdout};

const SCENARIO: &str = r#"
name = "formats"
description = "an ALTER queued behind a reader, with traffic"
[schema]
sql = """
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
"""
[seed.tables.users]
rows = 2_000
[traffic]
rate = 200
connections = 4
baseline = "2s"
recovery = "1s"
[[traffic.query]]
name = "read"
sql = "SELECT email FROM users WHERE id = $1"
params = [{ key = "users.id" }]
[[traffic.background]]
name = "report-query"
sql = "SELECT count(*), pg_sleep(1.5) FROM users"
start = "1s"
[[strategy]]
name = "plain"
steps = [{ name = "add-column", sql = "ALTER TABLE users ADD COLUMN note text" }]
[[strategy]]
name = "careful"
steps = [{ name = "add-column", sql = "ALTER TABLE users ADD COLUMN note text", lock-timeout = "100ms", retries = 30, retry-backoff = "100ms" }]
[budgets]
max-lock-wait = "200ms"
max-errors = 0
max-errors-by-class = { deadlock = 0 }
p99-vs-baseline = 1000.0
max-exclusive-lock-hold = "10s"
"#;

/// Chromium, when installed (CI installs it; elsewhere the browser check is skipped).
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

#[test]
fn every_format_is_written_and_the_html_renders_in_a_browser() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", SCENARIO);
    let out = sandbox.run_shared(&["run", "s.toml", "--out", "out"]);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let breached: Vec<&str> = report["verdict"]["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["budget"].as_str().unwrap())
        .collect();
    assert!(breached.contains(&"max-lock-wait"), "{breached:?}");
    let checks = report["verdict"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 7, "{checks:?}");
    // The plain ALTER queues behind the reader and every read of `users` behind it.
    let delayed = &report["strategies"][0]["figures"]["delayed"];
    assert!(delayed["count"].as_u64().unwrap() > 10, "{delayed}");
    assert!(
        delayed["threshold_ms"].as_f64().unwrap() >= 10.0,
        "{delayed}"
    );

    let html = std::fs::read_to_string(sandbox.out().join("report.html")).unwrap();
    assert!(html.len() < 2_000_000);
    assert!(
        html.matches("<svg").count() >= 5,
        "latency, throughput, lock waits ×2, overlay"
    );
    for outside in ["<script src", "<link", "src=\"http", "url(http"] {
        assert!(!html.contains(outside), "report.html fetches `{outside}`");
    }
    assert!(html.contains("Strategies side by side") && html.contains("add-column"));

    let md = std::fs::read_to_string(sandbox.out().join("report.md")).unwrap();
    assert!(md.contains("## rehearse · formats: **FAILED**"), "{md}");
    assert!(md.contains("| `max-lock-wait` | plain |"), "{md}");
    assert!(md.contains("| careful | succeeded |"), "{md}");

    let junit = std::fs::read_to_string(sandbox.out().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 7, "{junit}");
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(
        junit.contains("<failure message=\"max-lock-wait breached\""),
        "{junit}"
    );

    // `render` rebuilds each format from report.json alone.
    for (format, file) in [
        ("html", "report.html"),
        ("md", "report.md"),
        ("junit", "junit.xml"),
    ] {
        let out = sandbox.run(&["render", "out/report.json", "--format", format]);
        assert_exit(&out, 0);
        let again = std::fs::read_to_string(sandbox.out().join(file)).unwrap();
        assert_eq!(stdout(&out), again, "render --format {format}");
    }

    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium to check report.html"
        );
        eprintln!("chromium not installed: skipping the browser check");
        return;
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let page = format!("file://{}", sandbox.out().join("report.html").display());
    let browse = |extra: &[&str]| {
        Command::new(&browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1100,3000",
            ])
            .args(extra)
            .arg(&page)
            .env("HOME", sandbox.path())
            .output()
            .unwrap()
    };
    let dom = browse(&["--dump-dom"]);
    assert!(dom.status.success(), "{}", stderr(&dom));
    let rendered = stdout(&dom);
    assert!(
        rendered.matches("<svg").count() >= 5,
        "charts missing from the rendered page"
    );
    assert!(
        rendered.contains("<polyline") || rendered.contains("<path"),
        "charts have no lines"
    );
    let log = stderr(&dom);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let out = browse(&[&format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let size = std::fs::metadata(&shot).map_or(0, |m| m.len());
    assert!(
        size > 20_000,
        "screenshot {} is {size} bytes",
        shot.display()
    );
    eprintln!("screenshot kept at {}", shot.display());
}

#[test]
fn render_refuses_other_versions_and_broken_files_clearly() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "v3.json",
        r#"{"schema_version": 3, "tool": {"name": "rehearse", "version": "0.3.0"}}"#,
    );
    let out = sandbox.run(&["render", "v3.json"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("schema_version 3"),
        "{}",
        stderr(&out)
    );
    sandbox.write("cut.json", r#"{"schema_version": 1, "tool": {"na"#);
    let out = sandbox.run(&["render", "cut.json", "--format", "md"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("failed to parse report"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn diff_names_regressions_and_compare_shows_strategies_side_by_side() {
    let sandbox = Sandbox::new();
    let scenario = r#"
name = "diffs"
[schema]
sql = "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL);"
[seed.tables.t]
rows = 20_000
[[strategy]]
name = "catalog"
steps = [{ name = "add", sql = "ALTER TABLE t ADD COLUMN w int DEFAULT 1" }]
[[strategy]]
name = "rewrite"
steps = [{ name = "add", sql = "ALTER TABLE t ADD COLUMN w float8 DEFAULT random()" }]
"#;
    sandbox.write("s.toml", scenario);
    let out = sandbox.run_shared(&["compare", "s.toml", "--out", "out"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("side by side"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        line("rewrite").contains("t,") || line("rewrite").contains(" t"),
        "{text}"
    );
    assert!(line("catalog").contains("none"), "{text}");

    // Tonight's run, doctored: the catalog step got slow and rewrites now.
    let base = std::fs::read_to_string(sandbox.out().join("report.json")).unwrap();
    let mut new: serde_json::Value = serde_json::from_str(&base).unwrap();
    let step = &mut new["strategies"][0]["steps"][0];
    step["duration_s"] = serde_json::json!(5.0);
    step["rewrites"] = serde_json::json!([{ "relation": "t", "kind": "table" }]);
    sandbox.write("base.json", &base);
    sandbox.write("new.json", &new.to_string());
    let out = sandbox.run(&["diff", "base.json", "new.json"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("REGRESSION catalog / add · duration"),
        "{text}"
    );
    assert!(
        text.contains("REGRESSION catalog / add · rewrites"),
        "{text}"
    );
    assert!(!text.contains("REGRESSION rewrite"), "{text}");

    let out = sandbox.run(&["diff", "base.json", "new.json", "--md"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("| ❌ | catalog / add | duration |"),
        "{}",
        stdout(&out)
    );

    let out = sandbox.run(&["diff", "base.json", "base.json"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("no regression"));

    new["scenario"]["name"] = serde_json::json!("other");
    sandbox.write("other.json", &new.to_string());
    let out = sandbox.run(&[
        "diff",
        "base.json",
        "other.json",
        "--threshold",
        "10",
        "--min-change",
        "10s",
    ]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("different scenarios"), "{text}");
    assert!(
        !text.contains("· duration") || !text.contains("REGRESSION catalog / add · duration"),
        "{text}"
    );

    let out = sandbox.run(&["compare", "s.toml", "--strategy", "catalog"]);
    assert_exit(&out, 2);
}

#[test]
fn estimate_fits_scales_and_refuses_scales_that_cannot_be_fitted() {
    let sandbox = Sandbox::new();
    let scenario = r#"
name = "estimates"
[schema]
sql = "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL);"
[seed.tables.t]
rows = 100_000
[[strategy]]
name = "rewrite"
steps = [{ name = "widen", sql = "ALTER TABLE t ALTER COLUMN v TYPE bigint" }]
"#;
    sandbox.write("s.toml", scenario);
    for (scales, message) in [
        ("0.1", "at least two scales"),
        ("0.2,0.1", "must grow"),
        ("0.1,0.1", "must grow"),
        ("0,0.1", "above 0"),
    ] {
        let out = sandbox.run(&["estimate", "s.toml", "--scales", scales]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(message), "{scales}: {}", stderr(&out));
    }
    let out = sandbox.run(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.1,0.2",
        "--target",
        "0.2",
        "--measure-target",
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("is not above the largest scale"),
        "{}",
        stderr(&out)
    );
    let out = sandbox.run(&["estimate", "s.toml", "--scales", "0.1,0.2", "--repeat", "0"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--repeat must be between 1 and 20"),
        "{}",
        stderr(&out)
    );
    let out = sandbox.run(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.1,0.2",
        "--repeat",
        "3",
        "--max-repeat",
        "2",
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--max-repeat 2 is below --repeat 3"),
        "{}",
        stderr(&out)
    );
    let out = sandbox.run_shared(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.1,0.2,0.4",
        "--target",
        "1",
        "--max-repeat",
        "2",
        "--out",
        "out",
    ]);
    assert_exit(&out, 0);
    // The shared server is the url backend: its settings cannot be scaled, and it says so.
    assert!(
        stderr(&out).contains("settings were not scaled"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("rewrite / widen"), "{text}");
    assert!(text.contains("2 rehearsals each"), "{text}");
    assert!(
        text.contains("predicted") && text.contains("at 100000 rows"),
        "{text}"
    );
    let estimate: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.out().join("estimate.json")).unwrap(),
    )
    .unwrap();
    let step = &estimate["steps"][0];
    assert_eq!(step["points"].as_array().unwrap().len(), 6);
    assert_eq!(estimate["repeat"], 2);
    assert_eq!(step["target_rows"], 100_000);
    assert!(step["predicted_s"].as_f64().unwrap() > 0.0);
    assert!(step["low_s"].as_f64() <= step["predicted_s"].as_f64());
    for scale in ["0.1/run-1", "0.1/run-2", "0.2/run-1", "0.4/run-2"] {
        let path = sandbox.out().join(format!("scale-{scale}/report.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        crate::common::assert_valid_report(&report);
    }
}

#[test]
fn estimate_rehearses_noisy_steps_again_until_their_prediction_is_precise() {
    let sandbox = Sandbox::new();
    // A step whose duration grows with the rows, times a factor drawn between 0.2 and 1.8 each
    // run: its prediction stays uncertain, and with --max-uncertainty 0 any uncertainty at all
    // (over 0.1 s) asks for another round, so the rounds go on to --max-repeat. The
    // catalog-only step beside it is too fast to extrapolate and needs no more repeats.
    sandbox.write(
        "s.toml",
        r#"
name = "noisy"
[schema]
sql = "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL);"
[seed.tables.t]
rows = 100_000
[[strategy]]
name = "noisy"
steps = [{ name = "sleep", sql = "SELECT pg_sleep((SELECT count(*) FROM t) / 100000.0 * 2.5 * (0.2 + 1.6 * random()))" }]
[[strategy]]
name = "quiet"
steps = [{ name = "add-column", sql = "ALTER TABLE t ADD COLUMN w int" }]
"#,
    );
    let out = sandbox.run_shared(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.1,0.2,0.4",
        "--max-repeat",
        "3",
        "--max-uncertainty",
        "0",
        "--out",
        "out",
    ]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("the rehearsals' noise leaves noisy / sleep ±")
            && err.contains("rehearsing the scales again (3 of at most 3)"),
        "{err}"
    );
    assert!(
        err.contains("rehearsing at scale 0.4 (3 of at most 3)"),
        "{err}"
    );
    assert!(!err.contains("(4 of"), "{err}");
    assert!(
        err.contains("estimate: after 3 rehearsals per scale"),
        "{err}"
    );
    let text = stdout(&out);
    assert!(text.contains("up to 3 rehearsals each"), "{text}");
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(sandbox.out().join(path)).unwrap()).unwrap()
    };
    let estimate = read("estimate.json");
    let step = |name: &str| {
        estimate["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(step("sleep")["points"].as_array().unwrap().len(), 9);
    assert!(step("sleep")["prediction_sd"].as_f64().unwrap() > 0.0);
    // The quiet strategy ran in the first two rounds only, and is not missing anywhere.
    assert_eq!(step("add-column")["points"].as_array().unwrap().len(), 6);
    // Still uncertain after the last round allowed: said, on stderr and in the estimate.
    let notes = estimate["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].as_str().unwrap().starts_with(
            "after 3 rehearsals per scale (--max-repeat) the noise still leaves noisy / sleep ±"
        ),
        "{notes:?}"
    );
    assert!(text.contains("the noise leaves ±"), "{text}");
    let strategies = |path: &str| read(path)["strategies"].as_array().unwrap().len();
    assert_eq!(strategies("scale-0.4/run-2/report.json"), 2);
    assert_eq!(strategies("scale-0.4/run-3/report.json"), 1);
}
