//! `driver-overhead MODE PORT DB CONNECTIONS SECONDS`: runs pgbench's select-only statement
//! (`SELECT abalance FROM pgbench_accounts WHERE aid = $1`, prepared, a uniform random aid)
//! back to back on CONNECTIONS connections for SECONDS and prints `MODE ops/s`. Each connection
//! runs on a thread of its own with a single-threaded runtime, as rehearse's traffic pool does.
//!
//! MODE `tokio-postgres` sends it with `Client::execute_raw`, the connection polled by the task
//! that uses it (as rehearse's traffic workers do); MODE `protocol` writes Bind/Execute/Sync
//! with postgres-protocol and reads to ReadyForQuery itself: what is left of a client once the
//! driver's per-query machinery (request channel, response channel, codec) is gone.
//! Trust authentication over TCP on 127.0.0.1 only: a measurement, not a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::IsNull;
use postgres_protocol::message::{backend, frontend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SQL: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
const ACCOUNTS: u64 = 1_000_000;

struct Wire {
    stream: TcpStream,
    read: BytesMut,
    write: BytesMut,
}

impl Wire {
    async fn connect(port: u16, db: &str) -> Wire {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut w = Wire {
            stream,
            read: BytesMut::with_capacity(8192),
            write: BytesMut::with_capacity(1024),
        };
        frontend::startup_message([("user", "postgres"), ("database", db)], &mut w.write)
            .expect("startup");
        w.flush().await;
        w.until_ready().await;
        frontend::parse("s1", SQL, [23u32], &mut w.write).expect("parse");
        frontend::sync(&mut w.write);
        w.flush().await;
        w.until_ready().await;
        w
    }

    async fn flush(&mut self) {
        self.stream.write_all(&self.write).await.expect("write");
        self.write.clear();
    }

    async fn until_ready(&mut self) {
        loop {
            let message = loop {
                if let Some(m) = backend::Message::parse(&mut self.read).expect("message") {
                    break m;
                }
                self.read.reserve(8192);
                let n = self.stream.read_buf(&mut self.read).await.expect("read");
                assert!(n > 0, "the server closed the connection");
            };
            match message {
                backend::Message::ReadyForQuery(_) => return,
                backend::Message::ErrorResponse(_) => panic!("the server returned an error"),
                _ => {}
            }
        }
    }
}

/// xorshift64: cheap, and the same for both modes.
fn next_aid(x: &mut u64) -> i32 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    (*x % ACCOUNTS) as i32 + 1
}

async fn protocol(port: u16, db: String, stop: Arc<AtomicBool>, seed: u64) -> u64 {
    let mut w = Wire::connect(port, &db).await;
    let (mut x, mut n) = (seed | 1, 0);
    while !stop.load(Ordering::Relaxed) {
        let aid = next_aid(&mut x);
        let encode = |v: i32, buf: &mut BytesMut| {
            buf.extend_from_slice(&v.to_be_bytes());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(IsNull::No)
        };
        frontend::bind("", "s1", Some(1), [aid], encode, Some(1), &mut w.write)
            .unwrap_or_else(|_| panic!("bind"));
        frontend::execute("", 0, &mut w.write).expect("execute");
        frontend::sync(&mut w.write);
        w.flush().await;
        w.until_ready().await;
        n += 1;
    }
    n
}

/// Runs `work` while polling the connection, as rehearse's workers do.
async fn driving<T>(
    conn: &mut std::pin::Pin<Box<impl Future<Output = Result<(), tokio_postgres::Error>>>>,
    work: impl Future<Output = T>,
) -> T {
    tokio::select! {
        biased;
        _ = conn.as_mut() => panic!("the connection ended"),
        out = work => out,
    }
}

async fn tokio_postgres(port: u16, db: String, stop: Arc<AtomicBool>, seed: u64) -> u64 {
    let url = format!("host=127.0.0.1 port={port} user=postgres dbname={db}");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let mut conn = Box::pin(conn);
    let statement = driving(&mut conn, client.prepare(SQL))
        .await
        .expect("prepare");
    let (mut x, mut n) = (seed | 1, 0);
    while !stop.load(Ordering::Relaxed) {
        let aid = next_aid(&mut x);
        driving(&mut conn, client.execute_raw(&statement, [aid]))
            .await
            .expect("execute");
        n += 1;
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, port, db, connections, seconds] = &args[..] else {
        eprintln!("usage: driver-overhead protocol|tokio-postgres PORT DB CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("port");
    let connections: usize = connections.parse().expect("connections");
    let seconds: u64 = seconds.parse().expect("seconds");
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    // A thread per connection, each with its own runtime: rehearse's traffic pool's layout.
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let (stop, count, db, mode) = (stop.clone(), count.clone(), db.clone(), mode.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    // Spawned, not run by block_on itself: rehearse's workers are tasks too.
                    let seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(c as u64 + 1);
                    let task = if mode == "protocol" {
                        tokio::spawn(protocol(port, db, stop, seed))
                    } else {
                        tokio::spawn(tokio_postgres(port, db, stop, seed))
                    };
                    count.fetch_add(task.await.expect("task"), Ordering::Relaxed);
                });
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread");
    }
    let ops = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{mode} {ops:.1}");
}
