//! Values shared by seeding, traffic and profiling, below all three so none imports another:
//! generated values and their encoding ([`Value`]), key pools read from seeded tables
//! ([`KeyPool`]), how keys are picked ([`Pick`]), fake values ([`FakeKind`]), constants
//! ([`Constant`]), dates as scenarios write them ([`parse_instant`]) and a stable hash
//! ([`fnv1a`]).

mod constant;
mod fake;
mod hash;
mod keys;
mod pick;
mod value;

pub(crate) use constant::Constant;
pub(crate) use fake::{FakeKind, fake};
pub(crate) use hash::{fnv1a, fnv1a_from};
pub(crate) use keys::{KeyPool, load_key_pool};
pub(crate) use pick::{KeyDistPlan, Pick};
pub(crate) use value::{Value, base_type, parse_instant};
