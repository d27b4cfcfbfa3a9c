//! Keeping files locked or loaded while they change (`mmadvise lock --follow`, `touch --follow`): the
//! roots are walked, each file found is locked (or loaded), and inotify then reports what changes. A
//! file replaced by a rename is let go and its successor locked; a file that grows has its new tail
//! locked; a new file under a directory root is found by walking that root again (with the same
//! filters); a deleted file is let go. When the kernel's event queue overflows, or on request (SIGHUP in
//! the cli), every root is walked again. Nothing here prints: each change is an [`Event`] handed to the
//! caller.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, ReadFlags, WatchFlags};

use crate::error::{Error, Op};
use crate::input::{Access, Input, StreamKind};
use crate::walk::{Item, WalkOptions, walk};

use super::Subject;
use super::load::{Job, LoadOptions, load};
use super::lock::{Budget, Locked, cost, lock};
use super::readahead::cap_for_device;
use crate::range::{Range, total};

/// What is kept of each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Locked in memory (mlock), held until let go.
    Lock,
    /// Loaded into the page cache.
    Touch,
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Lock or load.
    pub policy: Policy,
    /// The part of each file covered.
    pub range: Range,
    /// How to load.
    pub load: LoadOptions,
    /// Walk filters and policy.
    pub walk: WalkOptions,
}

/// How a file came to be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Found (at the start, or new since).
    Added,
    /// Another file now has its name (a rename over it, or deleted and created again).
    Replaced,
    /// It grew from this size: its new tail was acted on.
    Grew(u64),
    /// It shrank from this size: acted on again from the start.
    Shrank(u64),
}

/// Why a file was let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Its name no longer leads to a file.
    Deleted,
    /// Its name now leads to something the walk passes over (another type, or outside the filters).
    Filtered,
}

/// Why every root was walked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescan {
    /// The kernel's event queue overflowed: events were lost.
    Overflow,
    /// The caller asked (SIGHUP).
    Requested,
}

/// Why a file could not be acted on.
#[derive(Debug)]
pub enum Failure {
    /// Locking it would pass RLIMIT_MEMLOCK: `need` bytes, `available` still free under `budget`.
    OverLimit {
        /// Bytes the lock would count.
        need: u64,
        /// The limits.
        budget: Budget,
        /// Bytes still free.
        available: u64,
    },
    /// Any other error.
    Error(Error),
}

/// One thing that happened.
#[derive(Debug)]
pub enum Event {
    /// A file was locked or loaded (in part, for a growth).
    Acted {
        /// Its path.
        path: PathBuf,
        /// Why.
        change: Change,
        /// Its size now.
        size: u64,
        /// The range acted on.
        span: Range,
        /// Bytes locked (lock) or read (touch) in that range.
        bytes: u64,
    },
    /// A file was let go (its locks released).
    Released {
        /// Its path.
        path: PathBuf,
        /// Why.
        why: Gone,
        /// Bytes it had locked (0 for touch).
        bytes: u64,
    },
    /// A path passed over (a FIFO, a device...), reported once.
    Skipped {
        /// Its path.
        path: PathBuf,
        /// What it is.
        kind: Option<StreamKind>,
        /// The walk's reason, when the walk passed it over.
        reason: Option<&'static str>,
    },
    /// A file that failed; tried again only once it changes, or on a requested rescan.
    Failed {
        /// Its path.
        path: PathBuf,
        /// Why.
        failure: Failure,
    },
    /// Every root is walked again.
    Rescan(Rescan),
    /// The state after the first walk or a rescan: files held and directories watched.
    Watching {
        /// Files held.
        files: usize,
        /// Directories watched.
        dirs: usize,
        /// Bytes locked in all (0 for touch).
        locked_bytes: u64,
    },
}

#[derive(Debug)]
struct Held {
    root: usize,
    id: (u64, u64),
    size: u64,
    end: u64,
    /// The locked maps: the first of the file as found, then one per growth, each with its start
    /// offset and the bytes it locked.
    locks: Vec<(Locked, u64, u64)>,
    locked: u64,
}

#[derive(Debug)]
struct Root {
    path: PathBuf,
    /// A directory root (walked), or a file root (its parent directory watched for its name).
    dir: bool,
}

/// The follower: its roots, its inotify instance, and what it holds.
#[derive(Debug)]
pub struct Follower {
    options: FollowOptions,
    roots: Vec<Root>,
    inotify: OwnedFd,
    /// Watch descriptor to the directory watched and the roots it serves.
    watches: HashMap<i32, (PathBuf, Vec<usize>)>,
    held: HashMap<PathBuf, Held>,
    /// Files that failed, with the (device, inode, size) they failed at: not retried until it changes.
    failed: HashMap<PathBuf, (u64, u64, u64)>,
    skipped: HashSet<PathBuf>,
    caps: HashMap<u64, u64>,
}

const DIR_EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MODIFY)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// How long a burst of events may settle before it is acted on.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Maps held per file before a growing file's maps are merged into one.
const MAX_MAPS: usize = 16;

type Sink<'a> = dyn FnMut(Event) -> std::io::Result<()> + 'a;

impl Follower {
    /// A follower of `roots` (files, and directories to walk), with its inotify instance. Nothing is
    /// acted on before [`Follower::scan`].
    pub fn new(roots: &[PathBuf], options: FollowOptions) -> std::io::Result<Follower> {
        let inotify =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        let roots = roots
            .iter()
            .map(|p| Root {
                path: p.clone(),
                dir: std::fs::metadata(p).is_ok_and(|m| m.is_dir()),
            })
            .collect();
        Ok(Follower {
            options,
            roots,
            inotify,
            watches: HashMap::new(),
            held: HashMap::new(),
            failed: HashMap::new(),
            skipped: HashSet::new(),
            caps: HashMap::new(),
        })
    }

    /// Bytes locked in all.
    pub fn locked_bytes(&self) -> u64 {
        self.held.values().map(|h| h.locked).sum()
    }

    /// Files held.
    pub fn files(&self) -> usize {
        self.held.len()
    }

    /// Watches every root and walks them all, acting on each file found (the first walk, or a rescan:
    /// files held that are no longer found are let go), then reports [`Event::Watching`].
    pub fn scan(&mut self, out: &mut Sink<'_>) -> std::io::Result<()> {
        for i in 0..self.roots.len() {
            self.watch_root(i);
            self.rescan_root(i, out)?;
        }
        out(Event::Watching {
            files: self.held.len(),
            dirs: self.watches.len(),
            locked_bytes: self.locked_bytes(),
        })
    }

    /// A full rescan for `why` (failures are tried again).
    pub fn rescan(&mut self, why: Rescan, out: &mut Sink<'_>) -> std::io::Result<()> {
        out(Event::Rescan(why))?;
        self.failed.clear();
        self.scan(out)
    }

    /// Lets every file go (unlocks).
    pub fn release_all(&mut self) {
        self.held.clear();
    }

    /// The inotify descriptor, to wait on.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    fn add_watch(&mut self, dir: &Path, root: usize) {
        let Ok(wd) = inotify::add_watch(&self.inotify, dir, DIR_EVENTS) else {
            return;
        };
        let entry = self
            .watches
            .entry(wd)
            .or_insert_with(|| (dir.to_path_buf(), Vec::new()));
        if !entry.1.contains(&root) {
            entry.1.push(root);
        }
    }

    /// Watches a root: its directory tree, or a file's parent directory.
    fn watch_root(&mut self, i: usize) {
        let root = &self.roots[i];
        if !root.dir {
            let parent = match root.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            self.add_watch(&parent, i);
            return;
        }
        let path = root.path.clone();
        self.watch_tree(&path, i);
    }

    /// Watches `dir` and the directories below it (symbolic links not followed unless -L; other
    /// filesystems left out with -x).
    fn watch_tree(&mut self, dir: &Path, root: usize) {
        let dev = std::fs::metadata(dir).map(|m| m.dev()).ok();
        // Directories by (device, inode): with -L, a link loop is entered once.
        let mut seen = HashSet::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            self.add_watch(&d, root);
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let meta = if self.options.walk.follow_links {
                    std::fs::metadata(&path)
                } else {
                    std::fs::symlink_metadata(&path)
                };
                let Ok(meta) = meta else { continue };
                if meta.is_dir()
                    && !(self.options.walk.one_file_system && Some(meta.dev()) != dev)
                    && seen.insert((meta.dev(), meta.ino()))
                {
                    stack.push(path);
                }
            }
        }
    }

    /// Walks root `i` again: acts on what is new or changed, lets go of what is gone.
    fn rescan_root(&mut self, i: usize, out: &mut Sink<'_>) -> std::io::Result<()> {
        let root = self.roots[i].path.clone();
        let mut options = self.options.walk.clone();
        options.threads = 1;
        let walked = walk(std::slice::from_ref(&root), &options)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut found = HashSet::new();
        for item in walked.items {
            match item {
                Item::File(f) => {
                    found.insert(f.path.clone());
                    self.reconcile(&f.path, i, Some((f.dev, f.ino, f.size)), out)?;
                }
                Item::Skipped(path, why) => {
                    if self.skipped.insert(path.clone()) {
                        out(Event::Skipped {
                            path,
                            kind: None,
                            reason: Some(why.describe()),
                        })?;
                    }
                }
                Item::Error(e) => {
                    let path = e.path().to_path_buf();
                    if self.failed.insert(path.clone(), (0, 0, 0)).is_none() {
                        out(Event::Failed {
                            path,
                            failure: Failure::Error(e),
                        })?;
                    }
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .held
            .iter()
            .filter(|(p, h)| h.root == i && !found.contains(*p))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            let why = if std::fs::symlink_metadata(&path).is_ok() {
                Gone::Filtered
            } else {
                Gone::Deleted
            };
            self.release(&path, why, out)?;
        }
        Ok(())
    }

    fn release(&mut self, path: &Path, why: Gone, out: &mut Sink<'_>) -> std::io::Result<()> {
        if let Some(h) = self.held.remove(path) {
            let bytes = h.locked;
            drop(h);
            out(Event::Released {
                path: path.to_path_buf(),
                why,
                bytes,
            })?;
        }
        Ok(())
    }

    /// Brings one file up to date: acts on it if it is new, replaced, grown or shrunk since.
    fn reconcile(
        &mut self,
        path: &Path,
        root: usize,
        seen: Option<(u64, u64, u64)>,
        out: &mut Sink<'_>,
    ) -> std::io::Result<()> {
        if let (Some(seen), Some(h)) = (seen, self.held.get(path))
            && (h.id.0, h.id.1, h.size) == seen
        {
            return Ok(());
        }
        if let Some(seen) = seen
            && self.failed.get(path) == Some(&seen)
        {
            return Ok(());
        }
        let input = match Input::open(path) {
            Ok(i) => i,
            Err(e)
                if matches!(e.reason(), crate::error::Reason::Io(io)
                    if io.kind() == std::io::ErrorKind::NotFound) =>
            {
                return self.release(path, Gone::Deleted, out);
            }
            Err(e) => return self.fail(path, seen.unwrap_or_default(), Failure::Error(e), out),
        };
        let meta = match input.file().metadata() {
            Ok(m) => m,
            Err(e) => {
                let e = Error::io(Op::Open, path, e);
                return self.fail(path, seen.unwrap_or_default(), Failure::Error(e), out);
            }
        };
        let now = (meta.dev(), meta.ino(), meta.size());
        let len = match input.access() {
            Access::Map { len } => len,
            Access::Empty => 0,
            Access::Stream(kind) => {
                self.release(path, Gone::Filtered, out)?;
                if self.skipped.insert(path.to_path_buf()) {
                    out(Event::Skipped {
                        path: path.to_path_buf(),
                        kind: Some(kind),
                        reason: None,
                    })?;
                }
                return Ok(());
            }
        };
        let (change, from) = match self.held.get(path) {
            None => (Change::Added, 0),
            Some(h) if h.id != (now.0, now.1) => (Change::Replaced, 0),
            Some(h) if len > h.size => (Change::Grew(h.size), h.end),
            Some(h) if len < h.size => (Change::Shrank(h.size), 0),
            Some(_) => return Ok(()),
        };
        // A file that keeps growing would gain a map per growth: past MAX_MAPS, its growth maps are
        // replaced by one map from the first of them on (its pages resident already, so that is
        // cheap), taken before they are let go, so that nothing is unlocked meanwhile.
        let merge_from = match (change, self.held.get(path)) {
            (Change::Grew(_), Some(h)) if h.locks.len() >= MAX_MAPS => Some(h.locks[1].1),
            _ => None,
        };
        let from = merge_from.unwrap_or(from);
        if !matches!(change, Change::Grew(_)) {
            // Let the old file go first: its lock counts against the limit.
            self.held.remove(path);
        }
        match self.act(&input, len, from) {
            Ok((span, bytes, lock)) => {
                self.failed.remove(path);
                let locked = if lock.is_some() { bytes } else { 0 };
                let mut bytes = bytes;
                if merge_from.is_some()
                    && let Some(h) = self.held.get_mut(path)
                {
                    let merged: u64 = h.locks.drain(1..).map(|(_, _, b)| b).sum();
                    h.locked -= merged;
                    bytes = bytes.saturating_sub(merged);
                }
                let held = self.held.entry(path.to_path_buf()).or_insert(Held {
                    root,
                    id: (now.0, now.1),
                    size: len,
                    end: span.end(),
                    locks: Vec::new(),
                    locked: 0,
                });
                held.size = len;
                held.end = held.end.max(span.end());
                held.locked += locked;
                held.locks.extend(lock.map(|l| (l, span.start(), locked)));
                out(Event::Acted {
                    path: path.to_path_buf(),
                    change,
                    size: len,
                    span,
                    bytes,
                })
            }
            Err(failure) => {
                self.held.remove(path);
                self.fail(path, now, failure, out)
            }
        }
    }

    fn fail(
        &mut self,
        path: &Path,
        at: (u64, u64, u64),
        failure: Failure,
        out: &mut Sink<'_>,
    ) -> std::io::Result<()> {
        self.failed.insert(path.to_path_buf(), at);
        out(Event::Failed {
            path: path.to_path_buf(),
            failure,
        })
    }

    /// Locks or loads the covered range of `input` (of `len` bytes) from byte `from` on. Returns the
    /// span acted on, the bytes locked or read, and the lock.
    fn act(
        &mut self,
        input: &Input,
        len: u64,
        from: u64,
    ) -> Result<(Range, u64, Option<Locked>), Failure> {
        let whole = Subject::new(input.file(), input.name(), len, self.options.range)
            .map_err(Failure::Error)?;
        let start = whole.span.start().max(crate::range::align_down(from));
        let range = Range::new(start, whole.span.end());
        let subject =
            Subject::new(input.file(), input.name(), len, range).map_err(Failure::Error)?;
        if subject.span.is_empty() {
            return Ok((subject.span, 0, None));
        }
        let data = subject.data().map_err(Failure::Error)?;
        let dev = input.file().metadata().map_or(0, |m| m.dev());
        let cap = *self
            .caps
            .entry(dev)
            .or_insert_with(|| cap_for_device(dev).bytes);
        let options = &self.options.load;
        match self.options.policy {
            Policy::Touch => {
                let missing = subject.missing(&data).map_err(Failure::Error)?;
                let jobs = [Job {
                    subject: &subject,
                    spans: missing,
                    cap,
                    map: None,
                }];
                if let Some(e) = load(&jobs, options, &|_| {}).pop().flatten() {
                    return Err(Failure::Error(e));
                }
                Ok((subject.span, total(&jobs[0].spans), None))
            }
            Policy::Lock => {
                let budget = Budget::current();
                let need = cost(&subject);
                if let Some(available) = budget.available()
                    && need > available
                {
                    return Err(Failure::OverLimit {
                        need,
                        budget,
                        available,
                    });
                }
                let holes = data != [subject.span];
                let locked =
                    lock(&subject, options.mode, options.pattern, holes).map_err(Failure::Error)?;
                let jobs = [Job {
                    subject: &subject,
                    spans: data,
                    cap,
                    map: Some(&locked.map),
                }];
                if let Some(e) = load(&jobs, options, &|_| {}).pop().flatten() {
                    return Err(Failure::Error(e));
                }
                // The data locked, counted from the spans loaded: the kernel may merge this map with
                // a neighbouring one of the same file, so smaps cannot tell this map's share.
                let bytes = total(&jobs[0].spans);
                drop(jobs);
                Ok((subject.span, bytes, Some(locked)))
            }
        }
    }

    /// Reads the events waiting (the descriptor is non-blocking) and acts on them: changed files are
    /// brought up to date, new files found by walking their root again, and on an overflow, everything
    /// is walked again.
    pub fn handle_events(&mut self, out: &mut Sink<'_>) -> std::io::Result<()> {
        // A burst of writes is a burst of events: let it settle, and act once on what it changed.
        std::thread::sleep(SETTLE);
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 << 10];
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        let mut roots: Vec<usize> = Vec::new();
        let mut new_dirs: Vec<(PathBuf, usize)> = Vec::new();
        let mut overflow = false;
        let mut ignored = Vec::new();
        {
            let mut reader = inotify::Reader::new(&self.inotify, &mut buf);
            loop {
                let event = match reader.next() {
                    Ok(e) => e,
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                };
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    overflow = true;
                    continue;
                }
                let Some((dir, served)) = self.watches.get(&event.wd()) else {
                    continue;
                };
                if flags.contains(ReadFlags::IGNORED) {
                    ignored.push(event.wd());
                }
                if flags
                    .intersects(ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF)
                {
                    roots.extend(served.iter().filter(|&&r| self.roots[r].dir));
                    continue;
                }
                let Some(name) = event.file_name() else {
                    continue;
                };
                let path = dir.join(OsStr::from_bytes(name.to_bytes()));
                for &r in served {
                    let root = &self.roots[r];
                    if !root.dir {
                        // The watch is of the file's directory: other names there are not followed.
                        if root.path.file_name() == path.file_name() {
                            files.push((root.path.clone(), r));
                        }
                        continue;
                    }
                    if flags.contains(ReadFlags::ISDIR) {
                        if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                            new_dirs.push((path.clone(), r));
                        }
                        roots.push(r);
                    } else if self.held.contains_key(&path)
                        && flags.intersects(
                            ReadFlags::MODIFY
                                | ReadFlags::CLOSE_WRITE
                                | ReadFlags::ATTRIB
                                | ReadFlags::DELETE
                                | ReadFlags::MOVED_FROM,
                        )
                    {
                        // A file held changed in place or went away: only it needs looking at.
                        files.push((path.clone(), r));
                    } else {
                        roots.push(r);
                    }
                }
            }
        }
        if overflow {
            return self.rescan(Rescan::Overflow, out);
        }
        for (dir, r) in new_dirs {
            self.watch_tree(&dir, r);
        }
        for wd in ignored {
            self.watches.remove(&wd);
        }
        roots.sort_unstable();
        roots.dedup();
        let mut done = HashSet::new();
        for (path, r) in files {
            if roots.contains(&r) || !done.insert(path.clone()) {
                continue;
            }
            if self.roots[r].dir || self.held.contains_key(&path) {
                self.reconcile(&path, r, None, out)?;
            } else {
                self.rescan_root(r, out)?;
            }
        }
        for r in roots {
            self.rescan_root(r, out)?;
        }
        Ok(())
    }
}
