//! A deploy's connection surge: during a rolling deploy the new version's instances open their
//! connection pools while the old version's are still open, so the application holds more
//! connections than at rest. A deploy step with `connections = N` opens N more connections,
//! spread evenly over the rollout (instances come up one after another), holds them (as a pool
//! whose minimum idle size is its size does) and closes them when the rollout ends, when the old
//! version's instances would have gone. A connection the server refuses (`too many clients`,
//! SQLSTATE 53300, or any other failure) is an application error at that moment, and is tried
//! again every second until the rollout ends, as a starting instance's pool does.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::collector::{Event, Failure};
use crate::clock::RunClock;
use crate::pg::ErrorClass;

/// How long a refused connection waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A surge in progress.
pub(super) struct Surge {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<u64>,
}

/// What a deploy's surge needs.
pub(super) struct SurgePlan {
    /// Where the new version connects (the traffic's settings).
    pub config: tokio_postgres::Config,
    /// The version deployed, for the errors' query name.
    pub version: String,
    /// Connections to open.
    pub connections: usize,
    /// The rollout's start, µs on the run's clock.
    pub start_us: u64,
    /// How long the rollout lasts.
    pub over: Duration,
}

impl Surge {
    /// Starts opening the connections.
    pub(super) fn start(plan: SurgePlan, clock: RunClock, events: mpsc::Sender<Event>) -> Surge {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(plan, clock, events, stop.clone()));
        Surge { stop, task }
    }

    /// Closes the connections now (traffic stops) and returns how many were opened.
    pub(super) async fn end(mut self) -> u64 {
        self.stop.cancel();
        (&mut self.task).await.unwrap_or(0)
    }
}

impl Drop for Surge {
    /// A surge dropped without [`Surge::end`] (an error path) closes its connections all the
    /// same.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn run(
    plan: SurgePlan,
    clock: RunClock,
    events: mpsc::Sender<Event>,
    stop: CancellationToken,
) -> u64 {
    let n = plan.connections.max(1) as u64;
    let over_us = plan.over.as_micros() as u64;
    let end_us = plan.start_us + over_us;
    // Connection i is first due at start + i/n of the rollout; refused ones are due again later.
    let mut due: Vec<u64> = (0..n).map(|i| plan.start_us + over_us * i / n).collect();
    let mut open = Vec::new();
    let mut opened = 0;
    loop {
        let now_us = clock.offset().as_micros() as u64;
        if now_us >= end_us {
            break;
        }
        let Some(&next) = due.iter().min() else {
            // Everything is open: hold it until the rollout ends.
            let rest = Duration::from_micros(end_us.saturating_sub(now_us));
            tokio::select! {
                () = tokio::time::sleep(rest) => {}
                () = stop.cancelled() => {}
            }
            break;
        };
        if next > now_us {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_micros(next - now_us)) => continue,
                () = stop.cancelled() => break,
            }
        }
        let i = due.iter().position(|&d| d == next).expect("found above");
        let attempt = tokio::select! {
            r = connect(&plan.config) => r,
            () = stop.cancelled() => break,
        };
        match attempt {
            Ok(client) => {
                open.push(client);
                opened += 1;
                due.swap_remove(i);
            }
            Err(e) => {
                let at_us = clock.offset().as_micros() as u64;
                let _ = events
                    .send(Event::Refused {
                        at_us,
                        version: plan.version.clone(),
                        failure: e,
                    })
                    .await;
                due[i] = at_us + RETRY.as_micros() as u64;
            }
        }
    }
    drop(open);
    opened
}

/// Opens one of the new version's connections, keeping the server's SQLSTATE when it refuses.
async fn connect(config: &tokio_postgres::Config) -> Result<tokio_postgres::Client, Failure> {
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls));
    match attempt.await {
        Ok(Ok((client, connection))) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Ok(Err(e)) => {
            let sqlstate = e.code().map(|c| c.code().to_owned());
            Err(Failure {
                class: match &sqlstate {
                    Some(code) => ErrorClass::of(Some(code), false),
                    None => ErrorClass::Connection,
                },
                sqlstate,
                message: format!("connecting: {}", crate::pg::describe(&e)),
            })
        }
        Err(_) => Err(Failure {
            class: ErrorClass::Connection,
            sqlstate: None,
            message: format!(
                "connecting: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        }),
    }
}
