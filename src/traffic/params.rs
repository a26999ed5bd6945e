//! Parameter values for application operations: keys of the seeded data with a distribution,
//! fake values, ranges and constants.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

use crate::scenario::{Constant, FakeKind, KeyDistPlan};
use crate::seed::{KeyPool, Value};

/// A ready parameter generator.
#[derive(Debug, Clone)]
pub enum ParamSource {
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
}

/// How to pick an index into `n` ordered keys.
#[derive(Debug, Clone)]
pub enum Pick {
    /// Uniformly.
    Uniform,
    /// Zipf over ranks from the lowest key.
    Zipf(Zipf<f64>),
    /// Zipf over ranks from the highest key.
    Latest(Zipf<f64>),
    /// `share` of draws in the lowest `hot_len` keys.
    Hot {
        /// How many keys are hot.
        hot_len: u64,
        /// Fraction of draws that go to them.
        share: f64,
    },
}

impl Pick {
    /// The picker for `n` keys.
    pub fn new(dist: KeyDistPlan, n: u64) -> Pick {
        let zipf = |s: f64| Zipf::new(n.max(1) as f64, s).expect("n ≥ 1 and s > 0");
        match dist {
            KeyDistPlan::Uniform => Pick::Uniform,
            KeyDistPlan::Zipf(s) => Pick::Zipf(zipf(s)),
            KeyDistPlan::Latest(s) => Pick::Latest(zipf(s)),
            KeyDistPlan::Hot { hot, share } => Pick::Hot {
                hot_len: ((n as f64 * hot).ceil() as u64).clamp(1, n.max(1)),
                share,
            },
        }
    }

    /// An index into `n` ordered keys (`n` ≥ 1).
    pub fn index(&self, n: u64, rng: &mut ChaCha8Rng) -> u64 {
        let i = match self {
            Pick::Uniform => rng.random_range(0..n),
            Pick::Zipf(z) => z.sample(rng) as u64 - 1,
            Pick::Latest(z) => n - z.sample(rng) as u64,
            Pick::Hot { hot_len, share } => {
                if *hot_len >= n || rng.random_bool(*share) {
                    rng.random_range(0..*hot_len)
                } else {
                    rng.random_range(*hot_len..n)
                }
            }
        };
        i.min(n - 1)
    }
}

impl ParamSource {
    /// Draws a raw value (the caller coerces it to the parameter's type).
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Value {
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
        }
    }
}

/// A constant as a value.
pub fn constant(c: &Constant) -> Value {
    match c {
        Constant::Text(s) => Value::Text(s.clone()),
        Constant::Integer(i) => Value::I64(*i),
        Constant::Float(f) => Value::F64(*f),
        Constant::Bool(b) => Value::Bool(*b),
    }
}

fn fake_value(kind: FakeKind, rng: &mut ChaCha8Rng) -> Value {
    match kind {
        FakeKind::Uuid => Value::Uuid(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
        kind => Value::Text(crate::seed::fake(kind, rng)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
