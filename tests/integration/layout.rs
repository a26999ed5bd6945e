//! The crate's layout: each top-level module's imports point down only (no two modules import
//! each other, directly or through others), read from the `crate::` paths in the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code names (`crate::x`), comments excluded.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut files = Vec::new();
        collect(&path, &mut files);
        let deps = graph.entry(name.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Code only: comments dropped line by line; `use crate::{a::X, b}` groups opened.
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let heads: Vec<String> = match rest.strip_prefix('{') {
                    Some(group) => {
                        let group = &group[..group.find('}').unwrap_or(group.len())];
                        group.split(',').map(|item| head(item.trim())).collect()
                    }
                    None => vec![head(rest)],
                };
                for module in heads {
                    if !module.is_empty() && module != name && module != "self" {
                        deps.insert(module);
                    }
                }
            }
        }
    }
    graph
}

/// The first path segment of `path`.
fn head(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn collect(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            collect(&entry.path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_owned());
    }
}

/// Depth-first search; a module reached again while on the path closes a cycle.
fn visit(
    m: &str,
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) {
    if done.contains(m) {
        return;
    }
    if let Some(at) = path.iter().position(|p| p == m) {
        let mut cycle = path[at..].to_vec();
        cycle.push(m.to_owned());
        panic!("import cycle: {}", cycle.join(" → "));
    }
    path.push(m.to_owned());
    for dep in graph.get(m).into_iter().flatten() {
        visit(dep, graph, path, done);
    }
    path.pop();
    done.insert(m.to_owned());
}

#[test]
fn imports_between_top_level_modules_form_no_cycle() {
    let graph = imports();
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The foundations import no part above them.
    for base in ["clock", "pg"] {
        assert!(graph[base].is_empty(), "{base} imports {:?}", graph[base]);
    }
    assert_eq!(graph["values"], BTreeSet::from(["pg".to_owned()]));
}
