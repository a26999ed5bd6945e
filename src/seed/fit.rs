//! Fitting a column's default generator to what the schema allows beyond its type: the limits
//! its CHECK constraints set (a domain's range, a list of values, a length) and the values its
//! table's partitions take (a range or a list each, when no default partition takes the rest).
//! A generator the scenario gives is the scenario's; it is only checked against partitions.

use super::checks::{Limits, Lit};
use super::generate::{ColGen, Permutation, span};
use super::shape::{ColType, ColumnShape, Partitions};
use crate::values::parse_instant;

/// The default `generator` of `column`, kept within `limits`.
pub(super) fn to_limits(
    generator: ColGen,
    column: &ColumnShape,
    limits: &Limits,
    rows: u64,
    unique: bool,
) -> Result<ColGen, String> {
    if limits.is_empty() {
        return Ok(generator);
    }
    let cannot = |what: &str| {
        format!(
            "`{}` must satisfy {what}, which no generator here can be fitted to; give `{}` a \
             generator that satisfies it (`range`, `enum` or `value`)",
            column.name, column.name
        )
    };
    if !limits.unread.is_empty() {
        return Err(cannot(&limits.unread.join(" and ")));
    }
    if let Some(values) = &limits.one_of {
        if values.is_empty() {
            return Err(format!("the checks on `{}` allow no value", column.name));
        }
        if unique && (values.len() as u64) < rows {
            return Err(format!(
                "`{}` is unique but its checks allow only {} values for {rows} rows",
                column.name,
                values.len()
            ));
        }
        let labels: Vec<String> = values.iter().map(Lit::text).collect();
        if let ColType::Enum(allowed) = &column.ty
            && let Some(bad) = labels.iter().find(|l| !allowed.contains(l))
        {
            return Err(format!(
                "the checks on `{}` allow `{bad}`, not a label of its type",
                column.name
            ));
        }
        let cumulative = (1..=labels.len()).map(|i| i as f64).collect();
        return Ok(ColGen::Enum { labels, cumulative });
    }
    let number = |b: &Option<super::checks::Bound>| {
        b.as_ref()
            .and_then(|b| b.value.number().map(|n| (n, b.inclusive)))
    };
    let instant = |b: &Option<super::checks::Bound>| {
        b.as_ref()
            .and_then(|b| parse_instant(&b.value.text()).map(|t| (t.timestamp(), b.inclusive)))
    };
    let bounded =
        |lo: i64, hi: i64, min: Option<(f64, bool)>, max: Option<(f64, bool)>, scale: f64| {
            let min = min.map(|(n, inclusive)| {
                let v = (n * scale).ceil() as i64;
                if inclusive || (v as f64) > n * scale {
                    v
                } else {
                    v + 1
                }
            });
            let max = max.map(|(n, inclusive)| {
                let v = (n * scale).floor() as i64;
                if inclusive || (v as f64) < n * scale {
                    v
                } else {
                    v - 1
                }
            });
            let width = hi.saturating_sub(lo);
            match (min, max) {
                (Some(a), Some(b)) if a > b => None,
                (Some(a), Some(b)) => Some((a, b)),
                (Some(a), None) => Some((a, if hi >= a { hi } else { a.saturating_add(width) })),
                (None, Some(b)) => Some((if lo <= b { lo } else { b.saturating_sub(width) }, b)),
                (None, None) => Some((lo, hi)),
            }
        };
    let empty = || format!("the checks on `{}` allow no value", column.name);
    let too_few = |have: u64| {
        format!(
            "`{}` is unique but its checks allow only {have} values for {rows} rows",
            column.name
        )
    };
    let mut generator = generator;
    match &mut generator {
        ColGen::Serial | ColGen::Int { .. } if column.ty.is_int() => {
            let (lo, hi) = match &generator {
                ColGen::Int { lo, hi, .. } => (*lo, *hi),
                _ => (1, rows.max(1) as i64),
            };
            if number(&limits.min).is_some() || number(&limits.max).is_some() {
                let (lo, hi) = bounded(lo, hi, number(&limits.min), number(&limits.max), 1.0)
                    .ok_or_else(empty)?;
                if unique && span(lo, hi) < rows {
                    return Err(too_few(span(lo, hi)));
                }
                generator = ColGen::Int {
                    lo,
                    hi,
                    unique: unique.then(|| Permutation::new(span(lo, hi))),
                };
            }
        }
        ColGen::Decimal {
            lo,
            hi,
            scale,
            unique: u,
        } => {
            let factor = 10f64.powi(*scale as i32);
            let (a, b) = bounded(*lo, *hi, number(&limits.min), number(&limits.max), factor)
                .ok_or_else(empty)?;
            if u.is_some() && span(a, b) < rows {
                return Err(too_few(span(a, b)));
            }
            (*lo, *hi) = (a, b);
            if u.is_some() {
                *u = Some(Permutation::new(span(a, b)));
            }
        }
        ColGen::Float(lo, hi) => {
            if let Some((n, _)) = number(&limits.min) {
                *lo = lo.max(n);
            }
            if let Some((n, _)) = number(&limits.max) {
                *hi = hi.min(n);
            }
            if lo > hi {
                // The default range misses the allowed one: start at its edge.
                match (number(&limits.min), number(&limits.max)) {
                    (Some((a, _)), Some((b, _))) if a <= b => (*lo, *hi) = (a, b),
                    (Some((a, _)), None) => (*lo, *hi) = (a, a + 1000.0),
                    (None, Some((b, _))) => (*lo, *hi) = (b - 1000.0, b),
                    _ => return Err(empty()),
                }
            }
        }
        ColGen::Timestamp {
            from,
            to,
            unique: u,
            date,
            ..
        } => {
            let step = if *date { 86_400 } else { 1 };
            let (a, b) = bounded(
                *from,
                *to - step,
                instant(&limits.min).map(|(t, i)| (t as f64, i)),
                instant(&limits.max).map(|(t, i)| (t as f64, i)),
                1.0,
            )
            .ok_or_else(empty)?;
            (*from, *to) = (a, b + step);
            if u.is_some() {
                let have = ((b - a) / step + 1) as u64;
                if have < rows {
                    return Err(too_few(have));
                }
                *u = Some(Permutation::new(have));
            }
        }
        ColGen::Text {
            max_len, length, ..
        } => {
            if let Some(max) = limits.max_len {
                *max_len = Some(max_len.map_or(max, |m| m.min(max)));
            }
            if let Some(min) = limits.min_len {
                let hi = max_len.unwrap_or(usize::MAX).min(min.max(8) * 2);
                if hi < min {
                    return Err(empty());
                }
                *length = Some((min, hi));
            }
            if limits.min.is_some() || limits.max.is_some() {
                return Err(cannot("bounds on text"));
            }
        }
        _ => return Err(cannot("its checks")),
    }
    Ok(generator)
}

/// The default `generator` of a partitioned table's partition column, kept to values some
/// partition takes (when no default partition takes the rest).
pub(super) fn to_partitions(
    generator: ColGen,
    column: &ColumnShape,
    partitions: &Partitions,
) -> ColGen {
    if partitions.default {
        return generator;
    }
    if !partitions.lists.is_empty() {
        let cumulative = (1..=partitions.lists.len()).map(|i| i as f64).collect();
        return ColGen::Enum {
            labels: partitions.lists.clone(),
            cumulative,
        };
    }
    let mut options = Vec::new();
    let mut cumulative = Vec::new();
    let mut total = 0.0;
    for (from, to) in &partitions.ranges {
        let option = match &generator {
            ColGen::Int { lo, hi, .. } | ColGen::Decimal { lo, hi, .. }
                if column.ty.is_int() || matches!(column.ty, ColType::Numeric { .. }) =>
            {
                let scale = match &generator {
                    ColGen::Decimal { scale, .. } => 10f64.powi(*scale as i32),
                    _ => 1.0,
                };
                let parse = |v: &Option<String>, default: i64| {
                    v.as_ref()
                        .and_then(|v| v.parse::<f64>().ok())
                        .map_or(default, |n| (n * scale).round() as i64)
                };
                let (a, b) = (parse(from, *lo), parse(to, hi.saturating_add(1)) - 1);
                if a > b {
                    continue;
                }
                match &generator {
                    ColGen::Decimal { scale, .. } => ColGen::Decimal {
                        lo: a,
                        hi: b,
                        scale: *scale,
                        unique: None,
                    },
                    _ => ColGen::Int {
                        lo: a,
                        hi: b,
                        unique: None,
                    },
                }
            }
            ColGen::Serial if column.ty.is_int() => {
                let parse = |v: &Option<String>, default: i64| {
                    v.as_ref().and_then(|v| v.parse().ok()).unwrap_or(default)
                };
                let (a, b) = (parse(from, 1), parse(to, 1_000_000) - 1);
                if a > b {
                    continue;
                }
                ColGen::Int {
                    lo: a,
                    hi: b,
                    unique: None,
                }
            }
            ColGen::Timestamp {
                from: f,
                to: t,
                skew,
                date,
                ..
            } => {
                let parse = |v: &Option<String>, default: i64| {
                    v.as_ref()
                        .and_then(|v| parse_instant(v))
                        .map_or(default, |t| t.timestamp())
                };
                let (a, b) = (parse(from, *f), parse(to, *t));
                if a >= b {
                    continue;
                }
                ColGen::Timestamp {
                    from: a,
                    to: b,
                    skew: *skew,
                    unique: None,
                    date: *date,
                }
            }
            // A type this does not bound: the load says which row found no partition.
            _ => return generator,
        };
        let weight = match &option {
            ColGen::Int { lo, hi, .. } | ColGen::Decimal { lo, hi, .. } => span(*lo, *hi) as f64,
            ColGen::Timestamp { from, to, .. } => (to - from) as f64,
            _ => 1.0,
        };
        total += weight.max(1.0);
        cumulative.push(total);
        options.push(option);
    }
    if options.is_empty() {
        return generator;
    }
    ColGen::Choice {
        options,
        cumulative,
    }
}

/// Why the values of a given generator fall outside every partition (no default partition
/// takes them), when they can be told from the generator.
pub(super) fn outside_partitions(generator: &ColGen, partitions: &Partitions) -> Option<String> {
    if partitions.default {
        return None;
    }
    match generator {
        ColGen::Enum { labels, .. } if !partitions.lists.is_empty() => labels
            .iter()
            .find(|l| !partitions.lists.contains(l))
            .map(|l| {
                format!(
                    "`{l}` has no partition (they take: {})",
                    partitions.lists.join(", ")
                )
            }),
        ColGen::Const(v) if !partitions.lists.is_empty() => {
            let text = super::literal::text_of(v).unwrap_or_default();
            (!partitions.lists.contains(&text)).then(|| {
                format!(
                    "`{text}` has no partition (they take: {})",
                    partitions.lists.join(", ")
                )
            })
        }
        ColGen::Timestamp { from, to, .. } if !partitions.ranges.is_empty() => {
            let covered = |t: i64| {
                partitions.ranges.iter().any(|(a, b)| {
                    let a = a
                        .as_ref()
                        .and_then(|v| parse_instant(v))
                        .map_or(i64::MIN, |x| x.timestamp());
                    let b = b
                        .as_ref()
                        .and_then(|v| parse_instant(v))
                        .map_or(i64::MAX, |x| x.timestamp());
                    a <= t && t < b
                })
            };
            (!covered(*from) || !covered(to - 1))
                .then(|| "the generated times reach outside the partitions' ranges".to_owned())
        }
        ColGen::Int { lo, hi, .. } if !partitions.ranges.is_empty() => {
            let covered = |v: i64| {
                partitions.ranges.iter().any(|(a, b)| {
                    let a = a
                        .as_ref()
                        .and_then(|x| x.parse::<i64>().ok())
                        .unwrap_or(i64::MIN);
                    let b = b
                        .as_ref()
                        .and_then(|x| x.parse::<i64>().ok())
                        .unwrap_or(i64::MAX);
                    a <= v && v < b
                })
            };
            (!covered(*lo) || !covered(*hi))
                .then(|| "the generated values reach outside the partitions' ranges".to_owned())
        }
        _ => None,
    }
}
