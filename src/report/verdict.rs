//! The verdict in the report: every budget with its outcome, and every breach named.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The judgement against the budgets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// No breach (but those of strategies expected to breach).
    pub passed: bool,
    /// Each breach, named.
    pub breaches: Vec<Breach>,
    /// Budgets given that this run could not measure, with why.
    pub unchecked: Vec<String>,
    /// Every budget (and the always-on "no step fails"), with its outcome.
    #[serde(default)]
    pub checks: Vec<BudgetCheck>,
}

/// One budget and how it fared.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetCheck {
    /// The budget's key, e.g. `p99-during-migration` or `max-errors-by-class.deadlock`.
    pub budget: String,
    /// The limit, as written.
    pub limit: String,
    /// How it fared.
    pub status: CheckStatus,
}

/// How a budget fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Within the limit in every strategy.
    Passed,
    /// Over the limit in some strategy.
    Breached,
    /// Over the limit only in strategies expected to breach (`expect = "breach"`).
    Expected,
    /// Not measurable in this run (e.g. a latency budget without traffic).
    Unchecked,
}

impl CheckStatus {
    /// The word reports use.
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Breached => "breached",
            CheckStatus::Expected => "expected",
            CheckStatus::Unchecked => "unchecked",
        }
    }
}

/// One budget breached (or a failed step, which fails the run).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Breach {
    /// The budget's key (`max-step-duration`, …) or `step-failed`.
    pub budget: String,
    /// The strategy.
    pub strategy: String,
    /// The step, when the breach is a step's.
    pub step: Option<String>,
    /// The limit, as written.
    pub limit: Option<String>,
    /// What was measured.
    pub actual: String,
    /// The strategy is shown for contrast (`expect = "breach"`): this breach does not fail the
    /// run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
}
