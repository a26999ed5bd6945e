//! Property tests of the parsers that read what users and servers write: the scenario file, the
//! SQL splitter, the server log and migration folders. Each gets text mutated from real inputs
//! (the shipped scenarios, the recorded server logs) and arbitrary text, and must answer, never
//! panic. Bounded: 256 cases each by default, `PROPTEST_CASES=100000` for a longer search.

use std::path::Path;

use proptest::prelude::*;

use crate::scenario::{Overrides, Plan};

/// The shipped scenarios, the bench scenarios and a fixture: real text to mutate.
fn scenario_texts() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["scenarios", "bench", "tests/fixtures/scenarios"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

/// The recorded server logs of every major.
fn log_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serverlog");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

/// One edit of a text.
#[derive(Debug, Clone)]
enum Edit {
    /// Removes `len` bytes at a position (a fraction of the length).
    Delete(f64, usize),
    /// Inserts text at a position.
    Insert(f64, String),
    /// Repeats the line at a position.
    DuplicateLine(f64),
    /// Replaces the number at a position with another.
    Number(f64, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let pos = 0.0..1.0f64;
    let snippet = prop_oneof![
        "[ \\[\\]{}=,\"'\\n#.$;:a-z0-9_-]{0,12}",
        Just("\u{0}".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("[[strategy]]\n".to_owned()),
        Just("[traffic]\n".to_owned()),
        Just("$$".to_owned()),
        Just("/*".to_owned()),
        Just("'".to_owned()),
        Just("é€😀".to_owned()),
    ];
    let number = prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1e308".to_owned()),
        Just("nan".to_owned()),
        Just("inf".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("0.0000001".to_owned()),
        Just("\"1ns\"".to_owned()),
        Just("\"99999999999999d\"".to_owned()),
    ];
    prop_oneof![
        (pos.clone(), 1..40usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        (pos.clone(), snippet).prop_map(|(p, s)| Edit::Insert(p, s)),
        pos.clone().prop_map(Edit::DuplicateLine),
        (pos, number).prop_map(|(p, n)| Edit::Number(p, n)),
    ]
}

/// The char boundary at or before `fraction` of `text`.
fn at(text: &str, fraction: f64) -> usize {
    let mut i = ((text.len() as f64) * fraction) as usize;
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i.min(text.len())
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_owned();
    for e in edits {
        match e {
            Edit::Delete(p, n) => {
                let a = at(&text, *p);
                let b = at(&text, ((a + n) as f64 / text.len().max(1) as f64).min(1.0));
                if a < b {
                    text.replace_range(a..b, "");
                }
            }
            Edit::Insert(p, s) => {
                let a = at(&text, *p);
                text.insert_str(a, s);
            }
            Edit::DuplicateLine(p) => {
                let a = at(&text, *p);
                let start = text[..a].rfind('\n').map_or(0, |i| i + 1);
                let end = text[a..].find('\n').map_or(text.len(), |i| a + i + 1);
                let line = text[start..end].to_owned();
                text.insert_str(end, &line);
            }
            Edit::Number(p, number) => {
                let from = at(&text, *p);
                if let Some(off) = text[from..].find(|c: char| c.is_ascii_digit()) {
                    let start = from + off;
                    let end = text[start..]
                        .find(|c: char| !c.is_ascii_digit() && c != '_' && c != '.')
                        .map_or(text.len(), |i| start + i);
                    text.replace_range(start..end, number);
                }
            }
        }
    }
    text
}

fn load(dir: &Path, text: &str) -> Result<Plan, crate::scenario::ScenarioError> {
    let path = dir.join("fuzz.toml");
    std::fs::write(&path, text).unwrap();
    Plan::load(&path, &Overrides::default(), crate::seed::check)
}

proptest! {
    #[test]
    fn mutated_scenarios_load_or_say_why(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let texts = scenario_texts();
        let text = apply(pick.get::<String>(&texts), &edits);
        // Beside the shipped scenarios, so the files they name are found.
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        std::os::unix::fs::symlink(root.join("shop"), dir.path().join("shop")).unwrap();
        if let Err(e) = load(dir.path(), &text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn arbitrary_text_is_not_a_scenario_and_says_why(text in "\\PC{0,400}") {
        let dir = tempfile::tempdir().unwrap();
        let _ = load(dir.path(), &text);
    }

    #[test]
    fn the_splitter_returns_statements_from_the_text(
        sql in prop_oneof![
            "[a-zA-Z0-9 ;'\"$\\-*/\\n\\\\()E_]{0,300}",
            "\\PC{0,300}",
        ],
    ) {
        let lines = sql.lines().count().max(1);
        for statement in crate::pg::split::split(&sql) {
            prop_assert!(!statement.text.is_empty());
            prop_assert!(statement.line >= 1 && statement.line <= lines + 1);
            let _ = crate::pg::split::needs_autocommit(&statement.text);
            let _ = crate::pg::split::strip_comments(&statement.text);
        }
    }

    #[test]
    fn mutated_server_logs_parse(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let logs = log_texts();
        let log = apply(pick.get::<String>(&logs), &edits);
        for wait in crate::observe::serverlog::parse(&log) {
            prop_assert!(wait.waited_s.is_finite() && wait.waited_s >= 0.0, "{wait:?}");
        }
    }

    #[test]
    fn arbitrary_server_logs_parse(log in "\\PC{0,600}") {
        let _ = crate::observe::serverlog::parse(&log);
    }

    #[test]
    fn migration_folders_read_or_say_why(
        files in prop::collection::vec(
            (
                prop_oneof![
                    "[0-9]{1,3}_[a-z]{1,4}\\.(up|down)\\.sql",
                    "[0-9]{1,3}_[a-z]{1,4}\\.sql",
                    "V[0-9]{1,2}(\\.[0-9])?__[a-z]{1,4}\\.sql",
                    "20[0-9]{2}-0[1-9]-[0-2][0-9]-[0-9]{6}_[a-z]{1,4}/(up|down)\\.sql",
                    "20[0-9]{2}-0[1-9]-[0-2][0-9]-[0-9]{6}_[a-z]{1,4}/metadata\\.toml",
                    "[0-9]{14}_[a-z]{1,4}\\.sql",
                    "\\PC{1,8}",
                ],
                prop_oneof![
                    Just(String::new()),
                    Just("-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n".to_owned()),
                    Just("-- migrate:up transaction:false\n".to_owned()),
                    Just("run_in_transaction = false\n".to_owned()),
                    Just("run_in_transaction = [\n".to_owned()),
                    "\\PC{0,40}",
                ],
            ),
            0..8,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in &files {
            if name.contains("..") || name.starts_with('/') || name.contains('\0') {
                continue;
            }
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&path, text);
        }
        match crate::scenario::migrations::read(dir.path()) {
            Ok((_, migrations)) => {
                for pair in migrations.windows(2) {
                    prop_assert!(pair[0].version < pair[1].version, "{:?}", files);
                }
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}
