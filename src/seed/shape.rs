//! What the seeder needs to know about the tables it fills, from either of two sources: the
//! schema SQL read without a database (`validate` checks the seed section against it) or the
//! catalog of the database the schema was created in (authoritative when seeding).

use std::collections::BTreeMap;

use sqlparser::ast::{
    ColumnOption, CreateTable, Expr, ObjectName, ObjectNamePart, Statement, TableConstraint,
    UserDefinedTypeRepresentation,
};
use sqlparser::dialect::PostgreSqlDialect;

use super::checks::Check;
use super::literal::{LiteralKind, RangeKind};
use sqlparser::parser::Parser;

/// A column's type, as far as generators care.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ColType {
    /// smallint, integer, bigint: the width in bytes.
    Int(u8),
    /// real, double precision.
    Float,
    /// numeric(precision, scale).
    Numeric {
        /// Total digits, when limited.
        precision: Option<u32>,
        /// Digits after the point.
        scale: u32,
    },
    /// boolean
    Bool,
    /// text, varchar(n), char(n), citext, name.
    Text {
        /// Longest value in characters.
        max_len: Option<usize>,
    },
    /// timestamp without time zone
    Timestamp,
    /// timestamp with time zone
    TimestampTz,
    /// date
    Date,
    /// uuid
    Uuid,
    /// json
    Json,
    /// jsonb
    Jsonb,
    /// bytea
    Bytea,
    /// An enum with its labels.
    Enum(Vec<String>),
    /// A type generated as a text literal (inet, interval, geometry, …).
    Literal(LiteralKind),
    /// An array of another type.
    Array(Box<ColType>),
    /// A range type.
    Range(RangeKind),
    /// A multirange type.
    MultiRange(RangeKind),
    /// Anything else, by name.
    Other(String),
}

impl ColType {
    /// About how many bytes a value takes on disk (a guess for text and JSON).
    pub(super) fn estimated_width(&self) -> u64 {
        match self {
            ColType::Int(w) => u64::from(*w),
            ColType::Bool => 1,
            ColType::Date | ColType::Enum(_) => 4,
            ColType::Float | ColType::Timestamp | ColType::TimestampTz => 8,
            ColType::Numeric { .. } | ColType::Uuid => 16,
            ColType::Text { max_len } => max_len.map_or(32, |n| (n as u64).min(64)),
            ColType::Json | ColType::Jsonb => 128,
            ColType::Bytea | ColType::Other(_) | ColType::Literal(_) => 32,
            ColType::Array(element) => 24 + 3 * element.estimated_width(),
            ColType::Range(_) => 24,
            ColType::MultiRange(_) => 64,
        }
    }

    /// Classifies a type by name as SQL writes it (`character varying(20)`, `int8`, `BIGSERIAL`).
    /// `enums` are the enum types the schema creates.
    pub(super) fn from_name(name: &str, enums: &BTreeMap<String, Vec<String>>) -> ColType {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(element) = lower
            .strip_suffix("[]")
            .or_else(|| lower.strip_suffix(" array"))
        {
            // int[][] is an array of int too: Postgres does not enforce dimensions.
            let element = element.trim_end_matches("[]").trim();
            return match ColType::from_name(element, enums) {
                ColType::Other(_) => ColType::Other(name.trim().to_owned()),
                element => ColType::Array(Box::new(element)),
            };
        }
        // `timestamp(3) with time zone`: the zone decides the type, the precision does not.
        let zoned = lower.ends_with("with time zone");
        if lower.starts_with("timestamp") && (zoned || lower.ends_with("without time zone")) {
            return if zoned {
                ColType::TimestampTz
            } else {
                ColType::Timestamp
            };
        }
        if lower.starts_with("time") && (zoned || lower.ends_with("without time zone")) {
            return ColType::Literal(if zoned {
                LiteralKind::TimeTz
            } else {
                LiteralKind::Time
            });
        }
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (
                b.trim().to_owned(),
                rest.trim_end_matches(')')
                    .split(',')
                    .filter_map(|a| a.trim().parse::<u32>().ok())
                    .collect::<Vec<_>>(),
            ),
            None => (lower.clone(), Vec::new()),
        };
        match base.as_str() {
            "smallint" | "int2" | "smallserial" | "serial2" => ColType::Int(2),
            "integer" | "int" | "int4" | "serial" | "serial4" => ColType::Int(4),
            "bigint" | "int8" | "bigserial" | "serial8" => ColType::Int(8),
            "real" | "float4" | "double precision" | "float8" | "float" | "double" => {
                ColType::Float
            }
            "numeric" | "decimal" => ColType::Numeric {
                precision: args.first().copied(),
                scale: args.get(1).copied().unwrap_or(0),
            },
            "boolean" | "bool" => ColType::Bool,
            "text" | "citext" | "name" | "bpchar" => ColType::Text { max_len: None },
            "varchar" | "character varying" | "char" | "character" | "nvarchar" => {
                ColType::Text {
                    max_len: args.first().map(|n| *n as usize).or(
                        // char without a length is char(1)
                        (base == "char" || base == "character").then_some(1),
                    ),
                }
            }
            "timestamp" | "timestamp without time zone" => ColType::Timestamp,
            "timestamptz" | "timestamp with time zone" => ColType::TimestampTz,
            "date" => ColType::Date,
            "uuid" => ColType::Uuid,
            "json" => ColType::Json,
            "jsonb" => ColType::Jsonb,
            "bytea" => ColType::Bytea,
            "int4range" | "int8range" => ColType::Range(RangeKind::Int),
            "numrange" => ColType::Range(RangeKind::Numeric),
            "daterange" => ColType::Range(RangeKind::Date),
            "tsrange" | "tstzrange" => ColType::Range(RangeKind::Timestamp),
            "int4multirange" | "int8multirange" => ColType::MultiRange(RangeKind::Int),
            "nummultirange" => ColType::MultiRange(RangeKind::Numeric),
            "datemultirange" => ColType::MultiRange(RangeKind::Date),
            "tsmultirange" | "tstzmultirange" => ColType::MultiRange(RangeKind::Timestamp),
            other if LiteralKind::from_name(other, args.first().copied()).is_some() => {
                ColType::Literal(
                    LiteralKind::from_name(other, args.first().copied()).expect("checked"),
                )
            }
            other => match enums.get(&normalize(other)) {
                Some(labels) => ColType::Enum(labels.clone()),
                None => ColType::Other(name.trim().to_owned()),
            },
        }
    }

    /// Whether values are integers.
    pub(super) fn is_int(&self) -> bool {
        matches!(self, ColType::Int(_))
    }

    /// Whether values are text (text, varchar, char).
    pub(super) fn is_text(&self) -> bool {
        matches!(self, ColType::Text { .. })
    }
}

/// Who fills a column when a row is inserted without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fill {
    /// Nobody: NULL.
    Nothing,
    /// A default expression.
    Default,
    /// A sequence (serial, identity): the seeder writes the row number and moves the sequence.
    Sequence,
    /// A generated (computed) column: never written.
    Computed,
}

/// One column.
#[derive(Debug, Clone)]
pub(super) struct ColumnShape {
    /// Name, as the catalog has it.
    pub name: String,
    /// Type class.
    pub ty: ColType,
    /// Type as SQL writes it, for messages.
    pub type_name: String,
    /// NOT NULL (primary-key columns are).
    pub not_null: bool,
    /// What fills it when the seeder does not.
    pub fill: Fill,
    /// Sole column of a unique index, unique constraint or primary key.
    pub unique: bool,
    /// Single-column foreign key: (referenced table, referenced column), table normalized.
    pub references: Option<(String, String)>,
    /// CHECK constraints on this column alone (its domain's and the table's).
    pub checks: Vec<Check>,
}

/// One table.
#[derive(Debug, Clone)]
pub(super) struct TableShape {
    /// Columns in order.
    pub columns: Vec<ColumnShape>,
    /// Primary keys and unique constraints or indexes over several columns.
    pub unique_sets: Vec<Vec<String>>,
    /// Foreign keys over several columns.
    pub composite_refs: Vec<CompositeRef>,
    /// The bounds of its partitions, when it is partitioned by a column.
    pub partitions: Option<Partitions>,
}

/// A foreign key over several columns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CompositeRef {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table (normalized).
    pub target: String,
    /// The referenced columns, in the same order.
    pub target_columns: Vec<String>,
}

/// How a table's rows are spread over its partitions: which values of the partition column
/// have a partition to go to.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Partitions {
    /// The partition column.
    pub column: String,
    /// `[from, to)` of each range partition (None: MINVALUE / MAXVALUE), as literals.
    pub ranges: Vec<(Option<String>, Option<String>)>,
    /// The values of list partitions.
    pub lists: Vec<String>,
    /// A default partition takes everything else.
    pub default: bool,
}

impl TableShape {
    /// A column by name.
    pub(super) fn column(&self, name: &str) -> Option<&ColumnShape> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut ColumnShape> {
        self.columns.iter_mut().find(|c| c.name == name)
    }
}

/// The tables of a schema, by normalized name.
#[derive(Debug, Clone, Default)]
pub(super) struct Shapes {
    /// Tables by [`normalize`]d name.
    pub tables: BTreeMap<String, TableShape>,
    /// Whether every statement was understood; when not, a table missing here may still exist.
    pub complete: bool,
    /// Composite types the schema creates (no generator makes them).
    pub composites: std::collections::BTreeSet<String>,
}

impl Shapes {
    /// A table by name as a scenario writes it.
    pub(super) fn table(&self, name: &str) -> Option<&TableShape> {
        self.tables.get(&normalize(name))
    }
}

/// A partition's bound, as `pg_get_expr(relpartbound)` writes it.
#[derive(Debug, PartialEq)]
pub(super) enum Bound {
    /// `DEFAULT`
    Default,
    /// `FROM (a) TO (b)`; `None` for MINVALUE / MAXVALUE.
    Range(Option<String>, Option<String>),
    /// `IN (a, b)`
    List(Vec<String>),
}

/// Reads a bound (`None` for hash partitions and what this reader does not follow).
pub(super) fn parse_bound(text: &str) -> Option<Bound> {
    let text = text.trim();
    if text == "DEFAULT" {
        return Some(Bound::Default);
    }
    if let Some(rest) = text.strip_prefix("FOR VALUES FROM (") {
        let (from, rest) = rest.split_once(") TO (")?;
        let to = rest.strip_suffix(')')?;
        let value = |v: &str| match v.trim() {
            "MINVALUE" | "MAXVALUE" => None,
            v => Some(unquote(v)),
        };
        return Some(Bound::Range(value(from), value(to)));
    }
    if let Some(rest) = text.strip_prefix("FOR VALUES IN (") {
        let list = rest.strip_suffix(')')?;
        return Some(Bound::List(
            split_literals(list)
                .into_iter()
                .filter(|v| v != "NULL")
                .collect(),
        ));
    }
    None
}

/// `'a'` → `a` (doubled quotes undone); other literals as written.
fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => v.to_owned(),
    }
}

/// `'a', 'b,c', 3` → `a`, `b,c`, `3`.
fn split_literals(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                current.push_str("''");
                chars.next();
            }
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(unquote(&std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(unquote(&current));
    }
    out
}

/// A table or type name as a map key: unquoted parts lowercased, quotes removed, `public.`
/// dropped (the schema the scenarios' tables live in by default).
pub(super) fn normalize(name: &str) -> String {
    let mut parts = Vec::new();
    let mut chars = name.trim().chars().peekable();
    let mut part = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(q) = chars.next() {
                    if q == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            part.push('"');
                        } else {
                            break;
                        }
                    } else {
                        part.push(q);
                    }
                }
            }
            '.' => parts.push(std::mem::take(&mut part)),
            c => part.push(c.to_ascii_lowercase()),
        }
    }
    parts.push(part);
    if parts.len() == 2 && parts[0] == "public" {
        parts.remove(0);
    }
    parts.join(".")
}

fn object_name(name: &ObjectName) -> String {
    let joined = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) if i.quote_style.is_some() => i.value.clone(),
            ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            ObjectNamePart::Function(f) => f.to_string(),
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    joined.strip_prefix("public.").unwrap_or(&joined).to_owned()
}

fn ident(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

/// Reads the tables a schema script creates, without a database. Statements the parser does
/// not understand are skipped (and make the result incomplete); the catalog check when seeding
/// covers them.
pub(super) fn from_sql(sql: &str) -> Shapes {
    let mut shapes = Shapes {
        complete: true,
        ..Shapes::default()
    };
    let mut enums = BTreeMap::new();
    let mut statements = Vec::new();
    let mut parents: BTreeMap<String, String> = BTreeMap::new();
    let mut domain_not_null = BTreeMap::new();
    for statement in crate::pg::split::split(sql) {
        // `CREATE DOMAIN d AS t NOT NULL CHECK (…)`: the parser takes no NOT NULL there.
        let mut text = statement.text.clone();
        if text.to_ascii_uppercase().starts_with("CREATE DOMAIN") && text.contains(" NOT NULL") {
            text = text.replacen(" NOT NULL", "", 1);
            if let Some(name) = text.split_whitespace().nth(2) {
                domain_not_null.insert(normalize(name), true);
            }
        }
        match Parser::parse_sql(&PostgreSqlDialect {}, &text) {
            Ok(parsed) => statements.extend(parsed),
            Err(_) => shapes.complete = false,
        }
    }
    // Domains: their base type, CHECKs and NOT NULL, applied to columns of that type below.
    let mut domains: BTreeMap<String, (String, Vec<Check>)> = BTreeMap::new();
    for statement in &statements {
        if let Statement::CreateDomain(domain) = statement {
            let name = object_name(&domain.name);
            let checks = domain
                .constraints
                .iter()
                .filter_map(|c| match c {
                    TableConstraint::Check(check) => Some(Check {
                        text: check.expr.to_string(),
                        subject: "VALUE".into(),
                        origin: format!("domain {name}"),
                    }),
                    _ => None,
                })
                .collect();
            domains.insert(name, (domain.data_type.to_string(), checks));
        }
    }
    for statement in &statements {
        if let Statement::CreateType {
            name,
            representation: Some(UserDefinedTypeRepresentation::Composite { .. }),
        } = statement
        {
            shapes.composites.insert(object_name(name));
        }
    }
    // Enum types first, wherever they are declared.
    for statement in &statements {
        if let Statement::CreateType {
            name,
            representation: Some(UserDefinedTypeRepresentation::Enum { labels }),
        } = statement
        {
            enums.insert(
                object_name(name),
                labels.iter().map(|l| l.value.clone()).collect(),
            );
        }
    }
    for statement in &statements {
        match statement {
            Statement::CreateTable(create) => {
                if let (Some(parent), Some(bound)) = (&create.partition_of, &create.for_values) {
                    let parent = object_name(parent);
                    parents.insert(object_name(&create.name), parent.clone());
                    if let Some(p) = shapes
                        .tables
                        .get_mut(&parent)
                        .and_then(|t| t.partitions.as_mut())
                    {
                        match parse_bound(&bound.to_string()) {
                            Some(Bound::Range(from, to)) => p.ranges.push((from, to)),
                            Some(Bound::List(values)) => p.lists.extend(values),
                            _ => p.default = true,
                        }
                    }
                }
                if create.like.is_some()
                    || create.clone.is_some()
                    || create.query.is_some()
                    || create.inherits.is_some()
                    || create.partition_of.is_some()
                {
                    // Columns come from elsewhere: leave the table to the catalog check.
                    shapes.complete = false;
                    continue;
                }
                let mut table = create_table(create, &enums);
                // `PARTITION BY RANGE(c)` / `LIST(c)` on one column: its partitions' bounds
                // are gathered as they are created.
                if let Some(by) = &create.partition_by {
                    let by = by.to_string();
                    let column = ["RANGE(", "LIST("]
                        .iter()
                        .find_map(|p| {
                            by.to_ascii_uppercase()
                                .starts_with(p)
                                .then(|| &by[p.len()..])
                        })
                        .and_then(|rest| rest.strip_suffix(')'))
                        .filter(|c| !c.contains(',') && !c.contains('('));
                    if let Some(column) = column {
                        table.partitions = Some(Partitions {
                            column: normalize(column),
                            ranges: Vec::new(),
                            lists: Vec::new(),
                            default: false,
                        });
                    }
                }
                shapes.tables.insert(object_name(&create.name), table);
            }
            Statement::CreateIndex(index) if index.unique => {
                let Some(table) = shapes.tables.get_mut(&object_name(&index.table_name)) else {
                    continue;
                };
                let plain: Option<Vec<String>> = index
                    .columns
                    .iter()
                    .map(|c| match &c.column.expr {
                        Expr::Identifier(i) => Some(ident(i)),
                        _ => None,
                    })
                    .collect();
                match (plain, index.columns.as_slice()) {
                    (Some(names), [_]) => {
                        if let Some(c) = table.column_mut(&names[0]) {
                            c.unique = true;
                        }
                    }
                    (Some(names), _) => table.unique_sets.push(names),
                    // `UNIQUE (lower(name))`: unique in the one column it reads.
                    (None, [only]) => {
                        let read = columns_in(table, &only.column.expr.to_string());
                        if let [name] = read.as_slice()
                            && let Some(c) = table.column_mut(name)
                        {
                            c.unique = true;
                        }
                    }
                    (None, _) => {}
                }
            }
            Statement::AlterTable(alter) => {
                use sqlparser::ast::AlterTableOperation as Op;
                let mut name = object_name(&alter.name);
                // A constraint on a partition counts as its table's (a foreign key on each
                // partition is a foreign key of the table).
                if let Some(parent) = parents.get(&name) {
                    name.clone_from(parent);
                }
                let Some(table) = shapes.tables.get_mut(&name) else {
                    continue;
                };
                let mut understood = true;
                for operation in &alter.operations {
                    match operation {
                        Op::AddConstraint { constraint, .. } => apply_constraint(table, constraint),
                        Op::AddColumn { column_def, .. } => {
                            let column = column_shape(column_def, &enums);
                            table.columns.push(column);
                        }
                        Op::RenameColumn { .. }
                        | Op::RenameTable { .. }
                        | Op::DropColumn { .. }
                        | Op::DropConstraint { .. }
                        | Op::AlterColumn { .. } => understood = false,
                        // Owners, triggers, row security, storage: nothing seeding sees.
                        _ => {}
                    }
                }
                if !understood {
                    // Renames, drops, type changes…: the catalog check sees the result.
                    shapes.tables.remove(&name);
                    shapes.complete = false;
                }
            }
            _ => {}
        }
    }
    for table in shapes.tables.values_mut() {
        for column in &mut table.columns {
            if let ColType::Other(name) = &column.ty
                && let Some((base, checks)) = domains.get(&normalize(name))
            {
                column.not_null |= domain_not_null.contains_key(&normalize(name));
                column.ty = ColType::from_name(base, &enums);
                column.checks.extend(checks.iter().cloned());
            }
        }
    }
    shapes
}

/// The columns of `table` whose names appear (as words) in `text`.
fn columns_in(table: &TableShape, text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(str::to_ascii_lowercase)
        .collect();
    table
        .columns
        .iter()
        .filter(|c| words.contains(&c.name.to_ascii_lowercase()))
        .map(|c| c.name.clone())
        .collect()
}

fn create_table(create: &CreateTable, enums: &BTreeMap<String, Vec<String>>) -> TableShape {
    let mut table = TableShape {
        columns: Vec::new(),
        unique_sets: Vec::new(),
        composite_refs: Vec::new(),
        partitions: None,
    };
    for column in &create.columns {
        table.columns.push(column_shape(column, enums));
    }
    for constraint in &create.constraints {
        apply_constraint(&mut table, constraint);
    }
    table
}

fn column_shape(
    column: &sqlparser::ast::ColumnDef,
    enums: &BTreeMap<String, Vec<String>>,
) -> ColumnShape {
    let type_name = column.data_type.to_string();
    let serial = type_name.to_ascii_lowercase().contains("serial");
    let mut shape = ColumnShape {
        name: ident(&column.name),
        ty: ColType::from_name(&type_name, enums),
        type_name,
        not_null: false,
        fill: if serial {
            Fill::Sequence
        } else {
            Fill::Nothing
        },
        unique: false,
        references: None,
        checks: Vec::new(),
    };
    for option in &column.options {
        match &option.option {
            ColumnOption::NotNull => shape.not_null = true,
            ColumnOption::Default(expr) => {
                shape.fill = if expr.to_string().to_ascii_lowercase().starts_with("nextval") {
                    Fill::Sequence
                } else {
                    Fill::Default
                }
            }
            ColumnOption::PrimaryKey(_) => {
                shape.not_null = true;
                shape.unique = true;
            }
            ColumnOption::Unique(_) => shape.unique = true,
            ColumnOption::ForeignKey(fk) => {
                shape.references = Some((
                    object_name(&fk.foreign_table),
                    fk.referred_columns
                        .first()
                        .map_or_else(|| "id".into(), ident),
                ));
            }
            ColumnOption::Generated {
                generation_expr, ..
            } => {
                shape.fill = if generation_expr.is_some() {
                    Fill::Computed
                } else {
                    Fill::Sequence
                };
            }
            ColumnOption::Identity(_) => shape.fill = Fill::Sequence,
            ColumnOption::Check(check) => shape.checks.push(Check {
                text: check.expr.to_string(),
                subject: shape.name.clone(),
                origin: format!("a CHECK on {}", shape.name),
            }),
            _ => {}
        }
    }
    shape
}

fn apply_constraint(table: &mut TableShape, constraint: &TableConstraint) {
    let single = |columns: &[sqlparser::ast::IndexColumn]| match columns {
        [only] => match &only.column.expr {
            Expr::Identifier(i) => Some(ident(i)),
            _ => None,
        },
        _ => None,
    };
    let names = |columns: &[sqlparser::ast::IndexColumn]| -> Option<Vec<String>> {
        columns
            .iter()
            .map(|c| match &c.column.expr {
                Expr::Identifier(i) => Some(ident(i)),
                _ => None,
            })
            .collect()
    };
    match constraint {
        TableConstraint::PrimaryKey(pk) if pk.columns.len() > 1 => {
            for c in &pk.columns {
                if let Expr::Identifier(i) = &c.column.expr
                    && let Some(column) = table.column_mut(&ident(i))
                {
                    column.not_null = true;
                }
            }
            if let Some(set) = names(&pk.columns) {
                table.unique_sets.push(set);
            }
        }
        TableConstraint::Unique(u) if u.columns.len() > 1 => {
            if let Some(set) = names(&u.columns) {
                table.unique_sets.push(set);
            }
        }
        TableConstraint::ForeignKey(fk) if fk.columns.len() > 1 => {
            table.composite_refs.push(CompositeRef {
                columns: fk.columns.iter().map(ident).collect(),
                target: object_name(&fk.foreign_table),
                target_columns: fk.referred_columns.iter().map(ident).collect(),
            });
        }
        TableConstraint::Check(check) => {
            let text = check.expr.to_string();
            if let [name] = columns_in(table, &text).as_slice()
                && let Some(column) = table.column_mut(name)
            {
                column.checks.push(Check {
                    text,
                    subject: name.clone(),
                    origin: check.name.as_ref().map_or_else(
                        || format!("a CHECK on {name}"),
                        |n| format!("constraint {n}"),
                    ),
                });
            }
        }
        TableConstraint::PrimaryKey(pk) => {
            for c in &pk.columns {
                if let Expr::Identifier(i) = &c.column.expr
                    && let Some(column) = table.column_mut(&ident(i))
                {
                    column.not_null = true;
                }
            }
            if let Some(name) = single(&pk.columns)
                && let Some(column) = table.column_mut(&name)
            {
                column.unique = true;
            }
        }
        TableConstraint::Unique(u) => {
            if let Some(name) = single(&u.columns)
                && let Some(column) = table.column_mut(&name)
            {
                column.unique = true;
            }
        }
        TableConstraint::ForeignKey(fk) if fk.columns.len() == 1 => {
            let target = (
                object_name(&fk.foreign_table),
                fk.referred_columns
                    .first()
                    .map_or_else(|| "id".into(), ident),
            );
            if let Some(column) = table.column_mut(&ident(&fk.columns[0])) {
                column.references = Some(target);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tables_types_and_constraints() {
        let shapes = from_sql(
            "CREATE TYPE mood AS ENUM ('happy', 'sad');
             CREATE TABLE public.users (
               id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               email varchar(120) NOT NULL,
               m mood,
               total numeric(10, 2),
               born date DEFAULT now(),
               n bigserial,
               g int GENERATED ALWAYS AS (1) STORED);
             CREATE UNIQUE INDEX ON users (email);
             CREATE TABLE \"Orders\" (uid bigint, FOREIGN KEY (uid) REFERENCES users (id));
             ALTER TABLE users ADD COLUMN late text NOT NULL;
             CREATE TABLE copied (LIKE users);
             CREATE TABLE renamed (a int); ALTER TABLE renamed RENAME COLUMN a TO b;
             SELECT some_function_the_parser_does_not_know(((;",
        );
        assert!(!shapes.complete);
        let users = shapes.table("users").unwrap();
        let id = users.column("id").unwrap();
        assert_eq!(
            (id.fill, id.unique, id.not_null),
            (Fill::Sequence, true, true)
        );
        let email = users.column("email").unwrap();
        assert_eq!(email.ty, ColType::Text { max_len: Some(120) });
        assert!(email.unique && email.not_null);
        assert_eq!(
            users.column("m").unwrap().ty,
            ColType::Enum(vec!["happy".into(), "sad".into()])
        );
        assert_eq!(
            users.column("total").unwrap().ty,
            ColType::Numeric {
                precision: Some(10),
                scale: 2
            }
        );
        assert_eq!(users.column("born").unwrap().fill, Fill::Default);
        assert_eq!(users.column("n").unwrap().fill, Fill::Sequence);
        assert_eq!(users.column("g").unwrap().fill, Fill::Computed);
        let orders = shapes.table("\"Orders\"").unwrap();
        assert_eq!(
            orders.column("uid").unwrap().references,
            Some(("users".into(), "id".into()))
        );
        assert!(shapes.table("orders").is_none());
        assert!(users.column("late").unwrap().not_null);
        // Columns from elsewhere or changed later: left to the catalog check.
        assert!(shapes.table("copied").is_none() && shapes.table("renamed").is_none());
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("Public.Users"), "users");
        assert_eq!(normalize("\"Mixed\".t"), "Mixed.t");
        assert_eq!(normalize("app.\"a\"\"b\""), "app.a\"b");
    }
}
