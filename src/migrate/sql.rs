//! Running a SQL step: its statements in one transaction (or each on its own when one cannot
//! run in a transaction block), with `lock_timeout` and `statement_timeout` set for the step
//! only (`SET LOCAL`, which also survives a transaction-mode pooler), retried with backoff when
//! a lock timeout (SQLSTATE 55P03) ends an attempt.
//!
//! An attempt is one go at the step: the whole transaction, or, outside one, the statements from
//! the first (or the one a retry starts again at: those before it are committed) to the last or
//! the one that failed. So a step has one attempt more than it had retries, however many
//! statements it has.
//!
//! Every statement's locks are recorded (see `locks`). Outside the step's transaction, a
//! statement that can run in a transaction block runs in one of its own (`BEGIN`, the statement,
//! its locks read, `COMMIT`: what autocommit does, made visible); one that cannot — by its words
//! (`pg::split::needs_autocommit`) or by the server's refusal (SQLSTATE 25001, or 2D000 from a
//! procedure that commits) — runs alone while another connection reads its locks. A block the
//! step's own SQL opens (`BEGIN` … `COMMIT`) is followed and left as written: its statements run
//! in it, and its locks are read before it ends.

use std::fmt::Write;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_util::sync::CancellationToken;

use super::StepContext;
use super::locks::LockBook;
use super::observe::Snapshot;
use super::record::{Attempt, HeldLock};
use crate::clock::RunClock;
use crate::pg::ServerError;
use crate::pg::split::{BlockEffect, Statement, block_effect, needs_autocommit};
use crate::scenario::SqlStep;

/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What running a SQL step did.
#[derive(Debug, Default)]
pub(super) struct SqlOutcome {
    /// Rows affected, over the statements that took effect.
    pub rows: u64,
    /// Every attempt: the first, then one per retry.
    pub attempts: Vec<Attempt>,
    /// The relation locks its statements took.
    pub locks: Vec<HeldLock>,
    /// Spans (start, end; seconds on the run's clock) of the transactions, or statements run
    /// outside one, that held an ACCESS EXCLUSIVE lock.
    pub exclusive_spans: Vec<(f64, f64)>,
    /// Why it failed, with the statement.
    pub failure: Option<(ServerError, String)>,
    /// Whether it was interrupted.
    pub interrupted: bool,
}

/// Why a statement sent to the server did not complete.
enum Halt {
    Db(tokio_postgres::Error),
    Interrupted,
}

/// Why an attempt stopped.
enum Stop {
    /// The server refused statement `at` (0-based).
    Failed {
        error: tokio_postgres::Error,
        statement: Statement,
        at: usize,
    },
    Interrupted,
}

impl Stop {
    fn at(halt: Halt, statement: &Statement, at: usize) -> Stop {
        match halt {
            Halt::Db(error) => Stop::Failed {
                error,
                statement: statement.clone(),
                at,
            },
            Halt::Interrupted => Stop::Interrupted,
        }
    }
}

/// Runs `step` on the context's migration connection; `before` is the catalog before it.
pub(super) async fn run(ctx: &StepContext<'_>, step: &SqlStep, before: &Snapshot) -> SqlOutcome {
    let mut outcome = SqlOutcome::default();
    let mut runner = Runner {
        client: ctx.client,
        observer: ctx.observer,
        pid: ctx.migration_pid,
        clock: ctx.clock,
        cancel: ctx.cancel,
        step,
        locks: LockBook::new(before),
        exclusive_spans: Vec::new(),
        in_block: false,
        block_start: 0.0,
        rows: 0,
    };
    if !step.transaction
        && let Err(stop) = runner.set_timeouts("SET").await
    {
        outcome.stopped(stop);
        return outcome;
    }
    let mut from = 0;
    let mut retries = 0;
    let mut backoff = step.retry_backoff;
    loop {
        let span = ctx.clock.span();
        let result = if step.transaction {
            runner.transaction().await
        } else {
            runner.one_by_one(from).await
        };
        let mut attempt = Attempt {
            start_s: span.start().as_secs_f64(),
            duration_s: span.elapsed().as_secs_f64(),
            error: None,
        };
        let Err(stop) = result else {
            outcome.attempts.push(attempt);
            break;
        };
        if let Stop::Failed {
            error, statement, ..
        } = &stop
        {
            attempt.error = Some(error_at(error, statement));
        }
        outcome.attempts.push(attempt);
        let retry = match &stop {
            // In a block the step's SQL opened, the block is aborted: a retry cannot resume it.
            Stop::Failed { error, at, .. }
                if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
                    && retries < step.retries
                    && !runner.in_block =>
            {
                Some(*at)
            }
            _ => None,
        };
        let Some(at) = retry else {
            outcome.stopped(stop);
            break;
        };
        tracing::info!(
            "lock timeout on attempt {}; retrying in {backoff:?}",
            retries + 1
        );
        if !super::wait(backoff, ctx.cancel).await {
            outcome.interrupted = true;
            break;
        }
        retries += 1;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        // Outside a transaction the statements before the one that timed out are committed.
        from = at;
    }
    if !step.transaction && !outcome.interrupted {
        let _ = ctx
            .client
            .batch_execute("RESET lock_timeout; RESET statement_timeout")
            .await;
    }
    outcome.rows = runner.rows;
    outcome.exclusive_spans = runner.exclusive_spans;
    outcome.locks = runner.locks.into_locks();
    outcome
}

impl SqlOutcome {
    fn stopped(&mut self, stop: Stop) {
        match stop {
            Stop::Failed {
                error, statement, ..
            } => {
                self.failure = Some((error_at(&error, &statement), excerpt(&statement.text)));
            }
            Stop::Interrupted => self.interrupted = true,
        }
    }
}

/// Runs a step's statements and keeps what they took.
struct Runner<'a> {
    /// The migration connection.
    client: &'a Client,
    /// Another connection, which reads the locks of statements outside a transaction.
    observer: &'a Client,
    /// The migration connection's backend.
    pid: Option<i32>,
    clock: &'a RunClock,
    cancel: &'a CancellationToken,
    step: &'a SqlStep,
    locks: LockBook<'a>,
    exclusive_spans: Vec<(f64, f64)>,
    /// Whether the migration connection is in a transaction block (the step's, or one its SQL
    /// opened).
    in_block: bool,
    /// When that block began, seconds on the run's clock.
    block_start: f64,
    /// Rows affected by statements that took effect.
    rows: u64,
}

impl Runner<'_> {
    fn now(&self) -> f64 {
        self.clock.offset().as_secs_f64()
    }

    /// All statements in one transaction; rolled back when one fails.
    async fn transaction(&mut self) -> Result<(), Stop> {
        let rows = self.rows;
        let result = self.transaction_body().await;
        if let Err(Stop::Failed { .. }) = &result {
            if self.in_block {
                let _ = self.client.batch_execute("ROLLBACK").await;
                self.in_block = false;
            }
            self.rows = rows;
        }
        result
    }

    async fn transaction_body(&mut self) -> Result<(), Stop> {
        let begin = internal("BEGIN");
        self.execute(&begin, 0).await?;
        self.in_block = true;
        self.block_start = self.now();
        self.set_timeouts("SET LOCAL").await?;
        let step = self.step;
        for (i, statement) in step.statements.iter().enumerate() {
            self.statement(i, statement).await?;
        }
        // The step's SQL may have committed the transaction itself.
        if self.in_block {
            let at = step.statements.len().saturating_sub(1);
            self.end_block(&internal("COMMIT"), at).await?;
        }
        Ok(())
    }

    /// The statements from `from` on, each on its own.
    async fn one_by_one(&mut self, from: usize) -> Result<(), Stop> {
        let step = self.step;
        for (i, statement) in step.statements.iter().enumerate().skip(from) {
            self.statement(i, statement).await?;
        }
        if self.in_block {
            // A block the step's SQL left open: what it holds so far.
            if self.locks.read_own(self.client).await {
                self.exclusive_spans.push((self.block_start, self.now()));
            }
        }
        Ok(())
    }

    /// Runs statement `i`, following the transaction blocks the step's SQL opens and ends.
    async fn statement(&mut self, i: usize, statement: &Statement) -> Result<(), Stop> {
        match block_effect(&statement.text) {
            BlockEffect::Opens => {
                self.execute(statement, i).await?;
                if !self.in_block {
                    self.in_block = true;
                    self.block_start = self.now();
                }
                Ok(())
            }
            BlockEffect::Closes | BlockEffect::Chains if self.in_block => {
                let chains = block_effect(&statement.text) == BlockEffect::Chains;
                let result = self.end_block(statement, i).await;
                if chains {
                    self.in_block = true;
                    self.block_start = self.now();
                }
                result
            }
            _ if self.in_block => self.execute(statement, i).await,
            BlockEffect::None if needs_autocommit(&statement.text) => {
                self.watched(statement, i).await
            }
            BlockEffect::None => self.in_own_block(statement, i).await,
            // Outside a block, as on the real server: refused, or a warning.
            BlockEffect::Closes | BlockEffect::Chains | BlockEffect::InsideOnly => {
                self.execute(statement, i).await
            }
        }
    }

    /// Reads the block's locks, then runs `end` (COMMIT, ROLLBACK, …), which ends it whatever
    /// happens.
    async fn end_block(&mut self, end: &Statement, i: usize) -> Result<(), Stop> {
        let exclusive = self.locks.read_own(self.client).await;
        let result = self.execute(end, i).await;
        self.in_block = false;
        if exclusive {
            self.exclusive_spans.push((self.block_start, self.now()));
        }
        result
    }

    /// A statement outside a transaction, in a block of its own so its locks can be read before
    /// they are released; alone (and watched) when the server refuses it in a block.
    async fn in_own_block(&mut self, statement: &Statement, i: usize) -> Result<(), Stop> {
        let start = self.now();
        execute(self.client, "BEGIN", self.cancel)
            .await
            .map_err(|h| Stop::at(h, statement, i))?;
        match execute(self.client, &statement.text, self.cancel).await {
            Ok(messages) => {
                let exclusive = self.locks.read_own(self.client).await;
                // A deferred constraint fails here: the statement's own failure.
                execute(self.client, "COMMIT", self.cancel)
                    .await
                    .map_err(|h| Stop::at(h, statement, i))?;
                if exclusive {
                    self.exclusive_spans.push((start, self.now()));
                }
                self.rows += rows(&messages);
                Ok(())
            }
            Err(Halt::Db(e)) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                let refused_in_block = [
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    SqlState::INVALID_TRANSACTION_TERMINATION,
                ]
                .iter()
                .any(|code| e.code() == Some(code));
                if refused_in_block {
                    self.watched(statement, i).await
                } else {
                    Err(Stop::at(Halt::Db(e), statement, i))
                }
            }
            Err(Halt::Interrupted) => Err(Stop::Interrupted),
        }
    }

    /// A statement that cannot run in a transaction block, alone, its locks read from the
    /// observer connection while it runs.
    async fn watched(&mut self, statement: &Statement, i: usize) -> Result<(), Stop> {
        let Some(pid) = self.pid else {
            return self.execute(statement, i).await;
        };
        let start = self.now();
        let work = execute(self.client, &statement.text, self.cancel);
        let (result, exclusive) = self.locks.watch(work, self.observer, pid).await;
        if exclusive {
            self.exclusive_spans.push((start, self.now()));
        }
        self.rows += rows(&result.map_err(|h| Stop::at(h, statement, i))?);
        Ok(())
    }

    /// Runs `statement` as it is, counting its rows.
    async fn execute(&mut self, statement: &Statement, i: usize) -> Result<(), Stop> {
        let messages = execute(self.client, &statement.text, self.cancel)
            .await
            .map_err(|h| Stop::at(h, statement, i))?;
        self.rows += rows(&messages);
        Ok(())
    }

    /// Sets the step's timeouts (`SET` for the session, `SET LOCAL` for its transaction).
    async fn set_timeouts(&mut self, set: &str) -> Result<(), Stop> {
        let mut sql = String::new();
        if let Some(t) = self.step.lock_timeout {
            let _ = write!(sql, "{set} lock_timeout = '{}ms';", t.as_millis());
        }
        if let Some(t) = self.step.statement_timeout {
            let _ = write!(sql, "{set} statement_timeout = '{}ms';", t.as_millis());
        }
        if sql.is_empty() {
            return Ok(());
        }
        execute(self.client, &sql, self.cancel)
            .await
            .map(|_| ())
            .map_err(|h| Stop::at(h, &internal(&sql), 0))
    }
}

/// A statement rehearse adds (not the step's SQL).
fn internal(text: &str) -> Statement {
    Statement {
        text: text.to_owned(),
        line: 1,
    }
}

/// Rows affected, from the command tags.
fn rows(messages: &[SimpleQueryMessage]) -> u64 {
    messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => *n,
            _ => 0,
        })
        .sum()
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

/// Sends one statement (simple protocol); on cancel, asks the server to stop it.
async fn execute(
    client: &Client,
    text: &str,
    cancel: &CancellationToken,
) -> Result<Vec<SimpleQueryMessage>, Halt> {
    tokio::select! {
        result = client.simple_query(text) => result.map_err(Halt::Db),
        () = cancel.cancelled() => {
            if let Err(e) = client.cancel_token().cancel_query(NoTls).await {
                tracing::debug!("cancel request failed: {e}");
            }
            Err(Halt::Interrupted)
        }
    }
}
