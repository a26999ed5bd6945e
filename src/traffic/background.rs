//! Background sessions: a long-running query or a transaction left open, started at an offset, to
//! reproduce the lock-queue incident (an ALTER waiting behind a long reader stalls everyone).

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_postgres::{Config, NoTls};
use tokio_util::sync::CancellationToken;

use super::record::BackgroundRun;
use crate::clock::RunClock;
use crate::scenario::BackgroundPlan;

/// The running background sessions.
pub(super) struct Sessions {
    stop: CancellationToken,
    tasks: JoinSet<(usize, BackgroundRun)>,
}

impl Sessions {
    /// Starts one task per session; each waits for its offset from now.
    pub(super) fn start(
        config: Config,
        target: String,
        plans: &[BackgroundPlan],
        clock: RunClock,
    ) -> Sessions {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let origin = clock.offset();
        for (i, plan) in plans.iter().enumerate() {
            let (mut config, target, plan, stop) =
                (config.clone(), target.clone(), plan.clone(), stop.clone());
            config.application_name(format!(
                "{}{}",
                crate::pg::SessionRole::BACKGROUND_PREFIX,
                plan.name
            ));
            tasks.spawn(async move {
                let report = session(config, target, plan, clock, origin, stop).await;
                (i, report)
            });
        }
        Sessions { stop, tasks }
    }

    /// Stops sessions still running (cancelling their statement) and returns their reports.
    pub(super) async fn stop(mut self) -> Vec<BackgroundRun> {
        self.stop.cancel();
        let mut reports = Vec::new();
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(r) = done {
                reports.push(r);
            }
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }
}

async fn session(
    config: Config,
    target: String,
    plan: BackgroundPlan,
    clock: RunClock,
    origin: Duration,
    stop: CancellationToken,
) -> BackgroundRun {
    let mut report = BackgroundRun {
        name: plan.name.clone(),
        start_s: None,
        end_s: None,
        error: None,
    };
    let wait = (origin + plan.start).saturating_sub(clock.offset());
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = stop.cancelled() => {
            report.error = Some("traffic stopped before its start".into());
            return report;
        }
    }
    let mut client = match crate::db::connect(&config, &target).await {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let cancel = client.cancel_token();
    report.start_s = Some(clock.offset().as_secs_f64());
    let work = async {
        match plan.hold {
            None => client.batch_execute(&plan.sql).await.map(|()| false),
            Some(hold) => {
                let tx = client.transaction().await?;
                tx.batch_execute(&plan.sql).await?;
                tracing::info!("background {}: transaction idle for {hold:?}", plan.name);
                tokio::time::sleep(hold).await;
                tx.commit().await.map(|()| false)
            }
        }
    };
    let outcome = tokio::select! {
        result = work => result,
        () = stop.cancelled() => Ok(true),
    };
    report.end_s = Some(clock.offset().as_secs_f64());
    match outcome {
        Ok(false) => {}
        Ok(true) => {
            let _ = cancel.cancel_query(NoTls).await;
            report.error = Some("still running when traffic stopped; cancelled".into());
        }
        Err(e) => report.error = Some(crate::pg::describe(&e)),
    }
    report
}
