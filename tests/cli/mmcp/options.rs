//! mmcp against GNU cp for the options a cp user expects: -n against -f, -b with -n, -T,
//! --remove-destination, -l, -s, --parents, -x, --attributes-only, --copy-contents, --reflink,
//! abbreviated long options, and sockets in trees. Each case runs both tools in twin directories
//! built by the same setup and compares exit status, the tree left, stdout and stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{bin_path, is_root, sh, skip};

/// What one tool did: exit status, stdout, stderr (with `cp:` read as `mmcp:`), and the tree.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    tree: Vec<String>,
}

/// Runs `tool` in `dir` with `args`, `input` on stdin.
fn run(tool: &str, dir: &Path, args: &[&str], input: &str) -> Outcome {
    let program = if tool == "mmcp" {
        bin_path("mmcp").to_path_buf()
    } else {
        PathBuf::from("cp")
    };
    let mut child = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env_remove("VERSION_CONTROL")
        .env_remove("SIMPLE_BACKUP_SUFFIX")
        .env_remove("POSIXLY_CORRECT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Outcome {
        code: out.status.code(),
        stdout: text(&out.stdout),
        stderr: if tool == "cp" {
            // cp's output never holds "mmcp: ": every "cp: " is cp's name (after a prompt too).
            text(&out.stderr)
                .replace("cp: ", "mmcp: ")
                .replace("'cp --help'", "'mmcp --help'")
        } else {
            text(&out.stderr)
        },
        tree: tree(dir),
    }
}

/// Everything under `root`, sorted: path, type, content or link target (with `root` written as
/// ROOT), permission bits, and the other names of the same inode.
fn tree(root: &Path) -> Vec<String> {
    let mut names: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let ft = meta.file_type();
            let what = if ft.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                let target = target.display().to_string();
                format!(
                    "symlink -> {}",
                    target.replace(&root.display().to_string(), "ROOT")
                )
            } else if ft.is_dir() {
                stack.push(path.clone());
                "dir".into()
            } else if ft.is_fifo() {
                "fifo".into()
            } else if ft.is_socket() {
                "socket".into()
            } else if ft.is_char_device() || ft.is_block_device() {
                format!("device {:x}", meta.rdev())
            } else {
                format!(
                    "file {:?}",
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap())
                )
            };
            if !ft.is_dir() {
                names.entry(meta.ino()).or_default().push(rel.clone());
            }
            rows.push((
                rel,
                what,
                meta.ino(),
                meta.permissions().mode() & 0o7777,
                ft.is_symlink(),
            ));
        }
    }
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|(rel, what, ino, mode, link)| {
            let mut others = names.get(&ino).cloned().unwrap_or_default();
            others.retain(|n| *n != rel);
            others.sort();
            let mode = if link { 0 } else { mode };
            format!("{rel}: {what} {mode:o} links{others:?}")
        })
        .collect();
    out.sort();
    out
}

/// Builds the same starting tree twice (`setup` runs in each directory), runs cp in one and mmcp in
/// the other with `args`, and asserts they agree. Returns mmcp's outcome.
fn side_by_side(setup: &str, args: &[&str], input: &str) -> Outcome {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        sh(&format!("cd '{}' && {setup}", dir.path().display()));
    }
    let cp = run("cp", a.path(), args, input);
    let mmcp = run("mmcp", b.path(), args, input);
    assert_eq!(mmcp, cp, "mmcp {args:?} differs from cp (setup: {setup})");
    mmcp
}

const FILES: &str = "echo a > a && echo b > b && mkdir d";

#[test]
fn no_clobber_wins_over_force_in_any_order() {
    for args in [
        ["-n", "-f", "a", "b"],
        ["-f", "-n", "a", "b"],
        ["-nf", "a", "b", ""],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let out = side_by_side(FILES, &args, "");
        assert_eq!(out.code, Some(0));
        assert!(
            out.tree
                .contains(&"b: file \"b\\n\" 644 links[]".to_string()),
            "{:?}",
            out.tree
        );
    }
}

#[test]
fn backup_with_no_clobber_is_refused() {
    for args in [
        &["-b", "-n", "a", "b"][..],
        &["-n", "--backup=simple", "a", "b"],
        &["-n", "-S", ".old", "a", "b"],
        &["--backup=none", "-n", "a", "b"],
    ] {
        let out = side_by_side(FILES, args, "");
        assert_eq!(out.code, Some(1));
        assert!(out.stderr.contains("mutually exclusive"), "{}", out.stderr);
    }
    // -i after -n cancels -n, so a backup is allowed again.
    side_by_side(FILES, &["-n", "-i", "-b", "a", "b"], "y\n");
}

#[test]
fn no_target_directory() {
    side_by_side(FILES, &["-T", "a", "d"], "");
    side_by_side(FILES, &["-T", "a", "b", "d"], "");
    side_by_side(FILES, &["-T", "a"], "");
    side_by_side(FILES, &["-T", "-t", "d", "a"], "");
    side_by_side(FILES, &["--no-target-directory", "a", "c"], "");
    let tree = "mkdir -p s/x d/s && echo 1 > s/x/f && echo 2 > s/g";
    let out = side_by_side(tree, &["-r", "-T", "s", "d"], "");
    assert!(
        out.tree.iter().any(|l| l.starts_with("d/x/f:")),
        "{:?}",
        out.tree
    );
}

#[test]
fn remove_destination_replaces_links_and_devices() {
    let setup =
        "echo a > a && echo t > t && ln -s t link && ln -s nowhere dangling && ln -s a self";
    for dst in ["link", "dangling", "self", "new"] {
        let out = side_by_side(setup, &["--remove-destination", "a", dst], "");
        assert_eq!(out.code, Some(0), "{dst}: {}", out.stderr);
    }
    // Abbreviated, as GNU getopt allows.
    side_by_side(setup, &["--rem", "a", "link"], "");
    let trees = "mkdir -p s/d t/s/d && echo 1 > s/f && echo 2 > s/d/g && ln -s nowhere t/s/f";
    side_by_side(trees, &["-r", "--remove-destination", "s", "t"], "");
    if !is_root() {
        skip("mknod of a character device needs root");
        return;
    }
    // A device at DST is written into by a plain copy, but replaced here.
    let out = side_by_side(
        "echo a > a && mknod null c 1 3",
        &["--remove-destination", "a", "null"],
        "",
    );
    assert!(
        out.tree
            .contains(&"null: file \"a\\n\" 644 links[]".to_string()),
        "{:?}",
        out.tree
    );
}

#[test]
fn hard_links_instead_of_copies() {
    let setup = "echo a > a && echo b > b && mkdir -p s/t && echo f > s/t/f && ln -s f s/t/l";
    side_by_side(setup, &["-l", "a", "c"], "");
    let out = side_by_side(setup, &["-l", "a", "b"], "");
    assert!(
        out.stderr.contains("cannot create hard link 'b' to 'a'"),
        "{}",
        out.stderr
    );
    side_by_side(setup, &["-lf", "a", "b"], "");
    side_by_side(setup, &["--link", "--remove-destination", "a", "b"], "");
    side_by_side(setup, &["-rl", "s", "copy"], "");
    // A link onto the same file is already there: exit 0, as cp.
    side_by_side(setup, &["-l", "a", "a"], "");
    side_by_side("echo a > a && ln a h", &["-l", "a", "h"], "");
    for follow in ["-P", "-H", "-L"] {
        side_by_side(setup, &["-l", follow, "s/t/l", "c"], "");
        side_by_side(setup, &["-rl", follow, "s", "copy"], "");
    }
}

#[test]
fn symbolic_links_instead_of_copies() {
    let setup = "echo a > a && echo b > b && mkdir d";
    side_by_side(setup, &["-s", "a", "c"], "");
    side_by_side(setup, &["-s", "a", "d/c"], "");
    side_by_side(setup, &["-s", "a", "a"], "");
    side_by_side(
        "echo a > a && mkdir d && echo x > d/x",
        &["-n", "-s", "a", "d/x"],
        "",
    );
    side_by_side(
        "echo a > a && mkdir d && echo x > d/x",
        &["-sf", "a", "d/x"],
        "",
    );
    side_by_side(setup, &["-s", "a", "b"], "");
    side_by_side(setup, &["--symbolic-link", "-f", "a", "b"], "");
}

#[test]
fn symbolic_links_of_a_tree_by_absolute_name() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut outs = Vec::new();
    for (tool, dir) in [("cp", &a), ("mmcp", &b)] {
        sh(&format!(
            "cd '{}' && mkdir -p s/t && echo f > s/t/f",
            dir.path().display()
        ));
        let src = dir.path().join("s");
        outs.push(run(
            tool,
            dir.path(),
            &["-rs", src.to_str().unwrap(), "copy"],
            "",
        ));
    }
    assert_eq!(outs[1], outs[0]);
    assert_eq!(outs[1].code, Some(0));
}

#[test]
fn parents_appends_the_source_path() {
    let setup = "mkdir -p s/t d && echo f > s/t/f && chmod 750 s/t && echo a > a";
    let out = side_by_side(setup, &["-v", "--parents", "s/t/f", "d"], "");
    assert!(out.stdout.contains("s/t -> d/s/t"), "{}", out.stdout);
    side_by_side(setup, &["-rv", "--parents", "s/t", "d"], "");
    side_by_side(setup, &["--parents", "s/t/f", "a"], "");
    side_by_side(setup, &["--parent", "-t", "d", "s/t/f", "a"], "");
    side_by_side(setup, &["--parents", "missing/x", "s/t/f", "d"], "");
    side_by_side(setup, &["-rT", "--parents", "s", "d"], "");
}

#[test]
fn one_file_system_leaves_mount_points_empty() {
    if !is_root() {
        skip("mounting a tmpfs needs root");
        return;
    }
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut outs = Vec::new();
    for (tool, dir) in [("cp", &a), ("mmcp", &b)] {
        let d = dir.path().display();
        sh(&format!(
            "cd '{d}' && mkdir -p s/m && echo f > s/f && mount -t tmpfs -o size=1M none s/m && \
             echo inner > s/m/inner"
        ));
        let out = run(tool, dir.path(), &["-rx", "s", "copy"], "");
        sh(&format!("umount '{d}/s/m'"));
        outs.push(out);
    }
    assert_eq!(outs[1], outs[0]);
    assert!(outs[1].tree.iter().any(|l| l.starts_with("copy/m: dir")));
    assert!(!outs[1].tree.iter().any(|l| l.starts_with("copy/m/inner")));
}

#[test]
fn attributes_only_copies_no_data() {
    let setup = "printf data > a && chmod 640 a && touch -d 2001-01-01 a && echo old > b";
    side_by_side(setup, &["--attributes-only", "a", "c"], "");
    side_by_side(setup, &["--attributes-only", "-p", "a", "b"], "");
    let tree = "mkdir -p s/t && printf data > s/t/f && ln -s f s/t/l && chmod 700 s/t";
    side_by_side(tree, &["-a", "--attributes-only", "s", "copy"], "");
    let dangling = "echo a > a && ln -s nowhere dl";
    let out = side_by_side(dangling, &["--attributes-only", "a", "dl"], "");
    assert_eq!(out.code, Some(1));
}

#[test]
fn copy_contents_reads_devices_in_trees() {
    if !is_root() {
        skip("mknod of a character device needs root");
        return;
    }
    let setup = "mkdir s && echo f > s/f && mknod s/null c 1 3";
    side_by_side(setup, &["--copy-contents", "s/f", "g"], "");
    let out = side_by_side(setup, &["-r", "--copy-contents", "s", "t"], "");
    assert!(
        out.tree.iter().any(|l| l.starts_with("t/null: file \"\"")),
        "{:?}",
        out.tree
    );
}

#[test]
fn reflink_auto_and_never_copy_always_is_refused() {
    side_by_side(FILES, &["--reflink=auto", "a", "c"], "");
    side_by_side(FILES, &["--reflink=never", "a", "c"], "");
    let dir = tempfile::tempdir().unwrap();
    sh(&format!("cd '{}' && {FILES}", dir.path().display()));
    for args in [
        &["--reflink=always", "a", "c"][..],
        &["--reflink", "a", "c"],
    ] {
        let out = run("mmcp", dir.path(), args, "");
        assert_eq!(out.code, Some(1));
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.starts_with("mmcp: --reflink=always"),
            "{}",
            out.stderr
        );
        assert!(!dir.path().join("c").exists());
    }
    // Abbreviations as cp takes them, and cp's words (in the C locale's quotes) for bad values.
    side_by_side(FILES, &["--reflink=n", "a", "c"], "");
    for bad in ["--reflink=bogus", "--reflink=a", "--reflink="] {
        let cp = Command::new("cp")
            .args([bad, "a", "c"])
            .current_dir(dir.path())
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let out = run("mmcp", dir.path(), &[bad, "a", "c"], "");
        let expected = String::from_utf8_lossy(&cp.stderr)
            .replace("cp: ", "mmcp: ")
            .replace("'cp --help'", "'mmcp --help'");
        assert_eq!((out.code, out.stderr), (cp.status.code(), expected));
    }
}

#[test]
fn sockets_in_trees_are_recreated() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut outs = Vec::new();
    for (tool, dir) in [("cp", &a), ("mmcp", &b)] {
        std::fs::create_dir(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/f"), "f").unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s/sock")).unwrap();
        std::fs::set_permissions(
            dir.path().join("s/sock"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        outs.push(run(tool, dir.path(), &["-r", "s", "t"], ""));
        // --no-preserve=mode: 0777 less the umask for a socket; --copy-contents tries to read it.
        outs.push(run(
            tool,
            dir.path(),
            &["-a", "--no-preserve=mode", "s", "m"],
            "",
        ));
        outs.push(run(
            tool,
            dir.path(),
            &["-r", "--copy-contents", "s", "c"],
            "",
        ));
        drop(listener);
    }
    let (cp, mmcp) = outs.split_at(3);
    assert_eq!(mmcp, cp);
    let [recreated, no_mode, contents] = mmcp else {
        unreachable!()
    };
    assert_eq!(recreated.code, Some(0), "{}", recreated.stderr);
    assert!(
        recreated
            .tree
            .iter()
            .any(|l| l.starts_with("t/sock: socket 700"))
    );
    assert!(no_mode.tree.iter().any(|l| l.starts_with("m/sock: socket")));
    assert_eq!(contents.code, Some(1));
    let out = run("mmcp", b.path(), &["-r", "--json", "s", "u"], "");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("\"errors\":0"), "{}", out.stdout);
}

#[test]
fn a_no_to_interactive_skips_a_directory_at_dst() {
    let setup = "mkdir -p a b/a/c && echo x > a/c";
    let out = side_by_side(setup, &["-iR", "a", "b"], "n\n");
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stderr, "mmcp: overwrite 'b/a/c'? ");
    let out = side_by_side(setup, &["-iR", "a", "b"], "y\n");
    assert_eq!(out.code, Some(1));
    // -n and -u skip it too.
    side_by_side("echo a > f && mkdir d", &["-n", "-T", "f", "d"], "");
    side_by_side(
        "echo a > f && mkdir d && touch -d 2000-01-01 f",
        &["-u", "-T", "f", "d"],
        "",
    );
}

#[test]
fn update_archive_into_an_existing_tree_of_hard_links() {
    let setup = "mkdir s && echo 1 > s/a && ln s/a s/b && ln s/a s/c && cp -a s t && \
                 echo 2 > s/a && touch -d 2030-01-01 s/a";
    let out = side_by_side(setup, &["-au", "s/.", "t"], "");
    assert!(
        out.tree
            .contains(&"t/a: file \"2\\n\" 644 links[\"t/b\", \"t/c\"]".to_string())
    );
    let setup = "mkdir s t && echo 1 > s/a && ln s/a s/b && echo 0 > t/a && ln t/a t/b && \
                 touch -d 2000-01-01 t/a";
    side_by_side(setup, &["-au", "s/.", "t"], "");
}

#[test]
fn posixly_correct_writes_through_a_dangling_symlink() {
    let setup = "echo f > f && ln -s nowhere dl && mkdir sub && ln -s ../elsewhere sub/dl";
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut outs = Vec::new();
    for (tool, dir) in [("cp", &a), ("mmcp", &b)] {
        sh(&format!("cd '{}' && {setup}", dir.path().display()));
        let program = if tool == "cp" {
            PathBuf::from("cp")
        } else {
            bin_path("mmcp").to_path_buf()
        };
        for dst in ["dl", "sub/dl"] {
            let out = Command::new(&program)
                .current_dir(dir.path())
                .args(["-v", "f", dst])
                .env("POSIXLY_CORRECT", "1")
                .output()
                .unwrap();
            outs.push((
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            ));
        }
        outs.push((None, tree(dir.path()).join("\n")));
    }
    let (cp, mmcp) = outs.split_at(3);
    assert_eq!(mmcp, cp);
    assert!(b.path().join("nowhere").is_file() && b.path().join("elsewhere").is_file());
    // Without POSIXLY_CORRECT a dangling symlink is refused, as by cp.
    sh(&format!("cd '{}' && ln -s gone dl3", b.path().display()));
    let out = run("mmcp", b.path(), &["f", "dl3"], "");
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        "mmcp: not writing through dangling symlink 'dl3'\n"
    );
    assert!(!b.path().join("gone").exists());
}

#[test]
fn messages_in_cp_words() {
    side_by_side("echo a > a", &["missing", "x"], "");
    side_by_side("echo a > a", &["-r", "missing", "x"], "");
    let setup = "mkdir x y c && echo t > t && ln -s ../t x/l && echo f > y/l";
    let out = side_by_side(setup, &["-P", "x/l", "y/l", "c"], "");
    assert!(
        out.stderr.contains("through just-created symlink 'c/l'"),
        "{}",
        out.stderr
    );
    side_by_side(setup, &["-P", "y/l", "x/l", "c"], "");
    if !is_root() {
        skip("reading as another user needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sh(&format!(
        "cd '{}' && echo s > secret && chmod 600 secret && chmod 777 .",
        dir.path().display()
    ));
    let mut errs = Vec::new();
    for tool in ["cp", bin_path("mmcp").to_str().unwrap()] {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                tool,
                "secret",
                "copy",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let text = if tool == "cp" {
            text.replacen("cp: ", "mmcp: ", 1)
        } else {
            text
        };
        errs.push((out.status.code(), text));
    }
    assert_eq!(errs[1], errs[0]);
    assert_eq!(
        errs[1].1,
        "mmcp: cannot open 'secret' for reading: Permission denied\n"
    );
}
