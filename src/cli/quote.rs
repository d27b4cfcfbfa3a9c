//! File names for people, quoted as GNU tools quote them (gnulib's shell-escape styles), through one
//! escaper for every tool and every message:
//!
//! - [`row`]: a name in a table row or a per-file line: as it is, unless it holds a newline, a control
//!   byte or bytes that are not a printable character of the locale; then quoted so that it can be
//!   pasted back into a command, such as `'a'$'\377''b'` (as `ls` quotes it on a terminal);
//! - [`name`]: a name in a message (`tool: name: reason`), as wc and ls quote it there: also quoted
//!   when it holds something a shell takes specially, such as a space or `$`;
//! - [`always`]: always quoted, as `cp -v` and cp's messages print names (`'a' -> 'b'`);
//! - [`wc_name`]: the rule of wc's own count lines, quoted only for a newline (mmcount's lines).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

/// When a name is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// When it holds something that cannot be printed (a row of a table).
    Unprintable,
    /// When it holds something that cannot be printed or that a shell takes specially (gnulib's
    /// shell-escape style).
    Shell,
    /// Always (gnulib's shell-escape-always style).
    Always,
}

/// `name` in a table row or a per-file line: as it is unless it holds a newline, a control byte or
/// bytes that are not a printable character, then quoted and escaped. Valid UTF-8 whatever the name.
pub fn row(name: impl AsRef<OsStr>) -> String {
    quote(name.as_ref().as_bytes(), utf8(), When::Unprintable)
}

/// `name` in a message, quoted when it needs to be (gnulib's shell-escape style, as in wc's and ls's
/// messages and `ls` on a terminal). Valid UTF-8 whatever the name.
pub fn name(name: impl AsRef<OsStr>) -> String {
    quote(name.as_ref().as_bytes(), utf8(), When::Shell)
}

/// `name` always quoted (gnulib's shell-escape-always style, as `cp -v` prints names).
pub fn always(name: impl AsRef<OsStr>) -> String {
    quote(name.as_ref().as_bytes(), utf8(), When::Always)
}

/// Whether this process's locale is UTF-8, looked up once.
fn utf8() -> bool {
    static UTF8: OnceLock<bool> = OnceLock::new();
    *UTF8.get_or_init(utf8_locale)
}

/// The quoted form of `bytes`: as they are when `!always` and nothing in them needs quoting; in double
/// quotes when they hold a single quote and nothing that would need escaping in either quote (`"it's"`);
/// else single-quoted with `$'...'` escapes ([`shell_escape`]).
fn quote(bytes: &[u8], utf8: bool, when: When) -> String {
    let mut needed = bytes.is_empty() && when != When::Unprintable;
    let mut unprintable = false;
    let mut compatible = true;
    let mut single_quote = false;
    let mut rest = bytes;
    let mut i = 0;
    while let Some(&b) = rest.first() {
        let n = printable_len(rest, utf8);
        if n == 0 {
            needed = true;
            unprintable = true;
            compatible = false;
            rest = &rest[1..];
            i += 1;
            continue;
        }
        if n == 1 {
            let (special, fits) = shell_char(b, i == 0, bytes.len() == 1);
            needed |= special;
            compatible &= fits;
            single_quote |= b == b'\'';
        }
        rest = &rest[n..];
        i += n;
    }
    let quoted = match when {
        When::Unprintable => unprintable,
        When::Shell => needed,
        When::Always => true,
    };
    if !quoted {
        // Nothing unprintable: ASCII, or printable characters of a UTF-8 locale.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let quoted = if single_quote && compatible {
        let mut q = Vec::with_capacity(bytes.len() + 2);
        q.push(b'"');
        q.extend_from_slice(bytes);
        q.push(b'"');
        q
    } else {
        shell_escape(bytes, utf8)
    };
    // Every byte outside printable characters was escaped as ASCII.
    String::from_utf8_lossy(&quoted).into_owned()
}

/// For a printable ASCII character: whether a shell takes it specially (so the name must be quoted),
/// and whether it may stand inside double quotes unescaped (gnulib's `c_and_shell_quote_compat`).
/// `#` and `~` are special only first, `{` and `}` only alone.
fn shell_char(b: u8, first: bool, alone: bool) -> (bool, bool) {
    match b {
        b'#' | b'~' if first => (true, true),
        b'{' | b'}' if alone => (true, true),
        b'#' | b'~' | b'{' | b'}' => (false, false),
        b' ' | b'\'' => (true, true),
        b'!' | b'"' | b'$' | b'&' | b'(' | b')' | b'*' | b';' | b'<' | b'=' | b'>' | b'?'
        | b'[' | b'\\' | b'^' | b'`' | b'|' => (true, false),
        _ => (false, true),
    }
}

/// The bytes wc would print for `name`: the name itself, or its shell-escaped form when it holds a
/// newline. `utf8` says whether the locale's character set is UTF-8 (see [`utf8_locale`]): there,
/// printable non-ASCII characters stay as they are; elsewhere every byte above 0x7f is escaped.
pub fn wc_name(name: &OsStr, utf8: bool) -> Vec<u8> {
    let bytes = name.as_bytes();
    if bytes.contains(&b'\n') {
        shell_escape(bytes, utf8)
    } else {
        bytes.to_vec()
    }
}

/// Whether the locale's character set is UTF-8, from LC_ALL, LC_CTYPE or LANG (the first that is set
/// and not empty), as setlocale(3) would choose it. No locale, C and POSIX are not.
pub fn utf8_locale() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_string_lossy().to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// Quotes `bytes` in single quotes, with characters that cannot be typed inside them written as
/// `$'...'` escapes and single quotes as `'\''`: gnulib's shell-escape-always style.
pub fn shell_escape(bytes: &[u8], utf8: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    // Inside a `$'...'` escape (true) or a plain `'...'` quote (false).
    let mut escaping = false;
    out.push(b'\'');
    let mut rest = bytes;
    while let Some(&b) = rest.first() {
        let printable = match printable_len(rest, utf8) {
            0 => None,
            n => Some(n),
        };
        match (printable, b) {
            (Some(_), b'\'') => {
                // Close the quote or the escape, an escaped quote, then a plain quote again.
                out.extend_from_slice(b"'\\''");
                escaping = false;
                rest = &rest[1..];
            }
            (Some(n), _) => {
                if escaping {
                    out.extend_from_slice(b"''");
                    escaping = false;
                }
                out.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            (None, _) => {
                if !escaping {
                    out.extend_from_slice(b"'$'");
                    escaping = true;
                }
                escape(b, &mut out);
                rest = &rest[1..];
            }
        }
    }
    out.push(b'\'');
    out
}

/// How many bytes at the start of `bytes` form one printable character: 1 for printable ASCII, the
/// sequence's length for a printable UTF-8 character in a UTF-8 locale, 0 for anything to escape.
fn printable_len(bytes: &[u8], utf8: bool) -> usize {
    let b = bytes[0];
    if (0x20..0x7f).contains(&b) {
        return 1;
    }
    if !utf8 || b < 0x80 {
        return 0;
    }
    let len = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match bytes.get(..len).map(std::str::from_utf8) {
        // C1 controls (U+0080 to U+009F) are not printable.
        Some(Ok(s)) if !s.chars().next().is_some_and(char::is_control) => len,
        _ => 0,
    }
}

/// Appends the `$'...'` escape of byte `b`: a letter for the usual controls, three octal digits for
/// the rest.
fn escape(b: u8, out: &mut Vec<u8>) {
    let letter = match b {
        0x07 => Some(b'a'),
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        0x0b => Some(b'v'),
        _ => None,
    };
    out.push(b'\\');
    match letter {
        Some(l) => out.push(l),
        None => out.extend_from_slice(format!("{b:03o}").as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &[u8], utf8: bool) -> String {
        String::from_utf8(wc_name(OsStr::from_bytes(name), utf8)).unwrap()
    }

    /// Every expected form here is what GNU wc 9.1 printed for the same name.
    #[test]
    fn names_with_newlines_are_quoted_as_gnu_wc_does() {
        for (name, quoted) in [
            (&b"x\ny"[..], r"'x'$'\n''y'"),
            (b"\n", r"''$'\n'"),
            (b"\nab", r"''$'\n''ab'"),
            (b"ab\n", r"'ab'$'\n'"),
            (b"a\n\nb", r"'a'$'\n\n''b'"),
            (b"it's\nx", r"'it'\''s'$'\n''x'"),
            (b"a\tb\nc", r"'a'$'\t''b'$'\n''c'"),
            (b"\n'", r"''$'\n'\'''"),
            (b"'\n", r"''\'''$'\n'"),
            (b"a\"b$c\n", r#"'a"b$c'$'\n'"#),
            (b"a\\b\nc", r"'a\b'$'\n''c'"),
            (b"a\x7fb\nc", r"'a'$'\177''b'$'\n''c'"),
            (b"\x07\x08\x0c\r\x0b\n", r"''$'\a\b\f\r\v\n'"),
            (b"\xff\nz", r"''$'\377\n''z'"),
        ] {
            assert_eq!(q(name, false), quoted, "{name:?}");
            assert_eq!(q(name, true), quoted, "{name:?} (UTF-8)");
        }
        // Non-ASCII text is escaped byte by byte in the C locale, kept in a UTF-8 one.
        assert_eq!(q("é\nx".as_bytes(), false), r"''$'\303\251\n''x'");
        assert_eq!(q("é\nx".as_bytes(), true), "'é'$'\\n''x'");
        // A C1 control and a broken sequence are escaped even in UTF-8.
        assert_eq!(q(b"\xc2\x85\n", true), r"''$'\302\205\n'");
        assert_eq!(q(b"\xc3\n", true), r"''$'\303\n'");
    }

    /// Every expected form here is what `ls --quoting-style=shell-escape` (for `name`) and `cp -v` (for
    /// `always`) of GNU coreutils 9.1 printed for the same name, in C.UTF-8.
    #[test]
    fn names_are_quoted_as_ls_and_cp_do() {
        for (raw, shown, cp) in [
            (
                &b"plain-name_1.txt"[..],
                "plain-name_1.txt",
                "'plain-name_1.txt'",
            ),
            (b"-a", "-a", "'-a'"),
            (b"a b", "'a b'", "'a b'"),
            (b"#a", "'#a'", "'#a'"),
            (b"a#b", "a#b", "'a#b'"),
            (b"~a", "'~a'", "'~a'"),
            (b"a~b", "a~b", "'a~b'"),
            (b"{", "'{'", "'{'"),
            (b"a{b", "a{b", "'a{b'"),
            (b"a:b", "a:b", "'a:b'"),
            (b"a@b", "a@b", "'a@b'"),
            (b"a]b", "a]b", "'a]b'"),
            (b"a$b", "'a$b'", "'a$b'"),
            (b"a\\b", r"'a\b'", r"'a\b'"),
            (b"a?b", "'a?b'", "'a?b'"),
            (b"a\"b", "'a\"b'", "'a\"b'"),
            (b"it's", "\"it's\"", "\"it's\""),
            (b"it's x", "\"it's x\"", "\"it's x\""),
            (b"it's$", r"'it'\''s$'", r"'it'\''s$'"),
            (b"a\tb", r"'a'$'\t''b'", r"'a'$'\t''b'"),
            (b"n\nl", r"'n'$'\n''l'", r"'n'$'\n''l'"),
            (b"a\x7fb", r"'a'$'\177''b'", r"'a'$'\177''b'"),
            (b"a\xffb", r"'a'$'\377''b'", r"'a'$'\377''b'"),
            (b"a\xc2\x85", r"'a'$'\302\205'", r"'a'$'\302\205'"),
            ("é".as_bytes(), "é", "'é'"),
            (b"", "''", "''"),
        ] {
            assert_eq!(quote(raw, true, When::Shell), shown, "{raw:?}");
            assert_eq!(quote(raw, true, When::Always), cp, "{raw:?} always");
            // In a row, only what cannot be printed is quoted.
            let printable =
                std::str::from_utf8(raw).is_ok_and(|t| !t.chars().any(char::is_control));
            let in_row = quote(raw, true, When::Unprintable);
            if printable {
                assert_eq!(in_row.as_bytes(), raw, "{raw:?} in a row");
            } else {
                assert_eq!(in_row, cp, "{raw:?} in a row");
            }
        }
        assert_eq!(quote("é".as_bytes(), false, When::Shell), r"''$'\303\251'");
        assert_eq!(
            quote("é".as_bytes(), false, When::Unprintable),
            r"''$'\303\251'"
        );
    }

    #[test]
    fn other_names_are_left_as_they_are() {
        for name in [&b"sp ace"[..], b"tab\tx", b"it's", b"\xff", b""] {
            assert_eq!(wc_name(OsStr::from_bytes(name), false), name);
        }
    }
}
