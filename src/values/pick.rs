//! Picking keys with a distribution: which of `n` ordered keys an operation or a generated
//! foreign key uses (uniform, Zipf from the lowest or the highest key, or a hot set).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

/// A key distribution with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyDistPlan {
    /// Every key equally likely.
    Uniform,
    /// P(rank k) ∝ 1/k^exponent, lowest keys first.
    Zipf(f64),
    /// `share` of draws go to the lowest `hot` fraction of keys.
    Hot {
        /// Fraction of keys.
        hot: f64,
        /// Fraction of draws.
        share: f64,
    },
    /// Zipf over the keys from the highest down.
    Latest(f64),
}

/// How to pick an index into `n` ordered keys.
#[derive(Debug, Clone)]
pub(crate) enum Pick {
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
    pub(crate) fn new(dist: KeyDistPlan, n: u64) -> Pick {
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
    pub(crate) fn index(&self, n: u64, rng: &mut ChaCha8Rng) -> u64 {
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
