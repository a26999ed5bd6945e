//! The docker backend: real runs in a container, and proof that the container is removed after
//! a successful run, a failing step, and SIGINT.

use crate::common::{
    GOOD_AND_FAILING, SLOW, Sandbox, assert_exit, containers_of_run, docker_available, interrupt,
    scenario, test_image, volumes_of_run,
};

fn args(image: &str) -> Vec<&str> {
    vec![
        "run",
        "s.toml",
        "--backend",
        "docker",
        "--image",
        image,
        "--out",
        "out",
        "--no-cache",
    ]
}

#[test]
fn docker_run_reports_and_removes_its_container() {
    if !docker_available() {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let image = test_image();
    let out = sandbox.run(&args(&image));
    assert_exit(&out, 1);
    let report = sandbox.report();
    assert_eq!(report["environment"]["backend"], "docker");
    assert_eq!(report["environment"]["image"], image.as_str());
    assert_eq!(
        report["environment"]["settings"]["deadlock_timeout"],
        "100ms"
    );
    let works = &report["strategies"][0];
    assert_eq!(works["status"], "succeeded");
    assert!(works["steps"][0]["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(
        report["strategies"][1]["steps"][1]["error"]["sqlstate"],
        "42P01"
    );
    let log = std::fs::read_to_string(sandbox.out().join("postgres.log")).unwrap();
    assert!(log.contains("ready to accept connections"), "{log}");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(containers_of_run(run_id), Vec::<String>::new());
    assert_eq!(volumes_of_run(run_id), Vec::<String>::new());
}

#[test]
fn docker_picks_the_offline_image_when_the_official_one_cannot_be_had() {
    if !docker_available() || test_image() != "rehearse/postgres:17" {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "docker",
        "--strategy",
        "works",
        "--out",
        "out",
        "--no-cache",
    ]);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let image = report["environment"]["image"].as_str().unwrap();
    assert!(image == "postgres:17" || image == "rehearse/postgres:17");
    assert!(
        report["environment"]["server_version"]
            .as_str()
            .unwrap()
            .starts_with("17.")
    );
}

#[test]
fn docker_sigint_removes_the_container() {
    if !docker_available() {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let image = test_image();
    let (child, _) = sandbox.spawn_until(&args(&image), "step sleepy running");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let report = sandbox.report();
    assert_eq!(report["outcome"], "interrupted");
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(containers_of_run(run_id), Vec::<String>::new());
    assert_eq!(volumes_of_run(run_id), Vec::<String>::new());
}

#[test]
fn docker_keeps_the_seeded_cluster_in_a_volume() {
    if !docker_available() {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let image = test_image();
    let run = || {
        let out = sandbox.run(&[
            "run",
            "s.toml",
            "--backend",
            "docker",
            "--image",
            &image,
            "--out",
            "out",
            "--strategy",
            "works",
        ]);
        assert_exit(&out, 0);
        sandbox.report()
    };
    let first = run();
    let key = first["seed"]["cache_key"].as_str().unwrap().to_owned();
    let second = run();
    let volumes = std::process::Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", "name=rehearse-seed-"])
        .output()
        .unwrap();
    let ours: Vec<String> = String::from_utf8_lossy(&volumes.stdout)
        .lines()
        .filter(|v| v.contains(&key))
        .map(str::to_owned)
        .collect();
    for v in &ours {
        let _ = std::process::Command::new("docker")
            .args(["volume", "rm", "-f", v])
            .output();
    }
    assert_eq!(first["seed"]["cached"], false);
    assert_eq!(second["seed"]["cached"], true, "{}", second["seed"]);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(second["strategies"][0]["status"], "succeeded");
}

/// `--postgres A,B`: the same scenario on two majors (the offline-built image for 17, the
/// installed binaries for the other), each with its full report, and the table side by side.
#[test]
fn a_scenario_runs_on_two_majors_side_by_side() {
    if !docker_available() || test_image() != "rehearse/postgres:17" {
        return;
    }
    let Some(local) = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|m| *m != 17)
    else {
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.toml",
        &scenario(
            r#"
[[strategy]]
name = "default"
steps = [{ name = "add", sql = "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free'" }]
"#,
        ),
    );
    let majors = format!("{local},17,9");
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--postgres",
        &majors,
        "--out",
        "out",
        "--no-cache",
    ]);
    // 9 is nowhere: that column is an environment error, the others still run
    assert_exit(&out, 3);
    let text = crate::common::stdout(&out);
    assert!(text.contains("on 3 majors"), "{text}");
    for major in [local, 17] {
        let path = sandbox.out().join(format!("pg{major}/report.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(report["outcome"], "passed", "{report}");
        let num = report["environment"]["server_version_num"]
            .as_u64()
            .unwrap();
        assert_eq!(num / 10000, u64::from(major), "{path:?}");
    }
    let md = std::fs::read_to_string(sandbox.out().join("matrix.md")).unwrap();
    assert!(
        md.contains(&format!("PG {local}.")) && md.contains("PG 17."),
        "{md}"
    );
    assert!(md.contains("| error: "), "{md}");
    assert!(sandbox.out().join("matrix.html").exists());
}
