//! The local backend: real runs on a throwaway cluster, and proof that nothing is left behind
//! after a successful run, a failing step, and SIGINT. What steps do (splitting, retries, locks,
//! rewrites, migration folders, commands, backfills) is tested on the shared server.

use crate::common::{
    GOOD_AND_FAILING, SLOW, Sandbox, assert_exit, interrupt, scenario, stderr, stdout,
};

const LOCAL: &[&str] = &["--backend", "local", "--out", "out"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["run", "s.toml"];
    all.extend_from_slice(LOCAL);
    all.extend_from_slice(extra);
    all
}

/// Tests of what steps do, not of the backend, run on the test binary's shared server.
const SHARED: &[&str] = &["run", "s.toml", "--out", "out"];

#[test]
fn a_run_reports_steps_with_durations_and_cleans_up() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&args(&["--strategy", "works", "--seed", "7"]));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("verdict  PASSED"), "{}", stdout(&out));

    let report = sandbox.report();
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["environment"]["backend"], "local");
    assert_eq!(report["environment"]["seed"], 7);
    assert_eq!(report["environment"]["settings"]["log_lock_waits"], "on");
    assert_eq!(report["environment"]["settings"]["wal_init_zero"], "off");
    assert!(report["environment"]["server_version"].is_string());
    let tables = report["seed"]["tables"].as_array().unwrap();
    assert_eq!(tables[0]["table"], "users");
    assert_eq!(tables[0]["rows"], 2000);
    assert_eq!(tables[1]["table"], "orders");
    let strategies = report["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 1);
    for step in strategies[0]["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "succeeded");
        assert!(step["duration_s"].as_f64().unwrap() > 0.0);
        assert!(step["start_s"].as_f64().unwrap() > 0.0);
    }
    assert!(sandbox.out().join("postgres.log").exists());
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn estimate_scales_the_servers_memory_but_keeps_parallel_index_builds() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        r#"
name = "memory"
[schema]
sql = "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL);"
[seed.tables.t]
rows = 4000
[[strategy]]
name = "index"
steps = [{ name = "index-v", sql = "CREATE INDEX t_v_idx ON t (v)" }]
"#,
    );
    let out = sandbox.run(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.25,0.5",
        "--repeat",
        "1",
        "--backend",
        "local",
        "--out",
        "out",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("maintenance_work_mem 67.1 MB (kept for parallel index builds"),
        "{text}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.out().join("scale-0.25/report.json")).unwrap(),
    )
    .unwrap();
    // A quarter of the defaults' 128 MB and 1 GB; the 64 MB that gives an index build its
    // worker stays.
    let settings = &report["environment"]["settings"];
    assert_eq!(settings["shared_buffers"], "32MB", "{settings}");
    assert_eq!(settings["max_wal_size"], "256MB", "{settings}");
    assert_eq!(settings["maintenance_work_mem"], "64MB", "{settings}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn estimate_measures_the_target_beside_the_scales_when_asked() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        r#"
name = "measured"
[schema]
sql = """
CREATE TABLE teams (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL,
                team_id int NOT NULL);
"""
[seed.tables.teams]
rows = 400
[seed.tables.t]
rows = 100_000
columns.team_id = { key = "teams.id" }
[[strategy]]
name = "rewrite"
steps = [{ name = "widen", sql = "ALTER TABLE t ALTER COLUMN v TYPE bigint" }]
[[strategy]]
name = "validate"
steps = [
  { name = "add-fk", sql = "ALTER TABLE t ADD FOREIGN KEY (team_id) REFERENCES teams NOT VALID" },
  { name = "validate-fk", sql = "ALTER TABLE t VALIDATE CONSTRAINT t_team_id_fkey" },
]
"#,
    );
    let out = sandbox.run(&[
        "estimate",
        "s.toml",
        "--scales",
        "0.25,0.5",
        "--repeat",
        "1",
        "--measure-target",
        "--backend",
        "local",
        "--out",
        "out",
    ]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("measuring the target, scale 1 (1 of 1)"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("from scales 0.25, 0.5:"), "{text}");
    assert!(text.contains("    measured    "), "{text}");
    assert!(text.contains("at scale 1: the prediction is"), "{text}");
    assert!(text.contains("the range holds"), "{text}");
    // The target's run is a plain rehearsal at scale 1: full rows, memory not scaled.
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(sandbox.out().join(path)).unwrap()).unwrap()
    };
    let report = read("scale-1/report.json");
    let rows = |report: &serde_json::Value, table: &str| {
        report["seed"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .map(|t| t["rows"].clone())
            .unwrap()
    };
    assert_eq!(rows(&report, "t"), 100_000);
    // The small table the foreign key looks up keeps the target's rows at every scale.
    assert!(
        text.contains("at the target's size at every scale (small tables, looked up rather than scanned): teams (400 rows)"),
        "{text}"
    );
    let small = read("scale-0.25/report.json");
    assert_eq!(rows(&small, "teams"), 400);
    assert_eq!(rows(&small, "t"), 25_000);
    let settings = &report["environment"]["settings"];
    assert!(settings.get("shared_buffers").is_none(), "{settings}");
    // Measured, not fitted.
    let estimate = read("estimate.json");
    assert_eq!(estimate["scales"], serde_json::json!([0.25, 0.5]));
    let step = &estimate["steps"][0];
    assert_eq!(step["points"].as_array().unwrap().len(), 2);
    assert_eq!(step["measured_s"].as_array().unwrap().len(), 1);
    let validate = estimate["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "validate-fk")
        .unwrap();
    // The rows it involves at the target: t's scaled, teams' as they were.
    assert_eq!(validate["target_rows"], 100_400, "{validate}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn an_interrupted_estimate_fits_the_rehearsals_that_finished() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        r#"
name = "interrupted-estimate"
[schema]
sql = "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL);"
[seed.tables.t]
rows = 4000
[[strategy]]
name = "wait"
steps = [{ name = "sleepy", sql = "SELECT pg_sleep(1)" }]
"#,
    );
    // Round 1 (both scales) has finished once round 2 starts.
    let (child, _) = sandbox.spawn_until(
        &[
            "estimate",
            "s.toml",
            "--scales",
            "0.25,0.5",
            "--repeat",
            "2",
            "--backend",
            "local",
            "--out",
            "out",
        ],
        "rehearsing at scale 0.25 (2 of 2)",
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let text = stdout(&out);
    assert!(
        text.contains("interrupted: fitted from the 2 of 4 rehearsals that finished"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(sandbox.out().join("estimate.json").exists());
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn a_failing_step_is_reported_and_the_run_cleans_up() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&args(&[]));
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("FAILED"), "{}", stdout(&out));

    let report = sandbox.report();
    assert_eq!(report["outcome"], "failed");
    let strategies = report["strategies"].as_array().unwrap();
    assert_eq!(strategies[0]["status"], "succeeded");
    assert_eq!(strategies[1]["status"], "failed");
    let steps = strategies[1]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[1]["status"], "failed");
    assert_eq!(steps[1]["error"]["sqlstate"], "42P01");
    assert!(
        steps[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("userz")
    );
    assert_eq!(steps[2]["status"], "skipped");
    assert_eq!(report["verdict"]["breaches"][0]["budget"], "step-failed");
    assert_eq!(report["verdict"]["breaches"][0]["step"], "typo");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn strategies_start_from_identical_data() {
    let sandbox = Sandbox::new();
    // Each strategy fails on purpose with a message holding a checksum of the seeded rows.
    let probe = r"DO $$ BEGIN RAISE EXCEPTION 'sum=%', (SELECT md5(string_agg(email || full_name, ',' ORDER BY id)) FROM users); END $$";
    let strategies = format!(
        "[[strategy]]\nname = \"a\"\nsteps = [{{ sql = '''{probe}''' }}]\n\
         [[strategy]]\nname = \"b\"\nsteps = [{{ sql = \"DELETE FROM orders\" }}, {{ sql = '''{probe}''' }}]\n"
    );
    sandbox.write("s.toml", &scenario(&strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let message = |s: usize, step: usize| {
        report["strategies"][s]["steps"][step]["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(message(0, 0).starts_with("sum="));
    assert_eq!(message(0, 0), message(1, 1));
}

#[test]
fn sigint_stops_the_step_cleans_up_and_reports_interrupted() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let (child, _) = sandbox.spawn_until(&args(&[]), "step sleepy running");
    std::thread::sleep(std::time::Duration::from_millis(300));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let report = sandbox.report();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["strategies"][0]["steps"][0]["status"], "interrupted");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn auto_falls_back_to_local_binaries_and_says_why() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox
        .command(&["run", "s.toml", "--strategy", "works", "--out", "out"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report = sandbox.report();
    assert_eq!(report["environment"]["backend"], "local");
    let notes = report["environment"]["notes"].to_string();
    assert!(notes.contains("not using a container"), "{notes}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn schema_and_seed_errors_are_scenario_errors() {
    let sandbox = Sandbox::new();
    let broken =
        scenario(GOOD_AND_FAILING).replace("total numeric(8, 2) NOT NULL", "total nummeric");
    sandbox.write("s.toml", &broken);
    let out = sandbox.run(&args(&[]));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("failed to create the schema"), "{err}");
    assert!(
        err.contains("nummeric") && err.contains("(line 10)"),
        "{err}"
    );
    assert_eq!(sandbox.report()["outcome"], "error");

    let unknown = scenario(GOOD_AND_FAILING).replace("[seed.tables.orders]", "[seed.tables.order]");
    sandbox.write("s.toml", &unknown);
    let out = sandbox.run(&args(&[]));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("seed.tables.order"), "{err}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

#[test]
fn sql_steps_split_statements_retry_lock_timeouts_and_report_locks() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "m/002_index.sql",
        "-- concurrently: cannot run in a transaction block; the step runs each statement alone\n\
         CREATE INDEX CONCURRENTLY users_name_idx ON users (full_name);\n\
         ANALYZE users;\n",
    );
    sandbox.write(
        "m/003_broken.sql",
        "ALTER TABLE users ADD COLUMN a int;\n\n-- a comment; with a semicolon\nALTER TABLE users ADD COLUMN b nosuchtype;\n",
    );
    let strategies = r#"
[[strategy]]
name = "ok"
steps = [
  { name = "two-in-one", sql = "ALTER TABLE users ADD COLUMN x int; UPDATE users SET x = 1 WHERE id <= 10; CREATE INDEX ON orders (total)" },
  { file = "m/002_index.sql" },
]
[[strategy]]
name = "broken"
steps = [{ file = "m/003_broken.sql" }]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let ok = &report["strategies"][0]["steps"];
    assert_eq!(ok[0]["status"], "succeeded");
    assert_eq!(ok[0]["rows"], 10, "{}", ok[0]);
    let locks = ok[0]["locks"].to_string();
    assert!(
        locks.contains("AccessExclusiveLock") && locks.contains("ShareLock"),
        "{locks}"
    );
    assert_eq!(ok[1]["status"], "succeeded", "{}", ok[1]);
    // Two statements, each on its own, no retry: one attempt (issue 16).
    assert_eq!(ok[1]["attempts"].as_array().unwrap().len(), 1);
    assert!(!stdout(&out).contains("attempts"), "{}", stdout(&out));

    let broken = &report["strategies"][1]["steps"][0];
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["error"]["sqlstate"], "42704");
    assert_eq!(broken["error"]["line"], 4, "{broken}");
    assert!(broken["statement"].as_str().unwrap().contains("nosuchtype"));

    // A background session holds a lock the step needs: each attempt times out, then retries.
    let locked = r#"
[traffic]
rate = 10
connections = 1
baseline = "100ms"
recovery = "0s"
[[traffic.query]]
name = "noop"
sql = "SELECT 1"
[[traffic.background]]
name = "holder"
sql = "LOCK TABLE users IN ACCESS SHARE MODE"
start = "0s"
hold = "3s"
[[strategy]]
name = "locked"
steps = [
  HOLDER_READY,
  { name = "timeouts", sql = "ALTER TABLE users ADD COLUMN y int", lock-timeout = "100ms", retries = 2, retry-backoff = "10ms" },
]
"#
    .replace("HOLDER_READY", HOLDER_READY);
    sandbox.write("s.toml", &scenario(&locked));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let step = &report["strategies"][0]["steps"][1];
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["sqlstate"], "55P03");
    assert_eq!(step["attempts"].as_array().unwrap().len(), 3);
    assert!(step["lock_timeout_s"].as_f64().unwrap() >= 0.3);
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}

/// A step that waits until a background session holds its lock on `users` (it starts with the
/// traffic, but connecting may take longer than the baseline on a busy machine).
const HOLDER_READY: &str = r#"{ name = "holder-ready", sql = "DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'users'::regclass AND pid <> pg_backend_pid() AND granted) LOOP PERFORM pg_sleep(0.005); END LOOP; END $$" }"#;

/// Traffic whose background session holds a REPEATABLE READ snapshot and an ACCESS SHARE lock
/// on `users` for its first second: statements outside a transaction on `users` wait for it
/// (long enough to be seen running), statements that need ACCESS EXCLUSIVE on it queue.
const HOLDS_USERS: &str = r#"
[traffic]
rate = 10
connections = 1
warmup = "0s"
baseline = "200ms"
recovery = "0s"
[[traffic.query]]
name = "noop"
sql = "SELECT 1"
[[traffic.background]]
name = "holder"
sql = "SELECT count(*) FROM users"
isolation = "repeatable-read"
start = "0s"
hold = "1s"
"#;

/// The locks a step's report lists, as `mode on relation`.
fn locks_of(step: &serde_json::Value) -> Vec<String> {
    step["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} on {}",
                l["mode"].as_str().unwrap(),
                l["relation"].as_str().unwrap()
            )
        })
        .collect()
}

/// Issue 16: statements outside a transaction (CREATE INDEX CONCURRENTLY, dbmate
/// `transaction:false` files) reported no locks, and `DROP TABLE t` none on `t`. Every
/// statement's locks are recorded, a dropped relation's under the name it had.
#[test]
fn issue_16_every_statement_s_locks_are_recorded() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "db/20240101000000_index.sql",
        "-- migrate:up transaction:false\n\
         CREATE INDEX CONCURRENTLY users_created_idx ON users (created_at);\n\
         BEGIN;\n\
         ALTER TABLE users ADD COLUMN plan text;\n\
         COMMIT;\n\
         DO $$ BEGIN COMMIT; END $$;\n\
         ALTER TABLE orders ADD COLUMN note text;\n\
         -- migrate:down\n\
         DROP INDEX users_created_idx;\n",
    );
    let strategies = format!(
        r#"{HOLDS_USERS}
[[strategy]]
name = "drop"
steps = [{{ name = "drop-orders", sql = "DROP TABLE orders" }}]
[[strategy]]
name = "dbmate"
steps = [{HOLDER_READY}, {{ dir = "db" }}]
[[strategy]]
name = "drop-concurrently"
steps = [
  {HOLDER_READY},
  {{ name = "index", sql = "CREATE INDEX users_name_idx ON users (full_name)" }},
  {{ name = "drop-index", sql = "DROP INDEX CONCURRENTLY users_name_idx" }},
]
[[strategy]]
name = "own-transaction"
steps = [{{ name = "wrapped", sql = "BEGIN; ALTER TABLE users ADD COLUMN x int; COMMIT;" }}]
"#
    );
    sandbox.write("s.toml", &scenario(&strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let step = |s: usize, i: usize| report["strategies"][s]["steps"][i].clone();
    let held = |s: usize, i: usize, lock: &str| {
        let locks = locks_of(&step(s, i));
        assert!(locks.iter().any(|l| l == lock), "{lock} not in {locks:?}");
    };
    // The table is gone when the transaction commits: named as it was.
    held(0, 0, "AccessExclusiveLock on orders");
    // Outside a transaction: the index build seen while it ran, the file's own transaction, the
    // ALTER after a DO block that commits (which cannot run in a transaction block).
    held(1, 1, "ShareUpdateExclusiveLock on users");
    held(1, 1, "AccessExclusiveLock on users");
    held(1, 1, "AccessExclusiveLock on orders");
    assert_eq!(step(1, 1)["attempts"].as_array().unwrap().len(), 1);
    // DROP INDEX CONCURRENTLY waits for the holder: its locks seen, the index's by its name.
    held(2, 2, "ShareUpdateExclusiveLock on users");
    held(2, 2, "ShareUpdateExclusiveLock on users_name_idx");
    // A step whose SQL commits its own transaction.
    held(3, 0, "AccessExclusiveLock on users");
    let summary = stdout(&out);
    assert!(
        summary.contains("held AccessExclusiveLock on orders"),
        "{summary}"
    );
    // The ACCESS EXCLUSIVE holds are the transactions that held it, not the whole step: the
    // ALTER of `orders` outside the index build.
    let dbmate = step(1, 1);
    let spans = dbmate["exclusive_spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{dbmate}");
    assert!(
        dbmate["exclusive_hold_s"].as_f64().unwrap() < dbmate["duration_s"].as_f64().unwrap(),
        "{dbmate}"
    );
}

/// Issue 16: a step of two statements outside a transaction printed "2 attempts". Attempts
/// count the step's retries: a retry after a lock timeout starts again at the statement that
/// timed out, and the statements before it are not run again.
#[test]
fn issue_16_attempts_count_retries_not_statements() {
    let sandbox = Sandbox::new();
    let strategies = format!(
        r#"{HOLDS_USERS}
[[strategy]]
name = "retried"
steps = [
  {HOLDER_READY},
  {{ name = "two-alone", transaction = false, lock-timeout = "100ms", retries = 20, retry-backoff = "50ms",
     sql = "CREATE TABLE once (id int); ALTER TABLE users ADD COLUMN y int" }},
]
"#
    );
    sandbox.write("s.toml", &scenario(&strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let step = &report["strategies"][0]["steps"][1];
    assert_eq!(step["status"], "succeeded", "{step}");
    let attempts = step["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{step}");
    let (last, retried) = attempts.split_last().unwrap();
    assert!(last["error"].is_null(), "{step}");
    for a in retried {
        assert_eq!(a["error"]["sqlstate"], "55P03", "{step}");
    }
    // The retry ran the ALTER only (the CREATE TABLE again would have failed: 42P07).
    assert_eq!(step["rows"], 0);
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("{} attempts", attempts.len())),
        "{summary}"
    );
}

#[test]
fn rewrites_wal_and_leftovers_are_reported() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "catalog-only"
steps = [{ name = "constant", sql = "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'" }]
[[strategy]]
name = "rewrite"
steps = [{ name = "volatile", sql = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()" }]
[[strategy]]
name = "leaves-things"
steps = [
  { name = "not-valid", sql = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID" },
  { name = "dup-unique", sql = "CREATE UNIQUE INDEX CONCURRENTLY users_name_uq ON users ((full_name IS NOT NULL))" },
]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let step = |s: usize, i: usize| report["strategies"][s]["steps"][i].clone();
    assert_eq!(step(0, 0)["rewrites"], serde_json::json!([]));
    let rewritten: Vec<String> = step(1, 0)["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relation"].as_str().unwrap().to_owned())
        .collect();
    assert!(rewritten.contains(&"users".to_owned()), "{rewritten:?}");
    assert!(
        rewritten.contains(&"users_pkey".to_owned()),
        "{rewritten:?}"
    );
    assert!(step(1, 0)["wal_bytes"].as_u64().unwrap() > step(0, 0)["wal_bytes"].as_u64().unwrap());
    assert_eq!(step(2, 1)["error"]["sqlstate"], "23505");
    let leftovers = report["strategies"][2]["leftovers"].to_string();
    assert!(
        leftovers.contains("invalid_index") && leftovers.contains("users_name_uq"),
        "{leftovers}"
    );
    assert!(
        leftovers.contains("not_valid_constraint") && leftovers.contains("positive"),
        "{leftovers}"
    );
}

/// Issue 16: a NOT VALID constraint or an invalid index the schema itself created was listed as
/// left behind by the migration; only what the steps left is.
#[test]
fn issue_16_leftovers_the_schema_already_had_are_not_the_steps() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "adds-one"
steps = [
  { name = "rename", sql = "ALTER TABLE orders RENAME TO purchases" },
  { name = "not-valid", sql = "ALTER TABLE purchases ADD CONSTRAINT has_total CHECK (total IS NOT NULL) NOT VALID" },
]
"#;
    let schema_leftovers = "    total numeric(8, 2) NOT NULL\n);\n\
        ALTER TABLE orders ADD CONSTRAINT in_range CHECK (total > -1000000) NOT VALID;\n\
        CREATE TABLE audit (at timestamptz);\n\
        CREATE INDEX audit_at_idx ON audit (at);\n\
        UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'audit_at_idx'::regclass;\n";
    let text = scenario(strategies).replacen(
        "    total numeric(8, 2) NOT NULL\n);\n",
        schema_leftovers,
        1,
    );
    assert!(text.contains("audit_at_idx"));
    sandbox.write("s.toml", &text);
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let leftovers = &report["strategies"][0]["leftovers"];
    assert_eq!(
        leftovers,
        &serde_json::json!([
            { "kind": "not_valid_constraint", "name": "has_total", "relation": "purchases" }
        ]),
        "{leftovers}"
    );
    let summary = stdout(&out);
    assert!(
        !summary.contains("in_range") && !summary.contains("audit_at_idx"),
        "{summary}"
    );
}

#[test]
fn migration_directories_become_steps_up_then_down() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "mig/1_add_plan.up.sql",
        "ALTER TABLE users ADD COLUMN plan text;",
    );
    sandbox.write(
        "mig/1_add_plan.down.sql",
        "ALTER TABLE users DROP COLUMN plan;",
    );
    sandbox.write(
        "mig/2_index.up.sql",
        "CREATE INDEX CONCURRENTLY users_plan_idx ON users (plan);",
    );
    sandbox.write("mig/2_index.down.sql", "DROP INDEX users_plan_idx;");
    sandbox.write(
        "dbmate/20240101000000_status.sql",
        "-- migrate:up\nALTER TABLE users ADD COLUMN status text;\n-- migrate:down\nALTER TABLE users DROP COLUMN status;\n",
    );
    sandbox.write("gappy/001_a.sql", "SELECT 1;");
    sandbox.write("gappy/003_c.sql", "SELECT 3;");
    let strategies = r#"
[[strategy]]
name = "sqlx"
steps = [{ dir = "mig", down = true, lock-timeout = "5s" }]
[[strategy]]
name = "dbmate"
steps = [{ dir = "dbmate" }]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let names: Vec<&str> = report["strategies"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["1_add_plan", "2_index", "down 2_index", "down 1_add_plan"]
    );
    assert_eq!(
        report["strategies"][0]["steps"][0]["source"],
        "mig/1_add_plan.up.sql"
    );
    assert_eq!(
        report["strategies"][1]["steps"][0]["name"],
        "20240101000000_status"
    );

    sandbox.write(
        "bad.toml",
        &scenario("[[strategy]]\nname = \"gap\"\nsteps = [{ dir = \"gappy\" }]\n"),
    );
    let out = sandbox.run(&["validate", "bad.toml"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("missing 2"), "{}", stderr(&out));
}

#[test]
fn external_commands_get_the_rehearsal_database() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "tools"
steps = [
  { name = "psql", command = ["psql", "-v", "ON_ERROR_STOP=1", "-c", "ALTER TABLE users ADD COLUMN via_psql int"] },
  { name = "url", command = "psql \"$DATABASE_URL\" -Atc \"SELECT count(*) FROM users WHERE via_psql IS NULL\"" },
]
[[strategy]]
name = "missing"
steps = [{ command = ["no-such-migration-tool", "up"] }]
[[strategy]]
name = "fails"
steps = [{ command = "echo starting; echo 'migration 3 failed: boom' >&2; exit 3" }]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let steps = &report["strategies"][0]["steps"];
    assert_eq!(steps[0]["status"], "succeeded", "{}", steps[0]);
    assert_eq!(steps[0]["kind"], "command");
    assert!(steps[0]["output"].as_str().unwrap().contains("ALTER TABLE"));
    assert_eq!(steps[1]["output"].as_str().unwrap().trim(), "2000");
    let missing = &report["strategies"][1]["steps"][0];
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("command not found")
    );
    let fails = &report["strategies"][2]["steps"][0];
    assert_eq!(fails["status"], "failed");
    assert!(
        fails["error"]["message"].as_str().unwrap().contains("boom"),
        "{fails}"
    );
    assert!(fails["output"].as_str().unwrap().contains("starting"));
}

#[test]
fn backfills_run_in_batches_and_a_missing_key_fails_clearly() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "expand"
steps = [
  { sql = "ALTER TABLE users ADD COLUMN name text" },
  { name = "copy-names", backfill = { table = "users", key = "id", batch = 300, sleep = "1ms", set = "name = full_name", where = "name IS NULL", max-lock-wait = "1s" } },
  { sql = "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users WHERE name IS DISTINCT FROM full_name) THEN RAISE EXCEPTION 'not backfilled'; END IF; END $$" },
]
[[strategy]]
name = "typo"
steps = [{ backfill = { table = "users", key = "idd", set = "email = email" } }]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let step = &report["strategies"][0]["steps"][1];
    assert_eq!(step["status"], "succeeded", "{step}");
    assert_eq!(step["kind"], "backfill");
    assert_eq!(step["backfill"]["rows"], 2000);
    assert_eq!(step["backfill"]["batches"], 7);
    assert_eq!(report["strategies"][0]["steps"][2]["status"], "succeeded");
    let typo = &report["strategies"][1]["steps"][0];
    assert_eq!(typo["status"], "failed");
    assert_eq!(typo["error"]["sqlstate"], "42703");
    assert!(typo["error"]["message"].as_str().unwrap().contains("idd"));
}

/// Issue 16: a backfill on an `integer` key failed with "error serializing parameter 0" (only
/// bigint worked). Smallint, integer and bigint keys work; a key of another type fails the step
/// with a message that names the table, the column and its type.
#[test]
fn issue_16_backfills_walk_smallint_integer_and_bigint_keys() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "widths"
steps = [
  { name = "tables", sql = """
      CREATE TABLE small (id smallint PRIMARY KEY, v int);
      INSERT INTO small SELECT g, NULL FROM generate_series(1, 500) g;
      CREATE TABLE mid (id integer PRIMARY KEY, v int);
      INSERT INTO mid SELECT g, NULL FROM generate_series(-250, 249) g;
      """ },
  { name = "small", backfill = { table = "small", key = "id", batch = 100, set = "v = id", where = "v IS NULL" } },
  { name = "mid", backfill = { table = "mid", key = "id", batch = 100, set = "v = id" } },
  { name = "big", backfill = { table = "users", key = "id", batch = 1000, set = "full_name = upper(full_name)" } },
  { sql = "DO $$ BEGIN IF EXISTS (SELECT 1 FROM small WHERE v IS DISTINCT FROM id) OR EXISTS (SELECT 1 FROM mid WHERE v IS DISTINCT FROM id) THEN RAISE 'not backfilled'; END IF; END $$" },
]
[[strategy]]
name = "text-key"
steps = [
  { sql = "CREATE TABLE tags (code text PRIMARY KEY, n int); INSERT INTO tags VALUES ('a', 1)" },
  { backfill = { table = "tags", key = "code", set = "n = n" } },
]
"#;
    // validate refuses a key the schema gives a non-integer type before any database work
    sandbox.write(
        "bad.toml",
        &scenario(&strategies.replace(
            r#"table = "tags", key = "code""#,
            r#"table = "users", key = "email""#,
        )),
    );
    let refused = sandbox.run(&["validate", "bad.toml"]);
    assert_exit(&refused, 2);
    assert!(
        stderr(&refused).contains("`users.email` is TEXT"),
        "{}",
        stderr(&refused)
    );
    // a table the steps create is only known at run time: the step fails, naming the column
    sandbox.write("s.toml", &scenario(strategies));
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let steps = &report["strategies"][0]["steps"];
    for (i, rows, batches) in [(1, 500, 5), (2, 500, 5), (3, 2000, 2)] {
        assert_eq!(steps[i]["status"], "succeeded", "{}", steps[i]);
        assert_eq!(steps[i]["backfill"]["rows"], rows, "{}", steps[i]);
        assert_eq!(steps[i]["backfill"]["batches"], batches, "{}", steps[i]);
    }
    assert_eq!(steps[4]["status"], "succeeded", "{}", steps[4]);
    let text = &report["strategies"][1]["steps"][1];
    assert_eq!(text["status"], "failed");
    let message = text["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tags.code") && message.contains("text") && message.contains("integer"),
        "{message}"
    );
}

#[test]
fn a_diesel_history_runs_in_diesels_order_with_empty_downs_and_no_transaction() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "mig/2017-08-31-230457_create_items/up.sql",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint);",
    );
    sandbox.write(
        "mig/2017-08-31-230457_create_items/down.sql",
        "DROP TABLE items;",
    );
    sandbox.write(
        "mig/2017-09-01-101010_index_items/up.sql",
        "CREATE INDEX CONCURRENTLY items_user_idx ON items (user_id);",
    );
    sandbox.write("mig/2017-09-01-101010_index_items/down.sql", "");
    sandbox.write(
        "mig/2017-09-01-101010_index_items/metadata.toml",
        "run_in_transaction = false\n",
    );
    sandbox.write(
        "mig/2017-10-02-000000_add_note/up.sql",
        "ALTER TABLE items ADD COLUMN note text;",
    );
    sandbox.write(
        "mig/2017-10-02-000000_add_note/down.sql",
        "-- Not reversible\n",
    );
    sandbox.write("mig/README.md", "diesel migrations\n");
    sandbox.write(
        "s.toml",
        &scenario("[[strategy]]\nname = \"diesel\"\nsteps = [{ dir = \"mig\", down = true }]\n"),
    );
    let out = sandbox.run_shared(SHARED);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let steps = report["strategies"][0]["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "2017-08-31-230457_create_items",
            "2017-09-01-101010_index_items",
            "2017-10-02-000000_add_note",
            "down 2017-10-02-000000_add_note",
            "down 2017-09-01-101010_index_items",
            "down 2017-08-31-230457_create_items",
        ]
    );
    for step in steps {
        assert_eq!(step["status"], "succeeded", "{step}");
    }
    assert_eq!(steps[1]["kind"], "sql");
}
