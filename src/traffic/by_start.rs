//! Latency by intended start: each operation counted where it was due, in short buckets (100
//! ms), so a stall shows as it was felt: operations due early in a 3 s stall wait 3 s, those due
//! at its end hardly at all — a ramp that a series by completion time folds into one late spike.
//!
//! A bucket stays open (a histogram) while operations due in it may still complete; once the
//! run's clock is [`KEEP_OPEN`] past its end, it is reduced to its percentiles, so memory stays
//! flat in the run's length. An operation completing later still than that counts in the
//! bucket's count and maximum.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::record::StartBucket;

/// How long a bucket stays open after its end.
const KEEP_OPEN_US: u64 = 60_000_000;

/// The by-start series being built.
pub(super) struct ByStart {
    bucket_us: u64,
    origin_us: u64,
    open: BTreeMap<u64, Open>,
    closed: Vec<(u64, StartBucket)>,
}

struct Open {
    latency: Histogram<u64>,
    errors: u64,
}

impl ByStart {
    /// Buckets of `bucket_us` from `origin_us`.
    pub(super) fn new(bucket_us: u64, origin_us: u64) -> ByStart {
        ByStart {
            bucket_us: bucket_us.max(1),
            origin_us,
            open: BTreeMap::new(),
            closed: Vec::new(),
        }
    }

    /// An operation due at `intended_us` that took `latency_us`.
    pub(super) fn add(&mut self, intended_us: u64, latency_us: u64, failed: bool) {
        let index = intended_us.saturating_sub(self.origin_us) / self.bucket_us;
        if let Ok(k) = self.closed.binary_search_by_key(&index, |(i, _)| *i) {
            let bucket = &mut self.closed[k].1;
            bucket.count += 1;
            bucket.errors += u64::from(failed);
            bucket.max_us = bucket.max_us.max(latency_us);
            return;
        }
        let open = self.open.entry(index).or_insert_with(|| Open {
            // Two significant digits: a chart's resolution, at a tenth of the memory.
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds"),
            errors: 0,
        });
        open.latency.saturating_record(latency_us.max(1));
        open.errors += u64::from(failed);
    }

    /// Reduces the buckets that ended [`KEEP_OPEN_US`] before `now_us`.
    pub(super) fn close_old(&mut self, now_us: u64) {
        let horizon = now_us.saturating_sub(KEEP_OPEN_US + self.origin_us) / self.bucket_us;
        while let Some((&index, _)) = self.open.first_key_value() {
            if index >= horizon {
                break;
            }
            let open = self.open.remove(&index).expect("present");
            self.close(index, open);
        }
    }

    fn close(&mut self, index: u64, open: Open) {
        let h = &open.latency;
        let bucket = StartBucket {
            start_us: self.origin_us + index * self.bucket_us,
            count: h.len(),
            errors: open.errors,
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        };
        // Buckets close in index order, and an operation never lands in a closed one's index
        // while it is open, so the list stays sorted.
        let at = self.closed.partition_point(|(i, _)| *i < index);
        self.closed.insert(at, (index, bucket));
    }

    /// Every bucket that saw an operation, in order.
    pub(super) fn finish(mut self) -> Vec<StartBucket> {
        for (index, open) in std::mem::take(&mut self.open) {
            self.close(index, open);
        }
        self.closed.into_iter().map(|(_, b)| b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_ramps_down_by_intended_start() {
        // A stall from 1.0 s to 2.0 s: operations due in it finish at 2.0 s.
        let mut s = ByStart::new(100_000, 0);
        for due_ms in (0..3000).step_by(10) {
            let done_ms = if (1000..2000).contains(&due_ms) {
                2000
            } else {
                due_ms + 1
            };
            s.add(due_ms * 1000, (done_ms - due_ms) * 1000, false);
        }
        let buckets = s.finish();
        assert_eq!(buckets.len(), 30);
        let max_ms: Vec<u64> = buckets.iter().map(|b| b.max_us / 1000).collect();
        // Before the stall ~1 ms; in it, from ~1000 ms down to ~100 ms; after it ~1 ms again.
        assert!(max_ms[9] <= 2, "{max_ms:?}");
        assert!((995..=1005).contains(&max_ms[10]), "{max_ms:?}");
        assert!(
            max_ms[10] > max_ms[15] && max_ms[15] > max_ms[19],
            "{max_ms:?}"
        );
        assert!(max_ms[20] <= 2, "{max_ms:?}");
    }

    #[test]
    fn old_buckets_close_and_late_operations_still_count() {
        let mut s = ByStart::new(100_000, 0);
        s.add(0, 1_000, false);
        s.close_old(KEEP_OPEN_US + 200_000);
        assert!(s.open.is_empty());
        // Due at 0, done 70 s later: the closed bucket takes it.
        s.add(50_000, 70_000_000, true);
        let buckets = s.finish();
        assert_eq!(buckets.len(), 1);
        assert_eq!((buckets[0].count, buckets[0].errors), (2, 1));
        assert_eq!(buckets[0].max_us, 70_000_000);
    }
}
