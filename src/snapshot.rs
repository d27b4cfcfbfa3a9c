//! Residency snapshots: what `mmstat --save` writes and `mmadvise restore` reads back to warm the page
//! cache after a restart.
//!
//! The format is JSON Lines. The first line is a header:
//!
//! ```json
//! {"type":"snapshot","format":"mmtools-residency","version":2,"page_size":4096,"created_ns":1763771234000000000}
//! ```
//!
//! Each following line is one file:
//!
//! ```json
//! {"type":"file","path":"/data/db/table.ibd","dev":2049,"ino":131075,"size":1073741824,"mtime_ns":1763771200123456789,"fingerprint":"d270f07d7870849f","resident_ranges":[[0,25165824],[67108864,67112960]]}
//! ```
//!
//! `fingerprint` (version 2, with `mmstat --save --fingerprint` only) is the file's content fingerprint
//! of [`crate::fingerprint`], in 16 hexadecimal digits. Version 1 snapshots (no fingerprints) still load.
//!
//! `path` is absolute when it can be made so. A name that is not UTF-8 is written as its lossy form in
//! `path` plus its exact bytes in standard base64 in `path_bytes` (absent for every other name), and is
//! read back from `path_bytes`, so such files are found again; `dev`, `ino`, `size` and `mtime_ns` (modification time in
//! nanoseconds since the epoch) identify the file: a restore skips a file whose identity changed.
//! `resident_ranges` (`resident` in earlier snapshots, which still load) lists the resident byte ranges `[start, end)`, sorted, not overlapping, page-aligned except
//! that the last may end at the file size. Readers ignore fields they do not know; a reader refuses a version it does not know.

use std::io::{self, BufRead, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::range::Range;

/// The value of the header's `format` field.
pub const FORMAT: &str = "mmtools-residency";
/// The version this code writes.
pub const VERSION: u32 = 2;
/// The oldest version this code reads.
pub const OLDEST: u32 = 1;

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this code.
    pub version: u32,
    /// The page size of the machine that wrote it.
    pub page_size: u64,
    /// When it was written, in nanoseconds since the epoch.
    pub created_ns: u64,
}

/// What identifies a file across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

impl Identity {
    /// The identity of a file from its metadata.
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
        }
    }

    /// What differs in size or modification time between `self` (saved) and `now`, in words, or
    /// `None` when both match: the check for a copy that kept them (`cp -a`, `rsync -a`).
    pub fn size_mtime_mismatch(&self, now: &Identity) -> Option<String> {
        if self.size != now.size {
            Some(format!(
                "its size changed ({} to {} bytes)",
                self.size, now.size
            ))
        } else if self.mtime_ns != now.mtime_ns {
            Some("its modification time differs from the snapshot's".into())
        } else {
            None
        }
    }

    /// What differs between `self` (saved) and `now`, in words, or `None` when they match.
    pub fn mismatch(&self, now: &Identity) -> Option<String> {
        if (self.dev, self.ino) != (now.dev, now.ino) {
            Some("it was replaced (device or inode differs)".into())
        } else if self.size != now.size {
            Some(format!(
                "its size changed ({} to {} bytes)",
                self.size, now.size
            ))
        } else if self.mtime_ns != now.mtime_ns {
            Some("it was modified since the snapshot".into())
        } else {
            None
        }
    }
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRecord", into = "RawRecord")]
pub struct FileRecord {
    /// The file's path, exactly.
    pub path: PathBuf,
    /// Its identity when saved.
    #[serde(flatten)]
    pub identity: Identity,
    /// Its content fingerprint ([`crate::fingerprint`]), when saved with one.
    pub fingerprint: Option<u64>,
    /// Resident byte ranges.
    pub resident: Vec<Range>,
}

/// A [`FileRecord`] as written: the name as the `path`/`path_bytes` pair of [`crate::name::split`].
#[derive(Serialize, Deserialize)]
struct RawRecord {
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
    #[serde(flatten)]
    identity: Identity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    /// Written as `resident_ranges`, the name mmstat's JSON uses; `resident` in snapshots saved before.
    #[serde(rename = "resident_ranges", alias = "resident")]
    resident: Vec<(u64, u64)>,
}

impl From<FileRecord> for RawRecord {
    fn from(r: FileRecord) -> Self {
        let (path, path_bytes) = crate::name::split(r.path.as_os_str());
        RawRecord {
            path: path.into_owned(),
            path_bytes,
            identity: r.identity,
            fingerprint: r.fingerprint.map(crate::fingerprint::to_hex),
            resident: r.resident.iter().map(|r| r.bounds()).collect(),
        }
    }
}

impl TryFrom<RawRecord> for FileRecord {
    type Error = String;

    fn try_from(r: RawRecord) -> Result<Self, String> {
        let fingerprint = match r.fingerprint.as_deref() {
            None => None,
            Some(hex) => Some(crate::fingerprint::from_hex(hex).ok_or_else(|| {
                format!("invalid fingerprint '{hex}': 16 hexadecimal digits expected")
            })?),
        };
        Ok(FileRecord {
            path: PathBuf::from(crate::name::join(&r.path, r.path_bytes.as_deref())?),
            identity: r.identity,
            fingerprint,
            resident: r
                .resident
                .into_iter()
                .map(|(start, end)| {
                    (start <= end)
                        .then(|| Range::new(start, end))
                        .ok_or("a resident range ends before it starts")
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Writes a snapshot, header first.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// Writes the header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let created_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            page_size: crate::map::page_size() as u64,
            created_ns,
        };
        serde_json::to_writer(
            &mut out,
            &Tagged {
                kind: "snapshot",
                body: &header,
            },
        )?;
        out.write_all(b"\n")?;
        Ok(Writer { out })
    }

    /// Writes one file's record.
    pub fn file(&mut self, record: &FileRecord) -> io::Result<()> {
        serde_json::to_writer(
            &mut self.out,
            &Tagged {
                kind: "file",
                body: record,
            },
        )?;
        self.out.write_all(b"\n")
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Why a snapshot could not be read, and on which line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The line.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

/// Reads a whole snapshot: the header and the file records. Errors name the line.
pub fn read(input: impl BufRead) -> Result<(Header, Vec<FileRecord>), ReadError> {
    let bad = |line: usize, why: String| ReadError { line, why };
    let mut lines = input.lines().enumerate();
    let (_, first) = lines
        .next()
        .ok_or_else(|| bad(1, "empty file, not a snapshot".into()))?;
    let first = first.map_err(|e| bad(1, crate::error::describe(&e)))?;
    let value: serde_json::Value =
        serde_json::from_str(&first).map_err(|e| bad(1, format!("not JSON: {e}")))?;
    if value.get("type").and_then(|t| t.as_str()) != Some("snapshot")
        || value.get("format").and_then(|f| f.as_str()) != Some(FORMAT)
    {
        return Err(bad(1, format!("not an {FORMAT} snapshot header")));
    }
    let header: Header = serde_json::from_value(value).map_err(|e| bad(1, e.to_string()))?;
    if !(OLDEST..=VERSION).contains(&header.version) {
        return Err(bad(
            1,
            format!(
                "snapshot version {} is not supported (this reads versions {OLDEST} to {VERSION})",
                header.version
            ),
        ));
    }
    let mut files = Vec::new();
    for (i, line) in lines {
        let line = line.map_err(|e| bad(i + 1, crate::error::describe(&e)))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| bad(i + 1, format!("not JSON: {e}")))?;
        if value.get("type").and_then(|t| t.as_str()) != Some("file") {
            continue;
        }
        let record: FileRecord =
            serde_json::from_value(value).map_err(|e| bad(i + 1, e.to_string()))?;
        files.push(record);
    }
    Ok((header, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let identity = Identity::of(&std::fs::metadata(&path).unwrap());
        let record = FileRecord {
            path: path.clone(),
            identity,
            fingerprint: Some(0x0123_4567_89ab_cdef),
            resident: vec![Range::upto(5)],
        };
        let mut w = Writer::new(Vec::new()).unwrap();
        w.file(&record).unwrap();
        let bytes = w.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"type":"snapshot","format":"mmtools-residency","version":2,"#),
            "{text}"
        );
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with(r#"{"type":"file","path":"#),
            "{text}"
        );
        let (header, files) = read(&bytes[..]).unwrap();
        assert_eq!(header.version, VERSION);
        assert_eq!(files, vec![record]);
        assert_eq!(identity.mismatch(&identity), None);
        std::fs::write(&path, b"hello, world").unwrap();
        let now = Identity::of(&std::fs::metadata(&path).unwrap());
        assert!(identity.mismatch(&now).unwrap().contains("size changed"));
        assert!(
            read(&b"{\"type\":\"nope\"}\n"[..])
                .unwrap_err()
                .why
                .starts_with("not an")
        );
        assert!(read(&b""[..]).is_err());
    }

    #[test]
    fn names_that_are_not_utf8_round_trip() {
        use std::os::unix::ffi::OsStrExt;
        let identity = Identity {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
        };
        let odd = FileRecord {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(b"/t/a\xff\nb")),
            identity,
            fingerprint: None,
            resident: vec![Range::upto(3)],
        };
        let plain = FileRecord {
            path: "/t/plain".into(),
            ..odd.clone()
        };
        let mut w = Writer::new(Vec::new()).unwrap();
        w.file(&odd).unwrap();
        w.file(&plain).unwrap();
        let bytes = w.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with(
                "{\"type\":\"file\",\"path\":\"/t/a\u{fffd}\\nb\",\"path_bytes\":\"L3QvYf8KYg==\","
            ),
            "{text}"
        );
        assert!(!lines[2].contains("path_bytes"), "{text}");
        let (_, files) = read(&bytes[..]).unwrap();
        assert_eq!(files, vec![odd, plain]);
        // A snapshot written before path_bytes existed still loads.
        let old = "{\"type\":\"snapshot\",\"format\":\"mmtools-residency\",\"version\":1,\"page_size\":4096,\"created_ns\":1}\n\
{\"type\":\"file\",\"path\":\"/data/x\",\"dev\":1,\"ino\":2,\"size\":3,\"mtime_ns\":4,\"resident\":[[0,3]]}\n";
        let (_, files) = read(old.as_bytes()).unwrap();
        assert_eq!(files[0].path, std::path::Path::new("/data/x"));
        let bad = old.replace(
            "\"path\":\"/data/x\"",
            "\"path\":\"x\",\"path_bytes\":\"*\"",
        );
        let e = read(bad.as_bytes()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.why.starts_with("invalid base64 name"), "{e:?}");
        // Ranges keep their saved form, and an inverted one is refused with its line.
        assert_eq!(files[0].resident, [Range::upto(3)]);
        let mut w = Writer::new(Vec::new()).unwrap();
        w.file(&files[0]).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(text.ends_with(",\"resident_ranges\":[[0,3]]}\n"), "{text}");
        let inverted = old.replace("[[0,3]]", "[[0,3],[9,4]]");
        let e = read(inverted.as_bytes()).unwrap_err();
        assert_eq!(
            (e.line, e.why.as_str()),
            (2, "a resident range ends before it starts")
        );
    }
}
