//! Matches the seed section against the tables: every column gets a generator (the scenario's,
//! or a default from its type and name), and everything that cannot work is reported with the
//! scenario line: missing tables or columns, generators that cannot produce a column's type,
//! NULLs for NOT NULL columns, unique columns with too few distinct values, reference cycles.
//!
//! The same code runs twice: at `validate` against the schema SQL read without a database
//! (lenient where the SQL was not understood), and when seeding against the catalog.

use std::collections::{BTreeMap, BTreeSet};

use super::checks::Limits;
use super::fit;
use super::generate::{ColGen, Permutation, span};
use super::literal::LiteralKind;
use super::shape::{ColType, ColumnShape, CompositeRef, Fill, Shapes, TableShape, normalize};
use crate::scenario::{ColumnPlan, GenPlan, Problem, SeedPlan, TablePlan};
use crate::values::{Constant, FakeKind, KeyDistPlan, KeyPool, Pick, Value};

/// A table ready to generate.
#[derive(Debug, Clone)]
pub(super) struct TableGen {
    /// Normalized name (the key other tables' references use).
    pub key: String,
    /// Name as the scenario writes it.
    pub name: String,
    /// Rows to generate.
    pub rows: u64,
    /// Columns to write, in table order (computed columns and server-default ones left out).
    pub columns: Vec<ColumnGen>,
    /// Tables whose keys must be read from the database before this one is generated.
    pub deps: BTreeSet<String>,
    /// Every other table it takes keys from (for reporting tables in dependency order).
    pub refs: BTreeSet<String>,
}

/// One column to write.
#[derive(Debug, Clone)]
pub(super) struct ColumnGen {
    /// Column name.
    pub name: String,
    /// The generator.
    pub generator: ColGen,
    /// Fraction of NULLs.
    pub null: f64,
    /// Serial values written into a sequence-backed column: move the sequence afterwards.
    pub sequence: bool,
    /// Keys to read from a loaded table before generating: (table, column, distribution).
    pub pending_key: Option<(String, String, KeyDistPlan)>,
    /// The other table it takes keys from.
    pub references: Option<String>,
    /// One column of a several-column foreign key: the referenced rows are read before
    /// generating, and every column of the key takes the same row's.
    pub pending_tuple: Option<TupleSpec>,
    /// One column of a key over several key columns (a junction table's): `(key, position)`;
    /// the loader gives the key's columns distinct combinations.
    pub combo: Option<(usize, usize)>,
}

/// A column's part in a several-column foreign key.
#[derive(Debug, Clone)]
pub(super) struct TupleSpec {
    /// Referenced table (normalized).
    pub target: String,
    /// Referenced columns, in key order.
    pub target_columns: Vec<String>,
    /// This column's place among them.
    pub position: usize,
    /// Which of the table's several-column keys (the same draw for its columns).
    pub group: usize,
    /// Each referenced row at most once (the key is also the table's unique key).
    pub unique: bool,
}

/// How strict to be about what the shapes do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Shapes read from schema SQL: unknown types and unparsed tables are let through.
    Sql,
    /// Shapes read from the catalog: authoritative.
    Catalog,
}

/// Resolves every table of the plan, or says everything that is wrong.
pub(super) fn resolve(
    shapes: &Shapes,
    plan: &SeedPlan,
    source: Source,
) -> Result<Vec<TableGen>, Vec<Problem>> {
    let mut r = Resolver {
        shapes,
        plan,
        source,
        problems: Vec::new(),
    };
    let mut tables = Vec::new();
    for table in &plan.tables {
        if let Some(t) = r.table(table) {
            tables.push(t);
        }
    }
    r.cycles(&tables);
    if r.problems.is_empty() {
        Ok(dependency_order(tables))
    } else {
        r.problems.sort_by_key(|p| p.line);
        Err(r.problems)
    }
}

struct Resolver<'a> {
    shapes: &'a Shapes,
    plan: &'a SeedPlan,
    source: Source,
    problems: Vec<Problem>,
}

impl Resolver<'_> {
    fn problem(&mut self, line: Option<usize>, key: String, message: String) {
        self.problems.push(Problem { line, key, message });
    }

    fn table(&mut self, table: &TablePlan) -> Option<TableGen> {
        let key = format!("seed.tables.{}", table.name);
        let Some(shape) = self.shapes.table(&table.name) else {
            if self.source == Source::Catalog || self.shapes.complete {
                let known: Vec<&str> = self.shapes.tables.keys().map(String::as_str).collect();
                self.problem(
                    table.line,
                    key,
                    format!(
                        "the schema creates no table `{}` (it creates: {})",
                        table.name,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            return None;
        };
        for spec in &table.columns {
            if shape.column(&spec.name).is_none() {
                let known: Vec<&str> = shape.columns.iter().map(|c| c.name.as_str()).collect();
                self.problem(
                    spec.line,
                    format!("{key}.columns.{}", spec.name),
                    format!(
                        "table `{}` has no column `{}` (it has: {})",
                        table.name,
                        spec.name,
                        known.join(", ")
                    ),
                );
            }
        }
        let tuples = self.tuple_columns(table, shape);
        let mut out = TableGen {
            key: normalize(&table.name),
            name: table.name.clone(),
            rows: table.rows,
            columns: Vec::new(),
            deps: BTreeSet::new(),
            refs: BTreeSet::new(),
        };
        for column in &shape.columns {
            if column.fill == Fill::Computed {
                if let Some(spec) = table.columns.iter().find(|c| c.name == column.name) {
                    self.problem(
                        spec.line,
                        format!("{key}.columns.{}", column.name),
                        format!(
                            "`{}` is a generated column; the server computes it",
                            column.name
                        ),
                    );
                }
                continue;
            }
            let spec = table.columns.iter().find(|c| c.name == column.name);
            if let Some((group, position, reference)) = tuples.get(&column.name) {
                let target = reference.target.clone();
                out.deps.insert(target.clone());
                out.refs.insert(target.clone());
                let null = spec.map_or(0.0, |s| s.null);
                let unique = shape.unique_sets.iter().any(|set| {
                    set.len() == reference.columns.len()
                        && set.iter().all(|c| reference.columns.contains(c))
                });
                out.columns.push(ColumnGen {
                    name: column.name.clone(),
                    generator: ColGen::Null,
                    null,
                    sequence: false,
                    pending_key: None,
                    references: Some(target.clone()),
                    pending_tuple: Some(TupleSpec {
                        target,
                        target_columns: reference.target_columns.clone(),
                        position: *position,
                        group: *group,
                        unique,
                    }),
                    combo: None,
                });
                continue;
            }
            if let Some(c) = self.column(table, shape, column, spec) {
                if let Some((t, _, _)) = &c.pending_key {
                    out.deps.insert(t.clone());
                }
                if let Some(t) = &c.references {
                    out.refs.insert(t.clone());
                }
                out.columns.push(c);
            }
        }
        self.unique_sets(table, shape, &mut out);
        Some(out)
    }

    /// The several-column foreign keys of `shape` whose referenced table is seeded and whose
    /// columns the scenario gives no generator: column → (key, position, the key).
    fn tuple_columns<'s>(
        &self,
        table: &TablePlan,
        shape: &'s TableShape,
    ) -> BTreeMap<String, (usize, usize, &'s CompositeRef)> {
        let mut out = BTreeMap::new();
        for (group, reference) in shape.composite_refs.iter().enumerate() {
            let explicit = reference.columns.iter().any(|c| {
                table
                    .columns
                    .iter()
                    .any(|s| &s.name == c && s.generator != GenPlan::Default)
            });
            if explicit
                || self.plan_table(&reference.target).is_none()
                || reference
                    .columns
                    .iter()
                    .any(|c| out.contains_key(c) || shape.column(c).is_none())
            {
                continue;
            }
            for (position, c) in reference.columns.iter().enumerate() {
                out.insert(c.clone(), (group, position, reference));
            }
        }
        out
    }

    /// Makes every key over several columns hold distinct combinations: already so when one
    /// of its columns is distinct; else one of its free columns is made distinct; else (every
    /// column a foreign key, as in a junction table) the loader enumerates combinations of
    /// the referenced keys.
    fn unique_sets(&mut self, table: &TablePlan, shape: &TableShape, out: &mut TableGen) {
        let is_unique = |c: &ColumnGen| match &c.generator {
            ColGen::Serial | ColGen::Uuid => true,
            ColGen::Int { unique, .. }
            | ColGen::Decimal { unique, .. }
            | ColGen::Timestamp { unique, .. }
            | ColGen::Key { unique, .. } => unique.is_some(),
            ColGen::Text { unique, .. } | ColGen::Literal { unique, .. } => *unique,
            _ => c.pending_tuple.as_ref().is_some_and(|t| t.unique),
        };
        for (index, set) in shape.unique_sets.iter().enumerate() {
            let members: Vec<usize> = set
                .iter()
                .filter_map(|name| out.columns.iter().position(|c| &c.name == name))
                .collect();
            if members.len() != set.len() || members.iter().any(|&i| is_unique(&out.columns[i])) {
                continue;
            }
            // A free column: no generator given, no key of another table, a type that can be
            // made distinct.
            let free = members.iter().copied().find(|&i| {
                let c = &out.columns[i];
                let Some(column) = shape.column(&c.name) else {
                    return false;
                };
                c.references.is_none()
                    && c.pending_tuple.is_none()
                    && table
                        .columns
                        .iter()
                        .all(|s| s.name != c.name || s.generator == GenPlan::Default)
                    && type_default(column, true, table.rows).is_some_and(|g| {
                        !matches!(g, ColGen::Enum { .. } | ColGen::Bool | ColGen::Float(..))
                    })
            });
            if let Some(i) = free {
                let column = shape.column(&out.columns[i].name).expect("checked above");
                if let Some(g) = type_default(column, true, table.rows) {
                    out.columns[i].generator = g;
                }
                continue;
            }
            let keys = members.iter().all(|&i| {
                let c = &out.columns[i];
                c.pending_key.is_some() || matches!(c.generator, ColGen::Key { .. })
            });
            if keys {
                for (position, &i) in members.iter().enumerate() {
                    out.columns[i].combo = Some((index, position));
                }
                continue;
            }
            self.problem(
                table.line,
                format!("seed.tables.{}", table.name),
                format!(
                    "the key ({}) of `{}` needs distinct combinations, and no column of it can \
                     be made distinct; give one of them `unique = true` with a generator",
                    set.join(", "),
                    table.name
                ),
            );
        }
    }

    fn column(
        &mut self,
        table: &TablePlan,
        shape: &TableShape,
        column: &ColumnShape,
        spec: Option<&ColumnPlan>,
    ) -> Option<ColumnGen> {
        let key = format!("seed.tables.{}.columns.{}", table.name, column.name);
        let line = spec.and_then(|s| s.line).or(table.line);
        let null = spec.map_or(0.0, |s| s.null);
        if null > 0.0 && column.not_null {
            self.problem(
                line,
                key.clone(),
                format!(
                    "`null = {null}` but `{}.{}` is NOT NULL",
                    table.name, column.name
                ),
            );
        }
        let unique = column.unique || spec.is_some_and(|s| s.unique);
        let plan = spec.map_or(&GenPlan::Default, |s| &s.generator);
        let mut out = ColumnGen {
            name: column.name.clone(),
            generator: ColGen::Null,
            null,
            sequence: false,
            pending_key: None,
            references: None,
            pending_tuple: None,
            combo: None,
        };
        let result = match plan {
            // Every value NULL: nothing to generate and no key to take (a self-reference or a
            // foreign key closing a cycle is fine). On a NOT NULL column the problem is above.
            GenPlan::Default if null >= 1.0 => Ok(Some(ColGen::Null)),
            GenPlan::Default => self
                .default_for(table, shape, column, unique, &mut out)
                .and_then(|g| match g {
                    Some(g)
                        if out.pending_key.is_none()
                            && !matches!(g, ColGen::Key { .. } | ColGen::Null) =>
                    {
                        let limits = Limits::of(&column.checks);
                        let g = fit::to_limits(g, column, &limits, table.rows, unique)?;
                        Ok(Some(match &shape.partitions {
                            Some(p) if p.column == column.name => fit::to_partitions(g, column, p),
                            _ => g,
                        }))
                    }
                    other => Ok(other),
                }),
            explicit => self
                .explicit(table, shape, column, explicit, unique, &mut out)
                .and_then(|g| match (&g, &shape.partitions) {
                    (Some(generator), Some(p)) if p.column == column.name => {
                        match fit::outside_partitions(generator, p) {
                            Some(why) => Err(format!(
                                "`{}` partitions `{}` and has no default partition: {why}",
                                column.name, table.name
                            )),
                            None => Ok(g),
                        }
                    }
                    _ => Ok(g),
                }),
        };
        match result {
            Ok(Some(generator)) => {
                out.generator = generator;
                Some(out)
            }
            Ok(None) => None,
            Err(message) => {
                self.problem(line, key, message);
                None
            }
        }
    }

    /// The generator for a column the scenario says nothing (or only `null`/`unique`) about.
    fn default_for(
        &mut self,
        table: &TablePlan,
        shape: &TableShape,
        column: &ColumnShape,
        unique: bool,
        out: &mut ColumnGen,
    ) -> Result<Option<ColGen>, String> {
        if column.fill == Fill::Sequence && column.ty.is_int() {
            out.sequence = true;
            return Ok(Some(ColGen::Serial));
        }
        if let Some((target, target_column)) = &column.references {
            if self.plan_table(target).is_none() {
                if column.not_null {
                    return Err(format!(
                        "`{}` references `{target}`, which is not seeded; add \
                         [seed.tables.{target}] with a row count",
                        column.name
                    ));
                }
                return Ok(Some(ColGen::Null));
            }
            let (target, target_column) = (target.clone(), target_column.clone());
            return self.key(
                table,
                shape,
                column,
                &target,
                &target_column,
                KeyDistPlan::Uniform,
                unique,
                out,
            );
        }
        match type_default(column, unique, table.rows) {
            Some(g) => Ok(Some(g)),
            None if column.fill == Fill::Default => Ok(None),
            // Perhaps an extension's type or a domain the parser did not read: the catalog
            // decides. A composite type the schema creates has no generator either way.
            None if self.source == Source::Sql
                && matches!(&column.ty, ColType::Other(name)
                    if !self.shapes.composites.contains(&normalize(name))) =>
            {
                Ok(None)
            }
            None if !column.not_null => Ok(Some(ColGen::Null)),
            None => Err(format!(
                "no generator makes values of type {} yet; give `{}` a default or a \
                 `value = …` in the seed section, or make it nullable",
                column.type_name, column.name
            )),
        }
    }

    fn explicit(
        &mut self,
        table: &TablePlan,
        shape: &TableShape,
        column: &ColumnShape,
        plan: &GenPlan,
        unique: bool,
        out: &mut ColumnGen,
    ) -> Result<Option<ColGen>, String> {
        let ty = &column.ty;
        let cannot = || {
            format!(
                "`{}` cannot produce values for `{}` of type {}",
                plan.key(),
                column.name,
                column.type_name
            )
        };
        if let ColType::Other(_) = ty {
            if self.source == Source::Sql {
                // Perhaps a domain or an extension type: the catalog check decides.
                return Ok(Some(ColGen::Null));
            }
            if !matches!(plan, GenPlan::Value(_)) {
                return Err(cannot());
            }
        }
        let need = distinct_needed(table.rows, out.null);
        let too_few = |have: u64| -> Result<(), String> {
            if unique && have < need {
                Err(format!(
                    "`{}` is unique but `{}` gives only {have} distinct values for {need} rows",
                    column.name,
                    plan.key()
                ))
            } else {
                Ok(())
            }
        };
        let generator = match plan {
            GenPlan::Default => unreachable!("handled by default_for"),
            GenPlan::Serial => {
                if !(ty.is_int() || ty.is_text() || matches!(ty, ColType::Numeric { .. })) {
                    return Err(cannot());
                }
                out.sequence = column.fill == Fill::Sequence;
                ColGen::Serial
            }
            GenPlan::Fake { kind, length } => match (kind, ty) {
                (FakeKind::Uuid, ColType::Uuid) => ColGen::Uuid,
                (_, ColType::Text { max_len }) => ColGen::Text {
                    kind: *kind,
                    length: *length,
                    max_len: *max_len,
                    unique,
                },
                _ => return Err(cannot()),
            },
            GenPlan::Range {
                low,
                high,
                integer,
                scale,
            } => match ty {
                ColType::Int(width) => {
                    if !integer {
                        return Err(format!(
                            "`range` has decimals but `{}` is an integer column",
                            column.name
                        ));
                    }
                    let limit = match width {
                        2 => f64::from(i16::MAX),
                        4 => f64::from(i32::MAX),
                        _ => i64::MAX as f64,
                    };
                    if low.abs() > limit || high.abs() > limit {
                        return Err(format!(
                            "`range` goes beyond what {} holds (±{limit})",
                            column.type_name
                        ));
                    }
                    let (lo, hi) = (*low as i64, *high as i64);
                    too_few(span(lo, hi))?;
                    ColGen::Int {
                        lo,
                        hi,
                        unique: unique.then(|| Permutation::new(span(lo, hi))),
                    }
                }
                ColType::Numeric {
                    precision,
                    scale: s,
                } => {
                    let digits = scale.min(s);
                    if let Some(p) = precision {
                        let max = 10f64.powi((*p as i32) - (*s as i32));
                        if low.abs() >= max || high.abs() >= max {
                            return Err(format!(
                                "`range` goes beyond what {} holds (below {max})",
                                column.type_name
                            ));
                        }
                    }
                    decimal(*low, *high, *digits, unique, need)?
                }
                ColType::Float => ColGen::Float(*low, *high),
                ColType::Text { .. } => decimal(*low, *high, *scale, unique, need)?,
                _ => return Err(cannot()),
            },
            GenPlan::Timestamp { from, to, skew } => {
                let date = *ty == ColType::Date;
                if !matches!(
                    ty,
                    ColType::Timestamp
                        | ColType::TimestampTz
                        | ColType::Date
                        | ColType::Text { .. }
                ) {
                    return Err(cannot());
                }
                let span = if date {
                    ((to - from) / 86_400).max(1) as u64
                } else {
                    (to - from) as u64
                };
                too_few(span)?;
                ColGen::Timestamp {
                    from: *from,
                    to: *to,
                    skew: *skew,
                    unique: unique.then(|| Permutation::new(span)),
                    date,
                }
            }
            GenPlan::Enum(labels) => {
                match ty {
                    // Labels as literals: the server parses each.
                    ColType::Text { .. }
                    | ColType::Literal(_)
                    | ColType::Array(_)
                    | ColType::Range(_)
                    | ColType::MultiRange(_) => {}
                    ColType::Enum(allowed) => {
                        let unknown: Vec<&str> = labels
                            .iter()
                            .map(|(l, _)| l.as_str())
                            .filter(|l| !allowed.iter().any(|a| a == l))
                            .collect();
                        if !unknown.is_empty() {
                            return Err(format!(
                                "{} not a label of {} (labels: {})",
                                unknown.join(", "),
                                column.type_name,
                                allowed.join(", ")
                            ));
                        }
                    }
                    _ => return Err(cannot()),
                }
                too_few(labels.iter().filter(|(_, w)| *w > 0.0).count() as u64)?;
                enum_gen(labels)
            }
            GenPlan::Json { bytes } => {
                if !matches!(ty, ColType::Json | ColType::Jsonb | ColType::Text { .. }) {
                    return Err(cannot());
                }
                ColGen::Json { bytes: *bytes }
            }
            GenPlan::Key {
                table: target,
                column: target_column,
                dist,
            } => {
                if self.plan_table(target).is_none() {
                    return Err(format!(
                        "`key` refers to `{target}`, which is not seeded; add \
                         [seed.tables.{target}] with a row count"
                    ));
                }
                return self.key(
                    table,
                    shape,
                    column,
                    &normalize(target),
                    target_column,
                    *dist,
                    unique,
                    out,
                );
            }
            GenPlan::Value(c) => {
                let literal = matches!(
                    ty,
                    ColType::Other(_)
                        | ColType::Literal(_)
                        | ColType::Array(_)
                        | ColType::Range(_)
                        | ColType::MultiRange(_)
                );
                if literal {
                    // The server parses it with the type's input function when loading; what
                    // can be checked here is.
                    if let Some(problem) = literal_problem(c, ty) {
                        return Err(format!(
                            "`value` {problem} for `{}` of type {}",
                            column.name, column.type_name
                        ));
                    }
                    too_few(1)?;
                    return Ok(Some(ColGen::Const(Value::Literal(constant_text(c)))));
                }
                let fits = match (c, ty) {
                    (_, ColType::Other(_)) => true,
                    (Constant::Text(t), ColType::Enum(allowed)) => allowed.contains(t),
                    (
                        Constant::Text(t),
                        ColType::Timestamp | ColType::TimestampTz | ColType::Date,
                    ) => crate::values::parse_instant(t).is_some(),
                    (Constant::Text(t), ColType::Uuid) => t.parse::<uuid::Uuid>().is_ok(),
                    (Constant::Text(t), ColType::Json | ColType::Jsonb) => {
                        serde_json::from_str::<serde_json::Value>(t).is_ok()
                    }
                    (Constant::Text(t), ColType::Int(_)) => t.parse::<i64>().is_ok(),
                    (Constant::Text(_), t) => t.is_text(),
                    (Constant::Integer(_), t) => {
                        t.is_int()
                            || t.is_text()
                            || matches!(t, ColType::Float | ColType::Numeric { .. })
                    }
                    (Constant::Float(_), t) => {
                        t.is_text() || matches!(t, ColType::Float | ColType::Numeric { .. })
                    }
                    (Constant::Bool(_), t) => t.is_text() || *t == ColType::Bool,
                };
                if !fits {
                    return Err(cannot());
                }
                too_few(1)?;
                ColGen::Const(c.to_value())
            }
        };
        Ok(Some(generator))
    }

    #[allow(clippy::too_many_arguments)]
    fn key(
        &mut self,
        table: &TablePlan,
        shape: &TableShape,
        column: &ColumnShape,
        target: &str,
        target_column: &str,
        dist: KeyDistPlan,
        unique: bool,
        out: &mut ColumnGen,
    ) -> Result<Option<ColGen>, String> {
        let target_plan = self.plan_table(target).expect("checked by the caller");
        let target_rows = target_plan.rows;
        let target_shape = if normalize(&table.name) == target {
            Some(shape)
        } else {
            self.shapes.table(target)
        };
        if normalize(&table.name) != target {
            out.references = Some(target.to_owned());
        }
        let serial = match target_shape {
            None => false,
            Some(t) => {
                let Some(tc) = t.column(target_column) else {
                    return Err(format!(
                        "`{target}` has no column `{target_column}` to take keys from"
                    ));
                };
                if (tc.ty.is_int() != column.ty.is_int() || tc.ty.is_text() != column.ty.is_text())
                    && !matches!(column.ty, ColType::Other(_))
                {
                    return Err(format!(
                        "`{}` ({}) cannot hold keys of `{target}.{target_column}` ({})",
                        column.name, column.type_name, tc.type_name
                    ));
                }
                let spec = target_plan.columns.iter().find(|c| c.name == target_column);
                match spec.map(|s| &s.generator) {
                    Some(GenPlan::Serial) => true,
                    Some(GenPlan::Default) | None => tc.fill == Fill::Sequence && tc.ty.is_int(),
                    Some(_) => false,
                }
            }
        };
        if unique && target_rows < distinct_needed(table.rows, out.null) {
            return Err(format!(
                "`{}` is unique but `{target}` has only {target_rows} keys for {} rows",
                column.name, table.rows
            ));
        }
        if serial {
            let pool = KeyPool::Range(1, target_rows as i64);
            return Ok(Some(ColGen::Key {
                pick: Pick::new(dist, pool.len()),
                unique: unique.then(|| Permutation::new(pool.len())),
                pool,
                combo: None,
            }));
        }
        if normalize(&table.name) == target {
            return Err(format!(
                "`{}` takes keys from its own table's `{target_column}`, which are only known \
                 once loaded; make `{target_column}` serial or give `{}` another generator",
                column.name, column.name
            ));
        }
        out.pending_key = Some((target.to_owned(), target_column.to_owned(), dist));
        // Replaced by the loader once the keys are read.
        Ok(Some(ColGen::Null))
    }

    fn plan_table(&self, name: &str) -> Option<&TablePlan> {
        let wanted = normalize(name);
        self.plan
            .tables
            .iter()
            .find(|t| normalize(&t.name) == wanted)
    }

    /// Tables that reference each other in a loop cannot be ordered for loading.
    fn cycles(&mut self, tables: &[TableGen]) {
        let edges: BTreeMap<&str, BTreeSet<&str>> = tables
            .iter()
            .map(|t| (t.key.as_str(), t.deps.iter().map(String::as_str).collect()))
            .collect();
        let mut reported = BTreeSet::new();
        for start in edges.keys() {
            if let Some(cycle) = find_cycle(&edges, start)
                && reported.insert(cycle.iter().copied().collect::<BTreeSet<_>>())
            {
                let line = self
                    .plan
                    .tables
                    .iter()
                    .find(|t| normalize(&t.name) == *start)
                    .and_then(|t| t.line);
                self.problem(
                    line,
                    format!("seed.tables.{start}"),
                    format!(
                        "tables reference each other in a cycle ({}); give one of those \
                         reference columns `null = 1.0` or another generator",
                        cycle.join(" → ")
                    ),
                );
            }
        }
    }
}

/// Referenced tables before the tables referencing them (name order otherwise).
fn dependency_order(mut tables: Vec<TableGen>) -> Vec<TableGen> {
    let mut out: Vec<TableGen> = Vec::with_capacity(tables.len());
    while !tables.is_empty() {
        let ready = tables
            .iter()
            .position(|t| {
                t.refs
                    .iter()
                    .all(|r| out.iter().any(|o| &o.key == r) || !tables.iter().any(|o| &o.key == r))
            })
            // A cycle through keys known without loading: any order works.
            .unwrap_or(0);
        out.push(tables.remove(ready));
    }
    out
}

fn find_cycle<'a>(
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> Option<Vec<&'a str>> {
    fn walk<'a>(
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        node: &'a str,
        start: &'a str,
        path: &mut Vec<&'a str>,
        seen: &mut BTreeSet<&'a str>,
    ) -> bool {
        for next in edges.get(node).into_iter().flatten() {
            if *next == start {
                path.push(next);
                return true;
            }
            if *next != node && seen.insert(next) {
                path.push(next);
                if walk(edges, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    let mut seen = BTreeSet::new();
    walk(edges, start, start, &mut path, &mut seen).then_some(path)
}

/// A constant as the literal the server parses.
fn constant_text(c: &Constant) -> String {
    match c {
        Constant::Text(t) => t.clone(),
        Constant::Integer(i) => i.to_string(),
        Constant::Float(f) => f.to_string(),
        Constant::Bool(b) => b.to_string(),
    }
}

/// What is wrong with a constant for a type written as a literal, as far as can be told
/// without the server.
fn literal_problem(c: &Constant, ty: &ColType) -> Option<&'static str> {
    let Constant::Text(t) = c else {
        return match ty {
            ColType::Literal(LiteralKind::Oid | LiteralKind::Money | LiteralKind::Interval)
            | ColType::Other(_) => None,
            _ => Some("is not text"),
        };
    };
    let t = t.trim();
    let ok = match ty {
        ColType::Literal(LiteralKind::Inet) => {
            let address = t.split_once('/').map_or(t, |(a, _)| a);
            address.parse::<std::net::IpAddr>().is_ok()
        }
        ColType::Literal(LiteralKind::Cidr) => {
            let address = t.split_once('/').map_or(t, |(a, _)| a);
            address.parse::<std::net::IpAddr>().is_ok()
        }
        ColType::Literal(LiteralKind::MacAddr | LiteralKind::MacAddr8) => t
            .split([':', '-', '.'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_hexdigit())),
        ColType::Literal(LiteralKind::Bit(n)) => {
            t.len() == *n as usize && t.chars().all(|c| c == '0' || c == '1')
        }
        ColType::Literal(LiteralKind::VarBit(_)) => t.chars().all(|c| c == '0' || c == '1'),
        ColType::Array(_) | ColType::MultiRange(_) => t.starts_with('{') && t.ends_with('}'),
        ColType::Range(_) => {
            t.eq_ignore_ascii_case("empty")
                || ((t.starts_with('[') || t.starts_with('('))
                    && (t.ends_with(']') || t.ends_with(')'))
                    && t.contains(','))
        }
        _ => true,
    };
    (!ok).then_some("does not parse as that type")
}

/// Distinct values a unique column needs: its non-NULL rows.
fn distinct_needed(rows: u64, null: f64) -> u64 {
    ((rows as f64) * (1.0 - null)).ceil() as u64
}

fn decimal(low: f64, high: f64, scale: u32, unique: bool, need: u64) -> Result<ColGen, String> {
    let factor = 10f64.powi(scale as i32);
    let (lo, hi) = (
        (low * factor).round() as i64,
        (high * factor).round() as i64,
    );
    let have = span(lo, hi);
    if unique && have < need {
        return Err(format!(
            "the column is unique but `range` gives only {have} distinct values for {need} rows"
        ));
    }
    Ok(ColGen::Decimal {
        lo,
        hi,
        scale,
        unique: unique.then(|| Permutation::new(have)),
    })
}

fn enum_gen(labels: &[(String, f64)]) -> ColGen {
    let mut total = 0.0;
    let cumulative = labels
        .iter()
        .map(|(_, w)| {
            total += w;
            total
        })
        .collect();
    ColGen::Enum {
        labels: labels.iter().map(|(l, _)| l.clone()).collect(),
        cumulative,
    }
}

const FROM_SECS: i64 = 1_546_300_800; // 2019-01-01
const TO_SECS: i64 = 1_767_225_600; // 2026-01-01

/// A column's default generator from its type and name; `None` when no generator makes the type.
fn type_default(column: &ColumnShape, unique: bool, rows: u64) -> Option<ColGen> {
    let name = column.name.to_ascii_lowercase();
    Some(match &column.ty {
        ColType::Int(_) if unique => ColGen::Serial,
        ColType::Int(2) => ColGen::Int {
            lo: 0,
            hi: 1_000,
            unique: None,
        },
        ColType::Int(4) => ColGen::Int {
            lo: 0,
            hi: 100_000,
            unique: None,
        },
        ColType::Int(_) => ColGen::Int {
            lo: 0,
            hi: 1_000_000,
            unique: None,
        },
        ColType::Float => ColGen::Float(0.0, 1_000.0),
        ColType::Numeric { precision, scale } => {
            let scale = (*scale).min(6);
            let digits = precision.map_or(6, |p| p.saturating_sub(scale).min(12));
            let hi = 10i64.pow(digits + scale) - 1;
            ColGen::Decimal {
                lo: 0,
                hi,
                scale,
                unique: unique.then(|| Permutation::new(hi as u64 + 1)),
            }
        }
        ColType::Bool => ColGen::Bool,
        ColType::Text { max_len } => match text_kind(&name) {
            Some(kind) => ColGen::Text {
                kind,
                length: match kind {
                    FakeKind::Sentence => Some((20, 80)),
                    FakeKind::Paragraph => Some((80, 400)),
                    _ => None,
                },
                max_len: *max_len,
                unique,
            },
            None if unique => ColGen::Text {
                kind: FakeKind::Word,
                length: None,
                max_len: *max_len,
                unique,
            },
            None => enum_gen(&[
                ("active".into(), 80.0),
                ("inactive".into(), 15.0),
                ("pending".into(), 5.0),
            ]),
        },
        ColType::Timestamp | ColType::TimestampTz | ColType::Date => {
            let date = column.ty == ColType::Date;
            let span = if date {
                ((TO_SECS - FROM_SECS) / 86_400) as u64
            } else {
                (TO_SECS - FROM_SECS) as u64
            };
            ColGen::Timestamp {
                from: FROM_SECS,
                to: TO_SECS,
                skew: 1.0,
                unique: (unique && span >= rows).then(|| Permutation::new(span)),
                date,
            }
        }
        ColType::Uuid => ColGen::Uuid,
        ColType::Json | ColType::Jsonb => ColGen::Json { bytes: 120 },
        ColType::Bytea => ColGen::Bytes,
        ColType::Enum(labels) => {
            enum_gen(&labels.iter().map(|l| (l.clone(), 1.0)).collect::<Vec<_>>())
        }
        ColType::Literal(kind) => {
            if unique && kind.distinct() < rows {
                return None;
            }
            ColGen::Literal {
                kind: *kind,
                unique,
            }
        }
        ColType::Array(element) => {
            let shape = |unique: bool| ColumnShape {
                ty: (**element).clone(),
                unique,
                ..column.clone()
            };
            ColGen::Array {
                element: Box::new(match element.as_ref() {
                    ColType::Text { max_len } => ColGen::Text {
                        kind: FakeKind::Word,
                        length: None,
                        max_len: *max_len,
                        unique: false,
                    },
                    _ => type_default(&shape(false), false, rows)?,
                }),
                unique: if unique {
                    Some(Box::new(type_default(&shape(true), true, rows)?))
                } else {
                    None
                },
            }
        }
        ColType::Range(kind) | ColType::MultiRange(kind) => ColGen::Range {
            kind: *kind,
            unique,
            multi: matches!(column.ty, ColType::MultiRange(_)),
        },
        ColType::Other(_) => return None,
    })
}

/// The fake kind a text column's name suggests; `None` for status-like columns (labels).
pub(crate) fn text_kind(name: &str) -> Option<FakeKind> {
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    Some(if has(&["email", "mail"]) {
        FakeKind::Email
    } else if has(&["first_name", "firstname", "given_name"]) {
        FakeKind::FirstName
    } else if has(&["last_name", "lastname", "surname", "family_name"]) {
        FakeKind::LastName
    } else if has(&["username", "login", "handle", "slug"]) {
        FakeKind::Username
    } else if has(&["name"]) && has(&["company", "org", "business"]) {
        FakeKind::Company
    } else if has(&["name"]) {
        FakeKind::Name
    } else if has(&["city"]) {
        FakeKind::City
    } else if has(&["country"]) {
        FakeKind::Country
    } else if has(&["street", "address"]) {
        FakeKind::Street
    } else if has(&["phone", "mobile"]) {
        FakeKind::Phone
    } else if has(&["company"]) {
        FakeKind::Company
    } else if has(&["status", "state", "kind", "type", "plan", "tier"]) {
        return None;
    } else if has(&["title", "subject", "summary"]) {
        FakeKind::Sentence
    } else if has(&[
        "description",
        "body",
        "content",
        "comment",
        "note",
        "text",
        "bio",
    ]) {
        FakeKind::Paragraph
    } else {
        FakeKind::Sentence
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, Plan};

    fn check(seed: &str) -> Result<Vec<TableGen>, Vec<Problem>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        let schema = "CREATE TYPE mood AS ENUM ('ok', 'meh');
            CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              email text NOT NULL UNIQUE, age int NOT NULL, m mood, bio text, code int UNIQUE);
            CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id),
              total numeric(6, 2) NOT NULL, placed timestamptz NOT NULL);";
        std::fs::write(
            &path,
            format!(
                "name = \"t\"\n[schema]\nsql = \"\"\"{schema}\"\"\"\n{seed}\n[[strategy]]\nname = \"s\"\nsteps = [{{ sql = \"SELECT 1\" }}]\n"
            ),
        )
        .unwrap();
        let plan = Plan::load(&path, &Overrides::default(), super::super::check).map_err(|e| {
            vec![Problem {
                line: None,
                key: String::new(),
                message: e.to_string(),
            }]
        })?;
        resolve(
            &super::super::shape::from_sql(&plan.schema.sql),
            &plan.seed,
            Source::Sql,
        )
    }

    fn messages(seed: &str) -> String {
        check(seed)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_plain_schema_gets_defaults() {
        let tables =
            check("[seed.tables.users]\nrows = 10\n[seed.tables.orders]\nrows = 30").unwrap();
        let orders = tables.iter().find(|t| t.key == "orders").unwrap();
        assert!(
            orders.deps.is_empty(),
            "identity keys are known without loading"
        );
        assert!(matches!(
            orders
                .columns
                .iter()
                .find(|c| c.name == "user_id")
                .unwrap()
                .generator,
            ColGen::Key {
                pool: KeyPool::Range(1, 10),
                ..
            }
        ));
        assert!(orders.columns[0].sequence);
    }

    #[test]
    fn bad_seed_sections_are_refused_with_reasons() {
        let m = messages("[seed.tables.ghosts]\nrows = 1");
        assert!(m.contains("creates no table `ghosts`"), "{m}");
        let m = messages("[seed.tables.users]\nrows = 1\ncolumns.nope = { fake = \"name\" }");
        assert!(m.contains("no column `nope`"), "{m}");
        let m = messages("[seed.tables.users]\nrows = 1\ncolumns.age = { fake = \"name\" }");
        assert!(m.contains("cannot produce values for `age`"), "{m}");
        let m =
            messages("[seed.tables.users]\nrows = 1\ncolumns.age = { range = [1, 9], null = 0.5 }");
        assert!(m.contains("is NOT NULL"), "{m}");
        let m = messages("[seed.tables.users]\nrows = 100\ncolumns.code = { range = [1, 10] }");
        assert!(m.contains("only 10 distinct values for 100 rows"), "{m}");
        let m =
            messages("[seed.tables.users]\nrows = 5\ncolumns.m = { enum = { ok = 1, bad = 1 } }");
        assert!(m.contains("bad not a label"), "{m}");
        let m = messages("[seed.tables.orders]\nrows = 5");
        assert!(m.contains("not seeded"), "{m}");
        let m = messages("[seed.tables.users]\nrows = 0");
        assert!(m.contains("positive whole number"), "{m}");
        let m = messages(
            "[seed.tables.orders]\nrows = 5\ncolumns.total = { range = [0, 99999] }\n[seed.tables.users]\nrows = 1",
        );
        assert!(m.contains("goes beyond"), "{m}");
    }

    #[test]
    fn reference_cycles_are_refused() {
        let m = messages(
            "[seed.tables.users]\nrows = 5\ncolumns.code = { key = \"orders.user_id\" }\n\
             [seed.tables.orders]\nrows = 5\ncolumns.user_id = { key = \"users.age\" }",
        );
        assert!(m.contains("cycle"), "{m}");
    }

    /// Issue 16: `{ null = 1.0 }` alone was refused on a self-referencing key column; every
    /// value is NULL, so it needs no key. On a NOT NULL column it is refused, with one message.
    #[test]
    fn all_null_needs_no_generator() {
        // `orders.user_id` is NOT NULL.
        let m =
            check("[seed.tables.users]\nrows = 5\n[seed.tables.orders]\nrows = 5\ncolumns.user_id = { null = 1.0 }")
                .unwrap_err();
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].to_string()
                .contains("`null = 1` but `orders.user_id` is NOT NULL")
        );
        let tables =
            check("[seed.tables.users]\nrows = 5\ncolumns.code = { null = 1.0, unique = true }")
                .unwrap();
        let code = tables[0].columns.iter().find(|c| c.name == "code").unwrap();
        assert!(matches!(code.generator, ColGen::Null));
        assert!(code.references.is_none() && code.pending_key.is_none());
    }
}
