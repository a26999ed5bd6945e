//! Seeding: the generators of the seed section produce what they promise, indexes and
//! constraints are back after the load, the same seed gives the same rows whatever the
//! parallelism, and bad seed sections are refused by `validate` before any database work.

use crate::common::{Sandbox, assert_exit, stderr, stdout};

const SCHEMA: &str = r"
CREATE TYPE mood AS ENUM ('happy', 'sad', 'meh');
CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    full_name  text NOT NULL,
    status     text NOT NULL,
    mood       mood,
    bio        text,
    score      int NOT NULL,
    balance    numeric(8, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    payload    jsonb NOT NULL,
    code       varchar(12) UNIQUE,
    shout      text GENERATED ALWAYS AS (upper(full_name)) STORED
);
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE TABLE orders (
    id      bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    note    text
);
CREATE INDEX orders_user_id_idx ON orders (user_id);
";

const SEED: &str = r#"
[seed]
seed = 11
[seed.tables.users]
rows = 5000
[seed.tables.users.columns]
email = { fake = "email" }
status = { enum = { active = 90, banned = 10 } }
mood = { enum = { happy = 1, sad = 1 }, null = 0.5 }
bio = { fake = "paragraph", length = [50, 100], null = 0.3 }
score = { range = [1, 5] }
balance = { range = [0.5, 999.99] }
created_at = { timestamp = [2024-01-01, 2025-01-01], skew = 3.0 }
payload = { json = 200 }
code = { fake = "word", unique = true }
[seed.tables.orders]
rows = 20000
[seed.tables.orders.columns]
user_id = { key = "users.id", dist = "zipf", exponent = 1.2 }
"#;

/// Steps that fail (RAISE) unless the data looks as the seed section says.
const CHECKS: &str = r#"
[[strategy]]
name = "checks"
steps = [
  { name = "counts", sql = """DO $$ BEGIN
      IF (SELECT count(*) FROM users) <> 5000 OR (SELECT count(*) FROM orders) <> 20000 THEN
        RAISE 'counts'; END IF;
      IF (SELECT count(DISTINCT email) FROM users) <> 5000 OR (SELECT count(DISTINCT code) FROM users) <> 5000 THEN
        RAISE 'unique'; END IF;
      IF (SELECT avg((status = 'active')::int) FROM users) NOT BETWEEN 0.86 AND 0.94 THEN RAISE 'enum'; END IF;
      IF (SELECT avg((mood IS NULL)::int) FROM users) NOT BETWEEN 0.45 AND 0.55 THEN RAISE 'null'; END IF;
      IF (SELECT count(*) FROM users WHERE mood = 'meh') > 0 THEN RAISE 'labels'; END IF;
      IF (SELECT avg((bio IS NULL)::int) FROM users) NOT BETWEEN 0.25 AND 0.35 THEN RAISE 'bio null'; END IF;
      IF (SELECT min(length(bio)) < 40 OR max(length(bio)) > 100 FROM users) THEN RAISE 'bio length'; END IF;
      IF (SELECT min(score) <> 1 OR max(score) <> 5 FROM users) THEN RAISE 'range'; END IF;
      IF (SELECT min(balance) < 0.5 OR max(balance) > 999.99 FROM users) THEN RAISE 'decimal'; END IF;
      IF (SELECT avg((created_at >= '2024-07-02')::int) FROM users) < 0.7 THEN RAISE 'skew'; END IF;
      IF (SELECT min(created_at) < '2024-01-01' OR max(created_at) >= '2025-01-01' FROM users) THEN RAISE 'ts range'; END IF;
      IF (SELECT avg(length(payload::text)) NOT BETWEEN 170 AND 230 FROM users) THEN RAISE 'json'; END IF;
      IF (SELECT max(id) FROM users) <> 5000 OR nextval('users_id_seq') <> 5001 THEN RAISE 'identity'; END IF;
      IF (SELECT count(*) FROM orders WHERE user_id = 1) < 2000 THEN RAISE 'zipf'; END IF;
      IF (SELECT count(*) FROM pg_indexes WHERE tablename IN ('users', 'orders')) <> 6 THEN RAISE 'indexes'; END IF;
      IF (SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'f' AND convalidated) <> 1 THEN
        RAISE 'foreign key'; END IF;
      IF (SELECT shout FROM users WHERE id = 1) <> (SELECT upper(full_name) FROM users WHERE id = 1) THEN RAISE 'generated'; END IF;
    END $$""" },
  { name = "fingerprint", command = "psql \"$DATABASE_URL\" -Atc \"SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u\" -c \"SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o\"" },
]
"#;

fn scenario() -> String {
    format!("name = \"seed\"\n[schema]\nsql = '''{SCHEMA}'''\n{SEED}\n{CHECKS}")
}

fn run(sandbox: &Sandbox, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", "s.toml", "--out", "out"];
    args.extend_from_slice(extra);
    let out = sandbox.run_shared(&args);
    assert_exit(&out, 0);
    sandbox.report()
}

/// A run on a cluster of its own (the seed cache is the local backend's).
fn run_local(sandbox: &Sandbox, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", "s.toml", "--backend", "local", "--out", "out"];
    args.extend_from_slice(extra);
    let out = sandbox.run(&args);
    assert_exit(&out, 0);
    sandbox.report()
}

#[test]
fn generators_keep_their_promises_and_parallelism_does_not_change_rows() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario());
    let one = run(&sandbox, &["--seed-jobs", "1", "--no-cache"]);
    let steps = &one["strategies"][0]["steps"];
    assert_eq!(steps[0]["status"], "succeeded", "{}", steps[0]);
    let fingerprint_one = steps[1]["output"].as_str().unwrap().trim().to_owned();
    assert_eq!(fingerprint_one.lines().count(), 2, "{fingerprint_one}");

    let seed = &one["seed"];
    assert_eq!(seed["rows"], 25000);
    assert_eq!(seed["jobs"], 1);
    let builds: Vec<&str> = seed["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for name in [
        "users_pkey",
        "users_email_key",
        "users_created_at_idx",
        "orders_user_id_fkey",
    ] {
        assert!(builds.contains(&name), "{name} not rebuilt: {builds:?}");
    }
    assert!(seed["bytes"].as_u64().unwrap() > 1_000_000);

    let three = run(&sandbox, &["--seed-jobs", "3", "--no-cache"]);
    assert_eq!(three["seed"]["jobs"], 3);
    let fingerprint_three = three["strategies"][0]["steps"][1]["output"]
        .as_str()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        fingerprint_one, fingerprint_three,
        "rows depend on --seed-jobs"
    );
}

#[test]
fn validate_refuses_bad_seed_sections_before_any_database_work() {
    let sandbox = Sandbox::new();
    let bad = r#"
[seed.tables.users]
rows = 100
[seed.tables.users.columns]
nope = { fake = "name" }
score = { fake = "name" }
bio = { null = 0.2 }
code = { range = [1, 10] }
email = { null = 0.1 }
[seed.tables.ghosts]
rows = 5
[seed.tables.orders]
rows = 1.5
"#;
    sandbox.write(
        "s.toml",
        &format!(
            "name = \"bad\"\n[schema]\nsql = '''{SCHEMA}'''\n{bad}\n[[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
        ),
    );
    // No server is reachable at this URL: validation must not need one.
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    for expected in [
        "no column `nope`",
        "`fake` cannot produce values for `score` of type INT",
        "only 10 distinct values for 100 rows",
        "`null = 0.1` but `users.email` is NOT NULL",
        "creates no table `ghosts`",
        "positive whole number of rows, found 1.5",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    assert!(
        !err.contains("columns.bio"),
        "a nullable column may have NULLs:\n{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn reference_cycles_are_refused() {
    let sandbox = Sandbox::new();
    let schema = "CREATE TABLE a (id text PRIMARY KEY, b_id text); CREATE TABLE b (id text PRIMARY KEY, a_id text REFERENCES a (id)); ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id);";
    sandbox.write(
        "s.toml",
        &format!(
            "name = \"cycle\"\n[schema]\nsql = '''{schema}'''\n[seed.tables.a]\nrows = 10\n[seed.tables.b]\nrows = 10\n[[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
        ),
    );
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cycle (a → b → a)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_seeded_database_is_cached_across_runs_until_fresh() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario());
    let first = run_local(&sandbox, &[]);
    assert_eq!(first["seed"]["cached"], false);
    let key = first["seed"]["cache_key"].as_str().unwrap().to_owned();
    let fingerprint = |r: &serde_json::Value| r["strategies"][0]["steps"][1]["output"].clone();

    let second = run_local(&sandbox, &[]);
    assert_eq!(second["seed"]["cached"], true, "{}", second["seed"]);
    assert_eq!(second["seed"]["cache_key"], key.as_str());
    assert_eq!(fingerprint(&first), fingerprint(&second));
    assert_eq!(second["strategies"][0]["steps"][0]["status"], "succeeded");

    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "local",
        "--out",
        "out",
        "--fresh",
    ]);
    assert_exit(&out, 0);
    assert_eq!(sandbox.report()["seed"]["cached"], false);

    // Another seed is other data: another entry.
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "local",
        "--out",
        "out",
        "--seed",
        "5",
    ]);
    assert_exit(&out, 0);
    let report = sandbox.report();
    assert_eq!(report["seed"]["cached"], false);
    assert_ne!(report["seed"]["cache_key"], key.as_str());

    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "local",
        "--out",
        "out",
        "--no-cache",
        "--seed",
        "6",
    ]);
    assert_exit(&out, 0);
    assert!(sandbox.report()["seed"]["cache_key"].is_null());
    let entries: Vec<String> = std::fs::read_dir(sandbox.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("lock"))
        })
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());

    let out = sandbox.run(&["cache", "list"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("2 entries") && stdout(&out).contains("local cluster"),
        "{}",
        stdout(&out)
    );
    let out = sandbox.run(&["cache", "clear"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("removed 2 entries"),
        "{}",
        stdout(&out)
    );
    let left = std::fs::read_dir(sandbox.path().join("cache"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
}

#[test]
fn partitioned_tables_are_seeded_with_valid_indexes_on_every_partition() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        r#"
name = "partitioned"
[schema]
sql = """
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL, kind text NOT NULL,
                     PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX ON events (kind);
"""
[seed.tables.events]
rows = 20_000
columns.at = { timestamp = [2024-01-01, 2026-01-01] }
[[strategy]]
name = "checks"
steps = [{ sql = """DO $$ BEGIN
  IF (SELECT count(*) FROM events_2024) = 0 OR (SELECT count(*) FROM events_2025) = 0 THEN RAISE 'partitions'; END IF;
  IF EXISTS (SELECT 1 FROM pg_index WHERE NOT indisvalid) THEN RAISE 'invalid index'; END IF;
  IF (SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'events%') <> 6 THEN RAISE 'indexes'; END IF;
END $$""" }]
"#,
    );
    let report = run(&sandbox, &["--no-cache"]);
    let step = &report["strategies"][0]["steps"][0];
    assert_eq!(step["status"], "succeeded", "{step}");
    assert_eq!(report["strategies"][0]["leftovers"], serde_json::json!([]));
}

/// The fixture schema shaped like a real pg_dump (tests/fixtures/scenarios/real), with its
/// scenario and the step that checks the seeded data, copied into the sandbox.
fn real_schema(sandbox: &Sandbox) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios/real");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        sandbox.write(&entry.file_name().to_string_lossy(), &text);
    }
}

#[test]
fn a_real_schema_seeds_on_the_first_run_with_no_generator_and_rehearses() {
    let sandbox = Sandbox::new();
    real_schema(&sandbox);
    let out = sandbox.run(&["validate", "scenario.toml"]);
    assert_exit(&out, 0);
    let out = sandbox.run_shared(&["run", "scenario.toml", "--out", "out", "--scale", "5"]);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let notes = report["seed"]["notes"].to_string();
    assert!(
        notes.contains("user triggers of project_members disabled while loading: project_members_audit, project_members_count"),
        "{notes}"
    );
    assert!(
        notes.contains("skipped 2 ownership or privilege"),
        "{notes}"
    );
    assert_eq!(report["seed"]["rows"], 66_000, "{}", report["seed"]);
    let strategy = &report["strategies"][0];
    assert_eq!(strategy["status"], "succeeded", "{strategy}");
    assert_eq!(
        strategy["traffic"]["failed"], 0,
        "{}",
        strategy["traffic"]["errors"]
    );
}

/// A scenario over `schema` seeding `table` with `rows` and the given column specs.
fn one_table(schema: &str, table: &str, columns: &str) -> String {
    format!(
        "name = \"v\"\n[schema]\nsql = '''{schema}'''\n[seed.tables.{table}]\nrows = 100\n{columns}\n\
         [[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
    )
}

#[test]
fn validate_predicts_what_seeding_a_real_schema_would_refuse() {
    let sandbox = Sandbox::new();
    let refused = |text: &str, needles: &[&str]| {
        sandbox.write("v.toml", text);
        let out = sandbox.run(&["validate", "v.toml"]);
        assert_exit(&out, 2);
        let err = stderr(&out);
        for n in needles {
            assert!(err.contains(n), "`{n}` not in:\n{err}");
        }
    };
    // A domain check no generator can be fitted to, on a column with no generator.
    refused(
        &one_table(
            "CREATE DOMAIN zip AS text CHECK (VALUE ~ '^[0-9]{5}$');\nCREATE TABLE a (id int PRIMARY KEY, code zip NOT NULL);",
            "a",
            "",
        ),
        &[
            "`code` must satisfy",
            "domain zip",
            "give `code` a generator",
        ],
    );
    // A composite type has no generator.
    refused(
        &one_table(
            "CREATE TYPE pair AS (x int, y int);\nCREATE TABLE a (id int PRIMARY KEY, p pair NOT NULL);",
            "a",
            "",
        ),
        &["no generator makes values of type", "`p`"],
    );
    // A constant that is not an address.
    refused(
        &one_table(
            "CREATE TABLE a (id int PRIMARY KEY, ip inet NOT NULL);",
            "a",
            "columns.ip = { value = \"not-an-address\" }",
        ),
        &["`value` does not parse as that type for `ip` of type inet"],
    );
    // A partition column's generator outside every partition.
    refused(
        &one_table(
            "CREATE TABLE e (id int, region text NOT NULL) PARTITION BY LIST (region);\n\
             CREATE TABLE e_eu PARTITION OF e FOR VALUES IN ('eu');",
            "e",
            "columns.region = { enum = { eu = 1, mars = 1 } }",
        ),
        &["`region` partitions `e`", "`mars` has no partition"],
    );
    // A key over two columns neither of which can be distinct.
    refused(
        &one_table(
            "CREATE TABLE k (a text NOT NULL, b text NOT NULL, PRIMARY KEY (a, b));",
            "k",
            "columns.a = { enum = { x = 1, y = 1 } }\ncolumns.b = { enum = { p = 1, q = 1 } }",
        ),
        &["the key (a, b) of `k` needs distinct combinations"],
    );
    // A readable check with no room for the rows a unique column needs.
    refused(
        &one_table(
            "CREATE TABLE t (id int PRIMARY KEY CHECK (id BETWEEN 1 AND 10));",
            "t",
            "",
        ),
        &["`id` is unique but its checks allow only 10 values for 100 rows"],
    );
    // A backfill walks an integer key.
    refused(
        &one_table("CREATE TABLE b (code text PRIMARY KEY, n int);", "b", "").replace(
            "steps = [{ sql = \"SELECT 1\" }]",
            "steps = [{ backfill = { table = \"b\", key = \"code\", set = \"n = 1\" } }]",
        ),
        &["a backfill walks an integer key; `b.code` is TEXT"],
    );
    // What fits is accepted: a list check, a fitting constant.
    sandbox.write(
        "v.toml",
        &one_table(
            "CREATE TABLE t (id int PRIMARY KEY, \
             state text NOT NULL CHECK (state IN ('a', 'b')), ip inet NOT NULL);",
            "t",
            "columns.ip = { value = \"10.0.0.1\" }",
        ),
    );
    let out = sandbox.run(&["validate", "v.toml"]);
    assert_exit(&out, 0);
}

#[test]
fn a_value_a_domain_refuses_is_named_with_its_column() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        &one_table(
            "CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155);\n\
             CREATE TABLE t (id int PRIMARY KEY, founded year NOT NULL);",
            "t",
            "columns.founded = { range = [1800, 1850] }",
        ),
    );
    let out = sandbox.run_shared(&["run", "s.toml", "--out", "out"]);
    let err = stderr(&out);
    assert!(
        err.contains("year_check") && err.contains("column founded"),
        "{err}"
    );
    assert_ne!(out.status.code(), Some(0));
}

/// Issue 16: `{ null = 1.0 }` alone was refused on a nullable column taking keys from its own
/// table (`parent_id … REFERENCES t (id)`, `id` not an identity): every value is NULL, so it
/// needs no key. On a NOT NULL column it is refused, with a message that says why.
#[test]
fn issue_16_null_one_alone_leaves_a_self_reference_null() {
    let sandbox = Sandbox::new();
    let text = |parent: &str| {
        format!(
            r#"
name = "tree"
[schema]
sql = """
CREATE TABLE nodes (id bigint PRIMARY KEY, parent_id bigint {parent} REFERENCES nodes (id), name text NOT NULL);
"""
[seed.tables.nodes]
rows = 500
columns.parent_id = {{ null = 1.0 }}
[[strategy]]
name = "checks"
steps = [{{ sql = """DO $$ BEGIN
  IF (SELECT count(*) FROM nodes) <> 500 THEN RAISE 'rows'; END IF;
  IF EXISTS (SELECT 1 FROM nodes WHERE parent_id IS NOT NULL) THEN RAISE 'parent_id'; END IF;
END $$""" }}]
"#
        )
    };
    sandbox.write("s.toml", &text(""));
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 0);
    let report = run(&sandbox, &["--no-cache"]);
    let step = &report["strategies"][0]["steps"][0];
    assert_eq!(step["status"], "succeeded", "{step}");

    sandbox.write("s.toml", &text("NOT NULL"));
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("`null = 1` but `nodes.parent_id` is NOT NULL"),
        "{err}"
    );
    assert_eq!(err.matches("\n  - ").count(), 1, "one problem only: {err}");
}
