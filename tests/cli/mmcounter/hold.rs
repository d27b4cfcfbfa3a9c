//! mmcounter --hold (a look through a still-open map) and the lock: waits, timeouts and their messages.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::{BIN, fails, ok, tmp};
use crate::util::{stdout, write};

/// A running `mmcounter --hold`, with its first line already read.
struct Holder {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    first: String,
}

fn hold(path: &Path, args: &[&str]) -> Holder {
    let mut child = Command::new(BIN)
        .arg("--hold")
        .args(args)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Blocks until the holder has updated, released the lock and printed.
    let first = lines.next().unwrap().unwrap();
    Holder {
        child,
        lines,
        first,
    }
}

impl Holder {
    fn finish(mut self) -> (String, std::process::ExitStatus) {
        let last = self.lines.next().unwrap().unwrap();
        assert!(self.lines.next().is_none());
        let status = self.child.wait().unwrap();
        (last, status)
    }
}

#[test]
fn hold_sees_another_process_update_through_its_map() {
    let dir = tmp();
    let path = write(dir.path(), "c", b"0000000005\n");
    let mut holder = hold(&path, &[]);
    assert_eq!(holder.first, "6");
    // The holder keeps no lock: this update goes through at once.
    // With a timeout, a holder that kept its lock would fail this test rather than hang it.
    assert_eq!(ok(&path, &["--by", "10", "--timeout", "60"]), "16\n");
    holder
        .child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"\n")
        .unwrap();
    let (last, status) = holder.finish();
    assert_eq!(last, "16");
    assert!(status.success());

    // Ended by the end of its input, with JSON records.
    let mut holder = hold(&path, &["--json", "--get"]);
    assert!(
        holder.first.ends_with("\"previous\":16,\"value\":16}"),
        "{}",
        holder.first
    );
    assert_eq!(ok(&path, &[]), "17\n");
    drop(holder.child.stdin.take());
    let (last, status) = holder.finish();
    assert_eq!(
        last,
        format!(
            "{{\"type\":\"held\",\"path\":\"{}\",\"value\":17}}",
            path.display()
        )
    );
    assert!(status.success());

    // Ended by SIGTERM and by SIGINT: the value is still printed, and the run still succeeds.
    for signal in ["TERM", "INT"] {
        let holder = hold(&path, &["--padded"]);
        let expected = format!("{:010}", holder.first.parse::<i64>().unwrap() + 1);
        ok(&path, &[]);
        let kill = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(holder.child.id().to_string())
            .status()
            .unwrap();
        assert!(kill.success());
        let (last, status) = holder.finish();
        assert_eq!(last, expected, "SIG{signal}");
        assert!(status.success(), "SIG{signal}: {status:?}");
    }
}

#[test]
fn updates_wait_for_the_lock_and_timeouts_name_the_file() {
    use mmtools::sys::lock::{LockKind, lock, unlock};
    use std::os::fd::AsFd;
    let dir = tmp();
    let path = write(dir.path(), "c", b"0000000001\n");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    lock(file.as_fd(), LockKind::Exclusive, None).unwrap();
    let err = fails(&path, &["--timeout", "0.2"]);
    assert!(
        err.ends_with("timed out after 0.2s waiting for the lock (another process holds it)"),
        "{err}"
    );
    assert!(
        fails(&path, &["--timeout", "0"])
            .ends_with("timed out after 0s waiting for the lock (another process holds it)")
    );
    // A read needs a shared lock, which the exclusive one excludes too.
    fails(&path, &["--get", "--timeout", "0.1"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"0000000001\n");
    // An update without a timeout waits, and goes through once the lock is released.
    let waiting = Command::new(BIN)
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let also_waiting = Command::new(BIN)
        .args(["--timeout", "600"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    unlock(file.as_fd()).unwrap();
    let mut values: Vec<String> = [waiting, also_waiting]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            stdout(&out)
        })
        .collect();
    values.sort();
    assert_eq!(values, ["2\n", "3\n"]);
    // A shared lock held elsewhere lets --get through but makes an update wait.
    lock(file.as_fd(), LockKind::Shared, None).unwrap();
    assert_eq!(ok(&path, &["--get", "--timeout", "0"]), "3\n");
    fails(&path, &["--timeout", "0.05"]);
    drop(file);
    assert_eq!(ok(&path, &["--timeout", "0"]), "4\n");
}
