//! The page cache of the whole machine: every mounted local filesystem walked (each once, without
//! crossing into another, in parallel), plus the files processes hold open or map (deleted ones too,
//! which no walk can see), reconciled against the kernel's own count (`Cached` in /proc/meminfo).
//!
//! Memory stays bounded whatever the number of files: a heap of the top N files, totals per mount,
//! and a set of (device, inode) only for files with more than one link (so that a hard link counts
//! once) and for files processes hold (so that a file both held and walked counts once, with the
//! processes).
//!
//! The kernel keeps pages in the page cache for files no walk reaches: files on filesystems since
//! unmounted, on mounts of other namespaces that no process of this one holds, and inodes no longer
//! linked nor open (until reclaim takes them). What the walk and the processes do not account for is
//! reported as the rest, never spread over the files found.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::fs::{FileType, OFlags};

use super::held::{self, Held, HeldScan};
use super::{FsKind, Method, Target};
use crate::error::{Error, Reason};
use crate::map::page_size;
use crate::mounts::{self, FsClass, Mount, Passed};
use crate::range::Range;
use crate::walk::tree::{Event, Flow, Node, Policy, walk_tree};

/// Directories this deep below a mount's root (or shallower) are walked as tasks of their own, so
/// that the threads share the work of one big filesystem.
const SPLIT_DEPTH: usize = 2;

/// Problems kept as examples for the summary, at most.
const EXAMPLES: usize = 5;

const WHOLE: Range = Range::ALL;

/// What to look at.
#[derive(Debug, Clone, Copy)]
pub struct SystemOptions {
    /// Walk network filesystems too.
    pub all_fs: bool,
    /// How many files to keep for the top list.
    pub top: usize,
    /// Group the files processes hold by the memory cgroups of those processes.
    pub by_cgroup: bool,
    /// How to ask the kernel.
    pub method: Method,
}

/// Which part of the page cache a file's pages are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// A file on a walked filesystem backed by storage (found by the walk or held by a process).
    Walked,
    /// A file on tmpfs or another memory filesystem: Shmem, not evictable.
    Memory,
    /// A file deleted but still open or mapped (memfd and shared memory segments too).
    Deleted,
    /// A file held by a process on a filesystem that is not walked (another namespace's mount, a
    /// network or stacked filesystem).
    Elsewhere,
}

/// One file of the top list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopFile {
    /// Its path (as the holding process sees it, for a file found through a process).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Bytes in resident pages.
    pub resident_bytes: u64,
    /// Where it is counted.
    pub part: Part,
    /// The mount it is on (an index into [`SystemReport::mounts`]), when known.
    pub mount: Option<usize>,
    /// The first process found holding it, if any.
    pub pid: Option<u32>,
    /// How many processes hold it.
    pub processes: u32,
}

impl Ord for TopFile {
    /// Ranks by resident bytes, then (among equals) the path that sorts first ranks higher.
    fn cmp(&self, other: &Self) -> Ordering {
        self.resident_bytes
            .cmp(&other.resident_bytes)
            .then_with(|| other.path.cmp(&self.path))
    }
}

impl PartialOrd for TopFile {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The N files with the most resident bytes, in bounded memory.
#[derive(Debug)]
struct Top {
    n: usize,
    heap: BinaryHeap<Reverse<TopFile>>,
}

impl Top {
    fn new(n: usize) -> Self {
        Top {
            n,
            heap: BinaryHeap::new(),
        }
    }

    /// Whether a file of `bytes` resident bytes may enter (checked before building its record).
    fn takes(&self, bytes: u64) -> bool {
        bytes > 0
            && (self.heap.len() < self.n
                || self
                    .heap
                    .peek()
                    .is_some_and(|Reverse(min)| bytes >= min.resident_bytes))
    }

    fn push(&mut self, file: TopFile) {
        if !self.takes(file.resident_bytes) {
            return;
        }
        self.heap.push(Reverse(file));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn sorted(self) -> Vec<TopFile> {
        let mut files: Vec<TopFile> = self.heap.into_iter().map(|Reverse(f)| f).collect();
        files.sort_by(|a, b| b.cmp(a));
        files
    }
}

/// The totals of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountTotals {
    /// The mount.
    pub mount: Mount,
    /// Why it was not walked; `None` when it was.
    pub passed: Option<Passed>,
    /// Files counted on it (each once).
    pub files: u64,
    /// Their bytes.
    pub size: u64,
    /// Their resident bytes.
    pub resident_bytes: u64,
    /// Files whose residency the kernel would not tell.
    pub unknown_files: u64,
    /// Files on it that processes hold (included in `files`).
    pub held_files: u64,
}

/// The kernel's figures from /proc/meminfo, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meminfo {
    /// `Cached`: the page cache of files (tmpfs and shared memory included), without the swap cache.
    pub cached: u64,
    /// `Buffers`: the page cache of block devices (filesystem metadata, raw device I/O).
    pub buffers: u64,
    /// `Shmem`: tmpfs, shared memory and memfd pages (part of `Cached`).
    pub shmem: u64,
}

/// Reads /proc/meminfo.
pub fn meminfo() -> std::io::Result<Meminfo> {
    Ok(parse_meminfo(&std::fs::read("/proc/meminfo")?))
}

/// The figures of the contents of /proc/meminfo (in kB there).
pub fn parse_meminfo(text: &[u8]) -> Meminfo {
    let mut m = Meminfo::default();
    for line in String::from_utf8_lossy(text).lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kib = value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
        match key {
            "Cached" => m.cached = kib * 1024,
            "Buffers" => m.buffers = kib * 1024,
            "Shmem" => m.shmem = kib * 1024,
            _ => {}
        }
    }
    m
}

/// `Cached` split into what was found and the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// The kernel's figures, read when the measurement ended.
    pub meminfo: Meminfo,
    /// Resident bytes of each part, in the order of [`Part`].
    pub parts: [u64; 4],
}

impl Reconciliation {
    /// The bytes of one part.
    pub fn part(&self, part: Part) -> u64 {
        self.parts[part as usize]
    }

    /// All that was found.
    pub fn attributed(&self) -> u64 {
        self.parts.iter().sum()
    }

    /// `Cached` less all that was found: pages of files the walk could not reach.
    pub fn rest(&self) -> u64 {
        self.meminfo.cached.saturating_sub(self.attributed())
    }

    /// What was found beyond `Cached` (the cache grew or shrank while the walk ran).
    pub fn over(&self) -> u64 {
        self.attributed().saturating_sub(self.meminfo.cached)
    }
}

/// Files held by the processes of one memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupTotals {
    /// The cgroup's path.
    pub path: PathBuf,
    /// Its processes.
    pub processes: u64,
    /// Files they hold (a file held in several cgroups counts in each).
    pub files: u64,
    /// The resident bytes of those files.
    pub resident_bytes: u64,
}

/// What could not be read, summarised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    /// Directories and files that may not be read.
    pub unreadable: u64,
    /// Files and directories that vanished while the walk ran.
    pub vanished: u64,
    /// Other failures.
    pub failed: u64,
    /// A few of them: the path and the reason.
    pub examples: Vec<(PathBuf, String)>,
    /// Processes that exited before their files were listed.
    pub processes_gone: u64,
    /// Processes whose files may not be listed.
    pub processes_unreadable: u64,
}

impl Problems {
    fn add(&mut self, e: &Error) {
        let kind = match e.reason() {
            Reason::Io(io) => io.kind(),
            _ => std::io::ErrorKind::Other,
        };
        match kind {
            std::io::ErrorKind::PermissionDenied => self.unreadable += 1,
            std::io::ErrorKind::NotFound => self.vanished += 1,
            _ => self.failed += 1,
        }
        if self.examples.len() < EXAMPLES {
            self.examples
                .push((e.path().to_path_buf(), e.reason_text()));
        }
    }

    fn merge(&mut self, other: Problems) {
        self.unreadable += other.unreadable;
        self.vanished += other.vanished;
        self.failed += other.failed;
        for ex in other.examples {
            if self.examples.len() < EXAMPLES {
                self.examples.push(ex);
            }
        }
    }
}

/// The page cache of the machine.
#[derive(Debug, Clone)]
pub struct SystemReport {
    /// The top files by resident bytes, most first.
    pub top: Vec<TopFile>,
    /// Every mount, in the table's order, walked or not.
    pub mounts: Vec<MountTotals>,
    /// `Cached`, split.
    pub reconciliation: Reconciliation,
    /// With `by_cgroup`: the files processes hold, by memory cgroup, most resident bytes first.
    pub cgroups: Option<Vec<CgroupTotals>>,
    /// What could not be read.
    pub problems: Problems,
    /// Files counted (each once).
    pub files: u64,
    /// Second names of files already counted (hard links, bind mounts).
    pub links: u64,
    /// Directories walked.
    pub dirs: u64,
    /// Files whose residency the kernel would not tell.
    pub unknown_files: u64,
    /// Processes looked at.
    pub processes: u64,
    /// Distinct files processes hold.
    pub held_files: u64,
    /// How long the measurement took.
    pub elapsed: Duration,
}

/// The mounts and which of them a measurement walks.
#[derive(Debug, Clone)]
pub struct Survey {
    /// Every mount, in the table's order.
    pub mounts: Vec<Mount>,
    /// Why each is not walked (`None`: walked).
    pub passed: Vec<Option<Passed>>,
    /// Bytes used on the walked filesystems (a measure of the work, for progress).
    pub used_bytes: u64,
}

/// Reads the mount table and chooses the mounts to walk.
pub fn survey(all_fs: bool) -> std::io::Result<Survey> {
    let mounts = mounts::read()?;
    let verdicts = mounts::select(&mounts, all_fs);
    let passed: Vec<Option<Passed>> = verdicts
        .into_iter()
        .map(|(i, p)| {
            let directory = || {
                rustix::fs::stat(&mounts[i].point)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            };
            match p {
                None if !directory() => Some(Passed::File),
                p => p,
            }
        })
        .collect();
    let used_bytes = mounts
        .iter()
        .zip(&passed)
        .filter(|(_, p)| p.is_none())
        .filter_map(|(m, _)| rustix::fs::statvfs(&m.point).ok())
        .map(|s| s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize)
        .sum();
    Ok(Survey {
        mounts,
        passed,
        used_bytes,
    })
}

/// Sums of one task of the walk, merged into the whole when it ends.
struct Acc {
    top: Top,
    mount: usize,
    files: u64,
    size: u64,
    resident_bytes: u64,
    unknown_files: u64,
    links: u64,
    dirs: u64,
    problems: Problems,
}

struct Whole {
    top: Top,
    sums: Vec<MountTotals>,
    links: u64,
    dirs: u64,
    unknown_files: u64,
    problems: Problems,
    /// The device of each walked mount's root as stat gives it (btrfs subvolumes differ from the
    /// table's).
    devs: HashMap<u64, usize>,
}

struct Ctx<'a> {
    survey: &'a Survey,
    options: &'a SystemOptions,
    points: HashSet<&'a Path>,
    held: &'a HashMap<(u64, u64), Held>,
    links: Mutex<HashSet<(u64, u64)>>,
    whole: Mutex<Whole>,
    progress: &'a (dyn Fn(u64) + Sync),
    page: u64,
}

/// Measures the page cache of the machine: lists the files of every process, walks the mounts that
/// `survey` chose (in parallel, on the rayon pool), and reconciles with /proc/meminfo. `progress` is
/// called with the bytes (allocated blocks) of each file walked.
pub fn measure(
    survey: &Survey,
    options: &SystemOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> std::io::Result<SystemReport> {
    let start = Instant::now();
    let scan = held::scan(options.method, options.by_cgroup)?;
    let ctx = Ctx {
        survey,
        options,
        points: survey.mounts.iter().map(|m| m.point.as_path()).collect(),
        held: &scan.files,
        links: Mutex::new(HashSet::new()),
        whole: Mutex::new(Whole {
            top: Top::new(options.top),
            sums: survey
                .mounts
                .iter()
                .zip(&survey.passed)
                .map(|(m, p)| MountTotals {
                    mount: m.clone(),
                    passed: p.clone(),
                    files: 0,
                    size: 0,
                    resident_bytes: 0,
                    unknown_files: 0,
                    held_files: 0,
                })
                .collect(),
            links: 0,
            dirs: 0,
            unknown_files: 0,
            problems: Problems::default(),
            devs: HashMap::new(),
        }),
        progress,
        page: page_size() as u64,
    };
    rayon::scope(|s| {
        for (i, passed) in survey.passed.iter().enumerate() {
            if passed.is_none() {
                let ctx = &ctx;
                let root = survey.mounts[i].point.clone();
                s.spawn(move |s| walk_part(s, ctx, i, root, None, 0));
            }
        }
    });
    let whole = ctx
        .whole
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(finish(whole, scan, survey, options, start))
}

/// Adds the files processes hold to the totals, and reconciles.
fn finish(
    mut whole: Whole,
    scan: HeldScan,
    survey: &Survey,
    options: &SystemOptions,
    start: Instant,
) -> SystemReport {
    let page = page_size() as u64;
    let mut parts = [0u64; 4];
    for (i, sum) in whole.sums.iter().enumerate() {
        if sum.passed.is_none() {
            whole.devs.entry(sum.mount.dev).or_insert(i);
            let part = part_of(&survey.mounts[i]);
            parts[part as usize] += sum.resident_bytes;
        }
    }
    let mut cgroups: Vec<CgroupTotals> = scan
        .cgroups
        .iter()
        .map(|c| CgroupTotals {
            path: c.path.clone(),
            processes: c.processes,
            files: 0,
            resident_bytes: 0,
        })
        .collect();
    let mut unknown = whole.unknown_files;
    let held_files = scan.files.len() as u64;
    let mut unattached = 0u64;
    for held in scan.files.into_values() {
        let bytes = held.resident.unwrap_or(0) * page;
        let mount = whole.devs.get(&held.dev).copied();
        let part = match mount {
            _ if held.nlink == 0 => Part::Deleted,
            Some(m) => part_of(&survey.mounts[m]),
            None => Part::Elsewhere,
        };
        parts[part as usize] += bytes;
        if held.resident.is_none() {
            unknown += 1;
        }
        if let Some(m) = mount
            && held.nlink > 0
        {
            let sum = &mut whole.sums[m];
            sum.files += 1;
            sum.held_files += 1;
            sum.size += held.size;
            sum.resident_bytes += bytes;
            sum.unknown_files += u64::from(held.resident.is_none());
        } else {
            unattached += 1;
        }
        for &c in &held.cgroups {
            cgroups[c as usize].files += 1;
            cgroups[c as usize].resident_bytes += bytes;
        }
        whole.top.push(TopFile {
            path: held.path,
            size: held.size,
            resident_bytes: bytes,
            part,
            mount,
            pid: Some(held.pid),
            processes: held.processes,
        });
    }
    cgroups.sort_by(|a, b| {
        b.resident_bytes
            .cmp(&a.resident_bytes)
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut problems = whole.problems;
    problems.processes_gone = scan.gone;
    problems.processes_unreadable = scan.unreadable;
    problems.vanished += scan.vanished;
    problems.failed += scan.failed;
    let files = whole.sums.iter().map(|s| s.files).sum::<u64>() + unattached;
    SystemReport {
        top: whole.top.sorted(),
        mounts: whole.sums,
        reconciliation: Reconciliation {
            meminfo: meminfo().unwrap_or_default(),
            parts,
        },
        cgroups: options.by_cgroup.then_some(cgroups),
        problems,
        files,
        links: whole.links,
        dirs: whole.dirs,
        unknown_files: unknown,
        processes: scan.processes,
        held_files,
        elapsed: start.elapsed(),
    }
}

/// The part a file on mount `m` counts in.
fn part_of(m: &Mount) -> Part {
    if m.class() == FsClass::Memory {
        Part::Memory
    } else {
        Part::Walked
    }
}

/// Walks `root`, a directory of mount `m` (its mount point, or a directory below it whose device and
/// inode were `expect`), `base` levels below the mount's root; directories near the top become tasks
/// of their own.
fn walk_part<'s>(
    scope: &rayon::Scope<'s>,
    ctx: &'s Ctx<'s>,
    m: usize,
    root: PathBuf,
    expect: Option<(u64, u64)>,
    base: usize,
) {
    let mount = &ctx.survey.mounts[m];
    let fs = if mount.class() == FsClass::Memory {
        FsKind::Tmpfs
    } else {
        FsKind::Storage
    };
    let mut acc = Acc {
        top: Top::new(ctx.options.top),
        mount: m,
        files: 0,
        size: 0,
        resident_bytes: 0,
        unknown_files: 0,
        links: 0,
        dirs: 0,
        problems: Problems::default(),
    };
    let mut root_dev = None;
    let policy = Policy {
        follow_links: false,
        one_file_system: true,
    };
    walk_tree(&root, policy, |event| match event {
        Event::Enter { stat, depth, .. } => {
            if depth == 0 {
                // A directory swapped for another (or a link) since it was seen is left alone.
                if expect.is_some_and(|id| id != (stat.st_dev, stat.st_ino)) {
                    return Flow::Prune;
                }
                root_dev = Some(stat.st_dev);
            }
            acc.dirs += 1;
            Flow::Continue
        }
        Event::Entry(node) if node.kind == FileType::Directory => {
            if ctx.points.contains(node.path) {
                return Flow::Prune;
            }
            if base + node.depth <= SPLIT_DEPTH {
                match node.stat() {
                    Ok(st) if Some(st.st_dev) == root_dev => {
                        let path = node.path.to_path_buf();
                        let id = (st.st_dev, st.st_ino);
                        let depth = base + node.depth;
                        scope.spawn(move |s| walk_part(s, ctx, m, path, Some(id), depth));
                    }
                    Ok(_) => {}
                    Err(e) => acc
                        .problems
                        .add(&Error::io(crate::error::Op::Open, node.path, e)),
                }
                return Flow::Prune;
            }
            Flow::Continue
        }
        Event::Entry(node) if node.kind == FileType::RegularFile => {
            acc.file(ctx, node, fs);
            Flow::Continue
        }
        Event::Entry(_) | Event::Loop(_) => Flow::Continue,
        Event::Error(e) => {
            acc.problems.add(&e);
            Flow::Continue
        }
    });
    let mut whole = ctx
        .whole
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if base == 0
        && let Some(dev) = root_dev
    {
        whole.devs.insert(dev, m);
    }
    let sum = &mut whole.sums[acc.mount];
    sum.files += acc.files;
    sum.size += acc.size;
    sum.resident_bytes += acc.resident_bytes;
    sum.unknown_files += acc.unknown_files;
    whole.links += acc.links;
    whole.dirs += acc.dirs;
    whole.unknown_files += acc.unknown_files;
    whole.problems.merge(acc.problems);
    for Reverse(f) in acc.top.heap {
        whole.top.push(f);
    }
}

impl Acc {
    /// Counts and measures one regular file the walk found.
    fn file(&mut self, ctx: &Ctx<'_>, node: &Node<'_>, fs: FsKind) {
        let st = match node.stat() {
            Ok(st) => st,
            Err(e) => {
                return self
                    .problems
                    .add(&Error::io(crate::error::Op::Open, node.path, e));
            }
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return;
        }
        (ctx.progress)(st.st_blocks as u64 * 512);
        let key = (st.st_dev, st.st_ino);
        // Counted with the processes holding it.
        if ctx.held.contains_key(&key) {
            return;
        }
        if st.st_nlink > 1
            && !ctx
                .links
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key)
        {
            self.links += 1;
            return;
        }
        let size = st.st_size as u64;
        self.files += 1;
        self.size += size;
        if size == 0 {
            return;
        }
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let file = match node.open(flags) {
            Ok(fd) => File::from(fd),
            Err(e) => {
                return self
                    .problems
                    .add(&Error::io(crate::error::Op::Open, node.path, e));
            }
        };
        let residency = match Target::with_owner(&file, node.path, size, fs, st.st_uid)
            .measure(WHOLE, ctx.options.method)
        {
            Ok(r) => r,
            Err(e) => return self.problems.add(&e),
        };
        let Some(pages) = residency.resident else {
            self.unknown_files += 1;
            return;
        };
        let bytes = pages * ctx.page;
        self.resident_bytes += bytes;
        if self.top.takes(bytes) {
            self.top.push(TopFile {
                path: node.path.to_path_buf(),
                size,
                resident_bytes: bytes,
                part: if fs == FsKind::Tmpfs {
                    Part::Memory
                } else {
                    Part::Walked
                },
                mount: Some(self.mount),
                pid: None,
                processes: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_in_bytes() {
        let m = parse_meminfo(
            b"MemTotal: 100 kB\nBuffers:  2 kB\nCached:   30 kB\nSwapCached: 9 kB\nShmem: 4 kB\n",
        );
        assert_eq!(
            m,
            Meminfo {
                cached: 30 * 1024,
                buffers: 2 * 1024,
                shmem: 4 * 1024
            }
        );
    }

    #[test]
    fn the_top_keeps_the_largest_in_order() {
        let mut top = Top::new(2);
        let f = |name: &str, bytes: u64| TopFile {
            path: PathBuf::from(name),
            size: bytes,
            resident_bytes: bytes,
            part: Part::Walked,
            mount: None,
            pid: None,
            processes: 0,
        };
        for (name, bytes) in [("a", 5), ("b", 0), ("c", 9), ("d", 5), ("e", 1)] {
            top.push(f(name, bytes));
        }
        let names: Vec<_> = top.sorted().into_iter().map(|t| t.path).collect();
        assert_eq!(names, [PathBuf::from("c"), PathBuf::from("a")]);
    }
}
