//! Helpers shared by the CLI tests: running binaries, making files, and comparing with reference tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The page size of this machine.
pub fn page() -> usize {
    // SAFETY-free: ask the shell tool rather than libc, so the tests need no unsafe.
    let out = Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("page size")
}

/// A command for one of our binaries.
pub fn bin(name: &str) -> assert_cmd::Command {
    assert_cmd::Command::new(bin_path(name))
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a shell pipeline and returns its stdout, trimmed.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Whether we run as root (some tests need a non-root uid to be meaningful, others need root).
pub fn is_root() -> bool {
    sh("id -u") == "0"
}

/// Whether skips are failures: `MMTOOLS_STRICT_TESTS=1`, which `.ci/run` sets, so that a green CI run
/// means every test ran.
pub fn strict() -> bool {
    std::env::var_os("MMTOOLS_STRICT_TESTS").is_some_and(|v| v == "1")
}

/// For a test whose precondition is missing: prints the conventional `skipped: <reason>` line (the
/// caller then returns), or fails the test with that reason under `MMTOOLS_STRICT_TESTS=1`.
pub fn skip(reason: &str) {
    assert!(!strict(), "skipped: {reason} (MMTOOLS_STRICT_TESTS=1)");
    println!("skipped: {reason}");
}

/// The type of the filesystem holding `path`, as `stat -f` names it (`ext2/ext3`, `tmpfs`, `fuseblk`...).
pub fn fs_type(path: &Path) -> String {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output()
        .expect("stat");
    assert!(out.status.success(), "stat -f: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// [`disk_dir`], or a skip and return from the test when there is none.
macro_rules! disk_dir_or_skip {
    () => {
        match $crate::util::disk_dir() {
            Some(d) => d,
            None => {
                $crate::util::skip(
                    "no temporary directory on a disk (tmpfs pages cannot be evicted)",
                );
                return;
            }
        }
    };
}
pub(crate) use disk_dir_or_skip;

/// A temporary directory on a filesystem backed by storage, whose pages can be written back and
/// evicted (not tmpfs or ramfs, where they stay): `TMPDIR` when it is on one, else a directory under
/// cargo's target directory, else /var/tmp. None only when all of them are in memory.
pub fn disk_dir() -> Option<tempfile::TempDir> {
    let bases = [
        std::env::temp_dir(),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from("/var/tmp"),
    ];
    bases.into_iter().find_map(|base| {
        let dir = tempfile::Builder::new()
            .prefix("mmtools-test")
            .tempdir_in(&base)
            .ok()?;
        let fs = fs_type(dir.path());
        (fs != "tmpfs" && fs != "ramfs").then_some(dir)
    })
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// stdout of a finished process, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a finished process, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The path of one of our binaries, for tests that spawn, signal or time out the process themselves.
pub fn bin_path(name: &str) -> &'static Path {
    match name {
        "mmcount" => assert_cmd::cargo::cargo_bin!("mmcount"),
        "mmadvise" => assert_cmd::cargo::cargo_bin!("mmadvise"),
        "mmcounter" => assert_cmd::cargo::cargo_bin!("mmcounter"),
        "mmstat" => assert_cmd::cargo::cargo_bin!("mmstat"),
        "mmcp" => assert_cmd::cargo::cargo_bin!("mmcp"),
        other => panic!("unknown binary {other}"),
    }
}

/// White space in the C locale: space, \t, \n, \v, \f, \r.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Words by their definition, one byte at a time: maximal runs of bytes that are not white space
/// (GNU wc 9.5+ in the C locale; unprintable and invalid bytes are parts of words).
pub fn reference_words(bytes: &[u8]) -> u64 {
    let mut words = 0;
    let mut in_word = false;
    for &b in bytes {
        if !is_space(b) && !in_word {
            words += 1;
        }
        in_word = !is_space(b);
    }
    words
}

/// How many bytes of `bytes` satisfy `pred`.
pub fn count_if(bytes: &[u8], pred: impl Fn(u8) -> bool) -> u64 {
    bytes.iter().filter(|&&b| pred(b)).count() as u64
}

/// Whether wc 9.1 counts words in `bytes` by the same definition: every byte is printable ASCII or
/// white space (wc 9.1 skips other bytes instead of treating them as parts of words).
pub fn is_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || is_space(b))
}

/// Text like prose: words of letters and digits separated by spaces, tabs, newlines and some CRLF.
pub fn prose(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[
        b"the",
        b"map",
        b"window",
        b"of",
        b"a",
        b"page",
        b"count",
        b"5",
        b"x",
        b"bytes",
        b"lines",
        b"mmcount",
        b"zero",
        b"kernel",
        b"cache",
        b"C:\\path",
        b"tab",
    ];
    let r = noise(len, seed);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(WORDS[r[i] as usize % WORDS.len()]);
        out.extend_from_slice(match r[(i + 1) % len.max(1)] % 16 {
            0 => b"\n",
            1 => b"\r\n",
            2 => b"\t",
            3 => b"  ",
            _ => b" ",
        });
        i = (i + 2) % len.max(1);
    }
    out.truncate(len);
    out
}

/// Makes a named pipe at `path`.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

/// Waits for `child` at most `limit`; kills it and panics when it is still running then (a hang fails
/// the test rather than the CI run).
pub fn wait_or_kill(child: &mut std::process::Child, limit: std::time::Duration, what: &str) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Runs one of our tools with `args` to its end, killing it and failing the test when it runs past
/// `limit` (a hang fails the test rather than the CI run).
pub fn run_within(tool: &str, args: &[&std::ffi::OsStr], limit: std::time::Duration) -> Output {
    let mut child = Command::new(bin_path(tool))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_or_kill(&mut child, limit, &format!("{tool} {args:?}"));
    child.wait_with_output().unwrap()
}

/// Starts a child that writes `source` into the FIFO `fifo`, and returns once that child is blocked
/// opening the FIFO for writing: from then on the FIFO has a writer, so a reader that opens it reads
/// the data rather than an immediate end of file.
pub fn fifo_writer(fifo: &Path, source: &Path) -> std::process::Child {
    fifo_writer_script(fifo, r#"exec cat "$SRC" > "$FIFO""#, source)
}

/// Like [`fifo_writer`], for any shell `script` that opens `$FIFO` for writing (`$SRC` is `source`).
pub fn fifo_writer_script(fifo: &Path, script: &str, source: &Path) -> std::process::Child {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("SRC", source)
        .env("FIFO", fifo)
        .spawn()
        .expect("sh");
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        // Asleep in openat (257) or open (2) of something for writing (the shell's own start opens
        // libraries read-only: caught running in one of those on a busy machine, it is not there
        // yet), or the kernel's name for the wait itself.
        let fields: Vec<&str> = syscall.split_whitespace().collect();
        let flags = match fields.first() {
            Some(&"257") => fields.get(3),
            Some(&"2") => fields.get(2),
            _ => None,
        };
        let for_writing = flags
            .and_then(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & 3 != 0);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let asleep = stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| rest.starts_with('S'));
        let no_wchan = wchan.is_empty() || wchan == "0";
        let waiting = wchan.contains("partner") || wchan.contains("fifo") || no_wchan;
        if asleep && for_writing && waiting {
            return child;
        }
        if child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the FIFO writer never blocked in open (wchan {wchan:?}, syscall {syscall:?})");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Writes a file's dirty pages back and drops its pages from the page cache, so the next read of it
/// comes from the disk.
pub fn evict(path: &Path) {
    let file = std::fs::File::open(path).unwrap();
    rustix::fs::fdatasync(&file).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
}

/// Pages of `path` that reclaim has evicted since they were last loaded (cachestat's count; 0 before
/// Linux 6.5). DONTNEED, with which the tests make files cold, leaves no such record, so a check that a
/// command loaded a file counts these as loaded: on a machine short of memory (CI has been) reclaim may
/// take a few back before the test looks, which is no failure of the command. More than 2% of the
/// file's `pages`, and the check would mean nothing: the test fails.
pub fn reclaimed_pages(path: &Path, pages: u64) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let evicted = mmtools::sys::cachestat::cachestat(&file, 0, 0).map_or(0, |s| s.evicted);
    assert!(
        evicted * 50 <= pages.max(50),
        "{}: reclaim evicted {evicted} of its {pages} pages: too short of memory to tell",
        path.display()
    );
    evicted
}

/// The numbers of one output line of mmcount or wc (everything but a trailing name).
pub fn numbers(line: &str) -> Vec<u64> {
    line.split_whitespace()
        .map_while(|w| w.parse().ok())
        .collect()
}

/// Every counter, so one run checks them all. Columns: lines, words, spaces, blanks, whitespace,
/// tabs, NULs, backslashes, the digit 5, bytes.
pub const ALL: &[&str] = &[
    "-lwsbWc", "-B", "\\t", "-B", "\\x00", "-B", "\\\\", "-B", "5",
];

/// The counts of `bytes` by the definitions, in the column order of [`ALL`].
pub fn reference(bytes: &[u8]) -> Vec<u64> {
    vec![
        count_if(bytes, |b| b == b'\n'),
        reference_words(bytes),
        count_if(bytes, |b| b == b' '),
        count_if(bytes, |b| b == b' ' || b == b'\t'),
        count_if(bytes, is_space),
        count_if(bytes, |b| b == b'\t'),
        count_if(bytes, |b| b == 0),
        count_if(bytes, |b| b == b'\\'),
        count_if(bytes, |b| b == b'5'),
        bytes.len() as u64,
    ]
}

/// The same counts by independent tools (words by squeezing white space into newlines and counting
/// non-empty lines), and `LC_ALL=C wc -w` apart.
pub fn tools(path: &Path) -> (Vec<u64>, u64) {
    let script = r#"
        wc -l < "$F"
        tr -s ' \t\n\v\f\r' '\n' < "$F" | grep -ac . || true
        tr -cd ' ' < "$F" | wc -c
        tr -cd ' \t' < "$F" | wc -c
        tr -cd ' \t\n\v\f\r' < "$F" | wc -c
        tr -cd '\t' < "$F" | wc -c
        tr -cd '\000' < "$F" | wc -c
        tr -cd '\\' < "$F" | wc -c
        tr -cd '5' < "$F" | wc -c
        wc -c < "$F"
        wc -w < "$F"
    "#;
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("F", path)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut all: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let wc_words = all.pop().unwrap();
    (all, wc_words)
}

/// Whether `pid` has a mapping of `path` (some window of it is mapped now).
pub fn maps_file(pid: u32, path: &Path) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map(|maps| maps.lines().any(|l| l.ends_with(path.to_str().unwrap())))
        .unwrap_or(false)
}

/// The states of `pid`'s threads, as /proc/PID/task/TID/stat gives them (`R`, `S`, `T`...); empty when
/// the process is gone.
fn thread_states(pid: u32) -> Vec<char> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            stat.rsplit(')').next()?.trim_start().chars().next()
        })
        .collect()
}

/// Waits until every thread of `pid` is stopped (or gone).
pub fn wait_stopped(pid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !thread_states(pid)
        .iter()
        .all(|s| matches!(s, 'T' | 't' | 'Z' | 'X'))
    {
        assert!(std::time::Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// System call numbers of nanosleep and clock_nanosleep on this architecture.
#[cfg(target_arch = "x86_64")]
const SLEEP_SYSCALLS: [&str; 2] = ["35", "230"];
#[cfg(target_arch = "aarch64")]
const SLEEP_SYSCALLS: [&str; 2] = ["101", "115"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SLEEP_SYSCALLS: [&str; 2] = ["", ""];

/// Waits until one of `child`'s threads sleeps in nanosleep or clock_nanosleep, as the kernel's
/// /proc/PID/task/TID/syscall shows it: for a program whose only sleep is a poll loop, proof that it
/// has reached that loop. Panics (killing the child) after `limit`, or when the child exits first.
pub fn wait_sleeping(child: &mut std::process::Child, limit: std::time::Duration, what: &str) {
    let pid = child.id();
    let deadline = std::time::Instant::now() + limit;
    loop {
        let sleeping = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| {
                let call = std::fs::read_to_string(t.path().join("syscall")).unwrap_or_default();
                let nr = call.split(' ').next().unwrap_or("");
                !nr.is_empty() && SLEEP_SYSCALLS.contains(&nr)
            });
        if sleeping {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: ended ({status}) before it slept");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: never slept within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
