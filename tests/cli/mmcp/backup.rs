//! mmcp's backups against GNU cp: every --backup control, -b, -S, VERSION_CONTROL and
//! SIMPLE_BACKUP_SUFFIX give the same names and contents, the same -v lines, and the same refusals;
//! a copy that fails makes no backup.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use super::compat::{run_in, shape};
use crate::util::{bin_path, is_root, sh, skip, stderr, stdout, write};

/// Environment variables set for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

/// The names and contents of the files in `dir` (not directories), sorted.
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let what = if meta.is_symlink() {
                format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
            } else if meta.is_dir() {
                format!("dir {:?}", shape(&e.path()))
            } else {
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned()
            };
            (e.file_name().to_string_lossy().into_owned(), what)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn backups_are_named_as_cp_names_them() {
    let root = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], Env)] = &[
        (&["--backup=none"], &[]),
        (&["--backup=off"], &[]),
        (&["--backup=numbered"], &[]),
        (&["--backup=t"], &[]),
        (&["--backup=nu"], &[]),
        (&["--backup=existing"], &[]),
        (&["--backup=nil"], &[]),
        (&["--backup=simple"], &[]),
        (&["--backup=never"], &[]),
        (&["--backup"], &[]),
        (&["-b"], &[]),
        (&["-b"], &[("VERSION_CONTROL", "numbered")]),
        (&["--backup"], &[("VERSION_CONTROL", "simple")]),
        (&["--backup=simple"], &[("VERSION_CONTROL", "numbered")]),
        (&["-b"], &[("SIMPLE_BACKUP_SUFFIX", ".orig")]),
        (&["-S", ".bak"], &[]),
        (&["--suffix=.old", "--backup=simple"], &[]),
        (&["-S", ""], &[]),
        (&["-v", "-b"], &[]),
        (&["-v", "--backup=t"], &[]),
        (&["-r", "--backup=t"], &[]),
    ];
    for (i, (flags, env)) in cases.iter().enumerate() {
        // Twice: with no backups yet, and beside an existing numbered backup.
        for numbered in [false, true] {
            let mut got = Vec::new();
            for tool in ["mmcp", "cp"] {
                let dir = root.path().join(format!("{tool}{i}{numbered}"));
                std::fs::create_dir(&dir).unwrap();
                let recursive = flags.contains(&"-r");
                let (src, dst) = if recursive {
                    std::fs::create_dir_all(dir.join("s")).unwrap();
                    std::fs::create_dir_all(dir.join("d")).unwrap();
                    write(&dir.join("d"), "f", b"v0");
                    (dir.join("s/f"), "d")
                } else {
                    write(&dir, "dst", b"v0");
                    (dir.join("src"), "dst")
                };
                if numbered {
                    let parent = if recursive {
                        dir.join("d")
                    } else {
                        dir.clone()
                    };
                    write(&parent, if recursive { "f.~4~" } else { "dst.~4~" }, b"old");
                    std::os::unix::fs::symlink("dst", dir.join("link")).unwrap();
                }
                let mut outputs = String::new();
                for round in 1..=3 {
                    std::fs::write(&src, format!("v{round}")).unwrap();
                    let mut args = flags.to_vec();
                    args.extend([if recursive { "s/." } else { "src" }, dst]);
                    let o = run_in(tool, &dir, &args, env);
                    assert!(o.status.success(), "{tool} {flags:?}: {}", stderr(&o));
                    outputs.push_str(&stdout(&o));
                }
                if numbered {
                    // A symlink as DST is moved aside, not written through.
                    let mut args = flags.to_vec();
                    args.extend(["src", "link"]);
                    if !flags.contains(&"-r") {
                        let o = run_in(tool, &dir, &args, env);
                        assert!(o.status.success(), "{tool} {flags:?}: {}", stderr(&o));
                        outputs.push_str(&stdout(&o));
                    }
                }
                let place = if recursive {
                    dir.join("d")
                } else {
                    dir.clone()
                };
                got.push((listing(&place), outputs));
            }
            assert_eq!(got[0], got[1], "{flags:?} {env:?} numbered={numbered}");
        }
    }
    // The cases differ from one another, so the comparison can fail.
    let names = |d: &str| {
        let mut v: Vec<String> = listing(&root.path().join(d))
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("mmcp2false"),
        ["dst", "dst.~1~", "dst.~2~", "dst.~3~", "src"]
    );
    assert_eq!(names("mmcp7false"), ["dst", "dst~", "src"]);
    assert_eq!(names("mmcp0false"), ["dst", "src"]);
}

#[test]
fn backup_errors_and_refusals_match_cp() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a", b"a\n");
    write(dir.path(), "a~", b"backup of a\n");
    // Backing up a~ onto... the copy of a~ over a would rename a to a~, the source itself.
    let strip = |s: String, tool: &str| s.replacen(&format!("{tool}: "), "", 1);
    let mm = run_in("mmcp", dir.path(), &["--backup=simple", "a~", "a"], &[]);
    let cp = run_in("cp", dir.path(), &["--backup=simple", "a~", "a"], &[]);
    assert_eq!(mm.status.code(), Some(1));
    assert_eq!(cp.status.code(), Some(1));
    assert_eq!(strip(stderr(&mm), "mmcp"), strip(stderr(&cp), "cp"));
    assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"a\n");
    // Copying a file over another name of itself is allowed with a backup, as cp allows it.
    std::fs::hard_link(dir.path().join("a"), dir.path().join("h")).unwrap();
    let mm = run_in("mmcp", dir.path(), &["-b", "a", "h"], &[]);
    assert!(mm.status.success(), "{}", stderr(&mm));
    assert_eq!(std::fs::read(dir.path().join("h~")).unwrap(), b"a\n");
    assert_ne!(
        std::fs::metadata(dir.path().join("h")).unwrap().ino(),
        std::fs::metadata(dir.path().join("a")).unwrap().ino()
    );
    // ...but not over the same name.
    let mm = run_in("mmcp", dir.path(), &["-b", "a", "a"], &[]);
    assert_eq!(mm.status.code(), Some(1));
    // Bad controls are usage errors; --in-place cannot back up.
    for (args, env) in [
        (&["--backup=bogus", "a", "z"][..], &[][..]),
        (&["--backup=n", "a", "z"], &[]),
        (&["-b", "a", "z"], &[("VERSION_CONTROL", "bogus")]),
        (&["--in-place", "-b", "a", "z"], &[]),
    ] {
        let o = run_in("mmcp", dir.path(), args, env);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(!dir.path().join("z").exists());
    }
    let o = run_in("mmcp", dir.path(), &["--backup=bogus", "a", "z"], &[]);
    assert!(
        stderr(&o).contains("invalid argument 'bogus' for 'backup type'"),
        "{}",
        stderr(&o)
    );

    // A copy that fails makes no backup and leaves DST as it was.
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        skip("needs root and setpriv to run as uid 65534 on an unreadable source");
        return;
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let secret = write(dir.path(), "secret", b"top secret\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dst = write(dir.path(), "dst", b"keep me\n");
    sh(&format!("chown 65534:65534 {}", dst.display()));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin_path("mmcp"))
        .arg("--backup=numbered")
        .arg(&secret)
        .arg(&dst)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(&dst).unwrap(), b"keep me\n");
    let names: Vec<String> = listing(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("dst.~") || n.contains(".mmcp-")),
        "{names:?}"
    );
}
