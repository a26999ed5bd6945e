//! CHECK constraints on one column — a domain's (`CHECK (VALUE >= 1901 AND VALUE <= 2155)`) or a
//! table's (`CHECK (price > 0)`) — read into limits a generator can keep: bounds, a list of
//! allowed values, lengths. What cannot be read this way is kept as text, so the seeder can say
//! which check it cannot satisfy instead of failing the load.

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value as SqlValue};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// A CHECK constraint on one column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Check {
    /// The constraint as the catalog or the SQL writes it (`CHECK (…)`, or its expression).
    pub text: String,
    /// What the expression calls the column: `VALUE` in a domain, else the column's name.
    pub subject: String,
    /// Where it comes from, for messages: `domain year`, `constraint price_positive`.
    pub origin: String,
}

/// A literal bound.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    /// A number.
    Number(f64),
    /// Anything else (dates, timestamps, text), as written.
    Text(String),
}

/// A bound and whether it is included.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bound {
    /// The value.
    pub value: Lit,
    /// `>=` / `<=` rather than `>` / `<`.
    pub inclusive: bool,
}

/// What a column's checks allow, as far as they could be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Limits {
    /// Lowest value.
    pub min: Option<Bound>,
    /// Highest value.
    pub max: Option<Bound>,
    /// The only values allowed.
    pub one_of: Option<Vec<Lit>>,
    /// Shortest text, characters.
    pub min_len: Option<usize>,
    /// Longest text, characters.
    pub max_len: Option<usize>,
    /// Checks (or parts of them) not understood, with their origin.
    pub unread: Vec<String>,
}

impl Limits {
    /// Whether the checks say anything a generator must keep.
    pub(super) fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// Reads every check of a column.
    pub(super) fn of(checks: &[Check]) -> Limits {
        let mut limits = Limits::default();
        for check in checks {
            let body = check
                .text
                .trim()
                .trim_end_matches("NOT VALID")
                .trim()
                .strip_prefix("CHECK")
                .unwrap_or(&check.text)
                .trim();
            let parsed = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(body)
                .and_then(|mut p| p.parse_expr());
            let understood = match parsed {
                Ok(expr) => limits.read(&expr, &check.subject),
                Err(_) => false,
            };
            if !understood {
                limits
                    .unread
                    .push(format!("{} ({})", check.text.trim(), check.origin));
            }
        }
        limits
    }

    /// Applies `expr`; false when (some of) it cannot be read.
    fn read(&mut self, expr: &Expr, subject: &str) -> bool {
        match expr {
            Expr::Nested(inner) => self.read(inner, subject),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                let a = self.read(left, subject);
                let b = self.read(right, subject);
                a && b
            }
            Expr::BinaryOp { left, op, right } => {
                if let Some(values) = equalities(expr, subject) {
                    self.allow(values);
                    return true;
                }
                self.comparison(left, op, right, subject)
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } if is_subject(expr, subject) => match (literal(low), literal(high)) {
                (Some(lo), Some(hi)) => {
                    self.lower(lo, true);
                    self.upper(hi, true);
                    true
                }
                _ => false,
            },
            Expr::InList {
                expr,
                list,
                negated: false,
            } if is_subject(expr, subject) => {
                let values: Option<Vec<Lit>> = list.iter().map(literal).collect();
                values.is_some_and(|v| {
                    self.allow(v);
                    true
                })
            }
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            } if is_subject(left, subject) => match array_items(right) {
                Some(values) => {
                    self.allow(values);
                    true
                }
                None => false,
            },
            Expr::IsNotNull(inner) => is_subject(inner, subject),
            _ => false,
        }
    }

    fn comparison(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        subject: &str,
    ) -> bool {
        // `length(x) >= 3`, `x > 0`, or the same written the other way round.
        let (target, op, value) = if let Some(v) = literal(right) {
            (left, op.clone(), v)
        } else if let Some(v) = literal(left) {
            let flipped = match op {
                BinaryOperator::Gt => BinaryOperator::Lt,
                BinaryOperator::GtEq => BinaryOperator::LtEq,
                BinaryOperator::Lt => BinaryOperator::Gt,
                BinaryOperator::LtEq => BinaryOperator::GtEq,
                other => other.clone(),
            };
            (right, flipped, v)
        } else {
            return false;
        };
        if let Some(inner) = length_of(target)
            && is_subject(inner, subject)
        {
            let Lit::Number(n) = value else {
                return false;
            };
            let n = n.max(0.0) as usize;
            match op {
                BinaryOperator::Gt => self.min_len = Some(self.min_len.unwrap_or(0).max(n + 1)),
                BinaryOperator::GtEq => self.min_len = Some(self.min_len.unwrap_or(0).max(n)),
                BinaryOperator::Lt => {
                    self.max_len =
                        Some(self.max_len.unwrap_or(usize::MAX).min(n.saturating_sub(1)));
                }
                BinaryOperator::LtEq => {
                    self.max_len = Some(self.max_len.unwrap_or(usize::MAX).min(n));
                }
                BinaryOperator::NotEq if n == 0 => {
                    self.min_len = Some(self.min_len.unwrap_or(0).max(1));
                }
                _ => return false,
            }
            return true;
        }
        // `btrim(x) <> ''`, `x <> ''`: not empty.
        if matches!(op, BinaryOperator::NotEq)
            && value == Lit::Text(String::new())
            && (is_subject(target, subject)
                || first_argument(target).is_some_and(|a| is_subject(a, subject)))
        {
            self.min_len = Some(self.min_len.unwrap_or(0).max(1));
            return true;
        }
        if !is_subject(target, subject) {
            return false;
        }
        match op {
            BinaryOperator::Gt => self.lower(value, false),
            BinaryOperator::GtEq => self.lower(value, true),
            BinaryOperator::Lt => self.upper(value, false),
            BinaryOperator::LtEq => self.upper(value, true),
            BinaryOperator::Eq => self.allow(vec![value]),
            _ => return false,
        }
        true
    }

    fn lower(&mut self, value: Lit, inclusive: bool) {
        let tighter = match (&self.min, &value) {
            (
                Some(Bound {
                    value: Lit::Number(old),
                    ..
                }),
                Lit::Number(new),
            ) => new > old,
            _ => true,
        };
        if tighter {
            self.min = Some(Bound { value, inclusive });
        }
    }

    fn upper(&mut self, value: Lit, inclusive: bool) {
        let tighter = match (&self.max, &value) {
            (
                Some(Bound {
                    value: Lit::Number(old),
                    ..
                }),
                Lit::Number(new),
            ) => new < old,
            _ => true,
        };
        if tighter {
            self.max = Some(Bound { value, inclusive });
        }
    }

    fn allow(&mut self, values: Vec<Lit>) {
        self.one_of = Some(match self.one_of.take() {
            None => values,
            Some(old) => old.into_iter().filter(|v| values.contains(v)).collect(),
        });
    }
}

/// `x = a OR x = b OR …`: the values, when the whole expression is such a chain.
fn equalities(expr: &Expr, subject: &str) -> Option<Vec<Lit>> {
    match expr {
        Expr::Nested(inner) => equalities(inner, subject),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            let mut a = equalities(left, subject)?;
            a.extend(equalities(right, subject)?);
            Some(a)
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } if is_subject(left, subject) => literal(right).map(|v| vec![v]),
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_subject(expr, subject) => list.iter().map(literal).collect(),
        _ => None,
    }
}

/// Whether `expr` is the column (possibly cast or parenthesised).
fn is_subject(expr: &Expr, subject: &str) -> bool {
    match expr {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case(subject),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(subject)),
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => is_subject(inner, subject),
        _ => false,
    }
}

/// The argument of `length(…)`, `char_length(…)`, `character_length(…)`, `octet_length(…)`.
fn length_of(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => length_of(inner),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let name = name.rsplit('.').next().unwrap_or_default();
            if matches!(
                name,
                "length" | "char_length" | "character_length" | "octet_length"
            ) {
                first_argument(expr)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The first argument of a function call.
fn first_argument(expr: &Expr) -> Option<&Expr> {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => first_argument(inner),
        Expr::Function(f) => match &f.args {
            FunctionArguments::List(list) => match list.args.first() {
                Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// A literal, through casts (`'a'::text`, `(0)::numeric`) and a unary minus.
fn literal(expr: &Expr) -> Option<Lit> {
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => literal(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Lit::Number(n) => Some(Lit::Number(-n)),
            Lit::Text(_) => None,
        },
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => n.parse().ok().map(Lit::Number),
            SqlValue::SingleQuotedString(s) => Some(Lit::Text(s.clone())),
            _ => None,
        },
        Expr::TypedString(t) => match &t.value.value {
            SqlValue::SingleQuotedString(s) => Some(Lit::Text(s.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// The items of `ARRAY[…]` (through casts), when all are literals.
fn array_items(expr: &Expr) -> Option<Vec<Lit>> {
    match expr {
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => array_items(inner),
        Expr::Array(array) => array.elem.iter().map(literal).collect(),
        _ => None,
    }
}

impl Lit {
    /// The value as a number, when it is one (or text that reads as one).
    pub(super) fn number(&self) -> Option<f64> {
        match self {
            Lit::Number(n) => Some(*n),
            Lit::Text(t) => t.trim().parse().ok(),
        }
    }

    /// The value as text.
    pub(super) fn text(&self) -> String {
        match self {
            Lit::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Lit::Number(n) => n.to_string(),
            Lit::Text(t) => t.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(text: &str, subject: &str) -> Limits {
        Limits::of(&[Check {
            text: text.into(),
            subject: subject.into(),
            origin: "test".into(),
        }])
    }

    #[test]
    fn catalog_forms_are_read() {
        let year = limits("CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))", "VALUE");
        assert_eq!(
            (year.min.unwrap().value, year.max.unwrap().value),
            (Lit::Number(1901.0), Lit::Number(2155.0))
        );
        let zip = limits(
            "CHECK ((VALUE = ANY (ARRAY['10001'::text, '94105'::text])))",
            "VALUE",
        );
        assert_eq!(
            zip.one_of.unwrap(),
            vec![Lit::Text("10001".into()), Lit::Text("94105".into())]
        );
        let label = limits("CHECK ((char_length((VALUE)::text) >= 3))", "VALUE");
        assert_eq!(label.min_len, Some(3));
        let pct = limits(
            "CHECK (((VALUE >= (0)::numeric) AND (VALUE <= (100)::numeric)))",
            "VALUE",
        );
        assert!(pct.unread.is_empty() && pct.max.is_some());
        let price = limits("CHECK ((price > (0)::numeric)) NOT VALID", "price");
        assert_eq!(
            price.min,
            Some(Bound {
                value: Lit::Number(0.0),
                inclusive: false
            })
        );
        let since = limits("CHECK ((created_at >= '2020-01-01'::date))", "created_at");
        assert_eq!(since.min.unwrap().value, Lit::Text("2020-01-01".into()));
        let status = limits(
            "CHECK (((status = 'a'::text) OR (status = 'b'::text)))",
            "status",
        );
        assert_eq!(status.one_of.unwrap().len(), 2);
        let nonblank = limits("CHECK ((btrim(name) <> ''::text))", "name");
        assert_eq!(nonblank.min_len, Some(1));
        let between = limits("CHECK (rating BETWEEN -5 AND 5)", "rating");
        assert_eq!(between.min.unwrap().value, Lit::Number(-5.0));
    }

    #[test]
    fn what_cannot_be_read_is_kept() {
        let regex = limits("CHECK ((VALUE ~ '^[0-9]{5}$'::text))", "VALUE");
        assert_eq!(regex.unread.len(), 1, "{regex:?}");
        let other_column = limits("CHECK ((ends_at > starts_at))", "ends_at");
        assert_eq!(other_column.unread.len(), 1);
    }
}
