//! Usage and scenario errors: clear messages and exit code 2 (or 3 for the environment), never a
//! panic, and never a database touched.

use crate::common::{GOOD_AND_FAILING, Sandbox, assert_exit, scenario, stderr, stdout};

#[test]
fn help_shows_commands_examples_and_exit_codes() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["run", "--help"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for needle in [
        "--backend",
        "--database-url",
        "--scale",
        "Examples:",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "help lacks {needle}:\n{text}");
    }
}

#[test]
fn shipped_scenarios_validate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = Sandbox::new().run(&args);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).matches("ok: ").count(), files.len());
}

#[test]
fn missing_scenario_file() {
    let sandbox = Sandbox::new();
    for command in ["validate", "run"] {
        let out = sandbox.run(&[command, "nope.toml"]);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("failed to read scenario nope.toml"),
            "{}",
            stderr(&out)
        );
    }
}

/// Validates `text` and returns stderr, asserting exit 2.
fn invalid(text: &str) -> String {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", text);
    let out = sandbox.run(&["validate", "s.toml"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("s.toml"),
        "message should name the file: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn toml_syntax_error_names_the_line() {
    let err = invalid(&scenario(GOOD_AND_FAILING).replace("rows = 2_000", "rows = = 2"));
    assert!(err.contains("line"), "{err}");
}

#[test]
fn unknown_key_is_named() {
    let err = invalid(&scenario(GOOD_AND_FAILING).replace("postgres = \"17\"", "postgress = 17"));
    assert!(err.contains("unknown field `postgress`"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let err = invalid(&scenario(GOOD_AND_FAILING).replace("rows = 2_000", "rows = \"many\""));
    assert!(err.contains("rows"), "{err}");
    assert!(err.contains("line"), "{err}");
}

#[test]
fn missing_sql_file_is_named_with_its_key() {
    let err = invalid(&scenario(
        r#"
[[strategy]]
name = "from-file"
steps = [{ file = "migrations/001.sql" }]
"#,
    ));
    assert!(err.contains("strategy[0].steps[0].file"), "{err}");
    assert!(err.contains("001.sql"), "{err}");
}

#[test]
fn strategy_without_steps_and_duplicate_names_are_all_reported() {
    let err = invalid(&scenario(
        r#"
[[strategy]]
name = "empty"
steps = []
[[strategy]]
name = "twice"
steps = [{ sql = "SELECT 1" }]
[[strategy]]
name = "twice"
steps = [{ sql = "SELECT 2" }]
"#,
    ));
    assert!(err.contains("strategy `empty` has no steps"), "{err}");
    assert!(err.contains("duplicate strategy name `twice`"), "{err}");
}

#[test]
fn a_step_needs_exactly_one_of_sql_and_file() {
    let err = invalid(&scenario(
        r#"
[[strategy]]
name = "both"
steps = [{ sql = "SELECT 1", file = "x.sql" }]
"#,
    ));
    assert!(err.contains("exactly one of `sql`"), "{err}");
}

#[test]
fn non_positive_rows_are_refused() {
    let err = invalid(&scenario(GOOD_AND_FAILING).replace("rows = 2_000", "rows = 0"));
    assert!(err.contains("seed.tables.users.rows"), "{err}");
    assert!(err.contains("positive"), "{err}");
}

#[test]
fn zero_or_negative_scale_is_a_usage_error() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    for scale in ["0", "-1", "abc"] {
        let out = sandbox.run(&["run", "s.toml", "--scale", scale]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("--scale"), "{}", stderr(&out));
    }
}

#[test]
fn unknown_strategy_is_a_usage_error() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&["run", "s.toml", "--strategy", "nope"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("it has: works, breaks"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn url_backend_needs_a_url() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&["run", "s.toml", "--backend", "url"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--database-url"), "{}", stderr(&out));
}

#[test]
fn unreachable_database_url_is_an_environment_error() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "url",
        "--database-url",
        "postgresql://someone:hunter2@127.0.0.1:1/db",
        "--out",
        "out",
    ]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("failed to connect to postgresql://someone@127.0.0.1:1/db"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !stdout(&out).contains("hunter2"));
    // The report still says what happened.
    let report = sandbox.report();
    assert_eq!(report["outcome"], "error");
    assert!(!report.to_string().contains("hunter2"));
}

#[test]
fn pg_bin_without_initdb_is_an_environment_error() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    std::fs::create_dir(sandbox.path().join("empty")).unwrap();
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "local",
        "--pg-bin",
        "empty",
        "--out",
        "out",
    ]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("no `initdb` there"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn docker_backend_without_an_engine_is_an_environment_error() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox
        .command(&["run", "s.toml", "--backend", "docker", "--out", "out"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("failed to reach a Docker engine"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_expect_and_bad_majors_are_named_in_words() {
    let err = invalid(&scenario(
        r#"
[[strategy]]
name = "naive"
expect = "pass"
steps = [{ sql = "SELECT 1" }]
"#,
    ));
    assert!(
        err.contains("strategy[0].expect") && err.contains(r#"expected "breach""#),
        "{err}"
    );
    for bad in ["[15.5]", "[]", "[15, \"x\"]", "{ major = 15 }"] {
        let err = invalid(
            &scenario(GOOD_AND_FAILING).replace("postgres = \"17\"", &format!("postgres = {bad}")),
        );
        assert!(err.contains("database.postgres"), "{bad}: {err}");
        assert!(!err.contains("untagged enum"), "{bad}: {err}");
    }
}
