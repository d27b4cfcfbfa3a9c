//! mmcp's planning: what each operand asks for (trees walked, directories made), the overwrite
//! policy and backups decided per destination, and the later names of one file turned into hard links
//! under --preserve=links. Nothing is copied here.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rustix::fs::Stat;

use super::{Make, Pair, Plan, TOOL, message, quote};
use crate::copy::same::{self, Looked, Verdict};
use crate::copy::tree::{self, Follow, Kind};
use crate::copy::{self, Failure};
use crate::error::{Op, Reason, describe};
use crate::sys::signals;

/// What is done for one entry.
#[derive(Debug)]
pub(super) enum Action {
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
pub(super) struct Leaf {
    pub(super) src: PathBuf,
    pub(super) dst: PathBuf,
    pub(super) action: Action,
    pub(super) stat: Option<Stat>,
    /// Where the existing destination goes before it is replaced.
    pub(super) backup: Option<PathBuf>,
    /// Remove the existing destination first (--remove-destination).
    pub(super) remove: bool,
}

/// A directory made for a tree, finished (mode, times) after its contents.
#[derive(Debug)]
pub(super) struct Dir {
    pub(super) src: PathBuf,
    pub(super) dst: PathBuf,
    pub(super) stat: Stat,
}

/// One line of the report, in input order.
#[derive(Debug)]
pub(super) enum Event {
    /// A directory was made.
    Made { src: PathBuf, dst: PathBuf },
    /// A directory leading to a `--parents` destination was made (cp -v names it unquoted).
    Parent { src: PathBuf, dst: PathBuf },
    /// The i-th leaf.
    Leaf(usize),
    /// An error found while planning.
    Error { path: PathBuf, message: String },
    /// A device skipped.
    Skipped { path: PathBuf, what: &'static str },
}

/// What the operands ask for, gathered before anything is copied.
#[derive(Debug, Default)]
pub(super) struct Work {
    pub(super) leaves: Vec<Leaf>,
    pub(super) dirs: Vec<Dir>,
    pub(super) events: Vec<Event>,
    /// Bytes of the regular files, for the progress bar.
    pub(super) total: u64,
    /// With --preserve=links: the first leaf copied of each source file (device, inode).
    pub(super) copied: HashMap<(u64, u64), usize>,
    /// The leaf that creates each destination: two sources never race for one name.
    pub(super) dsts: HashMap<PathBuf, usize>,
}

/// Lists what one operand asks for: directories (made now, in order), leaves, and planning errors.
pub(super) fn gather(plan: &Plan, pair: &Pair, work: &mut Work) -> anyhow::Result<()> {
    let fail = |work: &mut Work, path: &Path, message: String| {
        work.events.push(Event::Error {
            path: path.to_path_buf(),
            message,
        })
    };
    if pair.src.as_os_str() == "-" {
        let (src, dst) = (pair.src.clone(), pair.dst.clone());
        return admit(plan, src, dst, Action::Data, None, true, work);
    }
    if !plan.recursive {
        let stat = if plan.follow == Follow::Never {
            rustix::fs::lstat(&pair.src)
        } else {
            rustix::fs::stat(&pair.src)
        };
        match stat {
            Err(e) => fail(
                work,
                &pair.src,
                format!("cannot stat {}: {}", quote(&pair.src), describe(&e.into())),
            ),
            Ok(stat) if Kind::of_mode(stat.st_mode) == Kind::Dir => fail(
                work,
                &pair.src,
                format!("-r not specified; omitting directory {}", quote(&pair.src)),
            ),
            Ok(stat) => {
                let action = match Kind::of_mode(stat.st_mode) {
                    Kind::File => {
                        work.total += stat.st_size as u64;
                        Action::Data
                    }
                    Kind::Symlink => Action::Symlink,
                    _ => Action::Data,
                };
                let action = instead(plan, action, Kind::of_mode(stat.st_mode));
                let (src, dst) = (pair.src.clone(), pair.dst.clone());
                admit(plan, src, dst, action, Some(stat), true, work)?;
            }
        }
        return Ok(());
    }
    if let Some(why) = into_itself(&pair.src, &pair.dst) {
        fail(work, &pair.src, why);
        return Ok(());
    }
    // A directory refused as a copy onto itself: nothing under it is copied.
    let mut refused: Option<PathBuf> = None;
    // With -x: the device of the top, and the mount point being left out.
    let mut top_dev: Option<u64> = None;
    let mut outside: Option<PathBuf> = None;
    for entry in tree::walk(&pair.src, &pair.dst, plan.follow) {
        if signals::caught().is_some() {
            return Ok(());
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().to_path_buf();
                // cp's words: the top cannot be stat'ed, an entry below cannot be accessed.
                let message = match (e.op(), e.reason()) {
                    (Op::Open, Reason::Io(io)) => {
                        let what = if path == pair.src { "stat" } else { "access" };
                        format!("cannot {what} {}: {}", quote(&path), describe(io))
                    }
                    _ => message(&Failure::File(e)).unwrap_or_default(),
                };
                fail(work, &path, message);
                continue;
            }
        };
        if refused.as_ref().is_some_and(|r| entry.src.starts_with(r))
            || outside.as_ref().is_some_and(|r| entry.src.starts_with(r))
        {
            continue;
        }
        if plan.one_file_system {
            let dev = *top_dev.get_or_insert(entry.stat.st_dev);
            // cp -x: a directory on another file system (a mount point) is made, but left empty.
            if entry.kind == Kind::Dir && entry.stat.st_dev != dev {
                outside = Some(entry.src.clone());
            }
        }
        let action = match entry.kind {
            Kind::Dir => {
                // A directory onto itself (a bind mount, a symlink followed): cp refuses it.
                if !plan.policy.no_clobber
                    && onto_itself(plan, &entry.src, &entry.stat, &entry.dst) == Verdict::SameFile
                {
                    fail(work, &entry.src, same_file_message(&entry.src, &entry.dst));
                    refused = Some(entry.src);
                    continue;
                }
                if std::fs::symlink_metadata(&entry.dst).is_ok()
                    && !std::fs::metadata(&entry.dst).is_ok_and(|m| m.is_dir())
                {
                    let message = format!(
                        "cannot overwrite non-directory {} with directory {}",
                        quote(&entry.dst),
                        quote(&entry.src)
                    );
                    fail(work, &entry.dst, message);
                    continue;
                }
                let existed = entry.dst.is_dir();
                let preserve = &plan.options.preserve;
                let mode = if preserve.default_mode && !preserve.mode {
                    0o777
                } else {
                    entry.stat.st_mode
                };
                match tree::make_dir(&entry.dst, mode) {
                    Ok(()) => {
                        if !existed {
                            work.events.push(Event::Made {
                                src: entry.src.clone(),
                                dst: entry.dst.clone(),
                            });
                        }
                        work.dirs.push(Dir {
                            src: entry.src,
                            dst: entry.dst,
                            stat: entry.stat,
                        });
                    }
                    Err(e) => {
                        let message = message(&Failure::File(e)).unwrap_or_default();
                        fail(work, &entry.dst, message);
                    }
                }
                continue;
            }
            Kind::File => {
                work.total += entry.stat.st_size as u64;
                Action::Data
            }
            Kind::Symlink => Action::Symlink,
            // cp --copy-contents reads every special file, even a socket (which fails to open).
            Kind::Fifo | Kind::Device | Kind::Socket if plan.copy_contents => Action::Data,
            Kind::Fifo | Kind::Socket => Action::Node,
            Kind::Device => {
                work.events.push(Event::Skipped {
                    path: entry.src.clone(),
                    what: "device",
                });
                continue;
            }
        };
        let action = instead(plan, action, entry.kind);
        let top = entry.src == pair.src;
        admit(
            plan,
            entry.src,
            entry.dst,
            action,
            Some(entry.stat),
            top,
            work,
        )?;
    }
    Ok(())
}

/// Applies the overwrite policy to one leaf (named on the command line when `top`), and queues it,
/// skips it, or records why it cannot be done. Under --preserve=links, a later name of a file already
/// queued becomes a hard link to its copy.
pub(super) fn admit(
    plan: &Plan,
    src: PathBuf,
    dst: PathBuf,
    mut action: Action,
    stat: Option<Stat>,
    top: bool,
    work: &mut Work,
) -> anyhow::Result<()> {
    // cp remembers a file for its hard links when it has several names, or when links are followed
    // (two symlinks can lead to one file).
    let key = stat.as_ref().filter(|s| {
        plan.options.preserve.links
            && (s.st_nlink > 1
                || plan.follow == Follow::Always
                || (top && plan.follow == Follow::Top))
    });
    let key = key.map(|s| (s.st_dev, s.st_ino));
    if let Some(&earlier) = work.dsts.get(&dst) {
        // The same file named twice is copied once (cp warns); another file is refused, as in cp.
        if !copy::same_file(&work.leaves[earlier].src, &src) {
            let made_link = matches!(
                work.leaves[earlier].action,
                Action::Symlink | Action::SymlinkSource
            );
            let message = if made_link && !matches!(action, Action::Symlink) {
                format!(
                    "will not copy {} through just-created symlink {}",
                    quote(&src),
                    quote(&dst)
                )
            } else {
                format!(
                    "will not overwrite just-created {} with {}",
                    quote(&dst),
                    quote(&src)
                )
            };
            work.events.push(Event::Error { message, path: src });
        }
        return Ok(());
    }
    let first = key.and_then(|k| work.copied.get(&k).copied());
    if let Some(first) = first {
        action = Action::Link(first);
    }
    match decide(plan, &src, &dst, &action, stat.as_ref())? {
        Decision::Copy(backup) => {
            if let (Some(k), None) = (key, first) {
                work.copied.insert(k, work.leaves.len());
            }
            // Progress counts bytes copied: a later name linked is not copied.
            if let (Action::Link(_), Some(s)) = (&action, &stat)
                && Kind::of_mode(s.st_mode) == Kind::File
            {
                work.total = work.total.saturating_sub(s.st_size as u64);
            }
            let remove = plan.remove_destination && backup.is_none();
            work.dsts.insert(dst.clone(), work.leaves.len());
            work.events.push(Event::Leaf(work.leaves.len()));
            work.leaves.push(Leaf {
                src,
                dst,
                action,
                stat,
                remove,
                backup,
            });
        }
        Decision::Skip => {}
        Decision::Refuse(message) => work.events.push(Event::Error { path: src, message }),
    }
    Ok(())
}

#[derive(Debug)]
pub(super) enum Decision {
    /// Copy, moving the existing destination to this backup first.
    Copy(Option<PathBuf>),
    Skip,
    Refuse(String),
}

pub(super) fn decide(
    plan: &Plan,
    src: &Path,
    dst: &Path,
    action: &Action,
    stat: Option<&Stat>,
) -> anyhow::Result<Decision> {
    let decision = decide_existing(plan, src, dst, action, stat)?;
    // cp -s finds a relative SRC useless outside the current directory only when it would link.
    if matches!(decision, Decision::Copy(_))
        && matches!(action, Action::SymlinkSource)
        && src.is_relative()
        && dst.parent().is_some_and(|p| !p.as_os_str().is_empty())
    {
        return Ok(Decision::Refuse(format!(
            "{}: can make relative symbolic links only in current directory",
            crate::cli::quote::name(dst)
        )));
    }
    Ok(decision)
}

/// What [`decide`] decides from an existing destination, if any.
fn decide_existing(
    plan: &Plan,
    src: &Path,
    dst: &Path,
    action: &Action,
    stat: Option<&Stat>,
) -> anyhow::Result<Decision> {
    let Ok(existing) = rustix::fs::lstat(dst) else {
        return Ok(Decision::Copy(None));
    };
    let policy = plan.policy;
    // cp -n skips an existing DST without looking for two names of one file.
    // With --remove-destination a symlink at DST is removed, never followed: not the same file.
    let removed_link = plan.remove_destination && Kind::of_mode(existing.st_mode) == Kind::Symlink;
    if !policy.no_clobber
        && !removed_link
        && let Some(src_stat) = stat
        && src.as_os_str() != "-"
    {
        match onto_itself(plan, src, src_stat, dst) {
            // cp -l: a link to itself is already there.
            Verdict::SameFile if matches!(action, Action::LinkSource) => {
                return Ok(Decision::Skip);
            }
            Verdict::SameFile => return Ok(Decision::Refuse(same_file_message(src, dst))),
            Verdict::AlreadyDone => return Ok(Decision::Skip),
            Verdict::Distinct => {}
        }
    }
    if policy.no_clobber {
        return Ok(Decision::Skip);
    }
    if policy.update
        && let Some(s) = stat
        && (existing.st_mtime, existing.st_mtime_nsec) >= (s.st_mtime, s.st_mtime_nsec)
    {
        return Ok(Decision::Skip);
    }
    if policy.interactive && !ask(&format!("overwrite {}? ", quote(dst)))? {
        return Ok(Decision::Skip);
    }
    // As in cp: -n, -u and a "no" to -i skip a directory at DST before it is refused.
    if std::fs::metadata(dst).is_ok_and(|m| m.is_dir()) && !matches!(action, Action::Symlink) {
        return Ok(Decision::Refuse(format!(
            "cannot overwrite directory {} with non-directory",
            quote(dst)
        )));
    }
    let link = match action {
        Action::LinkSource => Some("hard link"),
        Action::SymlinkSource => Some("symbolic link"),
        _ => None,
    };
    if let Some(link) = link
        && !policy.force
        && !plan.remove_destination
        && plan.backup.is_none()
        && !policy.interactive
    {
        return Ok(Decision::Refuse(format!(
            "cannot create {link} {} to {}: File exists",
            quote(dst),
            quote(src)
        )));
    }
    if !policy.force
        && matches!(action, Action::Data)
        && Kind::of_mode(existing.st_mode) == Kind::File
        && let Err(e) = rustix::fs::access(dst, rustix::fs::Access::WRITE_OK)
    {
        // -f replaces a file we may not write by renaming over it, which needs a directory we may
        // write: only then is it worth saying. A read-only mount (EROFS) or an immutable file (EPERM)
        // refuses -f as well: say so as it is.
        let dir = copy::place::parent_dir(dst);
        let hint = if e == rustix::io::Errno::ACCESS
            && rustix::fs::access(
                &dir,
                rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
            )
            .is_ok()
        {
            " (use -f to replace it)"
        } else {
            ""
        };
        return Ok(Decision::Refuse(format!(
            "cannot create {}: {}{hint}",
            quote(dst),
            describe(&e.into())
        )));
    }
    let Some((control, suffix)) = &plan.backup else {
        return Ok(Decision::Copy(None));
    };
    let backup = copy::backup_path(dst, *control, suffix);
    if let Some(backup) = &backup
        && src.as_os_str() != "-"
        && copy::same_file(src, backup)
        && !copy::same_file(src, dst)
    {
        return Ok(Decision::Refuse(format!(
            "backing up {} might destroy source;  {} not copied",
            quote(dst),
            quote(src)
        )));
    }
    Ok(Decision::Copy(backup))
}

/// Whether copying `src` (status `src_stat`, as the plan follows it) onto the existing `dst` copies a
/// file onto itself, as cp decides it.
pub(super) fn onto_itself(plan: &Plan, src: &Path, src_stat: &Stat, dst: &Path) -> Verdict {
    let backup = plan.backup.is_some();
    let nofollow = same::dst_nofollow(src_stat, plan.recursive, backup);
    let Some(dst_stat) = same::dst_stat(dst, nofollow) else {
        return Verdict::Distinct;
    };
    let looked = Looked {
        never_follow: plan.follow == Follow::Never,
        backup,
    };
    same::onto_itself(src, src_stat, dst, &dst_stat, looked)
}

/// cp's refusal of a copy of a file onto itself.
pub(super) fn same_file_message(src: &Path, dst: &Path) -> String {
    format!("{} and {} are the same file", quote(src), quote(dst))
}

/// Prints `mmcp: QUESTION` on stderr and reads one line from stdin; true for an answer starting with
/// y or Y. A termination signal while waiting ends the run.
pub(super) fn ask(question: &str) -> anyhow::Result<bool> {
    let _ = write!(io::stderr().lock(), "{TOOL}: {question}");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(rustix::io::Errno::INTR) => {
                if signals::caught().is_some() {
                    return Ok(false);
                }
            }
            Err(e) => return Err(io::Error::from(e)).context("cannot read the answer"),
        }
    }
    Ok(matches!(line.first(), Some(b'y' | b'Y')))
}

/// Why copying the directory `src` to `dst` would copy it into itself, if it would.
pub(super) fn into_itself(src: &Path, dst: &Path) -> Option<String> {
    let real_src = std::fs::canonicalize(src).ok()?;
    if !real_src.is_dir() {
        return None;
    }
    let parent = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let real_dst = std::fs::canonicalize(parent).ok()?.join(dst.file_name()?);
    (real_dst != real_src && real_dst.starts_with(&real_src)).then(|| {
        format!(
            "cannot copy a directory, {}, into itself, {}",
            quote(src),
            quote(dst)
        )
    })
}

/// What -l, -s and --attributes-only make of an entry of kind `kind` instead of `action`.
fn instead(plan: &Plan, action: Action, kind: Kind) -> Action {
    match plan.make {
        Make::HardLink => Action::LinkSource,
        Make::Symlink => Action::SymlinkSource,
        Make::Copy if plan.attributes_only && kind == Kind::File => Action::Attributes,
        Make::Copy => action,
    }
}

/// Makes the directories leading to a `--parents` destination (source, destination, outermost
/// first), as copies of the source's own: reported when made, finished after their contents. False
/// (with the error recorded) when one cannot be made: the source is then not copied.
pub(super) fn leading(dirs: &[(PathBuf, PathBuf)], work: &mut Work) -> bool {
    for (src, dst) in dirs {
        let stat = match rustix::fs::stat(src) {
            Ok(stat) => stat,
            Err(e) => {
                let why = describe(&e.into());
                let message = format!("failed to get attributes of {}: {why}", quote(src));
                work.events.push(Event::Error {
                    path: src.clone(),
                    message,
                });
                return false;
            }
        };
        let existed = dst.is_dir();
        if let Err(e) = tree::make_dir(dst, stat.st_mode) {
            let message = message(&Failure::File(e)).unwrap_or_default();
            work.events.push(Event::Error {
                path: dst.clone(),
                message,
            });
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
