//! Running a SQL step: its statements in one transaction (or each on its own when one cannot
//! run in a transaction block), with `lock_timeout` and `statement_timeout` set for the step
//! only (`SET LOCAL`, which also survives a transaction-mode pooler), retried with backoff when
//! a lock timeout (SQLSTATE 55P03) ends an attempt. Every attempt is recorded. Inside the
//! transaction, the locks the step holds are read just before COMMIT: locks last until the
//! transaction ends, so that is every lock its statements took.

use std::fmt::Write;
use std::time::Duration;

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_util::sync::CancellationToken;

use super::record::{Attempt, HeldLock};
use crate::clock::RunClock;
use crate::pg::split::Statement;
use crate::pg::{LockMode, RelKind, ServerError};
use crate::scenario::SqlStep;

/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What running a SQL step did.
#[derive(Debug, Default)]
pub(super) struct SqlOutcome {
    /// Rows affected, over all statements of the successful attempt.
    pub rows: u64,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Locks held at the end of the step's transaction (transactional steps only).
    pub locks: Vec<HeldLock>,
    /// Why it failed, with the statement.
    pub failure: Option<(ServerError, String)>,
    /// Whether it was interrupted.
    pub interrupted: bool,
}

enum Fail {
    Db(tokio_postgres::Error, Statement),
    Interrupted,
}

/// Runs `step` on `client`.
pub(super) async fn run(
    client: &Client,
    step: &SqlStep,
    clock: &RunClock,
    cancel: &CancellationToken,
) -> SqlOutcome {
    let mut outcome = SqlOutcome::default();
    if step.transaction {
        let all: Vec<&Statement> = step.statements.iter().collect();
        attempt_with_retries(client, step, &all, true, clock, cancel, &mut outcome).await;
        return outcome;
    }
    if let Err(fail) = set_timeouts(client, step, "SET", cancel).await {
        record_failure(fail, &mut outcome);
        return outcome;
    }
    for statement in &step.statements {
        if !attempt_with_retries(
            client,
            step,
            &[statement],
            false,
            clock,
            cancel,
            &mut outcome,
        )
        .await
        {
            break;
        }
    }
    if !outcome.interrupted {
        let _ = client
            .batch_execute("RESET lock_timeout; RESET statement_timeout")
            .await;
    }
    outcome
}

/// Runs `statements` (in a transaction when `transaction`), retrying on lock timeouts.
/// Returns whether they succeeded.
async fn attempt_with_retries(
    client: &Client,
    step: &SqlStep,
    statements: &[&Statement],
    transaction: bool,
    clock: &RunClock,
    cancel: &CancellationToken,
    outcome: &mut SqlOutcome,
) -> bool {
    let mut backoff = step.retry_backoff;
    for attempt in 0..=step.retries {
        let span = clock.span();
        let result = if transaction {
            run_transaction(client, step, statements, cancel).await
        } else {
            run_statement(client, statements[0], cancel)
                .await
                .map(|rows| (rows, Vec::new()))
        };
        let mut report = Attempt {
            start_s: span.start().as_secs_f64(),
            duration_s: span.elapsed().as_secs_f64(),
            error: None,
        };
        match result {
            Ok((rows, locks)) => {
                outcome.rows += rows;
                outcome.locks.extend(locks);
                outcome.attempts.push(report);
                return true;
            }
            Err(Fail::Db(e, statement)) => {
                let lock_timeout =
                    e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE);
                report.error = Some(error_at(&e, &statement));
                outcome.attempts.push(report);
                if lock_timeout && attempt < step.retries {
                    tracing::info!(
                        "lock timeout on attempt {}; retrying in {backoff:?}",
                        attempt + 1
                    );
                    if !super::wait(backoff, cancel).await {
                        outcome.interrupted = true;
                        return false;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                record_failure(Fail::Db(e, statement), outcome);
                return false;
            }
            Err(Fail::Interrupted) => {
                outcome.attempts.push(report);
                outcome.interrupted = true;
                return false;
            }
        }
    }
    false
}

fn record_failure(fail: Fail, outcome: &mut SqlOutcome) {
    match fail {
        Fail::Db(e, statement) => {
            outcome.failure = Some((error_at(&e, &statement), excerpt(&statement.text)));
        }
        Fail::Interrupted => outcome.interrupted = true,
    }
}

/// The server's error, with its line counted in the step's whole SQL text.
fn error_at(e: &tokio_postgres::Error, statement: &Statement) -> ServerError {
    let mut error = ServerError::from_driver(e, Some(&statement.text));
    error.line = Some(error.line.unwrap_or(1) + statement.line - 1);
    error
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 2000;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let cut = (0..=MAX)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &text[..cut])
}

async fn set_timeouts(
    client: &Client,
    step: &SqlStep,
    set: &str,
    cancel: &CancellationToken,
) -> Result<(), Fail> {
    let mut sql = String::new();
    if let Some(t) = step.lock_timeout {
        let _ = write!(sql, "{set} lock_timeout = '{}ms';", t.as_millis());
    }
    if let Some(t) = step.statement_timeout {
        let _ = write!(sql, "{set} statement_timeout = '{}ms';", t.as_millis());
    }
    if sql.is_empty() {
        return Ok(());
    }
    let statement = Statement { text: sql, line: 1 };
    execute(client, &statement, cancel).await.map(|_| ())
}

async fn run_transaction(
    client: &Client,
    step: &SqlStep,
    statements: &[&Statement],
    cancel: &CancellationToken,
) -> Result<(u64, Vec<HeldLock>), Fail> {
    let begin = Statement {
        text: "BEGIN".into(),
        line: 1,
    };
    execute(client, &begin, cancel).await?;
    let body = async {
        set_timeouts(client, step, "SET LOCAL", cancel).await?;
        let mut rows = 0;
        for statement in statements {
            rows += run_statement(client, statement, cancel).await?;
        }
        let locks = held_locks(client).await;
        let commit = Statement {
            text: "COMMIT".into(),
            line: 1,
        };
        execute(client, &commit, cancel).await?;
        Ok((rows, locks))
    };
    let result = body.await;
    if let Err(Fail::Db(..)) = &result {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

async fn run_statement(
    client: &Client,
    statement: &Statement,
    cancel: &CancellationToken,
) -> Result<u64, Fail> {
    let messages = execute(client, statement, cancel).await?;
    Ok(messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => *n,
            _ => 0,
        })
        .sum())
}

/// Sends one statement (simple protocol); on cancel, asks the server to stop it.
async fn execute(
    client: &Client,
    statement: &Statement,
    cancel: &CancellationToken,
) -> Result<Vec<SimpleQueryMessage>, Fail> {
    tokio::select! {
        result = client.simple_query(&statement.text) => {
            result.map_err(|e| Fail::Db(e, statement.clone()))
        }
        () = cancel.cancelled() => {
            if let Err(e) = client.cancel_token().cancel_query(NoTls).await {
                tracing::debug!("cancel request failed: {e}");
            }
            Err(Fail::Interrupted)
        }
    }
}

/// The relation locks this session holds now, on user relations, strongest first.
async fn held_locks(client: &Client) -> Vec<HeldLock> {
    let rows = client
        .query(
            "SELECT c.oid::regclass::text, c.relkind::text, l.mode
               FROM pg_locks l
               JOIN pg_class c ON c.oid = l.relation
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%'
              ORDER BY 1, 3",
            &[],
        )
        .await
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| {
            Some(HeldLock {
                relation: r.get(0),
                kind: RelKind::from_relkind(r.get(1)),
                mode: r.get::<_, &str>(2).parse::<LockMode>().ok()?,
            })
        })
        .collect()
}
