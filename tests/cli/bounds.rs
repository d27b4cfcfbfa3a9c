//! Resources stay bounded: an endless `--files0-from` list is read one name at a time, a low limit of
//! open files (`ulimit -n`) or of address space (`ulimit -v`) is worked within, and duplicate entries
//! of a snapshot are one file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::util::{bin_path, stderr, stdout};

/// Resident memory of process `pid` in KiB (VmRSS), if it still runs.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `tool args` on an endless list of empty names (/dev/zero) until it has reported `want` of
/// them, checking all along that it stays under `limit_kib` of resident memory; kills it then.
fn endless_list(tool: &str, args: &[&str], want: u64, limit_kib: u64) {
    let mut child = Command::new(bin_path(tool))
        .args(args)
        .args(["--files0-from", "/dev/zero"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(AtomicU64::new(0));
    let first = Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (lines, first) = (Arc::clone(&lines), Arc::clone(&first));
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if lines.fetch_add(1, Ordering::Relaxed) == 0 {
                    *first.lock().unwrap() = line;
                }
            }
        })
    };
    let start = Instant::now();
    let mut most = 0;
    let outcome = loop {
        if let Some(kib) = rss_kib(child.id()) {
            most = most.max(kib);
        }
        let seen = lines.load(Ordering::Relaxed);
        if most > limit_kib {
            break Err(format!("{most} KiB resident after {seen} names"));
        }
        if seen >= want {
            break Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            break Err(format!("only {seen} names reported in 60 s ({most} KiB)"));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("exited with {status} after {seen} names"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    outcome.unwrap_or_else(|why| panic!("{tool} --files0-from /dev/zero: {why}"));
    assert_eq!(
        *first.lock().unwrap(),
        format!("{tool}: /dev/zero:1: invalid zero-length file name"),
        "as wc reports it"
    );
}

#[test]
fn an_endless_files0_list_is_read_as_a_stream() {
    // wc stays at about 2 MB; we allow some room for the allocator and the thread pool.
    endless_list("mmcount", &[], 200_000, 64 << 10);
    endless_list("mmadvise", &["touch"], 200_000, 64 << 10);
}

#[test]
fn a_name_longer_than_path_max_is_an_error_for_that_entry() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"one\n").unwrap();
    let mut list = vec![b'x'; 10_000];
    list.push(0);
    list.extend_from_slice(a.as_os_str().as_encoded_bytes());
    list.push(0);
    let out = Command::new(bin_path("mmcount"))
        .args(["-l", "--files0-from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&list)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "mmcount: -:1: File name too long\n");
    // As wc: the entry counts as an input, so a total follows.
    assert_eq!(stdout(&out), format!("1 {}\n1 total\n", a.display()));
}

/// A tree of `n` small files under `dir/tree`.
fn tree(dir: &Path, n: usize) -> std::path::PathBuf {
    let root = dir.join("tree");
    for d in 0..n / 100 {
        let sub = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            std::fs::write(sub.join(format!("f{f:03}")), b"data\n").unwrap();
        }
    }
    root
}

#[test]
fn mmadvise_works_within_a_low_limit_of_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path(), 3000);
    for action in ["touch", "willneed", "evict"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 64 && exec \"$0\" {action} --json \"$1\""
            ))
            .arg(bin_path("mmadvise"))
            .arg(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{action}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{action}");
        let summary = stdout(&out).lines().last().unwrap().to_string();
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(
            (v["files"].as_u64(), v["errors"].as_u64()),
            (Some(3000), Some(0)),
            "{action}: {summary}"
        );
    }
}

/// Whether `tool args FILE` succeeds with its address space limited to `kib` KiB (`ulimit -v`).
fn runs_within(tool: &str, args: &[&str], file: &Path, kib: u64) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$@\""))
        .arg("sh")
        .arg(bin_path(tool))
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

/// The smallest address-space limit (to 4 MiB) under which `tool args` works on a one-page file:
/// what the tool needs for itself on this machine, its threads and libraries included.
fn baseline(tool: &str, args: &[&str], small: &Path) -> u64 {
    let (mut low, mut high) = (4u64 << 10, 4u64 << 20);
    assert!(runs_within(tool, args, small, high).status.success());
    while high - low > 4 << 10 {
        let mid = (low + high) / 2;
        if runs_within(tool, args, small, mid).status.success() {
            high = mid;
        } else {
            low = mid;
        }
    }
    high
}

#[test]
fn a_short_address_space_maps_smaller_windows_then_reads() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::write(&small, b"one line\n").unwrap();
    // 300 MB of data (not holes), about 3 million lines.
    let big = dir.path().join("big");
    let mut data = Vec::with_capacity(300 << 20);
    while data.len() < 300 << 20 {
        data.extend_from_slice(
            b"a line of text, 100 bytes long, give or take; the content does not matter here...\n",
        );
    }
    std::fs::write(&big, &data).unwrap();
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    for (tool, args, expect) in [
        (
            "mmcount",
            &["-l"][..],
            format!("{lines} {}\n", big.display()),
        ),
        (
            "mmadvise",
            &["touch"][..],
            // What is resident after is measured again; reclaim on a busy machine may have taken a
            // few pages back by then (99.9%): what was loaded is what must be whole.
            format!("{}: 300M, resident 0 (0.0%) -> ", big.display()),
        ),
    ] {
        // 12 MiB above what the tool needs for a tiny file: far less than the file, or than two
        // 16 MiB windows in flight.
        let limit = baseline(tool, args, &small) + (12 << 10);
        // Evicted, so that touch has all of it to load, not only to measure.
        crate::util::evict(&big);
        let out = runs_within(tool, args, &big, limit);
        assert!(
            out.status.success(),
            "{tool} under ulimit -v {limit}: {}",
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(text.starts_with(&expect), "{tool}: {text}");
        if tool == "mmadvise" {
            assert!(text.contains(", loaded 300M\n"), "{tool}: {text}");
        }
        assert_eq!(stderr(&out), "", "{tool}");
    }
}

#[test]
fn a_snapshot_naming_a_file_many_times_restores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, vec![b'a'; 8192]).unwrap();
    std::fs::write(&b, vec![b'b'; 4096]).unwrap();
    let snap = dir.path().join("snap");
    let out = Command::new(bin_path("mmstat"))
        .arg("--save")
        .arg(&snap)
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&snap).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // The header, a named 5000 times, b once, then a again.
    let mut many = vec![lines[0]];
    many.extend(std::iter::repeat_n(lines[1], 5000));
    many.push(lines[2]);
    many.push(lines[1]);
    let dup = dir.path().join("dup");
    std::fs::write(&dup, many.join("\n") + "\n").unwrap();
    let out = Command::new(bin_path("mmadvise"))
        .args(["restore", "--json"])
        .arg(&dup)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files: Vec<&str> = records
        .iter()
        .filter(|r| r["type"] == "file")
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, [a.to_str().unwrap(), b.to_str().unwrap()]);
    let summary = records.last().unwrap();
    assert_eq!(summary["files"], 2, "{summary}");
    assert_eq!(summary["size"], 8192 + 4096, "{summary}");
}

/// A tmpfs of `size` on `dir`, unmounted when dropped, even when the test fails.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn sparse_always_reserves_no_room_for_the_zeros_it_leaves_out() {
    if !crate::util::is_root() {
        crate::util::skip("mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "2M") else {
        crate::util::skip("cannot mount a tmpfs here");
        return;
    };
    // 8 MiB of written zeros (data, not holes) with a little text at both ends: 2 pages once sparse.
    let src = dir.path().join("zeros");
    let mut bytes = vec![0u8; 8 << 20];
    bytes[..5].copy_from_slice(b"start");
    let end = bytes.len() - 3;
    bytes[end..].copy_from_slice(b"end");
    std::fs::write(&src, &bytes).unwrap();
    let dst = fs.0.join("copy");
    let out = Command::new(bin_path("mmcp"))
        .arg("--sparse=always")
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&dst).unwrap() == bytes, "the copy differs");
    use std::os::unix::fs::MetadataExt;
    let blocks = std::fs::metadata(&dst).unwrap().blocks();
    assert!(blocks * 512 <= 64 << 10, "{blocks} blocks allocated");
    // Without --sparse=always, the zeros are data, and a full disk is found before any byte is written.
    let out = Command::new(bin_path("mmcp"))
        .arg(&src)
        .arg(fs.0.join("copy2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
}

/// `mmstat --save` (like `mmadvise lock --pidfile`) writes its file whole or not at all: past a file
/// size limit (`ulimit -f`) the save is an error (File too large, not death by SIGXFSZ) that leaves
/// the old snapshot as it was and nothing beside it; and the files are built anonymously (O_TMPFILE),
/// so no name ever holds a partial file, which strace shows.
#[test]
fn snapshots_are_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut names = Vec::new();
    for i in 0..300 {
        // Long names make a snapshot of a few hundred KiB.
        let name = format!("{}-{i}", "n".repeat(200));
        crate::util::write(d, &name, b"x");
        names.push(name);
    }
    let snap = d.join("out").join("snap");
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(&snap, b"old snapshot\n").unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 8; exec "$0" --save "$1" "$2""#)
        .arg(crate::util::bin_path("mmstat"))
        .arg(&snap)
        .arg(d)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = crate::util::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert_eq!(std::fs::read(&snap).unwrap(), b"old snapshot\n");
    let left: Vec<_> = std::fs::read_dir(d.join("out")).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing beside the snapshot: {left:?}");

    if Command::new("strace").arg("-V").output().is_err() {
        crate::util::skip("strace is not installed");
        return;
    }
    let trace = d.join("trace");
    let out = Command::new("strace")
        .args([
            "-f",
            "-e",
            "trace=openat,linkat,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&trace)
        .arg(crate::util::bin_path("mmstat"))
        .arg("--save")
        .arg(&snap)
        .arg(d.join(&names[0]))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
    let trace = std::fs::read_to_string(&trace).unwrap();
    let out_dir = d.join("out").display().to_string();
    let opens: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("openat") && l.contains(&out_dir))
        .collect();
    assert!(
        opens.iter().all(|l| l.contains("O_TMPFILE")),
        "only anonymous files are opened in the snapshot's directory: {opens:#?}"
    );
    assert!(trace.contains("linkat"), "{trace}");
}
