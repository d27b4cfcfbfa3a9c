//! The core error type: which file, what was being done, and the reason the OS (or the file) gave.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What the core was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Looking up or opening a file (for reading).
    Open,
    /// Opening an existing file for reading and writing (to update it in place).
    OpenWrite,
    /// Asking for a file's status or its filesystem's (fstat, statfs, the size of a device).
    Stat,
    /// Reading through read(2).
    Read,
    /// Creating a memory map.
    Map,
    /// Creating or opening an output file.
    Create,
    /// Sizing or preallocating an output file.
    Resize,
    /// Writing an output file.
    Write,
    /// Flushing a map or file to storage.
    Sync,
    /// Setting an output file's attributes: owner, mode, ACLs, extended attributes, times.
    Attributes,
    /// Locking a file (flock) or its pages in memory (mlock).
    Lock,
    /// Giving the kernel advice about a file's pages (madvise, fadvise).
    Advise,
    /// Removing a file.
    Remove,
}

/// Why an operation failed.
#[derive(Debug)]
pub enum Reason {
    /// The OS refused, with this error.
    Io(io::Error),
    /// The input is a directory and the tool reads files.
    IsDirectory,
    /// The file shrank (or was truncated) while its map was being read: some bytes read as zeros.
    ChangedSize,
    /// The destination is a symlink to nothing, which a copy does not write through.
    DanglingSymlink,
    /// The path leads to another file than the one a walk found there: a directory on the way was
    /// swapped (for a link to elsewhere, say) or the file replaced. The file is left alone.
    Replaced,
}

/// A failure of a core operation on one file.
#[derive(Debug)]
pub struct Error {
    op: Op,
    path: PathBuf,
    reason: Reason,
}

impl Error {
    /// An OS error from `op` on `path`.
    pub fn io(op: Op, path: impl Into<PathBuf>, err: io::Error) -> Self {
        Error {
            op,
            path: path.into(),
            reason: Reason::Io(err),
        }
    }

    /// A failure with a reason of our own.
    pub fn new(op: Op, path: impl Into<PathBuf>, reason: Reason) -> Self {
        Error {
            op,
            path: path.into(),
            reason,
        }
    }

    /// The file the error is about, as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        self.op
    }

    /// Why it failed.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The reason alone, without the file name: `No such file or directory`.
    pub fn reason_text(&self) -> String {
        match &self.reason {
            Reason::Io(e) => match self.op {
                Op::Open => describe(e),
                Op::OpenWrite => format!("cannot open for writing: {}", describe(e)),
                Op::Stat => format!("cannot stat: {}", describe(e)),
                Op::Read => format!("read error: {}", describe(e)),
                Op::Map => format!("cannot map: {}", describe(e)),
                Op::Create => format!("cannot create: {}", describe(e)),
                Op::Resize => format!("cannot size: {}", describe(e)),
                Op::Write => format!("write error: {}", describe(e)),
                Op::Sync => format!("cannot sync: {}", describe(e)),
                Op::Attributes => format!("cannot set attributes: {}", describe(e)),
                Op::Lock => format!("cannot lock: {}", describe(e)),
                Op::Advise => format!("cannot advise: {}", describe(e)),
                Op::Remove => format!("cannot remove: {}", describe(e)),
            },
            Reason::IsDirectory => "Is a directory".to_string(),
            Reason::ChangedSize => "file changed size while being read".to_string(),
            Reason::DanglingSymlink => "not writing through dangling symlink".to_string(),
            Reason::Replaced => "replaced by another file during the walk".to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason_text())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            Reason::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// An OS error as coreutils print it: `Permission denied`, without Rust's ` (os error 13)` suffix.
pub fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Result of a core operation.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_like_coreutils() {
        let e = Error::io(
            Op::Open,
            "a.txt",
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(e.to_string(), "a.txt: No such file or directory");
        let e = Error::new(Op::Read, "data.log", Reason::ChangedSize);
        assert_eq!(
            e.to_string(),
            "data.log: file changed size while being read"
        );
        let e = Error::io(Op::Read, "x", io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(e.to_string(), "x: read error: Input/output error");
    }
}
