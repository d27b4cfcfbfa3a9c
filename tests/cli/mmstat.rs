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

/// A temporary directory that an unprivileged uid may enter.
fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
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
fn hard_links_count_once_and_symlinks_are_not_followed() {
    let dir = tempdir();
    let d = dir.path().join("tree");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let f = data_file(&d, "a", 4, 0);
    std::fs::hard_link(&f, d.join("sub/link")).unwrap();
    let outside = data_file(dir.path(), "outside", 8, 0);
    std::os::unix::fs::symlink(&outside, d.join("sym")).unwrap();
    std::os::unix::fs::symlink(&d, d.join("sub/loop")).unwrap();

    let out = mmstat(&["--json", p(&d)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let files = of_type(&records, "file");
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [p(&d.join("a")), p(&d.join("sub/link"))],
        "links and loops are not followed"
    );
    assert_eq!(files[0]["counted"], true);
    assert_eq!(files[1]["counted"], false);
    let s = summary(&out);
    assert_eq!(
        (s["files"].as_u64(), s["links"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["pages"], 4, "the hard link's pages count once");
    assert_eq!(s["directories"], 2);

    // -L follows links, and leaves the loop with a note instead of walking forever.
    let out = mmstat(&["--json", "-L", p(&d)]);
    let records = lines(&out);
    let paths: Vec<&str> = of_type(&records, "file")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&p(&d.join("sym"))), "{paths:?}");
    assert_eq!(summary(&out)["pages"], 12);
    assert!(
        stderr(&out).contains("loop: skipped (a symbolic link loop)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(of_type(&records, "skipped").len(), 1);

    // A link named on the command line is followed, as du does.
    let out = mmstat(&["--json", p(&d.join("sym"))]);
    assert_eq!(summary(&out)["pages"], 8);
}

#[test]
fn fifos_and_devices_never_block() {
    let dir = tempdir();
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    data_file(dir.path(), "data", 1, 0);
    // A process holding the FIFO open: its files are looked at without a note for the FIFO.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let mut child = Command::new("sleep").arg("30").stdin(held).spawn().unwrap();
    let pid = child.id().to_string();
    for (args, note) in [
        (vec![p(&fifo)], true),
        (vec![p(dir.path())], true),
        (vec!["--pid", &pid], false),
    ] {
        let started = Instant::now();
        let out = bin("mmstat")
            .args(&args)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        println!("mmstat {args:?}: {:?}", started.elapsed());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).contains("fifo: skipped (a FIFO)"),
            note,
            "{}",
            stderr(&out)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    // Standard input that is a device is skipped too.
    let out = Command::new(assert_cmd::cargo::cargo_bin!("mmstat"))
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("-: skipped (a character device)"));
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
    assert_eq!(f["unknown"], "not-writable");
    let errors = of_type(&records, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"], "Permission denied");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("mmstat: {}: Permission denied", p(&secret))),
        "{err}"
    );
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

#[test]
fn json_schema() {
    let dir = tempdir();
    let f = data_file(dir.path(), "f", 3, 5);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let out = mmstat(&[
        "--json",
        "--ranges",
        "-v",
        p(dir.path()),
        p(&dir.path().join("missing")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let records = lines(&out);
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let file = of_type(&records, "file")[0];
    assert_eq!(
        keys(file),
        [
            "type",
            "path",
            "size",
            "pages",
            "resident_pages",
            "resident_bytes",
            "percent",
            "dirty",
            "writeback",
            "evicted",
            "recently_evicted",
            "method",
            "fs",
            "unknown",
            "counted",
            "resident_ranges",
            "map"
        ]
    );
    assert_eq!(file["path"], p(&f));
    assert_eq!(file["size"], 3 * page() as u64 + 5);
    assert_eq!(file["pages"], 4);
    assert!(file["resident_pages"].is_u64() && file["resident_bytes"].is_u64());
    assert!(file["percent"].is_f64() || file["percent"].is_u64());
    assert!(["cachestat", "mincore"].contains(&file["method"].as_str().unwrap()));
    if file["method"] == "cachestat" {
        for key in ["dirty", "writeback", "evicted", "recently_evicted"] {
            assert!(file[key].is_u64(), "{key}");
        }
    }
    assert!(["storage", "tmpfs"].contains(&file["fs"].as_str().unwrap()));
    assert!(file["unknown"].is_null());
    assert!(file["resident_ranges"].is_array() && file["map"].is_array());
    let error = of_type(&records, "error")[0];
    assert_eq!(keys(error), ["type", "path", "error"]);
    assert_eq!(error["error"], "No such file or directory");
    let s = records.last().unwrap();
    assert_eq!(
        keys(s),
        [
            "type",
            "files",
            "links",
            "directories",
            "skipped",
            "errors",
            "unknown_files",
            "pages",
            "resident_pages",
            "unknown_pages",
            "size",
            "unknown_size",
            "resident_bytes",
            "percent",
            "dirty",
            "writeback",
            "evicted",
            "recently_evicted",
            "elapsed_seconds"
        ]
    );
    assert_eq!(
        (s["files"].as_u64(), s["errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["directories"], 2);
    assert_eq!(s["pages"], 4);

    // --summary alone: only the summary; --check adds its verdict.
    let out = mmstat(&["--json", "--summary", "--check", "0", p(&f)]);
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["check_passed"], true);
}

#[test]
fn check_exit_codes() {
    let dir = tempdir();
    let f = data_file(dir.path(), "f", 16, 0);
    cache(&f);
    let out = mmstat(&["--summary", "--check", "0", p(&f)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    if on_tmpfs(dir.path()) {
        skip("the temporary directory is on tmpfs, whose pages cannot be evicted");
        return;
    }
    evict(&f);
    let out = mmstat(&["--summary", "--check", "50%", p(&f)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check failed: 0.00% of the pages are resident, less than 50%"),
        "{}",
        stderr(&out)
    );
    for _ in 0..10 {
        cache(&f);
        let out = mmstat(&["--summary", "--check", "100", p(&f)]);
        if out.status.code() == Some(0) {
            assert!(stderr(&out).is_empty());
            return;
        }
    }
    panic!("--check 100 never passed on a cached file");
}

#[test]
fn top_and_sort() {
    let dir = tempdir();
    for (name, pages) in [("one", 1), ("five", 5), ("three", 3), ("nine", 9)] {
        let f = data_file(dir.path(), name, pages, 0);
        cache(&f);
    }
    let out = mmstat(&["--json", "--sort", "size", p(dir.path())]);
    let sizes: Vec<u64> = of_type(&lines(&out), "file")
        .iter()
        .map(|f| f["pages"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [9, 5, 3, 1]);
    let out = mmstat(&["--json", "--sort", "name", p(dir.path())]);
    let names: Vec<String> = of_type(&lines(&out), "file")
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["five", "nine", "one", "three"]);
    // --top sorts by resident bytes: the largest cached first.
    let out = mmstat(&["--json", "--top", "2", p(dir.path())]);
    let records = lines(&out);
    let files = of_type(&records, "file");
    assert_eq!(files.len(), 2);
    let res: Vec<u64> = files
        .iter()
        .map(|f| f["resident_bytes"].as_u64().unwrap())
        .collect();
    assert!(res[0] >= res[1], "{res:?}");
    assert_eq!(summary(&out)["files"], 4, "the summary covers every file");
    let text = stdout(&mmstat(&[
        "--top",
        "1",
        "--no-headings",
        "-o",
        "file",
        p(dir.path()),
    ]));
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the Prometheus text exposition format strictly: HELP and TYPE lines come before a metric's
/// samples, each metric's samples are contiguous, label values are unescaped (\\, \", \n), values are
/// floats.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed: Vec<String> = Vec::new();
    let mut finished: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(is_name(name), "{line}");
            match kind {
                "HELP" => assert!(parts.next().is_some_and(|h| !h.is_empty()), "{line}"),
                "TYPE" => {
                    assert_eq!(parts.next(), Some("gauge"), "{line}");
                    assert!(!typed.contains(&name.to_string()), "TYPE twice: {line}");
                    typed.push(name.to_string());
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        assert!(!line.is_empty(), "no blank lines");
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        assert!(is_name(name), "{line}");
        assert!(
            typed.contains(&name.to_string()),
            "sample before its TYPE: {line}"
        );
        if current.as_deref() != Some(name) {
            assert!(
                !finished.contains(&name.to_string()),
                "{name}'s samples are split"
            );
            if let Some(previous) = current.take() {
                finished.push(previous);
            }
            current = Some(name.to_string());
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let (parsed, used) = parse_labels(body, line);
            labels = parsed;
            rest = &body[used..];
        }
        let value = rest.strip_prefix(' ').expect("a space before the value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Parses `a="x",b="y"}` and returns the labels and the length consumed (past the `}`).
fn parse_labels(text: &str, line: &str) -> (Vec<(String, String)>, usize) {
    let mut labels = Vec::new();
    let mut at = 0;
    loop {
        let eq = text[at..].find('=').unwrap() + at;
        let label = text[at..eq].to_string();
        assert!(is_label_name(&label), "{line}");
        assert_eq!(&text[eq + 1..eq + 2], "\"", "{line}");
        let mut value = String::new();
        let mut chars = text[eq + 2..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|c| c.1) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("bad escape {other:?} in {line}"),
                },
                '"' => {
                    end = Some(eq + 2 + i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.unwrap();
        labels.push((label, value));
        match &text[end..end + 1] {
            "," => at = end + 1,
            "}" => return (labels, end + 1),
            other => panic!("expected , or }} got {other}: {line}"),
        }
    }
}

#[test]
fn prometheus_format_parses_back() {
    let dir = tempdir();
    let weird = "we\"ird\\name\nwith newline";
    let a = data_file(dir.path(), weird, 2, 0);
    let b = data_file(dir.path(), "plain", 3, 10);
    let out = mmstat(&["--format", "prometheus", p(&a), p(&b)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let samples = parse_prometheus(&text);
    let json = lines(&mmstat(&["--json", p(&a), p(&b)]));
    let pages_of = |path: &Path| {
        samples
            .iter()
            .find(|s| {
                s.name == "mmstat_file_pages"
                    && s.labels.iter().any(|(k, v)| k == "path" && v == p(path))
            })
            .unwrap_or_else(|| panic!("no pages sample for {path:?} in\n{text}"))
            .value
    };
    assert_eq!(pages_of(&a), 2.0, "the escaped path reads back");
    assert_eq!(pages_of(&b), 4.0);
    let sample = |name: &str| samples.iter().find(|s| s.name == name).unwrap().value;
    assert_eq!(sample("mmstat_files"), 2.0);
    assert_eq!(sample("mmstat_pages"), 6.0);
    assert_eq!(sample("mmstat_size_bytes"), (5 * page() + 10) as f64);
    let ratio = sample("mmstat_resident_ratio");
    assert!((0.0..=1.0).contains(&ratio));
    for s in samples
        .iter()
        .filter(|s| s.name.starts_with("mmstat_file_"))
    {
        let fs = s.labels.iter().find(|(k, _)| k == "fs").unwrap();
        assert!(["storage", "tmpfs"].contains(&fs.1.as_str()));
    }
    let size_of_a = samples
        .iter()
        .find(|s| s.name == "mmstat_file_size_bytes" && s.labels[0].1 == p(&a))
        .unwrap()
        .value;
    assert_eq!(size_of_a, json[0]["size"].as_f64().unwrap());

    // --top bounds the per-file series; --summary leaves them out; the totals cover every file.
    for (args, paths) in [(vec!["--top", "1"], 1), (vec!["--summary"], 0)] {
        let mut all = vec!["--format", "prometheus"];
        all.extend(args);
        all.extend([p(&a), p(&b)]);
        let samples = parse_prometheus(&stdout(&mmstat(&all)));
        let mut labelled: Vec<&str> = samples
            .iter()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .filter(|(k, _)| k == "path")
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        labelled.dedup();
        assert_eq!(labelled.len(), paths, "{all:?}");
        let files = samples.iter().find(|s| s.name == "mmstat_files").unwrap();
        assert_eq!(files.value, 2.0);
    }
}

#[test]
fn save_round_trips_through_the_snapshot_reader() {
    let dir = tempdir();
    let snap = dir.path().join("snap.jsonl");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let whole = data_file(&data, "whole", 4, 0);
    let half = data_file(&data, "half", 8, 0);
    std::fs::hard_link(&whole, data.join("whole.link")).unwrap();
    let tmpfs = on_tmpfs(dir.path());
    for _ in 0..10 {
        cache(&whole);
        if !tmpfs {
            read_first(&half, 4 * page());
        }
        let out = mmstat_in(
            dir.path(),
            &["--save", "snap.jsonl", "--json", "--ranges", "data"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let records = lines(&out);
        let (header, files) =
            mmtools::snapshot::read(std::io::BufReader::new(File::open(&snap).unwrap()), &snap)
                .unwrap();
        assert_eq!(header.version, mmtools::snapshot::VERSION);
        assert_eq!(header.page_size, page() as u64);
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(
            paths,
            [half.as_path(), whole.as_path()],
            "absolute, each file once"
        );
        for (record, path) in files.iter().zip([&half, &whole]) {
            let meta = std::fs::metadata(path).unwrap();
            assert_eq!(record.identity, mmtools::snapshot::Identity::of(&meta));
            assert_eq!(record.identity.ino, meta.ino());
        }
        let printed: Vec<Vec<(u64, u64)>> = of_type(&records, "file")
            .iter()
            .filter(|f| f["counted"] == true)
            .map(|f| serde_json::from_value(f["resident_ranges"].clone()).unwrap())
            .collect();
        let saved: Vec<Vec<(u64, u64)>> = files.iter().map(|f| f.resident.clone()).collect();
        assert_eq!(printed, saved, "the snapshot holds the ranges printed");
        let expected_half = if tmpfs {
            vec![(0, 8 * page() as u64)]
        } else {
            vec![(0, 4 * page() as u64)]
        };
        if saved == [expected_half, vec![(0, 4 * page() as u64)]] {
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().contains("tmp"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
            return;
        }
    }
    panic!("the page cache kept changing under the test");
}

#[test]
fn watch_appends_refreshes_with_deltas_and_stops_on_sigint() {
    let dir = tempdir();
    let f = data_file(dir.path(), "w", 8, 0);
    let out = mmstat(&["--watch", "0.1", "--count", "3", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let summaries = of_type(&records, "summary");
    assert_eq!(summaries.len(), 3);
    assert_eq!(of_type(&records, "file").len(), 3);
    assert!(summaries[0]["resident_pages_delta"].is_null());
    assert!(summaries[1]["resident_pages_delta"].is_i64());
    assert!(
        summaries[1]["recently_evicted_delta"].is_i64()
            || summaries[1]["recently_evicted_delta"].is_null()
    );
    assert_eq!(summaries[2]["refresh"], 3);
    let text = stdout(&mmstat(&[
        "--watch",
        "0.1",
        "--count",
        "2",
        "--summary",
        p(&f),
    ]));
    assert_eq!(text.lines().count(), 2, "one line a refresh: {text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("recently evicted pages since the last refresh")
    );

    let child = Command::new(assert_cmd::cargo::cargo_bin!("mmstat"))
        .args(["--watch", "0.2", p(&f)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    println!("stopped {:?} after SIGINT", started.elapsed());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(2),
        "dies of SIGINT, as the shell expects"
    );
    let text = stdout(&out);
    assert!(text.starts_with("# refresh 1 at "), "{text}");
    assert!(text.ends_with('\n'), "whole lines only: {text:?}");
}

#[test]
fn files_of_a_process() {
    let dir = tempdir();
    let held = data_file(dir.path(), "held", 2, 0);
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(File::open(&held).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let out = mmstat(&["--json", "--pid", &child.id().to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let paths: Vec<&str> = of_type(&records, "file")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&p(&held)), "{paths:?}");
    let sleep = std::fs::canonicalize(sh_which("sleep")).unwrap();
    assert!(
        paths.contains(&p(&sleep)),
        "its executable is mapped: {paths:?}"
    );
    let out = mmstat(&["--pid", "4194304"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mmstat: process 4194304: no such process"),
        "{}",
        stderr(&out)
    );
}

fn sh_which(tool: &str) -> PathBuf {
    PathBuf::from(crate::util::sh(&format!("command -v {tool}")))
}

#[test]
fn tmpfs_is_labelled() {
    let shm = Path::new("/dev/shm");
    if !on_tmpfs(shm) {
        skip("no tmpfs at /dev/shm");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let f = data_file(dir.path(), "t", 2, 0);
    let out = mmstat(&[p(&f)]);
    assert!(
        stdout(&out).contains(&format!("{} [tmpfs]", p(&f))),
        "{}",
        stdout(&out)
    );
    let out = mmstat(&["--json", p(&f)]);
    let record = lines(&out)[0].clone();
    assert_eq!(record["fs"], "tmpfs");
    assert_eq!(record["resident_pages"], 2);
}

#[test]
fn table_columns_and_files0_from() {
    let dir = tempdir();
    let a = data_file(dir.path(), "a", 2, 0);
    let b = data_file(dir.path(), "b b", 1, 0);
    let list = dir.path().join("list");
    std::fs::write(&list, format!("{}\0{}\0", p(&a), p(&b))).unwrap();
    let out = mmstat(&[
        "--files0-from",
        p(&list),
        "--bytes",
        "-o",
        "size,pages,file",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["SIZE", "PAGES", "FILE"]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with(&format!("{}  ", 2 * page())), "{row}");
    assert!(row.ends_with(&format!("/2  {}", p(&a))), "{row}");
    assert!(lines.next().unwrap().ends_with(p(&b)));
    let summary = lines.next().unwrap();
    assert!(summary.starts_with("2 files, 0 directories: "), "{summary}");
    assert!(
        summary.contains(&format!(" of {} resident (", 3 * page())),
        "{summary}"
    );
    assert!(lines.next().is_none());
    // --no-headings leaves rows only; --summary the summary only.
    let out = mmstat(&["--no-headings", p(&a), p(&b)]);
    assert_eq!(stdout(&out).lines().count(), 2);
    let out = mmstat(&["--summary", p(&a), p(&b)]);
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn usage_errors() {
    for args in [
        vec![],
        vec!["--ascii", "x"],
        vec!["--top", "0", "x"],
        vec!["--count", "2", "x"],
        vec!["--watch", "0", "x"],
        vec!["--check", "101", "x"],
        vec!["--include", "[", "x"],
        vec!["--watch", "1", "--format", "prometheus", "x"],
        vec!["-o", "nope", "x"],
    ] {
        let out = mmstat(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

/// Unmounts a directory when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn hugetlbfs_is_unknown() {
    let dir = tempdir();
    let mounted = is_root()
        && Command::new("mount")
            .args(["-t", "hugetlbfs", "none"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        skip("cannot mount a hugetlbfs (needs root and kernel support)");
        return;
    }
    let _guard = Mounted(dir.path().to_path_buf());
    let f = dir.path().join("huge");
    File::create(&f).unwrap().set_len(4 << 20).unwrap();
    let out = mmstat(&["--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = lines(&out)[0].clone();
    assert_eq!(record["fs"], "hugetlbfs");
    assert_eq!(record["unknown"], "hugetlbfs");
    assert!(record["resident_pages"].is_null() && record["percent"].is_null());
    assert!(
        stderr(&out).contains("hugetlbfs is unknown"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&mmstat(&[p(&f)]));
    assert!(text.contains(&format!("{} [hugetlbfs]", p(&f))), "{text}");
}

#[test]
fn filters_and_one_file_system() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("keep/skip")).unwrap();
    data_file(d, "small.db", 1, 0);
    data_file(d, "big.db", 8, 0);
    data_file(d, "notes.txt", 2, 0);
    data_file(&d.join("keep/skip"), "inner.db", 2, 0);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "--sort", "name"];
        all.extend_from_slice(args);
        all.push(p(d));
        let out = mmstat(&all);
        assert!(out.status.success(), "{}", stderr(&out));
        of_type(&lines(&out), "file")
            .iter()
            .map(|f| {
                let path = f["path"].as_str().unwrap();
                path.strip_prefix(p(d))
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names(&["--include", "*.db"]),
        ["big.db", "keep/skip/inner.db", "small.db"]
    );
    assert_eq!(
        names(&["--include", "*.db", "--exclude", "skip"]),
        ["big.db", "small.db"]
    );
    assert_eq!(
        names(&["--min-size", &(2 * page()).to_string(), "--max-size", "2M"]),
        ["big.db", "keep/skip/inner.db", "notes.txt"]
    );
    // -x: a filesystem mounted below is left out.
    let mounted = is_root()
        && Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1M", "none"])
            .arg(d.join("keep"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        skip("cannot mount a tmpfs for -x (needs root)");
        return;
    }
    let _guard = Mounted(d.join("keep"));
    data_file(&d.join("keep"), "on-tmpfs", 1, 0);
    assert!(names(&[]).contains(&"keep/on-tmpfs".to_string()));
    assert!(!names(&["-x"]).iter().any(|n| n.starts_with("keep")));
}

#[test]
fn output_order_does_not_depend_on_threads() {
    let dir = tempdir();
    for i in 0..300 {
        let sub = dir
            .path()
            .join(format!("d{}", i % 7))
            .join(format!("e{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), vec![b'x'; i * 37]).unwrap();
    }
    let listing = |threads: &str| -> Vec<String> {
        let out = mmstat(&["--json", "-j", threads, p(dir.path())]);
        of_type(&lines(&out), "file")
            .iter()
            .map(|f| format!("{} {}", f["path"], f["pages"]))
            .collect()
    };
    let one = listing("1");
    assert_eq!(one.len(), 300);
    let mut sorted = one.clone();
    sorted.sort_by(|a, b| {
        let key = |s: &str| PathBuf::from(s.split(' ').next().unwrap().trim_matches('"'));
        key(a).cmp(&key(b))
    });
    assert_eq!(one, sorted, "paths in order");
    for threads in ["2", "8"] {
        assert_eq!(listing(threads), one, "-j {threads}");
    }
}
