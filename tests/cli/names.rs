//! File names are bytes: a tree of hostile names (a newline, a tab, a leading dash, a byte that is not
//! UTF-8, a 255-byte name) through every tool, in text (quoted as the installed ls, wc and cp quote
//! them) and in JSON (`path` plus `path_bytes`, compared with the installed base64); a snapshot saved
//! and restored; a process that maps such a file, seen by `mmadvise evict` and `mmstat --pid`.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{bin, skip};

/// The locale every tool here, ours and the reference, runs in.
const LOCALE: &str = "C.UTF-8";

/// The hostile names, as bytes.
fn names() -> Vec<Vec<u8>> {
    let mut long = vec![b'y'; 254];
    long.push(0xff);
    vec![
        b"n\nl".to_vec(),
        b"t\tb".to_vec(),
        b"-dash".to_vec(),
        b"a\xffb".to_vec(),
        long,
        b"plain".to_vec(),
    ]
}

/// `dir/tree` holding one 5-byte file per hostile name.
fn hostile_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    for name in names() {
        std::fs::write(tree.join(OsStr::from_bytes(&name)), b"data\n").unwrap();
    }
    tree
}

/// `tree/NAME` for each hostile name, relative to the directory holding the tree.
fn relative_names() -> Vec<OsString> {
    names()
        .into_iter()
        .map(|n| OsString::from_vec([&b"tree/"[..], &n].concat()))
        .collect()
}

/// Runs one of our tools in `dir`, in [`LOCALE`].
fn ours(tool: &str, dir: &Path, args: &[&OsStr]) -> Output {
    bin(tool)
        .current_dir(dir)
        .env("LC_ALL", LOCALE)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Runs an installed reference tool in `dir`, in [`LOCALE`].
fn reference(tool: &str, dir: &Path, args: &[&OsStr]) -> Output {
    Command::new(tool)
        .current_dir(dir)
        .env("LC_ALL", LOCALE)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("human output is UTF-8 whatever the names")
}

/// How `ls` quotes `name` for people (its terminal style, asked for explicitly).
fn ls_quoted(dir: &Path, name: &OsStr) -> String {
    let out = reference(
        "ls",
        dir,
        &[
            OsStr::new("--quoting-style=shell-escape"),
            OsStr::new("-d"),
            OsStr::new("--"),
            name,
        ],
    );
    assert!(out.status.success(), "ls {name:?}");
    text(&out.stdout).trim_end_matches('\n').to_string()
}

/// The name as the installed base64 encodes it.
fn base64(bytes: &[u8]) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    text(&out.stdout)
}

fn records(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The exact name in a JSON record's `key` field: `key_bytes` when present (checked against the
/// installed base64), else `key`, which must then be exact.
fn exact(record: &Value, key: &str) -> Vec<u8> {
    let shown = record[key].as_str().expect("a string").as_bytes().to_vec();
    match record.get(format!("{key}_bytes")) {
        None => shown,
        Some(b64) => {
            let b64 = b64.as_str().unwrap();
            let decoded = Command::new("sh")
                .arg("-c")
                .arg("printf %s \"$1\" | base64 -d")
                .arg("sh")
                .arg(b64)
                .output()
                .unwrap()
                .stdout;
            assert!(
                std::str::from_utf8(&decoded).is_err(),
                "{key}_bytes for a UTF-8 name: {record}"
            );
            assert_eq!(b64, base64(&decoded));
            assert_eq!(shown, String::from_utf8_lossy(&decoded).as_bytes());
            decoded
        }
    }
}

fn set(names: impl IntoIterator<Item = Vec<u8>>) -> BTreeSet<Vec<u8>> {
    names.into_iter().collect()
}

fn expected(prefix: &[u8]) -> BTreeSet<Vec<u8>> {
    set(names().into_iter().map(|n| [prefix, &n].concat()))
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn mmstat_and_mmadvise_quote_names_as_ls_does() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let quoted: Vec<String> = relative_names()
        .iter()
        .map(|n| ls_quoted(dir.path(), n))
        .collect();
    // The reference quotes what needs it and only that.
    assert!(quoted.contains(&"tree/-dash".to_string()), "{quoted:?}");
    assert!(
        quoted.contains(&r"'tree/a'$'\377''b'".to_string()),
        "{quoted:?}"
    );

    let out = ours("mmstat", dir.path(), &[os("tree")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // A heading, one row per file (no name split a row), a summary.
    assert_eq!(lines.len(), names().len() + 2, "{stdout}");
    for q in &quoted {
        assert!(
            lines.iter().any(|l| l.ends_with(&format!("  {q}"))),
            "no row for {q} in:\n{stdout}"
        );
    }

    for action in ["touch", "evict"] {
        let out = ours("mmadvise", dir.path(), &[os(action), os("tree")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        for q in &quoted {
            assert!(
                stdout.lines().any(|l| l.starts_with(&format!("{q}: "))),
                "mmadvise {action}: no line for {q} in:\n{stdout}"
            );
        }
    }
}

#[test]
fn mmcp_v_prints_names_as_cp_v_does() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let cp = reference("cp", dir.path(), &[os("-rv"), os("tree"), os("ref")]);
    assert!(cp.status.success(), "{}", text(&cp.stderr));
    let out = ours("mmcp", dir.path(), &[os("-rv"), os("tree"), os("out")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let theirs: BTreeSet<String> = text(&cp.stdout)
        .lines()
        .map(|l| l.replace("'ref", "'out"))
        .collect();
    let mine: BTreeSet<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(mine, theirs);
    assert!(mine.contains(r"'tree/a'$'\377''b' -> 'out/a'$'\377''b'"));
    for name in names() {
        let copy = dir.path().join("out").join(OsStr::from_bytes(&name));
        assert_eq!(std::fs::read(&copy).unwrap(), b"data\n", "{copy:?}");
    }
}

#[test]
fn mmcount_lines_and_messages_match_wc() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let mut args: Vec<OsString> = vec!["-c".into(), "--".into()];
    args.extend(relative_names());
    // A missing file with a hostile name, for the error message.
    args.push(OsString::from_vec(b"tree/gone\xff\n".to_vec()));
    let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    let wc = reference("wc", dir.path(), &args);
    let out = ours("mmcount", dir.path(), &args);
    assert_eq!(out.status.code(), wc.status.code());
    assert_eq!(out.stdout, wc.stdout, "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        text(&wc.stderr).replace("wc:", "mmcount:")
    );
}

#[test]
fn every_tool_quotes_a_missing_hostile_name_as_wc_does() {
    let dir = tempfile::tempdir().unwrap();
    for raw in [&b"gone\xff"[..], b"gone\nx", b"gone\tx", b"-gone"] {
        let name = OsStr::from_bytes(raw);
        let wc = reference("wc", dir.path(), &[os("--"), name]);
        let wanted = text(&wc.stderr).replacen("wc: ", "", 1);
        let check = |tool: &str, args: &[&OsStr], wanted: &str| {
            let out = ours(tool, dir.path(), args);
            assert_eq!(out.status.code(), Some(1), "{tool} {raw:?}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.lines().count() == 1 && stderr == format!("{tool}: {wanted}"),
                "{tool} {raw:?}: {stderr:?}, wc: {wanted:?}"
            );
        };
        // A name inside a sentence is quoted as cp quotes it (always), in cp's words.
        let cp = reference("cp", dir.path(), &[os("--"), name, os("dst")]);
        let quoted = text(&cp.stderr);
        let quoted = &quoted[quoted.find('\'').unwrap()..quoted.rfind(':').unwrap()];
        let open = format!("cannot open {quoted} for reading: No such file or directory\n");
        check("mmstat", &[os("--"), name], &open);
        check("mmadvise", &[os("touch"), os("--"), name], &open);
        // mmcount words it as wc does.
        check("mmcount", &[os("--"), name], &wanted);
        // mmcounter creates a missing counter: a directory of that name is refused instead.
        std::fs::create_dir(dir.path().join(name)).unwrap();
        let wc = reference("wc", dir.path(), &[os("--"), name]);
        let wanted_dir = text(&wc.stderr).replacen("wc: ", "", 1);
        assert!(wanted_dir.ends_with(": Is a directory\n"), "{wanted_dir}");
        check("mmcounter", &[os("--"), name], &wanted_dir);
        std::fs::remove_dir(dir.path().join(name)).unwrap();
        let out = ours("mmcp", dir.path(), &[os("--"), name, os("dst")]);
        assert!(
            text(&out.stderr).contains(quoted),
            "{}: cp quoted {quoted}",
            text(&out.stderr)
        );
    }
}

#[test]
fn json_keeps_path_a_string_and_adds_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let file_paths = |out: &Output, key: &str| {
        assert!(out.status.success(), "{}", text(&out.stderr));
        set(records(out)
            .iter()
            .filter(|r| r["type"] == "file")
            .map(|r| exact(r, key)))
    };
    let out = ours("mmstat", dir.path(), &[os("--json"), os("tree")]);
    assert_eq!(file_paths(&out, "path"), expected(b"tree/"));
    let out = ours(
        "mmadvise",
        dir.path(),
        &[os("touch"), os("--json"), os("tree")],
    );
    assert_eq!(file_paths(&out, "path"), expected(b"tree/"));
    let out = ours(
        "mmcp",
        dir.path(),
        &[os("-r"), os("--json"), os("tree"), os("out")],
    );
    assert_eq!(file_paths(&out, "src"), expected(b"tree/"));
    assert_eq!(file_paths(&out, "dst"), expected(b"out/"));
    let mut args = vec![OsString::from("--json")];
    args.extend(relative_names());
    let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    let out = ours("mmcount", dir.path(), &args);
    assert_eq!(file_paths(&out, "path"), expected(b"tree/"));

    // A UTF-8 name never carries path_bytes; one that is not always does.
    let out = ours("mmstat", dir.path(), &[os("--json"), os("tree")]);
    for r in records(&out).iter().filter(|r| r["type"] == "file") {
        let name = r["path"].as_str().unwrap();
        assert_eq!(
            r.get("path_bytes").is_some(),
            name.contains('\u{fffd}'),
            "{r}"
        );
    }

    // Errors and counters too.
    let gone = OsStr::from_bytes(b"gone\xff");
    for (tool, args) in [
        ("mmstat", vec![os("--json"), gone]),
        ("mmadvise", vec![os("touch"), os("--json"), gone]),
        ("mmcount", vec![os("--json"), gone]),
    ] {
        let out = ours(tool, dir.path(), &args);
        let errors: Vec<Value> = records(&out)
            .into_iter()
            .filter(|r| r["type"] == "error")
            .collect();
        assert_eq!(errors.len(), 1, "{tool}: {}", text(&out.stdout));
        assert_eq!(exact(&errors[0], "path"), b"gone\xff", "{tool}");
    }
    let counter = OsStr::from_bytes(b"count\xff");
    let out = ours("mmcounter", dir.path(), &[os("--json"), counter]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(exact(&records(&out)[0], "path"), b"count\xff");
}

#[test]
fn a_snapshot_of_hostile_names_is_saved_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let tree = hostile_tree(dir.path());
    let snap = dir.path().join("snap");
    let out = ours(
        "mmstat",
        dir.path(),
        &[os("--save"), snap.as_os_str(), os("tree")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved: Vec<Value> = std::fs::read_to_string(&snap)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tree = std::fs::canonicalize(tree).unwrap();
    let prefix = [tree.as_os_str().as_bytes(), b"/"].concat();
    assert_eq!(
        set(saved
            .iter()
            .filter(|r| r["type"] == "file")
            .map(|r| exact(r, "path"))),
        expected(&prefix)
    );
    let out = ours("mmadvise", dir.path(), &[os("evict"), os("tree")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ours(
        "mmadvise",
        dir.path(),
        &[os("restore"), os("--json"), snap.as_os_str()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let restored = records(&out);
    assert!(
        restored
            .iter()
            .all(|r| r["type"] == "file" || r["type"] == "summary"),
        "nothing skipped or failed: {}",
        text(&out.stdout)
    );
    assert_eq!(
        set(restored
            .iter()
            .filter(|r| r["type"] == "file")
            .map(|r| exact(r, "path"))),
        expected(&prefix)
    );
    for r in restored.iter().filter(|r| r["type"] == "file") {
        assert_eq!(r["saved_pages"], r["restored_pages"], "{r}");
    }
}

/// A python3 process that maps `path` shared and waits on stdin; returns once its maps show the file.
fn mapper(path: &Path) -> Option<std::process::Child> {
    let script = "import mmap, os, sys\n\
f = open(os.fsencode(sys.argv[1]), 'rb')\n\
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n\
m[0]\n\
print('mapped', flush=True)\n\
sys.stdin.read()\n";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "mapped\n", "python3 could not map the file");
    // The kernel writes a newline in a path as \012 in maps.
    let mut escaped = Vec::new();
    for &b in path.as_os_str().as_bytes() {
        if b == b'\n' {
            escaped.extend_from_slice(b"\\012");
        } else {
            escaped.push(b);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let maps = std::fs::read(format!("/proc/{}/maps", child.id())).unwrap();
        if maps.split(|&b| b == b'\n').any(|l| l.ends_with(&escaped)) {
            return Some(child);
        }
        assert!(
            Instant::now() < deadline,
            "the map never showed in /proc/PID/maps"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_process_mapping_a_hostile_name_is_seen_by_evict_and_pid() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = std::fs::canonicalize(dir.path()).unwrap();
    let file = dir_path.join(OsStr::from_bytes(b"mapped\xff\nname"));
    std::fs::write(&file, vec![7u8; 64 * 1024]).unwrap();
    // Clean pages: what stays after the eviction stays because it is mapped.
    std::fs::File::open(&file).unwrap().sync_all().unwrap();
    if Command::new("python3")
        .arg("-c")
        .arg("import mmap")
        .output()
        .is_err()
    {
        skip("python3 is not installed");
        return;
    }
    let Some(mut child) = mapper(&file) else {
        skip("python3 cannot be started");
        return;
    };
    let pid = child.id();

    let evict = ours(
        "mmadvise",
        &dir_path,
        &[os("evict"), os("--json"), file.as_os_str()],
    );
    let pid_out = ours(
        "mmstat",
        &dir_path,
        &[os("--json"), os("--pid"), OsStr::new(&pid.to_string())],
    );
    let text_evict = ours("mmadvise", &dir_path, &[os("evict"), file.as_os_str()]);
    drop(child.stdin.take());
    let _ = child.wait();

    assert!(evict.status.success(), "{}", text(&evict.stderr));
    let record = records(&evict)
        .into_iter()
        .find(|r| r["type"] == "file")
        .expect("a file record");
    assert_eq!(exact(&record, "path"), file.as_os_str().as_bytes());
    let holders: Vec<u64> = record["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(holders, vec![u64::from(pid)], "{record}");
    assert!(
        text(&text_evict.stdout).contains(&format!("mapped by process {pid} (python3")),
        "{}",
        text(&text_evict.stdout)
    );

    assert!(pid_out.status.success(), "{}", text(&pid_out.stderr));
    let found: Vec<Vec<u8>> = records(&pid_out)
        .iter()
        .filter(|r| r["type"] == "file")
        .map(|r| exact(r, "path"))
        .collect();
    assert!(
        found.iter().any(|p| p == file.as_os_str().as_bytes()),
        "{}",
        text(&pid_out.stdout)
    );
}
