//! mmstat: page-cache residency, checked against util-linux fincore, through the kernel's own answers
//! for cached, evicted and half-read files, and for the formats (JSON, Prometheus, snapshots).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{bin, is_root, page, skip, stderr, stdout};

mod fleet;
mod formats;
mod grouping;
mod peers;
mod scale;
mod system;
mod walking;

const TMPFS_MAGIC: i64 = 0x0102_1994;

fn mmstat(args: &[&str]) -> Output {
    bin("mmstat")
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn mmstat_in(dir: &Path, args: &[&str]) -> Output {
    bin("mmstat")
        .current_dir(dir)
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

fn summary(out: &Output) -> Value {
    let records = lines(out);
    let last = records.last().expect("a summary").clone();
    assert_eq!(last["type"], "summary", "{}", stdout(out));
    last
}

fn on_tmpfs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| { s.f_type } == TMPFS_MAGIC)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A temporary directory that an unprivileged uid may enter, on a filesystem whose pages can be
/// evicted when there is one (the tests that need eviction skip on tmpfs, and fail under strict mode).
fn tempdir() -> tempfile::TempDir {
    let dir = crate::util::disk_dir().unwrap_or_else(|| tempfile::tempdir().unwrap());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Writes `pages` pages (plus `extra` bytes) of data, synced, so that eviction works.
fn data_file(dir: &Path, name: &str, pages: usize, extra: usize) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).unwrap();
    f.write_all(&crate::util::noise(
        pages * page() + extra,
        pages as u64 + 7,
    ))
    .unwrap();
    f.sync_all().unwrap();
    path
}

fn evict(path: &Path) {
    let f = File::open(path).unwrap();
    f.sync_all().unwrap();
    rustix::fs::fadvise(f.as_fd(), 0, None, rustix::fs::Advice::DontNeed).unwrap();
}

fn cache(path: &Path) {
    std::fs::read(path).unwrap();
}

/// Evicts the file, then reads its first `bytes` without readahead.
fn read_first(path: &Path, bytes: usize) {
    evict(path);
    let f = File::open(path).unwrap();
    rustix::fs::fadvise(f.as_fd(), 0, None, rustix::fs::Advice::Random).unwrap();
    let mut buf = vec![0u8; bytes];
    f.read_exact_at(&mut buf, 0).unwrap();
}

/// fincore's resident pages and size in bytes.
fn fincore(path: &Path) -> (u64, u64) {
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--raw", "-o", "PAGES,SIZE"])
        .arg(path)
        .output()
        .expect("fincore");
    assert!(out.status.success(), "fincore: {}", stderr(&out));
    let text = stdout(&out);
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

/// mmstat's resident and total pages for one file.
fn mmstat_pages(path: &Path, method: &str) -> (u64, u64) {
    let out = mmstat(&["--json", "--method", method, p(path)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = lines(&out)[0].clone();
    (
        file["resident_pages"].as_u64().unwrap(),
        file["pages"].as_u64().unwrap(),
    )
}

/// Asserts that mmstat and fincore agree on a file's resident and total pages. The page cache can
/// change between two runs, so the comparison is made when fincore gives the same answer before and
/// after mmstat.
fn agrees_with_fincore(path: &Path, what: &str) -> u64 {
    for _ in 0..10 {
        let before = fincore(path);
        let auto = mmstat_pages(path, "auto");
        let mincore = mmstat_pages(path, "mincore");
        let after = fincore(path);
        if before == after {
            let total = before.1.div_ceil(page() as u64);
            assert_eq!(auto, (before.0, total), "{what}: cachestat vs fincore");
            assert_eq!(mincore, (before.0, total), "{what}: mincore vs fincore");
            return before.0;
        }
    }
    panic!("{what}: the page cache kept changing under the comparison");
}

#[test]
fn agrees_with_fincore_cached_evicted_and_half_read() {
    let dir = tempdir();
    if on_tmpfs(dir.path()) {
        skip("the temporary directory is on tmpfs, whose pages cannot be evicted");
        return;
    }
    for (pages, extra) in [
        (0usize, 1usize),
        (1, 0),
        (0, page() - 1),
        (1, 1),
        (64, 0),
        (257, 123),
    ] {
        let f = data_file(dir.path(), &format!("f{pages}-{extra}"), pages, extra);
        let total = (pages * page() + extra).div_ceil(page()) as u64;
        cache(&f);
        agrees_with_fincore(&f, "cached");
        evict(&f);
        assert_eq!(
            agrees_with_fincore(&f, "evicted"),
            0,
            "evicted: nothing resident"
        );
        if total >= 2 {
            let half = (total / 2) as usize * page();
            read_first(&f, half);
            assert_eq!(
                agrees_with_fincore(&f, "half read"),
                total / 2,
                "half read: the first half, without readahead"
            );
        }
    }
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(mmstat_pages(&empty, "auto"), (0, 0));
    assert_eq!(fincore(&empty), (0, 0));
}

#[test]
fn ranges_and_exact_resident_bytes() {
    let dir = tempdir();
    if on_tmpfs(dir.path()) {
        skip("the temporary directory is on tmpfs, whose pages cannot be evicted");
        return;
    }
    let pg = page() as u64;
    // 16 pages and 100 bytes: read the first 8 pages, and separately the partial last page.
    let f = data_file(dir.path(), "r", 16, 100);
    for _ in 0..10 {
        read_first(&f, 8 * page());
        let file = File::open(&f).unwrap();
        rustix::fs::fadvise(file.as_fd(), 0, None, rustix::fs::Advice::Random).unwrap();
        let mut tail = [0u8; 100];
        file.read_exact_at(&mut tail, 16 * pg).unwrap();
        let out = mmstat(&["--json", "--ranges", p(&f)]);
        let record = lines(&out)[0].clone();
        if record["resident_pages"] != 9 {
            continue; // something else touched the page cache; try again
        }
        assert_eq!(
            record["resident_ranges"],
            serde_json::json!([[0, 8 * pg], [16 * pg, 16 * pg + 100]])
        );
        assert_eq!(
            record["resident_bytes"],
            8 * pg + 100,
            "exact at the end of the file"
        );
        let text = stdout(&mmstat(&["--ranges", "--bytes", p(&f)]));
        assert!(
            text.contains(&format!(
                "  0-{} resident, {}-{} missing, {}-{} resident",
                8 * pg,
                8 * pg,
                16 * pg,
                16 * pg,
                16 * pg + 100
            )),
            "{text}"
        );
        // A range that starts inside a resident page and ends inside a missing one.
        let out = mmstat(&["--json", "--ranges", "--range", "100..40000", p(&f)]);
        let record = lines(&out)[0].clone();
        let end = 40000u64;
        assert_eq!(record["range"], serde_json::json!([100, end]));
        assert_eq!(record["pages"], end.div_ceil(pg));
        assert_eq!(record["resident_bytes"], 8 * pg - 100);
        assert_eq!(
            record["resident_ranges"],
            serde_json::json!([[100, 8 * pg]])
        );
        return;
    }
    panic!("could not get a stable half-read file");
}

#[test]
fn residency_map_is_exact_and_as_wide_as_asked() {
    let dir = tempdir();
    if on_tmpfs(dir.path()) {
        skip("the temporary directory is on tmpfs, whose pages cannot be evicted");
        return;
    }
    // 76 pages in 38 cells: two pages a cell. Read the first 38 pages.
    let f = data_file(dir.path(), "m", 76, 0);
    for method in ["auto", "mincore"] {
        let mut ok = false;
        for _ in 0..10 {
            read_first(&f, 38 * page());
            let out = bin("mmstat")
                .env("COLUMNS", "40")
                .args(["-v", "--method", method, p(&f)])
                .output()
                .unwrap();
            let text = stdout(&out);
            let bar = text
                .lines()
                .find(|l| l.starts_with('['))
                .expect("a map line");
            if !text.contains("38/76") {
                continue;
            }
            assert_eq!(
                bar,
                format!("[{}{}]", "█".repeat(19), " ".repeat(19)),
                "{method}"
            );
            let ascii = bin("mmstat")
                .env("COLUMNS", "40")
                .args(["-v", "--ascii", "--method", method, p(&f)])
                .output()
                .unwrap();
            assert!(
                stdout(&ascii).contains(&format!("[{}{}]", "#".repeat(19), " ".repeat(19))),
                "{}",
                stdout(&ascii)
            );
            ok = true;
            break;
        }
        assert!(ok, "{method}: could not get a stable half-read file");
    }
}

#[test]
fn unknown_residency_for_files_the_caller_may_not_write() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        skip("needs root and setpriv to run as an unprivileged uid");
        return;
    }
    let dir = tempdir();
    let readable = data_file(dir.path(), "readable", 8, 0);
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = data_file(dir.path(), "secret", 1, 0);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    cache(&readable);
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin!("mmstat"))
            .args(args);
        cmd.output().unwrap()
    };
    let out = as_nobody(&["--json", p(dir.path())]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the unreadable file fails the run"
    );
    let records = lines(&out);
    let files = of_type(&records, "file");
    assert_eq!(files.len(), 1, "the walk goes on past the unreadable file");
    let f = files[0];
    assert_eq!(f["path"], p(&readable));
    assert_eq!(f["pages"], 8);
    for key in ["resident_pages", "resident_bytes", "percent", "method"] {
        assert!(f[key].is_null(), "{key} must be null: {f}");
    }
    assert_eq!(f["unknown_reason"], "not-writable");
    let errors = of_type(&records, "error");
    assert_eq!(errors.len(), 1);
    let message = format!(
        "cannot open '{}' for reading: Permission denied",
        p(&secret)
    );
    assert_eq!(errors[0]["error"], message, "the message as printed");
    let err = stderr(&out);
    assert!(err.contains(&format!("mmstat: {message}\n")), "{err}");
    assert_eq!(
        err.matches("is unknown").count(),
        1,
        "one note explains why: {err}"
    );
    assert!(err.contains("may not write"), "{err}");
    let s = summary(&out);
    assert!(s["percent"].is_null(), "never a fake 100%: {s}");
    assert_eq!(
        (s["unknown_files"].as_u64(), s["errors"].as_u64()),
        (Some(1), Some(1))
    );

    let text = as_nobody(&[p(&readable)]);
    assert_eq!(text.status.code(), Some(0));
    let row: Vec<String> = stdout(&text)
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        row,
        ["-", "-/8", "-", p(&readable)],
        "- in text, never a fake 100%"
    );
    // --check cannot be met when nothing is known.
    assert_eq!(
        as_nobody(&["--check", "1", p(&readable)]).status.code(),
        Some(1)
    );
    // For contrast: fincore, as that uid, reports the kernel's fiction of every page resident.
    let fincore = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "fincore",
            "--raw",
        ])
        .arg(&readable)
        .output()
        .unwrap();
    println!("fincore as uid 65534: {}", stdout(&fincore).trim());
}

/// Peak RSS in KiB and wall time of one run, through /usr/bin/time.
fn peak_rss(args: &[&str]) -> Option<(u64, Duration, Output)> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(assert_cmd::cargo::cargo_bin!("mmstat"))
        .args(args)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let err = stderr(&out);
    let kib = err.lines().last()?.trim().parse().ok()?;
    Some((kib, elapsed, out))
}

#[test]
fn a_sparse_terabyte_within_bounds() {
    let dir = tempdir();
    let path = dir.path().join("sparse");
    let file = File::create(&path).unwrap();
    if file.set_len(1 << 40).is_err() {
        skip("the filesystem refuses a 1 TiB file");
        return;
    }
    drop(file);
    let tib = p(&path);
    let out = mmstat(&["--json", tib]);
    let record = lines(&out)[0].clone();
    assert_eq!(record["pages"], (1u64 << 40) / page() as u64);
    assert_eq!(record["resident_pages"], 0);
    let elapsed = summary(&out)["elapsed_seconds"].as_f64().unwrap();
    println!(
        "1 TiB sparse, {}: measured in {:.3} ms",
        record["method"],
        elapsed * 1000.0
    );
    let runs: [(&str, Vec<&str>); 3] = [
        ("cachestat", vec![tib]),
        ("map", vec!["-v", tib]),
        // mincore windows over 64 GiB of it: the same windows as over the whole (which takes seconds).
        (
            "mincore",
            vec!["--method", "mincore", "-v", "--range", "0:64G", tib],
        ),
    ];
    for (what, args) in runs {
        match peak_rss(&args) {
            Some((kib, wall, out)) => {
                assert!(out.status.success(), "{what}: {}", stderr(&out));
                println!("1 TiB sparse, {what}: peak RSS {kib} KiB, wall {wall:?} (debug build)");
                assert!(
                    kib <= 32 * 1024,
                    "{what}: peak RSS {kib} KiB is over 32 MiB"
                );
            }
            None => skip("no /usr/bin/time to measure peak RSS"),
        }
    }
}
