//! The plan of a cp-style run and its execution: what each operand asks for (trees walked,
//! directories made), the overwrite policy and backups decided per destination, later names of one
//! file turned into hard links under --preserve=links; then the files made in parallel, the hard
//! links to them, and the directories finished. Problems are typed ([`Problem`]): the caller words
//! them.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustix::fs::Stat;

use super::tree::{self, Follow, Kind};
use super::{Control, Copied, CopyOptions, Failure, Hooks, link};
use crate::error::{Error, Op, Reason};

mod decide;
use decide::{admit, instead, into_itself, onto_itself};

/// What is made for a source that is not a directory (-l, -s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Make {
    /// A copy.
    #[default]
    Copy,
    /// A hard link to the source (-l).
    HardLink,
    /// A symbolic link to the source as named (-s).
    Symlink,
}

/// What to do when the destination exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Never overwrite.
    pub no_clobber: bool,
    /// Ask first.
    pub interactive: bool,
    /// Replace even when not writable.
    pub force: bool,
    /// Only when the source is newer.
    pub update: bool,
}

/// How a run copies: everything but its operands.
#[derive(Debug)]
pub struct Settings {
    /// How each file is copied.
    pub options: CopyOptions,
    /// Copy trees.
    pub recursive: bool,
    /// Which symlinks in SRC are followed.
    pub follow: Follow,
    /// How existing destinations are backed up, with the suffix of simple backups.
    pub backup: Option<(Control, OsString)>,
    /// What to do with an existing destination.
    pub policy: Policy,
    /// What is made for a file that is not a directory: a copy, or a link to the source.
    pub make: Make,
    /// Remove an existing destination before creating the new one.
    pub remove_destination: bool,
    /// Trees stay on the file system of their top.
    pub one_file_system: bool,
    /// Attributes only, no data.
    pub attributes_only: bool,
    /// FIFOs and devices in trees are read, their contents copied as regular files.
    pub copy_contents: bool,
}

/// What is done for one entry.
#[derive(Debug)]
pub enum Action {
    /// Copy the file's data (a regular file, or the contents of a pipe or device named as SRC).
    Data,
    /// Copy a symlink as a symlink.
    Symlink,
    /// Recreate a FIFO or a socket node.
    Node,
    /// Make a hard link to the source itself (-l).
    LinkSource,
    /// Make a symbolic link to the source as named (-s).
    SymlinkSource,
    /// Give an empty or existing file the source's attributes (--attributes-only).
    Attributes,
    /// Make a hard link to the copy of an earlier name of the same file (the leaf of that index).
    Link(usize),
}

/// A file to create, in input order.
#[derive(Debug)]
pub struct Leaf {
    /// The source as found (named, or walked).
    pub src: PathBuf,
    /// Where it goes.
    pub dst: PathBuf,
    /// What is made.
    pub action: Action,
    /// The source's status as the run follows it (none for standard input).
    pub stat: Option<Stat>,
    /// Where the existing destination goes before it is replaced.
    pub backup: Option<PathBuf>,
    /// Remove the existing destination first (--remove-destination).
    pub remove: bool,
    /// Named on the command line (-H follows its symlink).
    pub top: bool,
}

/// A directory made for a tree, finished (mode, times) after its contents.
#[derive(Debug)]
pub struct Dir {
    /// The source directory.
    pub src: PathBuf,
    /// Its copy.
    pub dst: PathBuf,
    /// The source's status, for the mode and times given at the end.
    pub stat: Stat,
}

/// Why an entry is not copied, as decided while planning.
#[derive(Debug)]
pub enum Problem {
    /// The top of an operand cannot be looked at (an I/O error).
    Stat(Error),
    /// An entry below the top cannot be looked at (an I/O error).
    Access(Error),
    /// A directory named without -r.
    OmitDirectory,
    /// A directory copied into itself (the destination named).
    IntoItself(PathBuf),
    /// Two names of one file (the destination named).
    SameFile(PathBuf),
    /// A directory copied onto an existing non-directory (the source named).
    NonDirectoryWithDirectory(PathBuf),
    /// A non-directory copied onto an existing directory (the destination named).
    DirectoryWithNonDirectory(PathBuf),
    /// A later source copied through a symlink this run made (the destination named).
    ThroughJustCreatedSymlink(PathBuf),
    /// A later source copied onto a file this run made (the destination named).
    OverwriteJustCreated(PathBuf),
    /// A relative -s link outside the current directory (the destination named).
    RelativeSymlinkElsewhere(PathBuf),
    /// A link (hard or symbolic) onto an existing name without -f (the destination named).
    LinkExists {
        /// A symbolic link (-s), not a hard one (-l).
        symbolic: bool,
        /// The existing name.
        dst: PathBuf,
    },
    /// An existing destination the caller may not write; `force_would_do` when -f could replace it.
    NotWritable {
        /// The destination.
        dst: PathBuf,
        /// What access(2) said.
        error: io::Error,
        /// -f could replace it (its directory is writable).
        force_would_do: bool,
    },
    /// The backup name of DST is the source (the destination named).
    BackupDestroysSource(PathBuf),
    /// A leading directory of --parents cannot be looked at (an I/O error).
    LeadingAttributes(Error),
    /// An error of the file system (a walk, a directory made or finished).
    File(Error),
}

/// One step of the report, in input order.
#[derive(Debug)]
pub enum Event {
    /// A directory was made.
    Made {
        /// The source directory.
        src: PathBuf,
        /// The directory made.
        dst: PathBuf,
    },
    /// A directory leading to a `--parents` destination was made.
    Parent {
        /// The source's leading directory.
        src: PathBuf,
        /// The directory made.
        dst: PathBuf,
    },
    /// The i-th leaf.
    Leaf(usize),
    /// An entry refused while planning: the path it concerns, and why.
    Refused {
        /// The source, or the destination where the problem is the destination's.
        path: PathBuf,
        /// Why.
        problem: Problem,
    },
    /// A device skipped.
    Skipped {
        /// The device's name.
        path: PathBuf,
        /// What it is ("device").
        what: &'static str,
    },
}

/// What the operands ask for, gathered before anything is copied.
#[derive(Debug, Default)]
pub struct Work {
    /// The files to make, in input order.
    pub leaves: Vec<Leaf>,
    /// The directories made, to finish after their contents.
    pub dirs: Vec<Dir>,
    /// What to report, in input order.
    pub events: Vec<Event>,
    /// Bytes of the regular files, for the progress bar.
    pub total: u64,
    /// With --preserve=links: the first leaf copied of each source file (device, inode).
    copied: HashMap<(u64, u64), usize>,
    /// The leaf that creates each destination: two sources never race for one name.
    dsts: HashMap<PathBuf, usize>,
}

impl Work {
    fn refuse(&mut self, path: &Path, problem: Problem) {
        self.events.push(Event::Refused {
            path: path.to_path_buf(),
            problem,
        });
    }
}

/// The questions planning asks of its caller.
#[derive(Clone, Copy)]
pub struct Asks<'a> {
    /// Whether the run was told to stop.
    pub stop: &'a (dyn Fn() -> bool + Sync),
    /// Whether to overwrite this destination (-i).
    pub overwrite: &'a dyn Fn(&Path) -> io::Result<bool>,
}

/// Lists what copying `src` to `dst` asks for: directories (made now, in order), leaves, and
/// planning problems.
pub fn gather(
    settings: &Settings,
    src: &Path,
    dst: &Path,
    asks: Asks<'_>,
    work: &mut Work,
) -> io::Result<()> {
    if src.as_os_str() == "-" {
        let (src, dst) = (src.to_path_buf(), dst.to_path_buf());
        return admit(settings, src, dst, Action::Data, None, true, asks, work);
    }
    if !settings.recursive {
        let stat = if settings.follow == Follow::Never {
            rustix::fs::lstat(src)
        } else {
            rustix::fs::stat(src)
        };
        match stat {
            Err(e) => work.refuse(src, Problem::Stat(Error::io(Op::Open, src, e.into()))),
            Ok(stat) if Kind::of_mode(stat.st_mode) == Kind::Dir => {
                work.refuse(src, Problem::OmitDirectory);
            }
            Ok(stat) => {
                let action = match Kind::of_mode(stat.st_mode) {
                    Kind::File => {
                        work.total += stat.st_size as u64;
                        Action::Data
                    }
                    Kind::Symlink => Action::Symlink,
                    _ => Action::Data,
                };
                let action = instead(settings, action, Kind::of_mode(stat.st_mode));
                let (s, d) = (src.to_path_buf(), dst.to_path_buf());
                admit(settings, s, d, action, Some(stat), true, asks, work)?;
            }
        }
        return Ok(());
    }
    if into_itself(src, dst) {
        work.refuse(src, Problem::IntoItself(dst.to_path_buf()));
        return Ok(());
    }
    // A directory refused as a copy onto itself: nothing under it is copied.
    let mut refused: Option<PathBuf> = None;
    // With -x: the device of the top, and the mount point being left out.
    let mut top_dev: Option<u64> = None;
    let mut outside: Option<PathBuf> = None;
    for entry in tree::walk(src, dst, settings.follow) {
        if (asks.stop)() {
            return Ok(());
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().to_path_buf();
                // cp's words: the top cannot be stat'ed, an entry below cannot be accessed.
                let problem = match (e.op(), e.reason()) {
                    (Op::Open, Reason::Io(_)) if path == src => Problem::Stat(e),
                    (Op::Open, Reason::Io(_)) => Problem::Access(e),
                    _ => Problem::File(e),
                };
                work.refuse(&path, problem);
                continue;
            }
        };
        if refused.as_ref().is_some_and(|r| entry.src.starts_with(r))
            || outside.as_ref().is_some_and(|r| entry.src.starts_with(r))
        {
            continue;
        }
        if settings.one_file_system {
            let dev = *top_dev.get_or_insert(entry.stat.st_dev);
            // cp -x: a directory on another file system (a mount point) is made, but left empty.
            if entry.kind == Kind::Dir && entry.stat.st_dev != dev {
                outside = Some(entry.src.clone());
            }
        }
        let action = match entry.kind {
            Kind::Dir => {
                // A directory onto itself (a bind mount, a symlink followed): cp refuses it.
                if !settings.policy.no_clobber
                    && onto_itself(settings, &entry.src, &entry.stat, &entry.dst)
                        == super::same::Verdict::SameFile
                {
                    work.refuse(&entry.src, Problem::SameFile(entry.dst.clone()));
                    refused = Some(entry.src);
                    continue;
                }
                make_dir(settings, entry.src, entry.dst, entry.stat, work);
                continue;
            }
            Kind::File => {
                work.total += entry.stat.st_size as u64;
                Action::Data
            }
            Kind::Symlink => Action::Symlink,
            // cp --copy-contents reads every special file, even a socket (which fails to open).
            Kind::Fifo | Kind::Device | Kind::Socket if settings.copy_contents => Action::Data,
            Kind::Fifo | Kind::Socket => Action::Node,
            Kind::Device => {
                work.events.push(Event::Skipped {
                    path: entry.src.clone(),
                    what: "device",
                });
                continue;
            }
        };
        let action = instead(settings, action, entry.kind);
        let top = entry.src == src;
        let stat = Some(entry.stat);
        admit(
            settings, entry.src, entry.dst, action, stat, top, asks, work,
        )?;
    }
    Ok(())
}

/// Makes the directory of a tree at `dst` (unless a non-directory is there), reported when new.
fn make_dir(settings: &Settings, src: PathBuf, dst: PathBuf, stat: Stat, work: &mut Work) {
    if std::fs::symlink_metadata(&dst).is_ok() && !is_directory(&dst) {
        work.refuse(&dst, Problem::NonDirectoryWithDirectory(src));
        return;
    }
    let existed = is_directory(&dst);
    let preserve = &settings.options.preserve;
    let mode = if preserve.default_mode && !preserve.mode {
        0o777
    } else {
        stat.st_mode
    };
    match tree::make_dir(&dst, mode) {
        Ok(()) => {
            if !existed {
                work.events.push(Event::Made {
                    src: src.clone(),
                    dst: dst.clone(),
                });
            }
            work.dirs.push(Dir { src, dst, stat });
        }
        Err(e) => work.refuse(&dst, Problem::File(e)),
    }
}

/// Makes the directories leading to a `--parents` destination (source, destination, outermost
/// first), as copies of the source's own: reported when made, finished after their contents. False
/// (with the problem recorded) when one cannot be made: the source is then not copied.
pub fn leading(dirs: &[(PathBuf, PathBuf)], work: &mut Work) -> bool {
    for (src, dst) in dirs {
        let stat = match rustix::fs::stat(src) {
            Ok(stat) => stat,
            Err(e) => {
                let e = Error::io(Op::Attributes, src, e.into());
                work.refuse(src, Problem::LeadingAttributes(e));
                return false;
            }
        };
        let existed = is_directory(dst);
        if let Err(e) = tree::make_dir(dst, stat.st_mode) {
            work.refuse(dst, Problem::File(e));
            return false;
        }
        if !existed {
            work.events.push(Event::Parent {
                src: src.clone(),
                dst: dst.clone(),
            });
            work.dirs.push(Dir {
                src: src.clone(),
                dst: dst.clone(),
                stat,
            });
        }
    }
    true
}

/// Makes every leaf of `work`: copies first, in parallel (in the caller's thread pool); then the hard
/// links to them, which need them in place; then the directories are finished, innermost first (their
/// failures added to the events). One result per leaf, in order.
pub fn execute(
    settings: &Settings,
    work: &mut Work,
    hooks: Hooks<'_>,
) -> Vec<Result<Copied, Failure>> {
    let umask = tree::umask();
    let leaves = &work.leaves;
    let mut results: Vec<Result<Copied, Failure>> = leaves
        .par_iter()
        .map(|leaf| match leaf.action {
            Action::Link(_) => Ok(Copied::default()),
            _ => make_leaf(settings, leaf, hooks),
        })
        .collect();
    for (i, leaf) in leaves.iter().enumerate() {
        if let Action::Link(first) = leaf.action {
            results[i] = link_leaf(leaf, &leaves[first], results[first].is_ok(), hooks);
        }
    }
    for dir in work.dirs.iter().rev() {
        let preserve = &settings.options.preserve;
        if let Err(e) = tree::finish_dir(&dir.src, &dir.dst, &dir.stat, preserve, umask) {
            work.events.push(Event::Refused {
                path: dir.dst.clone(),
                problem: Problem::File(e),
            });
        }
    }
    results
}

fn make_leaf(settings: &Settings, leaf: &Leaf, hooks: Hooks<'_>) -> Result<Copied, Failure> {
    if (hooks.stop)() {
        return Err(Failure::Interrupted);
    }
    let preserve = &settings.options.preserve;
    let backup = leaf.backup.as_deref();
    if leaf.remove {
        link::remove_destination(&leaf.dst)?;
    }
    match (&leaf.action, &leaf.stat) {
        (Action::LinkSource, _) => {
            // -H follows a symlink named on the command line, -L every symlink.
            let follow =
                settings.follow == Follow::Always || (settings.follow == Follow::Top && leaf.top);
            link::hard_link_source(&leaf.src, &leaf.dst, follow, backup)?;
            Ok(Copied::default())
        }
        (Action::SymlinkSource, _) => {
            link::symlink_source(&leaf.src, &leaf.dst, backup)?;
            Ok(Copied::default())
        }
        (Action::Attributes, Some(stat)) => {
            let through = settings.options.through_dangling;
            link::attributes_only(&leaf.src, &leaf.dst, stat, preserve, through)?;
            Ok(Copied::default())
        }
        (Action::Symlink, Some(stat)) => {
            tree::copy_symlink(&leaf.src, &leaf.dst, stat, preserve, backup)?;
            Ok(Copied::default())
        }
        (Action::Node, Some(stat)) => {
            tree::make_fifo(&leaf.src, &leaf.dst, stat, preserve, backup)?;
            Ok(Copied::default())
        }
        _ => {
            // A regular file found by a walk (or named) is copied only if its path still leads to it.
            let id = leaf
                .stat
                .as_ref()
                .filter(|s| Kind::of_mode(s.st_mode) == Kind::File && leaf.src.as_os_str() != "-")
                .map(|s| (s.st_dev, s.st_ino));
            super::copy_found(&leaf.src, id, &leaf.dst, backup, &settings.options, hooks)
        }
    }
}

/// Makes the hard link of `leaf` to the copy of `first`, if that copy was made.
fn link_leaf(
    leaf: &Leaf,
    first: &Leaf,
    first_ok: bool,
    hooks: Hooks<'_>,
) -> Result<Copied, Failure> {
    if (hooks.stop)() {
        return Err(Failure::Interrupted);
    }
    if !first_ok {
        return Err(Failure::File(Error::io(
            Op::Create,
            &leaf.dst,
            io::Error::other(NotLinked(first.src.clone())),
        )));
    }
    tree::hard_link(&first.dst, &leaf.dst, leaf.backup.as_deref())?;
    Ok(Copied::default())
}

/// A later name of a file not linked because the copy of its first name failed (that name carried).
#[derive(Debug)]
pub struct NotLinked(pub PathBuf);

impl std::fmt::Display for NotLinked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not linked: the copy of {} failed", self.0.display())
    }
}

impl std::error::Error for NotLinked {}

/// Whether `path` leads to a directory (following symlinks).
pub fn is_directory(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` leads to a regular file (following symlinks).
pub fn is_regular_file(path: &Path) -> bool {
    path.is_file()
}

/// Why `dir` cannot be a target directory, if it cannot.
pub fn target_directory_problem(dir: &Path) -> Option<io::Error> {
    match std::fs::metadata(dir) {
        Err(e) => Some(e),
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(io::Error::from_raw_os_error(libc::ENOTDIR)),
    }
}

/// The name a source takes inside a target directory: its last component, or for a name without one
/// (`..`, `/`), the last component of the directory it leads to.
pub fn entry_name(src: &Path) -> OsString {
    src.file_name()
        .map(OsStr::to_os_string)
        .or_else(|| {
            std::fs::canonicalize(src)
                .ok()
                .and_then(|p| p.file_name().map(OsStr::to_os_string))
        })
        .unwrap_or_else(|| src.as_os_str().to_os_string())
}
