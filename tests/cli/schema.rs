//! Every JSON record every tool writes, in the modes that add fields, is checked against the schema
//! written once in `cli::schema` (and generated into mmtools-json(7)): a field the page does not list
//! fails the test, and every summary carries the schema's version.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use mmtools::cli::schema;
use serde_json::Value;

use crate::util::{bin, noise, write};

/// Checks each JSON line of `stdout` as written by `tool`; returns the record types seen.
fn conforms(tool: &str, args: &[&str], stdout: &[u8], wrong: &mut BTreeSet<String>) -> Vec<String> {
    let mut kinds = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{tool} {args:?}: not JSON ({e}): {line}"));
        let object = value.as_object().expect("an object");
        let kind = object["type"].as_str().expect("a type").to_string();
        assert_eq!(
            object.keys().next().map(String::as_str),
            Some("type"),
            "{line}"
        );
        for key in object.keys() {
            if !schema::allows(tool, &kind, key) {
                wrong.insert(format!("{tool} {kind}.{key} ({args:?})"));
            }
        }
        if kind == "summary" {
            assert_eq!(object["schema"], schema::VERSION, "{tool} {args:?}: {line}");
        }
        kinds.push(kind);
    }
    kinds
}

fn run(tool: &str, dir: &Path, args: &[&str], wrong: &mut BTreeSet<String>) -> Vec<String> {
    let out = bin(tool).current_dir(dir).args(args).output().unwrap();
    conforms(tool, args, &out.stdout, wrong)
}

#[test]
fn every_field_written_is_in_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a", &noise(200_000, 5));
    write(d, "b", b"one two\nthree\n");
    write(d, "bad\u{1}name", b"x\n");
    std::fs::create_dir(d.join("tree")).unwrap();
    write(&d.join("tree"), "c", &noise(50_000, 6));
    std::os::unix::fs::symlink("a", d.join("tree/link")).unwrap();
    write(d, "counter", b"0000000041\n");
    std::fs::create_dir(d.join("out")).unwrap();
    crate::util::mkfifo(&d.join("tree/fifo"));
    write(d, "garbage", b"not a counter\n");
    // A directory whose name is not UTF-8, for the "group" records' path_bytes and group_bytes.
    let bad_dir = d.join(std::ffi::OsStr::from_bytes(b"dir\xff"));
    std::fs::create_dir(&bad_dir).unwrap();
    write(&bad_dir, "f", b"in a directory named in bytes\n");
    let mut wrong = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut note = |tool: &str, kinds: Vec<String>| {
        for k in kinds {
            seen.insert(format!("{tool} {k}"));
        }
    };

    let k = run(
        "mmcount",
        d,
        &["--json", "-lwsbWmcL", "-B", "a", "a", "b", "missing"],
        &mut wrong,
    );
    note("mmcount", k);
    let k = run(
        "mmcp",
        d,
        &["--json", "-r", "a", "tree", "missing", "out"],
        &mut wrong,
    );
    note("mmcp", k);
    let k = run(
        "mmcp",
        d,
        &["--json", "--backup=numbered", "b", "out/a"],
        &mut wrong,
    );
    note("mmcp", k);
    for args in [
        &["--json", "counter"][..],
        &["--json", "--get", "counter"],
        &["--json", "garbage"],
    ] {
        let k = run("mmcounter", d, args, &mut wrong);
        note("mmcounter", k);
    }
    for args in [
        &["--json", "a", "tree", "missing"][..],
        &["--json", "--ranges", "--range", "0:64K", "a"],
        &["--json", "--map", "a"],
        &["--json", "--check", "1", "a"],
        &["--json", "--watch", "0.01", "--count", "2", "a"],
        &["--json", "--sort", "res", "a", "b"],
        &["--json", "--group-by", "dir:1", "--top", "1", ".", "b"],
        &[
            "--json",
            "--group-by",
            "dir",
            "--watch",
            "0.01",
            "--count",
            "2",
            ".",
        ],
    ] {
        let k = run("mmstat", d, args, &mut wrong);
        note("mmstat", k);
    }
    let save = d.join("snap");
    let out = bin("mmstat")
        .current_dir(d)
        .args(["--fingerprint", "--save"])
        .arg(&save)
        .args(["a", "b"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let k = conforms(
        "snapshot",
        &["--save"],
        &std::fs::read(&save).unwrap(),
        &mut wrong,
    );
    note("snapshot", k);
    for args in [
        &["willneed", "--json", "--wait", "a", "tree", "missing"][..],
        &["touch", "--json", "a", "b"],
        &["evict", "--json", "a"],
        &["advise", "--json", "cold", "a"],
        &["advise", "--json", "pageout", "a"],
        &["restore", "--json", "snap"],
    ] {
        let k = run("mmadvise", d, args, &mut wrong);
        note("mmadvise", k);
    }
    assert!(
        wrong.is_empty(),
        "fields missing from the schema: {wrong:#?}"
    );
    for expected in [
        "mmcount file",
        "mmcount error",
        "mmcount summary",
        "mmcp file",
        "mmcp error",
        "mmcp summary",
        "mmcounter counter",
        "mmcounter error",
        "mmstat file",
        "mmstat group",
        "mmstat skipped",
        "mmstat error",
        "mmstat summary",
        "snapshot snapshot",
        "snapshot file",
        "mmadvise file",
        "mmadvise error",
        "mmadvise summary",
    ] {
        assert!(seen.contains(expected), "never saw {expected}: {seen:?}");
    }
}
