//! The overwrite policy of one destination, as cp decides it: copy (with a backup), skip, or refuse,
//! and the later names of one file turned into hard links.

use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::Stat;

use super::{Action, Asks, Event, Leaf, Make, Problem, Settings, Work, is_directory};
use crate::copy::same::{self, Looked, Verdict};
use crate::copy::tree::{Follow, Kind};
use crate::copy::{backup_path, same_file};

/// Applies the overwrite policy to one leaf (named on the command line when `top`), and queues it,
/// skips it, or records why it cannot be done. Under --preserve=links, a later name of a file already
/// queued becomes a hard link to its copy.
#[allow(clippy::too_many_arguments)]
pub(super) fn admit(
    settings: &Settings,
    src: PathBuf,
    dst: PathBuf,
    mut action: Action,
    stat: Option<Stat>,
    top: bool,
    asks: Asks<'_>,
    work: &mut Work,
) -> io::Result<()> {
    // cp remembers a file for its hard links when it has several names, or when links are followed
    // (two symlinks can lead to one file).
    let key = stat.as_ref().filter(|s| {
        settings.options.preserve.links
            && (s.st_nlink > 1
                || settings.follow == Follow::Always
                || (top && settings.follow == Follow::Top))
    });
    let key = key.map(|s| (s.st_dev, s.st_ino));
    if let Some(&earlier) = work.dsts.get(&dst) {
        // The same file named twice is copied once (cp warns); another file is refused, as in cp.
        if !same_file(&work.leaves[earlier].src, &src) {
            let made_link = matches!(
                work.leaves[earlier].action,
                Action::Symlink | Action::SymlinkSource
            );
            let problem = if made_link && !matches!(action, Action::Symlink) {
                Problem::ThroughJustCreatedSymlink(dst)
            } else {
                Problem::OverwriteJustCreated(dst)
            };
            work.events.push(Event::Refused { problem, path: src });
        }
        return Ok(());
    }
    let first = key.and_then(|k| work.copied.get(&k).copied());
    if let Some(first) = first {
        action = Action::Link(first);
    }
    match decide(settings, &src, &dst, &action, stat.as_ref(), asks)? {
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
            let remove = settings.remove_destination && backup.is_none();
            work.dsts.insert(dst.clone(), work.leaves.len());
            work.events.push(Event::Leaf(work.leaves.len()));
            work.leaves.push(Leaf {
                src,
                dst,
                action,
                stat,
                remove,
                backup,
                top,
            });
        }
        Decision::Skip => {}
        Decision::Refuse(problem) => work.events.push(Event::Refused { path: src, problem }),
    }
    Ok(())
}

#[derive(Debug)]
enum Decision {
    /// Copy, moving the existing destination to this backup first.
    Copy(Option<PathBuf>),
    Skip,
    Refuse(Problem),
}

fn decide(
    settings: &Settings,
    src: &Path,
    dst: &Path,
    action: &Action,
    stat: Option<&Stat>,
    asks: Asks<'_>,
) -> io::Result<Decision> {
    let decision = decide_existing(settings, src, dst, action, stat, asks)?;
    // cp -s finds a relative SRC useless outside the current directory only when it would link.
    if matches!(decision, Decision::Copy(_))
        && matches!(action, Action::SymlinkSource)
        && src.is_relative()
        && dst.parent().is_some_and(|p| !p.as_os_str().is_empty())
    {
        return Ok(Decision::Refuse(Problem::RelativeSymlinkElsewhere(
            dst.into(),
        )));
    }
    Ok(decision)
}

/// What [`decide`] decides from an existing destination, if any.
fn decide_existing(
    settings: &Settings,
    src: &Path,
    dst: &Path,
    action: &Action,
    stat: Option<&Stat>,
    asks: Asks<'_>,
) -> io::Result<Decision> {
    let Ok(existing) = rustix::fs::lstat(dst) else {
        return Ok(Decision::Copy(None));
    };
    let policy = settings.policy;
    // cp -n skips an existing DST without looking for two names of one file.
    // With --remove-destination a symlink at DST is removed, never followed: not the same file.
    let removed_link =
        settings.remove_destination && Kind::of_mode(existing.st_mode) == Kind::Symlink;
    if !policy.no_clobber
        && !removed_link
        && let Some(src_stat) = stat
        && src.as_os_str() != "-"
    {
        match onto_itself(settings, src, src_stat, dst) {
            // cp -l: a link to itself is already there.
            Verdict::SameFile if matches!(action, Action::LinkSource) => {
                return Ok(Decision::Skip);
            }
            Verdict::SameFile => return Ok(Decision::Refuse(Problem::SameFile(dst.into()))),
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
    if policy.interactive && !(asks.overwrite)(dst)? {
        return Ok(Decision::Skip);
    }
    // As in cp: -n, -u and a "no" to -i skip a directory at DST before it is refused.
    if is_directory(dst) && !matches!(action, Action::Symlink) {
        return Ok(Decision::Refuse(Problem::DirectoryWithNonDirectory(
            dst.into(),
        )));
    }
    let symbolic = match action {
        Action::LinkSource => Some(false),
        Action::SymlinkSource => Some(true),
        _ => None,
    };
    if let Some(symbolic) = symbolic
        && !policy.force
        && !settings.remove_destination
        && settings.backup.is_none()
        && !policy.interactive
    {
        let dst = dst.to_path_buf();
        return Ok(Decision::Refuse(Problem::LinkExists { symbolic, dst }));
    }
    if !policy.force
        && matches!(action, Action::Data)
        && Kind::of_mode(existing.st_mode) == Kind::File
        && let Err(e) = rustix::fs::access(dst, rustix::fs::Access::WRITE_OK)
    {
        // -f replaces a file we may not write by renaming over it, which needs a directory we may
        // write: only then is it worth saying. A read-only mount (EROFS) or an immutable file (EPERM)
        // refuses -f as well.
        let dir = crate::copy::place::parent_dir(dst);
        let force_would_do = e == rustix::io::Errno::ACCESS
            && rustix::fs::access(
                &dir,
                rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
            )
            .is_ok();
        let error = e.into();
        return Ok(Decision::Refuse(Problem::NotWritable {
            dst: dst.into(),
            error,
            force_would_do,
        }));
    }
    let Some((control, suffix)) = &settings.backup else {
        return Ok(Decision::Copy(None));
    };
    let backup = backup_path(dst, *control, suffix);
    if let Some(backup) = &backup
        && src.as_os_str() != "-"
        && same_file(src, backup)
        && !same_file(src, dst)
    {
        return Ok(Decision::Refuse(Problem::BackupDestroysSource(dst.into())));
    }
    Ok(Decision::Copy(backup))
}

/// Whether copying `src` (status `src_stat`, as the settings follow it) onto the existing `dst`
/// copies a file onto itself, as cp decides it.
pub(super) fn onto_itself(settings: &Settings, src: &Path, src_stat: &Stat, dst: &Path) -> Verdict {
    let backup = settings.backup.is_some();
    let nofollow = same::dst_nofollow(src_stat, settings.recursive, backup);
    let Some(dst_stat) = same::dst_stat(dst, nofollow) else {
        return Verdict::Distinct;
    };
    let looked = Looked {
        never_follow: settings.follow == Follow::Never,
        backup,
    };
    same::onto_itself(src, src_stat, dst, &dst_stat, looked)
}

/// Whether copying the directory `src` to `dst` would copy it into itself.
pub(crate) fn into_itself(src: &Path, dst: &Path) -> bool {
    let Ok(real_src) = std::fs::canonicalize(src) else {
        return false;
    };
    if !real_src.is_dir() {
        return false;
    }
    let parent = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (Ok(real_parent), Some(name)) = (std::fs::canonicalize(parent), dst.file_name()) else {
        return false;
    };
    let real_dst = real_parent.join(name);
    real_dst != real_src && real_dst.starts_with(&real_src)
}

/// What -l, -s and --attributes-only make of an entry of kind `kind` instead of `action`.
pub(super) fn instead(settings: &Settings, action: Action, kind: Kind) -> Action {
    match settings.make {
        Make::HardLink => Action::LinkSource,
        Make::Symlink => Action::SymlinkSource,
        Make::Copy if settings.attributes_only && kind == Kind::File => Action::Attributes,
        Make::Copy => action,
    }
}
