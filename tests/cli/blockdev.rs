//! Block devices named on the command line: mmstat reports the device's own page cache (checked
//! against vmtouch, and fincore where it reads devices), mmadvise evict, touch and willneed change it,
//! only root may change it, and walks still pass over the devices they meet.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use crate::util::{bin, is_root, page, skip, stderr, stdout};

/// A loop device over a 32 MiB image, detached when dropped.
struct Loop {
    dev: String,
    _dir: tempfile::TempDir,
}

impl Loop {
    fn new() -> Option<Loop> {
        if !is_root() {
            skip("a loop device needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        std::fs::write(&img, crate::util::noise(32 << 20, 7)).unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Loop {
                dev: stdout(&out).trim().to_string(),
                _dir: dir,
            }),
            Ok(out) => {
                skip(&format!("no loop device: {}", stderr(&out)));
                None
            }
            Err(e) => {
                skip(&format!("no losetup: {e}"));
                None
            }
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// (resident pages, pages) of the device as mmstat reports it.
fn mmstat_pages(dev: &str) -> (u64, u64) {
    let out = bin("mmstat").args(["--json", dev]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(record["type"], "file", "{record}");
    assert_eq!(record["fs"], "storage", "{record}");
    (
        record["resident_pages"].as_u64().unwrap(),
        record["pages"].as_u64().unwrap(),
    )
}

/// Resident pages of the device as vmtouch counts them, where vmtouch is installed.
fn vmtouch_pages(dev: &str) -> Option<u64> {
    let out = Command::new("vmtouch").arg(dev).output().ok()?;
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("Resident Pages:"))?;
    line.split_whitespace()
        .nth(2)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Resident pages of the device as fincore counts them, when this fincore reads devices (older ones
/// report a size of 0 for them).
fn fincore_pages(dev: &str) -> Option<u64> {
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--raw", "-o", "PAGES,SIZE"])
        .arg(dev)
        .output()
        .ok()?;
    let text = stdout(&out);
    let mut fields = text.split_whitespace();
    let pages: u64 = fields.next()?.parse().ok()?;
    let size: u64 = fields.next()?.parse().ok()?;
    (size > 0).then_some(pages)
}

fn close_enough(ours: u64, theirs: u64, total: u64) -> bool {
    ours.abs_diff(theirs) * 20 <= total
}

#[test]
fn a_block_device_named_reports_and_changes_its_own_page_cache() {
    let Some(lo) = Loop::new() else {
        return;
    };
    let dev = lo.dev.as_str();
    // The kernel drops a device's page cache when its last opener closes it: hold it open.
    let mut held = File::open(dev).unwrap();
    let pages = (32u64 << 20) / page() as u64;
    let out = bin("mmadvise").args(["evict", dev]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mmstat_pages(dev), (0, pages), "evicted");

    // A quarter of it read through the device.
    let mut quarter = vec![0u8; 8 << 20];
    held.read_exact(&mut quarter).unwrap();
    let (resident, total) = mmstat_pages(dev);
    assert_eq!(total, pages);
    assert!(
        resident >= pages / 4,
        "{resident} of {pages} after reading a quarter"
    );
    match vmtouch_pages(dev) {
        Some(v) => assert!(
            close_enough(resident, v, pages),
            "mmstat {resident}, vmtouch {v} of {pages}"
        ),
        None => skip("vmtouch is not installed"),
    }
    match fincore_pages(dev) {
        Some(f) => assert!(
            close_enough(resident, f, pages),
            "mmstat {resident}, fincore {f} of {pages}"
        ),
        None => println!("this fincore does not read block devices"),
    }

    let out = bin("mmadvise").args(["touch", dev]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (resident, _) = mmstat_pages(dev);
    assert!(
        resident + pages / 20 >= pages,
        "{resident} of {pages} after touch"
    );

    let out = bin("mmadvise").args(["evict", dev]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mmstat_pages(dev).0, 0, "evicted again");

    let out = bin("mmadvise")
        .args(["willneed", "--wait", dev])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (resident, _) = mmstat_pages(dev);
    assert!(
        resident + pages / 20 >= pages,
        "{resident} of {pages} after willneed"
    );
    drop(held);
}

#[test]
fn walks_pass_over_devices_and_only_root_changes_them() {
    let Some(lo) = Loop::new() else {
        return;
    };
    // A node of the loop device inside a tree, readable by everyone.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let node = dir.path().join("node");
    let meta = std::fs::metadata(&lo.dev).unwrap();
    assert!(meta.file_type().is_block_device());
    let rdev = std::os::unix::fs::MetadataExt::rdev(&meta);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &node,
        rustix::fs::FileType::BlockDevice,
        rustix::fs::Mode::from_raw_mode(0o644),
        rdev,
    )
    .unwrap();
    std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = bin("mmstat")
        .arg("--json")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(r#""type":"skipped""#) && text.contains("a block device"),
        "{text}"
    );
    assert!(!text.contains(r#""type":"file""#), "{text}");
    // Named, the node is measured.
    let out = bin("mmstat").arg("--json").arg(&node).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(r#"{"type":"file""#),
        "{}",
        stdout(&out)
    );

    if Command::new("setpriv").arg("--version").output().is_err() {
        skip("setpriv is missing");
        return;
    }
    for action in ["evict", "touch", "willneed"] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin!("mmadvise"))
            .arg(action)
            .arg(&node)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{action}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim(),
            format!(
                "mmadvise: cannot advise '{}': only root may change the page cache of a block device",
                node.display()
            ),
            "{action}"
        );
    }
    assert!(Path::new(&lo.dev).exists());
}
