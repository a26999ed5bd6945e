//! The open-loop schedule: intended start times fixed by the arrival process and the seed, not by
//! how fast the server answers; and which operation (by weight, by app version) each one is.
//!
//! The scheduler runs on its own OS thread, sleeping with the OS's fine-grained timer (tokio's
//! timer has millisecond granularity, too coarse for sub-millisecond lateness), and hands each
//! operation to the connection pool's queue at its intended time. When every connection is busy,
//! operations wait in that queue — counted, never dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rand::RngExt;
use rand::SeedableRng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use crate::clock::RunClock;
use crate::scenario::{Arrival, QueryPlan};

/// One scheduled operation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Op {
    /// Intended start, microseconds from the run's start.
    pub intended_us: u64,
    /// Index of the query.
    pub query: u16,
    /// Phase in force at the intended start.
    pub phase: u16,
}

/// State the scheduler, the workers and the migration share.
#[derive(Debug)]
pub(super) struct Shared {
    /// Current phase (0 baseline, 1..=n steps, n+1 recovery).
    pub phase: AtomicUsize,
    /// Set to stop scheduling.
    pub stop: AtomicBool,
    /// Set while connections warm up (their operations are not measured).
    pub warming: AtomicBool,
    /// Operations dropped because the queue was full, with the first and last intended start.
    pub dropped: Mutex<Dropped>,
    /// Operations scheduled so far by the open-loop scheduler.
    pub scheduled: AtomicU64,
    /// Per connection: its counters, each on its own cache line so connections on different
    /// threads do not contend.
    pub slots: Vec<Slot>,
    /// Every app version the scenario names; versions are used by index.
    pub versions: Vec<String>,
    /// The version in force (when no deploy is rolling).
    current: AtomicUsize,
    /// Whether a deploy is in progress (checked before taking the lock).
    rolling: AtomicBool,
    /// A deploy in progress: new version, start (µs) and duration (µs) of the shift.
    deployment: Mutex<Option<(usize, u64, u64)>>,
}

/// Operations that could not even be queued.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Dropped {
    /// How many.
    pub count: u64,
    /// Intended start of the first, µs.
    pub first_us: u64,
    /// Intended start of the last, µs.
    pub last_us: u64,
}

impl Shared {
    /// Counts an operation dropped because the queue was full.
    fn drop_op(&self, intended_us: u64) {
        let mut d = self.dropped.lock().expect("dropped lock");
        if d.count == 0 {
            d.first_us = intended_us;
        }
        d.count += 1;
        d.last_us = intended_us;
    }

    /// Fresh state for `connections` connections and `versions`, starting with
    /// `versions[initial]`.
    pub(super) fn new(connections: usize, versions: Vec<String>, initial: usize) -> Shared {
        Shared {
            phase: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            warming: AtomicBool::new(false),
            dropped: Mutex::new(Dropped::default()),
            scheduled: AtomicU64::new(0),
            slots: (0..connections).map(|_| Slot::default()).collect(),
            versions,
            current: AtomicUsize::new(initial),
            rolling: AtomicBool::new(false),
            deployment: Mutex::new(None),
        }
    }

    /// Operations scheduled: by the scheduler, or by closed-loop connections.
    pub(super) fn scheduled(&self) -> u64 {
        self.scheduled.load(Ordering::Relaxed)
            + self
                .slots
                .iter()
                .map(|s| s.scheduled.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// Asks every connection to send the samples it holds (see `worker::flush_requested`).
    pub(super) fn request_flush(&self) {
        for slot in &self.slots {
            slot.flush.store(true, Ordering::Release);
            slot.flush_waker.wake();
        }
    }

    /// Operations running on a connection now.
    pub(super) fn in_flight(&self) -> u64 {
        self.slots
            .iter()
            .filter(|s| s.busy.load(Ordering::Relaxed))
            .count() as u64
    }

    /// Starts deploying version `next` at `start_us`, shifting over `over_us` (0: at once).
    pub(super) fn deploy(&self, next: usize, start_us: u64, over_us: u64) {
        let mut d = self.deployment.lock().expect("deployment lock");
        if let Some((previous, _, _)) = d.take() {
            self.current.store(previous, Ordering::Relaxed);
        }
        *d = Some((next, start_us, over_us));
        self.rolling.store(true, Ordering::Release);
    }

    /// When the rollout in progress ends, µs, if one is.
    pub(super) fn rollout_end_us(&self) -> Option<u64> {
        let d = self.deployment.lock().expect("deployment lock");
        d.map(|(_, start, over)| start + over)
    }

    /// The version that issues an operation intended at `t_us`: during a rolling deploy the new
    /// version's share grows linearly from 0 to 1 over the deploy's duration.
    pub(super) fn version_at(&self, t_us: u64, rng: &mut ChaCha8Rng) -> usize {
        if !self.rolling.load(Ordering::Acquire) {
            return self.current.load(Ordering::Relaxed);
        }
        let mut d = self.deployment.lock().expect("deployment lock");
        let Some((next, start, over)) = *d else {
            return self.current.load(Ordering::Relaxed);
        };
        if t_us >= start + over {
            self.current.store(next, Ordering::Relaxed);
            *d = None;
            self.rolling.store(false, Ordering::Release);
            return next;
        }
        let share = t_us.saturating_sub(start) as f64 / over.max(1) as f64;
        if t_us >= start && rng.random_bool(share.clamp(0.0, 1.0)) {
            next
        } else {
            self.current.load(Ordering::Relaxed)
        }
    }
}

/// One connection's counters.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct Slot {
    /// Running an operation now.
    pub busy: AtomicBool,
    /// Operations it scheduled itself (closed loop).
    pub scheduled: AtomicU64,
    /// Set by the ticker: send the samples held back, even while an operation runs.
    pub flush: AtomicBool,
    /// Wakes the connection's thread for that.
    pub flush_waker: futures_util::task::AtomicWaker,
}

/// Picks operations by weight among the queries a version issues.
#[derive(Debug)]
pub(super) struct Mix {
    by_version: Vec<Option<(Vec<u16>, WeightedIndex<u32>)>>,
}

impl Mix {
    /// The mix for each of `versions`, by index.
    pub(super) fn new(queries: &[QueryPlan], versions: &[String]) -> Mix {
        let by_version = versions
            .iter()
            .map(|v| {
                let (indices, weights): (Vec<u16>, Vec<u32>) = queries
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| q.issued_by(v) && q.weight > 0)
                    .map(|(i, q)| (i as u16, q.weight))
                    .unzip();
                WeightedIndex::new(weights).ok().map(|w| (indices, w))
            })
            .collect();
        Mix { by_version }
    }

    /// A query index for an operation of version `version` (an index into the versions).
    pub(super) fn pick(&self, version: usize, rng: &mut ChaCha8Rng) -> u16 {
        // Validation guarantees the versions that run have queries; fall back to any that has.
        let (indices, weights) = self.by_version[version]
            .as_ref()
            .or_else(|| self.by_version.iter().flatten().next())
            .expect("some version has queries");
        if let [only] = indices[..] {
            return only;
        }
        indices[weights.sample(rng)]
    }
}

/// Runs the schedule until `shared.stop`: sends each operation at its intended time.
pub(super) fn run(
    shared: &Shared,
    mix: &Mix,
    rate: f64,
    arrival: Arrival,
    clock: RunClock,
    ops: async_channel::Sender<Op>,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = clock.offset().as_micros() as f64;
    let mean_gap_us = 1e6 / rate;
    loop {
        t += match arrival {
            // Exponential gaps: -ln(U) × mean, U in (0, 1].
            Arrival::Poisson => -(1.0 - rng.random::<f64>()).ln() * mean_gap_us,
            Arrival::Uniform => mean_gap_us,
        };
        let intended_us = t as u64;
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let now = clock.offset().as_micros() as u64;
            if now >= intended_us {
                break;
            }
            // Sleep in short slices so a stop is seen promptly at low rates.
            std::thread::sleep(Duration::from_micros((intended_us - now).min(50_000)));
        }
        let version = shared.version_at(intended_us, &mut rng);
        let op = Op {
            intended_us,
            query: mix.pick(version, &mut rng),
            phase: shared.phase.load(Ordering::Relaxed) as u16,
        };
        shared.scheduled.fetch_add(1, Ordering::Relaxed);
        match ops.try_send(op) {
            Ok(()) => {}
            // The queue holds a minute of operations: one more is dropped, and counted.
            Err(async_channel::TrySendError::Full(op)) => shared.drop_op(op.intended_us),
            Err(async_channel::TrySendError::Closed(_)) => return,
        }
    }
}
