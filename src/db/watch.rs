//! Watching the server while a strategy runs: a connection of its own asks `SELECT 1` every
//! 200 ms. When the server stops answering — the postmaster killed, the container gone, the
//! machine out of memory — the watch says so at once (with the cause), so the run ends the
//! strategy within a second or two and keeps what it measured, instead of noticing when the
//! current phase ends. A server that restarts after one backend crashed (it drops every
//! connection, recovers and accepts again) is not dead: the watch reconnects.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::Config;
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_millis(200);
const ANSWER: Duration = Duration::from_secs(2);
/// How long a server recovering from a crash may refuse connections before it counts as dead.
const RECOVERY: Duration = Duration::from_secs(60);

/// A running watch: `dead` fires when the server died; `cause` then says why.
#[derive(Debug)]
pub struct ServerWatch {
    /// Fires when the server stops answering for good.
    pub dead: CancellationToken,
    cause: Arc<Mutex<Option<String>>>,
    stop: CancellationToken,
}

impl ServerWatch {
    /// Starts watching the server `config` points at.
    pub fn start(config: Config, target: String) -> ServerWatch {
        let dead = CancellationToken::new();
        let stop = CancellationToken::new();
        let cause = Arc::new(Mutex::new(None));
        let (d, s, c) = (dead.clone(), stop.clone(), cause.clone());
        tokio::spawn(async move {
            if let Some(why) = watch(&config, &target, &s).await {
                *c.lock().expect("cause lock") = Some(why);
                d.cancel();
            }
        });
        ServerWatch { dead, cause, stop }
    }

    /// Why the server is dead, once it is.
    pub fn cause(&self) -> Option<String> {
        self.cause.lock().expect("cause lock").clone()
    }
}

impl Drop for ServerWatch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Polls until `stop`; returns the cause if the server died first.
async fn watch(config: &Config, target: &str, stop: &CancellationToken) -> Option<String> {
    let mut client = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.cancelled() => return None,
        }
        if let Some(c) = &client
            && matches!(tokio::time::timeout(ANSWER, ping(c)).await, Ok(Ok(())))
        {
            continue;
        }
        match reconnect(config, target, stop).await {
            Ok(Some(c)) => client = Some(c),
            Ok(None) => return None,
            Err(cause) => return Some(cause),
        }
    }
}

async fn ping(client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    client.simple_query("SELECT 1").await.map(|_| ())
}

/// Connects again; a server that refuses while it recovers gets [`RECOVERY`]; one that is gone
/// (nothing listens, the host is unreachable) is dead at once.
async fn reconnect(
    config: &Config,
    target: &str,
    stop: &CancellationToken,
) -> Result<Option<tokio_postgres::Client>, String> {
    let give_up = tokio::time::Instant::now() + RECOVERY;
    loop {
        let error = match tokio::time::timeout(ANSWER, config.connect(tokio_postgres::NoTls)).await
        {
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                return Ok(Some(client));
            }
            Ok(Err(e)) => e,
            Err(_) => return Err(format!("{target} stopped answering")),
        };
        let recovering = error
            .code()
            .is_some_and(|c| c.code() == "57P03" || c.code() == "57P01");
        if !recovering || tokio::time::Instant::now() > give_up {
            return Err(format!("{target} is gone: {}", crate::pg::describe(&error)));
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.cancelled() => return Ok(None),
        }
    }
}
