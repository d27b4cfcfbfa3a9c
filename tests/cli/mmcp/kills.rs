//! Nothing left behind: SIGKILL at any point of a copy leaves the old DST or the complete new one (and
//! with --backup, DST at every moment); the signals that kill by default are caught where a named
//! temporary file exists; `ulimit -f` is an error like any other; and an append-only directory gets
//! what cp gives it, with no temporary file it cannot remove.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::compat::run_in;
use crate::util::{bin_path, fifo_writer_script, is_root, noise, sh, skip, stderr, write};

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `cmp` finds the two files identical.
fn identical(a: &Path, b: &Path) -> bool {
    Command::new("cmp")
        .arg("-s")
        .arg(a)
        .arg(b)
        .status()
        .unwrap()
        .success()
}

/// Whether process `pid` holds an anonymous file (O_TMPFILE) of directory `dir` open: /proc shows it
/// as `DIR/#INODE (deleted)`.
fn holds_anonymous(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    // /proc names the directory by its real path.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let prefix = format!("{}/#", dir.display());
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|t| {
            let t = t.to_string_lossy();
            t.starts_with(&prefix) && t.ends_with(" (deleted)")
        })
    })
}

/// Bytes process `pid` has written so far (write and pwrite), from /proc/PID/io.
fn written(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `ready` until it holds (true) or `child` has exited (false); fails after a minute.
fn wait_for(child: &mut Child, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the state never came");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// When a kill comes.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// As soon as the anonymous copy is open.
    Open,
    /// Once this share (in percent) of the source has been written.
    Written(u64),
}

#[test]
fn a_kill_at_any_point_leaves_the_old_dst_or_the_new_one() {
    let root = tempfile::tempdir().unwrap();
    let src = root.path().join("src");
    let size = 200u64 << 20;
    sh(&format!("head -c {size} /dev/urandom > {}", src.display()));
    let old = write(root.path(), "old", &noise(1 << 20, 7));
    let points = [
        Point::Open,
        Point::Written(25),
        Point::Written(50),
        Point::Written(90),
    ];
    let mut interrupted = 0;
    // (DST exists, --backup)
    for (existing, backup) in [(false, false), (true, false), (true, true)] {
        for point in points {
            let what = format!("existing={existing} backup={backup} {point:?}");
            let out = root.path().join("out");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir(&out).unwrap();
            let dst = out.join("dst");
            if existing {
                std::fs::copy(&old, &dst).unwrap();
            }
            let mut cmd = Command::new(bin_path("mmcp"));
            if backup {
                cmd.arg("--backup=simple");
            }
            let mut child = cmd.arg(&src).arg(&dst).spawn().unwrap();
            let pid = child.id();
            let running = wait_for(&mut child, || match point {
                Point::Open => holds_anonymous(pid, &out),
                Point::Written(pc) => written(pid) >= size * pc / 100,
            });
            let _ = child.kill();
            let status = child.wait().unwrap();
            let names = entries(&out);
            let new = dst.exists() && identical(&dst, &src);
            let kept = dst.exists() && existing && identical(&dst, &old);
            if running && status.signal() == Some(9) && !new {
                interrupted += 1;
            }
            // Only DST (and its backup) by name: no temporary file, whatever the moment.
            let allowed: &[&str] = if backup { &["dst", "dst~"] } else { &["dst"] };
            assert!(
                names.iter().all(|n| allowed.contains(&n.as_str())),
                "{what}: {names:?}"
            );
            if existing {
                assert!(
                    new || kept,
                    "{what}: DST is neither the old file nor the copy"
                );
            } else {
                assert!(!dst.exists() || new, "{what}: a partial DST");
            }
            let backup_path = out.join("dst~");
            if backup && new {
                assert!(identical(&backup_path, &old), "{what}: no backup");
            }
            if backup_path.exists() {
                assert!(identical(&backup_path, &old), "{what}: a wrong backup");
            }
        }
    }
    // The kills came during copies, not only after them.
    assert!(interrupted >= 3, "{interrupted} copies interrupted");
}

/// Starts mmcp copying from a FIFO that never ends (so it is still copying when the signal comes) to
/// `dst`, and waits until its copy (named or anonymous) exists.
fn copying_from_a_fifo(dir: &Path, dst: &Path, named: bool) -> (Child, Child) {
    let fifo = dir.join("fifo");
    if !fifo.exists() {
        sh(&format!("mkfifo {}", fifo.display()));
    }
    let writer = fifo_writer_script(
        &fifo,
        r#"exec 3>"$FIFO"; printf partial >&3; exec sleep 60"#,
        &fifo,
    );
    let mut cmd = Command::new(bin_path("mmcp"));
    if named {
        cmd.env("MMCP_NAMED_TEMP", "1");
    }
    // In DIR: SIGXCPU dumps core there, if cores are dumped.
    let mut child = cmd.current_dir(dir).arg(&fifo).arg(dst).spawn().unwrap();
    let pid = child.id();
    let out = dst.parent().unwrap().to_path_buf();
    let started = wait_for(&mut child, || {
        if named {
            entries(&out).iter().any(|n| n.contains(".mmcp-"))
        } else {
            holds_anonymous(pid, &out)
        }
    });
    assert!(started, "mmcp ended before its copy existed");
    (child, writer)
}

#[test]
fn signals_that_kill_by_default_leave_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dst = write(&out, "dst", b"precious\n");
    for named in [true, false] {
        for (signal, name) in [(10, "USR1"), (12, "USR2"), (14, "ALRM"), (24, "XCPU")] {
            let (mut child, mut writer) = copying_from_a_fifo(root.path(), &dst, named);
            sh(&format!("kill -{name} {}", child.id()));
            let status = child.wait().unwrap();
            let _ = writer.kill();
            let _ = writer.wait();
            // SIGXCPU's default action dumps core: the status then says so, with the same signal.
            assert_eq!(status.signal(), Some(signal), "named={named} {name}");
            assert_eq!(entries(&out), ["dst"], "named={named} {name}");
            assert_eq!(std::fs::read(&dst).unwrap(), b"precious\n");
        }
    }
}

#[test]
fn a_file_size_limit_is_a_write_error_with_no_debris() {
    let root = tempfile::tempdir().unwrap();
    let big = write(root.path(), "big", &noise(3 << 20, 3));
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let cases: &[&[&str]] = &[
        &["big", "out/dst"],
        &["--no-mmap", "big", "out/dst"],
        &["--sparse=always", "big", "out/dst"],
        &["-", "out/dst"],
    ];
    for existing in [false, true] {
        for args in cases {
            let dst = out.join("dst");
            let _ = std::fs::remove_file(&dst);
            if existing {
                std::fs::write(&dst, b"old").unwrap();
            }
            // 100 blocks of 512 bytes: the copy of 3 MiB goes past the limit.
            let o = Command::new("sh")
                .arg("-c")
                .arg(r#"ulimit -f 100; exec "$0" "$@" < big"#)
                .arg(bin_path("mmcp"))
                .args(*args)
                .current_dir(root.path())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {:?} {err}", o.status);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.starts_with("mmcp: ") && err.contains("'out/dst': File too large"),
                "{args:?}: {err}"
            );
            let want: &[&str] = if existing { &["dst"] } else { &[] };
            assert_eq!(entries(&out), want, "{args:?}");
            if existing {
                assert_eq!(std::fs::read(&dst).unwrap(), b"old");
            }
        }
    }
    assert!(big.exists());
    // The other tools ignore SIGXFSZ too: an error with a message, not death by the signal.
    let o = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 0; exec "$0" "$@""#)
        .arg(bin_path("mmcounter"))
        .arg(out.join("counter"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "mmcounter: {:?}", o.status);
    assert!(stderr(&o).contains("File too large"), "{}", stderr(&o));
}

#[test]
fn an_append_only_directory_gets_what_cp_gives_it() {
    if !is_root() {
        skip("needs root for chattr +a");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let probe = root.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    let chattr = |flag: &str, dir: &Path| {
        Command::new("chattr")
            .arg(flag)
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+a", &probe) {
        skip("chattr +a is not supported here (TMPDIR must be on ext4 or the like)");
        return;
    }
    chattr("-a", &probe);
    let mut results = Vec::new();
    for tool in ["mmcp", "cp"] {
        let dir = root.path().join(tool);
        let ao = dir.join("ao");
        std::fs::create_dir_all(&ao).unwrap();
        write(&dir, "src", b"new data\n");
        write(&ao, "dst", b"old\n");
        write(&ao, "kept", b"kept\n");
        std::os::unix::fs::symlink("kept", ao.join("link")).unwrap();
        assert!(chattr("+a", &ao));
        let mut outcome = Vec::new();
        for args in [
            &["src", "ao/dst"][..],
            &["src", "ao/fresh"],
            &["-b", "src", "ao/kept"],
            &["-d", "ao/link", "ao/link2"],
            &["src", "ao/link"],
        ] {
            let o = run_in(tool, &dir, args, &[]);
            outcome.push((args.to_vec(), o.status.code(), stderr(&o).lines().count()));
        }
        let names = entries(&ao);
        let data: Vec<String> = names
            .iter()
            .map(|n| match std::fs::read(ao.join(n)) {
                Ok(d) => String::from_utf8_lossy(&d).into_owned(),
                Err(e) => e.to_string(),
            })
            .collect();
        chattr("-a", &ao);
        results.push((outcome, names, data));
    }
    assert_eq!(results[0], results[1], "mmcp, then cp");
    // DST replaced in place, a new file created, no temporary file.
    assert_eq!(results[0].1, ["dst", "fresh", "kept", "link", "link2"]);
    assert_eq!(results[0].2[0], "new data\n");
}

#[test]
fn a_backup_is_linked_before_the_copy_replaces_dst() {
    // DST must exist at every moment: the old DST gets the backup name as a second link, never by a
    // rename that leaves DST missing until the copy is renamed over it. strace shows the order.
    if Command::new("strace").arg("-V").output().is_err() {
        skip("strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src", b"new\n");
    std::os::unix::fs::symlink("src", dir.path().join("link")).unwrap();
    for (args, named) in [
        (&["-b", "src", "dst"][..], false),
        (&["-b", "src", "dst"], true),
        (&["-bd", "link", "dst"], false),
    ] {
        write(dir.path(), "dst", b"old\n");
        let mut cmd = Command::new("strace");
        cmd.args([
            "-f",
            "-qq",
            "-e",
            "trace=rename,renameat,renameat2,link,linkat",
        ])
        .arg(bin_path("mmcp"))
        .args(args)
        .current_dir(dir.path());
        if named {
            cmd.env("MMCP_NAMED_TEMP", "1");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let calls: Vec<String> = stderr(&o)
            .lines()
            .map(|l| l.split_once("] ").map_or(l, |(_, c)| c).to_string())
            .collect();
        let moves_dst = |c: &String| c.starts_with("rename") && c.contains("(\"dst\",");
        let links_dst = |c: &String| c.starts_with("link") && c.contains(", \"dst\", ");
        let replaces_dst = |c: &String| c.starts_with("rename") && c.contains(", \"dst\")");
        assert!(
            !calls.iter().any(moves_dst),
            "{args:?} named={named}: {calls:#?}"
        );
        let linked = calls.iter().position(links_dst);
        let replaced = calls.iter().position(replaces_dst);
        assert!(
            linked.is_some() && linked < replaced,
            "{args:?} named={named}: {calls:#?}"
        );
        assert_eq!(std::fs::read(dir.path().join("dst~")).unwrap(), b"old\n");
    }
}
