//! Parameter values for application operations: keys of the seeded data with a distribution,
//! fake values, ranges and constants.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::values::{FakeKind, KeyPool, Pick, Value};

/// A ready parameter generator.
#[derive(Debug, Clone)]
pub(super) enum ParamSource {
    /// Keys with a distribution over their order.
    Key {
        /// The keys.
        pool: KeyPool,
        /// How to pick one.
        pick: Pick,
    },
    /// A fake value.
    Fake(FakeKind),
    /// A number in `[low, high]`; integers when both bounds are.
    Range(f64, f64, bool),
    /// A constant.
    Value(Value),
    /// The next integer of a counter shared by every worker.
    Seq(Arc<AtomicI64>),
}

impl ParamSource {
    /// Draws a raw value (the caller coerces it to the parameter's type).
    pub(super) fn draw(&self, rng: &mut ChaCha8Rng) -> Value {
        match self {
            ParamSource::Key { pool, pick } => pool.get(pick.index(pool.len(), rng)),
            ParamSource::Fake(kind) => fake_value(*kind, rng),
            ParamSource::Range(lo, hi, true) => {
                Value::I64(rng.random_range(*lo as i64..=*hi as i64))
            }
            ParamSource::Range(lo, hi, false) => Value::F64(if lo == hi {
                *lo
            } else {
                rng.random_range(*lo..*hi)
            }),
            ParamSource::Value(v) => v.clone(),
            ParamSource::Seq(next) => Value::I64(next.fetch_add(1, Ordering::Relaxed)),
        }
    }
}

fn fake_value(kind: FakeKind, rng: &mut ChaCha8Rng) -> Value {
    match kind {
        FakeKind::Uuid => Value::Uuid(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
        kind => Value::Text(crate::values::fake(kind, rng)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::KeyDistPlan;
    use rand::SeedableRng;

    fn draws(dist: KeyDistPlan) -> Vec<u64> {
        let pool = KeyPool::Range(1, 1000);
        let source = ParamSource::Key {
            pick: Pick::new(dist, pool.len()),
            pool,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        (0..10_000)
            .map(|_| match source.draw(&mut rng) {
                Value::I64(k) => k as u64,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn keys_stay_in_range_and_skew_as_asked() {
        let uniform = draws(KeyDistPlan::Uniform);
        assert!(uniform.iter().all(|k| (1..=1000).contains(k)));
        let low = |v: &[u64]| v.iter().filter(|k| **k <= 100).count();
        let high = |v: &[u64]| v.iter().filter(|k| **k > 900).count();
        assert!((800..1200).contains(&low(&uniform)));
        let zipf = draws(KeyDistPlan::Zipf(1.1));
        assert!(low(&zipf) > 5_000, "{}", low(&zipf));
        let latest = draws(KeyDistPlan::Latest(1.1));
        assert!(high(&latest) > 5_000);
        let hot = draws(KeyDistPlan::Hot {
            hot: 0.1,
            share: 0.9,
        });
        assert!((8_700..9_300).contains(&low(&hot)), "{}", low(&hot));
    }
}
