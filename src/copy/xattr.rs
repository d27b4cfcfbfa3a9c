//! Extended attributes copied from a source to its copy (`--preserve=xattr`): every name the caller
//! can list, except the ones that belong to other attributes or that only the kernel may write, as
//! /etc/xattr.conf lists them for cp (ACLs go with the mode, `security.selinux` is the SELinux context,
//! which mmcp does not copy).

use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::XattrFlags;

/// One side of an attribute copy: an open file, or a path whose last component is not followed.
#[derive(Debug, Clone, Copy)]
pub enum Node<'a> {
    /// An open file.
    Fd(BorrowedFd<'a>),
    /// A path, symlinks at the end not followed (a symlink's own attributes).
    Link(&'a Path),
    /// A path, symlinks followed.
    Path(&'a Path),
}

/// Names never copied: handled with other attributes, or written only by the kernel.
fn skipped(name: &[u8]) -> bool {
    const EXACT: [&[u8]; 8] = [
        b"system.nfs4_acl",
        b"system.nfs4acl",
        b"system.posix_acl_access",
        b"system.posix_acl_default",
        b"security.selinux",
        b"security.evm",
        b"trusted.SGI_ACL_DEFAULT",
        b"trusted.SGI_ACL_FILE",
    ];
    const PREFIXES: [&[u8]; 6] = [
        b"trusted.SGI_CAP_FILE",
        b"trusted.SGI_DMI_",
        b"trusted.SGI_MAC_FILE",
        b"xfsroot.",
        b"user.Beagle.",
        b"afs.",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

fn list(node: Node<'_>) -> rustix::io::Result<Vec<u8>> {
    loop {
        let len = match node {
            Node::Fd(fd) => rustix::fs::flistxattr_query(fd)?,
            Node::Link(path) => rustix::fs::llistxattr_query(path)?,
            Node::Path(path) => rustix::fs::listxattr_query(path)?,
        };
        let mut buf = vec![0u8; len];
        let got = match node {
            Node::Fd(fd) => rustix::fs::flistxattr(fd, &mut buf[..]),
            Node::Link(path) => rustix::fs::llistxattr(path, &mut buf[..]),
            Node::Path(path) => rustix::fs::listxattr(path, &mut buf[..]),
        };
        match got {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            // The list grew between the two calls: ask again.
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn get(node: Node<'_>, name: &[u8]) -> rustix::io::Result<Vec<u8>> {
    loop {
        let len = match node {
            Node::Fd(fd) => rustix::fs::fgetxattr_query(fd, name)?,
            Node::Link(path) => rustix::fs::lgetxattr_query(path, name)?,
            Node::Path(path) => rustix::fs::getxattr_query(path, name)?,
        };
        let mut buf = vec![0u8; len];
        let got = match node {
            Node::Fd(fd) => rustix::fs::fgetxattr(fd, name, &mut buf[..]),
            Node::Link(path) => rustix::fs::lgetxattr(path, name, &mut buf[..]),
            Node::Path(path) => rustix::fs::getxattr(path, name, &mut buf[..]),
        };
        match got {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn set(node: Node<'_>, name: &[u8], value: &[u8]) -> rustix::io::Result<()> {
    match node {
        Node::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
        Node::Link(path) => rustix::fs::lsetxattr(path, name, value, XattrFlags::empty()),
        Node::Path(path) => rustix::fs::setxattr(path, name, value, XattrFlags::empty()),
    }
}

/// Copies the extended attributes of `from` to `to`. A source on a filesystem without them has none
/// to copy; an attribute that vanishes while it is copied is passed over. The first failure to read
/// or write one is returned, after trying the rest.
pub fn copy_xattrs(from: Node<'_>, to: Node<'_>) -> io::Result<()> {
    let names = match list(from) {
        Ok(names) => names,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut first = None;
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if skipped(name) {
            continue;
        }
        let result = match get(from, name) {
            Ok(value) => set(to, name, &value),
            Err(rustix::io::Errno::NODATA) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The access ACL of a file, and the default ACL of a directory (what new entries inherit).
const ACCESS_ACL: &[u8] = b"system.posix_acl_access";
const DEFAULT_ACL: &[u8] = b"system.posix_acl_default";

/// Gives `to` the POSIX ACLs of `from` (the access ACL, and for a directory the default ACL), as cp
/// does when it preserves the mode: an ACL `from` lacks is removed from `to` (which may have
/// inherited one from its directory). Call it before setting the exact mode, which then agrees with
/// the ACL. A filesystem without ACLs is no error unless `from` has one.
pub fn copy_acls(from: Node<'_>, to: Node<'_>, dir: bool) -> io::Result<()> {
    let names: &[&[u8]] = if dir {
        &[ACCESS_ACL, DEFAULT_ACL]
    } else {
        &[ACCESS_ACL]
    };
    for name in names {
        match get(from, name) {
            Ok(value) => set(to, name, &value)?,
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => match remove(to, name) {
                Ok(()) | Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => {}
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn remove(node: Node<'_>, name: &[u8]) -> rustix::io::Result<()> {
    match node {
        Node::Fd(fd) => rustix::fs::fremovexattr(fd, name),
        Node::Link(path) => rustix::fs::lremovexattr(path, name),
        Node::Path(path) => rustix::fs::removexattr(path, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn copies_user_attributes_and_skips_acls() {
        let dir = tempfile::tempdir().unwrap();
        let a = std::fs::File::create(dir.path().join("a")).unwrap();
        let b = std::fs::File::create(dir.path().join("b")).unwrap();
        match rustix::fs::fsetxattr(&a, "user.colour", b"blue", XattrFlags::empty()) {
            Err(rustix::io::Errno::NOTSUP) => {
                crate::testing::skip("no user xattrs on this filesystem");
                return;
            }
            r => r.unwrap(),
        }
        rustix::fs::fsetxattr(&a, "user.empty", b"", XattrFlags::empty()).unwrap();
        copy_xattrs(Node::Fd(a.as_fd()), Node::Fd(b.as_fd())).unwrap();
        assert_eq!(get(Node::Fd(b.as_fd()), b"user.colour").unwrap(), b"blue");
        assert_eq!(get(Node::Fd(b.as_fd()), b"user.empty").unwrap(), b"");
        assert!(skipped(b"system.posix_acl_access"));
        assert!(!skipped(b"user.colour"));
    }
}
