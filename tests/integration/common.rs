//! Helpers shared by the integration tests: a sandbox folder per test, running the binary, and
//! checks on what a run leaves behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The image the docker tests use (built by scripts/build-postgres-image.sh).
pub(crate) fn test_image() -> String {
    std::env::var("REHEARSE_TEST_IMAGE").unwrap_or_else(|_| "rehearse/postgres:17".into())
}

/// A folder for one test: scenario files, the output folder, and the TMPDIR the local backend
/// makes its clusters in (so a test can prove they are gone).
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("rehearse-test-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        // The local backend runs initdb as `postgres` when tests run as root.
        for p in [dir.path().to_owned(), dir.path().join("tmp")] {
            let mut perms = std::fs::metadata(&p).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
            std::fs::set_permissions(&p, perms).unwrap();
        }
        Sandbox { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file relative to the sandbox, returning its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// The cluster directories the local backend left in this sandbox's TMPDIR.
    pub(crate) fn leftover_clusters(&self) -> Vec<String> {
        std::fs::read_dir(self.path().join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// `rehearse ARGS` with TMPDIR inside the sandbox.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rehearse"));
        cmd.args(args)
            .env("TMPDIR", self.path().join("tmp"))
            .env("REHEARSE_CACHE_DIR", self.path().join("cache"))
            .env("RUST_LOG", "rehearse=info")
            .current_dir(self.path());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `rehearse ARGS` on this test binary's shared server (see [`shared`]).
    pub(crate) fn run_shared(&self, args: &[&str]) -> Output {
        self.command(args).args(shared()).output().unwrap()
    }

    /// Starts `rehearse ARGS` and returns once it logs a line containing `marker`, with its
    /// log (stderr), which keeps filling as the run goes on.
    pub(crate) fn spawn_until(&self, args: &[&str], marker: &str) -> (Child, Log) {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Log::default();
        let filling = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = filling.0.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if log.text().lines().any(|l| l.contains(marker)) {
                return (child, log);
            }
            if child.try_wait().unwrap().is_some() {
                std::thread::sleep(Duration::from_millis(200));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("never saw `{marker}` in rehearse's output:\n{}", log.text());
    }

    pub(crate) fn report(&self) -> serde_json::Value {
        let path = self.out().join("report.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_valid_report(&report);
        assert_consistent_report(&path);
        report
    }
}

/// The stderr of a run started with [`Sandbox::spawn_until`], as far as it got.
#[derive(Clone, Default)]
pub(crate) struct Log(std::sync::Arc<std::sync::Mutex<String>>);

impl Log {
    pub(crate) fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// Checks that a report never contradicts itself (`rehearse check-report`).
pub(crate) fn assert_consistent_report(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .arg("check-report")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} contradicts itself:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks a report against the committed JSON Schema.
pub(crate) fn assert_valid_report(report: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match schemas/report.schema.json: {errors:#?}"
    );
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts an exit code, showing the output when it differs.
#[track_caller]
pub(crate) fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Sends SIGINT to a child, as Ctrl-C would.
pub(crate) fn interrupt(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

/// Whether a Docker engine answers. In CI it must: there the docker tests may not skip.
pub(crate) fn docker_available() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "CI is set but no Docker engine answers: the docker tests must run in CI"
    );
    if ok {
        let image = Command::new("docker")
            .args(["image", "inspect", &test_image()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            image,
            "a Docker engine answers but {} is missing: run scripts/build-postgres-image.sh 17",
            test_image()
        );
    } else {
        eprintln!("skipping: no Docker engine answers");
    }
    ok
}

/// Containers labelled with a run's id (should be none once the run ended).
pub(crate) fn containers_of_run(run_id: &str) -> Vec<String> {
    labelled(&["ps", "-a", "-q"], run_id)
}

/// The volumes a run left behind (its throwaway data volume, when not removed).
pub(crate) fn volumes_of_run(run_id: &str) -> Vec<String> {
    labelled(&["volume", "ls", "-q"], run_id)
}

fn labelled(command: &[&str], run_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(command)
        .args(["--filter", &format!("label=org.rehearse.run={run_id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A small scenario: `users` with 2,000 rows and the given strategies (TOML).
pub(crate) fn scenario(strategies: &str) -> String {
    format!(
        r#"
name = "test"
[database]
postgres = "17"
[schema]
sql = """
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    total numeric(8, 2) NOT NULL
);
"""
[seed.tables.users]
rows = 2_000
[seed.tables.orders]
rows = 5_000
{strategies}
"#
    )
}

/// Two strategies: one that works, one whose second step fails.
pub(crate) const GOOD_AND_FAILING: &str = r#"
[[strategy]]
name = "works"
steps = [
  { name = "add-column", sql = "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free'" },
  { name = "index", sql = "CREATE INDEX ON orders (total)" },
]
[[strategy]]
name = "breaks"
steps = [
  { name = "fine", sql = "ALTER TABLE users ADD COLUMN nickname text" },
  { name = "typo", sql = "ALTER TABLE userz ADD COLUMN x int" },
  { name = "never", sql = "SELECT 1" },
]
"#;

/// One strategy whose step sleeps long enough to be interrupted.
pub(crate) const SLOW: &str = r#"
[[strategy]]
name = "slow"
steps = [{ name = "sleepy", sql = "SELECT pg_sleep(60)" }]
"#;

/// The flags that run a scenario on this test binary's shared server (`--backend url`), for
/// tests that need a Postgres but not a particular backend: one cluster for the whole binary
/// instead of an `initdb` per run, so the suite's time grows with what tests do, not with how
/// many start a server. Each run still works in its own scratch databases.
pub(crate) fn shared() -> Vec<String> {
    vec![
        "--backend".into(),
        "url".into(),
        "--database-url".into(),
        shared_server().to_owned(),
    ]
}

/// The URL of the shared server, started on first use: a cluster in the target folder, owned by
/// the `postgres` user when the tests run as root (initdb refuses root). The server gets SIGINT
/// (fast shutdown) when this test process ends, however it ends: it is started from a thread
/// that never returns, with the parent-death signal set. A folder left by a dead test process
/// is removed on the next start.
fn shared_server() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shared-postgres".into())
            .spawn(move || {
                let url = start_shared_server();
                tx.send(url).unwrap();
                // The parent-death signal fires when this thread ends: never end it.
                loop {
                    std::thread::park();
                }
            })
            .unwrap();
        rx.recv().expect("the shared server started")
    })
}

fn start_shared_server() -> String {
    use std::os::unix::process::CommandExt;
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("shared-pg-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(format!("shared-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = postgres_bindir();
    let owner = nix::unistd::geteuid()
        .is_root()
        .then(|| nix::unistd::User::from_name("postgres").unwrap().unwrap());
    if let Some(user) = &owner {
        std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).unwrap();
    }
    let as_owner = |command: &mut Command| {
        if let Some(user) = &owner {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
    };
    let data = dir.join("data");
    // Connections over TCP need the password, as on a real server: the tests of connection
    // errors need a server that can refuse one.
    let pwfile = dir.join("password");
    std::fs::write(&pwfile, SHARED_PASSWORD).unwrap();
    if let Some(user) = &owner {
        std::os::unix::fs::chown(&pwfile, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .unwrap();
    }
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["--no-sync", "--locale=C"])
        .stdout(Stdio::null());
    as_owner(&mut initdb);
    assert!(initdb.status().unwrap().success(), "initdb failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join("postgres.log")).unwrap();
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-c", &format!("port={port}")])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", &format!("unix_socket_directories={}", dir.display())])
        .args(["-c", "max_connections=200", "-c", "fsync=off"])
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    as_owner(&mut postgres);
    // SAFETY: prctl only sets a flag of the new process; nothing else runs between fork and exec.
    unsafe {
        postgres.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGINT)
                .map_err(std::io::Error::from)
        });
    }
    let child = postgres.spawn().unwrap();
    std::mem::forget(child);
    // pg_isready tries once: try until the server accepts connections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "5"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        if ready.success() {
            break;
        }
        assert!(Instant::now() < deadline, "the shared server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    format!("postgresql://postgres:{SHARED_PASSWORD}@127.0.0.1:{port}/postgres")
}

/// The password of the shared server's `postgres` user.
pub(crate) const SHARED_PASSWORD: &str = "shared-s3cret";

/// The shared server's URL with another user, password or database.
pub(crate) fn shared_url_with(user: &str, password: &str, database: &str) -> String {
    let url = shared_server();
    let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap();
    format!("postgresql://{user}:{password}@127.0.0.1:{port}/{database}")
}

/// The newest `/usr/lib/postgresql/*/bin` (else `pg_config --bindir`).
fn postgres_bindir() -> PathBuf {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("initdb").is_file())
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return bin;
    }
    let out = Command::new("pg_config").arg("--bindir").output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
