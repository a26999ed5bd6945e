//! The url backend: scratch databases on an existing server, dropped afterwards; refusal of a
//! server that already holds tables; the password never shown.

use rehearse::db::{BackendKind, BackendOptions, provision};
use rehearse::scenario::DatabasePlan;
use tokio_postgres::config::Host;

use crate::common::{
    GOOD_AND_FAILING, SLOW, Sandbox, assert_exit, interrupt, scenario, stderr, stdout,
};

const PASSWORD: &str = "pa55word-never-shown";

/// A server for the url backend to use: a throwaway local cluster made through the library.
async fn server(sandbox: &Sandbox) -> rehearse::db::Server {
    server_named(sandbox, "urltest").await
}

/// [`server`], under the run id `run_id`.
async fn server_named(sandbox: &Sandbox, run_id: &str) -> rehearse::db::Server {
    let options = BackendOptions {
        kind: BackendKind::Local,
        database_url: None,
        image: None,
        pg_bin: None,
        allow_existing_tables: false,
        log_path: sandbox.path().join("server.log"),
        run_id: run_id.into(),
        cache: None,
        owner: rehearse::db::owner::Owner::current(run_id),
    };
    provision(&options, &DatabasePlan::default()).await.unwrap()
}

fn url_of(server: &rehearse::db::Server) -> String {
    let config = server.config_for("postgres");
    let host = match &config.get_hosts()[0] {
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.display().to_string(),
    };
    format!(
        "postgresql://postgres:{PASSWORD}@{host}:{}/postgres",
        config.get_ports()[0]
    )
}

async fn scratch_databases(server: &rehearse::db::Server) -> Vec<String> {
    let client = server.connect("postgres").await.unwrap();
    client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'rehearse_%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn url_runs_in_scratch_databases_and_drops_them() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(GOOD_AND_FAILING));
    let server = server(&sandbox).await;
    let url = url_of(&server);

    let args = [
        "run",
        "s.toml",
        "--backend",
        "url",
        "--database-url",
        &url,
        "--out",
        "out",
    ];
    let out = tokio::task::block_in_place(|| sandbox.run(&args));
    assert_exit(&out, 1);
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(PASSWORD), "password shown:\n{text}");
    }
    let report = sandbox.report();
    assert!(!report.to_string().contains(PASSWORD));
    assert_eq!(report["environment"]["backend"], "url");
    assert_eq!(report["environment"]["settings_applied"], false);
    assert_eq!(report["strategies"][0]["status"], "succeeded");
    assert_eq!(scratch_databases(&server).await, Vec::<String>::new());

    // A server whose database holds tables is refused, unless the user says it is meant for it.
    let client = server.connect("postgres").await.unwrap();
    client
        .batch_execute("CREATE TABLE precious (id int)")
        .await
        .unwrap();
    let out = tokio::task::block_in_place(|| sandbox.run(&args));
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("refusing to rehearse"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("public.precious"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(PASSWORD));

    let mut allowed = args.to_vec();
    allowed.extend(["--allow-existing-tables", "--strategy", "works"]);
    let out = tokio::task::block_in_place(|| sandbox.run(&allowed));
    assert_exit(&out, 0);
    assert_eq!(scratch_databases(&server).await, Vec::<String>::new());
    let still_there = client.query_one("SELECT count(*) FROM precious", &[]).await;
    assert!(still_there.is_ok(), "the user's table must be untouched");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn url_sigint_drops_the_scratch_databases() {
    let sandbox = Sandbox::new();
    sandbox.write("s.toml", &scenario(SLOW));
    let server = server(&sandbox).await;
    let url = url_of(&server);
    let args = [
        "run",
        "s.toml",
        "--backend",
        "url",
        "--database-url",
        &url,
        "--out",
        "out",
    ];
    let out = tokio::task::block_in_place(|| {
        let (child, _) = sandbox.spawn_until(&args, "step sleepy running");
        interrupt(&child);
        child.wait_with_output().unwrap()
    });
    assert_exit(&out, 130);
    assert_eq!(sandbox.report()["outcome"], "interrupted");
    assert_eq!(scratch_databases(&server).await, Vec::<String>::new());
    server.shutdown().await;
}

/// `profile` reads a real database's statistics (read-only) and writes a seed section that,
/// with the same schema, validates and seeds data of the same shape.
#[tokio::test(flavor = "multi_thread")]
async fn profile_writes_a_seed_section_shaped_like_the_database() {
    let sandbox = Sandbox::new();
    let server = server(&sandbox).await;
    let schema = "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        email text NOT NULL UNIQUE, status text NOT NULL, created_at timestamptz NOT NULL, \
        note text, prefs jsonb); \
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), \
        total numeric(10, 2) NOT NULL); \
        CREATE TABLE visits (region text NOT NULL, hits int NOT NULL) PARTITION BY LIST (region); \
        CREATE TABLE visits_eu PARTITION OF visits FOR VALUES IN ('eu'); \
        CREATE TABLE visits_us PARTITION OF visits FOR VALUES IN ('us');";
    let client = server.connect("postgres").await.unwrap();
    client.batch_execute("CREATE DATABASE prod").await.unwrap();
    let prod = server.connect("prod").await.unwrap();
    prod.batch_execute(schema).await.unwrap();
    prod.batch_execute(
        "INSERT INTO customers (email, status, created_at, note, prefs)
         SELECT 'c' || g || '@example.com', (ARRAY['active', 'active', 'active', 'banned'])[1 + g % 4],
                '2026-01-01'::timestamptz - interval '900 days' * power(g / 20000.0, 3),
                CASE WHEN g % 2 = 0 THEN 'a note of some length ' || g END, jsonb_build_object('k', g)
           FROM generate_series(1, 20000) g;
         INSERT INTO orders (customer_id, total)
         SELECT 1 + floor(19999 * power(g / 60000.0, 6))::bigint, (g % 500) + 0.5 FROM generate_series(1, 60000) g;
         INSERT INTO visits SELECT CASE WHEN g % 4 = 0 THEN 'us' ELSE 'eu' END, g % 7 FROM generate_series(1, 4000) g;
         ANALYZE;",
    )
    .await
    .unwrap();
    let url = format!(
        "{}/prod",
        url_of(&server).strip_suffix("/postgres").unwrap()
    );
    let out = tokio::task::block_in_place(|| sandbox.run(&["profile", "--database-url", &url]));
    assert_exit(&out, 0);
    let seed = stdout(&out);
    for expected in [
        "[seed.tables.customers]\nrows = 20000",
        "[seed.tables.orders]\nrows = 60000",
        "email = { fake = \"email\", unique = true }",
        "status = { enum = { active = 75",
        "skew = ",
        "note = { fake = ",
        "null = 0.5",
        "customer_id = { key = \"customers.id\", dist = \"zipf\"",
        "total = { range = [0.50, 499.50] }",
        "prefs = { json = ",
        // A partitioned table's statistics are its partitions' (pg_stats.inherited).
        "[seed.tables.visits]\nrows = 4000",
        "region = { enum = { eu = 75",
    ] {
        assert!(seed.contains(expected), "missing `{expected}` in:\n{seed}");
    }
    assert!(!stderr(&out).contains(PASSWORD));

    // The profile and the schema make a scenario that validates and seeds.
    sandbox.write(
        "p.toml",
        &format!(
            "name = \"profiled\"\n[schema]\nsql = '''{schema}'''\n{seed}\n[[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
        ),
    );
    let out = tokio::task::block_in_place(|| sandbox.run(&["validate", "p.toml"]));
    assert_exit(&out, 0);
    let out = tokio::task::block_in_place(|| {
        sandbox.run(&[
            "run",
            "p.toml",
            "--backend",
            "local",
            "--scale",
            "0.1",
            "--out",
            "out",
            "--no-cache",
        ])
    });
    assert_exit(&out, 0);
    assert_eq!(sandbox.report()["seed"]["rows"], 8400);
}

/// A throwaway local cluster with `pg_stat_statements` loaded.
async fn server_with_statements(sandbox: &Sandbox) -> rehearse::db::Server {
    let options = BackendOptions {
        kind: BackendKind::Local,
        database_url: None,
        image: None,
        pg_bin: None,
        allow_existing_tables: false,
        log_path: sandbox.path().join("server.log"),
        run_id: "pgsstest".into(),
        cache: None,
        owner: rehearse::db::owner::Owner::current("pgsstest"),
    };
    let plan = DatabasePlan {
        settings: vec![(
            "shared_preload_libraries".into(),
            "pg_stat_statements".into(),
        )],
        ..DatabasePlan::default()
    };
    provision(&options, &plan).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_traffic_reproduces_the_query_mix_and_rate() {
    let sandbox = Sandbox::new();
    let server = server_with_statements(&sandbox).await;
    let admin = server.connect("postgres").await.unwrap();
    admin.batch_execute("CREATE DATABASE prod").await.unwrap();
    let prod = server.connect("prod").await.unwrap();
    let schema = "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        email text NOT NULL UNIQUE, score int NOT NULL); \
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), \
        total numeric(10, 2) NOT NULL);";
    prod.batch_execute(schema).await.unwrap();
    prod.batch_execute(
        "CREATE EXTENSION pg_stat_statements;
         INSERT INTO customers (email, score) SELECT 'c' || g || '@example.com', g % 100 FROM generate_series(1, 2000) g;
         INSERT INTO orders (customer_id, total) SELECT 1 + g % 2000, g % 300 + 0.5 FROM generate_series(1, 5000) g;
         ANALYZE;
         SELECT pg_stat_statements_reset();",
    )
    .await
    .unwrap();
    // A known workload: 200 operations a second, 6 reads, 3 updates and 1 insert in every 10.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let client = server.connect("prod").await.unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            let read = client
                .prepare("SELECT email FROM customers WHERE id = $1")
                .await
                .unwrap();
            let update = client
                .prepare("UPDATE customers SET score = $1 WHERE id = $2")
                .await
                .unwrap();
            let insert = client
                .prepare("INSERT INTO orders (customer_id, total) VALUES ($1, $2::text::numeric)")
                .await
                .unwrap();
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(5));
            let mut i: i64 = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let id = 1 + i % 2000;
                match i % 10 {
                    0..=5 => drop(client.query(&read, &[&id]).await.unwrap()),
                    6..=8 => drop(
                        client
                            .execute(&update, &[&((i % 100) as i32), &id])
                            .await
                            .unwrap(),
                    ),
                    _ => drop(client.execute(&insert, &[&id, &"12.50"]).await.unwrap()),
                }
                i += 1;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let url = format!(
        "{}/prod",
        url_of(&server).strip_suffix("/postgres").unwrap()
    );
    let out = tokio::task::block_in_place(|| {
        sandbox.run(&[
            "profile",
            "--database-url",
            &url,
            "--traffic",
            "--window",
            "3s",
        ])
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    worker.await.unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    let profiled: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let traffic = &profiled["traffic"];
    let rate = traffic["rate"].as_float().unwrap();
    assert!((rate - 200.0).abs() <= 20.0, "rate {rate}\n{text}");
    let queries = traffic["query"].as_array().unwrap();
    let weight = |q: &toml::Value| q["weight"].as_integer().unwrap() as f64;
    let total: f64 = queries.iter().map(weight).sum();
    let share = |needle: &str| {
        queries
            .iter()
            .filter(|q| q["sql"].as_str().unwrap().contains(needle))
            .map(weight)
            .sum::<f64>()
            / total
    };
    for (needle, expected) in [
        ("SELECT email", 0.6),
        ("UPDATE customers", 0.3),
        ("INSERT INTO orders", 0.1),
    ] {
        let got = share(needle);
        assert!(
            (got - expected).abs() <= 0.05 * expected,
            "{needle}: {got:.3} of calls, expected {expected}\n{text}"
        );
    }
    assert!(
        text.contains("params = [{ key = \"customers.id\" }]"),
        "{text}"
    );
    assert!(
        text.contains("{ key = \"customers.id\" }, { range = ["),
        "{text}"
    );
    assert!(!text.contains("pg_stat_statements_reset"), "{text}");

    // With the schema, the profile is a scenario that validates.
    sandbox.write(
        "p.toml",
        &format!(
            "name = \"profiled\"\n[schema]\nsql = '''{schema}'''\n{text}\n[[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
        ),
    );
    let out = tokio::task::block_in_place(|| sandbox.run(&["validate", "p.toml"]));
    assert_exit(&out, 0);

    // Without the extension, the message says what to install.
    let bare = format!(
        "{}/postgres",
        url_of(&server).strip_suffix("/postgres").unwrap()
    );
    let out = tokio::task::block_in_place(|| {
        sandbox.run(&["profile", "--database-url", &bare, "--traffic"])
    });
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("CREATE EXTENSION pg_stat_statements"),
        "{}",
        stderr(&out)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_writes_a_scenario_that_validates_and_runs() {
    let sandbox = Sandbox::new();
    let server = server_with_statements(&sandbox).await;
    let admin = server.connect("postgres").await.unwrap();
    admin.batch_execute("CREATE DATABASE shop").await.unwrap();
    let shop = server.connect("shop").await.unwrap();
    shop.batch_execute(
        "CREATE EXTENSION pg_stat_statements;
         CREATE TYPE tier AS ENUM ('free', 'pro');
         CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             email text NOT NULL UNIQUE, tier tier NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(8, 2) NOT NULL CHECK (price > 0));
         CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
             product_id int NOT NULL REFERENCES products (id), quantity int NOT NULL CHECK (quantity BETWEEN 1 AND 9));
         CREATE INDEX orders_customer ON orders (customer_id);
         INSERT INTO customers (email, tier) SELECT 'c' || g || '@example.com', (ARRAY['free', 'pro'])[1 + g % 2]::tier FROM generate_series(1, 3000) g;
         INSERT INTO products (name, price) SELECT 'product ' || g, 1 + g % 50 FROM generate_series(1, 200) g;
         INSERT INTO orders (customer_id, product_id, quantity) SELECT 1 + g % 3000, 1 + g % 200, 1 + g % 9 FROM generate_series(1, 8000) g;
         ANALYZE;
         SELECT pg_stat_statements_reset();",
    )
    .await
    .unwrap();
    let read = shop
        .prepare("SELECT o.quantity FROM orders o WHERE o.customer_id = $1")
        .await
        .unwrap();
    let insert = shop
        .prepare("INSERT INTO orders (customer_id, product_id, quantity) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    for i in 0..300i64 {
        shop.query(&read, &[&(1 + i % 3000)]).await.unwrap();
        if i % 3 == 0 {
            shop.execute(&insert, &[&(1 + i % 3000), &(1 + (i % 200) as i32), &3i32])
                .await
                .unwrap();
        }
    }
    let url = format!(
        "{}/shop",
        url_of(&server).strip_suffix("/postgres").unwrap()
    );
    let out =
        tokio::task::block_in_place(|| sandbox.run(&["init", "--from-database", &url, "shop"]));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("it validates"), "{}", stdout(&out));
    assert!(!stderr(&out).contains(PASSWORD), "{}", stderr(&out));
    let scenario = std::fs::read_to_string(sandbox.path().join("shop/scenario.toml")).unwrap();
    for expected in [
        "[schema]\nfile = \"schema.sql\"",
        "[seed.tables.orders]\nrows = 8000",
        "[traffic]",
        "sql = \"SELECT o.quantity FROM orders o WHERE o.customer_id = $1\"",
        "{ dir = \"migrations\"",
    ] {
        assert!(
            scenario.contains(expected),
            "missing `{expected}` in:\n{scenario}"
        );
    }
    assert!(sandbox.path().join("shop/schema.sql").exists());
    assert!(
        sandbox
            .path()
            .join("shop/migrations/0001_example.sql")
            .exists()
    );
    // A second init into the same folder is refused.
    let again =
        tokio::task::block_in_place(|| sandbox.run(&["init", "--from-database", &url, "shop"]));
    assert_exit(&again, 2);

    let out = tokio::task::block_in_place(|| {
        sandbox.run(&[
            "run",
            "shop/scenario.toml",
            "--backend",
            "local",
            "--scale",
            "0.2",
            "--no-cache",
            "--out",
            "out",
        ])
    });
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = sandbox.report();
    assert_eq!(
        report["strategies"][0]["status"], "succeeded",
        "{}",
        report["strategies"][0]
    );
    assert!(
        report["strategies"][0]["traffic"]["recorded"]
            .as_u64()
            .unwrap()
            > 0
    );
    server.shutdown().await;
}

const CAPTURED_SCHEMA: &str = "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
    email text NOT NULL UNIQUE, score int NOT NULL);";

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_log_replays_the_same_statements_at_the_same_rate() {
    let sandbox = Sandbox::new();
    let server = server_named(&sandbox, "capturetest").await;
    let admin = server.connect("postgres").await.unwrap();
    admin
        .batch_execute("CREATE DATABASE capture_src")
        .await
        .unwrap();
    let setup = server.connect("capture_src").await.unwrap();
    setup.batch_execute(CAPTURED_SCHEMA).await.unwrap();
    setup
        .batch_execute(
            "INSERT INTO users (email, score) SELECT 'u' || g || '@example.com', 0 FROM generate_series(1, 2000) g",
        )
        .await
        .unwrap();
    drop(setup);
    admin
        .batch_execute("ALTER DATABASE capture_src SET log_min_duration_statement = 0")
        .await
        .unwrap();
    // The workload: 3 sessions, each 100 statements 20 ms apart (150 a second in all): reads
    // with a parameter, updates as plain SQL, and a transaction every tenth.
    let mut sessions = Vec::new();
    for s in 0..3i64 {
        let client = server.connect("capture_src").await.unwrap();
        sessions.push(tokio::spawn(async move {
            let read = client
                .prepare("SELECT email FROM users WHERE id = $1")
                .await
                .unwrap();
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
            for i in 0..100i64 {
                tick.tick().await;
                let id = 1 + (s * 100 + i) % 2000;
                match i % 10 {
                    0 => client
                        .batch_execute(&format!(
                            "BEGIN; UPDATE users SET score = score + 1 WHERE id = {id}; COMMIT"
                        ))
                        .await
                        .unwrap(),
                    1..=5 => drop(client.query(&read, &[&id]).await.unwrap()),
                    _ => client
                        .batch_execute(&format!(
                            "UPDATE users SET score = score + 1 WHERE id = {id}"
                        ))
                        .await
                        .unwrap(),
                }
            }
        }));
    }
    for s in sessions {
        s.await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(sandbox.path().join("server.log")).unwrap();
    server.shutdown().await;
    sandbox.write("capture.log", &log);

    let scenario = format!(
        r#"
name = "replay"
[schema]
sql = "{CAPTURED_SCHEMA}"
[seed.tables.users]
rows = 2000
[traffic]
replay = "capture.log"
warmup = "0s"
baseline = "3s"
recovery = "0s"
[[strategy]]
name = "quick"
steps = [{{ sql = "SELECT 1" }}]
"#
    );
    sandbox.write("s.toml", &scenario);
    let out = tokio::task::block_in_place(|| sandbox.run(&["validate", "s.toml"]));
    assert_exit(&out, 0);
    let out =
        tokio::task::block_in_place(|| sandbox.run_shared(&["run", "s.toml", "--out", "out"]));
    assert_exit(&out, 0);
    let report = sandbox.report();
    let traffic = &report["strategies"][0]["traffic"];
    let replay = &traffic["replay"];
    // 300 statements through `statement:` or `execute` lines (BEGIN; …; COMMIT is one).
    assert_eq!(replay["captured"], 300, "{replay}");
    assert_eq!(replay["replayed"], 300, "{replay}");
    assert_eq!(replay["sessions"], 3, "{replay}");
    assert_eq!(traffic["failed"], 0, "{}", traffic["errors"]);
    let rate = traffic["rate"].as_f64().unwrap();
    assert!(
        (rate - 150.0).abs() <= 7.5,
        "replayed at {rate}/s, captured at 150/s"
    );
    let late = traffic["lateness"]["p99_ms"].as_f64().unwrap();
    assert!(late < 50.0, "the replay fell {late} ms behind its schedule");
    let summary = stdout(&out);
    assert!(
        summary.contains("replay of capture.log: 300 of 300"),
        "{summary}"
    );
}
