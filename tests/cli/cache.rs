//! `--cache neutral` on mmcp and mmcount: the page cache left as found, measured through the kernel
//! (cachestat for halves of a file, util-linux fincore for whole files), against GNU dd's nocache
//! flags on the same setup. On a disk-backed directory: tmpfs pages cannot be dropped.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::util::{self, bin, disk_dir};

const MIB: u64 = 1 << 20;
/// The source: its first half cached, its second half not.
const SRC_LEN: u64 = 512 * MIB;
/// A file another program is using: fully cached, it must stay so.
const SERVICE_LEN: u64 = 256 * MIB;
/// Threads of every run, so that the documented bound is known.
const THREADS: usize = 2;

fn page() -> u64 {
    util::page() as u64
}

/// cachestat of `[offset, offset + len)` of `path`: (cached, evicted by reclaim) pages.
fn stat(path: &Path, offset: u64, len: u64) -> (u64, u64) {
    let file = File::open(path).unwrap();
    let s = mmtools::sys::cachestat::cachestat(&file, offset, len).unwrap();
    (s.cache, s.evicted)
}

/// Pages of `path` in the page cache, as fincore counts them.
fn fincore_pages(path: &Path) -> u64 {
    let out = util::sh(&format!(
        "fincore --bytes --noheadings --output RES '{}'",
        path.display()
    ));
    out.trim().parse::<u64>().unwrap() / page()
}

/// Writes `len` bytes of noise to `path` (8 MiB blocks, each stamped with its number) and writes them
/// back to the disk.
fn make(path: &Path, len: u64, seed: u64) {
    let block = util::noise(8 * MIB as usize, seed);
    let file = File::create(path).unwrap();
    let mut at = 0;
    while at < len {
        let n = (len - at).min(block.len() as u64) as usize;
        file.write_all_at(&block[..n], at).unwrap();
        file.write_all_at(&at.to_le_bytes(), at).unwrap();
        at += n as u64;
    }
    file.sync_all().unwrap();
}

/// Empties the cache of `path`, then reads `[0, cached)` of it with readahead off, so that exactly
/// that part is cached.
fn cache_prefix(path: &Path, cached: u64) {
    util::evict(path);
    let file = File::open(path).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Random).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let mut at = 0;
    while at < cached {
        file.read_exact_at(&mut buf, at).unwrap();
        at += MIB;
    }
    rustix::fs::fadvise(&file, cached, None, rustix::fs::Advice::DontNeed).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Normal).unwrap();
    // Reclaim may take a few pages back meanwhile, on a machine short of memory: it leaves a record
    // of each (cachestat's evicted count), which DONTNEED does not, so those count as cached.
    let (resident, reclaimed) = stat(path, 0, cached);
    let (beyond, _) = stat(path, cached, 0);
    assert!(
        resident + reclaimed == cached / page() && beyond == 0,
        "setup of {}: {resident} + {reclaimed} pages cached, {beyond} beyond",
        path.display()
    );
}

/// Held by each test here: they measure the page cache of the whole machine, and the others' files
/// would show in it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The files of one setup, on a disk.
struct Setup {
    _dir: tempfile::TempDir,
    src: PathBuf,
    dst: PathBuf,
    service: PathBuf,
}

impl Setup {
    fn new() -> Option<Setup> {
        let Some(dir) = disk_dir() else {
            util::skip("no disk-backed directory");
            return None;
        };
        let src = dir.path().join("src");
        let service = dir.path().join("service");
        make(&src, SRC_LEN, 11);
        if mmtools::sys::cachestat::cachestat(File::open(&src).unwrap(), 0, 0).is_err() {
            util::skip("cachestat(2) is missing");
            return None;
        }
        make(&service, SERVICE_LEN, 12);
        Some(Setup {
            dst: dir.path().join("dst"),
            _dir: dir,
            src,
            service,
        })
    }

    /// The source's first half cached, its second not; the service file cached; no destination.
    fn prepare(&self) {
        let _ = std::fs::remove_file(&self.dst);
        cache_prefix(&self.src, SRC_LEN / 2);
        let mut buf = vec![0u8; MIB as usize];
        let file = File::open(&self.service).unwrap();
        for at in (0..SERVICE_LEN).step_by(MIB as usize) {
            file.read_exact_at(&mut buf, at).unwrap();
        }
    }

    /// What a run left: fractions of the source's halves and of the service file still cached (pages
    /// reclaim took meanwhile count as cached: no tool evicted them), and destination pages cached.
    fn measure(&self, what: &str) -> Left {
        let half = SRC_LEN / 2;
        let pages = half / page();
        let (first, first_reclaimed) = stat(&self.src, 0, half);
        let (second, second_reclaimed) = stat(&self.src, half, half);
        let service_pages = SERVICE_LEN / page();
        let (service, service_reclaimed) = stat(&self.service, 0, 0);
        let left = Left {
            first: (first + first_reclaimed) as f64 / pages as f64,
            second: second as f64 / pages as f64,
            second_reclaimed: second_reclaimed as f64 / pages as f64,
            service: (service + service_reclaimed) as f64 / service_pages as f64,
            dst_pages: if self.dst.exists() {
                fincore_pages(&self.dst)
            } else {
                0
            },
        };
        println!("{what}: {left:?}");
        left
    }
}

#[derive(Debug)]
struct Left {
    /// Of the source's first half (cached before): the fraction still cached.
    first: f64,
    /// Of its second half (not cached before): the fraction cached now.
    second: f64,
    /// Of its second half: the fraction reclaim took back since it was evicted (a drop leaves no such
    /// record, so a neutral run's drops are not in it).
    second_reclaimed: f64,
    /// Of the service file: the fraction still cached.
    service: f64,
    /// Destination pages cached.
    dst_pages: u64,
}

/// The most a neutral copy holds in the page cache of what it brought in: the documented bound.
fn copy_bound_pages() -> u64 {
    mmtools::cache::copy_footprint() / page()
}

/// The most a neutral mmcount holds in the page cache of what it brought in.
fn read_bound_pages() -> u64 {
    mmtools::cache::read_footprint() / page()
}

fn assert_neutral(left: &Left, what: &str) {
    assert!(left.first >= 0.99, "{what}: first half evicted: {left:?}");
    assert!(left.second <= 0.01, "{what}: second half left: {left:?}");
    assert!(left.service >= 0.99, "{what}: service evicted: {left:?}");
    assert!(
        left.dst_pages <= copy_bound_pages(),
        "{what}: destination left cached beyond {} pages: {left:?}",
        copy_bound_pages()
    );
}

fn cmp(a: &Path, b: &Path) {
    let status = Command::new("cmp").arg(a).arg(b).status().unwrap();
    assert!(status.success(), "cmp {} {}", a.display(), b.display());
}

fn threads() -> String {
    THREADS.to_string()
}

#[test]
fn neutral_runs_leave_the_cache_as_found_and_dd_nocache_does_not() {
    let _one = one_at_a_time();
    let Some(s) = Setup::new() else { return };
    let j = threads();
    let mut lines = None;
    for no_mmap in [false, true] {
        let extra: &[&str] = if no_mmap { &["--no-mmap"] } else { &[] };
        let what = format!("mmcp --cache neutral {extra:?}");
        s.prepare();
        bin("mmcp")
            .args(["--cache", "neutral", "-j", &j])
            .args(extra)
            .arg(&s.src)
            .arg(&s.dst)
            .assert()
            .success();
        let left = s.measure(&what);
        assert_neutral(&left, &what);
        cmp(&s.src, &s.dst);

        let what = format!("mmcount --cache neutral {extra:?}");
        s.prepare();
        let out = bin("mmcount")
            .args(["--cache", "neutral", "-l", "-j", &j])
            .args(extra)
            .arg(&s.src)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", util::stderr(&out));
        let left = s.measure(&what);
        assert_neutral(&left, &what);
        lines = Some(util::numbers(&util::stdout(&out)));
    }
    // Standard input redirected from the file: read with read(2), dropped behind the reader too.
    s.prepare();
    let out = Command::new(util::bin_path("mmcount"))
        .args(["--cache", "neutral", "-l"])
        .stdin(File::open(&s.src).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::stderr(&out));
    assert_neutral(&s.measure("mmcount --cache neutral < SRC"), "stdin");
    assert_eq!(util::numbers(&util::stdout(&out)), lines.clone().unwrap());

    // A neutral copy of the same setup, measured the same way, against GNU dd's nocache flags.
    s.prepare();
    bin("mmcp")
        .args(["--cache", "neutral", "-j", &j])
        .arg(&s.src)
        .arg(&s.dst)
        .assert()
        .success();
    let ours = s.measure("mmcp --cache neutral");
    s.prepare();
    let dd = Command::new("dd")
        .arg(format!("if={}", s.src.display()))
        .arg(format!("of={}", s.dst.display()))
        .args(["iflag=nocache", "oflag=nocache", "bs=1M", "status=none"])
        .status()
        .unwrap();
    assert!(dd.success());
    let theirs = s.measure("dd iflag=nocache oflag=nocache");
    cmp(&s.src, &s.dst);
    // What dd leaves is printed above, beside ours. It depends on how fast the disk writes back, so
    // only its effect on the cached first half, which a neutral copy must not touch, is compared.
    assert!(
        ours.first + 0.005 >= theirs.first,
        "{ours:?} vs dd {theirs:?}"
    );
    assert!(ours.service >= 0.99, "{ours:?}");

    // The count is wc's (read last: wc fills the cache).
    let wc = util::sh(&format!("wc -l < '{}'", s.src.display()));
    assert_eq!(lines.unwrap(), vec![wc.parse::<u64>().unwrap()]);
}

#[test]
fn normal_runs_leave_the_whole_source_cached() {
    let _one = one_at_a_time();
    let Some(s) = Setup::new() else { return };
    s.prepare();
    bin("mmcp")
        .args(["--cache", "normal", "-j", &threads()])
        .arg(&s.src)
        .arg(&s.dst)
        .assert()
        .success();
    // Pages of the second half that reclaim took back meanwhile were brought in all the same.
    let left = s.measure("mmcp --cache normal");
    assert!(
        left.first >= 0.99 && left.second + left.second_reclaimed >= 0.99,
        "{left:?}"
    );
    s.prepare();
    bin("mmcount").arg(&s.src).assert().success();
    let left = s.measure("mmcount");
    assert!(
        left.first >= 0.99 && left.second + left.second_reclaimed >= 0.99,
        "{left:?}"
    );
}

/// Cached in /proc/meminfo, in pages.
fn cached_pages() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("Cached:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024 / page()
}

/// A memory cgroup (v1) of one run's own, under the test's: the kernel charges a page-cache page to
/// the cgroup of the process that brought it in, so the cgroup's `cache` is what the run added to
/// Cached, whatever the rest of the machine (other tests, builds) does meanwhile.
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new() -> Option<Cgroup> {
        let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let parent = text.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
        })?;
        let dir = parent.join(format!("mmtools-test-{}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => Some(Cgroup { dir }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Some(Cgroup { dir }),
            Err(_) => None,
        }
    }

    /// `command`, started inside the cgroup.
    fn wrap(&self, command: &Command) -> Command {
        let mut wrapped = Command::new("sh");
        wrapped
            .arg("-c")
            .arg("echo $$ > \"$0\"/cgroup.procs && exec \"$@\"")
            .arg(&self.dir)
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        wrapped
    }

    /// Page-cache pages charged to the cgroup.
    fn cache_pages(&self) -> u64 {
        let text = std::fs::read_to_string(self.dir.join("memory.stat")).unwrap();
        let line = text.lines().find(|l| l.starts_with("cache ")).unwrap();
        line[6..].trim().parse::<u64>().unwrap() / page()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Its pages move to the parent; the directory goes once no process is left in it.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Runs `command` while a thread samples, every 10 ms, the growth of Cached that the run caused and
/// the pages of `src` cached; returns both peaks. The growth is the run's own cgroup's page cache
/// where a memory cgroup can be made (root, cgroup v1), else Cached of the whole machine.
fn peaks(command: &mut Command, src: &Path) -> (u64, u64) {
    // The program's own pages (a debug build is about 50 MB) are read in first: the bound is about the
    // data the run reads and writes, not the code it runs.
    std::fs::read(command.get_program()).unwrap();
    let cgroup = Cgroup::new().map(Arc::new);
    let mut command = match &cgroup {
        Some(cg) => cg.wrap(command),
        None => std::mem::replace(command, Command::new("true")),
    };
    let done = Arc::new(AtomicBool::new(false));
    let start = if cgroup.is_some() { 0 } else { cached_pages() };
    let sampler = {
        let done = done.clone();
        let src = src.to_path_buf();
        let cgroup = cgroup.clone();
        std::thread::spawn(move || {
            let (mut cached, mut own) = (0u64, 0u64);
            let file = File::open(&src).unwrap();
            loop {
                let stop = done.load(Ordering::Relaxed);
                let now = cgroup
                    .as_ref()
                    .map_or_else(cached_pages, |cg| cg.cache_pages());
                cached = cached.max(now.saturating_sub(start));
                let s = mmtools::sys::cachestat::cachestat(&file, 0, 0).unwrap();
                own = own.max(s.cache);
                if stop {
                    return (cached, own);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    let status = command.status().unwrap();
    done.store(true, Ordering::Relaxed);
    assert!(status.success());
    sampler.join().unwrap()
}

#[test]
fn a_neutral_copy_of_2_gib_stays_within_its_bound() {
    let _one = one_at_a_time();
    let Some(dir) = disk_dir() else {
        return util::skip("no disk-backed directory");
    };
    let src = dir.path().join("big");
    let dst = dir.path().join("copy");
    make(&src, 2048 * MIB, 13);
    if mmtools::sys::cachestat::cachestat(File::open(&src).unwrap(), 0, 0).is_err() {
        return util::skip("cachestat(2) is missing");
    }
    let bound = copy_bound_pages();
    // The source's own pages never pass the source's share of the bound. Cached (the whole machine)
    // grows with other programs' files too: a run is retried when only that passed the bound.
    let mut tries = Vec::new();
    for _ in 0..5 {
        util::evict(&src);
        let _ = std::fs::remove_file(&dst);
        let mut mmcp = Command::new(util::bin_path("mmcp"));
        mmcp.args(["--cache", "neutral", "-j", &threads()])
            .arg(&src)
            .arg(&dst);
        let (cached, own) = peaks(&mut mmcp, &src);
        println!("peak growth of Cached {cached} pages, of the source {own}; bound {bound}");
        let read = read_bound_pages();
        assert!(own <= read, "the source alone held {own} pages > {read}");
        tries.push(cached);
        if cached <= bound {
            break;
        }
    }
    assert!(
        tries.iter().any(|&c| c <= bound),
        "Cached grew by {tries:?} pages, bound {bound}"
    );
    assert!(fincore_pages(&dst) <= bound);
    let _ = std::fs::remove_file(&dst);

    let bound = read_bound_pages();
    let mut tries = Vec::new();
    for _ in 0..5 {
        util::evict(&src);
        let mut mmcount = Command::new(util::bin_path("mmcount"));
        mmcount
            .args(["--cache", "neutral", "-j", &threads()])
            .arg(&src)
            .stdout(std::process::Stdio::null());
        let (cached, own) = peaks(&mut mmcount, &src);
        println!(
            "mmcount: peak growth of Cached {cached} pages, of the source {own}; bound {bound}"
        );
        assert!(own <= bound, "the source alone held {own} pages > {bound}");
        tries.push(cached);
        if cached <= bound {
            break;
        }
    }
    assert!(
        tries.iter().any(|&c| c <= bound),
        "Cached grew by {tries:?} pages, bound {bound}"
    );
}

#[test]
fn in_place_keeps_only_what_dst_had_cached_and_verify_stays_neutral() {
    let _one = one_at_a_time();
    let Some(dir) = disk_dir() else {
        return util::skip("no disk-backed directory");
    };
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    make(&src, 64 * MIB, 21);
    make(&dst, 64 * MIB, 22);
    if mmtools::sys::cachestat::cachestat(File::open(&src).unwrap(), 0, 0).is_err() {
        return util::skip("cachestat(2) is missing");
    }
    util::evict(&src);
    // DST has 16M-24M cached: after the copy in place, those pages (rewritten) and no others.
    util::evict(&dst);
    let file = File::open(&dst).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Random).unwrap();
    file.read_exact_at(&mut vec![0u8; 8 * MIB as usize], 16 * MIB)
        .unwrap();
    drop(file);
    let out = bin("mmcp")
        .args(["--cache", "neutral", "--in-place", "--verify", "--json"])
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::stderr(&out));
    let pages = |mib: u64| mib * MIB / page();
    let (kept, reclaimed) = stat(&dst, 16 * MIB, 8 * MIB);
    assert!(
        kept + reclaimed >= pages(8) * 99 / 100,
        "{kept} of the kept range"
    );
    assert_eq!(stat(&dst, 0, 16 * MIB).0 + stat(&dst, 24 * MIB, 0).0, 0);
    assert_eq!(stat(&src, 0, 0).0, 0, "the source, verify included");
    // The summary counts what was dropped: the copy's rewritten pages at least (written through the
    // cache and dropped behind), the source's (read through the cache and dropped behind), and both
    // files once more for the verifying pass: at most 64 + 56 + 64 + 56 MiB. The kept range is counted
    // as kept.
    let summary = util::stdout(&out);
    let summary: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    let dropped = summary["dropped_pages"].as_u64().unwrap();
    let kept = summary["kept_pages"].as_u64().unwrap();
    assert!(
        dropped >= pages(56) && dropped <= pages(4 * 64) && kept <= pages(128),
        "dropped {dropped}, kept {kept}: {summary}"
    );
    // Last: cmp fills the cache.
    cmp(&src, &dst);
}
