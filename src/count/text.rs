//! Characters and line widths as `wc -m` and `wc -L` count them, in a single-byte locale (C) or a
//! UTF-8 one, over pieces counted apart and joined exactly: a character split between two pieces is
//! found when they are joined, and a line's width is carried across pieces as a function of the
//! column its piece starts at (tabs make it depend on that column).
//!
//! In UTF-8, a character is a complete sequence as the C library decodes it: no overlong forms and no
//! surrogates, but the original UTF-8's values past U+10FFFF (5- and 6-byte forms) are characters
//! (of no width); other bytes are neither characters nor width, as in wc. A line ends at `\n`,
//! `\r` or `\f`; a tab moves to the next multiple of 8; a printable character adds its width (0 for
//! combining marks, 2 for East Asian wide ones); other characters add nothing. What prints and how
//! wide it is are the C library's answers for the LC_CTYPE locale in force when they are first needed
//! ([`locale::ctype_from_environment`] sets it as wc does), so the counts agree with wc's.

use std::sync::OnceLock;

use crate::sys::locale;

/// How the locale encodes characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// One byte, one character (the C locale): printable means 0x20 to 0x7e.
    #[default]
    SingleByte,
    /// UTF-8.
    Utf8,
}

/// The longest sequence the C library decodes as one character.
const LONGEST: usize = 6;

/// Up to 5 bytes at one end of a piece: enough to find a character of at most 6 bytes that crosses
/// the join with a neighbour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edge {
    bytes: [u8; LONGEST - 1],
    len: u8,
}

impl Edge {
    /// The first bytes of `bytes` (at most 5).
    pub fn head(bytes: &[u8]) -> Edge {
        Edge::of(&bytes[..bytes.len().min(LONGEST - 1)])
    }

    /// The last bytes of `bytes` (at most 5).
    pub fn tail(bytes: &[u8]) -> Edge {
        Edge::of(&bytes[bytes.len().saturating_sub(LONGEST - 1)..])
    }

    /// Whether the edge holds every byte of its piece (a piece shorter than an edge).
    pub fn is_short(&self) -> bool {
        (self.len as usize) < LONGEST - 1
    }

    fn of(bytes: &[u8]) -> Edge {
        let mut edge = Edge::default();
        edge.bytes[..bytes.len()].copy_from_slice(bytes);
        edge.len = bytes.len() as u8;
        edge
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The edge of two pieces joined, given each one's edge on this side (head: `self` first).
    pub fn join_heads(self, next: Edge) -> Edge {
        let mut both = self.as_slice().to_vec();
        both.extend_from_slice(next.as_slice());
        Edge::head(&both)
    }

    /// The tail of two pieces joined, given each one's tail.
    pub fn join_tails(self, next: Edge) -> Edge {
        let mut both = self.as_slice().to_vec();
        both.extend_from_slice(next.as_slice());
        Edge::tail(&both)
    }
}

/// The characters found across a join, and their width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crossing {
    /// Characters that start before the join and end after it.
    pub chars: u64,
    /// Their display width.
    pub width: u64,
}

/// The UTF-8 characters that start in `tail` (the last bytes of one piece) and end in `head` (the
/// first bytes of the next). A character that runs past `head` too is left for a later join.
pub fn crossing(tail: Edge, head: Edge) -> Crossing {
    let k = tail.len as usize;
    let mut view = [0u8; 2 * (LONGEST - 1)];
    view[..k].copy_from_slice(tail.as_slice());
    view[k..k + head.len as usize].copy_from_slice(head.as_slice());
    let view = &view[..k + head.len as usize];
    let mut found = Crossing::default();
    for start in 0..k {
        if let Some((len, c)) = sequence(&view[start..])
            && start + len > k
        {
            found.chars += 1;
            found.width += c.map_or(0, char_width);
        }
    }
    found
}

/// The character that `bytes` starts with, as the C library's UTF-8 decoder reads it: its length and,
/// when it is a Unicode scalar value, the char. None for a byte that starts no complete sequence.
fn sequence(bytes: &[u8]) -> Option<(usize, Option<char>)> {
    let lead = *bytes.first()?;
    // The length, and the range of the second byte that rules out overlong forms and surrogates.
    let (len, second) = match lead {
        0x00..=0x7f => return Some((1, Some(lead as char))),
        0xc2..=0xdf => (2, 0x80..=0xbf),
        0xe0 => (3, 0xa0..=0xbf),
        0xed => (3, 0x80..=0x9f),
        0xe1..=0xef => (3, 0x80..=0xbf),
        0xf0 => (4, 0x90..=0xbf),
        0xf1..=0xf7 => (4, 0x80..=0xbf),
        0xf8 => (5, 0x88..=0xbf),
        0xf9..=0xfb => (5, 0x80..=0xbf),
        0xfc => (6, 0x84..=0xbf),
        0xfd => (6, 0x80..=0xbf),
        _ => return None,
    };
    let bytes = bytes.get(..len)?;
    if !second.contains(&bytes[1]) || !bytes[2..].iter().all(|&b| b & 0xc0 == 0x80) {
        return None;
    }
    let c = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.chars().next());
    Some((len, c))
}

/// What [`each_char`] finds: a run of valid UTF-8, or one character past U+10FFFF (which Unicode
/// does not have, but the C library decodes).
enum Found<'a> {
    Run(&'a str),
    Beyond,
}

/// Calls `f` for the characters of `bytes` in order, skipping the bytes that start none. Valid UTF-8
/// goes through the standard library's fast validation, in runs.
fn each_char(mut bytes: &[u8], mut f: impl FnMut(Found<'_>)) {
    while let Some(chunk) = bytes.utf8_chunks().next() {
        let valid = chunk.valid();
        f(Found::Run(valid));
        if chunk.invalid().is_empty() {
            return;
        }
        let at = valid.len();
        // The standard library refused it, so a sequence the C library takes is past U+10FFFF.
        bytes = match sequence(&bytes[at..]) {
            Some((len, _)) => {
                f(Found::Beyond);
                &bytes[at + len..]
            }
            None => &bytes[at + 1..],
        };
    }
}

/// The characters of `bytes` on their own: complete sequences (bytes, in a single-byte locale).
pub fn chars(bytes: &[u8], encoding: Encoding) -> u64 {
    match encoding {
        Encoding::SingleByte => bytes.len() as u64,
        Encoding::Utf8 => {
            let mut n = 0u64;
            each_char(bytes, |found| {
                n += match found {
                    Found::Run(run) => bytecount::num_chars(run.as_bytes()) as u64,
                    Found::Beyond => 1,
                }
            });
            n
        }
    }
}

/// Characters below this have their width looked up in a table made once; the rest (rare: planes 4
/// to 16) ask the C library each time.
const TABLE: u32 = 0x40000;

/// The width a printable character adds to a line (wcwidth of what iswprint accepts).
fn char_width(c: char) -> u64 {
    if c.is_ascii() {
        return u64::from(byte_prints(c as u8));
    }
    static WIDTHS: OnceLock<Box<[u8]>> = OnceLock::new();
    let widths = WIDTHS.get_or_init(|| {
        (0..TABLE)
            .map(|cp| char::from_u32(cp).map_or(0, locale::char_width))
            .collect()
    });
    u64::from(
        widths
            .get(c as usize)
            .copied()
            .unwrap_or_else(|| locale::char_width(c)),
    )
}

/// Whether byte `b` prints in a single-byte locale (isprint), from a table made once.
fn byte_prints(b: u8) -> bool {
    static PRINTS: OnceLock<[bool; 256]> = OnceLock::new();
    PRINTS.get_or_init(|| std::array::from_fn(|b| locale::byte_prints(b as u8)))[b as usize]
}

/// The next tab stop after column `column`.
fn tab(column: u64) -> u64 {
    column + 8 - column % 8
}

/// How a run of text without a line end moves the column: `c + n`, or, once a tab is met,
/// `tab(c + n) + after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// No tab: `c + n`.
    Plus(u64),
    /// A tab after `n` columns, then `after` more: `tab(c + n) + after`.
    Tab(u64, u64),
}

impl Default for Advance {
    fn default() -> Self {
        Advance::Plus(0)
    }
}

impl Advance {
    /// The column after the run, for a run starting at `column`.
    pub fn apply(self, column: u64) -> u64 {
        match self {
            Advance::Plus(n) => column + n,
            Advance::Tab(n, after) => tab(column + n) + after,
        }
    }

    /// This run followed by `next`.
    pub fn then(self, next: Advance) -> Advance {
        match (self, next) {
            (Advance::Plus(a), Advance::Plus(b)) => Advance::Plus(a + b),
            (Advance::Plus(a), Advance::Tab(b, after)) => Advance::Tab(a + b, after),
            (Advance::Tab(n, a), Advance::Plus(b)) => Advance::Tab(n, a + b),
            // tab(c + n) is a multiple of 8, so the second tab stop is tab(c + n) + tab(a + b).
            (Advance::Tab(n, a), Advance::Tab(b, after)) => Advance::Tab(n, tab(a + b) + after),
        }
    }

    fn plus(self, n: u64) -> Advance {
        self.then(Advance::Plus(n))
    }

    fn tab(self) -> Advance {
        self.then(Advance::Tab(0, 0))
    }
}

/// The line widths of a piece: how its text before the first line end moves the column, the longest
/// line that both starts and ends inside it, and the column at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Widths {
    /// The text up to the first line end (all of it when there is none).
    head: Advance,
    /// Whether the piece holds a line end.
    ended: bool,
    /// The longest line between two line ends of the piece.
    longest: u64,
    /// The column at the end, counted from the last line end (when `ended`).
    tail: u64,
}

impl Widths {
    /// One line of `width` columns that does not end.
    pub fn line(width: u64) -> Widths {
        Widths {
            head: Advance::Plus(width),
            ..Widths::default()
        }
    }

    /// The widths of `bytes` on their own.
    pub fn of(bytes: &[u8], encoding: Encoding) -> Widths {
        let mut w = Scan::default();
        match encoding {
            Encoding::SingleByte => {
                for &b in bytes {
                    match b {
                        b'\n' | b'\r' | 0x0c => w.line_end(),
                        b'\t' => w.tab(),
                        b if byte_prints(b) => w.plus(1),
                        _ => {}
                    }
                }
            }
            // A character past U+10FFFF is not printable: it has no width.
            Encoding::Utf8 => each_char(bytes, |found| {
                if let Found::Run(run) = found {
                    for c in run.chars() {
                        match c {
                            '\n' | '\r' | '\x0c' => w.line_end(),
                            '\t' => w.tab(),
                            c => w.plus(char_width(c)),
                        }
                    }
                }
            }),
        }
        w.widths
    }

    /// The widths of this piece, then `gap` more columns (a character found across the join), then
    /// `next`.
    pub fn then(self, gap: u64, next: Widths) -> Widths {
        let into_next = Advance::Plus(gap).then(next.head);
        match (self.ended, next.ended) {
            (false, _) => Widths {
                head: self.head.then(into_next),
                ..next
            },
            (true, false) => Widths {
                tail: into_next.apply(self.tail),
                ..self
            },
            (true, true) => Widths {
                longest: self
                    .longest
                    .max(into_next.apply(self.tail))
                    .max(next.longest),
                tail: next.tail,
                ..self
            },
        }
    }

    /// The longest line of a whole input whose widths these are (its last line need not end).
    pub fn longest_line(&self) -> u64 {
        let first = self.head.apply(0);
        if self.ended {
            first.max(self.longest).max(self.tail)
        } else {
            first
        }
    }
}

/// The state of a left-to-right scan of one piece.
#[derive(Debug, Default)]
struct Scan {
    widths: Widths,
}

impl Scan {
    fn plus(&mut self, n: u64) {
        if self.widths.ended {
            self.widths.tail += n;
        } else {
            self.widths.head = self.widths.head.plus(n);
        }
    }

    fn tab(&mut self) {
        if self.widths.ended {
            self.widths.tail = tab(self.widths.tail);
        } else {
            self.widths.head = self.widths.head.tab();
        }
    }

    fn line_end(&mut self) {
        if self.widths.ended {
            self.widths.longest = self.widths.longest.max(self.widths.tail);
        }
        self.widths.ended = true;
        self.widths.tail = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// wc's loop, one character at a time.
    fn naive(bytes: &[u8], encoding: Encoding) -> (u64, u64) {
        let (mut chars, mut column, mut longest) = (0u64, 0u64, 0u64);
        let mut step = |c: Option<char>, b: u8| match (c, b) {
            (_, b'\n' | b'\r' | 0x0c) => {
                longest = longest.max(column);
                column = 0;
            }
            (_, b'\t') => column = tab(column),
            (Some(c), _) => column += char_width(c),
            (None, b) if byte_prints(b) => column += 1,
            _ => {}
        };
        match encoding {
            Encoding::SingleByte => {
                for &b in bytes {
                    chars += 1;
                    step(None, b);
                }
            }
            Encoding::Utf8 => {
                let mut at = 0;
                while at < bytes.len() {
                    match sequence(&bytes[at..]) {
                        Some((len, c)) => {
                            chars += 1;
                            let b = if len == 1 { bytes[at] } else { 0x80 };
                            step(Some(c.unwrap_or('\u{0}')), b);
                            at += len;
                        }
                        None => at += 1,
                    }
                }
            }
        }
        (chars, longest.max(column))
    }

    /// Counts `bytes` cut at `cuts`, joining the pieces as the counting core does.
    fn pieces(bytes: &[u8], cuts: &[usize], encoding: Encoding) -> (u64, u64) {
        let mut at = 0;
        let mut acc: Option<(u64, Widths, Edge, Edge, usize)> = None;
        for &cut in cuts.iter().chain([&bytes.len()]) {
            let piece = &bytes[at..cut];
            at = cut;
            if piece.is_empty() {
                continue;
            }
            let next = (
                chars(piece, encoding),
                Widths::of(piece, encoding),
                Edge::head(piece),
                Edge::tail(piece),
                piece.len(),
            );
            acc = Some(match acc {
                None => next,
                Some((c, w, head, tail, len)) => {
                    let x = match encoding {
                        Encoding::Utf8 => crossing(tail, next.2),
                        Encoding::SingleByte => Crossing::default(),
                    };
                    let head = if head.is_short() {
                        head.join_heads(next.2)
                    } else {
                        head
                    };
                    (
                        c + next.0 + x.chars,
                        w.then(x.width, next.1),
                        head,
                        tail.join_tails(next.3),
                        len + next.4,
                    )
                }
            });
        }
        acc.map_or((0, 0), |(c, w, ..)| (c, w.longest_line()))
    }

    #[test]
    fn known_lines() {
        locale::set_ctype("C.UTF-8");
        let utf8 = Encoding::Utf8;
        assert_eq!(
            naive(b"ab\tc\r\nxyz\x01\xc3\xa9\n", Encoding::SingleByte).1,
            9
        );
        assert_eq!(naive(b"ab\tc\r\nxyz\x01\xc3\xa9\n", utf8).1, 9);
        assert_eq!(naive("日本語\n".as_bytes(), utf8), (4, 6));
        assert_eq!(naive(b"a\xff\xc3\xa9b\xe2\x82", utf8).0, 3);
        // The C library's decoder: past U+10FFFF and 5-byte forms are characters; surrogates and
        // overlong forms are not.
        for (bytes, n) in [
            (&b"\xed\xa0\x80"[..], 0),
            (b"\xf4\x90\x80\x80", 1),
            (b"\xc0\x80", 0),
            (b"\xe0\x80\x80", 0),
            (b"\xf8\x88\x80\x80\x80", 1),
            (b"\xef\xbf\xbe", 1),
            (b"\xf0\x80\x80\x80", 0),
        ] {
            assert_eq!(chars(bytes, utf8), n, "{bytes:?}");
            let cuts: Vec<usize> = [1, 2, 3].iter().map(|&c| c.min(bytes.len())).collect();
            assert_eq!(pieces(bytes, &cuts, utf8).0, n, "{bytes:?}");
        }
        assert_eq!(pieces("日本語\n".as_bytes(), &[1, 2, 4, 5], utf8), (4, 6));
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        let parts = prop_oneof![
            Just(b"\t".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"ab".to_vec()),
            Just("é".as_bytes().to_vec()),
            Just("日".as_bytes().to_vec()),
            Just("\u{301}".as_bytes().to_vec()),
            Just("😀".as_bytes().to_vec()),
            Just(b"\xf8\x88\x80\x80\x80".to_vec()),
            Just(b"\xf4\x90\x80\x80".to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(parts, 0..80).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_split_counts_as_the_whole(bytes in text(), cuts in proptest::collection::vec(0usize..400, 0..8)) {
            locale::set_ctype("C.UTF-8");
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            for encoding in [Encoding::SingleByte, Encoding::Utf8] {
                prop_assert_eq!(pieces(&bytes, &cuts, encoding), naive(&bytes, encoding));
            }
        }
    }
}
