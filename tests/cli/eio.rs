//! A device that fails to read: ext4 on a loop device whose backing file is then cut short, so that
//! the tail of a file on it gives EIO. Every tool must report `Input/output error` with exit status 1,
//! and within a bounded time: mapping such a file with MAP_POPULATE spins in the kernel forever.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::util::{is_root, skip, stderr};

/// How long a tool may take to report the error; the runs take well under a second.
const LIMIT: Duration = Duration::from_secs(30);

/// An ext4 filesystem on a loop device, holding `big`, whose data past the first few MiB can no
/// longer be read. Unmounted and detached on drop.
struct FailingDisk {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
    dev: String,
    big: PathBuf,
}

fn run(script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl FailingDisk {
    fn new() -> Option<FailingDisk> {
        if !is_root() {
            skip("a loop device needs root");
            return None;
        }
        if run("command -v losetup && command -v mkfs.ext4").is_err() {
            skip("losetup or mkfs.ext4 missing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let img_s = img.display().to_string();
        let mnt_s = mnt.display().to_string();
        run(&format!(
            "truncate -s 64M {img_s} && mkfs.ext4 -q -F {img_s}"
        ))
        .unwrap();
        let dev = match run(&format!("losetup -f --show {img_s}")) {
            Ok(dev) => dev,
            Err(e) => {
                skip(&format!("no free loop device: {e}"));
                return None;
            }
        };
        let disk = FailingDisk {
            big: mnt.join("big"),
            _dir: dir,
            mnt,
            dev,
        };
        run(&format!("mount {} {mnt_s}", disk.dev)).unwrap();
        // 40 MiB of data, then a remount so that none of it is cached, then the device cut to 16 MiB.
        run(&format!(
            "head -c 41943040 /dev/urandom > {mnt_s}/big && umount {mnt_s} && mount {} {mnt_s} \
             && truncate -s 16M {img_s} && losetup -c {}",
            disk.dev, disk.dev
        ))
        .unwrap();
        Some(disk)
    }
}

impl Drop for FailingDisk {
    fn drop(&mut self) {
        let _ = run(&format!("umount {}", self.mnt.display()));
        let _ = run(&format!("losetup -d {}", self.dev));
    }
}

/// Runs `tool args` to its end, which must come within [`LIMIT`]; a hang kills it and fails the test.
fn bounded(tool: &str, args: &[&std::ffi::OsStr]) -> Output {
    crate::util::run_within(tool, args, LIMIT)
}

fn assert_io_error(tool: &str, out: &Output, path: &Path) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{tool}: {err}");
    assert!(err.starts_with(&format!("{tool}: ")), "{tool}: {err}");
    assert!(err.contains("Input/output error"), "{tool}: {err}");
    assert!(
        err.contains(&*path.to_string_lossy()),
        "{tool} names the file: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{tool}: one line: {err}");
}

#[test]
fn an_unreadable_device_is_an_io_error_not_a_hang() {
    let Some(disk) = FailingDisk::new() else {
        return;
    };
    // The reference: cat sees the error too, so the device really fails.
    let cat = Command::new("cat")
        .arg(&disk.big)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!cat.status.success(), "the cut device must fail to read");

    let big = disk.big.as_os_str();
    for args in [
        vec!["-l"],
        vec!["-l", "--no-mmap"],
        vec!["-w", "-j", "1"],
        vec!["-l", "--cache", "neutral"],
    ] {
        let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        argv.push(big);
        let out = bounded("mmcount", &argv);
        assert_io_error("mmcount", &out, &disk.big);
    }

    let dest = tempfile::tempdir().unwrap();
    let dst = dest.path().join("copy");
    for cache in ["normal", "neutral"] {
        let out = bounded(
            "mmcp",
            &["--cache".as_ref(), cache.as_ref(), big, dst.as_os_str()],
        );
        assert_io_error("mmcp", &out, &disk.big);
        let left: Vec<_> = std::fs::read_dir(dest.path()).unwrap().collect();
        assert!(
            left.is_empty(),
            "mmcp --cache {cache} leaves nothing behind: {left:?}"
        );
    }

    let out = bounded("mmadvise", &["touch".as_ref(), big]);
    assert_io_error("mmadvise", &out, &disk.big);

    // WILLNEED fails silently on such a device; the wait must find the failure and report it.
    let out = bounded("mmadvise", &["willneed".as_ref(), "--wait".as_ref(), big]);
    assert_io_error("mmadvise", &out, &disk.big);
}
