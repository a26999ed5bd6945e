//! Migration directories in the layouts people use, each file (or folder) becoming a step named
//! after it, in version order:
//!
//! | layout | files |
//! | --- | --- |
//! | diesel | `VERSION_name/up.sql` and `down.sql` folders (VERSION a timestamp such as `2017-08-31-230457`; `metadata.toml` may say `run_in_transaction = false`) |
//! | dbmate | `VERSION_name.sql` with `-- migrate:up` / `-- migrate:down` sections |
//! | flyway (and refinery) | `V1__name.sql`, `V1.1__name.sql`; undo: `U1__name.sql` |
//! | golang-migrate, sqlx (reversible) | `VERSION_name.up.sql`, `VERSION_name.down.sql` |
//! | numbered, sqlx (simple) | `VERSION_name.sql` |
//!
//! Versions must be unique; small sequential versions (below 10,000) must have no gaps.

use std::collections::BTreeMap;
use std::path::Path;

/// One migration of a directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Its version, as numbers (`1.1` → `[1, 1]`).
    pub version: Vec<u64>,
    /// Step name: the file or folder name without extension.
    pub name: String,
    /// The up SQL and where it came from.
    pub up: (String, String),
    /// The down SQL, when the layout has one.
    pub down: Option<(String, String)>,
    /// dbmate's `transaction:false`.
    pub no_transaction: bool,
}

/// Reads a migration directory; `Err` says what is wrong (unknown layout, duplicate version,
/// gap, unreadable file).
pub fn read(dir: &Path) -> Result<(String, Vec<Migration>), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<(String, bool)> = entries
        .flatten()
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    names.sort();
    let read_file = |rel: &str| {
        let path = dir.join(rel);
        std::fs::read_to_string(&path)
            .map(|sql| (rel.to_owned(), sql))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };

    let folders: Vec<&String> = names
        .iter()
        .filter(|(n, d)| *d && dir.join(n).join("up.sql").is_file())
        .map(|(n, _)| n)
        .collect();
    let sql: Vec<&String> = names
        .iter()
        .filter(|(n, d)| {
            !d && Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
        })
        .map(|(n, _)| n)
        .collect();

    let mut found = Vec::new();
    let layout;
    if !folders.is_empty() {
        // Diesel's rules: only folders count (a README or stray file beside them is ignored),
        // the version is everything before the first `_` (a timestamp, dashes and all), and
        // migrations run in the order of their folder names.
        layout = "diesel";
        for folder in folders {
            let version = diesel_version(folder).ok_or_else(|| {
                format!("diesel migration folder `{folder}` has no version prefix")
            })?;
            let up = read_file(&format!("{folder}/up.sql"))?;
            let down_path = format!("{folder}/down.sql");
            let down = dir
                .join(&down_path)
                .is_file()
                .then(|| read_file(&down_path))
                .transpose()?;
            let metadata = dir.join(folder).join("metadata.toml");
            let no_transaction = metadata.is_file()
                && std::fs::read_to_string(&metadata)
                    .ok()
                    .and_then(|t| t.parse::<toml::Table>().ok())
                    .and_then(|t| t.get("run_in_transaction").and_then(toml::Value::as_bool))
                    == Some(false);
            found.push(Migration {
                version,
                name: folder.clone(),
                up,
                down,
                no_transaction,
            });
        }
        // The folder names' order is diesel's; versions only have to be unique.
        found.sort_by(|a, b| a.name.cmp(&b.name));
        check_unique(&found)?;
        return Ok((layout.to_owned(), found));
    } else if sql.is_empty() {
        return Err(format!(
            "no migrations in {}: expected .sql files or diesel folders (VERSION_name/up.sql)",
            dir.display()
        ));
    } else if sql.iter().any(|n| flyway(n).is_some()) {
        layout = "flyway";
        let mut undo: BTreeMap<Vec<u64>, (String, String)> = BTreeMap::new();
        for n in &sql {
            match flyway(n) {
                Some(('V', version, name)) => found.push(Migration {
                    version,
                    name: name.to_owned(),
                    up: read_file(n)?,
                    down: None,
                    no_transaction: false,
                }),
                Some(('U', version, _)) => {
                    undo.insert(version, read_file(n)?);
                }
                _ => return Err(format!("`{n}` does not follow Flyway's V1__name.sql")),
            }
        }
        for m in &mut found {
            m.down = undo.remove(&m.version);
        }
    } else if sql
        .iter()
        .any(|n| n.ends_with(".up.sql") || n.ends_with(".down.sql"))
    {
        layout = "up/down (golang-migrate, sqlx)";
        let mut downs: BTreeMap<Vec<u64>, (String, String)> = BTreeMap::new();
        for n in &sql {
            let version =
                leading_version(n).ok_or_else(|| format!("`{n}` has no version prefix"))?;
            if let Some(stem) = n.strip_suffix(".up.sql") {
                found.push(Migration {
                    version,
                    name: stem.to_owned(),
                    up: read_file(n)?,
                    down: None,
                    no_transaction: false,
                });
            } else if n.ends_with(".down.sql") {
                downs.insert(version, read_file(n)?);
            } else {
                return Err(format!("`{n}` is neither .up.sql nor .down.sql"));
            }
        }
        for m in &mut found {
            m.down = downs.remove(&m.version);
        }
    } else {
        let dbmate = sql
            .iter()
            .any(|n| read_file(n).is_ok_and(|(_, s)| s.contains("-- migrate:up")));
        layout = if dbmate { "dbmate" } else { "numbered" };
        for n in &sql {
            let version = leading_version(n).ok_or_else(|| {
                format!("`{n}` has no version prefix (expected e.g. 001_name.sql)")
            })?;
            let (origin, text) = read_file(n)?;
            let stem = n.trim_end_matches(".sql").to_owned();
            let m = if dbmate {
                let (up, down, no_transaction) = dbmate_sections(&text)
                    .ok_or_else(|| format!("`{n}` has no `-- migrate:up` section"))?;
                Migration {
                    version,
                    name: stem,
                    up: (origin.clone(), up),
                    down: down.map(|d| (origin, d)),
                    no_transaction,
                }
            } else {
                Migration {
                    version,
                    name: stem,
                    up: (origin, text),
                    down: None,
                    no_transaction: false,
                }
            };
            found.push(m);
        }
    }
    found.sort_by(|a, b| a.version.cmp(&b.version));
    check_unique(&found)?;
    let simple: Vec<u64> = found
        .iter()
        .filter(|m| m.version.len() == 1)
        .map(|m| m.version[0])
        .collect();
    if simple.len() == found.len() && simple.iter().all(|v| *v < 10_000) {
        for pair in simple.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(format!(
                    "gap in versions: {} is followed by {} (missing {})",
                    pair[0],
                    pair[1],
                    pair[0] + 1
                ));
            }
        }
    }
    Ok((layout.to_owned(), found))
}

/// Refuses two migrations of one version, naming both.
fn check_unique(found: &[Migration]) -> Result<(), String> {
    let mut sorted: Vec<&Migration> = found.iter().collect();
    sorted.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in sorted.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(format!(
                "duplicate version {} ({} and {})",
                show(&pair[0].version),
                pair[0].name,
                pair[1].name
            ));
        }
    }
    Ok(())
}

/// A diesel folder's version: what comes before the first `_`, digits of a timestamp such as
/// `2017-08-31-230457` (dashes dropped, as diesel records it) or a plain number.
fn diesel_version(folder: &str) -> Option<Vec<u64>> {
    let head = folder.split_once('_').map_or(folder, |(v, _)| v);
    let digits: String = head.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || !head.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return None;
    }
    // A 14-digit timestamp fits in a u64; longer ones are split so none overflows.
    let parts = digits
        .as_bytes()
        .chunks(18)
        .map(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    Some(parts)
}

fn show(version: &[u64]) -> String {
    version
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `20230101120000_name…` or `001-name…` → its leading number.
fn leading_version(name: &str) -> Option<Vec<u64>> {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().map(|v| vec![v])
}

/// `V1.2__name.sql` → ('V', [1, 2], "V1.2__name").
fn flyway(name: &str) -> Option<(char, Vec<u64>, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let kind = stem.chars().next().filter(|c| matches!(c, 'V' | 'U'))?;
    let (version, _) = stem[1..].split_once("__")?;
    let parts: Option<Vec<u64>> = version.split(['.', '_']).map(|p| p.parse().ok()).collect();
    Some((kind, parts?, stem))
}

/// dbmate sections: (up, down, transaction:false).
fn dbmate_sections(text: &str) -> Option<(String, Option<String>, bool)> {
    let up_at = text.find("-- migrate:up")?;
    let after_up = &text[up_at..];
    let header_end = after_up.find('\n').unwrap_or(after_up.len());
    let no_transaction = after_up[..header_end].contains("transaction:false");
    let body = &after_up[header_end..];
    match body.find("-- migrate:down") {
        Some(d) => {
            let down = &body[d..];
            let down_body = down.find('\n').map_or("", |n| &down[n..]);
            Some((
                body[..d].to_owned(),
                Some(down_body.to_owned()),
                no_transaction,
            ))
        }
        None => Some((body.to_owned(), None, no_transaction)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = d.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        d
    }

    fn names(d: &tempfile::TempDir) -> (String, Vec<String>, Vec<bool>) {
        let (layout, found) = read(d.path()).unwrap();
        (
            layout,
            found.iter().map(|m| m.name.clone()).collect(),
            found.iter().map(|m| m.down.is_some()).collect(),
        )
    }

    #[test]
    fn layouts_are_recognised() {
        let d = dir(&[("002_b.sql", "SELECT 2"), ("001_a.sql", "SELECT 1")]);
        assert_eq!(
            names(&d),
            (
                "numbered".into(),
                vec!["001_a".into(), "002_b".into()],
                vec![false, false]
            )
        );
        let d = dir(&[
            ("V1__init.sql", "x"),
            ("V2__add.sql", "y"),
            ("U2__add.sql", "z"),
        ]);
        assert_eq!(
            names(&d),
            (
                "flyway".into(),
                vec!["V1__init".into(), "V2__add".into()],
                vec![false, true]
            )
        );
        let d = dir(&[
            ("1_a.up.sql", "x"),
            ("1_a.down.sql", "y"),
            ("2_b.up.sql", "z"),
        ]);
        assert_eq!(names(&d).1, ["1_a", "2_b"]);
        assert_eq!(names(&d).2, [true, false]);
        let d = dir(&[
            ("2023_a/up.sql", "x"),
            ("2023_a/down.sql", "y"),
            ("2024_b/up.sql", "z"),
        ]);
        assert_eq!(names(&d).0, "diesel");
        let d = dir(&[(
            "20240101_a.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- migrate:down\nDROP INDEX i;\n",
        )]);
        let (layout, found) = read(d.path()).unwrap();
        assert_eq!(layout, "dbmate");
        assert!(found[0].no_transaction);
        assert!(found[0].up.1.contains("CREATE INDEX") && !found[0].up.1.contains("DROP"));
        assert!(found[0].down.as_ref().unwrap().1.contains("DROP INDEX"));
    }

    #[test]
    fn gaps_duplicates_and_strangers_are_refused() {
        let d = dir(&[("001_a.sql", "x"), ("003_c.sql", "y")]);
        assert!(read(d.path()).unwrap_err().contains("missing 2"));
        let d = dir(&[("001_a.sql", "x"), ("001_b.sql", "y")]);
        assert!(read(d.path()).unwrap_err().contains("duplicate version 1"));
        let d = dir(&[("readme.sql", "x")]);
        assert!(read(d.path()).unwrap_err().contains("no version prefix"));
        let d = dir(&[("notes.txt", "x")]);
        assert!(read(d.path()).unwrap_err().contains("no migrations"));
    }
}
