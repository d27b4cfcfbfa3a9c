//! Opening an input: lstat, open with O_NONBLOCK and O_CLOEXEC, fstat to confirm the type, and a
//! decision on how to read it: map it, know it is empty, or stream it through read(2).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::{Error, Op, Reason, Result};
use crate::map::{ChangeTime, fault_reason};

/// How an input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A regular file of this many bytes (> 0): mapped.
    Map {
        /// The size fstat reported when the file was opened.
        len: u64,
    },
    /// A regular file of size 0 on a real filesystem: empty, never mapped.
    Empty,
    /// Read with read(2) until end of file.
    Stream(StreamKind),
}

/// Why an input takes the read path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Standard input.
    Stdin,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A socket.
    Socket,
    /// A block device: its size is not st_size.
    BlockDevice,
    /// A file of a pseudo filesystem (/proc, /sys, ...) whose st_size is 0 or wrong.
    Pseudo,
}

/// An open input and how to read it.
#[derive(Debug)]
pub struct Input {
    name: PathBuf,
    file: File,
    access: Access,
    /// The change time (ctime) at open, to tell a file changed under a map from a failing device.
    changed_at: Option<ChangeTime>,
    /// Allocated 512-byte blocks at open (st_blocks), to tell whether the file has holes worth finding.
    blocks: u64,
}

/// Filesystems whose regular files report a size of 0 or a wrong size: the kernel makes their contents
/// when they are read, and they have no pages in the page cache to map. Filesystems that serve real
/// data through the page cache (FUSE: sshfs, s3fs, JuiceFS; NFS, overlay...) are not among them: their
/// files are mapped and measured like any other.
const PSEUDO_FILESYSTEMS: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0x2762_34f1, // cgroup (v1 uses this magic for some files)
    0x6367_7270, // cgroup2
    0xcafe_4a11, // bpf
    0x6e73_6673, // nsfs
    0x6265_6570, // configfs
    0xde5e_81e4, // efivarfs
    0x6165_676c, // pstore
    0xf97c_ff8c, // selinuxfs
    0x4341_5d53, // smackfs
    0x4249_4e4d, // binfmt_misc
    0x1980_0202, // mqueue
    0x6573_5543, // fusectl (the FUSE control filesystem; not FUSE itself, 0x6573_5546)
];

impl Input {
    /// Opens `path` for reading. A directory is an error (`Is a directory`); a FIFO without a writer
    /// does not block the open.
    pub fn open(path: &Path) -> Result<Input> {
        Input::open_checked(path, None)
    }

    /// [`Input::open`] for a file a walk found as device and inode `id`: if the path now leads to
    /// another file (a directory on the way swapped for a link to elsewhere, or the file replaced), it
    /// is an error ([`Reason::Replaced`]), and the file is not read.
    pub fn open_found(path: &Path, id: (u64, u64)) -> Result<Input> {
        Input::open_checked(path, Some(id))
    }

    fn open_checked(path: &Path, id: Option<(u64, u64)>) -> Result<Input> {
        let err = |e: io::Error| Error::io(Op::Open, path, e);
        let meta = rustix::fs::lstat(path).map_err(|e| err(e.into()))?;
        if FileType::from_raw_mode(meta.st_mode) == FileType::Directory {
            return Err(Error::new(Op::Open, path, Reason::IsDirectory));
        }
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd: OwnedFd =
            rustix::fs::open(path, flags, Mode::empty()).map_err(|e| err(e.into()))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| err(e.into()))?;
        if id.is_some_and(|id| id != (stat.st_dev, stat.st_ino)) {
            return Err(Error::new(Op::Open, path, Reason::Replaced));
        }
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => return Err(Error::new(Op::Open, path, Reason::IsDirectory)),
            FileType::RegularFile => None,
            FileType::Fifo => Some(StreamKind::Fifo),
            FileType::CharacterDevice => Some(StreamKind::CharDevice),
            FileType::Socket => Some(StreamKind::Socket),
            FileType::BlockDevice => Some(StreamKind::BlockDevice),
            _ => Some(StreamKind::CharDevice),
        };
        let access = match kind {
            Some(kind) => {
                // The open did not block; reads should, until a writer is done.
                rustix::fs::fcntl_setfl(&fd, OFlags::empty()).map_err(|e| err(e.into()))?;
                Access::Stream(kind)
            }
            None if is_pseudo(&fd) => Access::Stream(StreamKind::Pseudo),
            None if stat.st_size == 0 => Access::Empty,
            None => Access::Map {
                len: stat.st_size as u64,
            },
        };
        Ok(Input {
            name: path.to_path_buf(),
            file: File::from(fd),
            access,
            changed_at: Some(ChangeTime::of(&stat)),
            blocks: stat.st_blocks as u64,
        })
    }

    /// Standard input, always read with read(2). `name` is how errors name it (often `-`).
    pub fn stdin(name: impl Into<PathBuf>) -> Result<Input> {
        let name = name.into();
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io(Op::Open, &name, e))?;
        Ok(Input {
            name,
            file: File::from(fd),
            access: Access::Stream(StreamKind::Stdin),
            changed_at: None,
            blocks: 0,
        })
    }

    /// How the input will be read.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Takes a block device, which reads as a stream, as a file to map as long as the device (for
    /// the tools that look at or change its own page cache), and returns that length. Other inputs are
    /// left as they are, with `None`.
    pub fn as_block_device(&mut self) -> Result<Option<u64>> {
        if self.access != Access::Stream(StreamKind::BlockDevice) {
            return Ok(None);
        }
        let len = rustix::fs::seek(&self.file, rustix::fs::SeekFrom::End(0))
            .map_err(|e| Error::io(Op::Open, &self.name, e.into()))?;
        self.access = if len == 0 {
            Access::Empty
        } else {
            Access::Map { len }
        };
        Ok(Some(len))
    }

    /// The input's name, as given.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The 512-byte blocks the file had allocated when it was opened (st_blocks).
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The size fstat reports now, for a regular file (used to detect a file that shrank while read).
    pub fn current_len(&self) -> Result<u64> {
        rustix::fs::fstat(&self.file)
            .map(|s| s.st_size as u64)
            .map_err(|e| Error::io(Op::Read, &self.name, e.into()))
    }

    /// Why a page of a map of this input ending at byte `end` could not be read: the file changed
    /// under the map, or the device failed (see [`fault_reason`]).
    pub fn fault_reason(&self, end: u64) -> Reason {
        fault_reason(&self.file, end, self.changed_at)
    }

    /// Reads up to `buf.len()` bytes with read(2), retrying on EINTR. Returns 0 at end of file.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match (&self.file).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(Op::Read, &self.name, e)),
            }
        }
    }
}

/// Fills `buf` from `at` with pread until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match std::os::unix::fs::FileExt::read_at(file, &mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn is_pseudo(fd: &OwnedFd) -> bool {
    on_pseudo_filesystem(fd)
}

/// Whether `fd` is a file of a pseudo filesystem (/proc, /sys, cgroup, ...), whose st_size says nothing
/// of what it holds and whose writes act on the kernel.
pub fn on_pseudo_filesystem(fd: impl AsFd) -> bool {
    match rustix::fs::fstatfs(fd) {
        Ok(fs) => PSEUDO_FILESYSTEMS.contains(&{ fs.f_type }),
        Err(_) => false,
    }
}

/// What a path's size is known to be before it is opened, for planning column widths and progress totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// A regular file of this st_size (0 for /proc and /sys files, whatever they hold).
    Regular(u64),
    /// A FIFO, device or socket: unknown until read.
    Stream,
    /// Missing, a directory, or not accessible: it will fail when opened.
    Unavailable,
}

/// The size of `path` as stat(2) reports it, without opening it.
pub fn planned_len(path: &Path) -> Planned {
    planned(rustix::fs::stat(path))
}

/// The size of standard input as fstat(2) reports it: a regular file when stdin is redirected from one.
pub fn planned_len_stdin() -> Planned {
    match planned(rustix::fs::fstat(io::stdin().as_fd())) {
        Planned::Unavailable => Planned::Stream,
        known => known,
    }
}

fn planned(stat: rustix::io::Result<rustix::fs::Stat>) -> Planned {
    match stat {
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Planned::Regular(stat.st_size as u64),
            FileType::Directory => Planned::Unavailable,
            _ => Planned::Stream,
        },
        Err(_) => Planned::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let one = dir.path().join("one");
        std::fs::write(&one, b"x").unwrap();
        assert_eq!(Input::open(&empty).unwrap().access(), Access::Empty);
        assert_eq!(Input::open(&one).unwrap().access(), Access::Map { len: 1 });
        assert_eq!(
            Input::open(Path::new("/proc/self/status"))
                .unwrap()
                .access(),
            Access::Stream(StreamKind::Pseudo)
        );
        assert_eq!(
            Input::open(Path::new("/dev/null")).unwrap().access(),
            Access::Stream(StreamKind::CharDevice)
        );
        let e = Input::open(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: Is a directory", dir.path().display())
        );
        let e = Input::open(&dir.path().join("missing")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("missing: No such file or directory"),
            "{e}"
        );
    }

    #[test]
    fn fifo_without_writer_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let input = Input::open(&fifo).unwrap();
        assert_eq!(input.access(), Access::Stream(StreamKind::Fifo));
        let mut buf = [0u8; 16];
        assert_eq!(
            input.read(&mut buf).unwrap(),
            0,
            "no writer: end of file at once"
        );
    }
}
