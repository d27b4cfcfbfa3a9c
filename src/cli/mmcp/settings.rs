//! The flags of mmcp whose order matters, as in cp: -L, -P and -H override one another (the last one
//! wins), and -p, -a, -d, --preserve and --no-preserve set and clear attributes in the order given.
//! clap parses them; this module replays them by their position on the command line.

use std::ffi::OsStr;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::copy::tree::Follow;
use crate::copy::{Control, Preserve};

/// One order-sensitive flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `-L`, `-P` or `-H`.
    Follow(Follow),
    /// `-p`.
    Basic,
    /// `-a`: -R, -P and every attribute.
    Archive,
    /// `-d`: -P and links.
    NoDerefLinks,
    /// `--preserve[=LIST]`.
    Preserve(String),
    /// `--no-preserve=LIST`.
    NoPreserve(String),
}

/// The argument ids (clap's, from the field names) of the settings.
const FLAGS: [&str; 6] = [
    "dereference",
    "no_dereference",
    "dereference_command_line",
    "preserve_basic",
    "archive",
    "no_dereference_preserve_links",
];

/// The settings given, in command-line order.
pub fn from_matches(matches: &ArgMatches) -> Vec<Setting> {
    let mut found: Vec<(usize, Setting)> = Vec::new();
    for id in FLAGS {
        let setting = match id {
            "dereference" => Setting::Follow(Follow::Always),
            "no_dereference" => Setting::Follow(Follow::Never),
            "dereference_command_line" => Setting::Follow(Follow::Top),
            "preserve_basic" => Setting::Basic,
            "archive" => Setting::Archive,
            _ => Setting::NoDerefLinks,
        };
        // A flag's default (count 0) has an index too: only occurrences count.
        if matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        if let Some(indices) = matches.indices_of(id) {
            found.extend(indices.map(|i| (i, setting.clone())));
        }
    }
    for (id, make) in [
        ("preserve", Setting::Preserve as fn(String) -> Setting),
        ("no_preserve", Setting::NoPreserve),
    ] {
        if let (Some(values), Some(indices)) =
            (matches.get_many::<String>(id), matches.indices_of(id))
        {
            found.extend(indices.zip(values).map(|(i, v)| (i, make(v.clone()))));
        }
    }
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, s)| s).collect()
}

/// What the settings add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The last of -L, -P, -H (-a and -d count as -P), if any.
    pub follow: Option<Follow>,
    /// Attributes to keep.
    pub preserve: Preserve,
    /// -a asks for -R.
    pub recursive: bool,
}

/// An attribute named in a --preserve list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Mode,
    Ownership,
    Timestamps,
    Links,
    Context,
    Xattr,
    All,
}

const ATTRS: [(&str, Attr); 7] = [
    ("mode", Attr::Mode),
    ("timestamps", Attr::Timestamps),
    ("ownership", Attr::Ownership),
    ("links", Attr::Links),
    ("context", Attr::Context),
    ("xattr", Attr::Xattr),
    ("all", Attr::All),
];

/// The attribute named by `word` or an unambiguous abbreviation of it.
fn attr(word: &str, flag: &str) -> Result<Attr, String> {
    let matching: Vec<Attr> = ATTRS
        .iter()
        .filter(|(name, _)| *name == word || (!word.is_empty() && name.starts_with(word)))
        .map(|(_, a)| *a)
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!(
            "invalid argument '{word}' for '--{flag}'\nValid arguments are: {}",
            ATTRS.map(|(n, _)| n).join(", ")
        )),
    }
}

/// Applies the settings in order. An unknown attribute, or `context` asked for by name (mmcp does not
/// copy SELinux contexts), is a usage error.
pub fn resolve(settings: &[Setting]) -> Result<Resolved, String> {
    let mut r = Resolved::default();
    let p = &mut r.preserve;
    for setting in settings {
        match setting {
            Setting::Follow(f) => r.follow = Some(*f),
            Setting::Basic => {
                p.mode = true;
                p.ownership = true;
                p.timestamps = true;
            }
            Setting::Archive => {
                r.follow = Some(Follow::Never);
                r.recursive = true;
                p.mode = true;
                p.ownership = true;
                p.timestamps = true;
                p.links = true;
                p.xattr_quiet = true;
            }
            Setting::NoDerefLinks => {
                r.follow = Some(Follow::Never);
                p.links = true;
            }
            Setting::Preserve(list) | Setting::NoPreserve(list) => {
                let on = matches!(setting, Setting::Preserve(_));
                let flag = if on { "preserve" } else { "no-preserve" };
                for word in list.split(',') {
                    match attr(word, flag)? {
                        Attr::Mode => {
                            p.mode = on;
                            p.default_mode = !on;
                        }
                        Attr::Ownership => p.ownership = on,
                        Attr::Timestamps => p.timestamps = on,
                        Attr::Links => p.links = on,
                        Attr::Context if on => {
                            return Err("--preserve=context is not supported: mmcp does not \
copy SELinux security contexts"
                                .into());
                        }
                        Attr::Context => {}
                        Attr::Xattr => {
                            p.xattr = on;
                            if !on {
                                p.xattr_quiet = false;
                            }
                        }
                        Attr::All => {
                            p.mode = on;
                            p.default_mode = !on;
                            p.ownership = on;
                            p.timestamps = on;
                            p.links = on;
                            p.xattr = false;
                            p.xattr_quiet = on;
                        }
                    }
                }
            }
        }
    }
    Ok(r)
}

/// How backups are made: the control from `--backup=CONTROL` (`Some("")` for `-b`, `-S` or a bare
/// `--backup`: then `$VERSION_CONTROL`, then `existing`), with the suffix of simple backups. None
/// when no backup is asked for, or the control is `none`.
pub fn backup(
    asked: Option<&str>,
    version_control: Option<&OsStr>,
) -> Result<Option<Control>, String> {
    let Some(word) = asked else {
        return Ok(None);
    };
    let (word, from) = if word.is_empty() {
        let env = version_control.map(|v| v.to_string_lossy().into_owned());
        match env {
            Some(v) if !v.is_empty() => (v, "$VERSION_CONTROL"),
            _ => ("existing".to_string(), ""),
        }
    } else {
        (word.to_string(), "--backup")
    };
    match Control::parse(&word) {
        Some(Control::None) => Ok(None),
        Some(control) => Ok(Some(control)),
        None => Err(format!(
            "invalid argument '{word}' for 'backup type' (in {from})\nValid arguments are: \
none, off; simple, never; existing, nil; numbered, t"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &str) -> Setting {
        Setting::Preserve(list.into())
    }

    #[test]
    fn later_settings_override_earlier_ones() {
        let r = resolve(&[Setting::Archive, Setting::Follow(Follow::Always)]).unwrap();
        assert_eq!(r.follow, Some(Follow::Always));
        assert!(r.recursive && r.preserve.links && r.preserve.xattr_quiet);
        let r = resolve(&[Setting::Follow(Follow::Always), Setting::Archive]).unwrap();
        assert_eq!(r.follow, Some(Follow::Never));
        let r = resolve(&[Setting::Archive, Setting::NoPreserve("links,own".into())]).unwrap();
        assert!(!r.preserve.links && !r.preserve.ownership && r.preserve.mode);
        let r = resolve(&[Setting::NoPreserve("mode".into()), Setting::Basic]).unwrap();
        assert!(r.preserve.mode);
        let r = resolve(&[p("all"), Setting::NoPreserve("all".into())]).unwrap();
        assert_eq!(
            r.preserve,
            Preserve {
                default_mode: true,
                ..Preserve::default()
            }
        );
        let r = resolve(&[p("t,xattr")]).unwrap();
        assert!(r.preserve.timestamps && r.preserve.xattr && !r.preserve.mode);
    }

    #[test]
    fn bad_lists_are_usage_errors() {
        assert!(resolve(&[p("bogus")]).unwrap_err().contains("'bogus'"));
        assert!(resolve(&[p("")]).is_err());
        assert!(resolve(&[p("context")]).is_err());
        assert!(resolve(&[Setting::NoPreserve("context".into())]).is_ok());
    }

    #[test]
    fn backup_controls() {
        let env = Some(OsStr::new("numbered"));
        assert_eq!(backup(None, env), Ok(None));
        assert_eq!(backup(Some(""), env), Ok(Some(Control::Numbered)));
        assert_eq!(backup(Some(""), None), Ok(Some(Control::Existing)));
        assert_eq!(
            backup(Some(""), Some(OsStr::new(""))),
            Ok(Some(Control::Existing))
        );
        assert_eq!(backup(Some("simple"), env), Ok(Some(Control::Simple)));
        assert_eq!(backup(Some("off"), env), Ok(None));
        assert!(backup(Some("x"), env).is_err());
        assert!(backup(Some(""), Some(OsStr::new("x"))).is_err());
    }
}
