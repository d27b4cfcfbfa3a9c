//! The files a process maps (`/proc/PID/maps`) or holds open (`/proc/PID/fd`), each with a path through
//! which this process can open it: `/proc/PID/root/...` so that files of another mount namespace
//! resolve, `/proc/PID/map_files/START-END` for a mapped file deleted since, and `/proc/PID/fd/N` for an
//! open one. A process may exit at any moment; [`alive`] tells a vanished file from a failed one.

use std::collections::HashSet;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Op, Result};

/// What the kernel appends to the path of a file deleted since it was mapped or opened.
const DELETED: &str = " (deleted)";

/// One file of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcFile {
    /// The path as the process sees it (with ` (deleted)` when the kernel says so).
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

/// One file-backed line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLine {
    /// First address, as the kernel prints it (hexadecimal, no prefix).
    pub start: String,
    /// One past the last address, likewise.
    pub end: String,
    /// The device, as `major:minor` in hexadecimal.
    pub dev: String,
    /// The inode number.
    pub inode: u64,
    /// The path, with any ` (deleted)` suffix.
    pub path: String,
}

impl MapLine {
    /// Whether the kernel marked the file deleted.
    pub fn deleted(&self) -> bool {
        self.path.ends_with(DELETED)
    }
}

/// The file-backed mappings listed in the text of a `/proc/PID/maps` file: lines with an inode and an
/// absolute path. Anonymous maps, `[heap]`, `[stack]`, `[vdso]` and the like are left out.
pub fn parse_maps(text: &str) -> Vec<MapLine> {
    text.lines().filter_map(parse_map_line).collect()
}

fn parse_map_line(line: &str) -> Option<MapLine> {
    // address perms offset dev inode [padding] path; the path may hold spaces.
    let mut rest = line;
    let mut fields = [""; 5];
    for field in &mut fields {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ').unwrap_or(rest.len());
        *field = &rest[..end];
        rest = &rest[end..];
    }
    let [range, _perms, _offset, dev, inode] = fields;
    let path = rest.trim_start_matches(' ');
    let inode: u64 = inode.parse().ok()?;
    if inode == 0 || !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some(MapLine {
        start: start.into(),
        end: end.into(),
        dev: dev.into(),
        inode,
        path: path.into(),
    })
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
    let text = String::from_utf8_lossy(&text);
    let root = dir.join("root");
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for line in parse_maps(&text) {
        if !seen.insert(line.path.clone()) {
            continue;
        }
        let open = if line.deleted() {
            dir.join("map_files")
                .join(format!("{}-{}", line.start, line.end))
        } else {
            under(&root, Path::new(&line.path))
        };
        found.push(ProcFile {
            path: PathBuf::from(&line.path),
            open,
            source: Source::Mapped,
        });
    }
    match open_files(&dir) {
        Ok(fds) => {
            for (fd, target) in fds {
                if seen.insert(target.to_string_lossy().into_owned()) {
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

/// `path` (absolute) resolved under `root` instead of `/`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let text = "\
55d0c5a00000-55d0c5a02000 r--p 00000000 08:01 1311813                    /usr/bin/cat
55d0c5a02000-55d0c5a07000 r-xp 00002000 08:01 1311813                    /usr/bin/cat
55d0c6b5e000-55d0c6b7f000 rw-p 00000000 00:00 0                          [heap]
7f1e2a000000-7f1e2a021000 rw-p 00000000 00:00 0 
7f1e2a200000-7f1e2a228000 r--p 00000000 fd:00 42                         /tmp/with space.so
7f1e2a300000-7f1e2a301000 rw-s 00000000 00:01 1025                       /memfd:cache (deleted)
7ffd5c9f0000-7ffd5ca11000 rw-p 00000000 00:00 0                          [stack]
";
        let lines = parse_maps(text);
        let paths: Vec<&str> = lines.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/usr/bin/cat",
                "/usr/bin/cat",
                "/tmp/with space.so",
                "/memfd:cache (deleted)"
            ]
        );
        assert_eq!(lines[0].start, "55d0c5a00000");
        assert_eq!(lines[0].dev, "08:01");
        assert_eq!(lines[0].inode, 1311813);
        assert!(lines[3].deleted() && !lines[0].deleted());
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

    #[test]
    fn a_missing_process_is_an_error() {
        // PIDs are below 2^22 on Linux.
        let e = files(u32::MAX - 1).unwrap_err();
        assert!(e.to_string().ends_with("No such file or directory"), "{e}");
        assert!(!alive(u32::MAX - 1));
    }
}
