//! Two names of one file: whether a copy of SRC onto an existing DST would copy a file onto itself
//! (and so destroy it), decided as GNU cp decides it. Symlinks count in either operand, followed or
//! not; hard links and bind mounts are the same file by device and inode; a backup makes most such
//! copies safe, since the old name is moved aside first.

use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Stat};

/// What a copy of SRC onto an existing DST amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Two files, or two names whose copy loses nothing: go on.
    Distinct,
    /// SRC and DST are the same file and the copy would destroy it: refuse ("are the same file").
    SameFile,
    /// Two hard links of one symlink, copied as a symlink without a backup: DST already is the copy.
    AlreadyDone,
}

/// How the operands were looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looked {
    /// No symlink is followed in SRC (-P, -d, -a, and -r by default); -H and -L follow some.
    pub never_follow: bool,
    /// The existing DST is moved aside to a backup first.
    pub backup: bool,
}

/// Whether DST is looked at without following a symlink there ([`dst_stat`]), as cp does: when SRC (as
/// looked at) is a directory or a symlink, or a FIFO or device copied as itself in a tree, or when DST
/// is backed up. Otherwise a symlink at DST is written through and so followed.
pub fn dst_nofollow(src_stat: &Stat, recursive: bool, backup: bool) -> bool {
    let kind = FileType::from_raw_mode(src_stat.st_mode);
    backup
        || matches!(kind, FileType::Directory | FileType::Symlink)
        || (recursive && kind != FileType::RegularFile)
}

/// DST's status, following a symlink there unless `nofollow`; None when there is nothing (or a
/// dangling symlink) to compare with.
pub fn dst_stat(dst: &Path, nofollow: bool) -> Option<Stat> {
    if nofollow {
        rustix::fs::lstat(dst).ok()
    } else {
        rustix::fs::stat(dst).ok()
    }
}

/// Decides whether copying `src` (status `src_stat`, followed or not as the copy follows it) onto the
/// existing `dst` (status `dst_stat`, from [`dst_stat`]) copies a file onto itself.
pub fn onto_itself(
    src: &Path,
    src_stat: &Stat,
    dst: &Path,
    dst_stat: &Stat,
    looked: Looked,
) -> Verdict {
    use Verdict::{AlreadyDone, Distinct, SameFile};
    let refuse = |yes: bool| if yes { SameFile } else { Distinct };
    let same = same_inode(src_stat, dst_stat);
    let (src_link, dst_link, same_link);
    if looked.never_follow {
        if is_link(src_stat) && is_link(dst_stat) {
            // Two symlinks: replacing one with a copy of the other loses nothing, unless they are
            // one name.
            let one_name = same_name(src, dst);
            if !one_name && !looked.backup && same {
                return AlreadyDone;
            }
            return refuse(one_name);
        }
        (src_link, dst_link, same_link) = (*src_stat, *dst_stat, same);
    } else {
        if !same {
            return Distinct;
        }
        let (Ok(s), Ok(d)) = (rustix::fs::lstat(src), rustix::fs::lstat(dst)) else {
            return Distinct;
        };
        (src_link, dst_link, same_link) = (s, d, same_inode(&s, &d));
    }
    if looked.backup {
        if !same_link {
            // Moving DST aside would leave a followed symlink SRC dangling: cp refuses that too.
            return refuse(!looked.never_follow && is_link(&src_link) && !is_link(&dst_link));
        }
        // The backup would rename SRC itself.
        return refuse(same_name(src, dst));
    }
    if !is_link(&src_link) && !is_link(&dst_link) && !same_inode(&src_link, &dst_link) {
        return Distinct;
    }
    if looked.never_follow {
        // A symlink copied as itself onto what it points to (or a file onto a symlink to it).
        let follow = |path: &Path, st: &Stat| {
            if is_link(st) {
                rustix::fs::stat(path).ok()
            } else {
                Some(*st)
            }
        };
        let (Some(s), Some(d)) = (follow(src, &src_link), follow(dst, &dst_link)) else {
            return Distinct;
        };
        return refuse(same_inode(&s, &d));
    }
    SameFile
}

/// Whether `a` and `b` are one name: the same entry (by name) of the same directory (by device and
/// inode, so through symlinks and bind mounts too).
pub fn same_name(a: &Path, b: &Path) -> bool {
    let parent = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    a.file_name() == b.file_name() && super::same_file(&parent(a), &parent(b))
}

fn same_inode(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

fn is_link(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Symlink
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_onto_its_target_is_the_same_file_unless_followed_with_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let foo = dir.path().join("foo");
        let link = dir.path().join("link");
        let other = dir.path().join("other");
        std::fs::write(&foo, b"x").unwrap();
        std::fs::write(&other, b"y").unwrap();
        std::os::unix::fs::symlink("foo", &link).unwrap();
        let never = Looked {
            never_follow: true,
            backup: false,
        };
        let l = rustix::fs::lstat(&link).unwrap();
        let f = rustix::fs::lstat(&foo).unwrap();
        let o = rustix::fs::lstat(&other).unwrap();
        assert_eq!(onto_itself(&link, &l, &foo, &f, never), Verdict::SameFile);
        assert_eq!(onto_itself(&link, &l, &other, &o, never), Verdict::Distinct);
        let backup = Looked {
            never_follow: true,
            backup: true,
        };
        assert_eq!(onto_itself(&link, &l, &foo, &f, backup), Verdict::Distinct);
        assert_eq!(onto_itself(&foo, &f, &foo, &f, backup), Verdict::SameFile);
        let followed = rustix::fs::stat(&link).unwrap();
        let follow_backup = Looked {
            never_follow: false,
            backup: true,
        };
        assert_eq!(
            onto_itself(&link, &followed, &foo, &f, follow_backup),
            Verdict::SameFile
        );
        let hard = dir.path().join("hard");
        std::os::unix::fs::symlink("foo", dir.path().join("l2")).unwrap();
        rustix::fs::linkat(
            rustix::fs::CWD,
            &link,
            rustix::fs::CWD,
            &hard,
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        let h = rustix::fs::lstat(&hard).unwrap();
        assert_eq!(
            onto_itself(&link, &l, &hard, &h, never),
            Verdict::AlreadyDone
        );
        assert!(same_name(&foo, &dir.path().join(".").join("foo")));
        assert!(!same_name(&foo, &hard));
    }
}
