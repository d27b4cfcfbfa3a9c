//! Helpers for the library's unit tests: skips that fail under strict mode, and a temporary
//! directory on a filesystem backed by storage.

use std::path::PathBuf;

/// For a test whose precondition is missing: prints the conventional `skipped: <reason>` line (the
/// caller then returns), or fails the test with that reason when `MMTOOLS_STRICT_TESTS=1`, which
/// `.ci/run` sets, so that a green CI run means every test ran.
pub(crate) fn skip(reason: &str) {
    let strict = std::env::var_os("MMTOOLS_STRICT_TESTS").is_some_and(|v| v == "1");
    assert!(!strict, "skipped: {reason} (MMTOOLS_STRICT_TESTS=1)");
    println!("skipped: {reason}");
}

/// A temporary directory on a filesystem whose pages can be written back and evicted (not tmpfs or
/// ramfs): `TMPDIR` when it is on one, else one beside the test binary (cargo's target directory),
/// else /var/tmp; when all of them are in memory, the plain temporary directory (and the tests that
/// need eviction skip).
pub(crate) fn disk_tempdir() -> tempfile::TempDir {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from));
    let bases = [
        Some(std::env::temp_dir()),
        beside_binary,
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")),
        Some(PathBuf::from("/var/tmp")),
    ];
    bases
        .into_iter()
        .flatten()
        .find_map(|base| {
            let dir = tempfile::Builder::new()
                .prefix("mmtools-test")
                .tempdir_in(&base)
                .ok()?;
            let kind = rustix::fs::statfs(dir.path()).ok()?.f_type as i64;
            (kind != TMPFS_MAGIC && kind != RAMFS_MAGIC).then_some(dir)
        })
        .unwrap_or_else(|| tempfile::tempdir().unwrap())
}

/// Pages of `[offset, offset + len)` of `file` in the page cache (cachestat; `len` 0: to the end).
pub(crate) fn cached(file: &std::fs::File, offset: u64, len: u64) -> u64 {
    crate::sys::cachestat::cachestat(file, offset, len)
        .unwrap()
        .cache
}
