//! Output files: created, sized with ftruncate and preallocated with fallocate before any byte is
//! written, so that a full filesystem is found before the copy rather than as a fault during it.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::FallocateFlags;

use crate::error::{Error, Op, Result};

/// Whether the blocks of a sized output were reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prealloc {
    /// fallocate reserved every block.
    Reserved,
    /// The filesystem cannot preallocate (EOPNOTSUPP): the file is sized but its blocks are not reserved,
    /// so running out of space can still happen while writing.
    Unsupported,
    /// Nothing to reserve (zero length).
    Nothing,
}

/// Creates (or truncates) `path` with permission bits `mode` (before umask), sizes it to `len` and
/// preallocates its blocks. Refuses nothing but what the OS refuses; `ENOSPC` from fallocate is an error.
pub fn create_sized(path: &Path, len: u64, mode: u32) -> Result<(File, Prealloc)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(Op::Create, path, e))?;
    let prealloc = size(&file, path, len)?;
    Ok((file, prealloc))
}

/// Sizes an open output to `len` bytes and preallocates `[0, len)`.
pub fn size(file: &File, path: &Path, len: u64) -> Result<Prealloc> {
    rustix::fs::ftruncate(file, len).map_err(|e| Error::io(Op::Resize, path, e.into()))?;
    if len == 0 {
        return Ok(Prealloc::Nothing);
    }
    preallocate(file, path, 0, len)
}

/// Reserves the blocks of `[offset, offset + len)` without changing the file size.
pub fn preallocate(file: &File, path: &Path, offset: u64, len: u64) -> Result<Prealloc> {
    match rustix::fs::fallocate(file, FallocateFlags::KEEP_SIZE, offset, len) {
        Ok(()) => Ok(Prealloc::Reserved),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            Ok(Prealloc::Unsupported)
        }
        Err(e) => Err(Error::io(Op::Resize, path, io::Error::from(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_sized_and_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let (file, prealloc) = create_sized(&path, 1 << 20, 0o644).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 1 << 20);
        if prealloc == Prealloc::Reserved {
            use std::os::unix::fs::MetadataExt;
            assert!(
                file.metadata().unwrap().blocks() * 512 >= 1 << 20,
                "blocks are reserved"
            );
        }
        let (file, prealloc) = create_sized(&path, 0, 0o644).unwrap();
        assert_eq!(
            (file.metadata().unwrap().len(), prealloc),
            (0, Prealloc::Nothing)
        );
    }

    #[test]
    fn unwritable_directory_is_an_error_naming_the_file() {
        let e = create_sized(Path::new("/proc/nonexistent-dir/x"), 10, 0o644).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/proc/nonexistent-dir/x: cannot create:"),
            "{e}"
        );
    }
}
