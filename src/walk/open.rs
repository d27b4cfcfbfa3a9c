//! Walking with every regular file opened relative to its directory (openat, O_NOFOLLOW unless
//! links are followed) and handed, open, to a visitor. For a tool that opens each file it finds, this
//! saves a stat and a full path lookup per file over [`walk`](super::walk) followed by opens by path:
//! one openat and one fstat per file, in parallel on the rayon pool. The options, the order (the roots
//! in the order given, each tree depth first with names in byte order, which is the order of `walk`),
//! the skips and the errors are those of `walk`.
//!
//! The tree is walked by [`tree`](super::tree) (directories by descriptor, a bounded number held);
//! the files found are opened and visited in batches, in parallel, each through its directory's
//! descriptor. A batch holds at most [`BATCH_DIRS`] directories open, so the walk as a whole holds
//! at most `HELD_DIRS + BATCH_DIRS` directory descriptors and one file per worker.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustix::fs::{FileType, OFlags, Stat};

use super::tree::{DirFd, Event, Flow, descriptor_share, open_entry, walk_tree};
use super::{FileEntry, Filters, SkipReason, WalkOptions, policy, skip_reason};
use crate::error::{Error, Op};

/// Files opened and visited in parallel at once, at most.
pub const BATCH_FILES: usize = 1024;

/// Directories a batch keeps open for its files, at most (fewer under a low `ulimit -n`: an eighth
/// of the limit).
pub const BATCH_DIRS: usize = 32;

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

/// What a walk found.
#[derive(Debug)]
pub struct WalkedOpen<T> {
    /// Files, skips and errors, in order.
    pub items: Vec<Found<T>>,
    /// Directories entered.
    pub dirs: u64,
}

const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// A file to open: `name` in `dir` (or, with no `dir`, a path named on the command line).
struct ToOpen {
    dir: Option<Arc<DirFd>>,
    name: CString,
    path: PathBuf,
    follow: bool,
}

enum Pending<T> {
    Done(Found<T>),
    Open(ToOpen),
}

struct Batch<'a, T, F> {
    filters: &'a Filters,
    visit: &'a F,
    pending: Vec<Pending<T>>,
    files: usize,
    dirs: Vec<Arc<DirFd>>,
    dirs_most: usize,
    out: Vec<Found<T>>,
}

/// Walks `roots` in order, opening each regular file that passes the filters and calling `visit` with
/// it on one of the rayon pool's threads.
pub fn walk_open<T, F>(
    roots: &[PathBuf],
    options: &WalkOptions,
    visit: &F,
) -> Result<WalkedOpen<T>, String>
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    let filters = Filters::new(options)?;
    let mut batch = Batch {
        filters: &filters,
        visit,
        pending: Vec::new(),
        files: 0,
        dirs: Vec::new(),
        dirs_most: descriptor_share(8, 1, BATCH_DIRS),
        out: Vec::new(),
    };
    let mut dirs = 0;
    for root in roots {
        root_item(root, options, &mut batch, &mut dirs);
    }
    batch.flush();
    let mut items = batch.out;
    let mut seen = std::collections::HashSet::new();
    for item in &mut items {
        if let Found::File(f, _) = item {
            f.first_link = seen.insert((f.dev, f.ino));
        }
    }
    Ok(WalkedOpen { items, dirs })
}

fn root_item<T, F>(root: &Path, options: &WalkOptions, batch: &mut Batch<'_, T, F>, dirs: &mut u64)
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    let stat = if options.follow_links {
        rustix::fs::stat(root)
    } else {
        rustix::fs::lstat(root)
    };
    // A root named on the command line is followed even without -L, as du and ls do.
    let stat = match stat {
        Ok(s) if FileType::from_raw_mode(s.st_mode) == FileType::Symlink => rustix::fs::stat(root),
        other => other,
    };
    let kind = match stat {
        Ok(s) => FileType::from_raw_mode(s.st_mode),
        Err(e) => return batch.done(Found::Error(Error::io(Op::Open, root, e.into()))),
    };
    match kind {
        FileType::Directory => walk_root(root, options, batch, dirs),
        FileType::RegularFile => {
            if let Ok(name) = CString::new(root.as_os_str().as_bytes()) {
                batch.open(ToOpen {
                    dir: None,
                    name,
                    path: root.to_path_buf(),
                    follow: true,
                });
            }
        }
        _ if batch.filters.excluded(root) => {}
        other => batch.done(Found::Skipped(root.to_path_buf(), skip_reason(other))),
    }
}

fn walk_root<T, F>(root: &Path, options: &WalkOptions, batch: &mut Batch<'_, T, F>, dirs: &mut u64)
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    walk_tree(root, policy(options), |event| {
        match event {
            Event::Enter { .. } => *dirs += 1,
            Event::Entry(node) => {
                if batch.filters.excluded(node.path) {
                    return Flow::Prune;
                }
                match node.kind {
                    FileType::Directory => {}
                    FileType::RegularFile => batch.open(ToOpen {
                        dir: Some(Arc::clone(node.dir)),
                        name: node.name.to_owned(),
                        path: node.path.to_path_buf(),
                        follow: node.followed,
                    }),
                    other => {
                        batch.done(Found::Skipped(node.path.to_path_buf(), skip_reason(other)))
                    }
                }
            }
            Event::Loop(path) => batch.done(Found::Skipped(path.to_path_buf(), SkipReason::Loop)),
            Event::Error(e) => batch.done(Found::Error(e)),
        }
        Flow::Continue
    });
}

impl<T, F> Batch<'_, T, F>
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    fn done(&mut self, found: Found<T>) {
        self.pending.push(Pending::Done(found));
    }

    fn open(&mut self, file: ToOpen) {
        if let Some(dir) = &file.dir
            && !self.dirs.iter().any(|d| Arc::ptr_eq(d, dir))
        {
            if self.dirs.len() >= self.dirs_most {
                self.flush();
            }
            self.dirs.push(Arc::clone(dir));
        }
        self.pending.push(Pending::Open(file));
        self.files += 1;
        if self.files == BATCH_FILES {
            self.flush();
        }
    }

    /// Opens and visits the pending files, in parallel, and moves everything pending to the output.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let (filters, visit) = (self.filters, self.visit);
        let found: Vec<Option<Found<T>>> = pending
            .into_par_iter()
            .map(|p| match p {
                Pending::Done(found) => Some(found),
                Pending::Open(f) => {
                    let dir = f.dir.as_ref().map_or(rustix::fs::CWD, |d| d.fd());
                    file(filters, visit, dir, &f.name, f.path, f.follow)
                }
            })
            .collect();
        self.out.extend(found.into_iter().flatten());
        self.files = 0;
        self.dirs.clear();
    }
}

/// Opens a regular file `name` in `dir` and visits it, if it passes the filters.
fn file<T, F>(
    filters: &Filters,
    visit: &F,
    dir: BorrowedFd<'_>,
    name: &CStr,
    path: PathBuf,
    follow: bool,
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
    let fd: OwnedFd = match open_entry(dir, name, FILE_FLAGS, follow) {
        Ok(fd) => fd,
        // It became a symbolic link since the directory was read.
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => {
            return Some(Found::Skipped(path, SkipReason::Symlink));
        }
        Err(e) => return Some(Found::Error(Error::io(Op::Open, &path, e))),
    };
    let stat = match rustix::fs::fstat(&fd) {
        Ok(s) => s,
        Err(e) => return Some(Found::Error(Error::io(Op::Open, &path, io::Error::from(e)))),
    };
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind == FileType::Directory {
        return None;
    }
    if kind != FileType::RegularFile {
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
            first_link: true,
        },
        value,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Item, walk};
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
        let opened = walk_open(roots, options, &|o: Opened<'_>| o.stat.st_size).unwrap();
        let b = opened
            .items
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
        (a, b, plain.dirs, opened.dirs)
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
