//! The files a process maps (`/proc/PID/maps`) or holds open (`/proc/PID/fd`), each with a path through
//! which this process can open it: `/proc/PID/root/...` so that files of another mount namespace
//! resolve, `/proc/PID/map_files/START-END` for a mapped file deleted since, and `/proc/PID/fd/N` for an
//! open one. A process may exit at any moment; [`alive`] tells a vanished file from a failed one.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Op, Result};

/// What the kernel appends to the path of a file deleted since it was mapped or opened.
const DELETED: &[u8] = b" (deleted)";

/// One file of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcFile {
    /// The path as the process sees it, exactly (with ` (deleted)` when the file was deleted).
    pub path: PathBuf,
    /// Where to open it from here.
    pub open: PathBuf,
    /// Whether it is mapped, open, or both.
    pub source: Source,
}

/// How a process holds a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Mapped into its address space.
    Mapped,
    /// Open, as this file descriptor (and not mapped).
    Open(u32),
}

/// One line of `/proc/PID/maps`, or a map's header line in `/proc/PID/smaps`: the only parser of
/// that format in the crate. It works on bytes: a path is any bytes but NUL, as the kernel prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLine {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The device's major number.
    pub major: u32,
    /// The device's minor number.
    pub minor: u32,
    /// The inode number (0 for an anonymous map).
    pub inode: u64,
    /// The name field as the kernel wrote it: a path with `\n` escaped as `\012` and ` (deleted)`
    /// appended for a deleted file, a pseudo name such as `[heap]`, or nothing.
    pub name: Vec<u8>,
}

impl MapLine {
    /// Whether the kernel may have marked the file deleted (the name ends with ` (deleted)`; a live
    /// file may be named so too, which [`files`] tells apart by its inode).
    pub fn deleted(&self) -> bool {
        self.name.ends_with(DELETED)
    }

    /// Whether the map is of a file named by an absolute path.
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.name.first() == Some(&b'/')
    }

    /// The path with the kernel's escaping undone (`\012` back to a newline), suffix included.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(OsString::from_vec(unescape(&self.name)))
    }

    /// The name of this map's entry in `/proc/PID/map_files` (`%lx-%lx`, unpadded).
    pub fn map_files_name(&self) -> String {
        format!("{:x}-{:x}", self.start, self.end)
    }
}

/// Undoes the escaping of a path in `/proc/PID/maps`: the kernel (seq_file's `seq_path`, through
/// `mangle_path`) writes a newline as the octal escape `\012` and leaves every other byte as it is,
/// backslashes included. So a name holding the four bytes `\012` reads back as a newline: [`files`]
/// checks the inode of both readings.
pub fn unescape(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some(&b) = rest.first() {
        if rest.starts_with(b"\\012") {
            out.push(b'\n');
            rest = &rest[4..];
        } else {
            out.push(b);
            rest = &rest[1..];
        }
    }
    out
}

/// Parses one line: `start-end perms offset major:minor inode [padding name]`. `None` for anything
/// else (smaps' field lines, a damaged line).
pub fn parse_line(line: &[u8]) -> Option<MapLine> {
    let mut rest = line;
    let mut fields: [&[u8]; 5] = [b""; 5];
    for field in &mut fields {
        rest = trim_spaces(rest);
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        *field = &rest[..end];
        rest = &rest[end..];
    }
    let [range, perms, offset, dev, inode] = fields;
    let hex = |f: &[u8]| u64::from_str_radix(std::str::from_utf8(f).ok()?, 16).ok();
    let dash = range.iter().position(|&b| b == b'-')?;
    let colon = dev.iter().position(|&b| b == b':')?;
    if perms.len() != 4 {
        return None;
    }
    hex(offset)?;
    Some(MapLine {
        start: hex(&range[..dash])?,
        end: hex(&range[dash + 1..])?,
        major: u32::try_from(hex(&dev[..colon])?).ok()?,
        minor: u32::try_from(hex(&dev[colon + 1..])?).ok()?,
        inode: std::str::from_utf8(inode).ok()?.parse().ok()?,
        name: trim_spaces(rest).to_vec(),
    })
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[n..]
}

/// The file-backed maps in the contents of a `/proc/PID/maps` file: lines with an inode and an
/// absolute path. Anonymous maps, `[heap]`, `[stack]`, `[vdso]` and the like are left out.
pub fn parse_maps(text: &[u8]) -> Vec<MapLine> {
    text.split(|&b| b == b'\n')
        .filter_map(parse_line)
        .filter(MapLine::is_file)
        .collect()
}

/// The directory of process `pid` in /proc.
pub fn proc_dir(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}"))
}

/// Whether process `pid` still exists.
pub fn alive(pid: u32) -> bool {
    rustix::fs::stat(proc_dir(pid)).is_ok()
}

/// The files process `pid` maps or holds open, each once, sorted by path. Fails when the process does
/// not exist or its maps may not be read; a process that exits after its maps were read yields the files
/// found so far.
pub fn files(pid: u32) -> Result<Vec<ProcFile>> {
    let dir = proc_dir(pid);
    let maps_path = dir.join("maps");
    let text = std::fs::read(&maps_path).map_err(|e| Error::io(Op::Open, &maps_path, e))?;
    let root = dir.join("root");
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for line in parse_maps(&text) {
        if !seen.insert(line.name.clone()) {
            continue;
        }
        let (path, open) = locate(&dir, &root, &line);
        found.push(ProcFile {
            path,
            open,
            source: Source::Mapped,
        });
    }
    match open_files(&dir) {
        Ok(fds) => {
            for (fd, target) in fds {
                if seen.insert(escape(target.as_os_str().as_bytes())) {
                    found.push(ProcFile {
                        path: target,
                        open: dir.join("fd").join(fd.to_string()),
                        source: Source::Open(fd),
                    });
                }
            }
        }
        // The process exited after its maps were read: what was found is what there is.
        Err(e) if !alive(pid) && e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(Op::Open, dir.join("fd"), e)),
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// The open file descriptors of the process whose /proc directory is `dir` that name a file by an
/// absolute path (not pipes, sockets or anonymous inodes), in descriptor order.
fn open_files(dir: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir(dir.join("fd"))? {
        let entry = entry?;
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A descriptor closed between the listing and the readlink is simply gone.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.as_os_str().as_bytes().first() == Some(&b'/') {
            fds.push((fd, target));
        }
    }
    fds.sort_by_key(|(fd, _)| *fd);
    Ok(fds)
}

/// The path a mapped file has for the process, and where to open it from here. The name field can be
/// read two ways when it holds `\012` (an escaped newline, or those four bytes) or ends with
/// ` (deleted)` (the kernel's mark, or part of the name): the reading whose file has the map's inode
/// wins; a file found by neither was deleted (or renamed) and is opened through `map_files`.
fn locate(dir: &Path, root: &Path, line: &MapLine) -> (PathBuf, PathBuf) {
    let unescaped = line.path();
    let mut readings = vec![unescaped.clone()];
    if line.name.windows(4).any(|w| w == b"\\012") {
        readings.push(PathBuf::from(OsStr::from_bytes(&line.name)));
    }
    for path in readings {
        let open = under(root, &path);
        if rustix::fs::stat(&open).is_ok_and(|st| st.st_ino == line.inode) {
            return (path, open);
        }
    }
    let open = if line.deleted() {
        dir.join("map_files").join(line.map_files_name())
    } else {
        under(root, &unescaped)
    };
    (unescaped, open)
}

/// A path escaped as /proc/PID/maps writes it, to compare a descriptor's target with a map's name.
fn escape(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
    out
}

/// `path` (absolute) resolved under `root` instead of `/`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let text = b"\
55d0c5a00000-55d0c5a02000 r--p 00000000 08:01 1311813                    /usr/bin/cat
55d0c5a02000-55d0c5a07000 r-xp 00002000 08:01 1311813                    /usr/bin/cat
55d0c6b5e000-55d0c6b7f000 rw-p 00000000 00:00 0                          [heap]
7f1e2a000000-7f1e2a021000 rw-p 00000000 00:00 0 
7f1e2a200000-7f1e2a228000 r--p 00000000 fd:00 42                         /tmp/with space.so
7f1e2a300000-7f1e2a301000 rw-s 00000000 00:01 1025                       /memfd:cache (deleted)
7f1e2a400000-7f1e2a401000 r--s 00000000 103:02 77                        /tmp/a\xffb\\012c\\d
0badd000-0bade000 r--s 00000000 08:01 78                                 /tmp/low
7ffd5c9f0000-7ffd5ca11000 rw-p 00000000 00:00 0                          [stack]
";
        let lines = parse_maps(text);
        let names: Vec<&[u8]> = lines.iter().map(|l| l.name.as_slice()).collect();
        assert_eq!(
            names,
            [
                &b"/usr/bin/cat"[..],
                b"/usr/bin/cat",
                b"/tmp/with space.so",
                b"/memfd:cache (deleted)",
                b"/tmp/a\xffb\\012c\\d",
                b"/tmp/low",
            ]
        );
        assert_eq!(lines[0].start, 0x55d0c5a00000);
        assert_eq!(lines[0].end, 0x55d0c5a02000);
        assert_eq!((lines[0].major, lines[0].minor), (8, 1));
        assert_eq!(lines[0].inode, 1311813);
        assert!(lines[3].deleted() && !lines[0].deleted());
        // Only the kernel's newline escape is undone; a lone backslash stays.
        assert_eq!(lines[4].path().as_os_str().as_bytes(), b"/tmp/a\xffb\nc\\d");
        assert_eq!((lines[4].major, lines[4].minor), (0x103, 2));
        // map_files names are not padded as maps addresses are.
        assert_eq!(lines[5].map_files_name(), "badd000-bade000");
        assert_eq!(parse_line(b"Locked:                8 kB"), None);
        assert_eq!(escape(b"/a\nb"), b"/a\\012b");
    }

    #[test]
    fn lists_our_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        std::fs::write(&path, b"x").unwrap();
        let held = std::fs::File::open(&path).unwrap();
        let files = files(std::process::id()).unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let mapped = files
            .iter()
            .find(|f| f.path == exe)
            .expect("our executable");
        assert_eq!(mapped.source, Source::Mapped);
        assert!(
            mapped
                .open
                .starts_with(proc_dir(std::process::id()).join("root"))
        );
        let open = files
            .iter()
            .find(|f| f.path == path)
            .expect("the held file");
        assert!(matches!(open.source, Source::Open(_)));
        assert_eq!(std::fs::read(&open.open).unwrap(), b"x");
        drop(held);
        assert!(files.windows(2).all(|w| w[0].path <= w[1].path));
    }

    /// Names the kernel's maps cannot write unambiguously: a newline (escaped as `\012`), the four
    /// bytes `\012` themselves, a live file whose name ends with ` (deleted)`, and bytes that are not
    /// UTF-8. Each is found under its exact name and opened as itself.
    #[test]
    fn ambiguous_names_of_our_own_maps_are_exact() {
        use crate::map::{MapMode, MappedRange};
        let dir = tempfile::tempdir().unwrap();
        let dir_path = std::fs::canonicalize(dir.path()).unwrap();
        let names: [&[u8]; 4] = [
            b"new\nline",
            b"back\\012slash",
            b"live (deleted)",
            b"odd\xff",
        ];
        let mut maps = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let path = dir_path.join(OsStr::from_bytes(name));
            std::fs::write(&path, vec![i as u8; 100]).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            maps.push(MappedRange::new(&file, 0, 100, MapMode::Shared, false).unwrap());
        }
        let found = files(std::process::id()).unwrap();
        for (i, name) in names.iter().enumerate() {
            let path = dir_path.join(OsStr::from_bytes(name));
            let f = found
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{path:?} in {found:?}"));
            assert_eq!(f.source, Source::Mapped);
            assert_eq!(
                std::fs::read(&f.open).unwrap(),
                vec![i as u8; 100],
                "{path:?}"
            );
        }
        drop(maps);
    }

    #[test]
    fn a_missing_process_is_an_error() {
        // PIDs are below 2^22 on Linux.
        let e = files(u32::MAX - 1).unwrap_err();
        assert!(e.to_string().ends_with("No such file or directory"), "{e}");
        assert!(!alive(u32::MAX - 1));
    }
}
