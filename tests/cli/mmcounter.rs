//! mmcounter: the format and its widths, concurrent updates, interoperability with another
//! writer of the format, bad input left byte-for-byte unchanged, private mode, --hold, locks and timeouts, and
//! counters in POSIX shared memory.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{bin, is_root, skip, stderr, stdout, write};

mod hold;

const BIN: &str = env!("CARGO_BIN_EXE_mmcounter");

pub(super) fn run(args: &[&str]) -> Output {
    bin("mmcounter").args(args).output().unwrap()
}

pub(super) fn run_on(path: &Path, args: &[&str]) -> Output {
    bin("mmcounter").args(args).arg(path).output().unwrap()
}

/// Runs and expects success; returns stdout.
pub(super) fn ok(path: &Path, args: &[&str]) -> String {
    let out = run_on(path, args);
    assert!(
        out.status.success(),
        "mmcounter {args:?}: {:?} {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(stderr(&out), "", "{args:?}");
    stdout(&out)
}

/// Runs and expects exit status 1 with one error line naming `path` (`mmcounter: PATH: reason`, or
/// a refusal of the system in cp's words: `mmcounter: cannot lock 'PATH': reason`); returns that
/// line.
pub(super) fn fails(path: &Path, args: &[&str]) -> String {
    let out = run_on(path, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?} on {path:?}: {err}");
    assert_eq!(stdout(&out), "", "{args:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let prefix = format!("mmcounter: {}: ", path.display());
    let quoted = format!(" '{}'", path.display());
    assert!(
        err.starts_with(&prefix) || (err.starts_with("mmcounter: ") && err.contains(&quoted)),
        "{err}"
    );
    err.trim_end().to_string()
}

pub(super) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_missing_or_empty_file_starts_at_zero_and_counts_up() {
    let dir = tmp();
    let path = dir.path().join("hits");
    assert_eq!(ok(&path, &[]), "1\n");
    assert_eq!(ok(&path, &[]), "2\n");
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000002\n");
    let empty = write(dir.path(), "empty", b"");
    assert_eq!(ok(&empty, &[]), "1\n");
    assert_eq!(std::fs::read(&empty).unwrap(), b"0000000001\n");
    assert_eq!(ok(&path, &["--get"]), "2\n");
    assert_eq!(ok(&path, &["--get", "--padded"]), "0000000002\n");
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000002\n");
}

/// mmcounter starts without Rust's runtime set-up (which ignores SIGPIPE), so it ignores SIGPIPE itself:
/// a closed stdout is a quiet exit 0 after the update, not death by a signal.
#[test]
fn a_closed_pipe_on_stdout_is_a_quiet_success() {
    let dir = tmp();
    let path = dir.path().join("c");
    for args in [&[][..], &["--json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BIN)
            .args(args)
            .arg(&path)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {:?}", out.status);
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0000000002\n");
}

#[test]
fn operations_and_output_forms() {
    let dir = tmp();
    let path = dir.path().join("c");
    assert_eq!(ok(&path, &["--by", "41"]), "41\n");
    assert_eq!(ok(&path, &["--by", "-1"]), "40\n");
    assert_eq!(ok(&path, &["--by=-10"]), "30\n");
    assert_eq!(ok(&path, &["--padded"]), "0000000031\n");
    assert_eq!(
        ok(&path, &["--json", "--by", "2"]),
        format!(
            "{{\"type\":\"counter\",\"path\":\"{}\",\"previous\":31,\"value\":33}}\n",
            path.display()
        )
    );
    assert_eq!(ok(&path, &["--set", "9999999999"]), "9999999999\n");
    assert_eq!(ok(&path, &["--reset"]), "0\n");
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000000\n");
    assert_eq!(ok(&path, &["--sync"]), "1\n");
    assert_eq!(ok(&path, &["--by", "0"]), "1\n");
    assert_eq!(ok(&path, &["--timeout", "0"]), "2\n");
    let json = ok(&path, &["--get", "--json"]);
    assert!(json.ends_with("\"previous\":2,\"value\":2}\n"), "{json}");
}

#[test]
fn widths_are_chosen_at_creation_and_kept() {
    let dir = tmp();
    let one = dir.path().join("one");
    assert_eq!(ok(&one, &["--width", "1"]), "1\n");
    assert_eq!(std::fs::read(&one).unwrap(), b"1\n");
    assert_eq!(ok(&one, &["--by", "8"]), "9\n");
    let err = fails(&one, &[]);
    assert!(
        err.ends_with("9 + 1 does not fit in 1 digit (the largest value is 9)"),
        "{err}"
    );
    assert_eq!(std::fs::read(&one).unwrap(), b"9\n");

    let twenty = dir.path().join("twenty");
    assert_eq!(ok(&twenty, &["--width", "20", "--set", "5"]), "5\n");
    assert_eq!(std::fs::read(&twenty).unwrap(), b"00000000000000000005\n");
    let max = i64::MAX.to_string();
    assert_eq!(ok(&twenty, &["--set", &max]), format!("{max}\n"));
    let err = fails(&twenty, &[]);
    assert!(err.contains("does not fit in 20 digits"), "{err}");
    // i64::MAX + i64::MIN is -1: below 0, and the arithmetic itself does not overflow.
    let err = fails(&twenty, &["--by", &i64::MIN.to_string()]);
    assert!(err.ends_with("would be below 0"), "{err}");
    assert_eq!(
        std::fs::read(&twenty).unwrap(),
        format!("{max:0>20}\n").as_bytes()
    );

    // An existing counter keeps its width whatever --width says.
    let ten = write(dir.path(), "ten", b"0000000007\n");
    assert_eq!(ok(&ten, &["--width", "3"]), "8\n");
    assert_eq!(std::fs::read(&ten).unwrap(), b"0000000008\n");
    let three = write(dir.path(), "three", b"041\n");
    assert_eq!(ok(&three, &["--padded"]), "042\n");

    // --width outside 1..=20 is a usage error; nothing is created.
    for bad in ["0", "21"] {
        let path = dir.path().join(format!("w{bad}"));
        let out = run_on(&path, &["--width", bad]);
        assert_eq!(out.status.code(), Some(2), "--width {bad}");
        assert!(!path.exists());
    }
}

#[test]
fn negative_steps_and_bounds() {
    let dir = tmp();
    let path = write(dir.path(), "c", b"0000000005\n");
    assert_eq!(ok(&path, &["--by", "-5"]), "0\n");
    let err = fails(&path, &["--by", "-1"]);
    assert!(err.ends_with("0 - 1 would be below 0"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000000\n");
    let big = i64::MIN.to_string();
    fails(&path, &["--by", &big]);
    // A width of 10 holds at most 9999999999; i64::MAX steps overflow any width.
    fails(&path, &["--by", &i64::MAX.to_string()]);
    // A missing file is not created by an update that cannot be stored.
    let missing = dir.path().join("missing");
    let err = fails(&missing, &["--by", "-1"]);
    assert!(err.ends_with("0 - 1 would be below 0"), "{err}");
    assert!(!missing.exists());
    fails(&missing, &["--width", "3", "--set", "1000"]);
    assert!(!missing.exists());
}

#[test]
fn eight_processes_lose_nothing_and_print_unique_values() {
    let dir = tmp();
    // The file does not exist yet: the eight processes also race to create and initialise it.
    let path = dir.path().join("seq");
    let (procs, each) = (8, 500);
    let children: Vec<_> = (0..procs)
        .map(|_| {
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "i=0; while [ $i -lt {each} ]; do \"$0\" \"$1\" || exit 1; i=$((i+1)); done"
                ))
                .arg(BIN)
                .arg(&path)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen = HashSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stderr(&out), "");
        for line in stdout(&out).lines() {
            let value: i64 = line.parse().unwrap();
            assert!(seen.insert(value), "{value} printed twice");
        }
    }
    let total = procs * each;
    assert_eq!(seen.len(), total);
    assert_eq!(seen, (1..=total as i64).collect::<HashSet<_>>());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        format!("{total:010}\n").as_bytes()
    );
}

/// Another program that keeps a counter in the same format: read the digits (a missing or empty
/// file is 0), add 1, write 10 zero-padded digits and a newline, print the value. Written here in
/// python3, so that the format, not a shared implementation, is what is tested.
const OTHER_WRITER: &str = r#"
import os, sys
path = sys.argv[1]
try:
    text = open(path, "rb").read()
except FileNotFoundError:
    text = b""
value = int(text) + 1 if text.strip() else 1
with open(path, "wb") as f:
    f.write(b"%010d\n" % value)
print(value)
"#;

#[test]
fn interoperates_with_another_writer_of_the_format() {
    let dir = tmp();
    let run_seed = |path: &Path| {
        let out = Command::new("python3")
            .args(["-c", OTHER_WRITER])
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    // The other program creates and writes; mmcounter reads and updates.
    let made_by_seed = dir.path().join("theirs");
    assert_eq!(run_seed(&made_by_seed), "1\n");
    assert_eq!(run_seed(&made_by_seed), "2\n");
    assert_eq!(ok(&made_by_seed, &["--get"]), "2\n");
    assert_eq!(ok(&made_by_seed, &[]), "3\n");
    assert_eq!(ok(&made_by_seed, &["--by", "997"]), "1000\n");
    assert_eq!(run_seed(&made_by_seed), "1001\n");
    assert_eq!(std::fs::read(&made_by_seed).unwrap(), b"0000001001\n");
    // mmcounter creates and writes; the other program reads and updates.
    let made_by_us = dir.path().join("ours");
    assert_eq!(ok(&made_by_us, &[]), "1\n");
    assert_eq!(ok(&made_by_us, &["--set", "41"]), "41\n");
    assert_eq!(run_seed(&made_by_us), "42\n");
    assert_eq!(ok(&made_by_us, &["--padded"]), "0000000043\n");
    assert_eq!(run_seed(&made_by_us), "44\n");
    assert_eq!(std::fs::read(&made_by_us).unwrap(), b"0000000044\n");
}

#[test]
fn bad_content_is_reported_and_left_byte_for_byte() {
    let dir = tmp();
    let too_wide = format!("{}\n", "1".repeat(25));
    let mut long = b"0000000001\n".to_vec();
    long.extend_from_slice(&[b'z'; 5000]);
    let cases: &[(&[u8], &[&str], &str)] = &[
        (
            b"00000x0041\n",
            &[],
            "not a counter: found 'x' at byte 5, not a digit",
        ),
        (
            b"garbage\n",
            &["--get"],
            "not a counter: found 'g' at byte 0, not a digit",
        ),
        (
            b"-000000001\n",
            &[],
            "not a counter: found '-' at byte 0, not a digit",
        ),
        (
            b"0000000041",
            &[],
            "not a counter: no newline after the 10 digits",
        ),
        (
            b"0000000041\n0000000041\n",
            &[],
            "not a counter: found 11 more bytes after the newline at byte 10 (the file is 22 bytes)",
        ),
        (
            &long,
            &[],
            "not a counter: found 5000 more bytes after the newline at byte 10 (the file is 5011 bytes)",
        ),
        (
            b"\n",
            &[],
            "not a counter: found a newline where digits were expected",
        ),
        (
            b"\0\0\0\0\0\0\0\0\0\0\0",
            &[],
            "not a counter: found byte 0x00 at byte 0, not a digit",
        ),
        (
            too_wide.as_bytes(),
            &[],
            "not a counter: found 25 digits, more than the widest counter (20)",
        ),
        (
            b"99999999999999999999\n",
            &["--get"],
            "not a counter: found 99999999999999999999, larger than the largest value 9223372036854775807",
        ),
        (
            b"9999999999\n",
            &[],
            "9999999999 + 1 does not fit in 10 digits (the largest value is 9999999999)",
        ),
        (b"0000000003\n", &["--by", "-4"], "3 - 4 would be below 0"),
        (
            b"0000000003\n",
            &["--set", "10000000000"],
            "cannot set 10000000000: it does not fit in 10 digits (the largest value is 9999999999)",
        ),
        (
            b"003\n",
            &["--set", "1000"],
            "cannot set 1000: it does not fit in 3 digits (the largest value is 999)",
        ),
        (
            b"0000000003\n",
            &["--by", "9223372036854775807"],
            "3 + 9223372036854775807 does not fit in 10 digits (the largest value is 9999999999)",
        ),
    ];
    for (i, (content, args, reason)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}"), content);
        let err = fails(&path, args);
        assert_eq!(
            err,
            format!("mmcounter: {}: {reason}", path.display()),
            "case {i}"
        );
        assert_eq!(
            &std::fs::read(&path).unwrap()[..],
            *content,
            "case {i} changed the file"
        );
        // The private dry run refuses the same content.
        if args.is_empty() {
            fails(&path, &["--map-mode", "private"]);
            assert_eq!(&std::fs::read(&path).unwrap()[..], *content);
        }
    }
}

#[test]
fn directories_fifos_and_missing_files_are_errors_without_side_effects() {
    let dir = tmp();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    for args in [&[][..], &["--get"], &["--map-mode", "private"]] {
        assert!(fails(&sub, args).ends_with(": Is a directory"), "{args:?}");
    }
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 0);

    let fifo = dir.path().join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    for args in [&[][..], &["--get"]] {
        assert!(
            fails(&fifo, args).ends_with(": not a regular file (a FIFO)"),
            "{args:?}"
        );
    }

    let missing = dir.path().join("missing");
    for args in [&["--get"][..], &["--map-mode", "private"]] {
        assert_eq!(
            fails(&missing, args),
            format!(
                "mmcounter: cannot open '{}' for reading: No such file or directory",
                missing.display()
            )
        );
        assert!(!missing.exists(), "{args:?} created the file");
    }
}

#[test]
fn a_read_only_file_can_be_read_but_not_updated() {
    let dir = tmp();
    let path = write(dir.path(), "ro", b"0000000007\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    if !is_root() {
        let err = fails(&path, &[]);
        assert!(
            err.ends_with(&format!(
                "cannot open '{}' for writing: Permission denied",
                path.display()
            )),
            "{err}"
        );
        assert_eq!(ok(&path, &["--get"]), "7\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"0000000007\n");
        return;
    }
    // Root may write any file: run as nobody, who can read the file but not write it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .arg(&path)
            .output()
    };
    let out = match as_nobody(&["--get"]) {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            skip(&format!("cannot run as nobody: {}", stderr(&out)));
            return;
        }
        Err(e) => {
            skip(&format!("setpriv is not available: {e}"));
            return;
        }
    };
    assert_eq!(stdout(&out), "7\n");
    let out = as_nobody(&[]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "mmcounter: cannot open '{}' for writing: Permission denied\n",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000007\n");
    // Nor may nobody create a counter in a directory it cannot write.
    let new = dir.path().join("new");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!new.exists());
}

#[test]
fn private_mode_prints_the_next_value_and_stores_nothing() {
    let dir = tmp();
    let path = write(dir.path(), "c", b"0000000041\n");
    assert_eq!(ok(&path, &["--map-mode", "private"]), "42\n");
    assert_eq!(ok(&path, &["--map-mode", "private", "--by", "-41"]), "0\n");
    assert_eq!(ok(&path, &["--map-mode", "private", "--set", "7"]), "7\n");
    assert_eq!(
        ok(&path, &["--map-mode", "private", "--json"]),
        format!(
            "{{\"type\":\"counter\",\"path\":\"{}\",\"previous\":41,\"value\":42}}\n",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000041\n");
    let empty = write(dir.path(), "empty", b"");
    assert_eq!(ok(&empty, &["--map-mode", "private"]), "1\n");
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(ok(&empty, &["--get"]), "0\n");
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
}

#[test]
fn shared_memory_round_trip_and_unlink() {
    if !Path::new("/dev/shm").is_dir() {
        skip("no /dev/shm");
        return;
    }
    let name = format!("mmcounter-test-{}", std::process::id());
    let object = Path::new("/dev/shm").join(&name);
    let shm = |args: &[&str]| {
        bin("mmcounter")
            .args(["--shm", &name])
            .args(args)
            .output()
            .unwrap()
    };
    let _ = std::fs::remove_file(&object);
    assert_eq!(stdout(&shm(&[])), "1\n");
    assert_eq!(stdout(&shm(&["--by", "4"])), "5\n");
    assert_eq!(std::fs::read(&object).unwrap(), b"0000000005\n");
    assert_eq!(stdout(&shm(&["--get", "--padded"])), "0000000005\n");
    let json = stdout(&shm(&["--json"]));
    assert_eq!(
        json,
        format!("{{\"type\":\"counter\",\"path\":\"{name}\",\"previous\":5,\"value\":6}}\n")
    );
    // The same object by its name with a leading slash.
    assert_eq!(
        stdout(&run(&["--shm", &format!("/{name}"), "--get"])),
        "6\n"
    );
    let out = shm(&["--unlink"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("removed shared memory object '{name}'\n")
    );
    assert!(!object.exists());
    let out = shm(&["--unlink"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("mmcounter: cannot remove '{name}': No such file or directory\n")
    );
    let out = shm(&["--get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!object.exists());
    // Bad content in an object is refused the same way.
    std::fs::write(&object, b"12x\n").unwrap();
    let out = shm(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&object).unwrap(), b"12x\n");
    let out = shm(&["--unlink", "--json"]);
    assert_eq!(
        stdout(&out),
        format!("{{\"type\":\"unlinked\",\"path\":\"{name}\"}}\n")
    );
    assert!(!object.exists());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tmp();
    let path = dir.path().join("c");
    for args in [
        &["--get", "--set", "1"][..],
        &["--by", "1", "--reset"],
        &["--set", "-1"],
        &["--unlink"],
        &["--padded", "--json"],
        &["--timeout", "-1"],
        &["--timeout", "soon"],
        &["--map-mode", "shared-ish"],
    ] {
        let out = run_on(&path, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(run(&[]).status.code(), Some(2));
    assert!(!path.exists());
    for name in ["", "/", "a/b", "..", &"x".repeat(256)] {
        assert_eq!(
            run(&["--shm", name]).status.code(),
            Some(2),
            "--shm {name:?}"
        );
        assert_eq!(run(&["--shm", name, "--unlink"]).status.code(), Some(2));
    }
    // A FILE and --shm, or --unlink with a FILE, are not both allowed.
    assert_eq!(run_on(&path, &["--shm", "x"]).status.code(), Some(2));
}

/// A tmpfs of `size` mounted on a temporary directory, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    fn mount(size: &str) -> Option<SmallTmpfs> {
        if !is_root() {
            skip("mounting a small tmpfs needs root");
            return None;
        }
        let dir = tmp();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(SmallTmpfs { dir }),
            Ok(out) => {
                skip(&format!("cannot mount a tmpfs: {}", stderr(&out)));
                None
            }
            Err(e) => {
                skip(&format!("cannot run mount: {e}"));
                None
            }
        }
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_file_system_is_an_error_and_leaves_an_empty_counter() {
    let Some(fs) = SmallTmpfs::mount("8k") else {
        return;
    };
    let root = fs.dir.path();
    let existing = root.join("existing");
    assert_eq!(ok(&existing, &[]), "1\n");
    // Fill what is left.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4096"])
        .arg(format!("of={}", root.join("fill").display()))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let new = root.join("new");
    let err = fails(&new, &[]);
    assert!(
        err.ends_with(&format!(
            "error writing '{}': No space left on device",
            new.display()
        )),
        "{err}"
    );
    // An empty file is a counter at 0, as if the update had never started.
    assert_eq!(std::fs::read(&new).unwrap(), b"");
    // The page of an existing counter is already there: it still counts, and syncs.
    assert_eq!(ok(&existing, &[]), "2\n");
    assert_eq!(ok(&existing, &["--sync"]), "3\n");
    assert_eq!(std::fs::read(&existing).unwrap(), b"0000000003\n");
}

/// Files of /proc, /sys and cgroup filesystems report a size of 0 (or 4096) whatever they hold: they are
/// not counters. Reading one as an empty counter printed 0 for garbage, and an update wrote
/// "0000000000\n" into it (a cgroup limit, as root) before failing.
#[test]
fn pseudo_filesystem_files_are_refused_and_left_alone() {
    for args in [&["--get"][..], &[], &["--map-mode", "private"]] {
        let err = fails(Path::new("/proc/self/status"), args);
        assert!(
            err.ends_with("a file of a pseudo filesystem (/proc, /sys, cgroup), not a counter"),
            "{args:?}: {err}"
        );
    }
    // A writable pseudo file, in a cgroup of our own: the update must not write into it.
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let Some(root) = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() > 2 && f[2] == "cgroup2").then(|| PathBuf::from(f[1]))
    }) else {
        return skip("no cgroup2 mount");
    };
    let group = root.join(format!("mmtools-test-{}", std::process::id()));
    if std::fs::create_dir(&group).is_err() {
        return skip("cannot create a cgroup (not root?)");
    }
    let file = group.join("cgroup.max.depth");
    let before = std::fs::read(&file).unwrap();
    let out = run_on(&file, &[]);
    let after = std::fs::read(&file).unwrap();
    std::fs::remove_dir(&group).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pseudo filesystem"),
        "{}",
        stderr(&out)
    );
    assert_eq!(after, before, "the cgroup file was written");
}

/// With standard output closed (`>&-`), the new value cannot be handed over: a sequence number taken and
/// never delivered is lost. The run fails before touching the counter, as GNU tools fail with a write
/// error, instead of updating it and exiting 0 with nothing printed.
#[test]
fn a_closed_stdout_fails_before_the_update() {
    let dir = tmp();
    let path = write(dir.path(), "seq", b"0000000007\n");
    for args in [&[][..], &["--get"], &["--json"]] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" >&-")
            .arg(BIN)
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(
            err, "mmcounter: standard output: Bad file descriptor\n",
            "{args:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"0000000007\n", "{args:?}");
    }
    let fresh = dir.path().join("fresh");
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$1\" >&-")
        .arg(BIN)
        .arg(&fresh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!fresh.exists(), "the counter was created");
}
