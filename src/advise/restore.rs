//! Restoring a residency snapshot (`mmstat --save`): saved paths rewritten for another place
//! (`--map-prefix`), then for each saved file that still matches (by identity, by size and modification
//! time, or by content fingerprint), the ranges that were resident, as page-aligned spans to load.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::snapshot::{FileRecord, Identity};

use crate::range::{Range, merged};

/// What to do with one saved file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file is the one saved: load these spans.
    Restore(Vec<Range>),
    /// The file changed since the snapshot (the reason in words): leave it alone.
    Changed(String),
    /// Whether the file changed cannot be told (no fingerprint saved, or it cannot be read): leave it
    /// alone.
    Unknown(String),
}

/// Whether opening a saved file failed because it no longer exists: removed since the snapshot (or a
/// directory leading to it was). Such a file is skipped, as a changed one is, not an error.
pub fn vanished(e: &crate::error::Error) -> bool {
    matches!(
        (e.op(), e.reason()),
        (crate::error::Op::Open, crate::error::Reason::Io(io))
            if matches!(io.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
    )
}

/// How a saved file is recognised in the file at its (mapped) path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Match {
    /// The same file: device, inode, size and modification time.
    #[default]
    Identity,
    /// A copy that kept size and modification time (`cp -a`, `rsync -a`, `mmcp -a`).
    SizeMtime,
    /// The same size and content fingerprint ([`crate::fingerprint`]) as saved.
    Fingerprint,
}

/// Compares a saved file with what is at its path now: `now` from fstat of the opened `file`, which is
/// read (a few blocks) only for [`Match::Fingerprint`].
pub fn verdict(record: &FileRecord, now: &Identity, how: Match, file: &File) -> Verdict {
    let mismatch = match how {
        Match::Identity => record.identity.mismatch(now),
        Match::SizeMtime => record.identity.size_mtime_mismatch(now),
        Match::Fingerprint => {
            let Some(saved) = record.fingerprint else {
                return Verdict::Unknown(
                    "the snapshot holds no fingerprint of it (save with mmstat --save \
--fingerprint)"
                        .into(),
                );
            };
            if record.identity.size != now.size {
                record.identity.size_mtime_mismatch(now)
            } else {
                match crate::fingerprint::of_file(file, now.size) {
                    Ok(f) if f == saved => None,
                    Ok(_) => {
                        crate::fingerprint::drop_blocks(file, now.size);
                        Some("its content differs from the snapshot's fingerprint".into())
                    }
                    Err(e) => {
                        let why = crate::error::describe(&e);
                        return Verdict::Unknown(format!("its fingerprint cannot be read: {why}"));
                    }
                }
            }
        }
    };
    match mismatch {
        Some(why) => Verdict::Changed(why),
        None => Verdict::Restore(spans(&record.resident, now.size)),
    }
}

/// One `--map-prefix OLD=NEW`: saved paths under OLD are restored from under NEW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixMap {
    /// The saved prefix.
    pub old: PathBuf,
    /// What replaces it.
    pub new: PathBuf,
}

impl PrefixMap {
    /// Parses `OLD=NEW` (split at the first `=`; both non-empty), as bytes.
    pub fn parse(text: &OsStr) -> Result<PrefixMap, String> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = text.as_bytes();
        let bad = || {
            format!(
                "invalid prefix map '{}': give OLD=NEW, two non-empty paths",
                text.to_string_lossy()
            )
        };
        let eq = bytes.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let (old, new) = (&bytes[..eq], &bytes[eq + 1..]);
        if old.is_empty() || new.is_empty() {
            return Err(bad());
        }
        Ok(PrefixMap {
            old: PathBuf::from(OsStr::from_bytes(old)),
            new: PathBuf::from(OsStr::from_bytes(new)),
        })
    }
}

/// `path` with the longest matching OLD prefix replaced by its NEW, or unchanged. A prefix matches
/// whole components: `/srv/db` maps `/srv/db/x` and `/srv/db`, never `/srv/db2/x`.
pub fn map_path(path: &Path, maps: &[PrefixMap]) -> PathBuf {
    let best = maps
        .iter()
        .filter_map(|m| Some((m, path.strip_prefix(&m.old).ok()?)))
        .max_by_key(|(m, _)| m.old.components().count());
    match best {
        Some((m, rest)) if rest.as_os_str().is_empty() => m.new.clone(),
        Some((m, rest)) => m.new.join(rest),
        None => path.to_path_buf(),
    }
}

/// The records with their paths rewritten by `maps`.
pub fn map_paths(mut records: Vec<FileRecord>, maps: &[PrefixMap]) -> Vec<FileRecord> {
    if !maps.is_empty() {
        for r in &mut records {
            r.path = map_path(&r.path, maps);
        }
    }
    records
}

/// The records of a snapshot with each file once: a later record of the same path, or of the same
/// device and inode (another name of the file), is merged into the first, its ranges added. A snapshot
/// that names one file a million times restores one file.
pub fn unique(records: Vec<FileRecord>) -> Vec<FileRecord> {
    let mut by_path: HashMap<PathBuf, usize> = HashMap::new();
    let mut by_id: HashMap<(u64, u64), usize> = HashMap::new();
    let mut out: Vec<FileRecord> = Vec::new();
    for record in records {
        let id = (record.identity.dev, record.identity.ino);
        let first = by_path
            .get(&record.path)
            .or_else(|| by_id.get(&id))
            .copied();
        match first {
            Some(i) => {
                let into = &mut out[i].resident;
                into.extend(record.resident);
                // Keep the ranges merged as they grow, so that duplicates hold no memory.
                if into.len() > 64 {
                    *into = merged(std::mem::take(into));
                }
            }
            None => {
                by_path.insert(record.path.clone(), out.len());
                by_id.entry(id).or_insert(out.len());
                out.push(record);
            }
        }
    }
    out
}

/// Saved ranges widened to whole pages, clipped to the file's size, sorted and merged.
pub fn spans(resident: &[Range], size: u64) -> Vec<Range> {
    let spans: Vec<Range> = resident
        .iter()
        .filter(|r| !r.is_empty() && r.start() < size)
        .map(|r| r.pages().clamp(size))
        .collect();
    merged(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::page_size;

    #[test]
    fn spans_are_pages_clipped_and_merged() {
        let p = page_size() as u64;
        let r = Range::new;
        assert_eq!(
            spans(
                &[r(3 * p, 4 * p), r(1, 10), r(p + 1, 2 * p), r(9 * p, 20 * p)],
                10 * p - 5
            ),
            vec![r(0, 2 * p), r(3 * p, 4 * p), r(9 * p, 10 * p - 5)]
        );
        assert_eq!(spans(&[r(20 * p, 21 * p), r(5, 5)], 10 * p), vec![]);
        let id = Identity {
            dev: 1,
            ino: 2,
            size: 10 * p,
            mtime_ns: 3,
        };
        let record = FileRecord {
            path: "x".into(),
            identity: id,
            fingerprint: None,
            resident: vec![r(0, p)],
        };
        let file = tempfile::tempfile().unwrap();
        let v = |r: &FileRecord, now: &Identity, how| verdict(r, now, how, &file);
        assert_eq!(
            v(&record, &id, Match::Identity),
            Verdict::Restore(vec![r(0, p)])
        );
        let moved = Identity { ino: 9, ..id };
        assert!(matches!(
            v(&record, &moved, Match::Identity),
            Verdict::Changed(_)
        ));
        assert_eq!(
            v(&record, &moved, Match::SizeMtime),
            Verdict::Restore(vec![r(0, p)])
        );
        let touched = Identity {
            mtime_ns: 4,
            ..moved
        };
        assert!(matches!(
            v(&record, &touched, Match::SizeMtime),
            Verdict::Changed(_)
        ));
        match v(&record, &id, Match::Fingerprint) {
            Verdict::Unknown(why) => assert!(why.contains("no fingerprint"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_file_once_with_its_ranges_merged() {
        let id = |ino| Identity {
            dev: 1,
            ino,
            size: 100,
            mtime_ns: 3,
        };
        let r = Range::new;
        let rec = |path: &str, ino, resident: Vec<Range>| FileRecord {
            path: path.into(),
            identity: id(ino),
            fingerprint: None,
            resident,
        };
        let mut records = vec![rec("a", 1, vec![r(0, 10)]), rec("b", 2, vec![])];
        for i in 0..1000 {
            records.push(rec("a", 1, vec![r(i, i + 10)]));
        }
        records.push(rec("link-to-b", 2, vec![r(50, 60)]));
        records.push(rec("c", 3, vec![]));
        let out = unique(records);
        let paths: Vec<_> = out.iter().map(|r| r.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["a", "b", "c"]);
        assert_eq!(merged(out[0].resident.clone()), [r(0, 1009)]);
        assert!(out[0].resident.len() <= 65);
        assert_eq!(out[1].resident, [r(50, 60)]);
    }

    #[test]
    fn prefixes_map_whole_components_longest_first() {
        let maps: Vec<PrefixMap> = ["/srv=/new", "/srv/db=/copy/db", "/a=/b"]
            .iter()
            .map(|t| PrefixMap::parse(OsStr::new(t)).unwrap())
            .collect();
        let m = |p: &str| map_path(Path::new(p), &maps);
        assert_eq!(m("/srv/db/x/y"), Path::new("/copy/db/x/y"));
        assert_eq!(m("/srv/db"), Path::new("/copy/db"));
        assert_eq!(m("/srv/db2/x"), Path::new("/new/db2/x"));
        assert_eq!(m("/srvx/y"), Path::new("/srvx/y"));
        assert_eq!(m("/other"), Path::new("/other"));
        assert!(PrefixMap::parse(OsStr::new("nothing")).is_err());
        assert!(PrefixMap::parse(OsStr::new("=/x")).is_err());
        assert!(PrefixMap::parse(OsStr::new("/x=")).is_err());
        let eq = PrefixMap::parse(OsStr::new("/a=b=c")).unwrap();
        assert_eq!(eq.new, Path::new("b=c"));
        use std::os::unix::ffi::OsStrExt;
        let odd = PrefixMap::parse(OsStr::from_bytes(b"/\xff=/\xfe")).unwrap();
        assert_eq!(
            map_path(Path::new(OsStr::from_bytes(b"/\xff/f")), &[odd]),
            Path::new(OsStr::from_bytes(b"/\xfe/f"))
        );
    }
}
