//! Faults and hostile inputs (issue 12): a run killed with SIGKILL leaves nothing that `gc`
//! cannot find and remove, and never a second server on a cache entry's data; a server that dies
//! under a run ends it at once with what was measured; connection errors name their cause;
//! absurd sizes, names and timeouts are refused before any work; external commands end with
//! their whole process group and never leak the password. A reader that goes away (`| head`)
//! ends a command's output, never the command (issue 16).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{
    GOOD_AND_FAILING, SHARED_PASSWORD, SLOW, Sandbox, assert_exit, containers_of_run,
    docker_available, interrupt, scenario, shared, shared_url_with, stderr, stdout, test_image,
    volumes_of_run,
};

/// Traffic for a minute-long baseline: long enough to kill something in it.
const LONG_BASELINE: &str = r#"
[traffic]
rate = 100
connections = 2
warmup = "0s"
baseline = "60s"
recovery = "0s"
[[traffic.query]]
name = "read"
sql = "SELECT email FROM users WHERE id = $1"
params = [{ key = "users.id" }]
"#;

/// One quick strategy.
const QUICK: &str = r#"
[[strategy]]
name = "quick"
steps = [{ name = "add", sql = "ALTER TABLE users ADD COLUMN plan text" }]
"#;

/// The run id in a run's log (`rehearsing in rehearse_<id>_s1`).
fn run_id_in(log: &str) -> String {
    let after = log
        .split("rehearsing in rehearse_")
        .nth(1)
        .unwrap_or_else(|| panic!("no run id in:\n{log}"));
    after.split("_s").next().unwrap().to_owned()
}

/// The command lines of all processes, by pid.
fn processes() -> Vec<(u32, Vec<String>)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let args = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>();
            Some((pid, args))
        })
        .filter(|(_, args)| !args.is_empty())
        .collect()
}

/// The reaper watching rehearse process `pid`.
fn reaper_of(pid: u32) -> Option<u32> {
    let owner = format!("pid={pid} ");
    processes()
        .into_iter()
        .find(|(_, args)| {
            args.iter().any(|a| a == "reap") && args.iter().any(|a| a.contains(&owner))
        })
        .map(|(p, _)| p)
}

/// Postmasters whose data directory is under `dir`.
fn postmasters_under(dir: &Path) -> Vec<u32> {
    let dir = dir.to_string_lossy();
    processes()
        .into_iter()
        .filter(|(_, args)| {
            args[0].ends_with("/postgres") && args.iter().any(|a| a.starts_with(dir.as_ref()))
        })
        .map(|(p, _)| p)
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

fn sigkill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Kills a run with SIGKILL. With `and_reaper`, its reaper first, as if the whole machine's
/// process tree had been killed: then only `gc` and the next run can clean up.
fn kill_run(mut child: Child, and_reaper: bool) {
    if and_reaper {
        let reaper = reaper_of(child.id()).expect("every run starts a reaper");
        sigkill(reaper);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Waits up to `limit` for `done`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

fn local(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["run", "s.toml", "--backend", "local", "--out", "out"];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_sigkilled_local_run_with_the_cache_is_cleaned_up_and_the_cache_reused() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let (child, log) = sandbox.spawn_until(&local(&[]), "step sleepy running");
    let run_id = run_id_in(&log.text());
    kill_run(child, true);

    // The next run stops whatever still runs on the cache entry and reuses the seeded data:
    // one server on it, never two.
    sandbox.write("s.toml", &scenario(QUICK));
    let out = sandbox.run(&local(&[]));
    assert_exit(&out, 0);
    let report = sandbox.report();
    assert_eq!(report["seed"]["cached"], true, "{}", report["seed"]);
    assert_eq!(report["strategies"][0]["status"], "succeeded");
    assert!(!stderr(&out).contains("postmaster.pid"), "{}", stderr(&out));
    let cache = sandbox.path().join("cache");
    assert_eq!(postmasters_under(&cache), Vec::<u32>::new());

    // With the cache the cluster lives in the cache folder: nothing in the temporary folder.
    // (`gc` is tested alone: it removes what every dead run on this machine left.)
    assert_eq!(
        sandbox.leftover_clusters(),
        Vec::<String>::new(),
        "{run_id}"
    );
}

#[test]
fn the_reaper_cleans_up_after_a_sigkill() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let (child, _) = sandbox.spawn_until(&local(&["--no-cache"]), "step sleepy running");
    assert_eq!(sandbox.leftover_clusters().len(), 1);
    kill_run(child, false);
    assert!(
        eventually(Duration::from_secs(20), || {
            sandbox.leftover_clusters().is_empty() && postmasters_under(sandbox.path()).is_empty()
        }),
        "the reaper left {:?}",
        sandbox.leftover_clusters()
    );
}

#[test]
fn a_second_interrupt_exits_at_once_and_the_reaper_still_cleans_up() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let (child, _) = sandbox.spawn_until(&local(&["--no-cache"]), "step sleepy running");
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(20));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    assert!(
        eventually(Duration::from_secs(20), || {
            sandbox.leftover_clusters().is_empty() && postmasters_under(sandbox.path()).is_empty()
        }),
        "left {:?}",
        sandbox.leftover_clusters()
    );
}

#[test]
fn a_sigkilled_docker_run_with_the_cache_never_gets_a_second_server_on_its_volume() {
    if !docker_available() {
        return;
    }
    let sandbox = Sandbox::new();
    let image = test_image();
    let args = |strategy: &str| -> Vec<String> {
        [
            "run",
            "s.toml",
            "--backend",
            "docker",
            "--image",
            &image,
            "--out",
            "out",
            "--strategy",
            strategy,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    // Both strategies in one scenario: both runs have the same seed cache key.
    sandbox.write("s.toml", &scenario(&format!("{SLOW}{QUICK}")));
    let first = args("slow");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (child, log) = sandbox.spawn_until(&first, "step sleepy running");
    let killed = run_id_in(&log.text());
    kill_run(child, true);
    assert_eq!(
        containers_of_run(&killed).len(),
        1,
        "the killed run's container is still up"
    );

    let second = args("quick");
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let out = sandbox.run(&second);
    assert_exit(&out, 0);
    let report = sandbox.report();
    let key = report["seed"]["cache_key"].as_str().unwrap().to_owned();
    let cache_volumes = || {
        let out = Command::new("docker")
            .args(["volume", "ls", "-q", "--filter", "name=rehearse-seed-"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|v| v.contains(&key))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let volumes = cache_volumes();
    for v in &volumes {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", v])
            .output();
    }
    assert_eq!(report["seed"]["cached"], true, "{}", report["seed"]);
    assert_eq!(report["strategies"][0]["status"], "succeeded");
    // The data was intact: the seeded rows are all there.
    assert_eq!(report["seed"]["tables"][0]["rows"], 2000);
    assert_eq!(
        containers_of_run(&killed),
        Vec::<String>::new(),
        "the old container was stopped before the volume was used again"
    );
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    assert!(
        !stderr(&out).contains("not properly shut down"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gc_finds_and_removes_everything_killed_runs_left() {
    let sandbox = Sandbox::new();
    // A command step that leaves a process of its own: gc must find it by its owner.
    let hanging = r#"
[[strategy]]
name = "hang"
steps = [{ name = "hang", command = "sleep 300" }]
"#;
    sandbox.write("s.toml", &scenario(hanging));

    // A local cluster (with its server) and a command.
    let (child, log) = sandbox.spawn_until(&local(&["--no-cache"]), "step hang running");
    let local_run = run_id_in(&log.text());
    kill_run(child, true);

    // Scratch databases on an existing server.
    let mut on_url = vec!["run", "s.toml", "--out", "out2"];
    let shared_args = shared();
    on_url.extend(shared_args.iter().map(String::as_str));
    let (child, log) = sandbox.spawn_until(&on_url, "step hang running");
    let url_run = run_id_in(&log.text());
    kill_run(child, true);

    // A container and its volume.
    let image = test_image();
    let docker_run = if docker_available() {
        let docker = [
            "run",
            "s.toml",
            "--backend",
            "docker",
            "--image",
            &image,
            "--no-cache",
            "--out",
            "out3",
        ];
        let (child, log) = sandbox.spawn_until(&docker, "step hang running");
        let id = run_id_in(&log.text());
        kill_run(child, true);
        assert_eq!(containers_of_run(&id).len(), 1);
        Some(id)
    } else {
        None
    };

    let commands = || {
        processes()
            .into_iter()
            .filter(|(_, args)| {
                args == &["sleep", "300"] || args.last().is_some_and(|a| a == "sleep 300")
            })
            .filter(|(pid, _)| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    String::from_utf8_lossy(&env).contains(&local_run)
                        || String::from_utf8_lossy(&env).contains(&url_run)
                })
            })
            .count()
    };
    assert!(
        commands() > 0,
        "the killed runs' commands still run: {:?}",
        processes()
            .into_iter()
            .filter(|(_, a)| a.iter().any(|a| a.contains("sleep")))
            .collect::<Vec<_>>()
    );
    assert_eq!(sandbox.leftover_clusters().len(), 1);

    let url = shared_args[3].clone();
    // A run that starts meanwhile says so.
    sandbox.write("quick.toml", &scenario(QUICK));
    let mut quick = vec!["run", "quick.toml", "--out", "out4"];
    quick.extend(shared_args.iter().map(String::as_str));
    let out = sandbox.run(&quick);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("left behind by rehearsals that died") && stderr(&out).contains("gc"),
        "{}",
        stderr(&out)
    );

    let listed = sandbox.run(&["gc", "--database-url", &url]);
    assert_exit(&listed, 0);
    let text = stdout(&listed);
    assert!(text.contains(&format!("run {local_run}")), "{text}");
    assert!(text.contains(&format!("rehearse_{url_run}")), "{text}");
    assert!(text.contains("cluster folder"), "{text}");
    if let Some(id) = &docker_run {
        assert!(text.contains(&format!("run {id}")), "{text}");
    }

    let removed = sandbox.run(&["gc", "--yes", "--database-url", &url]);
    assert_exit(&removed, 0);
    assert_eq!(sandbox.leftover_clusters(), Vec::<String>::new());
    assert_eq!(postmasters_under(sandbox.path()), Vec::<u32>::new());
    assert!(eventually(Duration::from_secs(5), || commands() == 0));
    if let Some(id) = &docker_run {
        assert_eq!(containers_of_run(id), Vec::<String>::new());
        assert_eq!(volumes_of_run(id), Vec::<String>::new());
    }
    let scratch = Command::new("psql")
        .arg(&url)
        .args(["-Atc", "SELECT datname FROM pg_database"])
        .output()
        .unwrap();
    let scratch = String::from_utf8_lossy(&scratch.stdout);
    assert!(!scratch.contains(&url_run), "{scratch}");
    let again = sandbox.run(&["gc", "--database-url", &url]);
    assert!(
        !stdout(&again).contains(&local_run) && !stdout(&again).contains(&url_run),
        "{}",
        stdout(&again)
    );
}

#[test]
fn a_server_killed_during_the_baseline_ends_the_run_at_once_with_what_was_measured() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(&format!("{LONG_BASELINE}{QUICK}")));
    let (child, log) = sandbox.spawn_until(&local(&["--no-cache"]), "traffic running; baseline");
    std::thread::sleep(Duration::from_millis(1500));
    let postmasters = postmasters_under(sandbox.path());
    assert_eq!(postmasters.len(), 1, "{postmasters:?}");
    sigkill(postmasters[0]);
    let killed = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = killed.elapsed();
    assert_exit(&out, 3);
    assert!(took < Duration::from_secs(2), "noticed after {took:?}");
    let err = log.text();
    assert!(err.contains("died") && err.contains("baseline"), "{err}");
    let report = sandbox.report();
    let strategy = &report["strategies"][0];
    assert_eq!(strategy["status"], "failed", "{strategy}");
    assert!(
        strategy["error"].as_str().unwrap().contains("baseline"),
        "{strategy}"
    );
    let traffic = &strategy["traffic"];
    assert!(traffic["recorded"].as_u64().unwrap() > 50, "{traffic}");
    assert_ne!(report["outcome"], "passed");
    assert!(eventually(Duration::from_secs(10), || sandbox
        .leftover_clusters()
        .is_empty()));
}

#[test]
fn an_interrupt_during_the_baseline_leaves_the_strategy_interrupted_and_never_passes() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(&format!("{LONG_BASELINE}{QUICK}")));
    let mut args = vec!["run", "s.toml", "--out", "out"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let (child, _) = sandbox.spawn_until(&args, "traffic running; baseline");
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let report = sandbox.report();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["strategies"][0]["status"], "interrupted");
    assert_eq!(report["strategies"][0]["steps"][0]["status"], "skipped");
    assert_eq!(report["verdict"]["passed"], false);
}

#[test]
fn a_second_run_on_the_same_output_folder_is_refused_and_names_the_first() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let mut args = vec!["run", "s.toml", "--out", "out"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let (child, log) = sandbox.spawn_until(&args, "step sleepy running");
    let first = run_id_in(&log.text());
    let second = sandbox.run(&args);
    assert_exit(&second, 3);
    let err = stderr(&second);
    assert!(err.contains(&first) && err.contains("--out"), "{err}");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    assert_eq!(sandbox.report()["run_id"], first.as_str());
}

/// `validate` output for a scenario.
fn validate(sandbox: &Sandbox, text: &str) -> std::process::Output {
    sandbox.write("v.toml", text);
    sandbox.run(&["validate", "v.toml"])
}

#[track_caller]
fn refused(sandbox: &Sandbox, text: &str, needles: &[&str]) {
    let out = validate(sandbox, text);
    assert_exit(&out, 2);
    let err = stderr(&out);
    for n in needles {
        assert!(err.contains(n), "`{n}` not in:\n{err}");
    }
}

#[test]
fn timeouts_that_would_turn_themselves_off_are_refused() {
    let sandbox = Sandbox::new();
    for (value, needle) in [("500us", "1ms"), ("0s", "1ms"), ("30d", "2147483647")] {
        let text = scenario(&format!(
            "[[strategy]]\nname = \"t\"\nsteps = [{{ sql = \"SELECT 1\", lock-timeout = \"{value}\" }}]\n"
        ));
        refused(&sandbox, &text, &["lock-timeout", needle]);
        let text = scenario(&format!(
            "[[strategy]]\nname = \"t\"\nsteps = [{{ sql = \"SELECT 1\", statement-timeout = \"{value}\" }}]\n"
        ));
        refused(&sandbox, &text, &["statement-timeout", needle]);
    }
    let fine = scenario(
        "[[strategy]]\nname = \"t\"\nsteps = [{ sql = \"SELECT 1\", lock-timeout = \"1ms\", statement-timeout = \"24d\" }]\n",
    );
    assert_exit(&validate(&sandbox, &fine), 0);
}

#[test]
fn absurd_sizes_and_names_are_refused_with_the_numbers() {
    let sandbox = Sandbox::new();
    let traffic = |rate: &str| {
        scenario(&format!(
            "[traffic]\nrate = {rate}\nconnections = 2\n[[traffic.query]]\nname = \"q\"\nsql = \"SELECT 1\"\n{QUICK}"
        ))
    };
    refused(&sandbox, &traffic("1e12"), &["rate", "100000"]);
    refused(
        &sandbox,
        &scenario(QUICK).replace("rows = 2_000", "rows = 1e17"),
        &["rows"],
    );
    let long = "x".repeat(100_000);
    refused(
        &sandbox,
        &scenario(QUICK).replace("name = \"test\"", &format!("name = \"{long}\"")),
        &["name", "200"],
    );
    refused(
        &sandbox,
        &scenario(QUICK).replace("name = \"quick\"", "name = \"a\\u0000b\""),
        &["name", "control"],
    );
    refused(
        &sandbox,
        &scenario(&QUICK.replace("name = \"add\"", "name = \"\"")),
        &["name", "empty"],
    );

    // The whole unsigned range, unique: 2^64 distinct values, not 0.
    let full_range = scenario(QUICK).replace(
        "[seed.tables.orders]",
        "[seed.tables.users.columns.full_name]\nrange = [-9223372036854775808, 9223372036854775807]\nunique = true\n[seed.tables.orders]",
    );
    let out = validate(&sandbox, &full_range);
    assert!(!stderr(&out).contains("0 distinct"), "{}", stderr(&out));

    // --scale that the disk cannot hold: refused with the estimate and the free space.
    sandbox.write("s.toml", &scenario(QUICK));
    let mut args = vec!["run", "s.toml", "--out", "out", "--scale", "1e9"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let out = sandbox.run(&args);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("free"), "{err}");

    // --backend local does not silently ignore a URL.
    let out = sandbox.run(&[
        "run",
        "s.toml",
        "--backend",
        "local",
        "--database-url",
        "postgresql://x@localhost/db",
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--database-url"), "{}", stderr(&out));
}

#[test]
fn operations_that_could_not_be_sent_breach_the_run() {
    let sandbox = Sandbox::new();
    let text = scenario(&format!(
        r#"
[traffic]
rate = 2000
connections = 1
warmup = "0s"
baseline = "1s"
recovery = "0s"
drain = "1s"
[[traffic.query]]
name = "slow"
sql = "SELECT pg_sleep(0.005)"
{QUICK}"#
    ));
    sandbox.write("s.toml", &text);
    let mut args = vec!["run", "s.toml", "--out", "out"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let out = sandbox.run(&args);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let traffic = &report["strategies"][0]["traffic"];
    let lost = traffic["abandoned"].as_u64().unwrap() + traffic["dropped"].as_u64().unwrap();
    assert!(lost > 100, "{traffic}");
    let breached = report["verdict"]["breaches"].to_string();
    assert!(breached.contains("max-lost-operations"), "{breached}");

    // A budget that allows them lets the run pass.
    sandbox.write(
        "s.toml",
        &text.replace(
            "[traffic]",
            "[budgets]\nmax-lost-operations = 1000000\n[traffic]",
        ),
    );
    let out = sandbox.run(&args);
    assert!(
        !sandbox.report()["verdict"]["breaches"]
            .to_string()
            .contains("max-lost-operations"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn command_steps_end_with_their_process_group_and_never_show_the_password() {
    let sandbox = Sandbox::new();
    let strategies = r#"
[[strategy]]
name = "commands"
steps = [
  { name = "background", command = "sleep 30 & echo started" },
  { name = "secret", command = "echo \"pw=$PGPASSWORD url=$DATABASE_URL\"" },
  { name = "lines", command = "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 1" },
]
"#;
    sandbox.write("s.toml", &scenario(strategies));
    let mut args = vec!["run", "s.toml", "--out", "out"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let out = sandbox.run(&args);
    assert_exit(&out, 1);
    let report = sandbox.report();
    let steps = &report["strategies"][0]["steps"];
    assert_eq!(steps[0]["status"], "succeeded", "{}", steps[0]);
    assert!(
        steps[0]["duration_s"].as_f64().unwrap() < 10.0,
        "a background process holding stdout does not keep the step running"
    );
    let output = steps[1]["output"].as_str().unwrap();
    assert!(output.contains("pw=***"), "{output}");
    assert!(!report.to_string().contains(SHARED_PASSWORD));
    let message = steps[2]["error"]["message"].as_str().unwrap();
    for line in ["line3", "line4", "line5", "line6", "line7"] {
        assert!(message.contains(line), "{message}");
    }

    // Interrupted, the command's whole process group ends, not only `sh`.
    let interrupted = r#"
[[strategy]]
name = "group"
steps = [{ name = "group", command = "sleep 300 & echo $! > bg.pid; sleep 301" }]
"#;
    sandbox.write("s.toml", &scenario(interrupted));
    let (child, _) = sandbox.spawn_until(&args, "step group running");
    let pid_file = sandbox.path().join("bg.pid");
    assert!(eventually(Duration::from_secs(10), || pid_file.exists()));
    std::thread::sleep(Duration::from_millis(200));
    let background: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(background));
    interrupt(&child);
    assert_exit(&child.wait_with_output().unwrap(), 130);
    assert!(eventually(Duration::from_secs(5), || !alive(background)));
}

#[test]
fn connection_errors_name_the_server_message_and_sqlstate() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(QUICK));
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .arg(shared_url_with("postgres", SHARED_PASSWORD, "postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql("DROP ROLE IF EXISTS limited; CREATE ROLE limited LOGIN PASSWORD 'pw' CONNECTION LIMIT 0");
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (
            shared_url_with("postgres", "wrong-password", "postgres"),
            "28P01",
        ),
        (
            shared_url_with("postgres", SHARED_PASSWORD, "no_such_db"),
            "3D000",
        ),
        (shared_url_with("limited", "pw", "postgres"), "53300"),
        (
            format!("postgresql://postgres:x@127.0.0.1:{closed_port}/postgres"),
            "refused",
        ),
    ];
    for (url, needle) in &cases {
        let out = sandbox.run(&[
            "run",
            "s.toml",
            "--backend",
            "url",
            "--database-url",
            url,
            "--out",
            "out",
        ]);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains(needle),
            "run with {url}: `{needle}` not in\n{err}"
        );
        assert!(!err.contains("wrong-password"), "{err}");
        let out = sandbox.run(&["profile", "--database-url", url]);
        assert_exit(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains(needle),
            "profile with {url}: `{needle}` not in\n{err}"
        );
    }
}

/// Unmounts a folder when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_no_partial_report_and_says_so() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: mounting a small tmpfs needs root");
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(QUICK));
    let full = sandbox.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12k", "tmpfs"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(mounted.success());
    let _unmount = Unmount(full.clone());
    let mut args = vec!["run", "s.toml", "--out", "full"];
    let shared_args = shared();
    args.extend(shared_args.iter().map(String::as_str));
    let out = sandbox.run(&args);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!stdout(&out).contains("report:"), "{}", stdout(&out));
    let left: Vec<String> = std::fs::read_dir(&full)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.starts_with("report"))
        .collect();
    assert!(
        left.iter().all(|n| !n.contains("tmp")),
        "partial files left: {left:?}"
    );
    for name in &left {
        let len = std::fs::metadata(full.join(name)).unwrap().len();
        assert!(len > 0, "{name} is empty");
    }
}

#[test]
fn render_of_huge_latencies_does_not_hang() {
    let sandbox = Sandbox::new();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/lock-queue.json"
    ))
    .unwrap();
    let mut report: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    let traffic = &mut report["strategies"][0]["traffic"];
    for list in ["series", "by_start"] {
        for point in traffic[list].as_array_mut().unwrap().iter_mut().take(3) {
            point["p99_ms"] = serde_json::json!(1.7e308);
            point["max_ms"] = serde_json::json!(1.7e308);
        }
    }
    traffic["phases"][0]["all"]["latency"]["max_ms"] = serde_json::json!(1.7e308);
    sandbox.write("huge.json", &report.to_string());
    let mut child = sandbox
        .command(&["render", "huge.json", "--format", "html"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let finished = eventually(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if !finished {
        let _ = child.kill();
    }
    assert!(finished, "render hung on a latency of 1.7e308");
}

/// Runs `rehearse ARGS` with standard output (or error, when `stderr`) on a pipe whose reader
/// has already gone, as `| head -0` leaves it; returns its exit code and standard error.
fn with_closed_pipe(sandbox: &Sandbox, args: &[&str], stderr: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = sandbox.command(args);
    if stderr {
        command.stderr(writer).stdout(std::process::Stdio::piped());
    } else {
        command.stdout(writer).stderr(std::process::Stdio::piped());
    }
    let out = command.output().unwrap();
    let other = if stderr { &out.stdout } else { &out.stderr };
    (
        out.status.code(),
        String::from_utf8_lossy(other).into_owned(),
    )
}

/// Issue 16: `rehearse cache list | head -1` panicked (exit 101) on the closed pipe. Every command
/// that prints stops printing quietly and keeps the exit code it would have had.
#[test]
fn issue_16_a_closed_pipe_ends_the_output_quietly() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    sandbox.write("bad.toml", "name = \"x\"\nnope = 1\n");
    let report = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/lock-queue.json"
    );
    let failing = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/failing.json"
    );
    let cases: [(&[&str], i32); 8] = [
        (&["cache", "list"], 0),
        (&["render", report, "--format", "text"], 0),
        (&["render", report, "--format", "html"], 0),
        (&["validate", "s.toml"], 0),
        (&["validate", "s.toml", "bad.toml"], 2),
        (&["diff", failing, report], 0),
        (&["report-schema"], 0),
        (&["check-report", report], 0),
    ];
    for (args, code) in cases {
        let (got, err) = with_closed_pipe(&sandbox, args, false);
        assert_eq!(got, Some(code), "rehearse {args:?}:\n{err}");
        assert!(!err.contains("panicked"), "rehearse {args:?}:\n{err}");
    }
    // A run prints its summary at the end, on the shared server.
    let shared = shared();
    let mut run = vec!["run", "s.toml", "--strategy", "works", "--out", "out"];
    run.extend(shared.iter().map(String::as_str));
    let (got, err) = with_closed_pipe(&sandbox, &run, false);
    assert_eq!(got, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Errors go to standard error, which may be the closed pipe (`2>&1 | head -0`).
    let (got, out) = with_closed_pipe(&sandbox, &["validate", "bad.toml"], true);
    assert_eq!(got, Some(2), "{out}");

    // A reader that takes a line, then goes (`| head -1`), with more output still to come.
    let (reader, writer) = std::io::pipe().unwrap();
    let child = sandbox
        .command(&["render", report, "--format", "html"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut first).unwrap();
    assert!(first.starts_with("<!"), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
