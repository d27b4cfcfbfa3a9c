//! Walking with every regular file opened relative to its directory (openat, O_NOFOLLOW unless
//! links are followed) and handed, open, to a visitor. For a tool that opens each file it finds, this
//! saves a stat and a full path lookup per file over [`walk`](super::walk) followed by opens by path:
//! one openat and one fstat per file, in parallel on the rayon pool. The options, the order (the roots
//! in the order given, each tree depth first with names in byte order, which is the order of `walk`),
//! the skips and the errors are those of `walk`.
//!
//! The tree is walked by [`tree`](super::tree) (directories by descriptor, a bounded number held);
//! the files found are opened and visited in batches, in parallel, each through its directory's
//! descriptor. The directories are read on a thread of their own while the pool opens the files of
//! the batches before, up to [`IN_FLIGHT`] batches behind. A batch holds at most [`BATCH_DIRS`]
//! directories open, so the walk as a whole holds at most `HELD_DIRS + (IN_FLIGHT + 2) *
//! BATCH_DIRS` directory descriptors and one file per worker.
//!
//! What was found goes to a sink, in order, a batch at a time: a walk of any size holds a few batches
//! of results, plus the [`Seen`] set, which keeps (device, inode) only for files with more than one
//! link, files named as roots, and directories.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use rayon::prelude::*;
use rustix::fs::{FileType, OFlags, Stat};

use super::tree::{DirFd, Event, Flow, descriptor_share, open_entry, walk_tree};
use super::{FileEntry, Filters, Seen, SkipReason, WalkOptions, policy, skip_reason};
use crate::error::{Error, Op};

/// Files opened and visited in parallel at once, at most.
pub const BATCH_FILES: usize = 1024;

/// Directories a batch keeps open for its files, at most (fewer under a low `ulimit -n`: the batches
/// that may be open at once share an eighth of the limit). Directories hold 7 files each on average
/// in /usr: a batch of 1024 files needs more than a hundred of them.
pub const BATCH_DIRS: usize = 160;

/// A regular file found and opened, as the visitor sees it.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    /// The path, starting with the root it was found under.
    pub path: &'a Path,
    /// The file, open read-only with O_NONBLOCK (nothing can block on it).
    pub file: &'a File,
    /// fstat of the open file.
    pub stat: &'a Stat,
}

/// One thing found.
#[derive(Debug)]
pub enum Found<T> {
    /// A regular file, with what the visitor made of it.
    File(FileEntry, T),
    /// Something passed over, with the reason.
    Skipped(PathBuf, SkipReason),
    /// A path that could not be read.
    Error(Error),
}

const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// A file to open: the name at `name_at` in `path`, in `dir` (or, with no `dir`, `path` itself, a
/// path named on the command line).
struct ToOpen {
    dir: Option<Arc<DirFd>>,
    path: PathBuf,
    name_at: usize,
    follow: bool,
    /// Under a directory walked before (roots that overlap, or a link followed into the tree): not
    /// the first path to the file.
    again: bool,
}

enum Pending<T> {
    Done(Found<T>),
    Open(ToOpen),
}

/// Batches the walking thread may have made that the measuring side has not taken yet.
pub const IN_FLIGHT: usize = 2;

/// The walking side: it reads directories and sends batches of files to open, while the batches
/// before are opened and visited on the rayon pool.
struct Walker<'a, T> {
    filters: &'a Filters,
    pending: Vec<Pending<T>>,
    files: usize,
    dirs: Vec<Arc<DirFd>>,
    dirs_most: usize,
    /// The directories entered, by (device, inode) ([`Seen`]'s, while the walk runs).
    entered: &'a mut HashSet<(u64, u64)>,
    out: SyncSender<Vec<Pending<T>>>,
    /// Set by the measuring side when its sink asked to stop.
    stop: &'a AtomicBool,
    /// Nothing more is walked or sent.
    stopped: bool,
}

/// A root, as the walk decides what to do with it.
enum Root {
    /// A directory, walked.
    Dir,
    /// A regular file, opened.
    File,
    /// Something else, passed over.
    Other(FileType),
    /// It could not be stated.
    Error(io::Error),
}

/// What `root` is: followed if it is a symbolic link, as a name given on a command line is even
/// without -L (as du and ls do). Also its (device, inode).
fn classify_root(root: &Path, options: &WalkOptions) -> (Root, Option<(u64, u64)>) {
    let stat = if options.follow_links {
        rustix::fs::stat(root)
    } else {
        rustix::fs::lstat(root)
    };
    let stat = match stat {
        Ok(s) if FileType::from_raw_mode(s.st_mode) == FileType::Symlink => rustix::fs::stat(root),
        other => other,
    };
    match stat {
        Ok(s) => {
            let id = Some((s.st_dev, s.st_ino));
            match FileType::from_raw_mode(s.st_mode) {
                FileType::Directory => (Root::Dir, id),
                FileType::RegularFile => (Root::File, id),
                other => (Root::Other(other), id),
            }
        }
        Err(e) => (Root::Error(e.into()), None),
    }
}

/// Walks `roots` in order, opening each regular file that passes the filters and calling `visit` with
/// it on one of the rayon pool's threads, then handing what was found to `sink`, in order, a batch at
/// a time, until it breaks. `seen` marks later paths to a file already found
/// ([`FileEntry::first_link`]); pass the same set to several walks of one run. Returns the number of
/// directories entered.
///
/// The directories are read on a thread of their own, which runs up to [`IN_FLIGHT`] batches ahead
/// of the measurement: reading the next directories overlaps opening the files of the last ones.
pub fn walk_open<T, F>(
    roots: &[PathBuf],
    options: &WalkOptions,
    visit: &F,
    seen: &mut Seen,
    mut sink: impl FnMut(Found<T>) -> ControlFlow<()>,
) -> Result<u64, String>
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    let filters = Filters::new(options)?;
    // With several roots, a file root may also lie in a directory walked: all roots are stated
    // first, so such a file is followed through the walk too, whichever comes first.
    let classified: Vec<(Root, Option<(u64, u64)>)> = if roots.len() > 1 {
        let all: Vec<_> = roots.iter().map(|r| classify_root(r, options)).collect();
        for (kind, id) in &all {
            if let (Root::File, Some(id)) = (kind, id) {
                seen.name(*id);
            }
        }
        all
    } else {
        Vec::new()
    };
    let mut entered = std::mem::take(&mut seen.dirs);
    let stop = AtomicBool::new(false);
    let (out, batches) = sync_channel::<Vec<Pending<T>>>(IN_FLIGHT);
    let filters = &filters;
    let dirs = std::thread::scope(|scope| {
        let walker = scope.spawn(|| {
            let mut walker = Walker {
                filters,
                pending: Vec::new(),
                files: 0,
                dirs: Vec::new(),
                // A batch being made, those in flight and the one being measured hold directories.
                dirs_most: descriptor_share(8 * (IN_FLIGHT + 2), 1, BATCH_DIRS),
                entered: &mut entered,
                out,
                stop: &stop,
                stopped: false,
            };
            let mut dirs = 0;
            let mut classified = classified.into_iter();
            for root in roots {
                if walker.stopped {
                    break;
                }
                let kind = match classified.next() {
                    Some((kind, _)) => kind,
                    None => classify_root(root, options).0,
                };
                walker.root(root, kind, options, &mut dirs);
            }
            walker.send();
            dirs
        });
        for batch in batches.iter() {
            if !pass_on(filters, visit, batch, seen, &mut sink) {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        // The walker's next send fails, if it is still walking: it stops.
        drop(batches);
        walker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    seen.dirs = entered;
    Ok(dirs)
}

/// Opens and visits the files of `batch`, in parallel, and hands everything in it to `sink` in
/// order; false when the sink asked to stop.
fn pass_on<T, F>(
    filters: &Filters,
    visit: &F,
    batch: Vec<Pending<T>>,
    seen: &mut Seen,
    sink: &mut impl FnMut(Found<T>) -> ControlFlow<()>,
) -> bool
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    // Each result with whether it is a root (`named`) or under a directory walked before.
    let found: Vec<(Option<Found<T>>, bool, bool)> = batch
        .into_par_iter()
        .map(|p| match p {
            Pending::Done(found) => (Some(found), false, false),
            Pending::Open(f) => {
                let dir = f.dir.as_ref().map_or(rustix::fs::CWD, |d| d.fd());
                let named = f.dir.is_none();
                let found = file(filters, visit, dir, f.path, f.name_at, f.follow, named);
                (found, named, f.again)
            }
        })
        .collect();
    for (found, named, again) in found {
        let Some(mut found) = found else { continue };
        if let Found::File(entry, _) = &mut found {
            let first = seen.first((entry.dev, entry.ino), entry.nlink, named);
            entry.first_link = first && !again;
        }
        if sink(found).is_break() {
            return false;
        }
    }
    true
}

/// A path named on the command line, to open as it is.
fn named(root: &Path) -> ToOpen {
    ToOpen {
        dir: None,
        path: root.to_path_buf(),
        name_at: 0,
        follow: true,
        again: false,
    }
}

impl<T> Walker<'_, T> {
    fn root(&mut self, root: &Path, kind: Root, options: &WalkOptions, dirs: &mut u64) {
        match kind {
            Root::Error(e) => self.done(Found::Error(Error::io(Op::Open, root, e))),
            Root::Dir => self.walk(root, options, dirs),
            Root::File => self.open(named(root)),
            Root::Other(_) if self.filters.excluded(root) => {}
            // A block device named is measured as a file: its own page cache. Walks pass over devices.
            Root::Other(FileType::BlockDevice) => self.open(named(root)),
            Root::Other(other) => self.done(Found::Skipped(root.to_path_buf(), skip_reason(other))),
        }
    }

    fn walk(&mut self, root: &Path, options: &WalkOptions, dirs: &mut u64) {
        // The depth of a directory entered before, while the walk is inside it.
        let mut again: Option<usize> = None;
        walk_tree(root, policy(options), |event| {
            match event {
                Event::Enter { stat, depth, .. } => {
                    *dirs += 1;
                    if again.is_some_and(|d| depth <= d) {
                        again = None;
                    }
                    if !self.entered.insert((stat.st_dev, stat.st_ino)) && again.is_none() {
                        again = Some(depth);
                    }
                }
                Event::Entry(_) if self.stopped || self.stop.load(Ordering::Relaxed) => {
                    self.stopped = true;
                    return Flow::Prune;
                }
                Event::Entry(node) => {
                    if again.is_some_and(|d| node.depth <= d) {
                        again = None;
                    }
                    if self.filters.excluded(node.path) {
                        return Flow::Prune;
                    }
                    match node.kind {
                        FileType::Directory => {}
                        FileType::RegularFile => {
                            let path = node.path.to_path_buf();
                            let name_at = path.as_os_str().len() - node.name.to_bytes().len();
                            self.open(ToOpen {
                                dir: Some(Arc::clone(node.dir)),
                                path,
                                name_at,
                                follow: node.followed,
                                again: again.is_some(),
                            });
                        }
                        other => {
                            self.done(Found::Skipped(node.path.to_path_buf(), skip_reason(other)))
                        }
                    }
                }
                Event::Loop(path) => {
                    self.done(Found::Skipped(path.to_path_buf(), SkipReason::Loop))
                }
                Event::Error(e) => self.done(Found::Error(e)),
            }
            Flow::Continue
        });
    }

    fn done(&mut self, found: Found<T>) {
        self.pending.push(Pending::Done(found));
    }

    fn open(&mut self, file: ToOpen) {
        // The files of a directory mostly come one after another: look from the last one back.
        if let Some(dir) = &file.dir
            && !self.dirs.iter().rev().any(|d| Arc::ptr_eq(d, dir))
        {
            if self.dirs.len() >= self.dirs_most {
                self.send();
            }
            self.dirs.push(Arc::clone(dir));
        }
        self.pending.push(Pending::Open(file));
        self.files += 1;
        if self.files == BATCH_FILES {
            self.send();
        }
    }

    /// Sends what is pending to be measured and passed on; stops when the measuring side is gone.
    fn send(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.files = 0;
        self.dirs.clear();
        if self.stopped || pending.is_empty() {
            return;
        }
        if self.out.send(pending).is_err() {
            self.stopped = true;
        }
    }
}

/// Opens a regular file `name` in `dir` and visits it, if it passes the filters; a block device too
/// when `named` (a root), with its size in `st_size`.
fn file<T, F>(
    filters: &Filters,
    visit: &F,
    dir: BorrowedFd<'_>,
    path: PathBuf,
    name_at: usize,
    follow: bool,
    named: bool,
) -> Option<Found<T>>
where
    F: Fn(Opened<'_>) -> T + Sync,
{
    if filters.excluded(&path)
        || filters
            .include
            .as_ref()
            .is_some_and(|set| !super::matches(set, &path))
    {
        return None;
    }
    let name = &path.as_os_str().as_bytes()[name_at..];
    let fd: OwnedFd = match open_entry(dir, name, FILE_FLAGS, follow) {
        Ok(fd) => fd,
        // It became a symbolic link since the directory was read.
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => {
            return Some(Found::Skipped(path, SkipReason::Symlink));
        }
        Err(e) => return Some(Found::Error(Error::io(Op::Open, &path, e))),
    };
    let mut stat = match rustix::fs::fstat(&fd) {
        Ok(s) => s,
        Err(e) => return Some(Found::Error(Error::io(Op::Open, &path, io::Error::from(e)))),
    };
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind == FileType::Directory {
        return None;
    }
    if kind == FileType::BlockDevice && named {
        // Its size is not st_size: the end of the device is.
        match rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0)) {
            Ok(end) => stat.st_size = end as i64,
            Err(e) => return Some(Found::Error(Error::io(Op::Open, &path, io::Error::from(e)))),
        }
    } else if kind != FileType::RegularFile {
        return Some(Found::Skipped(path, skip_reason(kind)));
    }
    let size = stat.st_size as u64;
    if filters.min_size.is_some_and(|min| size < min)
        || filters.max_size.is_some_and(|max| size > max)
    {
        return None;
    }
    let file = File::from(fd);
    let value = visit(Opened {
        path: &path,
        file: &file,
        stat: &stat,
    });
    Some(Found::File(
        FileEntry {
            path,
            dev: stat.st_dev,
            ino: stat.st_ino,
            size,
            nlink: stat.st_nlink,
            first_link: true,
        },
        value,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Item, Seen, walk};
    use super::*;
    use std::os::unix::fs::symlink;

    /// The same walk through `walk` and `walk_open`, as comparable lines.
    fn both(roots: &[PathBuf], options: &WalkOptions) -> (Vec<String>, Vec<String>, u64, u64) {
        let plain = walk(roots, options).unwrap();
        let a = plain
            .items
            .iter()
            .map(|i| match i {
                Item::File(f) => format!("file {} {}", f.path.display(), f.first_link),
                Item::Skipped(p, r) => format!("skip {} {r:?}", p.display()),
                Item::Error(e) => format!("error {e}"),
            })
            .collect();
        let mut items = Vec::new();
        let dirs = walk_open(
            roots,
            options,
            &|o: Opened<'_>| o.stat.st_size,
            &mut Seen::new(),
            |found| {
                items.push(found);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        let b = items
            .iter()
            .map(|i| match i {
                Found::File(f, size) => {
                    assert_eq!(f.size, *size as u64);
                    format!("file {} {}", f.path.display(), f.first_link)
                }
                Found::Skipped(p, r) => format!("skip {} {r:?}", p.display()),
                Found::Error(e) => format!("error {e}"),
            })
            .collect();
        (a, b, plain.dirs, dirs)
    }

    #[test]
    fn agrees_with_walk() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b/c")).unwrap();
        std::fs::create_dir_all(d.join("a/b.d")).unwrap();
        for (name, len) in [
            ("a/z.txt", 1),
            ("a/b/y.log", 2),
            ("a/b/c/x", 3),
            ("a/b.d/w", 4),
            ("a/b.txt", 5),
        ] {
            std::fs::write(d.join(name), vec![b'x'; len]).unwrap();
        }
        std::fs::hard_link(d.join("a/z.txt"), d.join("a/b/hard.txt")).unwrap();
        symlink(d.join("a/z.txt"), d.join("a/sym")).unwrap();
        symlink(d.join("a"), d.join("a/b/c/loop")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("a/fifo"),
            FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let roots = [
            d.join("a"),
            d.join("a/z.txt"),
            d.join("missing"),
            d.join("a/fifo"),
        ];
        for options in [
            WalkOptions::default(),
            WalkOptions {
                follow_links: true,
                ..WalkOptions::default()
            },
            WalkOptions {
                include: vec!["*.txt".into()],
                exclude: vec!["c".into()],
                min_size: Some(2),
                ..WalkOptions::default()
            },
            WalkOptions {
                max_size: Some(3),
                one_file_system: true,
                ..WalkOptions::default()
            },
        ] {
            let (a, b, dirs_a, dirs_b) = both(&roots, &options);
            assert_eq!(a, b, "{options:?}");
            assert_eq!(dirs_a, dirs_b, "{options:?}");
        }
    }
}
