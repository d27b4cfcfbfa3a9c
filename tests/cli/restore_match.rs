//! `mmadvise restore` somewhere else: `--map-prefix` onto a copy made with `cp -a`, `--match size-mtime`
//! and `--match fingerprint` (with a file changed after the copy, its modification time put back with
//! `touch -d`), and snapshots of the previous format, written here from the files' real metadata.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::{bin, disk_dir, noise, page, reclaimed_pages, sh, skip, stderr, stdout};

const MIB: u64 = 1 << 20;

/// Bytes of `path` in the page cache, as util-linux fincore counts them.
fn resident(path: &Path) -> u64 {
    let out = sh(&format!(
        "fincore --bytes --noheadings --output RES '{}'",
        path.display()
    ));
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("fincore said '{out}'"))
}

/// Bytes loaded: resident now, plus what reclaim took back since.
fn loaded(path: &Path) -> u64 {
    let pages = std::fs::metadata(path)
        .unwrap()
        .len()
        .div_ceil(page() as u64);
    resident(path) + reclaimed_pages(path, pages) * page() as u64
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(tool: &str, args: &[&str]) -> std::process::Output {
    let out = bin(tool).args(args).output().unwrap();
    assert!(out.status.success(), "{tool} {args:?}: {}", stderr(&out));
    out
}

fn cold(paths: &[&Path]) {
    let mut args = vec!["evict", "--sync"];
    args.extend(paths.iter().map(|x| p(x)));
    run("mmadvise", &args);
    for path in paths {
        assert_eq!(resident(path), 0, "{} still cached", path.display());
    }
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A tree of two files, partly cached: `a` 16 MiB (its first 4 MiB and 8..10 MiB cached), `sub/b`
/// 8 MiB (2..5 MiB cached).
fn partly_cached_tree(root: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let a = root.join("a");
    let b = root.join("sub/b");
    std::fs::write(&a, noise(16 * MIB as usize, 1)).unwrap();
    std::fs::write(&b, noise(8 * MIB as usize, 2)).unwrap();
    cold(&[&a, &b]);
    run("mmadvise", &["touch", "--range", "0:4M", p(&a)]);
    run("mmadvise", &["touch", "--range", "8M..10M", p(&a)]);
    run("mmadvise", &["touch", "--range", "2M:3M", p(&b)]);
    (a, b)
}

fn within_2_percent(got: u64, want: u64, what: &str) {
    assert!(
        got.abs_diff(want) * 50 <= want,
        "{what}: {got} bytes loaded, {want} were cached when saved"
    );
}

#[test]
fn a_copy_elsewhere_is_restored_by_size_and_mtime_and_a_changed_one_refused_by_fingerprint() {
    let Some(dir) = disk_dir() else {
        skip("no temporary directory on a disk (tmpfs pages cannot be evicted)");
        return;
    };
    let src = dir.path().join("orig");
    let (a, b) = partly_cached_tree(&src);
    let (want_a, want_b) = (resident(&a), resident(&b));
    assert!(want_a >= 6 * MIB && want_b >= 3 * MIB, "{want_a} {want_b}");
    let snap = dir.path().join("snap");
    run("mmstat", &["--save", p(&snap), "--fingerprint", p(&src)]);
    let saved = std::fs::read_to_string(&snap).unwrap();
    assert!(saved.starts_with(r#"{"type":"snapshot","format":"mmtools-residency","version":2,"#));
    for line in saved.lines().skip(1) {
        let record: Value = serde_json::from_str(line).unwrap();
        let fp = record["fingerprint"].as_str().unwrap_or_default();
        assert!(
            fp.len() == 16 && fp.bytes().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }

    // A copy that keeps times, in another directory; the originals and the copy start cold.
    let dst = dir.path().join("copy");
    sh(&format!("cp -a '{}' '{}'", src.display(), dst.display()));
    let (ca, cb) = (dst.join("a"), dst.join("sub/b"));
    cold(&[&a, &b, &ca, &cb]);
    let map = format!("{}={}", src.display(), dst.display());

    // By identity, the copy is another file: nothing is loaded.
    let out = bin("mmadvise")
        .args(["restore", "--map-prefix", &map, p(&snap)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing restored");
    assert!(stderr(&out).contains("was replaced"), "{}", stderr(&out));
    assert_eq!(resident(&ca) + resident(&cb), 0);

    let out = run(
        "mmadvise",
        &[
            "restore",
            "--map-prefix",
            &map,
            "--match",
            "size-mtime",
            p(&snap),
        ],
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    within_2_percent(loaded(&ca), want_a, "copy of a");
    within_2_percent(loaded(&cb), want_b, "copy of b");
    assert_eq!(
        resident(&a) + resident(&b),
        0,
        "the originals are left alone"
    );

    // b's copy changes after the copy, in its first block; its size and modification time are put
    // back. size-mtime cannot tell; the fingerprint does.
    let mtime = std::fs::metadata(&cb).unwrap();
    let stamp = format!("@{}.{:09}", mtime.mtime(), mtime.mtime_nsec());
    sh(&format!(
        "printf 'changed' | dd of='{}' conv=notrunc status=none && touch -d '{stamp}' '{}'",
        cb.display(),
        cb.display()
    ));
    assert_eq!(
        std::fs::metadata(&cb).unwrap().mtime_nsec(),
        mtime.mtime_nsec()
    );
    cold(&[&ca, &cb]);
    let out = bin("mmadvise")
        .args([
            "restore",
            "--json",
            "--match",
            "fingerprint",
            "--map-prefix",
        ])
        .args([&map, p(&snap)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let skipped: Vec<&Value> = lines.iter().filter(|l| l["type"] == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{lines:?}");
    assert_eq!(skipped[0]["path"], p(&cb));
    assert_eq!(
        skipped[0]["reason"],
        "changed since the snapshot: its content differs from the snapshot's fingerprint"
    );
    assert_eq!(resident(&cb), 0, "the changed copy is not loaded");
    within_2_percent(loaded(&ca), want_a, "unchanged copy of a, by fingerprint");
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["files"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );

    // Under size-mtime the changed copy passes: the fingerprint is what caught it.
    cold(&[&cb]);
    let args = [
        "restore",
        "--match",
        "size-mtime",
        "--map-prefix",
        &map,
        p(&snap),
    ];
    run("mmadvise", &args);
    within_2_percent(loaded(&cb), want_b, "changed copy of b, by size and mtime");

    // A snapshot without fingerprints cannot be matched by fingerprint: said so, nothing loaded.
    let plain = dir.path().join("plain");
    run("mmstat", &["--save", p(&plain), p(&src)]);
    cold(&[&ca, &cb]);
    let args = [
        "restore",
        "--match",
        "fingerprint",
        "--map-prefix",
        &map,
        p(&plain),
    ];
    let out = bin("mmadvise").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing restored");
    assert!(
        stderr(&out).contains("skipped: cannot be matched: the snapshot holds no fingerprint"),
        "{}",
        stderr(&out)
    );
    assert_eq!(resident(&ca) + resident(&cb), 0);
}

#[test]
fn bad_prefix_maps_and_fingerprint_without_save_are_usage_errors() {
    for bad in ["nothing", "=/x", "/x="] {
        let out = bin("mmadvise")
            .args(["restore", "--map-prefix", bad, "snap"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.starts_with("mmadvise: ") && err.contains("OLD=NEW"),
            "{err}"
        );
    }
    let out = bin("mmstat").args(["--fingerprint", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A snapshot of the first format (version 1: no fingerprints, ranges as `resident`), written from the
/// files' real metadata, as mmstat wrote it then.
fn version_1_snapshot(files: &[(&Path, u64, u64)]) -> String {
    let mut text = json!({"type": "snapshot", "format": "mmtools-residency", "version": 1,
        "page_size": page(), "created_ns": 1})
    .to_string();
    for &(path, start, end) in files {
        let m = std::fs::metadata(path).unwrap();
        let record = json!({"type": "file", "path": p(path), "dev": m.dev(), "ino": m.ino(),
            "size": m.size(), "mtime_ns": m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            "resident": [[start, end]]});
        text.push('\n');
        text.push_str(&record.to_string());
    }
    text.push('\n');
    text
}

#[test]
fn snapshots_of_the_previous_version_still_load() {
    let Some(dir) = disk_dir() else {
        skip("no temporary directory on a disk (tmpfs pages cannot be evicted)");
        return;
    };
    let a = dir.path().join("a");
    std::fs::write(&a, noise(4 * MIB as usize, 3)).unwrap();
    let snap = dir.path().join("v1.snap");
    std::fs::write(&snap, version_1_snapshot(&[(&a, MIB, 3 * MIB)])).unwrap();
    cold(&[&a]);
    run("mmadvise", &["restore", p(&snap)]);
    assert_eq!(loaded(&a), 2 * MIB);
    // size-mtime works with them too; fingerprint says why it cannot.
    cold(&[&a]);
    run("mmadvise", &["restore", "--match", "size-mtime", p(&snap)]);
    assert_eq!(loaded(&a), 2 * MIB);

    // A version from the future is refused, naming the versions this one reads.
    let future =
        std::fs::read_to_string(&snap)
            .unwrap()
            .replacen("\"version\":1", "\"version\":3", 1);
    std::fs::write(&snap, future).unwrap();
    let out = bin("mmadvise")
        .args(["restore", p(&snap)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("snapshot version 3 is not supported (this reads versions 1 to 2)"),
        "{}",
        stderr(&out)
    );
}
