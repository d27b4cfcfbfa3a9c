//! One dialect across the five tools: usage errors in the same two-line format with the peer tools'
//! exit status, and long options abbreviated to any unambiguous prefix, as every GNU tool allows.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::{bin, bin_path, is_root, noise, skip, stderr, stdout, write};

/// The tools, each with the usage status of its peer (cp and wc exit 1; the others 2).
const TOOLS: [(&str, i32); 5] = [
    ("mmcp", 1),
    ("mmcount", 1),
    ("mmcounter", 2),
    ("mmstat", 2),
    ("mmadvise", 2),
];

#[test]
fn usage_errors_name_the_tool_and_point_at_help() {
    for (tool, status) in TOOLS {
        let out = bin(tool).arg("--no-such-option").output().unwrap();
        assert_eq!(out.status.code(), Some(status), "{tool}");
        assert_eq!(stdout(&out), "", "{tool}");
        assert_eq!(
            stderr(&out),
            format!(
                "{tool}: unexpected argument '--no-such-option' found\n\
                 Try '{tool} --help' for more information.\n"
            ),
            "{tool}"
        );
    }
    // The peers' statuses, from the installed tools.
    for (peer, ours) in [("cp", "mmcp"), ("wc", "mmcount")] {
        let theirs = Command::new(peer).arg("--no-such-option").output().unwrap();
        let mine = bin(ours).arg("--no-such-option").output().unwrap();
        assert_eq!(theirs.status.code(), mine.status.code(), "{peer}");
    }
}

#[test]
fn help_and_version_go_to_stdout_and_succeed() {
    for (tool, _) in TOOLS {
        for flag in ["--help", "--version"] {
            let out = bin(tool).arg(flag).output().unwrap();
            assert!(out.status.success(), "{tool} {flag}");
            assert!(stdout(&out).contains(tool), "{tool} {flag}");
            assert_eq!(stderr(&out), "", "{tool} {flag}");
        }
    }
}

#[test]
fn long_options_may_be_abbreviated() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"one two\nthree\n");
    let list = write(dir.path(), "list", b"a\0");
    let out = bin("mmcount")
        .current_dir(dir.path())
        .args(["--lin", "--files0"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "2 a\n", "{}", stderr(&out));
    let out = bin("mmcounter")
        .args(["--wid", "3"])
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "1\n", "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.path().join("c")).unwrap(), b"001\n");
    let out = bin("mmcp")
        .args(["--verb", "--no-clob"])
        .arg(&a)
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.path().join("b")).unwrap(),
        b"one two\nthree\n"
    );
    let out = bin("mmstat")
        .args(["--summ", "--byt"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = bin("mmadvise")
        .args(["touch", "--qui"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // An ambiguous prefix is a usage error, as in GNU tools (--no-c: --no-clobber or --no-preserve?).
    let out = bin("mmcp").args(["--no", "a", "b"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("mmcp: "), "{}", stderr(&out));
}

/// A total is the sum of what its lines show, in bytes, whatever the page rounding: two 56-byte files
/// are 112 resident, not two pages' worth.
#[test]
fn totals_agree_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", &[b'x'; 56]);
    let b = write(dir.path(), "b", &[b'y'; 56]);
    for action in ["touch", "willneed"] {
        let out = bin("mmadvise")
            .args([action, "--bytes"])
            .arg(&a)
            .arg(&b)
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(out.status.success(), "{}", stderr(&out));
        let total = text.lines().last().unwrap();
        assert!(
            total.starts_with("total: 2 files, 112, resident 112 (100.0%) -> 112 (100.0%)"),
            "{action}: {text}"
        );
    }
}

/// `-q` means the same in every tool: no progress and no per-file lines, only errors and what was
/// asked for (counts, a counter's value, JSON when --json is given).
#[test]
fn quiet_prints_only_what_was_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"one two\n");
    let run = |tool: &str, args: &[&str]| {
        let out = bin(tool)
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    assert_eq!(
        run("mmcount", &["-q", "-l", "a"]),
        (Some(0), "1 a\n".into(), String::new())
    );
    assert_eq!(
        run("mmcounter", &["-q", "c"]),
        (Some(0), "1\n".into(), String::new())
    );
    assert_eq!(
        run("mmcp", &["-q", "a", "b"]),
        (Some(0), String::new(), String::new())
    );
    assert_eq!(
        run("mmstat", &["-q", "a"]),
        (Some(0), String::new(), String::new())
    );
    assert_eq!(
        run("mmadvise", &["touch", "-q", "a", "b"]),
        (Some(0), String::new(), String::new())
    );
    // Errors still show, and --check still decides the exit status.
    let (code, out, err) = run("mmstat", &["-q", "--check", "0", "a", "missing"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(
        err.starts_with("mmstat: cannot open 'missing' for reading: "),
        "{err}"
    );
    let (code, out, _) = run("mmadvise", &["touch", "-q", "missing"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    // JSON is what was asked for: -q keeps it.
    let (_, json, _) = run("mmstat", &["-q", "--json", "a"]);
    assert_eq!(json.lines().count(), 2, "{json}");
    let _ = a;
}

/// `--progress` draws the bar even when standard error is not a terminal (a line per redraw, no escape
/// sequences), in the tools' own size units; input of unknown size (a pipe) gets no fake total.
#[test]
fn forced_progress_shows_where_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let big = write(dir.path(), "big", &noise(8 << 20, 3));
    let out = bin("mmcount")
        .args(["--progress", "-l", "--window-size", "64K", "-j", "1"])
        .arg(&big)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("/8.0M"),
        "a bar with the total, in human units: {err}"
    );
    assert!(
        !err.contains('\x1b'),
        "no escape sequences in a log: {err:?}"
    );
    // A pipe has no size.
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"cat "$1" | "$0" --progress -l"#)
        .arg(crate::util::bin_path("mmcount"))
        .arg(&big)
        .output()
        .unwrap();
    let err = stderr(&piped);
    assert!(
        !err.contains("/0") && !err.contains("ETA"),
        "no fake total: {err}"
    );
}

/// One walker, one policy: a symbolic link met in a walk (without -L) is passed over with the same
/// note and the same JSON record by mmstat and mmadvise.
#[test]
fn walks_skip_symlinks_with_the_same_note_in_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    write(&tree, "f", b"data\n");
    std::os::unix::fs::symlink("f", tree.join("l")).unwrap();
    let mut notes = Vec::new();
    let mut records = Vec::new();
    for args in [&["mmstat"][..], &["mmadvise", "touch"]] {
        let out = bin(args[0]).args(&args[1..]).arg(&tree).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let note = stderr(&out);
        notes.push(
            note.split_once(": ")
                .map(|(_, rest)| rest.to_string())
                .unwrap(),
        );
        let out = bin(args[0])
            .args(&args[1..])
            .arg("--json")
            .arg(&tree)
            .output()
            .unwrap();
        let json = stdout(&out);
        let skipped: Vec<&str> = json
            .lines()
            .filter(|l| l.contains("\"skipped\","))
            .collect();
        records.push(skipped.concat());
    }
    assert_eq!(notes[0], notes[1]);
    assert!(
        notes[0].contains("l: skipped: a symbolic link"),
        "{}",
        notes[0]
    );
    assert_eq!(records[0], records[1]);
    assert!(!records[0].is_empty());
}

/// Runs `program` with `args` in `dir`, in the C locale; as uid and gid 65534 when `nobody` (and we
/// are root: setpriv then drops the privileges).
fn run_in(dir: &Path, program: &Path, args: &[&str], nobody: bool) -> Output {
    let mut command = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .current_dir(dir)
        .env("LC_ALL", "C")
        .args(args)
        .output()
        .unwrap()
}

/// `TOOL: ` and the rest of the one line a failed run printed, checking the exit status 1.
fn message(out: &Output, tool: &str, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{tool} {what}: {err}");
    assert_eq!(err.lines().count(), 1, "{tool} {what}: one line: {err}");
    err.strip_prefix(&format!("{tool}: "))
        .unwrap_or_else(|| panic!("{tool} {what}: {err}"))
        .trim_end()
        .to_string()
}

/// Runtime errors come from one table in cp's words: mmcp says what cp says, mmstat, mmadvise and
/// mmcounter word the same failure the same way (`cannot open 'NAME' for reading: REASON`), and
/// mmcount says what wc says. The reasons are the installed wc's, for a missing file, a path through
/// a file (ENOTDIR), a symlink loop (ELOOP), a directory, and a file only root may read (EACCES).
#[test]
fn file_errors_read_the_same_in_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    // Traversable and writable by another uid (the temp dir itself is 0700).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let root = dir.path();
    write(root, "a file", b"1\n");
    std::fs::create_dir(root.join("a dir")).unwrap();
    std::os::unix::fs::symlink("loop 2", root.join("loop 1")).unwrap();
    std::os::unix::fs::symlink("loop 1", root.join("loop 2")).unwrap();
    let secret = write(root, "a secret", b"0000000001\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let setpriv = Command::new("setpriv").arg("--version").output();
    let nobody = is_root() && setpriv.is_ok_and(|o| o.status.success());
    if !nobody {
        skip("the unreadable case needs root and setpriv");
    }
    let cases: &[(&str, bool)] = &[
        ("no such", false),
        ("a file/x", false),
        ("loop 1", false),
        ("a dir", false),
        ("a secret", true),
    ];
    for &(name, as_nobody) in cases {
        if as_nobody && !nobody {
            continue;
        }
        let quoted = format!("'{name}'");
        let run = |tool: &str, args: &[&str]| {
            let out = run_in(root, bin_path(tool), args, as_nobody);
            message(&out, tool, name)
        };
        // mmcount: wc's message, word for word.
        let wc = message(
            &run_in(root, Path::new("wc"), &["--", name], as_nobody),
            "wc",
            name,
        );
        assert_eq!(run("mmcount", &["--", name]), wc, "mmcount {name}");
        let reason = wc
            .strip_prefix(&format!("{quoted}: "))
            .unwrap_or_else(|| panic!("wc {name}: {wc}"));
        // mmcp: cp's message, word for word.
        let cp = message(
            &run_in(root, Path::new("cp"), &["--", name, "copy"], as_nobody),
            "cp",
            name,
        );
        assert_eq!(run("mmcp", &["--", name, "copy"]), cp, "mmcp {name}");
        let open = format!("cannot open {quoted} for reading: {reason}");
        if name == "a dir" {
            // A directory is walked by mmstat and mmadvise; a counter cannot be one.
            let dir_error = format!("{quoted}: Is a directory");
            assert_eq!(run("mmcounter", &["--get", "--", name]), dir_error);
            assert_eq!(run("mmcounter", &["--", name]), dir_error);
            continue;
        }
        assert_eq!(run("mmstat", &["--", name]), open, "mmstat {name}");
        assert_eq!(
            run("mmadvise", &["touch", "--", name]),
            open,
            "mmadvise {name}"
        );
        assert_eq!(
            run("mmcounter", &["--get", "--", name]),
            open,
            "mmcounter {name}"
        );
        if name != "no such" {
            // An update opens the counter for writing (a missing one is created).
            let update = format!("cannot open {quoted} for writing: {reason}");
            assert_eq!(run("mmcounter", &["--", name]), update, "mmcounter {name}");
        }
        // JSON: the "error" record carries the message as printed.
        for args in [
            &["mmstat", "--json", "--", name][..],
            &["mmadvise", "touch", "--json", "--", name],
            &["mmcounter", "--get", "--json", "--", name],
        ] {
            let out = run_in(root, bin_path(args[0]), &args[1..], as_nobody);
            let error = stdout(&out)
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .find(|r| r["type"] == "error")
                .unwrap_or_else(|| panic!("{args:?}: no error record"));
            assert_eq!(error["path"], name, "{args:?}");
            assert_eq!(error["error"], open, "{args:?}");
        }
    }
}
