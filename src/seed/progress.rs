//! Progress while seeding: a bar per table (rows, rows/s, ETA) on a terminal, a log line every
//! few seconds otherwise (CI logs), so a long seed never looks hung.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars' drawing area. Log lines go through [`LogWriter`], which lifts the bars while a line
/// is written, so logs and bars never cut through each other.
static BARS: std::sync::LazyLock<MultiProgress> = std::sync::LazyLock::new(|| {
    MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4))
});

/// A `tracing` writer for stderr that keeps progress bars intact.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BARS.suspend(|| std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Watches the tables' row counters until dropped.
pub(super) struct Progress {
    stop: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting on `tables`: (name, rows wanted, rows generated so far).
    pub(super) fn start(tables: Vec<(String, u64, Arc<AtomicU64>)>) -> Progress {
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            if std::io::stderr().is_terminal() {
                bars(tables, token).await;
            } else {
                lines(tables, token).await;
            }
        });
        Progress {
            stop,
            task: Some(task),
        }
    }

    /// Stops reporting and clears the bars.
    pub(super) async fn finish(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn bars(
    tables: Vec<(String, u64, Arc<AtomicU64>)>,
    stop: tokio_util::sync::CancellationToken,
) {
    let multi = &*BARS;
    let style = ProgressStyle::with_template(
        "{prefix:>16} [{bar:30}] {human_pos}/{human_len} rows  {rate}  ETA {eta}",
    )
    .expect("valid template")
    .with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} rows/s", state.per_sec());
        },
    )
    .progress_chars("=> ");
    let bars: Vec<(ProgressBar, Arc<AtomicU64>)> = tables
        .into_iter()
        .map(|(name, rows, counter)| {
            let bar = multi.add(ProgressBar::new(rows));
            bar.set_style(style.clone());
            bar.set_prefix(name);
            (bar, counter)
        })
        .collect();
    loop {
        for (bar, counter) in &bars {
            bar.set_position(counter.load(Ordering::Relaxed));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = stop.cancelled() => break,
        }
    }
    for (bar, _) in &bars {
        bar.finish_and_clear();
    }
    let _ = multi.clear();
}

async fn lines(
    tables: Vec<(String, u64, Arc<AtomicU64>)>,
    stop: tokio_util::sync::CancellationToken,
) {
    let started = Instant::now();
    let mut last: Vec<u64> = vec![0; tables.len()];
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = stop.cancelled() => return,
        }
        for (i, (name, rows, counter)) in tables.iter().enumerate() {
            let now = counter.load(Ordering::Relaxed);
            if now == last[i] || (now == *rows && last[i] == *rows) {
                continue;
            }
            let rate = (now - last[i]) as f64 / 5.0;
            let eta = if rate > 0.0 {
                format!("{:.0} s", (*rows - now) as f64 / rate)
            } else {
                "-".into()
            };
            tracing::info!(
                "seeding {name}: {now}/{rows} rows, {:.0} rows/s, ETA {eta} ({:.0} s elapsed)",
                rate,
                started.elapsed().as_secs_f64()
            );
            last[i] = now;
        }
    }
}
