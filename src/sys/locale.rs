//! The C library's idea of characters, which wc uses: the character-type locale (LC_CTYPE) taken from
//! the environment, whether it encodes characters in UTF-8, which bytes print in a single-byte locale,
//! and how many columns a character takes (iswprint and wcwidth).
//!
//! Asking the C library, rather than carrying tables of our own, makes `mmcount -m -L` agree with wc in
//! whatever locale is set, with whatever Unicode version the system has, and falls back to the C locale
//! exactly when wc does (a locale that is named but not installed).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::Mutex;

/// Serialises setlocale, which is not thread-safe.
static SETLOCALE: Mutex<()> = Mutex::new(());

/// How the locale encodes characters, as the C library reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codeset {
    /// UTF-8.
    Utf8,
    /// Anything else: one byte, one character.
    SingleByte,
}

/// Sets LC_CTYPE from the environment (LC_ALL, LC_CTYPE, LANG), as wc does at start-up, and returns
/// how it encodes characters. A locale that is named but not installed leaves the C locale, as in wc.
pub fn ctype_from_environment() -> Codeset {
    set_ctype("")
}

/// Sets LC_CTYPE to the locale `name` ("" for the environment's) and returns its encoding. A name the
/// C library does not know leaves LC_CTYPE as it was.
pub fn set_ctype(name: &str) -> Codeset {
    let Ok(name) = CString::new(name) else {
        return codeset();
    };
    let _lock = SETLOCALE.lock();
    // SAFETY: `name` is a NUL-terminated string that outlives the call; calls are serialised above, and
    // nothing else in the crate reads or changes the locale while this runs.
    unsafe { libc::setlocale(libc::LC_CTYPE, name.as_ptr()) };
    codeset()
}

fn codeset() -> Codeset {
    // SAFETY: nl_langinfo returns a pointer to a NUL-terminated string owned by the C library, valid
    // until the next setlocale; it is copied out at once.
    let name = unsafe { CStr::from_ptr(libc::nl_langinfo(libc::CODESET)) };
    match name.to_bytes() {
        b"UTF-8" | b"utf-8" | b"UTF8" | b"utf8" => Codeset::Utf8,
        _ => Codeset::SingleByte,
    }
}

/// Whether the byte `b` is a printable character in the current single-byte locale (isprint).
pub fn byte_prints(b: u8) -> bool {
    // SAFETY: isprint takes any value representable as unsigned char, which a u8 is.
    unsafe { libc::isprint(libc::c_int::from(b)) != 0 }
}

/// The columns `c` takes on a terminal in the current locale, as wc -L counts them: wcwidth for a
/// printable character (iswprint), 0 for one that does not print or has no width.
pub fn char_width(c: char) -> u8 {
    let wide = c as libc::wchar_t;
    // SAFETY: iswprint and wcwidth take any wchar_t value and only read the locale's tables.
    let (prints, width) = unsafe { (iswprint(wide as u32), wcwidth(wide)) };
    if prints != 0 && width > 0 {
        width as u8
    } else {
        0
    }
}

unsafe extern "C" {
    /// wcwidth(3), which the libc crate does not declare.
    fn wcwidth(c: libc::wchar_t) -> libc::c_int;
    /// iswprint(3), likewise; its argument is a wint_t, an unsigned int on Linux.
    fn iswprint(c: u32) -> libc::c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_in_the_utf8_locale() {
        // C.UTF-8 is built into the C library (glibc 2.35 and later).
        assert_eq!(set_ctype("C.UTF-8"), Codeset::Utf8);
        assert_eq!(char_width('a'), 1);
        assert_eq!(char_width('日'), 2);
        assert_eq!(char_width('\u{301}'), 0, "a combining accent");
        assert_eq!(char_width('\u{1}'), 0, "a control character");
        assert!(byte_prints(b'a'));
        assert!(!byte_prints(b'\n'));
    }
}
