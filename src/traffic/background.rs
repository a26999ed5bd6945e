//! Background sessions: a long-running query or a transaction left open, started at an offset
//! from the start of traffic, to reproduce the lock-queue incident (an ALTER waiting behind a
//! long reader stalls everyone) or a snapshot an index build must wait for (a REPEATABLE READ
//! transaction left idle). A session still running when the traffic stops is let run to its end
//! (up to a cap): the contention it causes is what is being rehearsed.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_postgres::{Config, NoTls};
use tokio_util::sync::CancellationToken;

use super::record::BackgroundRun;
use crate::clock::RunClock;
use crate::scenario::BackgroundPlan;

/// The longest background sessions may run on after the traffic stopped.
pub(super) const CAP: Duration = Duration::from_secs(600);

/// The running background sessions.
pub(super) struct Sessions {
    /// Fires when traffic stops: sessions not started yet do not start.
    no_start: CancellationToken,
    /// Fires at the cap or on interruption: running sessions are cancelled.
    cancel: CancellationToken,
    tasks: JoinSet<(usize, BackgroundRun)>,
    names: Vec<String>,
}

impl Sessions {
    /// Starts one task per session; each waits for its offset from `origin` (the start of
    /// traffic on the run's clock).
    pub(super) fn start(
        config: Config,
        target: String,
        plans: &[BackgroundPlan],
        clock: RunClock,
        origin: Duration,
    ) -> Sessions {
        let no_start = CancellationToken::new();
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for (i, plan) in plans.iter().enumerate() {
            let mut config = config.clone();
            config.application_name(format!(
                "{}{}",
                crate::pg::SessionRole::BACKGROUND_PREFIX,
                plan.name
            ));
            let session = Session {
                config,
                target: target.clone(),
                plan: plan.clone(),
                clock,
                due: origin + plan.start,
                no_start: no_start.clone(),
                cancel: cancel.clone(),
            };
            tasks.spawn(async move { (i, session.run().await) });
        }
        Sessions {
            no_start,
            cancel,
            tasks,
            names: plans.iter().map(|p| p.name.clone()).collect(),
        }
    }

    /// Cancels every session now.
    pub(super) fn cancel_now(self) {
        self.no_start.cancel();
        self.cancel.cancel();
    }

    /// Lets sessions still running finish (sessions not started yet never start), cancelling
    /// them after `cap` or when `interrupt` fires; returns what each did.
    pub(super) async fn finish(
        mut self,
        cap: Duration,
        interrupt: &CancellationToken,
    ) -> Vec<BackgroundRun> {
        self.no_start.cancel();
        // Sessions that ended, or were never started (they return at once now), are not
        // "still running": collect them before saying how many are.
        let mut runs = Vec::new();
        let settle = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Some(done)) = tokio::time::timeout_at(settle, self.tasks.join_next()).await {
            runs.extend(done.ok());
        }
        let running = self.tasks.len();
        if running > 0 {
            tracing::info!(
                "waiting for {running} background session(s) still running (at most {} s)",
                cap.as_secs()
            );
        }
        let deadline = tokio::time::Instant::now() + cap;
        loop {
            tokio::select! {
                done = self.tasks.join_next() => match done {
                    Some(Ok(r)) => runs.push(r),
                    Some(Err(_)) => {}
                    None => break,
                },
                () = tokio::time::sleep_until(deadline), if !self.cancel.is_cancelled() => {
                    tracing::warn!(
                        "background sessions still running {} s after traffic stopped; cancelling them",
                        cap.as_secs()
                    );
                    self.cancel.cancel();
                }
                () = interrupt.cancelled(), if !self.cancel.is_cancelled() => self.cancel.cancel(),
            }
        }
        runs.sort_by_key(|(i, _)| *i);
        let mut runs: Vec<BackgroundRun> = runs.into_iter().map(|(_, r)| r).collect();
        // A session whose task failed still appears, by name.
        for (i, name) in self.names.iter().enumerate() {
            if runs.get(i).is_none_or(|r| &r.name != name) {
                runs.insert(
                    i.min(runs.len()),
                    BackgroundRun {
                        name: name.clone(),
                        start_s: None,
                        end_s: None,
                        error: Some("its task failed".into()),
                    },
                );
            }
        }
        runs
    }
}

/// One background session.
struct Session {
    config: Config,
    target: String,
    plan: BackgroundPlan,
    clock: RunClock,
    /// When to start, on the run's clock.
    due: Duration,
    no_start: CancellationToken,
    cancel: CancellationToken,
}

impl Session {
    async fn run(self) -> BackgroundRun {
        let plan = &self.plan;
        let mut report = BackgroundRun {
            name: plan.name.clone(),
            start_s: None,
            end_s: None,
            error: None,
        };
        let wait = self.due.saturating_sub(self.clock.offset());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.no_start.cancelled() => {
                report.error = Some("traffic stopped before its start".into());
                return report;
            }
        }
        let client = match crate::db::connect(&self.config, &self.target).await {
            Ok(c) => c,
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        };
        let cancel_query = client.cancel_token();
        report.start_s = Some(self.clock.offset().as_secs_f64());
        let work = async {
            if plan.hold.is_none() && plan.isolation.is_none() {
                return client.batch_execute(&plan.sql).await;
            }
            let isolation = plan
                .isolation
                .unwrap_or(crate::scenario::Isolation::ReadCommitted);
            client
                .batch_execute(&format!("BEGIN ISOLATION LEVEL {}", isolation.sql()))
                .await?;
            client.batch_execute(&plan.sql).await?;
            if let Some(hold) = plan.hold {
                tracing::info!("background {}: transaction idle for {hold:?}", plan.name);
                tokio::time::sleep(hold).await;
            }
            client.batch_execute("COMMIT").await
        };
        let outcome = tokio::select! {
            result = work => result.map(|()| false),
            () = self.cancel.cancelled() => Ok(true),
        };
        report.end_s = Some(self.clock.offset().as_secs_f64());
        match outcome {
            Ok(false) => {}
            Ok(true) => {
                let _ = cancel_query.cancel_query(NoTls).await;
                report.error = Some("still running at the end of the rehearsal; cancelled".into());
            }
            Err(e) => report.error = Some(crate::pg::describe(&e)),
        }
        report
    }
}
