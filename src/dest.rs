//! Output files: created, sized with ftruncate and preallocated with fallocate before any byte is
//! written, so that a full filesystem is found before the copy rather than as a fault during it; and
//! small files written whole or not at all (snapshots, pid files).

use std::fs::File;
use std::io::{self, BufWriter, Write};
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

/// Writes the file `path` whole or not at all, with permission bits `perm` (less the umask): `fill`
/// writes its content, which goes to an anonymous file (O_TMPFILE) in `path`'s directory, synced, then
/// linked in at `path` (replacing an old file in one rename). A kill at any moment leaves the old file
/// or the new one, and no debris. Where the filesystem has no anonymous files, a named temporary file
/// beside `path` is used instead, removed on failure (but not on SIGKILL). Something at `path` that is
/// not a regular file (a FIFO, /dev/stdout) is written in place.
pub fn write_whole<T>(
    path: &Path,
    perm: u32,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    use crate::copy::place;
    let existing = std::fs::metadata(path);
    if existing.as_ref().is_ok_and(|m| !m.is_file()) {
        let mut out = BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
        let t = fill(&mut out)?;
        out.flush()?;
        return Ok(t);
    }
    let dir = place::parent_dir(path);
    let Some(file) = place::open_anonymous(&dir, perm)? else {
        return write_named(path, perm, fill);
    };
    let t = {
        let mut out = BufWriter::new(&file);
        let t = fill(&mut out)?;
        out.flush()?;
        t
    };
    file.sync_all()?;
    match place::link_anonymous(&file, path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            place::replace_anonymous(&file, path, None)?
        }
        other => other?,
    }
    Ok(t)
}

/// [`write_whole`] through a named temporary file, for filesystems without O_TMPFILE.
fn write_named<T>(
    path: &Path,
    perm: u32,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in crate::copy::place::temp_names(path) {
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(perm)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&temp)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                last = e;
                continue;
            }
            Err(e) => return Err(e),
        };
        let result = (|| {
            let mut out = BufWriter::new(&file);
            let t = fill(&mut out)?;
            out.flush()?;
            drop(out);
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            Ok(t)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        return result;
    }
    Err(last)
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
    fn written_whole_over_an_old_file_and_nothing_else_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap");
        write_whole(&path, 0o644, |w| w.write_all(b"first\n")).unwrap();
        write_whole(&path, 0o644, |w| w.write_all(b"second\n")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        // A failure while filling leaves the old file as it was, and nothing beside it.
        let e = write_whole(&path, 0o644, |w| {
            w.write_all(b"partial")?;
            Err::<(), _>(io::Error::other("stop"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "stop");
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // The named fallback does the same.
        write_named(&path, 0o600, |w| w.write_all(b"third\n")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
