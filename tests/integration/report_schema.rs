//! The committed JSON Schema of report.json is the one the code generates.

use std::process::Command;

#[test]
fn committed_schema_matches_the_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .arg("report-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(
        generated == committed,
        "schemas/report.schema.json is stale: run `cargo run -- report-schema > schemas/report.schema.json`"
    );
}

#[test]
fn reports_of_another_version_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let render = || {
        let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .arg("render")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
    let err = render();
    assert!(err.contains("schema_version 99"), "{err}");
    std::fs::write(&path, r#"{"schema_version": 1, "tool": "#).unwrap();
    let err = render();
    assert!(err.contains("failed to parse report"), "{err}");
}
