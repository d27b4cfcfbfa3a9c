//! mmcp against GNU cp: the same tree, modes, owners, times, hard links, ACLs and extended attributes
//! for -P/-H/-L, --preserve/--no-preserve, -a and -d (backups are in `backup`). Each case runs both
//! tools on identical sources and compares what they leave.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{bin_path, is_root, sh, skip, stderr, stdout, write};

/// Runs `tool` (mmcp or cp) with `args` in `dir`, with no backup variables unless `env` sets them.
pub(super) fn run_in(tool: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let program = if tool == "mmcp" {
        bin_path("mmcp").to_path_buf()
    } else {
        PathBuf::from("cp")
    };
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("VERSION_CONTROL")
        .env_remove("SIMPLE_BACKUP_SUFFIX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// What is under `root` (itself included), one line per entry, sorted: relative path, type, content
/// or link target.
pub(super) fn shape(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    visit(root, root, &mut |rel, path, meta| {
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            format!("symlink -> {}", std::fs::read_link(path).unwrap().display())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_fifo() {
            "fifo".to_string()
        } else {
            format!(
                "file {:?}",
                String::from_utf8_lossy(&std::fs::read(path).unwrap())
            )
        };
        out.push(format!("{rel}: {what}"));
    });
    out.sort();
    out
}

/// The user.* extended attributes of `path` (not followed), sorted.
fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    let mut out: Vec<(String, Vec<u8>)> = names[..n]
        .split(|&b| b == 0)
        .filter(|n| n.starts_with(b"user."))
        .map(|name| {
            let mut value = vec![0u8; 4096];
            let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
            value.truncate(len);
            (String::from_utf8_lossy(name).into_owned(), value)
        })
        .collect();
    out.sort();
    out
}

/// Attributes of everything under `root`, sorted by relative path: mode, owner, group, mtime (ns),
/// link count, the other names of the same inode under `root`, and user extended attributes.
fn attrs(root: &Path) -> Vec<String> {
    let mut by_inode: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut entries = Vec::new();
    visit(root, root, &mut |rel, path, meta| {
        by_inode
            .entry(meta.ino())
            .or_default()
            .push(rel.to_string());
        entries.push((rel.to_string(), path.to_path_buf(), meta.clone()));
    });
    let mut out: Vec<String> = entries
        .into_iter()
        .map(|(rel, path, meta)| {
            let mut names = by_inode[&meta.ino()].clone();
            names.sort();
            let mode = if meta.file_type().is_symlink() {
                0
            } else {
                meta.mode() & 0o7777
            };
            format!(
                "{rel}: mode {mode:o} owner {}:{} mtime {}.{:09} nlink {} names {names:?} xattrs {:?}",
                meta.uid(),
                meta.gid(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.nlink(),
                user_xattrs(&path)
            )
        })
        .collect();
    out.sort();
    out
}

fn visit(root: &Path, path: &Path, f: &mut dyn FnMut(&str, &Path, &std::fs::Metadata)) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    f(if rel.is_empty() { "." } else { &rel }, path, &meta);
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            visit(root, &entry.unwrap().path(), f);
        }
    }
}

/// Sets the times of `path` (not followed) to `atime` and `mtime` seconds, with some nanoseconds.
fn set_times(path: &Path, atime: i64, mtime: i64) {
    let ts = |s: i64| rustix::fs::Timespec {
        tv_sec: s,
        tv_nsec: 123_456_789,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: ts(atime),
            last_modification: ts(mtime),
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Sets a user extended attribute, or says why the filesystem cannot hold one.
fn set_xattr(path: &Path, name: &str, value: &[u8]) -> bool {
    match rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()) {
        Ok(()) => true,
        Err(e) => {
            skip(&format!("no user xattrs here ({e}): xattrs not compared"));
            false
        }
    }
}

/// A tree with every kind of entry: files of several modes, hard links (to a file, across
/// directories, to a symlink), relative and dangling symlinks, a symlink to a directory, a FIFO,
/// directories of their own modes; old times everywhere, and odd owners when we are root.
fn rich_tree(base: &Path) -> PathBuf {
    let src = base.join("src");
    std::fs::create_dir_all(src.join("sub/deep")).unwrap();
    write(&src, "a", b"alpha\n");
    std::fs::hard_link(src.join("a"), src.join("a2")).unwrap();
    std::fs::hard_link(src.join("a"), src.join("sub/deep/a3")).unwrap();
    write(&src, "exec", b"#!/bin/sh\n");
    write(&src.join("sub"), "private", b"secret\n");
    write(&src.join("sub"), "single", b"one name\n");
    std::os::unix::fs::symlink("a", src.join("link")).unwrap();
    std::fs::hard_link(src.join("link"), src.join("link2")).unwrap();
    std::os::unix::fs::symlink("nowhere", src.join("dangling")).unwrap();
    std::os::unix::fs::symlink("sub/deep", src.join("dirlink")).unwrap();
    sh(&format!("mkfifo -m 640 {}", src.join("sub/pipe").display()));
    if is_root() {
        sh(&format!(
            "chown 1234:5678 {0}/a {0}/exec && chown -h 4321:8765 {0}/link {0}/dangling && \
             chown 1111:2222 {0}/sub {0}/sub/pipe",
            src.display()
        ));
    }
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(src.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("exec", 0o4751);
    mode("sub/private", 0o600);
    mode("sub", 0o750);
    mode("sub/deep", 0o700);
    let mut t = 1_000_000_000;
    let mut all = Vec::new();
    visit(&src, &src, &mut |_, path, _| all.push(path.to_path_buf()));
    // Deepest first, so that setting a child's times does not matter to its parent (it would not).
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for path in all {
        t += 86_400;
        set_times(&path, t + 3600, t);
    }
    src
}

#[test]
fn archive_matches_cp_a() {
    let dir = tempfile::tempdir().unwrap();
    let src = rich_tree(dir.path());
    let xattrs = set_xattr(&src.join("a"), "user.colour", b"blue")
        && set_xattr(&src.join("sub"), "user.dir", b"d");
    let single_atime = std::fs::metadata(src.join("sub/single")).unwrap().atime();
    let link_atime = std::fs::symlink_metadata(src.join("link")).unwrap().atime();
    let mm = run_in("mmcp", dir.path(), &["-a", "src", "mm"], &[]);
    assert!(mm.status.success(), "{}", stderr(&mm));
    assert_eq!(stderr(&mm), "");
    let cp = run_in("cp", dir.path(), &["-a", "src", "cp"], &[]);
    assert!(cp.status.success(), "{}", stderr(&cp));
    // atime: mmcp reads the source's status before reading it (cp ran after, so is not compared).
    // (Checked before anything reads the copies.)
    let mm_single = std::fs::metadata(dir.path().join("mm/sub/single")).unwrap();
    assert_eq!(mm_single.atime(), single_atime);
    let mm_link = std::fs::symlink_metadata(dir.path().join("mm/link")).unwrap();
    assert_eq!(mm_link.atime(), link_atime);
    assert_eq!(shape(&dir.path().join("mm")), shape(&dir.path().join("cp")));
    assert_eq!(attrs(&dir.path().join("mm")), attrs(&dir.path().join("cp")));
    // The comparison covers what it claims to: links, owners, set-ID bits, times, xattrs.
    let a = std::fs::metadata(dir.path().join("mm/a")).unwrap();
    assert_eq!(a.nlink(), 3);
    assert_eq!(
        a.ino(),
        std::fs::metadata(dir.path().join("mm/sub/deep/a3"))
            .unwrap()
            .ino()
    );
    let link = std::fs::symlink_metadata(dir.path().join("mm/link")).unwrap();
    assert_eq!(link.nlink(), 2, "a hard-linked symlink stays hard-linked");
    assert_eq!(
        std::fs::metadata(dir.path().join("mm/exec"))
            .unwrap()
            .mode()
            & 0o7777,
        0o4751
    );
    if is_root() {
        assert_eq!((a.uid(), a.gid()), (1234, 5678));
        assert_eq!((link.uid(), link.gid()), (4321, 8765));
    } else {
        skip("not root: owners are not changed, so not compared beyond cp's");
    }
    let sub = std::fs::metadata(dir.path().join("mm/sub")).unwrap();
    assert_eq!(sub.mode() & 0o7777, 0o750);
    assert_eq!(
        sub.mtime(),
        std::fs::metadata(src.join("sub")).unwrap().mtime(),
        "a directory's times are set after its contents are copied"
    );
    assert_eq!(
        link.mtime(),
        std::fs::symlink_metadata(src.join("link")).unwrap().mtime(),
        "a symlink gets its own times"
    );
    if xattrs {
        assert_eq!(
            user_xattrs(&dir.path().join("mm/a")),
            [("user.colour".to_string(), b"blue".to_vec())]
        );
        assert_eq!(user_xattrs(&dir.path().join("mm/sub")).len(), 1);
    }

    // Again onto the copies: the same result (the copies are replaced, links remade).
    run_in("mmcp", dir.path(), &["-a", "src/.", "mm"], &[]);
    run_in("cp", dir.path(), &["-a", "src/.", "cp"], &[]);
    assert_eq!(attrs(&dir.path().join("mm")), attrs(&dir.path().join("cp")));
}

#[test]
fn p_h_l_follow_links_as_cp_and_the_last_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    std::fs::create_dir_all(src.join("inner")).unwrap();
    write(&src, "file", b"data\n");
    write(&src.join("inner"), "x", b"x\n");
    std::os::unix::fs::symlink("file", src.join("to_file")).unwrap();
    std::os::unix::fs::symlink("inner", src.join("to_dir")).unwrap();
    std::os::unix::fs::symlink("tree", dir.path().join("top")).unwrap();
    std::os::unix::fs::symlink("tree/file", dir.path().join("top_file")).unwrap();
    let cases: &[&[&str]] = &[
        &["-r", "top"],
        &["-rP", "top"],
        &["-rH", "top"],
        &["-rL", "top"],
        &["-r", "-L", "-P", "top"],
        &["-r", "-P", "-L", "top"],
        &["-r", "-L", "-H", "top"],
        &["-r", "-H", "-L", "top"],
        &["-r", "-L", "-P", "-L", "top"],
        &["-rPLP", "top"],
        &["-rLd", "top"],
        &["-Lr", "--no-dereference", "top"],
        &["-r", "--dereference", "top"],
        &["-aL", "top"],
        &["-La", "top"],
        &["top_file"],
        &["-P", "top_file"],
        &["-d", "top_file"],
        &["-H", "top_file"],
        &["-P", "-L", "top_file"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut outs = Vec::new();
        for tool in ["mmcp", "cp"] {
            let out = format!("{tool}{i}");
            let mut args = case.to_vec();
            args.push(&out);
            let o = run_in(tool, dir.path(), &args, &[]);
            assert!(o.status.success(), "{tool} {case:?}: {}", stderr(&o));
            outs.push(shape(&dir.path().join(&out)));
        }
        assert_eq!(outs[0], outs[1], "{case:?}");
    }
    // The cases tell the flags apart: -H copies the top link's directory, but not the links in it.
    let h = shape(&dir.path().join("mmcp2"));
    assert!(h.contains(&".: dir".to_string()), "{h:?}");
    assert!(h.contains(&"to_file: symlink -> file".to_string()), "{h:?}");
    let l = shape(&dir.path().join("mmcp3"));
    assert!(
        l.contains(&"to_file: file \"data\\n\"".to_string()),
        "{l:?}"
    );
}

#[test]
fn preserve_lists_match_cp() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", b"payload\n");
    if is_root() {
        sh(&format!("chown 1234:5678 {}", src.display()));
    } else {
        skip("not root: the source keeps our owner, so ownership is not really tested");
    }
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o4751)).unwrap();
    set_times(&src, 1_200_000_000, 1_100_000_000);
    let xattrs = set_xattr(&src, "user.k", b"v");
    let cases: &[&[&str]] = &[
        &[],
        &["-p"],
        &["--preserve"],
        &["--preserve=mode"],
        &["--preserve=ownership"],
        &["--preserve=timestamps"],
        &["--preserve=xattr"],
        &["--preserve=mode,time"],
        &["--preserve=all"],
        &["--preserve=all", "--no-preserve=ownership,xattr"],
        &["-p", "--no-preserve=mode"],
        &["-p", "--no-preserve=mode", "-p"],
        &["--no-preserve=mode", "-p"],
        &["--no-preserve=mode"],
        &["--no-preserve=all"],
        &["-a", "--no-preserve=timestamps"],
        &["-a", "--no-preserve=all"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut got = Vec::new();
        for tool in ["mmcp", "cp"] {
            let out = format!("{tool}{i}");
            let mut args = case.to_vec();
            args.extend(["src", &out]);
            let o = run_in(tool, dir.path(), &args, &[]);
            assert!(o.status.success(), "{tool} {case:?}: {}", stderr(&o));
            let meta = std::fs::metadata(dir.path().join(&out)).unwrap();
            // mtime of an unpreserved copy is "now": compare whether it was kept, not its value.
            got.push(format!(
                "mode {:o} owner {}:{} mtime kept {} xattrs {:?}",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid(),
                meta.mtime() == 1_100_000_000 && meta.mtime_nsec() == 123_456_789,
                if xattrs {
                    user_xattrs(&dir.path().join(&out))
                } else {
                    Vec::new()
                }
            ));
        }
        assert_eq!(got[0], got[1], "{case:?}");
    }
    // Some cases really differ, so the comparison can fail.
    let mode = |n: &str| std::fs::metadata(dir.path().join(n)).unwrap().mode() & 0o7777;
    assert_eq!(mode("mmcp1"), 0o4751);
    assert_eq!(mode("mmcp13"), 0o666 & !umask());

    // Directories: their own mode, less the umask; exactly with -p; 0777 less the umask with
    // --no-preserve=mode.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("in/deeper")).unwrap();
    write(&tree.join("in"), "f", b"f");
    for (d, m) in [
        ("tree", 0o750),
        ("tree/in", 0o701),
        ("tree/in/deeper", 0o500),
    ] {
        std::fs::set_permissions(dir.path().join(d), std::fs::Permissions::from_mode(m)).unwrap();
    }
    for (i, flags) in [
        &["-r"][..],
        &["-rp"],
        &["-r", "--no-preserve=mode"],
        &["-a"],
    ]
    .iter()
    .enumerate()
    {
        let mut got = Vec::new();
        for tool in ["mmcp", "cp"] {
            let out = format!("{tool}_tree{i}");
            let mut args = flags.to_vec();
            args.extend(["tree", &out]);
            let o = run_in(tool, dir.path(), &args, &[]);
            assert!(o.status.success(), "{tool} {flags:?}: {}", stderr(&o));
            let mut modes = Vec::new();
            visit(
                &dir.path().join(&out),
                &dir.path().join(&out),
                &mut |rel, _, meta| modes.push(format!("{rel} {:o}", meta.mode() & 0o7777)),
            );
            modes.sort();
            got.push(modes);
        }
        assert_eq!(got[0], got[1], "{flags:?}");
    }

    // Unknown attributes and SELinux contexts asked for by name are usage errors.
    for bad in [
        "--preserve=bogus",
        "--preserve=context",
        "--no-preserve=",
        "--preserve=",
    ] {
        let o = run_in("mmcp", dir.path(), &[bad, "src", "never"], &[]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", stderr(&o));
        assert!(!dir.path().join("never").exists());
    }
    let o = run_in("mmcp", dir.path(), &["--preserve=bogus", "src", "x"], &[]);
    assert!(
        stderr(&o).contains("invalid argument 'bogus' for '--preserve'"),
        "{}",
        stderr(&o)
    );
    // --no-preserve=context is accepted, as cp (nothing to leave out).
    let o = run_in(
        "mmcp",
        dir.path(),
        &["--no-preserve=context", "src", "y"],
        &[],
    );
    assert!(o.status.success());
}

/// The process umask, from /proc.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

#[test]
fn hard_links_among_operands_only_with_preserve_links() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one", b"shared\n");
    std::fs::hard_link(dir.path().join("one"), dir.path().join("two")).unwrap();
    write(dir.path(), "solo", b"solo\n");
    std::os::unix::fs::symlink("solo", dir.path().join("to_solo")).unwrap();
    let cases: &[&[&str]] = &[
        &["one", "two"],
        &["--preserve=links", "one", "two", "solo"],
        &["--preserve=links", "--no-preserve=links", "one", "two"],
        &["-d", "one", "two", "to_solo", "solo"],
        &["-L", "--preserve=links", "to_solo", "solo"],
        &["--preserve=links", "to_solo", "solo"],
        &["-H", "--preserve=links", "to_solo", "solo"],
        &["-a", "one", "two"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut got = Vec::new();
        for tool in ["mmcp", "cp"] {
            let out = format!("{tool}{i}");
            std::fs::create_dir(dir.path().join(&out)).unwrap();
            let mut args = case.to_vec();
            args.push(&out);
            let o = run_in(tool, dir.path(), &args, &[]);
            assert!(o.status.success(), "{tool} {case:?}: {}", stderr(&o));
            let lines: Vec<String> = attrs(&dir.path().join(&out))
                .into_iter()
                .map(|l| {
                    // Times and the directory itself are not what this test is about.
                    let names = l.find(" nlink").unwrap();
                    let colon = l.find(':').unwrap();
                    format!("{}{}", &l[..colon], &l[names..])
                })
                .filter(|l| !l.starts_with('.'))
                .collect();
            got.push((lines, shape(&dir.path().join(&out))));
        }
        assert_eq!(got[0], got[1], "{case:?}");
    }
    let ino = |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().ino();
    assert_ne!(ino("mmcp0/one"), ino("mmcp0/two"));
    assert_eq!(ino("mmcp1/one"), ino("mmcp1/two"));
    assert_eq!(
        ino("mmcp4/to_solo"),
        ino("mmcp4/solo"),
        "-L: one file, two names"
    );

    // -v and --json say which names were linked.
    std::fs::create_dir(dir.path().join("json")).unwrap();
    let o = run_in(
        "mmcp",
        dir.path(),
        &["--json", "--preserve=links", "one", "two", "json"],
        &[],
    );
    assert!(o.status.success());
    assert!(
        stdout(&o).contains(r#""dst":"json/two","bytes":0,"hole_bytes":0,"link_to":"json/one""#),
        "{}",
        stdout(&o)
    );
}

/// A POSIX ACL as the kernel stores it in system.posix_acl_*: version 2, then (tag, perm, id) entries.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(perm.to_le_bytes());
        out.extend(id.to_le_bytes());
    }
    out
}

/// The ACL named `name` of `path`, if it has one.
fn get_acl(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 1024];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn acls_follow_the_mode_as_in_cp() {
    const NONE: u32 = u32::MAX;
    // user::rw-, user:1234:r--, group::r--, mask::r--, other::---
    let file_acl = acl(&[
        (0x01, 6, NONE),
        (0x02, 4, 1234),
        (0x04, 4, NONE),
        (0x10, 4, NONE),
        (0x20, 0, NONE),
    ]);
    // user::rwx, user:1234:rwx, group::r-x, mask::rwx, other::---
    let dir_acl = acl(&[
        (0x01, 7, NONE),
        (0x02, 7, 1234),
        (0x04, 5, NONE),
        (0x10, 7, NONE),
        (0x20, 0, NONE),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = write(&src, "f", b"with an acl\n");
    write(&src, "g", b"without\n");
    let set = |path: &Path, name: &str, value: &[u8]| {
        rustix::fs::setxattr(path, name, value, rustix::fs::XattrFlags::empty())
    };
    if let Err(e) = set(&f, "system.posix_acl_access", &file_acl) {
        skip(&format!("no POSIX ACLs here ({e})"));
        return;
    }
    set(&src, "system.posix_acl_access", &dir_acl).unwrap();
    set(&src, "system.posix_acl_default", &dir_acl).unwrap();
    // A directory whose default ACL new files inherit: -p makes the copy's ACL the source's (none).
    let inherit = dir.path().join("inherit");
    std::fs::create_dir(&inherit).unwrap();
    set(&inherit, "system.posix_acl_default", &dir_acl).unwrap();
    let cases: &[&[&str]] = &[
        &["-a", "src"],
        &["-rp", "src"],
        &["-r", "src"],
        &["-r", "--preserve=mode", "src"],
        &["-a", "--no-preserve=mode", "src"],
        &["--preserve=mode", "src/f"],
        &["src/f"],
        &["-p", "src/g", "inherit/"],
        &["src/g", "inherit/"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut got = Vec::new();
        for tool in ["mmcp", "cp"] {
            let into_inherit = case.last() == Some(&"inherit/");
            let out = if into_inherit {
                let d = format!("inherit/{tool}{i}");
                std::fs::create_dir(dir.path().join(&d)).unwrap();
                d
            } else {
                format!("{tool}{i}")
            };
            let mut args = case.to_vec();
            if into_inherit {
                args.pop();
            }
            args.push(&out);
            let o = run_in(tool, dir.path(), &args, &[]);
            assert!(o.status.success(), "{tool} {case:?}: {}", stderr(&o));
            let mut acls = Vec::new();
            let root = dir.path().join(&out);
            visit(&root, &root, &mut |rel, path, meta| {
                acls.push(format!(
                    "{rel} mode {:o} access {:?} default {:?}",
                    meta.mode() & 0o7777,
                    get_acl(path, "system.posix_acl_access"),
                    get_acl(path, "system.posix_acl_default")
                ))
            });
            acls.sort();
            got.push(acls);
        }
        assert_eq!(got[0], got[1], "{case:?}");
    }
    assert_eq!(
        get_acl(&dir.path().join("mmcp0/f"), "system.posix_acl_access").as_deref(),
        Some(&file_acl[..]),
        "-a copies the ACL"
    );
    assert_eq!(
        get_acl(&dir.path().join("mmcp0"), "system.posix_acl_default").as_deref(),
        Some(&dir_acl[..])
    );
}

/// A ramfs (which holds no extended attributes) mounted for one test, unmounted when dropped.
struct Ramfs(PathBuf);

impl Drop for Ramfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn xattrs_that_cannot_be_kept_fail_only_when_asked_for() {
    if !is_root() {
        skip("mounting a ramfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", b"tagged\n");
    if !set_xattr(&src, "user.tag", b"1") {
        return;
    }
    let mnt = dir.path().join("ramfs");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "ramfs", "ramfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skip("cannot mount a ramfs");
        return;
    }
    let _guard = Ramfs(mnt.clone());
    // Asked for by name: an error, and (unlike cp, which keeps the copy) no DST.
    let mm = run_in(
        "mmcp",
        dir.path(),
        &["--preserve=xattr", "src", "ramfs/x"],
        &[],
    );
    let cp = run_in(
        "cp",
        dir.path(),
        &["--preserve=xattr", "src", "ramfs/y"],
        &[],
    );
    assert_eq!(mm.status.code(), Some(1));
    assert_eq!(cp.status.code(), Some(1));
    let strip = |o: &Output, tool: &str, name: &str| {
        stderr(o)
            .replacen(&format!("{tool}: "), "", 1)
            .replace(name, "DST")
    };
    assert_eq!(strip(&mm, "mmcp", "ramfs/x"), strip(&cp, "cp", "ramfs/y"));
    assert!(!mnt.join("x").exists());
    assert!(leftovers_in(&mnt).is_empty());
    // Under -a or --preserve=all: skipped quietly, as cp skips it.
    for flags in [&["-a"][..], &["--preserve=all"]] {
        let mut args = flags.to_vec();
        args.extend(["src", "ramfs/z"]);
        let mm = run_in("mmcp", dir.path(), &args, &[]);
        let cp = run_in("cp", dir.path(), &args, &[]);
        assert!(mm.status.success(), "{flags:?}: {}", stderr(&mm));
        assert!(cp.status.success(), "{flags:?}: {}", stderr(&cp));
        assert_eq!(stderr(&mm), "");
        assert_eq!(std::fs::read(mnt.join("z")).unwrap(), b"tagged\n");
    }
}

/// Names of our temporary files in `dir`.
fn leftovers_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".mmcp-"))
        .collect()
}

#[test]
fn two_sources_for_one_name_are_refused_as_cp_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one", b"first\n");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "one", b"second\n");
    let mut got = Vec::new();
    for tool in ["mmcp", "cp"] {
        let out = format!("{tool}_out");
        std::fs::create_dir(dir.path().join(&out)).unwrap();
        let o = run_in(
            tool,
            dir.path(),
            &["-t", &out, "one", "sub/one", "one"],
            &[],
        );
        let message = stderr(&o)
            .lines()
            .filter(|l| !l.contains("specified more than once"))
            .map(|l| l.replacen(&format!("{tool}: "), "", 1).replace(&out, "OUT"))
            .collect::<Vec<_>>();
        got.push((o.status.code(), message, shape(&dir.path().join(&out))));
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[0].0, Some(1));
}
