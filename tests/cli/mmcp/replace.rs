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
