//! The counter's format on disk: decimal digits zero-padded to a fixed width, then a newline
//! (`0000000042`), with parsing that says what it found where it is not a counter.

use std::fmt;

use super::arith::plural;

/// The widest counter: 20 digits (a width of 19 or 20 holds any value up to `i64::MAX`).
pub const MAX_WIDTH: usize = 20;
/// The width of a new counter unless asked otherwise: ten digits, as `0000000042`.
pub const DEFAULT_WIDTH: usize = 10;
/// The longest valid counter file: the widest digits and the newline.
pub const MAX_LEN: usize = MAX_WIDTH + 1;

/// How much of a file longer than a counter is looked at to say what is wrong with it.
pub const DIAGNOSE_LEN: usize = 4096;

/// The largest value a counter of `width` digits holds.
pub fn max_value(width: usize) -> i64 {
    if width >= 19 {
        i64::MAX
    } else {
        10i64.pow(width as u32) - 1
    }
}

/// A valid counter: `0 <= value <= max_value(width)` and `1 <= width <= MAX_WIDTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    value: i64,
    width: usize,
}

impl Counter {
    /// A counter, if `value` fits in `width` digits and the width is allowed.
    pub fn new(value: i64, width: usize) -> Option<Counter> {
        ((1..=MAX_WIDTH).contains(&width) && (0..=max_value(width)).contains(&value))
            .then_some(Counter { value, width })
    }

    /// The value.
    pub fn value(&self) -> i64 {
        self.value
    }

    /// The number of digits stored.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The stored form: the digits, zero-padded to the width, and a newline.
    pub fn encode(&self) -> Encoded {
        let mut bytes = [b'0'; MAX_LEN];
        let mut rest = self.value as u64;
        let mut at = self.width;
        while rest > 0 {
            at -= 1;
            bytes[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        bytes[self.width] = b'\n';
        Encoded {
            bytes,
            len: self.width + 1,
        }
    }
}

/// A counter in its stored form, without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Encoded {
    bytes: [u8; MAX_LEN],
    len: usize,
}

impl Encoded {
    /// Digits and newline, exactly as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The digits alone.
    pub fn digits(&self) -> &[u8] {
        &self.bytes[..self.len - 1]
    }
}

/// What was wrong with a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A byte other than a digit before the newline.
    NotDigit {
        /// Its offset.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// Digits to the end of the file, with no newline after them.
    NoNewline {
        /// How many digits.
        digits: usize,
    },
    /// The newline comes first: no digits at all.
    NoDigits,
    /// More digits than the widest counter holds.
    TooWide {
        /// How many digits were seen (at least this many when `more` is set).
        digits: usize,
        /// Whether the file goes on beyond what was looked at.
        more: bool,
    },
    /// Bytes after the newline: the file is longer than its counter.
    Trailing {
        /// Where the newline is.
        newline: usize,
        /// The file's length.
        len: u64,
    },
    /// A number beyond `i64::MAX`.
    TooLarge {
        /// The digits, as found.
        digits: String,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a counter: ")?;
        match self {
            Malformed::NotDigit { at, byte } if byte.is_ascii_graphic() || *byte == b' ' => {
                write!(f, "found '{}' at byte {at}, not a digit", *byte as char)
            }
            Malformed::NotDigit { at, byte } => {
                write!(f, "found byte 0x{byte:02x} at byte {at}, not a digit")
            }
            Malformed::NoNewline { digits } => {
                write!(f, "no newline after the {digits} digits")
            }
            Malformed::NoDigits => f.write_str("found a newline where digits were expected"),
            Malformed::TooWide {
                digits,
                more: false,
            } => write!(
                f,
                "found {digits} digits, more than the widest counter ({MAX_WIDTH})"
            ),
            Malformed::TooWide { digits, more: true } => write!(
                f,
                "the file starts with {digits} digits, more than the widest counter ({MAX_WIDTH})"
            ),
            Malformed::Trailing { newline, len } => {
                let more = len - 1 - *newline as u64;
                write!(
                    f,
                    "found {more} more {} after the newline at byte {newline} (the file is {len} bytes)",
                    plural(more, "byte", "bytes")
                )
            }
            Malformed::TooLarge { digits } => write!(
                f,
                "found {digits}, larger than the largest value {}",
                i64::MAX
            ),
        }
    }
}

/// Parses a counter from the first bytes of a file of `len` bytes; `bytes` holds all of them, or at
/// least the first `MAX_LEN + 1` when the file is longer (the more, the more precise the diagnosis).
pub fn parse(bytes: &[u8], len: u64) -> Result<Counter, Malformed> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let more = len > bytes.len() as u64;
    if digits == bytes.len() {
        return Err(if digits > MAX_WIDTH || more {
            Malformed::TooWide { digits, more }
        } else {
            Malformed::NoNewline { digits }
        });
    }
    let byte = bytes[digits];
    if byte != b'\n' {
        return Err(Malformed::NotDigit { at: digits, byte });
    }
    if digits == 0 {
        return Err(Malformed::NoDigits);
    }
    if digits > MAX_WIDTH {
        return Err(Malformed::TooWide {
            digits,
            more: false,
        });
    }
    if len > digits as u64 + 1 {
        return Err(Malformed::Trailing {
            newline: digits,
            len,
        });
    }
    let value = bytes[..digits].iter().try_fold(0i64, |v, &d| {
        v.checked_mul(10)?.checked_add((d - b'0') as i64)
    });
    match value {
        Some(value) => Ok(Counter {
            value,
            width: digits,
        }),
        None => Err(Malformed::TooLarge {
            digits: String::from_utf8_lossy(&bytes[..digits]).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(bytes: &[u8]) -> Result<Counter, Malformed> {
        parse(&bytes[..bytes.len().min(DIAGNOSE_LEN)], bytes.len() as u64)
    }

    #[test]
    fn reads_the_ten_digit_format() {
        let c = parse_all(b"0000000041\n").unwrap();
        assert_eq!((c.value(), c.width()), (41, 10));
        assert_eq!(c.encode().as_bytes(), b"0000000041\n");
        assert_eq!(parse_all(b"7\n").unwrap().value(), 7);
        let widest = parse_all(b"09223372036854775807\n").unwrap();
        assert_eq!((widest.value(), widest.width()), (i64::MAX, 20));
    }

    #[test]
    fn says_what_was_found() {
        let cases: &[(&[u8], Malformed)] = &[
            (b"00000x0041\n", Malformed::NotDigit { at: 5, byte: b'x' }),
            (b"-000000001\n", Malformed::NotDigit { at: 0, byte: b'-' }),
            (b"0000000041", Malformed::NoNewline { digits: 10 }),
            (b"\n", Malformed::NoDigits),
            (b"41\n\n", Malformed::Trailing { newline: 2, len: 4 }),
            (
                b"000000000000000000001\n",
                Malformed::TooWide {
                    digits: 21,
                    more: false,
                },
            ),
            (
                b"99999999999999999999\n",
                Malformed::TooLarge {
                    digits: "99999999999999999999".into(),
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(&parse_all(bytes).unwrap_err(), want, "{bytes:?}");
        }
        let long = vec![b'1'; 5000];
        assert_eq!(
            parse_all(&long).unwrap_err(),
            Malformed::TooWide {
                digits: DIAGNOSE_LEN,
                more: true
            }
        );
        assert_eq!(
            parse(&long[..MAX_LEN + 1], 5000).unwrap_err(),
            Malformed::TooWide {
                digits: MAX_LEN + 1,
                more: true
            }
        );
        let mut text = b"0000000001\n".to_vec();
        text.extend_from_slice(&[b'x'; 100]);
        assert_eq!(
            parse_all(&text).unwrap_err().to_string(),
            "not a counter: found 100 more bytes after the newline at byte 10 (the file is 111 bytes)"
        );
        assert_eq!(
            parse_all(b"12\0\n").unwrap_err().to_string(),
            "not a counter: found byte 0x00 at byte 2, not a digit"
        );
    }

    proptest! {
        #[test]
        fn format_round_trips(width in 1usize..=MAX_WIDTH, seed in any::<u64>()) {
            let value = (seed % (max_value(width) as u64).saturating_add(1).max(1)) as i64;
            let value = value.min(max_value(width));
            let counter = Counter::new(value, width).unwrap();
            let encoded = counter.encode();
            prop_assert_eq!(encoded.as_bytes().len(), width + 1);
            prop_assert_eq!(parse_all(encoded.as_bytes()), Ok(counter));
            let text = format!("{value:0width$}\n");
            prop_assert_eq!(encoded.as_bytes(), text.as_bytes());
        }

        #[test]
        fn anything_parsed_encodes_back_to_itself(bytes in proptest::collection::vec(
            prop_oneof![4 => b'0'..=b'9', 1 => Just(b'\n'), 1 => any::<u8>()], 0..30)) {
            if let Ok(counter) = parse_all(&bytes) {
                let encoded = counter.encode();
                prop_assert_eq!(encoded.as_bytes(), &bytes[..]);
            }
        }
    }
}
