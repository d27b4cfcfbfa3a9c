//! mmadvise, checked through the kernel's own account (fincore, /proc/PID/smaps, st_blocks) rather than
//! through its exit status alone. Eviction needs a filesystem backed by storage: the tests work in a
//! directory on one (under cargo's target directory when TMPDIR is a tmpfs).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::disk_dir_or_skip;
use crate::util::{bin, fs_type, is_root, noise, page, reclaimed_pages, sh, skip, stderr, stdout};

const MIB: u64 = 1 << 20;

/// Bytes of `path` in the page cache, as util-linux fincore counts them.
pub(crate) fn resident(path: &Path) -> u64 {
    let out = sh(&format!(
        "fincore --bytes --noheadings --output RES '{}'",
        path.display()
    ));
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("fincore said '{out}'"))
}

/// Bytes of `path` that were loaded into the page cache: those resident now (fincore), plus those
/// reclaim took back since ([`reclaimed_pages`]).
pub(crate) fn loaded(path: &Path) -> u64 {
    let pages = std::fs::metadata(path)
        .unwrap()
        .len()
        .div_ceil(page() as u64);
    resident(path) + reclaimed_pages(path, pages) * page() as u64
}

/// Writes `len` bytes of pseudo-random data (so that no filesystem can compress or dedupe it).
pub(crate) fn data_file(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, noise(len as usize, len + 7)).unwrap();
    path
}

/// Writes a large file quickly (zeros, written for real, so allocated).
pub(crate) fn big_file(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    sh(&format!("head -c {len} /dev/zero > '{}'", path.display()));
    path
}

pub(crate) fn mmadvise(args: &[&str]) -> std::process::Output {
    bin("mmadvise").args(args).output().unwrap()
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Evicts `paths` with `mmadvise evict --sync` and checks that fincore agrees they are gone.
pub(crate) fn make_cold(paths: &[&Path]) {
    let mut args = vec!["evict", "--sync"];
    args.extend(paths.iter().map(|x| p(x)));
    let out = mmadvise(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    for path in paths {
        assert_eq!(resident(path), 0, "{} still cached", path.display());
    }
}

pub(crate) fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

pub(crate) fn warm(path: &Path) {
    std::fs::read(path).unwrap();
}

#[test]
fn evict_leaves_at_most_one_percent_of_clean_files() {
    let dir = disk_dir_or_skip!();
    let pg = page() as u64;
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    let files = [
        data_file(&tree, "big", 24 * MIB),
        data_file(&tree.join("sub"), "one", 1),
        data_file(&tree.join("sub"), "page-1", pg - 1),
        data_file(&tree.join("sub"), "page", pg),
        data_file(&tree.join("sub"), "page+1", pg + 1),
        data_file(&tree, "empty", 0),
    ];
    sh(&format!(
        "sync -d {}",
        files
            .iter()
            .map(|f| format!("'{}'", f.display()))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for f in &files {
        warm(f);
    }
    assert!(resident(&files[0]) > 0);
    let out = mmadvise(&["evict", "--json", p(&tree)]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(
            resident(f) * 100 <= size,
            "{}: {} of {size} bytes still cached",
            f.display(),
            resident(f)
        );
    }
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["files"], 6);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["resident_pages_after"], 0);
    let big = lines
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with("big"))
        .unwrap();
    assert_eq!(big["resident_pages_before"], 24 * MIB / pg);
    assert_eq!(big["stayed_pages"], 0);
}

#[test]
fn touch_leaves_everything_resident() {
    let dir = disk_dir_or_skip!();
    let pg = page() as u64;
    let files = [
        data_file(dir.path(), "a", 40 * MIB + 123),
        data_file(dir.path(), "b", pg + 1),
        data_file(dir.path(), "c", 3 * MIB),
    ];
    let refs: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    make_cold(&refs);
    let out = mmadvise(&[
        "touch",
        "-j",
        "3",
        "--window-size",
        "1M",
        p(&files[0]),
        p(&files[1]),
        p(&files[2]),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert_eq!(loaded(f), size.div_ceil(pg) * pg, "{}", f.display());
    }
    let text = stdout(&out);
    assert!(text.contains("resident 0 (0.0%) -> 40M (100.0%)"), "{text}");
    assert!(
        text.starts_with(&format!("{}: 40M", files[0].display())),
        "{text}"
    );
    assert!(text.contains("total: 3 files"), "{text}");

    // The load alias, every access pattern, and a private map: all load everything.
    for advice in ["normal", "sequential", "random"] {
        make_cold(&[&files[2]]);
        let out = mmadvise(&[
            "load",
            "--advice",
            advice,
            "--map-mode",
            "private",
            p(&files[2]),
        ]);
        assert!(out.status.success(), "{advice}: {}", stderr(&out));
        assert_eq!(loaded(&files[2]), 3 * MIB, "{advice}");
    }
}

#[test]
fn touch_of_a_range_loads_that_range_only() {
    let dir = disk_dir_or_skip!();
    let f = data_file(dir.path(), "r", 64 * MIB);
    make_cold(&[&f]);
    let out = mmadvise(&["touch", "--range", "8M:4M", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(loaded(&f), 4 * MIB, "readahead must not run past the range");
    let file = &json_lines(&out)[0];
    assert_eq!(
        (file["offset"].as_u64(), file["length_bytes"].as_u64()),
        (Some(8 * MIB), Some(4 * MIB))
    );
    assert_eq!(file["loaded_bytes"], 4 * MIB);
    // An offset inside a page is widened to the page. Seen once under a loaded CI run: one page more
    // than asked, never reproduced. A leak of readahead would show in every attempt; another
    // process's read in one at most, so this part may be tried three times, each one reported.
    let pg = page() as u64;
    let mut attempts = Vec::new();
    for _ in 0..3 {
        make_cold(&[&f]);
        let out = mmadvise(&["touch", "--range", "4097:1", p(&f)]);
        assert!(out.status.success(), "{}", stderr(&out));
        let file = std::fs::File::open(&f).unwrap();
        let part = |offset: u64, len: u64| {
            let s = mmtools::sys::cachestat::cachestat(&file, offset, len).unwrap();
            (s.cache, s.evicted)
        };
        let parts = [part(0, pg), part(pg, pg), part(2 * pg, 0)];
        if parts == [(0, 0), (1, 0), (0, 0)] || parts == [(0, 0), (0, 1), (0, 0)] {
            return;
        }
        println!("touch --range 4097:1: (cached, reclaimed) before, in, after: {parts:?}");
        attempts.push(parts);
    }
    panic!("touch --range 4097:1 loaded other pages in every attempt: {attempts:?}");
}

#[test]
fn willneed_wait_beats_the_readahead_cap() {
    let dir = disk_dir_or_skip!();
    const SIZE: u64 = 256 * MIB;
    let f = big_file(dir.path(), "w", SIZE);
    make_cold(&[&f]);
    let out = mmadvise(&["willneed", "--wait", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cached = loaded(&f);
    assert!(
        cached * 100 >= SIZE * 99,
        "only {cached} of {SIZE} bytes resident after willneed --wait"
    );
    let file = &json_lines(&out)[0];
    assert_eq!(file["requested_bytes"], SIZE);
    assert_eq!(file["missing_bytes"], 0);
    assert!(file["cap_bytes"].as_u64().unwrap() >= page() as u64);

    // Without --wait it returns once the reads are queued; asking again requests only what is missing.
    // Pages that WILLNEED brought in are never accessed, so reclaim may take a few back at any moment on
    // a machine whose memory is full of cache (CI once lost 744 KiB between the two calls): what is asked
    // for must match what fincore saw missing just before, give or take 1% for reclaim in between.
    let missing = SIZE - resident(&f);
    let out = mmadvise(&["willneed", "--json", p(&f)]);
    assert!(out.status.success());
    let requested = json_lines(&out)[0]["requested_bytes"].as_u64().unwrap();
    assert!(
        requested <= missing + SIZE / 100,
        "asked again for {requested} bytes when {missing} were missing"
    );
}

/// A sparse file: 1 MiB of data at 1 MiB, 1 MiB + 100 bytes at 5 MiB, and holes up to 12 MiB.
fn sparse_file(dir: &Path) -> (PathBuf, u64) {
    let path = dir.join("sparse");
    let mut f = std::fs::File::create(&path).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&noise(MIB as usize, 3), MIB).unwrap();
    f.write_all_at(&noise(MIB as usize + 100, 4), 5 * MIB)
        .unwrap();
    f.set_len(12 * MIB).unwrap();
    f.flush().unwrap();
    let data = MIB + (MIB + 100).div_ceil(page() as u64) * page() as u64;
    (path, data)
}

#[test]
fn touching_a_sparse_file_leaves_its_holes_unallocated_and_uncached() {
    let dir = disk_dir_or_skip!();
    let (f, data) = sparse_file(dir.path());
    make_cold(&[&f]);
    let blocks = std::fs::metadata(&f).unwrap().blocks();
    if blocks * 512 >= 12 * MIB {
        skip("this filesystem does not keep holes");
        return;
    }
    for action in [&["touch"][..], &["willneed", "--wait"][..]] {
        make_cold(&[&f]);
        let mut args = action.to_vec();
        args.push(p(&f));
        let out = mmadvise(&args);
        assert!(out.status.success(), "{action:?}: {}", stderr(&out));
        assert_eq!(
            loaded(&f),
            data,
            "{action:?}: exactly the data pages are cached, no hole page"
        );
        assert_eq!(
            std::fs::metadata(&f).unwrap().blocks(),
            blocks,
            "{action:?}: holes stay holes"
        );
        let text = stdout(&out);
        assert!(text.contains("12M, 2.0M data, 10M in holes"), "{text}");
    }
    assert_eq!(
        sh(&format!("du -k '{}'", f.display()))
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 2,
        blocks
    );
}

fn locked_bytes(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    smaps
        .lines()
        .filter_map(|l| l.strip_prefix("Locked:"))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// Whether process `pid` has ended (gone, or a zombie waiting to be reaped).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits for `pid` to end, failing after a minute (a safety net, not a timing assertion).
fn wait_until_ended(pid: u32) {
    for _ in 0..1200 {
        if ended(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("process {pid} did not end");
}

#[test]
fn lock_holds_the_pages_and_releases_them_on_sigterm() {
    let dir = disk_dir_or_skip!();
    let f = data_file(dir.path(), "l", 8 * MIB);
    let (sparse, data) = sparse_file(dir.path());
    make_cold(&[&f, &sparse]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("mmadvise"))
        .args(["lock", p(&f), p(&sparse)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("until SIGINT or SIGTERM") {
            break;
        }
    }
    assert!(seen.contains(&format!("held by process {pid}")), "{seen}");
    assert_eq!(
        locked_bytes(pid),
        8 * MIB + data,
        "Locked: in smaps: {seen}"
    );
    assert_eq!(resident(&f), 8 * MIB);
    assert_eq!(
        resident(&sparse),
        data,
        "the holes are neither read nor locked"
    );
    // While locked, evict cannot drop the pages, and says who holds them.
    let out = mmadvise(&["evict", p(&f)]);
    let text = stdout(&out);
    assert!(out.status.success());
    assert!(
        text.contains(&format!("mapped by process {pid} (mmadvise, 8.0M locked)")),
        "{text}"
    );
    assert_eq!(resident(&f), 8 * MIB);

    sh(&format!("kill -TERM {pid}"));
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    make_cold(&[&f, &sparse]);
}

#[test]
fn lock_daemon_writes_a_pidfile_and_cleans_up() {
    let dir = disk_dir_or_skip!();
    let f = data_file(dir.path(), "d", 2 * MIB);
    let pidfile = dir.path().join("lock.pid");
    let out = mmadvise(&["lock", "--daemon", "--pidfile", p(&pidfile), p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        stdout(&out).contains(&format!("held by process {pid}")),
        "{}",
        stdout(&out)
    );
    assert_ne!(pid, std::process::id());
    assert_eq!(locked_bytes(pid), 2 * MIB);
    sh(&format!("kill -TERM {pid}"));
    wait_until_ended(pid);
    assert!(!pidfile.exists(), "the pid file is removed");
    make_cold(&[&f]);
}

#[test]
fn lock_over_rlimit_memlock_says_how_much_and_how_to_raise_it() {
    let dir = disk_dir_or_skip!();
    if !is_root() || Command::new("prlimit").arg("--version").output().is_err() {
        skip("needs root and prlimit to drop CAP_IPC_LOCK and set a small RLIMIT_MEMLOCK");
        return;
    }
    let a = data_file(dir.path(), "a", MIB);
    let b = data_file(dir.path(), "b", 2 * MIB);
    let out = Command::new("prlimit")
        .args([
            "--memlock=65536:65536",
            "setpriv",
            "--inh-caps=-ipc_lock",
            "--bounding-set=-ipc_lock",
        ])
        .arg(assert_cmd::cargo::cargo_bin!("mmadvise"))
        .args(["lock", p(&a), p(&b)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}: cannot lock 1.0M: RLIMIT_MEMLOCK lets this process lock 64K",
            a.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}: cannot lock 2.0M", b.display())),
        "one failure does not stop the others: {err}"
    );
    assert!(err.contains("ulimit -l"), "{err}");
}

/// A cgroup (v1 blkio) that throttles writes to the disk holding `path`, so that dirty pages stay
/// under writeback long enough to be seen; removed on drop.
struct Throttle(PathBuf);

impl Throttle {
    fn new(path: &Path) -> Option<Throttle> {
        let root = Path::new("/sys/fs/cgroup/blkio");
        if !is_root() || !root.join("blkio.throttle.write_bps_device").exists() {
            return None;
        }
        let dev = sh(&format!("stat -c '%Hd:%Ld' '{}'", path.display()));
        let sys = PathBuf::from(format!("/sys/dev/block/{dev}"));
        let disk = if sys.join("partition").exists() {
            std::fs::read_to_string(sys.join("../dev"))
                .ok()?
                .trim()
                .to_string()
        } else {
            dev
        };
        let cg = root.join(format!("mmadvise-test-{}", std::process::id()));
        std::fs::create_dir_all(&cg).ok()?;
        let throttle = Throttle(cg);
        std::fs::write(
            throttle.0.join("blkio.throttle.write_bps_device"),
            format!("{disk} 1048576"),
        )
        .ok()?;
        Some(throttle)
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn evict_reports_dirty_pages_and_drops_them_with_sync() {
    let dir = disk_dir_or_skip!();
    let f = dir.path().join("dirty");
    let Some(throttle) = Throttle::new(dir.path()) else {
        skip(
            "needs root and cgroup v1 blkio write throttling to keep dirty pages from being written at once",
        );
        return;
    };
    std::fs::write(&f, noise(2 * MIB as usize, 9)).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > '{}/cgroup.procs' && exec \"$0\" evict --json \"$1\"",
            throttle.0.display()
        ))
        .arg(assert_cmd::cargo::cargo_bin!("mmadvise"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let file = &json_lines(&out)[0];
    let stayed = file["stayed_pages"].as_u64().unwrap();
    assert!(stayed > 0, "{file}");
    assert_eq!(
        file["dirty_pages"].as_u64().unwrap() + file["writeback_pages"].as_u64().unwrap(),
        stayed,
        "{file}"
    );
    let notes = file["notes"].to_string();
    assert!(notes.contains("--sync"), "{notes}");
    assert!(resident(&f) > 0);

    let out = mmadvise(&["evict", "--sync", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_lines(&out)[0]["stayed_pages"], 0);
    assert_eq!(resident(&f), 0);
}

#[test]
fn evicting_tmpfs_is_explained() {
    let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
        skip("no /dev/shm");
        return;
    };
    if fs_type(dir.path()) != "tmpfs" {
        skip("/dev/shm is not tmpfs");
        return;
    }
    let f = data_file(dir.path(), "t", MIB);
    let out = mmadvise(&["evict", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("the file is on tmpfs"), "{text}");
    assert!(text.contains("cannot be evicted"), "{text}");
    assert_eq!(resident(&f), MIB);
}

#[test]
fn process_local_advice_alone_is_refused_with_an_explanation() {
    for (advice, hint) in [
        ("sequential", "touch --advice sequential"),
        ("random", "touch --advice random"),
        ("normal", "touch --advice normal"),
        ("dontneed", "mmadvise evict"),
    ] {
        let out = mmadvise(&["advise", advice, "/nonexistent"]);
        assert_eq!(out.status.code(), Some(2), "{advice}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "mmadvise: advice '{advice}' only changes this process's own map"
            )),
            "{err}"
        );
        assert!(err.contains("no lasting effect"), "{err}");
        assert!(err.contains(hint), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn pageout_cold_and_hugepage_act_and_are_checked() {
    let dir = disk_dir_or_skip!();
    let f = data_file(dir.path(), "h", 8 * MIB);
    sh(&format!("sync -d '{}'", f.display()));
    warm(&f);
    let out = mmadvise(&["advise", "pageout", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(resident(&f), 0, "pageout reclaimed the cached pages");
    assert_eq!(json_lines(&out)[0]["resident_pages_after"], 0);

    warm(&f);
    let out = mmadvise(&["advise", "cold", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = &json_lines(&out)[0];
    assert_eq!(
        loaded(&f),
        8 * MIB,
        "cold keeps the pages, only deactivates them"
    );
    if let Some(after) = file["active_pages_after"].as_u64() {
        assert!(
            after <= file["active_pages_before"].as_u64().unwrap(),
            "{file}"
        );
    } else {
        assert!(file["notes"].to_string().contains("not verified"), "{file}");
    }

    make_cold(&[&f]);
    let out = mmadvise(&["advise", "hugepage", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = &json_lines(&out)[0];
    assert_eq!(loaded(&f), 8 * MIB, "hugepage loads the data");
    assert!(file["huge_bytes"].as_u64().unwrap() <= 8 * MIB, "{file}");
}

#[test]
fn restore_brings_back_a_saved_state_and_skips_a_changed_file() {
    use mmtools::snapshot::{FileRecord, Identity, Writer};
    let dir = disk_dir_or_skip!();
    let a = data_file(dir.path(), "a", 16 * MIB);
    let b = data_file(dir.path(), "b", 3 * MIB + 5);
    let c = data_file(dir.path(), "c", MIB);
    let record = |path: &Path, resident: Vec<(u64, u64)>| FileRecord {
        path: path.to_path_buf(),
        identity: Identity::of(&std::fs::metadata(path).unwrap()),
        fingerprint: None,
        resident: resident
            .into_iter()
            .map(|(s, e)| mmtools::range::Range::new(s, e))
            .collect(),
    };
    let mut w = Writer::new(Vec::new()).unwrap();
    w.file(&record(&a, vec![(0, MIB), (8 * MIB, 10 * MIB)]))
        .unwrap();
    w.file(&record(&b, vec![(0, 3 * MIB + 5)])).unwrap();
    w.file(&record(&c, vec![(0, MIB)])).unwrap();
    let snap = dir.path().join("cache.snap");
    std::fs::write(&snap, w.finish().unwrap()).unwrap();
    // c changes after the snapshot.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&c)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    make_cold(&[&a, &b, &c]);

    let out = mmadvise(&["restore", p(&snap)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(loaded(&a), 3 * MIB, "exactly the saved ranges of a");
    assert_eq!(loaded(&b), 3 * MIB + page() as u64);
    assert_eq!(resident(&c), 0, "a changed file is left alone");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "mmadvise: warning: {}: skipped: changed since the snapshot: its size changed",
            c.display()
        )),
        "{err}"
    );
    let text = stdout(&out);
    assert!(
        text.contains("saved 3.0M resident again (100.0%)"),
        "{text}"
    );

    // From standard input, as JSON.
    make_cold(&[&a]);
    let out = bin("mmadvise")
        .args(["restore", "--json", "-"])
        .pipe_stdin(&snap)
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "skipped" && l["path"] == p(&c))
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["skipped"], 1);
    assert_eq!(loaded(&a), 3 * MIB);

    // A file that is not a snapshot is an error.
    let out = mmadvise(&["restore", p(&a)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!("mmadvise: {}:1: ", a.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn special_files_are_skipped_and_failures_do_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = data_file(d, "file", 3 * page() as u64);
    sh(&format!("mkfifo '{}'", d.join("fifo").display()));
    let missing = d.join("missing");
    let out = mmadvise(&["touch", p(d), "/dev/null", p(&missing), "/proc/self/status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "mmadvise: warning: {}: skipped: a FIFO",
            d.join("fifo").display()
        )),
        "{err}"
    );
    assert!(
        err.contains("mmadvise: warning: /dev/null: skipped: a character device"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "mmadvise: cannot open '{}' for reading: No such file or directory",
            missing.display()
        )),
        "{err}"
    );
    assert!(err.contains("/proc/self/status: skipped"), "{err}");
    assert!(stdout(&out).contains(&format!("{}: 12K", f.display())) || page() != 4096);

    // Only special files: nothing failed.
    let out = mmadvise(&["evict", p(&d.join("fifo"))]);
    assert!(out.status.success(), "{}", stderr(&out));

    // --files0-from, with an empty name reported.
    let list = d.join("list");
    std::fs::write(&list, format!("{}\0\0", f.display())).unwrap();
    let out = mmadvise(&["touch", "--json", "--files0-from", p(&list)]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[1]["type"], "file");
    assert_eq!(lines[2]["errors"], 1);
}

#[test]
fn an_unreadable_file_is_reported_and_residency_hidden_from_others_is_unknown() {
    if !is_root() {
        skip("needs root to run as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = data_file(dir.path(), "open", 64 * 1024);
    let closed = data_file(dir.path(), "closed", 64 * 1024);
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    let exe = assert_cmd::cargo::cargo_bin!("mmadvise");
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .arg("--version")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("setpriv cannot run the binary as nobody (no setpriv, or its path is not reachable)");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["touch", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "mmadvise: cannot open '{}' for reading: Permission denied",
            closed.display()
        )),
        "{}",
        stderr(&out)
    );
    let lines = json_lines(&out);
    let file = lines.iter().find(|l| l["type"] == "file").unwrap();
    assert_eq!(file["path"], p(&open));
    assert_eq!(
        file["resident_pages_after"],
        Value::Null,
        "never a fake 100%"
    );
    assert!(
        file["unknown_reason"]
            .as_str()
            .unwrap()
            .contains("may not write")
    );
    assert_eq!(loaded(&open), 64 * 1024, "the file was loaded all the same");
}
