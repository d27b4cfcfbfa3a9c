//! mmcp, black box: copies compared with cmp, holes with du, failures that must leave DST as it was
//! and no temporary file behind, cp's overwrite flags, trees, and the hazards (shrinking sources, full
//! disks, signals, unreadable files).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{
    bin, fifo_writer, fifo_writer_script, is_root, noise, page, sh, skip, stderr, stdout,
    wait_or_kill, write,
};

fn mmcp() -> assert_cmd::Command {
    bin("mmcp")
}

fn mmcp_path() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("mmcp"))
}

/// `cmp` says the two files are identical.
fn same(a: &Path, b: &Path) -> bool {
    Command::new("cmp")
        .arg(a)
        .arg(b)
        .status()
        .expect("cmp")
        .success()
}

/// Temporary files of ours left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".mmcp-"))
        .collect()
}

/// Allocated 512-byte blocks, as du counts them.
fn blocks(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks()
}

#[test]
fn copies_are_identical_at_every_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let p = page();
    let window = 64 * 1024;
    let sizes = [
        0,
        1,
        p - 1,
        p,
        p + 1,
        window - 1,
        window,
        window + 1,
        5 * window + 3,
        300 * 1024 + 17,
    ];
    for len in sizes {
        let src = write(
            dir.path(),
            &format!("src{len}"),
            &noise(len, len as u64 + 7),
        );
        for extra in [
            &[][..],
            &["--mmap-min", "0", "--dest-io", "write"],
            &["--mmap-min", "0", "--dest-io", "map"],
            &["--no-mmap"],
            &["--mmap-min", "0", "--sparse", "always"],
            &["--mmap-min", "0", "--sparse", "never", "--dest-io", "map"],
        ] {
            let dst = dir.path().join("dst");
            mmcp()
                .args(["--window-size", "64K", "-j", "2", "--verify"])
                .args(extra)
                .arg(&src)
                .arg(&dst)
                .assert()
                .success()
                .stdout("")
                .stderr("");
            assert!(same(&src, &dst), "size {len} with {extra:?}");
        }
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_big_file_over_many_windows_matches() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "big", &noise(24 << 20, 11));
    let dst = dir.path().join("copy");
    mmcp()
        .args(["--window-size", "1M"])
        .arg(&src)
        .arg(&dst)
        .assert()
        .success();
    assert!(same(&src, &dst));
}

#[test]
fn holes_are_kept_and_never_fills_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("sparse");
    sh(&format!(
        "truncate -s 64M {0} && printf data | dd of={0} bs=1 seek=1000000 conv=notrunc status=none \
         && printf more | dd of={0} bs=1M seek=40 conv=notrunc status=none && sync {0}",
        src.display()
    ));
    let dst = dir.path().join("auto");
    let out = mmcp()
        .arg("--json")
        .arg(&src)
        .arg(&dst)
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(same(&src, &dst));
    assert!(
        blocks(&dst) <= blocks(&src),
        "du: copy {} > source {}",
        blocks(&dst),
        blocks(&src)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["bytes"], 64 << 20);
    assert!(
        summary["hole_bytes"].as_u64().unwrap() > 60 << 20,
        "{summary}"
    );
    assert!(summary["elapsed_seconds"].as_f64().is_some());

    let never = dir.path().join("never");
    mmcp()
        .args(["--sparse", "never"])
        .arg(&src)
        .arg(&never)
        .assert()
        .success();
    assert!(same(&src, &never));
    assert!(blocks(&never) * 512 >= 64 << 20, "never writes every byte");

    // A dense file of zeros: auto copies its blocks, always leaves holes.
    let zeros = dir.path().join("zeros");
    sh(&format!(
        "head -c 8M /dev/zero > {0} && printf end >> {0} && sync {0}",
        zeros.display()
    ));
    let always = dir.path().join("always");
    mmcp()
        .args(["--sparse", "always"])
        .arg(&zeros)
        .arg(&always)
        .assert()
        .success();
    assert!(same(&zeros, &always));
    assert!(
        blocks(&always) < blocks(&zeros) / 4,
        "{} vs {}",
        blocks(&always),
        blocks(&zeros)
    );
}

#[test]
fn fifo_and_stdin_sources_are_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let data = noise(3 << 20, 5);
    let reference = write(dir.path(), "reference", &data);
    let fifo = dir.path().join("fifo");
    sh(&format!("mkfifo {}", fifo.display()));
    // mmcp never waits for a writer (a FIFO without one reads as empty): start the writer first.
    let mut writer = fifo_writer(&fifo, &reference);
    let from_fifo = dir.path().join("from_fifo");
    mmcp().arg(&fifo).arg(&from_fifo).assert().success();
    assert!(writer.wait().unwrap().success());
    assert!(same(&reference, &from_fifo));

    let from_stdin = dir.path().join("from_stdin");
    mmcp()
        .arg("-")
        .arg(&from_stdin)
        .write_stdin(data.clone())
        .assert()
        .success();
    assert!(same(&reference, &from_stdin));

    let status = dir.path().join("status");
    mmcp()
        .arg("/proc/self/status")
        .arg(&status)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&status)
            .unwrap()
            .contains("Name:\tmmcp")
    );
}

#[test]
fn copying_a_file_onto_itself_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"precious data\n");
    let hard = dir.path().join("hard");
    std::fs::hard_link(&a, &hard).unwrap();
    let soft = dir.path().join("soft");
    std::os::unix::fs::symlink("a", &soft).unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::hard_link(&a, dir.path().join("d/a")).unwrap();
    for (src, dst) in [
        ("a", "a"),
        ("a", "hard"),
        ("hard", "a"),
        ("a", "soft"),
        ("soft", "a"),
    ] {
        mmcp()
            .current_dir(dir.path())
            .args([src, dst])
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!("mmcp: '{src}' and '{dst}' are the same file\n"));
    }
    mmcp()
        .current_dir(dir.path())
        .args(["a", "d"])
        .assert()
        .code(1)
        .stderr("mmcp: 'a' and 'd/a' are the same file\n");
    assert_eq!(std::fs::read(&a).unwrap(), b"precious data\n");
    assert!(std::fs::symlink_metadata(&soft).unwrap().is_symlink());
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn no_clobber_update_and_interactive() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", b"new\n");
    let dst = write(dir.path(), "dst", b"old\n");
    mmcp().arg("-n").arg(&src).arg(&dst).assert().success();
    assert_eq!(std::fs::read(&dst).unwrap(), b"old\n");

    // -u: a destination newer than the source is kept; an older one is replaced.
    sh(&format!(
        "touch -d '2020-01-01' {} && touch -d '2021-01-01' {}",
        src.display(),
        dst.display()
    ));
    mmcp().arg("-u").arg(&src).arg(&dst).assert().success();
    assert_eq!(std::fs::read(&dst).unwrap(), b"old\n");
    sh(&format!("touch -d '2019-01-01' {}", dst.display()));
    mmcp().arg("-u").arg(&src).arg(&dst).assert().success();
    assert_eq!(std::fs::read(&dst).unwrap(), b"new\n");
    let missing = dir.path().join("missing");
    mmcp().arg("-u").arg(&src).arg(&missing).assert().success();
    assert!(same(&src, &missing));

    std::fs::write(&dst, b"old\n").unwrap();
    let prompt = format!("mmcp: overwrite '{}'? ", dst.display());
    mmcp()
        .arg("-i")
        .arg(&src)
        .arg(&dst)
        .write_stdin("n\n")
        .assert()
        .success()
        .stderr(prompt.clone());
    assert_eq!(std::fs::read(&dst).unwrap(), b"old\n");
    mmcp()
        .arg("-i")
        .arg(&src)
        .arg(&dst)
        .write_stdin("y\n")
        .assert()
        .success()
        .stderr(prompt);
    assert_eq!(std::fs::read(&dst).unwrap(), b"new\n");
    // No question for a destination that does not exist.
    mmcp()
        .arg("-i")
        .arg(&src)
        .arg(dir.path().join("fresh"))
        .assert()
        .success()
        .stderr("");
}

#[test]
fn mode_is_kept_and_preserve_keeps_times() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", &noise(10_000, 1));
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o751)).unwrap();
    sh(&format!(
        "touch -a -d '2001-02-03 04:05:06.123456789' {0} && touch -m -d '2002-03-04 05:06:07.987654321' {0}",
        src.display()
    ));
    let plain = dir.path().join("plain");
    mmcp().arg(&src).arg(&plain).assert().success();
    let umask = u32::from_str_radix(&sh("umask"), 8).unwrap();
    assert_eq!(
        std::fs::metadata(&plain).unwrap().mode() & 0o777,
        0o751 & !umask
    );
    let kept = dir.path().join("kept");
    mmcp().arg("-p").arg(&src).arg(&kept).assert().success();
    let stamp = |p: &Path| sh(&format!("stat -c '%a %x %y' {}", p.display()));
    assert_eq!(stamp(&kept), stamp(&src));
    assert!(stamp(&kept).contains(".987654321"), "{}", stamp(&kept));
    if is_root() {
        sh(&format!("chown 1234:5678 {}", src.display()));
        let owned = dir.path().join("owned");
        mmcp().arg("-p").arg(&src).arg(&owned).assert().success();
        let meta = std::fs::metadata(&owned).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 5678));
        assert_eq!(meta.mode() & 0o7777, 0o751);
    } else {
        skip("giving a copy another owner needs root");
    }
}

#[test]
fn an_unreadable_source_leaves_the_destination_and_no_temp() {
    if !is_root() {
        skip("needs root to switch to uid 65534 with setpriv");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        skip("setpriv is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let src = write(dir.path(), "secret", b"top secret\n");
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dst = write(dir.path(), "dst", b"keep me\n");
    sh(&format!("chown 65534:65534 {}", dst.display()));
    let other = write(dir.path(), "other", b"readable\n");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(mmcp_path())
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "mmcp: cannot open '{}' for reading: Permission denied\n",
            src.display()
        )
    );
    assert_eq!(std::fs::read(&dst).unwrap(), b"keep me\n");
    assert!(leftovers(dir.path()).is_empty());

    // An unwritable directory: the error names the destination; the next file is still copied.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(mmcp_path())
        .arg("-t")
        .arg(&locked)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "mmcp: cannot create '{}': Permission denied\n",
            locked.join("other").display()
        )
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped, even when the test fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_is_found_before_copying_and_nothing_is_left() {
    if !is_root() {
        skip("mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("tmpfs"), "1M") else {
        skip("cannot mount a tmpfs here");
        return;
    };
    let src = write(dir.path(), "big", &noise(2 << 20, 3));
    let dst = fs.dir.join("dst");
    std::fs::write(&dst, b"old contents\n").unwrap();
    for extra in [
        &[][..],
        &["--mmap-min", "0"],
        &["--mmap-min", "0", "--dest-io", "map"],
        &["--no-mmap"],
    ] {
        mmcp()
            .args(extra)
            .arg(&src)
            .arg(&dst)
            .assert()
            .code(1)
            .stderr(format!(
                "mmcp: cannot allocate '{}': No space left on device\n",
                dst.display()
            ));
        assert_eq!(std::fs::read(&dst).unwrap(), b"old contents\n");
        assert!(leftovers(&fs.dir).is_empty(), "{:?}", leftovers(&fs.dir));
    }
    // A new destination is not left behind either, and a small file still fits.
    let fresh = fs.dir.join("fresh");
    mmcp().arg(&src).arg(&fresh).assert().code(1);
    assert!(!fresh.exists());
    let small = write(dir.path(), "small", b"fits\n");
    mmcp().arg(&small).arg(&fresh).assert().success();
    assert!(same(&small, &fresh));
}

#[test]
fn a_source_shrinking_during_the_copy_is_an_error_not_a_crash() {
    // mmcp is stopped (SIGSTOP) while a window of the source is mapped, so the copy is under way and its
    // final size check has not run; the source is cut to one page, and mmcp goes on. It must see the
    // shrink: exit 1 with the message, DST untouched, no signal, no temporary file left.
    use rustix::process::{Pid, Signal, kill_process};
    // On a disk, where evict makes the source's windows slow reads from the device.
    let dir = crate::util::disk_dir().unwrap_or_else(|| tempfile::tempdir().unwrap());
    let len = 64 << 20;
    for dest_io in ["write", "map"] {
        let mut caught = false;
        for attempt in 0..10 {
            let src = write(dir.path(), "src", &noise(len, 8));
            let dst = write(dir.path(), "dst", b"precious\n");
            crate::util::evict(&src);
            let mut child = Command::new(mmcp_path())
                .args(["--window-size", "64K", "-j", "2", "--dest-io", dest_io])
                .arg(&src)
                .arg(&dst)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let (pid, process) = (child.id(), Pid::from_child(&child));
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while child.try_wait().unwrap().is_none() && !caught {
                assert!(std::time::Instant::now() < deadline, "mmcp did not finish");
                if !crate::util::maps_file(pid, &src) {
                    continue;
                }
                kill_process(process, Signal::STOP).unwrap();
                crate::util::wait_stopped(pid);
                if crate::util::maps_file(pid, &src) {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&src)
                        .unwrap()
                        .set_len(4096)
                        .unwrap();
                    caught = true;
                }
                kill_process(process, Signal::CONT).unwrap();
            }
            crate::util::wait_or_kill(&mut child, Duration::from_secs(60), "mmcp, source cut");
            let out = child.wait_with_output().unwrap();
            if !caught {
                // Done before a window could be caught mapped: a whole copy, then try again.
                assert!(out.status.success(), "{}", stderr(&out));
                assert_eq!(std::fs::metadata(&dst).unwrap().len(), len as u64);
                println!("--dest-io {dest_io}: attempt {attempt} finished before the cut");
                continue;
            }
            assert_eq!(
                out.status.code(),
                Some(1),
                "--dest-io {dest_io}: {:?} {}",
                out.status,
                stderr(&out)
            );
            assert_eq!(
                stderr(&out),
                format!("mmcp: {}: file changed size during copy\n", src.display())
            );
            assert_eq!(std::fs::read(&dst).unwrap(), b"precious\n");
            assert!(leftovers(dir.path()).is_empty());
            break;
        }
        assert!(
            caught,
            "--dest-io {dest_io}: never caught with a window mapped"
        );
    }
}

#[test]
fn a_fifo_without_a_writer_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    sh(&format!("mkfifo {}", fifo.display()));
    let out = dir.path().join("out");
    let mut child = Command::new(mmcp_path())
        .arg(&fifo)
        .arg(&out)
        .spawn()
        .unwrap();
    wait_or_kill(
        &mut child,
        Duration::from_secs(20),
        "mmcp FIFO-without-writer out",
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"",
        "no writer: an empty copy"
    );
}

#[test]
fn a_termination_signal_removes_the_temporary_file() {
    // mmcp copies from a FIFO whose writer never closes: it is blocked in read(2) when SIGTERM comes.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    sh(&format!("mkfifo {}", fifo.display()));
    let dst = write(dir.path(), "dst", b"precious\n");
    let mut writer = fifo_writer_script(
        &fifo,
        r#"exec 3>"$FIFO"; printf partial >&3; sleep 30"#,
        &fifo,
    );
    // The named temporary file of a filesystem without O_TMPFILE (an anonymous one has no name).
    let mut child = Command::new(mmcp_path())
        .env("MMCP_NAMED_TEMP", "1")
        .arg(&fifo)
        .arg(&dst)
        .spawn()
        .unwrap();
    let mut seen = false;
    for _ in 0..1000 {
        if !leftovers(dir.path()).is_empty() {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sh(&format!("kill -TERM {}", child.id()));
    let status = child.wait().unwrap();
    let _ = writer.kill();
    let _ = writer.wait();
    assert!(seen, "the temporary file never appeared");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "dies of SIGTERM: {status:?}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious\n");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn trees_with_links_fifos_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    write(&src, "a", &noise(300_000, 1));
    write(&src, ".hidden", b"hidden\n");
    write(&src.join("sub"), "b", b"");
    write(&src.join("sub/deeper"), "c", &noise(5000, 2));
    std::os::unix::fs::symlink("../a", src.join("sub/link")).unwrap();
    std::os::unix::fs::symlink("nowhere", src.join("dangling")).unwrap();
    sh(&format!("mkfifo -m 640 {}", src.join("pipe").display()));
    std::fs::set_permissions(src.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let dst = dir.path().join("dst");
    mmcp()
        .arg("-r")
        .arg(&src)
        .arg(&dst)
        .assert()
        .success()
        .stderr("");
    for f in ["a", ".hidden", "sub/b", "sub/deeper/c"] {
        assert!(same(&src.join(f), &dst.join(f)), "{f}");
    }
    assert_eq!(
        std::fs::read_link(dst.join("sub/link")).unwrap(),
        Path::new("../a")
    );
    assert_eq!(
        std::fs::read_link(dst.join("dangling")).unwrap(),
        Path::new("nowhere")
    );
    let pipe = std::fs::symlink_metadata(dst.join("pipe")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&pipe.file_type()));
    assert_eq!(pipe.mode() & 0o777, 0o640);
    assert_eq!(
        std::fs::metadata(dst.join("sub")).unwrap().mode() & 0o777,
        0o750
    );

    // Into an existing directory: the tree goes under its name. -L follows links.
    let into = dir.path().join("into");
    std::fs::create_dir(&into).unwrap();
    mmcp()
        .args(["-r", "-L"])
        .arg(&src)
        .arg(&into)
        .assert()
        .code(1); // the dangling link cannot be followed
    assert!(same(&src.join("a"), &into.join("src/sub/link")));
    assert!(
        !std::fs::symlink_metadata(into.join("src/sub/link"))
            .unwrap()
            .is_symlink()
    );

    // Without -r, a directory is refused; a directory into itself is refused.
    mmcp()
        .arg(&src)
        .arg(dir.path().join("x"))
        .assert()
        .code(1)
        .stderr(format!(
            "mmcp: -r not specified; omitting directory '{}'\n",
            src.display()
        ));
    mmcp()
        .arg("-r")
        .arg(&src)
        .arg(src.join("sub/inside"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("into itself"));

    if is_root() {
        let with_device = dir.path().join("dev");
        std::fs::create_dir(&with_device).unwrap();
        sh(&format!(
            "mknod {} c 1 3",
            with_device.join("null").display()
        ));
        write(&with_device, "file", b"x");
        let copy = dir.path().join("dev_copy");
        mmcp()
            .arg("-r")
            .arg(&with_device)
            .arg(&copy)
            .assert()
            .code(1)
            .stderr(format!(
                "mmcp: warning: skipping device '{}': not copied\n",
                with_device.join("null").display()
            ));
        assert!(same(&with_device.join("file"), &copy.join("file")));
        assert!(!copy.join("null").exists());
    } else {
        skip("mknod of a device needs root");
    }
}

#[test]
fn operands_verbose_json_and_target_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"alpha\n");
    let b = write(dir.path(), "b", &noise(400_000, 3));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    mmcp()
        .current_dir(dir.path())
        .args(["-v", "a", "b", "out"])
        .assert()
        .success()
        .stdout("'a' -> 'out/a'\n'b' -> 'out/b'\n");
    assert!(same(&a, &out.join("a")) && same(&b, &out.join("b")));
    let t = dir.path().join("t");
    std::fs::create_dir(&t).unwrap();
    let json = mmcp()
        .current_dir(dir.path())
        .args(["--json", "-t", "t", "a", "missing", "b"])
        .assert()
        .code(1)
        .stderr("mmcp: cannot stat 'missing': No such file or directory\n")
        .get_output()
        .clone();
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["type"], "file");
    assert_eq!(lines[0]["bytes"], 6);
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines[2]["dst"], "t/b");
    assert_eq!(lines[3]["type"], "summary");
    assert_eq!(lines[3]["files"], 2);
    assert_eq!(lines[3]["bytes"], 400_006);
    mmcp()
        .current_dir(dir.path())
        .args(["a", "b", "nodir"])
        .assert()
        .code(1)
        .stderr("mmcp: target 'nodir' is not a directory\n");
    mmcp()
        .current_dir(dir.path())
        .arg("a")
        .assert()
        .code(1)
        .stderr(
            "mmcp: missing destination file operand after 'a'\n\
             Try 'mmcp --help' for more information.\n",
        );
}

#[test]
fn in_place_and_sync_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", &noise(1 << 20, 4));
    let dst = write(dir.path(), "dst", &noise(3 << 20, 5));
    let ino = std::fs::metadata(&dst).unwrap().ino();
    mmcp()
        .args(["--in-place", "--sync", "--verify"])
        .arg(&src)
        .arg(&dst)
        .assert()
        .success();
    assert!(same(&src, &dst));
    assert_eq!(std::fs::metadata(&dst).unwrap().ino(), ino, "same inode");
    mmcp()
        .args(["--sync", "--verify"])
        .arg(&src)
        .arg(&dst)
        .assert()
        .success();
    assert!(same(&src, &dst));
    assert_ne!(std::fs::metadata(&dst).unwrap().ino(), ino, "replaced");
    assert!(leftovers(dir.path()).is_empty());
}

/// Against GNU cp: -P/-H/-L, --preserve, -a, -d, hard links, ACLs and xattrs.
mod compat;

/// Against GNU cp: --backup, -b, -S.
mod backup;

/// Against GNU cp: what an existing DST keeps (mode, owner) when it is replaced.
mod replace;

/// Against GNU cp: two names of one file (symlinks, hard links, backups, bind mounts).
mod samefile;

/// Kills and signals at any point, `ulimit -f`, and append-only directories: nothing left behind.
mod kills;

/// Against GNU cp: -n with -f, -b with -n, -T, --remove-destination, -l, -s, --parents, -x,
/// --attributes-only, --copy-contents, --reflink and sockets in trees.
mod options;
