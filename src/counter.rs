//! The persistent counter: its on-disk format (decimal digits zero-padded to a fixed width, then a
//! newline), parsing and validation, the arithmetic with its bounds, and the locked read-modify-write
//! through a shared map of a file or a POSIX shared-memory object.
//!
//! Every update holds an exclusive OFD lock on the whole file from before the read to after the write;
//! reads hold a shared one. A missing file is created with `O_CREAT`, and an empty one is initialised
//! only under the exclusive lock, after looking at its size again, so that many processes starting at
//! once initialise it once. Nothing is written unless the whole update is valid.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::{Op as FileOp, describe};
use crate::map::{MapMode, MappedRange, MappedRangeMut};
use crate::sys::lock::{self, LockError, LockKind};

mod arith;
mod format;

pub use arith::{Op, OutOfRange};
pub use format::{
    Counter, DEFAULT_WIDTH, DIAGNOSE_LEN, Encoded, MAX_LEN, MAX_WIDTH, Malformed, max_value, parse,
};

/// Where the counter lives.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file.
    File(&'a Path),
    /// A POSIX shared-memory object, by the name given to shm_open (`/dev/shm/NAME` on Linux).
    Shm(&'a str),
}

impl Source<'_> {
    /// The name errors and reports show: the path (its exact bytes) or the object name, as the user
    /// gave it.
    pub fn name(&self) -> std::ffi::OsString {
        match self {
            Source::File(p) => p.as_os_str().to_os_string(),
            Source::Shm(n) => (*n).into(),
        }
    }

    fn open(&self, flags: OFlags) -> io::Result<File> {
        let mode = Mode::from_bits_truncate(0o666);
        let fd = match self {
            Source::File(p) => rustix::fs::open(*p, flags | OFlags::CLOEXEC, mode)?,
            Source::Shm(n) => {
                let name = n.trim_start_matches('/');
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                }
                // O_NOFOLLOW, as glibc's shm_open: /dev/shm is writable by everyone, and a link
                // planted there must not make us create or update its target (rustix's shm::open
                // follows it).
                let path = Path::new("/dev/shm").join(name);
                let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
                rustix::fs::open(&path, flags, mode)?
            }
        };
        Ok(File::from(fd))
    }
}

/// An operation on one counter.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// What to do.
    pub op: Op,
    /// Shared: update the file through a shared map. Private: map it copy-on-write, compute the result,
    /// store nothing.
    pub mode: MapMode,
    /// The width of a counter created now.
    pub width: usize,
    /// The longest wait for the lock; `None` waits as long as it takes.
    pub timeout: Option<Duration>,
    /// msync (MS_SYNC) after writing, so that the value is on storage before the lock is released.
    pub sync: bool,
    /// Keep the map open after the update (unlocked), to look at the counter again later.
    pub keep: bool,
}

/// What an operation did.
#[derive(Debug)]
pub struct Outcome {
    /// The counter before.
    pub previous: Counter,
    /// The counter after (for a private or read-only operation: what it would be).
    pub current: Counter,
    /// Whether the file or object was created or initialised by this operation.
    pub created: bool,
    /// The still-open map, when the request asked to keep it.
    pub view: Option<View>,
}

/// Why an operation on a counter failed.
#[derive(Debug)]
pub enum Problem {
    /// The system refused this operation (the cli words it with the shared message table).
    Io(FileOp, io::Error),
    /// The name is a directory.
    IsDirectory,
    /// Something that is not a regular file (a FIFO, a device, a socket).
    NotRegular(&'static str),
    /// A file of a pseudo filesystem (/proc, /sys, cgroup): its size says nothing of its contents, and
    /// writing it acts on the kernel.
    Pseudo,
    /// The content is not a counter.
    Malformed(Malformed),
    /// The result does not fit.
    OutOfRange(OutOfRange),
    /// The lock was not granted in time.
    TimedOut(Duration),
    /// The file shrank under the map (someone truncated it without taking the lock).
    ChangedSize,
}

/// A failed operation on a counter: which counter, and what was found.
#[derive(Debug)]
pub struct Error {
    name: std::ffi::OsString,
    problem: Problem,
}

impl Error {
    fn new(source: &Source<'_>, problem: Problem) -> Error {
        Error {
            name: source.name(),
            problem,
        }
    }

    /// The counter's name, as the user gave it.
    pub fn name(&self) -> &std::ffi::OsStr {
        &self.name
    }

    /// What went wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Io(op, e) => {
                let what = describe(e);
                match op {
                    FileOp::Open | FileOp::Remove => f.write_str(&what),
                    FileOp::OpenWrite => write!(f, "cannot open for update: {what}"),
                    FileOp::Create => write!(f, "cannot create: {what}"),
                    FileOp::Lock => write!(f, "cannot lock: {what}"),
                    FileOp::Stat => write!(f, "cannot stat: {what}"),
                    FileOp::Map => write!(f, "cannot map: {what}"),
                    FileOp::Write => write!(f, "write error: {what}"),
                    FileOp::Sync => write!(f, "cannot sync: {what}"),
                    _ => f.write_str(&what),
                }
            }
            Problem::IsDirectory => f.write_str("Is a directory"),
            Problem::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            Problem::Pseudo => {
                f.write_str("a file of a pseudo filesystem (/proc, /sys, cgroup), not a counter")
            }
            Problem::Malformed(m) => m.fmt(f),
            Problem::OutOfRange(r) => r.fmt(f),
            Problem::TimedOut(t) => write!(
                f,
                "timed out after {} waiting for the lock (another process holds it)",
                seconds(*t)
            ),
            Problem::ChangedSize => f.write_str("file changed size while being updated"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name.to_string_lossy(), self.problem)
    }
}

impl std::error::Error for Error {}

/// `2s`, `0.5s`, `0.001s`.
fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}s")
}

/// The map a counter is read (and written) through.
#[derive(Debug)]
enum Map {
    Write(MappedRangeMut),
    Read(MappedRange),
}

impl Map {
    fn bytes(&self) -> &[u8] {
        match self {
            Map::Write(m) => m.bytes(),
            Map::Read(m) => m.bytes(),
        }
    }

    fn faulted(&self) -> bool {
        match self {
            Map::Write(m) => m.faulted(),
            Map::Read(m) => m.faulted(),
        }
    }
}

/// A counter's map kept open after the operation, with no lock held: reading it shows what other
/// processes have stored since. When the file was empty (nothing could be mapped), reading opens it
/// again instead.
#[derive(Debug)]
pub struct View {
    map: Option<(Map, u64)>,
}

impl View {
    /// The counter as the map shows it now. Takes no lock: this is a look, as a `pause()`d process
    /// would have, not a synchronised read.
    pub fn read(&self, source: &Source<'_>) -> Result<Counter, Error> {
        let Some((map, len)) = &self.map else {
            let request = Request {
                op: Op::Get,
                mode: MapMode::Shared,
                width: DEFAULT_WIDTH,
                timeout: None,
                sync: false,
                keep: false,
            };
            return apply(source, &request).map(|o| o.current);
        };
        let parsed = parse(map.bytes(), *len);
        if map.faulted() {
            return Err(Error::new(source, Problem::ChangedSize));
        }
        parsed.map_err(|m| Error::new(source, Problem::Malformed(m)))
    }
}

/// The type of a file that is not a regular file, for the error message; `None` for a regular file.
fn irregular(mode: u32) -> Option<Problem> {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => None,
        FileType::Directory => Some(Problem::IsDirectory),
        FileType::Fifo => Some(Problem::NotRegular("a FIFO")),
        FileType::Socket => Some(Problem::NotRegular("a socket")),
        FileType::CharacterDevice => Some(Problem::NotRegular("a character device")),
        FileType::BlockDevice => Some(Problem::NotRegular("a block device")),
        _ => Some(Problem::NotRegular("an unknown file type")),
    }
}

fn opened(source: &Source<'_>, request: &Request) -> Result<(File, bool), Error> {
    let writes = request.op.writes() && request.mode == MapMode::Shared;
    let base = OFlags::NONBLOCK;
    if !writes {
        return source
            .open(base | OFlags::RDONLY)
            .map(|f| (f, false))
            .map_err(|e| Error::new(source, io_problem(source, FileOp::Open, e)));
    }
    match source.open(base | OFlags::RDWR) {
        Ok(file) => return Ok((file, false)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => {
            return Err(Error::new(source, io_problem(source, FileOp::OpenWrite, e)));
        }
    }
    // Missing: refuse before creating anything when the first update could not be stored anyway.
    let fresh = Counter::new(0, request.width).expect("width checked by the caller");
    request
        .op
        .apply(fresh)
        .map_err(|r| Error::new(source, Problem::OutOfRange(r)))?;
    let file = source
        .open(base | OFlags::RDWR | OFlags::CREATE)
        .map_err(|e| Error::new(source, io_problem(source, FileOp::Create, e)))?;
    Ok((file, true))
}

fn io_problem(source: &Source<'_>, op: FileOp, e: io::Error) -> Problem {
    match e.raw_os_error() {
        Some(libc::EISDIR) => Problem::IsDirectory,
        Some(libc::ELOOP) if matches!(source, Source::Shm(_)) => {
            Problem::NotRegular("a symbolic link, refused as shm_open does")
        }
        _ => Problem::Io(op, e),
    }
}

/// Performs `request` on the counter at `source`: opens (creating it when an update finds it missing),
/// locks, validates, computes, writes through the shared map (unless private or a read), optionally
/// syncs, and unlocks. On any error nothing has been written.
pub fn apply(source: &Source<'_>, request: &Request) -> Result<Outcome, Error> {
    let fail = |problem| Error::new(source, problem);
    let writes = request.op.writes() && request.mode == MapMode::Shared;
    let (file, mut created) = opened(source, request)?;
    let stat = rustix::fs::fstat(&file).map_err(|e| fail(Problem::Io(FileOp::Stat, e.into())))?;
    if let Some(problem) = irregular(stat.st_mode) {
        return Err(fail(problem));
    }
    if crate::input::on_pseudo_filesystem(&file) {
        return Err(fail(Problem::Pseudo));
    }
    let kind = if writes {
        LockKind::Exclusive
    } else {
        LockKind::Shared
    };
    let locked = Locked::take(&file, kind, request.timeout).map_err(|e| match e {
        LockError::TimedOut => fail(Problem::TimedOut(request.timeout.unwrap_or_default())),
        LockError::Io(e) => fail(Problem::Io(FileOp::Lock, e)),
    })?;
    // Under the lock, the size is what the last updater left: look again.
    let mut len = rustix::fs::fstat(&file)
        .map_err(|e| fail(Problem::Io(FileOp::Stat, e.into())))?
        .st_size as u64;
    if len == 0 {
        let fresh = Counter::new(0, request.width).expect("width checked by the caller");
        let next = request
            .op
            .apply(fresh)
            .map_err(|r| fail(Problem::OutOfRange(r)))?;
        if !writes {
            return Ok(Outcome {
                previous: fresh,
                current: next,
                created: false,
                view: request.keep.then_some(View { map: None }),
            });
        }
        initialise(&file, fresh).map_err(|e| fail(Problem::Io(FileOp::Write, e)))?;
        created = true;
        len = fresh.width() as u64 + 1;
    }
    // A counter is at most MAX_LEN bytes; the first page of a longer file is plenty to say what is wrong.
    let map_len = len.min(DIAGNOSE_LEN as u64) as usize;
    let mut map = if writes {
        Map::Write(
            MappedRangeMut::new(&file, 0, map_len)
                .map_err(|e| fail(Problem::Io(FileOp::Map, e)))?,
        )
    } else {
        Map::Read(
            MappedRange::new(&file, 0, map_len, request.mode, false)
                .map_err(|e| fail(Problem::Io(FileOp::Map, e)))?,
        )
    };
    let parsed = parse(map.bytes(), len);
    if map.faulted() {
        return Err(fail(Problem::ChangedSize));
    }
    let previous = parsed.map_err(|m| fail(Problem::Malformed(m)))?;
    let current = request
        .op
        .apply(previous)
        .map_err(|r| fail(Problem::OutOfRange(r)))?;
    if let Map::Write(m) = &mut map
        && current != previous
    {
        let encoded = current.encode();
        m.bytes_mut()[..current.width()].copy_from_slice(encoded.digits());
        if m.faulted() {
            return Err(fail(Problem::ChangedSize));
        }
    }
    if let Map::Write(m) = &map
        && request.sync
    {
        m.flush().map_err(|e| fail(Problem::Io(FileOp::Sync, e)))?;
    }
    // Unlock explicitly: a map holds a reference to the open file description, so closing the
    // descriptor alone would keep the OFD lock for as long as the map lives.
    drop(locked);
    Ok(Outcome {
        previous,
        current,
        created,
        view: request.keep.then(|| View {
            map: Some((map, len)),
        }),
    })
}

/// An OFD lock on a file, released when dropped (on every path out of [`apply`], errors included).
struct Locked<'a> {
    file: &'a File,
}

impl<'a> Locked<'a> {
    fn take(file: &'a File, kind: LockKind, timeout: Option<Duration>) -> Result<Self, LockError> {
        lock::lock(file.as_fd(), kind, timeout)?;
        Ok(Locked { file })
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Failure leaves the lock to be released when the file and its maps are closed, at the latest
        // when the process exits.
        let _ = lock::unlock(self.file.as_fd());
    }
}

/// Writes the stored form of `counter` into an empty file with pwrite, so that a full disk is an error
/// (ENOSPC) rather than a fault in a map. A short or failed write is undone: the file is empty again.
fn initialise(file: &File, counter: Counter) -> io::Result<()> {
    let encoded = counter.encode();
    let bytes = encoded.as_bytes();
    let result = match rustix::io::pwrite(file, bytes, 0) {
        Ok(n) if n == bytes.len() => return Ok(()),
        Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
        Err(e) => Err(e.into()),
    };
    let _ = rustix::fs::ftruncate(file, 0);
    result
}

/// Removes the shared-memory object `name`.
pub fn unlink_shm(name: &str) -> Result<(), Error> {
    rustix::shm::unlink(name)
        .map_err(|e| Error::new(&Source::Shm(name), Problem::Io(FileOp::Remove, e.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_briefly() {
        assert_eq!(seconds(Duration::from_secs(2)), "2s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5s");
        assert_eq!(seconds(Duration::from_millis(1)), "0.001s");
    }
}
