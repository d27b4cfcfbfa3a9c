//! File names as text: a name is bytes, and where it must travel as a JSON string (the tools' output,
//! snapshots) it goes as its lossy UTF-8 form plus, when that form is not exact, the exact bytes in
//! standard base64 (RFC 4648, with padding).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A name as a JSON string can carry it: `text` (lossy when the name is not UTF-8) and, only then, the
/// exact bytes in base64.
pub fn split(name: &OsStr) -> (Cow<'_, str>, Option<String>) {
    match name.to_str() {
        Some(text) => (Cow::Borrowed(text), None),
        None => (name.to_string_lossy(), Some(base64_encode(name.as_bytes()))),
    }
}

/// The name back from its two fields: the base64 bytes when present, else the text.
pub fn join(text: &str, bytes: Option<&str>) -> Result<OsString, String> {
    match bytes {
        None => Ok(OsString::from(text)),
        Some(b64) => base64_decode(b64)
            .map(OsString::from_vec)
            .ok_or_else(|| format!("invalid base64 name {b64:?}")),
    }
}

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 with padding; `None` for anything else (wrong length, a stray character,
/// padding in the middle, or bits left over in the last character).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let chunks = text.len() / 4;
    for (index, chunk) in text.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && index + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            n = (n << 6) | v;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // Bits beyond the last byte must be zero, so that each name has one encoding.
        if decoded[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&decoded[..keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_encode(b"a\xffb"), "Yf9i");
        assert_eq!(base64_encode(&[0xfb, 0xff]), "+/8=");
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zh==", "Zm9*", "Zm=v"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_byte_string_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let bytes = &all[len..];
            assert_eq!(base64_decode(&base64_encode(bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn only_names_that_are_not_utf8_carry_bytes() {
        let plain = OsStr::new("é\nx");
        assert_eq!(split(plain), (Cow::Borrowed("é\nx"), None));
        let odd = OsStr::from_bytes(b"a\xffb");
        let (text, bytes) = split(odd);
        assert_eq!(text, "a\u{fffd}b");
        assert_eq!(bytes.as_deref(), Some("Yf9i"));
        assert_eq!(join(&text, bytes.as_deref()).unwrap(), odd);
        assert_eq!(join("plain", None).unwrap(), "plain");
        assert!(join("x", Some("!")).is_err());
    }
}
