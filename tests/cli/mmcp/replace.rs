//! Replacing an existing destination: mmcp writes a new file and renames it over DST, where cp writes
//! into DST; the new file takes over DST's mode and owner so that the result is the same as cp's.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::util::{bin_path, is_root, skip, stderr};

/// Mode bits, owner, group and contents of `path`.
fn state(path: &Path) -> (u32, u32, u32, Vec<u8>) {
    let m = std::fs::metadata(path).unwrap();
    (
        m.mode() & 0o7777,
        m.uid(),
        m.gid(),
        std::fs::read(path).unwrap(),
    )
}

/// Copies `src` (mode 0644) over a `dst` made with `dst_mode` and `owner`, with `tool` and `flags`,
/// as the user `as_user` (none: ourselves); returns what DST became.
fn replace(
    tool: &str,
    flags: &[&str],
    dst_mode: u32,
    owner: Option<u32>,
    as_user: Option<u32>,
) -> (u32, u32, u32, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::write(&src, b"new contents\n").unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&dst, b"old\n").unwrap();
    if let Some(uid) = owner {
        std::os::unix::fs::chown(&dst, Some(uid), Some(uid)).unwrap();
    }
    // After the owner, which would clear set-ID bits.
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(dst_mode)).unwrap();
    let program = if tool == "mmcp" {
        bin_path("mmcp").to_str().unwrap().to_string()
    } else {
        "cp".to_string()
    };
    let mut cmd = match as_user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                &program,
            ]);
            c
        }
        None => Command::new(&program),
    };
    let out = cmd.args(flags).arg(&src).arg(&dst).output().unwrap();
    assert!(out.status.success(), "{tool} {flags:?}: {}", stderr(&out));
    state(&dst)
}

#[test]
fn a_replaced_destination_keeps_its_mode_and_owner_as_with_cp() {
    if !is_root() {
        skip("needs root to make files owned by another user");
        return;
    }
    let nobody = 65534;
    for (flags, mode, owner) in [
        (&[][..], 0o600, Some(nobody)),
        (&[], 0o640, None),
        (&[], 0o4755, None),
        (&[], 0o2775, Some(nobody)),
        (&["--no-preserve=mode"], 0o600, None),
        (&["-p"], 0o600, Some(nobody)),
        (&["--preserve=ownership"], 0o600, Some(nobody)),
        (&["--backup=simple"], 0o600, Some(nobody)),
    ] {
        let ours = replace("mmcp", flags, mode, owner, None);
        let theirs = replace("cp", flags, mode, owner, None);
        assert_eq!(
            ours, theirs,
            "{flags:?} over a {mode:o} file owned by {owner:?}"
        );
        assert_eq!(ours.3, b"new contents\n");
    }
    // Without privilege, a set-user-ID bit does not survive the write, and the owner is ourselves.
    let ours = replace("mmcp", &[], 0o4700, Some(nobody), Some(nobody));
    let theirs = replace("cp", &[], 0o4700, Some(nobody), Some(nobody));
    assert_eq!(ours, theirs, "as uid {nobody}");
    assert_eq!(ours.0, 0o700);
}

/// A device or a FIFO at DST is written into, as cp does, and stays what it was: never replaced by a
/// regular file, never chmodded by -p. The devices are our own nodes (mknod), not the system's.
#[test]
fn devices_and_fifos_at_dst_are_written_into_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    if !is_root() {
        skip("needs root to make device nodes");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::write(&src, b"data\n").unwrap();
    for (name, minor) in [("full", 7), ("null", 3)] {
        let node = d.join(name);
        let made = Command::new("mknod")
            .args(["-m", "666"])
            .arg(&node)
            .args(["c", "1", &minor.to_string()])
            .status()
            .unwrap();
        assert!(made.success());
    }
    let mmcp =
        |args: &[&std::ffi::OsStr]| Command::new(bin_path("mmcp")).args(args).output().unwrap();
    let full = d.join("full");
    let out = mmcp(&[src.as_os_str(), full.as_os_str()]);
    let cp = Command::new("cp").arg(&src).arg(&full).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).replacen("mmcp: ", "", 1),
        stderr(&cp).replacen("cp: ", "", 1),
        "the message is cp's"
    );
    let null = d.join("null");
    let out = mmcp(&["-p".as_ref(), src.as_os_str(), null.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for node in [&full, &null] {
        let m = std::fs::metadata(node).unwrap();
        assert!(m.file_type().is_char_device(), "{node:?} is still a device");
        assert_eq!(m.mode() & 0o7777, 0o666, "{node:?} keeps its mode");
    }
    assert!(
        std::fs::read_dir(d).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".mmcp-"))
    );

    // A FIFO: the copy waits for a reader, then writes into the FIFO, which stays a FIFO.
    let fifo = d.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut copy = Command::new(bin_path("mmcp"))
        .arg(&src)
        .arg(&fifo)
        .spawn()
        .unwrap();
    let got = std::fs::read(&fifo).unwrap();
    let status = copy.wait().unwrap();
    assert!(status.success());
    assert_eq!(got, b"data\n");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // With no reader it waits, and SIGINT ends the wait (exit as killed by SIGINT), the FIFO intact.
    let mut copy = Command::new(bin_path("mmcp"))
        .arg(&src)
        .arg(&fifo)
        .spawn()
        .unwrap();
    // Its only sleep is the poll for a reader: once a thread sleeps, it is waiting, not gone.
    crate::util::wait_sleeping(
        &mut copy,
        std::time::Duration::from_secs(20),
        "mmcp onto a FIFO without a reader",
    );
    assert!(copy.try_wait().unwrap().is_none(), "it waits for a reader");
    assert!(
        Command::new("kill")
            .args(["-INT", &copy.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    crate::util::wait_or_kill(
        &mut copy,
        std::time::Duration::from_secs(10),
        "mmcp waiting on a FIFO",
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(copy.wait().unwrap().signal(), Some(libc::SIGINT));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// A destination on a read-only mount (EROFS) or an immutable file (EPERM): -f cannot replace either,
/// so the message gives the real error, as cp's does, with or without -f; DST stays as it was, and no
/// temporary file is left.
#[test]
fn a_read_only_mount_or_an_immutable_dst_reports_the_real_error() {
    if !is_root() {
        skip("needs root for a read-only bind mount and chattr +i");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::write(&src, b"new\n").unwrap();
    let (rw, ro) = (d.join("rw"), d.join("ro"));
    std::fs::create_dir(&rw).unwrap();
    std::fs::create_dir(&ro).unwrap();
    std::fs::write(rw.join("dst"), b"old\n").unwrap();
    std::fs::write(d.join("immutable"), b"old\n").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("sh").arg("-c").arg(args.join(" ")).output();
        assert!(out.unwrap().status.success(), "{args:?}");
    };
    let bind = format!("'{}' '{}'", rw.display(), ro.display());
    run(&["mount --bind", &bind]);
    let _unmount = Unmount(ro.clone());
    run(&["mount -o remount,bind,ro", &format!("'{}'", ro.display())]);
    let immutable = d.join("immutable");
    let chattr = Command::new("chattr").arg("+i").arg(&immutable).status();
    assert!(
        chattr.is_ok_and(|s| s.success()),
        "chattr +i (install e2fsprogs)"
    );
    let _mutable = Mutable(immutable.clone());
    for (dst, reason) in [
        (ro.join("dst"), "Read-only file system"),
        (immutable.clone(), "Operation not permitted"),
    ] {
        for force in [false, true] {
            let flags: &[&str] = if force { &["-f"] } else { &[] };
            let ours = Command::new(bin_path("mmcp"))
                .args(flags)
                .arg(&src)
                .arg(&dst)
                .output()
                .unwrap();
            let cp = Command::new("cp")
                .args(flags)
                .arg(&src)
                .arg(&dst)
                .output()
                .unwrap();
            let what = format!("{flags:?} onto {}", dst.display());
            assert_eq!(ours.status.code(), Some(1), "{what}: {}", stderr(&ours));
            assert_eq!(cp.status.code(), Some(1), "{what}: cp: {}", stderr(&cp));
            // cp says "cannot create regular file" or, with -f, "cannot remove": the reason is the same.
            let tail = |s: String| s.rsplit(": ").next().unwrap().trim_end().to_string();
            assert_eq!(tail(stderr(&cp)), reason, "{what}: cp: {}", stderr(&cp));
            assert_eq!(
                stderr(&ours),
                format!("mmcp: cannot create '{}': {reason}\n", dst.display()),
                "{what}"
            );
            assert_eq!(std::fs::read(&dst).unwrap(), b"old\n", "{what}");
        }
    }
    for place in [&rw, d] {
        let left: Vec<_> = std::fs::read_dir(place)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".mmcp-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// Unmounts a mount point when dropped, even when the test fails.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Clears the immutable flag of a file when dropped, so that the temporary directory can go.
struct Mutable(std::path::PathBuf);

impl Drop for Mutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A file we may not write is refused with a hint to use -f only where -f can help: -f renames over
/// it, which needs a directory we may write.
#[test]
fn the_f_hint_is_given_only_where_f_would_work() {
    if !is_root() {
        skip("needs root to run as uid 65534");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = dir.path().join("src");
    std::fs::write(&src, b"new\n").unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for (place, hint) in [(dir.path(), false), (open.as_path(), true)] {
        let dst = place.join("ro");
        std::fs::write(&dst, b"old\n").unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o444)).unwrap();
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin_path("mmcp"))
            .arg(&src)
            .arg(&dst)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("Permission denied"), "{err}");
        assert_eq!(err.contains("use -f"), hint, "{}: {err}", place.display());
        assert_eq!(std::fs::read(&dst).unwrap(), b"old\n");
    }
}
