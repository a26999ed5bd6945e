//! Migration steps: run a strategy's steps in order on a dedicated connection, timing each on
//! the run's clock.
//!
//! A step's SQL goes to the server as one simple-protocol batch, so a multi-statement step runs
//! as one implicit transaction unless it manages its own. The first failing step ends the
//! strategy (later steps are skipped); an interruption cancels the running statement on the
//! server and marks the step interrupted.

use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::report::{StepReport, StepStatus};
use crate::scenario::StrategyPlan;

/// Runs `strategy`'s steps on `client`, returning one report per step (skipped ones included).
pub async fn run_steps(
    client: &Client,
    strategy: &StrategyPlan,
    clock: &RunClock,
    cancel: &CancellationToken,
) -> Vec<StepReport> {
    let mut reports: Vec<StepReport> = strategy
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| StepReport {
            index: i + 1,
            name: step.name.clone(),
            source: step.sql.origin.clone(),
            start_s: None,
            duration_s: None,
            status: StepStatus::Skipped,
            error: None,
        })
        .collect();
    for (step, report) in strategy.steps.iter().zip(reports.iter_mut()) {
        if cancel.is_cancelled() {
            break;
        }
        tracing::info!("strategy {}: step {} running", strategy.name, step.name);
        let span = clock.span();
        report.start_s = Some(span.start().as_secs_f64());
        let outcome = tokio::select! {
            result = client.batch_execute(&step.sql.sql) => Some(result),
            _ = cancel.cancelled() => None,
        };
        report.duration_s = Some(span.elapsed().as_secs_f64());
        match outcome {
            Some(Ok(())) => report.status = StepStatus::Succeeded,
            Some(Err(e)) => {
                let error = crate::db::server_error(&e, Some(&step.sql.sql));
                tracing::warn!(
                    "strategy {}: step {} failed: {error}",
                    strategy.name,
                    step.name
                );
                report.status = StepStatus::Failed;
                report.error = Some(error);
                break;
            }
            None => {
                // Ask the server to stop the statement rather than leave it running.
                if let Err(e) = client.cancel_token().cancel_query(NoTls).await {
                    tracing::debug!("cancel request failed: {e}");
                }
                report.status = StepStatus::Interrupted;
                break;
            }
        }
    }
    reports
}
