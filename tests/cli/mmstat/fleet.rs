//! mmstat for fleets: --output-file replaces its file whole (a reader never sees part of one, nothing
//! is left beside it), and the textfile goes to its real consumers, Debian's promtool and
//! node_exporter, in every variant, hostile names included.

use std::ffi::OsStr;
use std::io::{Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::util::bin_path;

/// A tree of `n` files in 10 directories, so that a report is tens of KiB (several writes).
fn tree(dir: &Path, n: usize) -> std::path::PathBuf {
    let root = dir.join("tree");
    for i in 0..n {
        let sub = root.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("file-{i:04}")), vec![b'x'; 100 + i]).unwrap();
    }
    root
}

/// Whether `text` is a whole report of the format: JSON ends with its summary, Prometheus has as
/// many lines as the last whole file and ends with a newline, the table ends with its summary line.
fn whole(format: &str, text: &str, lines: usize) -> bool {
    match format {
        "json" => {
            text.ends_with('\n')
                && text
                    .lines()
                    .all(|l| serde_json::from_str::<Value>(l).is_ok())
                && text
                    .lines()
                    .last()
                    .is_some_and(|l| serde_json::from_str::<Value>(l).unwrap()["type"] == "summary")
        }
        "prometheus" => text.ends_with('\n') && text.lines().count() == lines,
        _ => {
            text.ends_with('\n')
                && text
                    .lines()
                    .last()
                    .is_some_and(|l| l.starts_with("300 files, "))
        }
    }
}

fn entries(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

#[test]
fn output_file_is_only_ever_seen_whole_and_leaves_nothing_beside_it() {
    let dir = tempdir();
    let root = tree(dir.path(), 300);
    for format in ["json", "prometheus", "text"] {
        let outdir = dir.path().join(format!("out-{format}"));
        std::fs::create_dir(&outdir).unwrap();
        let file = outdir.join("report");
        // The expected length of a Prometheus file, from a run of its own.
        let reference = mmstat(&["--format", format, p(&root)]);
        let lines = stdout(&reference).lines().count();
        let mut child = Command::new(bin_path("mmstat"))
            .args(["--format", format, "--watch", "0.01", "--count", "100"])
            .arg("--output-file")
            .arg(&file)
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let done = AtomicBool::new(false);
        let (reads, versions) = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let (mut reads, mut versions) = (0, std::collections::HashSet::new());
                while !done.load(Ordering::SeqCst) {
                    let Ok(text) = std::fs::read_to_string(&file) else {
                        continue;
                    };
                    assert!(
                        whole(format, &text, lines),
                        "{format}: a partial file ({} bytes):\n{text}",
                        text.len()
                    );
                    reads += 1;
                    versions.insert(text);
                }
                (reads, versions.len())
            });
            let status = child.wait().unwrap();
            done.store(true, Ordering::SeqCst);
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(status.success(), "{format}: {err}");
            reader.join().unwrap()
        });
        assert!(reads > 0 && versions >= 2, "{format}: {reads} reads");
        assert_eq!(entries(&outdir), ["report"], "{format}: no temporary left");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(whole(format, &text, lines), "{format}: {text}");
    }
}

#[test]
fn output_file_errors_leave_the_old_file_and_nothing_else() {
    let dir = tempdir();
    let root = tree(dir.path(), 300);
    let missing = dir.path().join("no/such/dir/out.prom");
    let out = mmstat(&["--output-file", p(&missing), p(&root)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "mmstat: error writing '{}': No such file or directory\n",
            missing.display()
        )
    );
    assert!(out.stdout.is_empty());
    // A filesystem too small for the report: the old report stays, whole, and alone.
    if !is_root() {
        skip("mounting a small tmpfs needs root");
        return;
    }
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    if !mounted.success() {
        skip("cannot mount a tmpfs here");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    let file = small.join("mmstat.prom");
    std::fs::write(&file, "mmstat_files 1\n").unwrap();
    let out = mmstat(&[
        "--format",
        "prometheus",
        "--output-file",
        p(&file),
        p(&root),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "mmstat: error writing '{}': No space left on device\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mmstat_files 1\n");
    assert_eq!(entries(&small), ["mmstat.prom"]);
}

#[test]
fn output_file_under_watch_ends_whole_at_sigterm() {
    let dir = tempdir();
    let root = tree(dir.path(), 300);
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let file = outdir.join("mmstat.json");
    let mut child = Command::new(bin_path("mmstat"))
        .args(["--json", "--watch", "0.01", "--output-file"])
        .arg(&file)
        .arg(&root)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait for a few refreshes to have replaced the file.
    while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("\"refresh\":3,")) {
        assert!(Instant::now() < deadline, "no third refresh");
        std::thread::yield_now();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(whole("json", &std::fs::read_to_string(&file).unwrap(), 0));
    assert_eq!(entries(&outdir), ["mmstat.json"]);
}

/// A tree whose names are hostile to the exposition format: a newline, a quote, a backslash, and two
/// names (and two directories) that differ only in bytes that are not UTF-8.
fn hostile(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("hostile");
    std::fs::create_dir(&root).unwrap();
    for d in [&b"d\xff"[..], b"d\xfe", b"q\"uo\\te\nd"] {
        let sub = root.join(OsStr::from_bytes(d));
        std::fs::create_dir(&sub).unwrap();
        for f in [
            &b"a\xff"[..],
            b"a\xfe",
            b"new\nline",
            b"quo\"te",
            b"back\\slash",
            b"plain",
        ] {
            std::fs::write(sub.join(OsStr::from_bytes(f)), b"some bytes\n").unwrap();
        }
    }
    root
}

const VARIANTS: &[&[&str]] = &[
    &[],
    &["--top", "2"],
    &["--summary"],
    &["--range", "0:4"],
    &["--group-by", "dir"],
    &["--group-by", "dir:0"],
    &["--group-by", "dir:1", "--top", "2"],
    &["--group-by", "dir:3", "--sort", "name"],
];

/// promtool's verdict on an exposition: None when it passes without a word.
fn promtool(text: &[u8]) -> Option<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    let words = format!("{}{}", stdout(&out), stderr(&out));
    (!out.status.success() || !words.is_empty()).then_some(words)
}

#[test]
fn promtool_passes_every_variant_hostile_names_included() {
    if Command::new("promtool").arg("--version").output().is_err() {
        skip("promtool (Debian's prometheus package) is needed");
        return;
    }
    let dir = tempdir();
    let (plain, hostile) = (tree(dir.path(), 30), hostile(dir.path()));
    for variant in VARIANTS {
        for root in [&plain, &hostile] {
            let mut args = vec!["--format", "prometheus"];
            args.extend(*variant);
            args.push(p(root));
            let out = mmstat(&args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            if let Some(words) = promtool(&out.stdout) {
                panic!("{args:?}: promtool: {words}\n{}", stdout(&out));
            }
        }
    }
}

/// node_exporter, stopped when dropped.
struct Exporter {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    /// Starts node_exporter with only the textfile collector, on a free port of 127.0.0.1.
    fn start(textfiles: &Path, log: &Path) -> Option<Exporter> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus-node-exporter")
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!(
                "--collector.textfile.directory={}",
                textfiles.display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .ok()?;
        Some(Exporter {
            child,
            port,
            log: log.to_path_buf(),
        })
    }

    /// One GET /metrics: the body of a 200 answer.
    fn get(&self) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n")?;
        assert!(head.contains(" 200 "), "{head}");
        Some(body.to_string())
    }

    /// Starts node_exporter and waits until it answers, on another port when the one picked was
    /// taken in the meantime (by a test running beside this one).
    fn running(textfiles: &Path, log: &Path) -> Exporter {
        for _ in 0..5 {
            let mut exporter = Exporter::start(textfiles, log).expect("node_exporter starts");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if exporter.get().is_some() {
                    return exporter;
                }
                if let Ok(Some(status)) = exporter.child.try_wait() {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    assert!(
                        text.contains("address already in use"),
                        "node_exporter exited ({status}): {text}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "node_exporter never answered");
                std::thread::yield_now();
            }
        }
        panic!("no free port for node_exporter");
    }

    /// Scrapes, polling until node_exporter listens (it must within a minute).
    fn scrape(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(body) = self.get() {
                return body;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "node_exporter exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "node_exporter never answered");
            std::thread::yield_now();
        }
    }
}

/// The value of the sample `series` (name and labels as node_exporter writes them) in a scrape.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn node_exporter_serves_every_variant_without_a_scrape_error() {
    if Command::new("prometheus-node-exporter")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("node_exporter (Debian's prometheus-node-exporter) is needed");
        return;
    }
    let dir = tempdir();
    let (plain, hostile) = (tree(dir.path(), 30), hostile(dir.path()));
    let textfiles = dir.path().join("textfile");
    std::fs::create_dir(&textfiles).unwrap();
    let file = textfiles.join("mmstat.prom");
    let mut exporter = Exporter::running(&textfiles, &dir.path().join("node_exporter.log"));
    for variant in VARIANTS {
        for root in [&plain, &hostile] {
            let mut args = vec!["--format", "prometheus", "--output-file", p(&file)];
            args.extend(*variant);
            args.push(p(root));
            let out = mmstat(&args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            let body = exporter.scrape();
            let log = std::fs::read_to_string(&exporter.log).unwrap();
            assert!(!log.contains("level=error"), "{args:?}: {log}");
            assert_eq!(
                sample(&body, "node_textfile_scrape_error"),
                Some(0.0),
                "{args:?}"
            );
            let files = if root == &plain { 30.0 } else { 18.0 };
            assert_eq!(sample(&body, "mmstat_files"), Some(files), "{args:?}");
            let series = body.lines().filter(|l| l.starts_with("mmstat_")).count();
            let written = std::fs::read_to_string(&file).unwrap();
            let samples = written.lines().filter(|l| !l.starts_with('#')).count();
            assert_eq!(series, samples, "{args:?}: every sample is served");
            if root == &hostile && variant.is_empty() {
                // Names that differ only in bytes that are not UTF-8 are distinct series.
                let pages = body
                    .lines()
                    .filter(|l| l.starts_with("mmstat_file_pages{"))
                    .count();
                assert_eq!(pages, 18, "{body}");
            }
        }
    }
}
