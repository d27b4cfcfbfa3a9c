//! Backup names for an existing destination, as `cp --backup` makes them: `NAME~` (simple, with any
//! suffix), `NAME.~N~` (numbered, one more than the highest there), or numbered only where numbered
//! backups already exist (existing).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A version control method, as `cp --backup=CONTROL` and `VERSION_CONTROL` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Never make backups (`none`, `off`).
    None,
    /// Always numbered backups (`numbered`, `t`).
    Numbered,
    /// Numbered if numbered backups exist, simple otherwise (`existing`, `nil`).
    Existing,
    /// Always simple backups (`simple`, `never`).
    Simple,
}

impl Control {
    /// Every name a control is known by, in cp's order.
    pub const NAMES: [(&'static str, Control); 8] = [
        ("none", Control::None),
        ("off", Control::None),
        ("simple", Control::Simple),
        ("never", Control::Simple),
        ("existing", Control::Existing),
        ("nil", Control::Existing),
        ("numbered", Control::Numbered),
        ("t", Control::Numbered),
    ];

    /// The control named `word`, or any unambiguous abbreviation of its names (as cp's argmatch:
    /// an abbreviation of two names of the same control is not ambiguous). None for no match or an
    /// ambiguous one.
    pub fn parse(word: &str) -> Option<Control> {
        if let Some((_, c)) = Self::NAMES.iter().find(|(n, _)| *n == word) {
            return Some(*c);
        }
        if word.is_empty() {
            return None;
        }
        let mut found = None;
        for (name, control) in Self::NAMES {
            if name.starts_with(word) {
                match found {
                    None => found = Some(control),
                    Some(c) if c == control => {}
                    Some(_) => return None,
                }
            }
        }
        found
    }
}

/// The suffix of simple backups: `suffix` if given, else `$SIMPLE_BACKUP_SUFFIX` (passed in as
/// `env`), else `~`; one that is empty or holds a `/` falls back to `~`, as cp does.
pub fn simple_suffix(suffix: Option<&OsStr>, env: Option<&OsStr>) -> OsString {
    match suffix.or(env) {
        Some(s) if !s.is_empty() && !s.as_bytes().contains(&b'/') => s.to_os_string(),
        _ => OsString::from("~"),
    }
}

/// Where `dst` goes when it is backed up with `control` (None for [`Control::None`]). Numbered names
/// come from the entries of `dst`'s directory as they are now.
pub fn backup_path(dst: &Path, control: Control, suffix: &OsStr) -> Option<PathBuf> {
    let simple = || {
        let mut name = dst.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    let numbered = |highest: u64| {
        let mut name = dst.as_os_str().as_bytes().to_vec();
        name.extend_from_slice(format!(".~{}~", highest + 1).as_bytes());
        PathBuf::from(OsString::from_vec(name))
    };
    match control {
        Control::None => None,
        Control::Simple => Some(simple()),
        Control::Numbered => Some(numbered(highest_number(dst).unwrap_or(0))),
        Control::Existing => Some(match highest_number(dst) {
            Some(n) => numbered(n),
            None => simple(),
        }),
    }
}

/// The highest N of the files `NAME.~N~` beside `dst` (N without leading zeros), if there are any.
fn highest_number(dst: &Path) -> Option<u64> {
    let base = dst.file_name()?.as_bytes();
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut highest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_bytes().strip_prefix(base) else {
            continue;
        };
        let Some(digits) = rest.strip_prefix(b".~").and_then(|r| r.strip_suffix(b"~")) else {
            continue;
        };
        if digits.first().is_none_or(|d| !(b'1'..=b'9').contains(d))
            || !digits.iter().all(u8::is_ascii_digit)
        {
            continue;
        }
        if let Ok(n) = std::str::from_utf8(digits).unwrap_or("").parse::<u64>() {
            highest = highest.max(Some(n));
        }
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_abbreviations() {
        assert_eq!(Control::parse("t"), Some(Control::Numbered));
        assert_eq!(Control::parse("nu"), Some(Control::Numbered));
        assert_eq!(Control::parse("n"), None, "never, nil, none, numbered");
        assert_eq!(Control::parse("ne"), Some(Control::Simple));
        assert_eq!(Control::parse("o"), Some(Control::None));
        assert_eq!(Control::parse("e"), Some(Control::Existing));
        assert_eq!(Control::parse(""), None);
        assert_eq!(Control::parse("bogus"), None);
    }

    #[test]
    fn names_follow_the_control() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("f");
        let tilde = OsStr::new("~");
        assert_eq!(backup_path(&dst, Control::None, tilde), None);
        assert_eq!(
            backup_path(&dst, Control::Existing, tilde).unwrap(),
            dir.path().join("f~")
        );
        assert_eq!(
            backup_path(&dst, Control::Numbered, tilde).unwrap(),
            dir.path().join("f.~1~")
        );
        for name in ["f.~2~", "f.~10~", "f.~07~", "f.~3x~", "g.~99~", "f.~~"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(
            backup_path(&dst, Control::Existing, tilde).unwrap(),
            dir.path().join("f.~11~")
        );
        assert_eq!(
            backup_path(&dst, Control::Simple, OsStr::new(".bak")).unwrap(),
            dir.path().join("f.bak")
        );
        assert_eq!(simple_suffix(None, Some(OsStr::new("a/b"))), "~");
        assert_eq!(simple_suffix(None, Some(OsStr::new(".old"))), ".old");
        assert_eq!(simple_suffix(Some(OsStr::new("")), None), "~");
    }
}
