//! Faults and awkward inputs: a file that changes size while mmcount has it mapped (the SIGBUS guard),
//! a FIFO with no writer, a closed output pipe, sparse files.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::util::*;

#[test]
fn closed_output_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a-file-with-a-long-name-so-the-output-fills-a-pipe",
        b"a b\n",
    );
    for json in [false, true] {
        // About 300 KiB of output: far more than a pipe holds, so mmcount must meet the closed pipe.
        let mut mmcount = Command::new(bin_path("mmcount"));
        mmcount.arg("-lwc");
        if json {
            mmcount.arg("--json");
        }
        let mut mmcount = mmcount
            .args(std::iter::repeat_n(&f, 5000))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let head = Command::new("head")
            .arg("-1")
            .stdin(mmcount.stdout.take().unwrap())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&head.stdout).lines().count(), 1);
        wait_or_kill(&mut mmcount, Duration::from_secs(60), "mmcount | head -1");
        let out = mmcount.wait_with_output().unwrap();
        assert_eq!(stderr(&out), "", "json: {json}");
        assert_eq!(out.status.signal(), None, "json: {json}");
        assert_eq!(out.status.code(), Some(0), "json: {json}");
    }
}

#[test]
fn closed_output_pipe_after_a_failed_file_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a-file-with-a-long-name-so-the-output-fills-a-pipe",
        b"a b\n",
    );
    let missing = dir.path().join("missing");
    let mut mmcount = Command::new(bin_path("mmcount"))
        .arg(&missing)
        .args(std::iter::repeat_n(&f, 5000))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let head = Command::new("head")
        .arg("-1")
        .stdin(mmcount.stdout.take().unwrap())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout).lines().count(), 1);
    wait_or_kill(
        &mut mmcount,
        Duration::from_secs(60),
        "mmcount missing ... | head -1",
    );
    let out = mmcount.wait_with_output().unwrap();
    assert_eq!(
        stderr(&out),
        format!(
            "mmcount: {}: No such file or directory\n",
            missing.display()
        )
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the missing file still fails the run"
    );
}

#[test]
fn fifo_without_a_writer_is_empty_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for mode in [&[][..], &["--no-mmap"], &["-lwc", "-j1"]] {
        let mut child = Command::new(bin_path("mmcount"))
            .args(mode)
            .arg(&fifo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_or_kill(&mut child, Duration::from_secs(20), "mmcount FIFO");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let zeros = if mode.contains(&"-lwc") { 3 } else { 1 };
        assert_eq!(numbers(&stdout(&out)), vec![0; zeros], "{mode:?}");
        assert!(stdout(&out).trim_end().ends_with("/fifo"));
    }
}

#[test]
fn sparse_file_holes_read_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse");
    let len = 12u64 << 20;
    let file = fs::File::create(&path).unwrap();
    file.set_len(len).unwrap();
    // A little data in the middle of the holes, across a 64 KiB window boundary and at the very end.
    for (at, text) in [
        (5u64 << 20, &b"some words\n"[..]),
        ((8 << 20) - 3, b"ab cd\tef\n"),
        (len - 4, b" x \n"),
    ] {
        std::os::unix::fs::FileExt::write_all_at(&file, text, at).unwrap();
    }
    drop(file);
    let bytes = fs::read(&path).unwrap();
    let expected = vec![
        count_if(&bytes, |b| b == b'\n'),
        reference_words(&bytes),
        count_if(&bytes, |b| b == b' '),
        count_if(&bytes, |b| b == 0),
        len,
    ];
    let tools: Vec<u64> = sh(&format!(
        "f='{}'; wc -l < $f; tr -cd ' ' < $f | wc -c; tr -cd '\\000' < $f | wc -c; wc -c < $f",
        path.display()
    ))
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect();
    assert_eq!(
        tools,
        [expected[0], expected[2], expected[3], expected[4]],
        "tools and the reference disagree"
    );
    for mode in [&[][..], &["--no-mmap"], &["-j2", "--window-size", "64K"]] {
        let out = bin("mmcount")
            .args(["-lws", "-B", "\\0", "-c"])
            .args(mode)
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(numbers(&stdout(&out)), expected, "{mode:?}");
    }
}

/// A change made to a file while it is being read.
type Change<'a> = dyn Fn(&Path) + 'a;

/// Runs `mmcount --window-size 1M -j1 PATH` on the (evicted) file, stops it while a window of the file is
/// mapped, calls `change` on the file, and lets it go on. Returns the run's output, and whether
/// `change` was made mid-scan (false when the scan could not be caught with a window mapped).
fn change_mid_scan(path: &Path, change: &Change<'_>) -> (Output, bool) {
    evict(path);
    let mut child: Child = Command::new(bin_path("mmcount"))
        .args(["--window-size", "1M", "-j1"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let process = Pid::from_child(&child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut changed = false;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "mmcount did not finish");
        if !maps_file(pid, path) {
            continue;
        }
        kill_process(process, Signal::STOP).unwrap();
        wait_stopped(pid);
        // Stopped with a window mapped: the scan has opened the file, and its final size check (made after
        // the last window is unmapped) has not run yet.
        if maps_file(pid, path) {
            change(path);
            changed = true;
        }
        kill_process(process, Signal::CONT).unwrap();
        if changed {
            break;
        }
    }
    wait_or_kill(
        &mut child,
        Duration::from_secs(120),
        "mmcount on a changing file",
    );
    (child.wait_with_output().unwrap(), changed)
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// A 256 MiB text file truncated, shrunk or grown while mmcount reads it through 1 MiB windows on one
/// thread. The process is stopped with a window mapped while the file changes, so the outcome is
/// deterministic once that moment is caught.
#[test]
fn file_changing_size_while_mapped() {
    const MIB: usize = 1 << 20;
    // On a disk, where evict makes each window a slow read from the device: easy to catch mapped.
    let dir = disk_dir().unwrap_or_else(|| tempfile::tempdir().unwrap());
    let path: PathBuf = dir.path().canonicalize().unwrap().join("big.txt");
    let block = prose(MIB, 42);
    let blocks = 256;
    let mut file = fs::File::create(&path).unwrap();
    for _ in 0..blocks {
        file.write_all(&block).unwrap();
    }
    drop(file);
    let len = (blocks * MIB) as u64;
    let spaces = count_if(&block, |b| b == b' ') * blocks as u64;
    let full = format!("{spaces} {}\n", path.display());
    let changed_size = format!(
        "mmcount: {}: file changed size while being read\n",
        path.display()
    );

    let scenarios: [(&str, &Change<'_>); 3] = [
        // Grown (a concurrent writer appends): counted as it was when opened.
        ("grown", &|p: &Path| {
            OpenOptions::new()
                .append(true)
                .open(p)
                .unwrap()
                .write_all(&vec![b' '; MIB])
                .unwrap();
        }),
        // Shrunk inside its last page: no fault, but the size check sees it.
        ("shrunk by 10 bytes", &|p: &Path| set_len(p, len - 10)),
        // Truncated to nothing: every page still to be read faults (SIGBUS), and the guard catches it.
        ("truncated to 0", &|p: &Path| set_len(p, 0)),
    ];
    let mut skipped = Vec::new();
    for (what, change) in scenarios {
        let mut caught = false;
        for attempt in 0..5 {
            let (out, changed) = change_mid_scan(&path, change);
            let report = format!(
                "{what}, attempt {attempt}: status {:?}, stdout {:?}, stderr {:?}",
                out.status,
                stdout(&out),
                stderr(&out)
            );
            assert_eq!(out.status.signal(), None, "died of a signal: {report}");
            if !changed {
                // Nothing changed: the whole file must have been counted.
                assert_eq!(out.status.code(), Some(0), "{report}");
                assert_eq!(stdout(&out), full, "{report}");
                continue;
            }
            if what == "grown" {
                assert_eq!(out.status.code(), Some(0), "{report}");
                assert_eq!(stdout(&out), full, "counted as opened: {report}");
                assert_eq!(stderr(&out), "", "{report}");
            } else {
                assert_eq!(out.status.code(), Some(1), "{report}");
                assert_eq!(
                    stdout(&out),
                    "",
                    "no counts for a file that changed: {report}"
                );
                assert_eq!(stderr(&out), changed_size, "{report}");
            }
            // Back to the original content for the next scenario.
            set_len(&path, len.min(fs::metadata(&path).unwrap().len()));
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            std::os::unix::fs::FileExt::write_all_at(&file, &block, len - MIB as u64).unwrap();
            println!("{what}: changed mid-scan on attempt {attempt}");
            caught = true;
            break;
        }
        if !caught {
            skipped.push(what);
        }
    }
    if !skipped.is_empty() {
        skip(&format!(
            "could not win the truncation race for: {}",
            skipped.join(", ")
        ));
    }
}

/// The same file counted while another process keeps shrinking and regrowing it: whatever the timing,
/// each run either counts the whole file or reports the change, and never dies of a signal.
#[test]
fn file_shrinking_under_repeated_runs_never_kills() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flapping");
    let data = prose(16 << 20, 43);
    fs::write(&path, &data).unwrap();
    let spaces = count_if(&data, |b| b == b' ');
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flapper = {
        let (path, stop) = (path.clone(), stop.clone());
        let data = data.clone();
        std::thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                file.set_len((i * 7919) % (data.len() as u64 / 2)).unwrap();
                std::thread::sleep(Duration::from_millis(3));
                std::os::unix::fs::FileExt::write_all_at(&file, &data, 0).unwrap();
                std::thread::sleep(Duration::from_millis(3));
                i += 1;
            }
        })
    };
    let mut outcomes = (0, 0);
    for _ in 0..12 {
        let out = bin("mmcount")
            .args(["--window-size", "64K", "-j2"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), None, "{}", stderr(&out));
        match out.status.code() {
            Some(0) => {
                // Opened while whole (the file is only ever shrunk and restored whole), or opened while
                // short and counted as it was then: the count is that of a prefix, never more.
                let n = numbers(&stdout(&out))[0];
                assert!(n <= spaces, "{n} > {spaces}");
                outcomes.0 += 1;
            }
            Some(1) => {
                assert!(
                    stderr(&out).ends_with(": file changed size while being read\n"),
                    "{}",
                    stderr(&out)
                );
                assert_eq!(stdout(&out), "");
                outcomes.1 += 1;
            }
            other => panic!("status {other:?}: {}", stderr(&out)),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flapper.join().unwrap();
    println!(
        "counted {} times, changed size {} times",
        outcomes.0, outcomes.1
    );
}

/// A writer that keeps a FIFO open but never writes holds the reader: that is reading its data, not a
/// hang. Closing it ends the count. (Bounded by a timeout, so a real hang fails instead.)
#[test]
fn fifo_whose_writer_closes_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let empty = write(dir.path(), "empty", b"");
    mkfifo(&fifo);
    let mut writer = fifo_writer(&fifo, &empty);
    let mut child = Command::new(bin_path("mmcount"))
        .arg("-lc")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_or_kill(&mut child, Duration::from_secs(20), "mmcount FIFO");
    wait_or_kill(&mut writer, Duration::from_secs(20), "writer");
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(numbers(&text), vec![0, 0]);
    assert!(child.wait().unwrap().success());
}

/// `-j` builds a pool of that many threads before any work: 65535 of them spun for minutes on two
/// cores (4096 took 5 s) to count a 4-byte file. The count is bounded, with a usage error that says so.
#[test]
fn absurd_thread_counts_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f", b"a b\n");
    let f = f.to_str().unwrap();
    let runs: [&[&str]; 4] = [
        &["mmcount"],
        &["mmstat"],
        &["mmadvise", "touch"],
        &["mmcp", f],
    ];
    for run in runs {
        let dst = dir.path().join("copy");
        let last = if run[0] == "mmcp" {
            dst.to_str().unwrap()
        } else {
            f
        };
        // A usage error: 1 for mmcp and mmcount (as cp and wc), 2 for the others.
        let usage = if matches!(run[0], "mmcp" | "mmcount") {
            1
        } else {
            2
        };
        for (threads, code) in [("1025", usage), ("65535", usage), ("1024", 0)] {
            let out = bin(run[0])
                .args(&run[1..])
                .args(["-j", threads, last])
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{run:?} -j {threads}: {err}");
            if code != 0 {
                assert!(
                    err.contains("give 1 to 1024"),
                    "{run:?} -j {threads}: {err}"
                );
            }
        }
    }
}

/// Holes are never read: on tmpfs, reading a hole through a map allocates it, so counting a sparse
/// file there used to fill memory with its zeros (16 MiB for a 16 MiB hole; a 1 TiB one would not
/// fit). The counts still agree with wc's, which reads the zeros.
#[test]
fn holes_are_counted_without_being_read() {
    let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
        crate::util::skip("no /dev/shm");
        return;
    };
    let path = dir.path().join("sparse");
    {
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(16 << 20).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, b"one two\nthree", 8 << 20).unwrap();
    }
    let blocks = || std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&path).unwrap());
    let before = blocks();
    for args in [&["-lwc"][..], &["-lwc", "-B", "\\0", "-j", "4"]] {
        let out = bin("mmcount").args(args).arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        if args.len() == 1 {
            let wc = Command::new("wc").arg("-lwc").arg(&path).output().unwrap();
            assert_eq!(stdout(&out), stdout(&wc));
        }
    }
    assert_eq!(blocks(), before, "the holes were allocated by reading them");
}
