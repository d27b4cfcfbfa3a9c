//! What mmcp makes instead of a copy, as cp's `-l`, `-s`, `--attributes-only` and
//! `--remove-destination` ask: a hard link to the source, a symbolic link to it, an empty file with
//! the source's attributes, and the removal of a destination before it is created anew.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Stat};

use super::Preserve;
use super::stage::{create_replacing, preserve};
use crate::error::{Error, Op, Reason, Result};

/// Makes `dst` a hard link to the source `src` itself (`cp -l`), replacing a file at `dst`, after
/// moving it to `backup` if given. A symlink at `src` is followed only with `follow`.
pub fn hard_link_source(src: &Path, dst: &Path, follow: bool, backup: Option<&Path>) -> Result<()> {
    let flags = if follow {
        AtFlags::SYMLINK_FOLLOW
    } else {
        AtFlags::empty()
    };
    create_replacing(dst, backup, |temp| {
        rustix::fs::linkat(rustix::fs::CWD, src, rustix::fs::CWD, temp, flags)
            .map_err(io::Error::from)
    })
}

/// Makes `dst` a symbolic link holding `src` as named (`cp -s`), replacing a file at `dst`, after
/// moving it to `backup` if given.
pub fn symlink_source(src: &Path, dst: &Path, backup: Option<&Path>) -> Result<()> {
    create_replacing(dst, backup, |temp| {
        rustix::fs::symlinkat(src, rustix::fs::CWD, temp).map_err(io::Error::from)
    })
}

/// Removes an existing `dst` so that it is created anew (`--remove-destination`): a symlink is
/// removed, not followed. A `dst` that does not exist, or is a directory (left for the creation to
/// use or refuse), is not an error.
pub fn remove_destination(dst: &Path) -> Result<()> {
    match rustix::fs::unlink(dst) {
        Ok(()) | Err(rustix::io::Errno::NOENT | rustix::io::Errno::ISDIR) => Ok(()),
        Err(e) => Err(Error::io(Op::Create, dst, e.into())),
    }
}

/// Gives `dst` the attributes of the regular file `src` (status `stat`) that `what` asks for,
/// without its data (`--attributes-only`): a missing `dst` is created empty, with the source's
/// permission bits less the umask; an existing one keeps its contents. A dangling symlink at `dst`
/// is refused, unless `through_dangling` (then the file it names is created), as a copy does.
pub fn attributes_only(
    src: &Path,
    dst: &Path,
    stat: &Stat,
    what: &Preserve,
    through_dangling: bool,
) -> Result<()> {
    if !through_dangling && dangling_target(dst).is_some() {
        return Err(Error::new(Op::Create, dst, Reason::DanglingSymlink));
    }
    let from = File::open(src).map_err(|e| Error::io(Op::Open, src, e))?;
    let bits = if what.default_mode && !what.mode {
        0o666
    } else {
        stat.st_mode & 0o777
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(bits)
        .open(dst)
        .map_err(|e| Error::io(Op::Create, dst, e))?;
    preserve(&file, stat, dst, what, &from)
}

/// The file a dangling symlink at `dst` names (followed through further symlinks, relative ones from
/// their own directory), when `dst` is one; None when `dst` is not a symlink or leads to a file.
pub fn dangling_target(dst: &Path) -> Option<PathBuf> {
    let mut at = dst.to_path_buf();
    // The kernel's own limit on symlinks followed in one lookup.
    for _ in 0..40 {
        let meta = std::fs::symlink_metadata(&at).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = std::fs::read_link(&at).ok()?;
        let next = match at.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        if std::fs::symlink_metadata(&next).is_err() {
            return Some(next);
        }
        at = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let (src, hard, soft) = (
            dir.path().join("src"),
            dir.path().join("hard"),
            dir.path().join("soft"),
        );
        std::fs::write(&src, b"data").unwrap();
        std::fs::write(&hard, b"old").unwrap();
        hard_link_source(&src, &hard, false, None).unwrap();
        let (a, b) = (
            rustix::fs::stat(&src).unwrap(),
            rustix::fs::stat(&hard).unwrap(),
        );
        assert_eq!(a.st_ino, b.st_ino);
        symlink_source(Path::new("src"), &soft, None).unwrap();
        assert_eq!(std::fs::read_link(&soft).unwrap(), Path::new("src"));
        remove_destination(&soft).unwrap();
        remove_destination(&soft).unwrap();
        remove_destination(dir.path()).unwrap();
        assert!(dir.path().is_dir());
        assert!(std::fs::symlink_metadata(&soft).is_err());
        std::os::unix::fs::symlink("nowhere", &soft).unwrap();
        assert_eq!(dangling_target(&soft), Some(dir.path().join("nowhere")));
        assert_eq!(dangling_target(&hard), None);
    }
}
