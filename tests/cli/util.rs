//! Helpers shared by the CLI tests: running binaries, making files, and comparing with reference tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The page size of this machine.
pub fn page() -> usize {
    // SAFETY-free: ask the shell tool rather than libc, so the tests need no unsafe.
    let out = Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("page size")
}

/// A command for one of our binaries.
pub fn bin(name: &str) -> assert_cmd::Command {
    match name {
        "mmcount" => assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("mmcount")),
        "mmcp" => assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("mmcp")),
        other => panic!("unknown binary {other}"),
    }
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a shell pipeline and returns its stdout, trimmed.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Whether we run as root (some tests need a non-root uid to be meaningful, others need root).
pub fn is_root() -> bool {
    sh("id -u") == "0"
}

/// Prints the conventional skip line and returns, for a test whose precondition is missing.
pub fn skip(reason: &str) {
    println!("skipped: {reason}");
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// stdout of a finished process, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a finished process, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
