//! Two names of one file, against GNU cp: symlinks in either operand with and without -d/-P/-L/-H/-a,
//! hard links, --backup (and `-f --backup F F`), -n/-u, trees, and bind mounts. mmcp must refuse what
//! cp refuses ("'A' and 'B' are the same file", exit 1), and leave exactly what cp leaves.

use std::path::Path;
use std::process::Command;

use super::compat::{run_in, shape};
use crate::util::{is_root, skip, stderr};

/// The same starting tree in every directory: a file, symlinks to it (also through a symlink and
/// from a subdirectory), a hard link to it, a hard link to one of the symlinks, and two trees that
/// share a file by a hard link.
const SETUP: &str = "printf data > foo; printf other > other; ln -s foo symlink; ln -s foo symlink2; \
ln -s symlink sym2; ln foo hard; ln symlink symhard; mkdir d e t u; ln -s ../foo d/up; \
ln -s ../foo e/foo; printf t > t/f; ln t/f u/f; ln -s f t/l";

/// Runs `args` with mmcp and with cp, each in a fresh copy of [`SETUP`], and returns, per tool, the
/// exit status, stderr without the tool's name, and what the directory holds afterwards.
fn both(root: &Path, case: usize, args: &[&str]) -> [(Option<i32>, String, Vec<String>); 2] {
    ["mmcp", "cp"].map(|tool| {
        let dir = root.join(format!("{tool}{case}"));
        std::fs::create_dir(&dir).unwrap();
        let made = Command::new("sh")
            .args(["-c", SETUP])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(made.success());
        let out = run_in(tool, &dir, args, &[]);
        let err = stderr(&out).replace(&format!("{tool}: "), "");
        (out.status.code(), err, shape(&dir))
    })
}

#[test]
fn two_names_of_one_file_are_refused_as_cp_refuses_them() {
    let root = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        // The symlink onto what it points to: the data-loss case of issue 10.
        &["-d", "symlink", "foo"],
        &["-P", "symlink", "foo"],
        &["-a", "symlink", "foo"],
        &["-df", "symlink", "foo"],
        &["-R", "-P", "symlink", "foo"],
        &["-r", "symlink", "foo"],
        &["-d", "sym2", "foo"],
        &["-d", "symlink", "hard"],
        &["-d", "d/up", "foo"],
        &["-d", "symlink", "./foo"],
        &["-d", "-t", "d", "foo"],
        &["-d", "symlink", "e/foo"],
        &["-P", "foo", "e/foo"],
        // Symlinks followed.
        &["symlink", "foo"],
        &["-L", "symlink", "foo"],
        &["-H", "symlink", "foo"],
        &["-Hr", "symlink", "foo"],
        &["foo", "symlink"],
        &["-d", "foo", "symlink"],
        &["-P", "foo", "symlink"],
        &["symlink", "symlink2"],
        &["-t", "e", "foo"],
        // Two symlinks: distinct links may replace each other when not followed.
        &["-P", "sym2", "symlink"],
        &["-d", "symlink", "sym2"],
        &["-a", "symlink", "symlink2"],
        &["-d", "symlink", "symlink"],
        &["symlink", "symlink"],
        &["-d", "symlink", "symhard"],
        // Hard links and one name twice.
        &["foo", "hard"],
        &["hard", "foo"],
        &["-d", "foo", "hard"],
        &["-a", "foo", "hard"],
        &["foo", "foo"],
        &["foo", "./foo"],
        &["-r", "foo", "hard"],
        &["-a", "t/.", "u"],
        &["-r", "t/.", "u"],
        &["-u", "foo", "hard"],
        &["-n", "foo", "hard"],
        &["-n", "-d", "symlink", "foo"],
        // Backups: the old name becomes the backup, unless it is the source's own name.
        &["-b", "foo", "hard"],
        &["-b", "hard", "foo"],
        &["-b", "foo", "foo"],
        &["-b", "foo", "./foo"],
        &["-b", "symlink", "foo"],
        &["-bd", "symlink", "foo"],
        &["-b", "foo", "symlink"],
        &["-bd", "foo", "symlink"],
        &["-bL", "symlink", "foo"],
        &["-bH", "symlink", "foo"],
        &["-b", "symlink", "symlink2"],
        &["-bd", "symlink", "symlink2"],
        &["-bd", "symlink", "symlink"],
        &["-ba", "t/.", "u"],
        // -f with a backup of one name onto itself copies it to the backup name, as cp does.
        &["--force", "--backup=simple", "foo", "foo"],
        &["-f", "--backup=numbered", "foo", "foo"],
        &["-f", "-b", "foo", "foo"],
        &["-f", "-b", "./foo", "foo"],
        &["-f", "-b", "symlink", "symlink"],
        &["-f", "-b", "-d", "symlink", "symlink"],
        &["-f", "-b", "hard", "foo"],
    ];
    let mut differ = Vec::new();
    let mut refused = 0;
    for (i, args) in cases.iter().enumerate() {
        let [mm, cp] = both(root.path(), i, args);
        if mm != cp {
            differ.push(format!("{args:?}:\n  mmcp {mm:?}\n  cp   {cp:?}"));
        }
        refused += usize::from(cp.1.contains("are the same file"));
    }
    assert!(differ.is_empty(), "differ from cp:\n{}", differ.join("\n"));
    // The table covers both outcomes.
    assert!(refused > 10 && refused < cases.len() - 10, "{refused}");
}

#[test]
fn a_backup_that_would_leave_the_source_dangling_is_made_after_the_source_is_open() {
    // cp moves 'symlink' aside first, then cannot open 'sym2' (-> symlink) and puts it back; mmcp opens
    // the source before it moves anything, so the copy is made: nothing is lost either way.
    let [mm, cp] = both(
        tempfile::tempdir().unwrap().path(),
        0,
        &["-b", "sym2", "symlink"],
    );
    assert_eq!(cp.0, Some(1), "{cp:?}");
    assert_eq!(mm.0, Some(0), "{mm:?}");
    assert!(
        mm.2.contains(&"symlink: file \"data\"".to_string()),
        "{mm:?}"
    );
    assert!(
        mm.2.contains(&"symlink~: symlink -> foo".to_string()),
        "{mm:?}"
    );
    assert!(mm.2.contains(&"foo: file \"data\"".to_string()), "{mm:?}");
}

#[test]
fn a_symlink_copied_onto_its_target_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for flags in [&["-d"][..], &["-P"], &["-a"], &["-df"], &["-d", "--sync"]] {
        std::fs::write(d.join("foo"), b"precious").unwrap();
        let _ = std::fs::remove_file(d.join("symlink"));
        std::os::unix::fs::symlink("foo", d.join("symlink")).unwrap();
        let mut args = flags.to_vec();
        args.extend(["symlink", "foo"]);
        let out = run_in("mmcp", d, &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        assert_eq!(
            stderr(&out),
            "mmcp: 'symlink' and 'foo' are the same file\n",
            "{flags:?}"
        );
        assert_eq!(
            std::fs::read(d.join("foo")).unwrap(),
            b"precious",
            "{flags:?}"
        );
    }
}

#[test]
fn a_bind_mount_is_another_name_of_the_same_files() {
    if !is_root() {
        skip("needs root to bind-mount a directory");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    let bound = root.path().join("bound");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::create_dir_all(&bound).unwrap();
    std::fs::write(real.join("f"), b"precious").unwrap();
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&real)
        .arg(&bound)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        skip("mount --bind failed");
        return;
    }
    let cases: &[&[&str]] = &[
        &["real/f", "bound/f"],
        &["-a", "real/f", "bound/f"],
        &["-d", "real/f", "bound/f"],
        &["-b", "real/f", "bound/f"],
        &["-r", "real/.", "bound"],
    ];
    let mut results = Vec::new();
    for args in cases {
        let [mm, cp] = ["mmcp", "cp"].map(|tool| {
            let out = run_in(tool, root.path(), args, &[]);
            (
                out.status.code(),
                stderr(&out).replace(&format!("{tool}: "), ""),
            )
        });
        results.push((args, mm, cp, std::fs::read(real.join("f"))));
    }
    let _ = Command::new("umount").arg(&bound).status();
    for (args, mm, cp, data) in results {
        assert_eq!(mm, cp, "{args:?}");
        assert_eq!(mm.0, Some(1), "{args:?}");
        assert!(mm.1.contains("are the same file"), "{args:?}: {}", mm.1);
        assert_eq!(data.unwrap(), b"precious", "{args:?}");
    }
}
