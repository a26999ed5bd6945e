//! The local backend: real runs on a throwaway cluster, and proof that nothing is left behind
//! after a successful run, a failing step, and SIGINT.

use crate::common::{GOOD_AND_FAILING, SLOW, Sandbox, assert_exit, interrupt, scenario, stdout};

const LOCAL: &[&str] = &["--backend", "local", "--out", "out"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["run", "s.toml"];
    all.extend_from_slice(LOCAL);
    all.extend_from_slice(extra);
    all
}

#[test]
fn a_run_reports_steps_with_durations_and_cleans_up() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&args(&["--strategy", "works", "--seed", "7"]));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("verdict  PASSED"), "{}", stdout(&out));

    let report = sandbox.report();
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["environment"]["backend"], "local");
    assert_eq!(report["environment"]["seed"], 7);
    assert_eq!(report["environment"]["settings"]["log_lock_waits"], "on");
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
    let probe = r#"DO $$ BEGIN RAISE EXCEPTION 'sum=%', (SELECT md5(string_agg(email || full_name, ',' ORDER BY id)) FROM users); END $$"#;
    let strategies = format!(
        "[[strategy]]\nname = \"a\"\nsteps = [{{ sql = '''{probe}''' }}]\n\
         [[strategy]]\nname = \"b\"\nsteps = [{{ sql = \"DELETE FROM orders\" }}, {{ sql = '''{probe}''' }}]\n"
    );
    sandbox.write("s.toml", &scenario(&strategies));
    let out = sandbox.run(&args(&[]));
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
    let err = crate::common::stderr(&out);
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
    let err = crate::common::stderr(&out);
    assert!(err.contains("seed.tables.order"), "{err}");
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
}
