//! Who maps a file, from /proc/PID/maps and /proc/PID/smaps: the processes that keep pages in the page
//! cache against an eviction (mapped or locked pages are skipped by POSIX_FADV_DONTNEED), and the
//! per-mapping counters of this process's own maps (locked bytes, bytes mapped by huge pages).

use std::path::Path;

use crate::procmaps::parse_line;

/// A process that maps a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command name (/proc/PID/comm).
    pub name: String,
    /// Bytes of its maps of the file that are locked in memory (mlock).
    pub locked: u64,
}

/// A map header line of /proc/PID/maps or smaps (through the crate's one parser,
/// [`crate::procmaps::parse_line`], on bytes: a path need not be UTF-8): `(start, end, major, minor,
/// inode)`.
fn header(line: &[u8]) -> Option<(u64, u64, u32, u32, u64)> {
    let m = parse_line(line)?;
    Some((m.start, m.end, m.major, m.minor, m.inode))
}

/// A `Key:   123 kB` field line of smaps, in bytes.
fn field_bytes(line: &[u8], key: &str) -> Option<u64> {
    let rest = line.strip_prefix(key.as_bytes())?.strip_prefix(b":")?;
    let rest = std::str::from_utf8(rest).ok()?;
    let kb: u64 = rest.split_ascii_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The lines of a /proc file read as bytes.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
}

/// The processes other than this one that map the file `(dev, ino)`, with the bytes they lock. Processes
/// whose maps this user may not read are left out.
pub fn holders(dev: u64, ino: u64) -> Vec<Holder> {
    holders_in(Path::new("/proc"), dev, ino, std::process::id())
}

fn holders_in(proc: &Path, dev: u64, ino: u64, me: u32) -> Vec<Holder> {
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| pid != me)
        .collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc.join(pid.to_string());
        let Ok(maps) = std::fs::read(dir.join("maps")) else {
            continue;
        };
        let maps_it = lines(&maps)
            .filter_map(header)
            .any(|(_, _, maj, min, inode)| (maj, min, inode) == (major, minor, ino));
        if !maps_it {
            continue;
        }
        let mut locked = 0;
        if let Ok(smaps) = std::fs::read(dir.join("smaps")) {
            let mut ours = false;
            for line in lines(&smaps) {
                if let Some((_, _, maj, min, inode)) = header(line) {
                    ours = (maj, min, inode) == (major, minor, ino);
                } else if ours && let Some(n) = field_bytes(line, "Locked") {
                    locked += n;
                }
            }
        }
        let name = std::fs::read(dir.join("comm"))
            .map(|s| String::from_utf8_lossy(s.trim_ascii_end()).into_owned())
            .unwrap_or_default();
        out.push(Holder { pid, name, locked });
    }
    out
}

/// Sums the smaps field `key` (such as `Locked` or `FilePmdMapped`) over this process's maps that lie
/// inside the addresses of `bytes`.
pub fn own_field(bytes: &[u8], key: &str) -> std::io::Result<u64> {
    let lo = bytes.as_ptr() as u64;
    let hi = lo + bytes.len() as u64;
    let smaps = std::fs::read("/proc/self/smaps")?;
    let mut inside = false;
    let mut sum = 0;
    for line in lines(&smaps) {
        if let Some((start, end, ..)) = header(line) {
            inside = start < hi && end > lo;
        } else if inside && let Some(n) = field_bytes(line, key) {
            sum += n;
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_and_smaps() {
        assert_eq!(
            header(b"7f00a000-7f00c000 r--s 00000000 fe:01 1234   /data/x"),
            Some((0x7f00a000, 0x7f00c000, 0xfe, 1, 1234))
        );
        assert_eq!(header(b"Locked:                8 kB"), None);
        assert_eq!(
            field_bytes(b"Locked:                8 kB", "Locked"),
            Some(8192)
        );
        assert_eq!(field_bytes(b"LockedX: 8 kB", "Locked"), None);

        let proc = tempfile::tempdir().unwrap();
        let p = proc.path().join("77");
        std::fs::create_dir(&p).unwrap();
        // A name that is not UTF-8 does not hide the map.
        let line = b"7f00a000-7f00c000 r--s 00000000 08:01 99   /data/\xff\\012x\n";
        std::fs::write(p.join("maps"), line).unwrap();
        let smaps = [&line[..], b"Rss: 8 kB\nLocked:  8 kB\n"].concat();
        std::fs::write(p.join("smaps"), smaps).unwrap();
        std::fs::write(p.join("comm"), "db\n").unwrap();
        let dev = rustix::fs::makedev(8, 1);
        assert_eq!(
            holders_in(proc.path(), dev, 99, 1),
            vec![Holder {
                pid: 77,
                name: "db".into(),
                locked: 8192
            }]
        );
        assert!(holders_in(proc.path(), dev, 98, 1).is_empty());
        assert!(
            holders_in(proc.path(), dev, 99, 77).is_empty(),
            "not ourselves"
        );
    }
}
