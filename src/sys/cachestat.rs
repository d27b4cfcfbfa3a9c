//! cachestat(2), system call 451 (Linux 6.5 and later), which no crate wraps: page-cache statistics of a
//! byte range of a file in O(1) calls.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// The system call number of cachestat on every Linux architecture (a generic number since 6.5).
const SYS_CACHESTAT: libc::c_long = 451;

#[repr(C)]
struct Range {
    off: u64,
    len: u64,
}

/// Page-cache statistics of a range, in pages.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cachestat {
    /// Pages in the page cache.
    pub cache: u64,
    /// Dirty pages.
    pub dirty: u64,
    /// Pages under writeback.
    pub writeback: u64,
    /// Pages evicted from the cache (the kernel remembers them in shadow entries).
    pub evicted: u64,
    /// Evicted pages that were recently active: the sign of thrashing.
    pub recently_evicted: u64,
}

/// Asks the kernel for the page-cache statistics of `[offset, offset + len)` of `fd` (`len` 0 means to
/// the end of the file). ENOSYS on kernels before 6.5 (or under a seccomp filter that says so), EPERM
/// for files the caller may not write (6.14 and later), and possibly EPERM from seccomp.
pub fn cachestat(fd: impl AsFd, offset: u64, len: u64) -> io::Result<Cachestat> {
    let range = Range { off: offset, len };
    let mut stat = Cachestat::default();
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: `range` and `stat` are live, correctly laid out (#[repr(C)], matching the kernel's struct
    // cachestat_range and struct cachestat) and exclusively borrowed for the call; `fd` is a valid open
    // descriptor borrowed for the call; flags must be 0.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd,
            &range as *const Range,
            &mut stat as *mut Cachestat,
            0u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_freshly_written_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 64 << 10]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        match cachestat(&file, 0, 0) {
            Ok(stat) => assert_eq!(
                stat.cache,
                (64 << 10) / rustix::param::page_size() as u64,
                "{stat:?}"
            ),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                crate::testing::skip("cachestat is missing (ENOSYS)")
            }
            Err(e) => panic!("cachestat: {e}"),
        }
    }
}
