//! sync_file_range(2), which rustix does not wrap: start writing a range of a file's dirty pages to
//! disk without waiting, or wait until they are written, without the full cost of fdatasync.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// What [`sync_file_range`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writeback {
    /// SYNC_FILE_RANGE_WRITE: start writeback of the range's dirty pages; do not wait.
    Start,
    /// WAIT_BEFORE | WRITE | WAIT_AFTER: write the range's dirty pages and wait until they are on disk
    /// (data only: no metadata, no device cache flush).
    Wait,
}

/// Starts, or completes, the writeback of `[offset, offset + len)` of `fd` (`len` 0 means to the end of
/// the file).
pub fn sync_file_range(fd: impl AsFd, offset: u64, len: u64, how: Writeback) -> io::Result<()> {
    let flags = match how {
        Writeback::Start => libc::SYNC_FILE_RANGE_WRITE,
        Writeback::Wait => {
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER
        }
    };
    let offset = libc::off64_t::try_from(offset).map_err(|_| einval())?;
    let len = libc::off64_t::try_from(len).map_err(|_| einval())?;
    // SAFETY: the call takes a descriptor, borrowed (open) for the call, and plain integers; it reads
    // and writes no memory of ours.
    let rc = unsafe { libc::sync_file_range(fd.as_fd().as_raw_fd(), offset, len, flags) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_pages_are_clean_after_a_wait() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 256 << 10]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        sync_file_range(&file, 0, 0, Writeback::Start).unwrap();
        sync_file_range(&file, 0, 0, Writeback::Wait).unwrap();
        if let Ok(stat) = crate::sys::cachestat::cachestat(&file, 0, 0) {
            assert_eq!(stat.dirty + stat.writeback, 0, "{stat:?}");
        }
        assert!(sync_file_range(&file, u64::MAX, 1, Writeback::Start).is_err());
    }
}
