//! Traffic against real Postgres: open-loop latency through a stall, app versions and deploys,
//! re-prepared statements, background sessions, and bad traffic refused before it starts.

use crate::common::{Sandbox, assert_exit, stderr};

/// Traffic tests run on the test binary's shared server.
const RUN: &[&str] = &["run", "s.toml", "--out", "out"];

/// A scenario with `users` (1,000 rows), the given traffic queries and strategies.
fn scenario(traffic: &str, strategies: &str) -> String {
    format!(
        r#"
name = "traffic-test"
[schema]
sql = """
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL
);
"""
[seed.tables.users]
rows = 1_000
[traffic]
rate = 200
connections = 4
baseline = "1s"
recovery = "1s"
{traffic}
{strategies}
"#
    )
}

const READ: &str = r#"
[[traffic.query]]
name = "read"
sql = "SELECT email FROM users WHERE id = $1"
params = [{ key = "users.id", dist = "zipf" }]
"#;

fn run(text: &str) -> (std::process::Output, serde_json::Value) {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", text);
    let out = sandbox.run_shared(RUN);
    let report = if sandbox.out().join("report.json").exists() {
        sandbox.report()
    } else {
        serde_json::Value::Null
    };
    (out, report)
}

fn phase<'a>(traffic: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    traffic["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no phase {name}"))
}

#[test]
fn a_stall_shows_in_latency_and_every_scheduled_operation_is_recorded() {
    let strategies = r#"
[[strategy]]
name = "stall"
steps = [{ name = "hold-lock", sql = "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT;" }]
"#;
    let (out, report) = run(&scenario(READ, strategies));
    assert_exit(&out, 0);
    let traffic = &report["strategies"][0]["traffic"];
    let scheduled = traffic["scheduled"].as_u64().unwrap();
    assert!(scheduled > 200, "{traffic}");
    assert_eq!(traffic["recorded"], scheduled);
    assert_eq!(traffic["failed"], 0);
    let names: Vec<&str> = traffic["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["baseline", "hold-lock", "recovery"]);
    // Open loop: operations due during the 1 s lock wait for it; their latency shows it.
    let step = phase(traffic, "hold-lock");
    assert!(
        step["all"]["latency"]["max_ms"].as_f64().unwrap() > 500.0,
        "{step}"
    );
    assert!(step["all"]["service"]["max_ms"].as_f64().unwrap() > 0.0);
    let during = &traffic["during_migration"];
    assert_eq!(during["count"], step["all"]["count"]);
    // The time series covers the run and shows the queue during the stall.
    let series = traffic["series"].as_array().unwrap();
    assert!(series.len() >= 3, "{series:?}");
    assert!(series.iter().any(|i| i["queued"].as_u64().unwrap() > 0));
    let completed: u64 = series
        .iter()
        .map(|i| i["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, scheduled);
}

#[test]
fn samples_held_while_every_connection_waits_reach_their_own_interval() {
    // Closed loop: each connection holds its last samples while its next operation waits for
    // the lock; the ticker must fetch them so they count where they completed. Held until the
    // lock goes, they would land in the oldest open interval then: one that ends within a tick
    // (100 ms) or two of the release, and before it (unless it ends in the last 20 ms, where
    // the operations the release lets through may complete before the step's end is read: the
    // step starts just after an interval's start, so a 1.55 s lock ends mid-interval).
    let text = scenario(READ, "").replace("rate = 200", "rate = \"max\"\ninterval = \"100ms\"")
        + r#"
[[strategy]]
name = "stall"
steps = [{ name = "hold-lock", sql = "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.55); COMMIT;" }]
"#;
    let (out, report) = run(&text);
    assert_exit(&out, 0);
    let strategy = &report["strategies"][0];
    let step = &strategy["steps"][0];
    let start = step["start_s"].as_f64().unwrap();
    let end = start + step["duration_s"].as_f64().unwrap();
    let series = strategy["traffic"]["series"].as_array().unwrap();
    let inside: Vec<&serde_json::Value> = series
        .iter()
        .filter(|i| {
            let at = i["t_s"].as_f64().unwrap();
            at > start + 0.3 && at + 0.1 < end - 0.02
        })
        .collect();
    assert!(inside.len() >= 5, "{step} {series:?}");
    assert!(
        inside.iter().all(|i| i["completed"] == 0),
        "operations counted inside the stall: {inside:?}"
    );
}

#[test]
fn old_code_breaks_on_a_rename_until_the_deploy() {
    let traffic = r#"
[[traffic.query]]
name = "read-v1"
app = ["v1"]
sql = "SELECT full_name FROM users WHERE id = $1"
params = [{ key = "users.id" }]
[[traffic.query]]
name = "read-v2"
app = ["v2"]
sql = "SELECT name FROM users WHERE id = $1"
params = [{ key = "users.id" }]
"#;
    let strategies = r#"
[[strategy]]
name = "rename-first"
steps = [
  { name = "rename", sql = "ALTER TABLE users RENAME COLUMN full_name TO name" },
  { pause = "500ms" },
  { deploy = "v2" },
  { pause = "500ms" },
]
"#;
    let (out, report) = run(&scenario(traffic, strategies));
    assert_exit(&out, 0);
    let traffic = &report["strategies"][0]["traffic"];
    let errors = traffic["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["class"] == "schema_mismatch"
            && e["query"] == "read-v1"
            && e["sqlstate"] == "42703"),
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| e["query"] == "read-v1"), "{errors:?}");
    let steps = report["strategies"][0]["steps"].as_array().unwrap();
    assert_eq!(steps[2]["kind"], "deploy");
    assert_eq!(steps[2]["source"], "deploy v2");
    // After the deploy only v2 runs, and it works.
    let after = phase(traffic, "pause 500ms");
    let recovery = phase(traffic, "recovery");
    assert_eq!(recovery["queries"][0]["query"], "read-v2");
    assert_eq!(recovery["all"]["errors"], 0);
    assert!(after["all"]["count"].as_u64().unwrap() > 0);
}

#[test]
fn a_deploy_waits_for_the_rollout_in_progress() {
    let traffic = r#"
[[traffic.query]]
name = "read"
app = ["v1", "v2", "v3"]
sql = "SELECT full_name FROM users WHERE id = $1"
params = [{ key = "users.id" }]
"#;
    let strategies = r#"
[[strategy]]
name = "two-deploys"
steps = [
  { deploy = "v2", over = "1500ms", wait = false },
  { deploy = "v3" },
]
"#;
    let (out, report) = run(&scenario(traffic, strategies));
    assert_exit(&out, 0);
    let steps = report["strategies"][0]["steps"].as_array().unwrap();
    // v3 starts only once v2's rollout has ended: its step lasts the rest of that rollout.
    let second = steps[1]["duration_s"].as_f64().unwrap();
    assert!(second > 1.2, "{second}");
}

#[test]
fn an_invalidated_cached_plan_is_reprepared_not_failed() {
    let traffic = r#"
[[traffic.query]]
name = "read-all"
sql = "SELECT * FROM users WHERE id = $1"
params = [{ key = "users.id" }]
"#;
    let strategies = r#"
[[strategy]]
name = "add"
steps = [{ sql = "ALTER TABLE users ADD COLUMN extra int" }]
"#;
    let (out, report) = run(&scenario(traffic, strategies));
    assert_exit(&out, 0);
    let traffic = &report["strategies"][0]["traffic"];
    assert!(traffic["reprepared"].as_u64().unwrap() > 0, "{traffic}");
    assert_eq!(traffic["failed"], 0, "{}", traffic["errors"]);
}

#[test]
fn a_background_reader_blocks_the_migration_and_the_app_queues_behind_it() {
    let background = r#"
[[traffic.background]]
name = "long reader"
sql = "SELECT count(*) FROM users, pg_sleep(1.5)"
start = "500ms"
[[traffic.background]]
name = "idle in transaction"
sql = "SELECT 1"
start = "0s"
hold = "200ms"
"#;
    let strategies = r#"
[[strategy]]
name = "alter"
steps = [{ name = "alter", sql = "ALTER TABLE users ADD COLUMN extra int" }]
"#;
    let (out, report) = run(&scenario(&format!("{READ}{background}"), strategies));
    assert_exit(&out, 0);
    let traffic = &report["strategies"][0]["traffic"];
    let bg = traffic["background"].as_array().unwrap();
    assert_eq!(bg.len(), 2);
    assert_eq!(bg[0]["name"], "long reader");
    assert!(bg[0]["error"].is_null(), "{bg:?}");
    assert!(bg[1]["end_s"].as_f64().unwrap() - bg[1]["start_s"].as_f64().unwrap() >= 0.2);
    // The ALTER waited for the reader (started at 0.5 s, 1.5 s long, baseline 1 s).
    let step = &report["strategies"][0]["steps"][0];
    assert!(step["duration_s"].as_f64().unwrap() > 0.5, "{step}");
    let alter = phase(traffic, "alter");
    assert!(
        alter["all"]["latency"]["max_ms"].as_f64().unwrap() > 400.0,
        "{alter}"
    );
}

/// Validates `text`, asserting exit 2 and that stderr holds every needle.
#[track_caller]
fn refused_by_validate(text: &str, needles: &[&str]) {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", text);
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    for needle in needles {
        assert!(
            stderr(&out).contains(needle),
            "no `{needle}` in:\n{}",
            stderr(&out)
        );
    }
}

const ONE_STEP: &str = "[[strategy]]\nname = \"s\"\nsteps = [{ sql = \"SELECT 1\" }]\n";

#[test]
fn bad_traffic_is_refused_by_validate() {
    let base = scenario(READ, ONE_STEP);
    refused_by_validate(&base.replace("rate = 200", "rate = 0"), &["traffic.rate"]);
    refused_by_validate(
        &base.replace("connections = 4", "connections = 0"),
        &["traffic.connections", "1 to 1000"],
    );
    refused_by_validate(
        &base.replace("name = \"read\"", "name = \"read\"\nweight = 0"),
        &["weight above 0"],
    );
    refused_by_validate(
        &base.replace(
            "{ key = \"users.id\", dist = \"zipf\" }",
            "{ fake = \"nonsense\" }",
        ),
        &["traffic.query[0].params[0]", "unknown fake kind `nonsense`"],
    );
    refused_by_validate(
        &base.replace(
            "{ key = \"users.id\", dist = \"zipf\" }",
            "{ key = \"users.id\", fake = \"name\" }",
        ),
        &["exactly one of `key`, `fake`"],
    );
    refused_by_validate(
        &scenario(
            READ,
            "[[strategy]]\nname = \"s\"\nsteps = [{ deploy = \"v9\" }]\n",
        ),
        &["strategy[0].steps[0].deploy", "`v9`"],
    );
    refused_by_validate(
        &base.replace("dist = \"zipf\"", "dist = \"pareto\""),
        &["pareto"],
    );
    // Replays: a capture that is not there, or holds no statement; a replay with queries too;
    // a speed of 0; a pattern that does not compile.
    refused_by_validate(
        &base.replace("rate = 200", "replay = \"missing.log\""),
        &["traffic.replay", "cannot read", "missing.log"],
    );
    let sandbox = Sandbox::new();
    sandbox.write(
        "quiet.log",
        "2026-11-30 12:00:00.100 UTC [11] LOG:  checkpoint starting: time\n",
    );
    sandbox.write(
        "s.toml",
        &scenario("", ONE_STEP)
            .replace("rate = 200\nconnections = 4", "replay = \"quiet.log\"")
            .replace("[traffic]", "[traffic]\nspeed = 0"),
    );
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("traffic.speed"), "{}", stderr(&out));
    sandbox.write(
        "s.toml",
        &scenario("", ONE_STEP).replace("rate = 200\nconnections = 4", "replay = \"quiet.log\""),
    );
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("holds no statements to replay")
            && stderr(&out).contains("log_min_duration_statement"),
        "{}",
        stderr(&out)
    );
    sandbox.write(
        "busy.log",
        "2026-11-30 12:00:00.100 UTC [11] LOG:  duration: 0.1 ms  statement: SELECT 1\n",
    );
    sandbox.write(
        "s.toml",
        &base.replace(
            "rate = 200\nconnections = 4",
            "replay = \"busy.log\"\ninclude = [\"(\"]",
        ),
    );
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("not a regular expression"), "{err}");
    assert!(
        err.contains("either `replay` or [[traffic.query]]"),
        "{err}"
    );
}

#[test]
fn traffic_that_does_not_fit_the_schema_is_refused_before_it_starts() {
    let cases = [
        (
            READ.replace("SELECT email", "SELECT emale"),
            vec!["read", "traffic.query[0]", "emale"],
        ),
        (
            READ.replace("WHERE id = $1", "WHERE id = $1 AND email = $2"),
            vec!["read", "2 parameter(s) but 1 are given"],
        ),
        (
            READ.replace("users.id", "userz.id"),
            vec!["traffic.query[0].params[0]", "userz.id"],
        ),
    ];
    for (traffic, needles) in cases {
        let (out, report) = run(&scenario(&traffic, ONE_STEP));
        assert_exit(&out, 2);
        for needle in needles {
            assert!(
                stderr(&out).contains(needle),
                "no `{needle}` in:\n{}",
                stderr(&out)
            );
        }
        assert_eq!(report["outcome"], "error");
    }
}
