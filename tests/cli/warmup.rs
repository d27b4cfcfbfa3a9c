//! Warm-up as operators run it: `mmadvise restore` of a snapshot whose files changed or vanished,
//! budgets that bound what is loaded, and throttling (rate and I/O priority) of the loading. Checked
//! through the kernel's own account (fincore), as in the mmadvise module.

use std::path::Path;

use crate::mmadvise::{data_file, json_lines, loaded, make_cold, mmadvise, p, resident};
use crate::util::{bin, disk_dir, skip, stderr, stdout};

const MIB: u64 = 1 << 20;

macro_rules! disk_dir_or_skip {
    () => {
        match disk_dir() {
            Some(d) => d,
            None => {
                skip("no temporary directory on a disk (tmpfs pages cannot be evicted)");
                return;
            }
        }
    };
}

/// Saves the residency of `paths` with `mmstat --save` into `dir/cache.snap`.
fn save(dir: &Path, paths: &[&Path]) -> std::path::PathBuf {
    let snap = dir.join("cache.snap");
    let out = bin("mmstat")
        .arg("--save")
        .arg(&snap)
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    snap
}

#[test]
fn restore_skips_a_file_removed_since_the_snapshot() {
    let dir = disk_dir_or_skip!();
    let a = data_file(dir.path(), "a", 4 * MIB);
    let gone = data_file(dir.path(), "pg_internal.init", MIB);
    let changed = data_file(dir.path(), "changed", MIB);
    for f in [&a, &gone, &changed] {
        std::fs::read(f).unwrap();
    }
    let snap = save(dir.path(), &[&a, &gone, &changed]);
    std::fs::remove_file(&gone).unwrap();
    std::fs::write(&changed, b"rewritten").unwrap();
    make_cold(&[&a, &changed]);

    let out = mmadvise(&["restore", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(loaded(&a), 4 * MIB, "the files that exist are restored");
    assert_eq!(resident(&changed), 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "mmadvise: warning: {}: skipped: no longer exists: removed since the snapshot",
            gone.display()
        )),
        "{err}"
    );
    assert!(!err.contains("No such file"), "{err}");
    let text = stdout(&out);
    assert!(
        text.contains(", skipped 1 changed and 1 removed since the snapshot"),
        "{text}"
    );

    make_cold(&[&a]);
    let out = mmadvise(&["restore", "--json", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(lines.iter().all(|l| l["type"] != "error"), "{lines:?}");
    let skipped: Vec<_> = lines.iter().filter(|l| l["type"] == "skipped").collect();
    assert_eq!(skipped.len(), 2, "{lines:?}");
    assert!(
        skipped
            .iter()
            .any(|l| l["path"] == p(&gone) && l["reason"].as_str().unwrap().contains("removed"))
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["skipped"], 2);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["changed_files"], 1);
    assert_eq!(summary["removed_files"], 1);

    // --strict: any skipped file fails the run, after restoring the rest.
    make_cold(&[&a]);
    let out = mmadvise(&["restore", "--strict", p(&snap)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("mmadvise: 2 files of the snapshot skipped, and --strict was given"),
        "{}",
        stderr(&out)
    );
    assert_eq!(loaded(&a), 4 * MIB);

    // Nothing at all restored: a failure, whatever --strict says.
    std::fs::remove_file(&a).unwrap();
    let out = mmadvise(&["restore", p(&snap)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("mmadvise: nothing restored: no file of the snapshot could be loaded"),
        "{}",
        stderr(&out)
    );
}
