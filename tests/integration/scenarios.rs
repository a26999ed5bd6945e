//! The shipped scenario library (`scenarios/`): each validates, and each one's documented
//! effect — a rewrite or none, the application queued behind the migration or not, errors or
//! none, what a failed build leaves — holds when it runs at a small scale on the shared server.
//! The traffic's baseline and recovery are shortened; nothing else is changed. Full-scale runs
//! are by hand (docs/scenarios.md).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{Sandbox, assert_exit, stderr, stdout};

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The shipped scenario `name`, its schema found from anywhere, its baseline and recovery
/// shortened to 2 s.
fn shortened(name: &str) -> String {
    std::fs::read_to_string(library().join(format!("{name}.toml")))
        .unwrap()
        .replace(
            "file = \"shop/",
            &format!("file = \"{}/shop/", library().display()),
        )
        .replace("baseline = \"5s\"", "baseline = \"2s\"")
        .replace("recovery = \"5s\"", "recovery = \"2s\"")
}

/// Runs the shipped scenario `name` (shortened) at `scale` with `backend`'s flags; it must
/// finish with a verdict (exit 0 or 1). Returns the sandbox, the output and the report.
fn run_library(name: &str, scale: &str, backend: &[String]) -> (Sandbox, Output, Value) {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &shortened(name));
    let out = sandbox
        .command(&["run", "s.toml", "--out", "out", "--scale", scale])
        .args(backend)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = sandbox.report();
    (sandbox, out, report)
}

/// Runs the shipped scenario `name` at `scale` on the shared server and returns its report.
/// Steps fail and errors happen only where the scenario expects them (`expect = "breach"`);
/// latency budgets are timings of a shared test machine, not behaviour, so their breaches are
/// not judged here.
fn rehearse(name: &str, scale: &str) -> Value {
    let (_, _, report) = run_library(name, scale, &crate::common::shared());
    for b in report["verdict"]["breaches"].as_array().unwrap() {
        let timing = ["p99-during-migration", "max-lock-wait", "p99-vs-baseline"]
            .contains(&b["budget"].as_str().unwrap());
        assert!(b["expected"] == true || timing, "an unexpected breach: {b}");
    }
    report
}

fn strategy<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no strategy {name}"))
}

fn step<'a>(strategy: &'a Value, name: &str) -> &'a Value {
    strategy["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {}", strategy["name"]))
}

/// The relations a step rewrote.
fn rewrites(step: &Value) -> Vec<&str> {
    step["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relation"].as_str().unwrap())
        .collect()
}

/// Whether a step held `mode` on `relation`.
fn held(step: &Value, mode: &str, relation: &str) -> bool {
    step["locks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["mode"] == mode && l["relation"] == relation)
}

/// No step of the strategy rewrote anything.
fn no_rewrite(strategy: &Value) {
    for s in strategy["steps"].as_array().unwrap() {
        assert!(rewrites(s).is_empty(), "{} rewrote: {s}", strategy["name"]);
    }
}

/// Application errors of the strategy, by class.
fn errors(strategy: &Value) -> &serde_json::Map<String, Value> {
    strategy["figures"]["errors_by_class"].as_object().unwrap()
}

fn app_waits_behind_migration(step: &Value) -> u64 {
    step["lock_summary"]["app_waits_behind_migration"]
        .as_u64()
        .unwrap_or(0)
}

fn expected_breaches(report: &Value) -> Vec<String> {
    report["verdict"]["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["expected"] == true)
        .map(|b| b["strategy"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_shipped_scenario_validates() {
    let sandbox = Sandbox::new();
    let mut names: Vec<_> = std::fs::read_dir(library())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    for path in names {
        let out = sandbox.run(&["validate", path.to_str().unwrap()]);
        assert_exit(&out, 0);
        assert!(stdout(&out).starts_with("ok:"), "{}", stderr(&out));
    }
}

#[test]
fn add_index_plain_queues_writes_and_concurrently_does_not() {
    let report = rehearse("add-index", "0.3");
    let plain = &strategy(&report, "plain")["steps"][0];
    assert!(held(plain, "ShareLock", "orders"), "{plain}");
    assert!(app_waits_behind_migration(plain) > 0, "{plain}");
    let concurrently = &strategy(&report, "concurrently")["steps"][0];
    assert!(held(concurrently, "ShareUpdateExclusiveLock", "orders"));
    assert!(!held(concurrently, "ShareLock", "orders"));
    assert_eq!(
        app_waits_behind_migration(concurrently),
        0,
        "{concurrently}"
    );
    for s in ["plain", "concurrently"] {
        no_rewrite(strategy(&report, s));
        assert!(errors(strategy(&report, s)).is_empty());
    }
}

#[test]
fn add_not_null_column_rewrites_only_with_a_volatile_default() {
    let report = rehearse("add-not-null-column", "0.05");
    let volatile = step(strategy(&report, "volatile-default"), "add-ref");
    assert!(rewrites(volatile).contains(&"orders"), "{volatile}");
    no_rewrite(strategy(&report, "constant-default"));
    let staged = strategy(&report, "staged");
    no_rewrite(staged);
    assert_eq!(staged["status"], "succeeded");
    assert!(held(
        step(staged, "validate"),
        "ShareUpdateExclusiveLock",
        "orders"
    ));
    assert!(staged["leftovers"].as_array().unwrap().is_empty());
    for s in ["constant-default", "staged"] {
        assert!(errors(strategy(&report, s)).is_empty());
    }
}

#[test]
fn add_foreign_key_validates_without_blocking_writes() {
    let report = rehearse("add-foreign-key", "0.05");
    let direct = step(strategy(&report, "direct"), "add-fk");
    assert!(
        held(direct, "ShareRowExclusiveLock", "payments"),
        "{direct}"
    );
    assert!(held(direct, "ShareRowExclusiveLock", "orders"), "{direct}");
    let safe = strategy(&report, "not-valid-then-validate");
    let validate = step(safe, "validate");
    assert!(held(validate, "ShareUpdateExclusiveLock", "payments"));
    assert!(!held(validate, "ShareRowExclusiveLock", "payments"));
    assert!(safe["leftovers"].as_array().unwrap().is_empty(), "{safe}");
    assert!(errors(safe).is_empty());
}

#[test]
fn add_unique_constraint_adopts_a_concurrent_index_and_a_failed_build_is_flagged() {
    let report = rehearse("add-unique-constraint", "0.05");
    let direct = step(strategy(&report, "direct"), "add-unique");
    assert!(held(direct, "AccessExclusiveLock", "payments"), "{direct}");
    let safe = strategy(&report, "index-concurrently-then-constraint");
    assert_eq!(safe["status"], "succeeded");
    assert!(held(
        step(safe, "build-index"),
        "ShareUpdateExclusiveLock",
        "payments"
    ));
    assert!(errors(safe).is_empty());
    let dupes = strategy(&report, "concurrently-on-duplicates");
    assert_eq!(dupes["status"], "failed");
    assert_eq!(dupes["steps"][0]["error"]["sqlstate"], "23505");
    let leftovers = dupes["leftovers"].as_array().unwrap();
    assert!(
        leftovers
            .iter()
            .any(|l| l["name"] == "payments_order_id_key"),
        "{leftovers:?}"
    );
    assert!(expected_breaches(&report).contains(&"concurrently-on-duplicates".to_owned()));
}

#[test]
fn change_column_type_rewrites_only_when_the_bytes_change() {
    let report = rehearse("change-column-type", "0.05");
    let direct = step(strategy(&report, "direct"), "to-bigint");
    assert!(rewrites(direct).contains(&"payments"), "{direct}");
    no_rewrite(strategy(&report, "binary-compatible"));
    let expand = strategy(&report, "expand-contract");
    assert_eq!(expand["status"], "succeeded", "{expand}");
    no_rewrite(expand);
    for s in ["binary-compatible", "expand-contract"] {
        assert!(errors(strategy(&report, s)).is_empty(), "{s}");
    }
}

#[test]
fn drop_column_in_the_same_deploy_breaks_the_old_code() {
    let report = rehearse("drop-column", "0.05");
    let same = strategy(&report, "same-deploy");
    assert!(
        same["figures"]["errors_by_class"]["schema_mismatch"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{}",
        same["figures"]
    );
    assert!(errors(strategy(&report, "after-deploy")).is_empty());
    assert_eq!(expected_breaches(&report), ["same-deploy"]);
}

#[test]
fn rename_column_breaks_old_code_unless_expanded_and_contracted() {
    let report = rehearse("rename-column", "0.05");
    let plain = strategy(&report, "plain-rename");
    let by_class = errors(plain);
    assert!(
        by_class
            .get("schema_mismatch")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0,
        "{by_class:?}"
    );
    let expand = strategy(&report, "expand-contract");
    assert_eq!(expand["status"], "succeeded", "{expand}");
    assert!(errors(expand).is_empty(), "{:?}", errors(expand));
    no_rewrite(expand);
}

#[test]
fn backfill_in_batches_commits_each_batch() {
    let report = rehearse("backfill", "0.05");
    let rows = report["seed"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "orders")
        .map(|t| t["rows"].as_u64().unwrap())
        .unwrap();
    let one = step(strategy(&report, "one-update"), "update-all");
    assert_eq!(one["rows"], rows, "{one}");
    for (name, batch) in [("batches-1000", 1000), ("batches-5000-throttled", 5000)] {
        let s = strategy(&report, name);
        let backfill = &step(s, "backfill")["backfill"];
        assert_eq!(backfill["rows"], rows, "{backfill}");
        assert!(backfill["batches"].as_u64().unwrap() >= rows.div_ceil(batch));
        assert!(errors(s).is_empty());
    }
}

#[test]
fn lock_queue_the_app_queues_behind_a_waiting_alter_unless_it_times_out() {
    let report = rehearse("lock-queue", "0.05");
    let plain = &strategy(&report, "plain")["steps"][0];
    assert!(app_waits_behind_migration(plain) > 0, "{plain}");
    assert!(plain["lock_summary"]["migration_wait_s"].as_f64().unwrap() > 1.0);
    let retry = &strategy(&report, "lock-timeout-retry")["steps"][0];
    assert!(retry["attempts"].as_array().unwrap().len() > 1, "{retry}");
    assert_eq!(retry["status"], "succeeded");
}

/// Several majors need a backend that starts servers: a `--database-url` (the url backend,
/// chosen by `auto` too) names one server and is refused before anything starts.
#[test]
fn several_majors_on_one_given_server_are_refused() {
    let sandbox = Sandbox::new();
    let path = library().join("lock-queue.toml");
    for extra in [&[][..], &["--backend", "url"][..]] {
        let mut args = vec![
            "run",
            path.to_str().unwrap(),
            "--postgres",
            "15,17",
            "--database-url",
            "postgresql://x@127.0.0.1:1/x",
        ];
        args.extend_from_slice(extra);
        let out = sandbox.run(&args);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("one server it is given"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_major_listed_twice_is_refused_not_merged() {
    let sandbox = Sandbox::new();
    let path = library().join("lock-queue.toml");
    let out = sandbox.run(&["run", path.to_str().unwrap(), "--postgres", "15,17,15"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`--postgres`: 15 is listed twice"),
        "{}",
        stderr(&out)
    );
}

/// connection-headroom, on a server of its own (its `max_connections = 32`; the shared server's
/// connections are every test's): the deploy that opens the new version's 20 connections
/// beside the pool is refused past the limit — 53300 errors of class `resources`, counted and
/// in the errors under `connect (v2)` — while one instance at a time stays under it; the report
/// counts the connections against the limit.
#[test]
fn connection_headroom_runs_out_when_the_whole_new_version_connects() {
    let own_server = ["--backend", "local", "--postgres", "15"].map(String::from);
    let (sandbox, out, report) = run_library("connection-headroom", "0.05", &own_server);
    let all = strategy(&report, "all-at-once");
    let traffic = &all["traffic"];
    let refused = traffic["refused_connections"].as_u64().unwrap();
    assert!(refused > 0, "{traffic}");
    assert!(traffic["surge_connections"].as_u64().unwrap() < 20);
    let connect = traffic["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["query"] == "connect (v2)")
        .unwrap_or_else(|| panic!("no connect errors: {traffic}"));
    assert_eq!(connect["sqlstate"], "53300");
    assert_eq!(connect["class"], "resources");
    assert_eq!(connect["count"].as_u64(), Some(refused));
    assert!(all["figures"]["errors_by_class"]["resources"].as_u64() >= Some(refused));
    let connections = &all["connections"];
    assert_eq!(connections["max_connections"], 32);
    assert!(connections["reserved"].as_u64().unwrap() >= 3);
    assert_eq!(connections["peak"], 32, "{connections}");
    assert!(
        stdout(&out).contains("attempts refused"),
        "{}",
        stdout(&out)
    );

    let safe = strategy(&report, "one-at-a-time");
    assert_eq!(
        safe["traffic"]["refused_connections"], 0,
        "{}",
        safe["traffic"]
    );
    assert_eq!(safe["traffic"]["surge_connections"], 5);
    assert_eq!(safe["figures"]["errors"], 0);
    let peak = safe["connections"]["peak"].as_u64().unwrap();
    assert!((25..32).contains(&peak), "{}", safe["connections"]);
    // The expected breach is the only one: the run passes.
    assert_exit(&out, 0);
    crate::common::assert_consistent_report(&sandbox.out().join("report.json"));
}

/// A deploy's `connections` and `wait` are checked before anything runs.
#[test]
fn bad_deploy_connections_are_refused_by_validate() {
    let sandbox = Sandbox::new();
    let text = std::fs::read_to_string(library().join("connection-headroom.toml")).unwrap();
    for (from, to, said) in [
        (
            "over = \"15s\", connections = 20",
            "connections = 20",
            "need a rollout: `over` longer than 0",
        ),
        (
            "max_connections = 32",
            "max_connections = 12",
            "12 cannot hold the traffic's 20 connections",
        ),
        (
            "connections = 20,",
            "connections = 0,",
            "must be between 1 and 10000, not 0",
        ),
        (
            "connections = 20,",
            "connections = 99999999999,",
            "must be between 1 and 10000",
        ),
        (
            "pause = \"15s\" },\n]\n\n[[strategy]]\nname = \"one-at-a-time\"",
            "pause = \"15s\", wait = false },\n]\n\n[[strategy]]\nname = \"one-at-a-time\"",
            "`wait` goes with `deploy`",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        sandbox.write("s.toml", &text.replacen(from, to, 1));
        let out = sandbox.run(&["validate", "s.toml"]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(said), "{said}: {}", stderr(&out));
    }
}
