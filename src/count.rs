//! Counting bytes, byte classes, lines and words: SIMD kernels (bytecount with runtime dispatch for single
//! bytes, auto-vectorised byte-lane sums for classes and word starts) and the [`Counts`] monoid that
//! joins the counts of adjacent pieces exactly, words crossing a boundary included.

use crate::window::Fold;

pub mod text;

pub use text::Encoding;
use text::{Crossing, Edge, Widths, crossing};

/// What to count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Newline bytes, as `wc -l`.
    pub lines: bool,
    /// Maximal runs of bytes that are not white space, as GNU `wc -w` (9.5 and later) in the C locale.
    pub words: bool,
    /// ASCII spaces (0x20).
    pub spaces: bool,
    /// `[:blank:]`: space and tab.
    pub blanks: bool,
    /// White space: space, \t, \n, \v, \f, \r.
    pub whitespace: bool,
    /// Bytes.
    pub bytes: bool,
    /// Occurrences of each of these byte values, one count each, in this order.
    pub byte_values: Vec<u8>,
    /// Characters, as `wc -m`.
    pub chars: bool,
    /// The width of the longest line, as `wc -L`.
    pub max_line: bool,
    /// How the locale encodes characters, for `chars` and `max_line`.
    pub encoding: Encoding,
}

/// The counts of a piece of input, with what is needed to join it to its neighbours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Newline bytes.
    pub lines: u64,
    /// Words.
    pub words: u64,
    /// Spaces.
    pub spaces: u64,
    /// Spaces and tabs.
    pub blanks: u64,
    /// White-space bytes.
    pub whitespace: u64,
    /// Bytes (always counted: it is free).
    pub bytes: u64,
    /// Counts of `Spec::byte_values`, in the same order.
    pub byte_values: Vec<u64>,
    /// Characters.
    pub chars: u64,
    /// Line widths, joined across pieces (see [`Counts::max_line`]).
    widths: Widths,
    /// The encoding characters were counted in, when they were (or widths were).
    text: Option<Encoding>,
    /// The first and last bytes, to find a character split between two pieces.
    head: Edge,
    tail: Edge,
    /// The piece's first byte is part of a word (false when words are not counted).
    starts_in_word: bool,
    /// The piece's last byte is part of a word (false when words are not counted).
    ends_in_word: bool,
}

impl Counts {
    /// Joins the counts of `self` followed by `next`. A word that runs across the join is counted once.
    pub fn then(mut self, next: Counts) -> Counts {
        if next.bytes == 0 {
            return self;
        }
        if self.bytes == 0 {
            return next;
        }
        if let Some(encoding) = self.text {
            let across = match encoding {
                Encoding::Utf8 => crossing(self.tail, next.head),
                Encoding::SingleByte => Crossing::default(),
            };
            self.chars += next.chars + across.chars;
            self.widths = self.widths.then(across.width, next.widths);
            if self.head.is_short() {
                self.head = self.head.join_heads(next.head);
            }
            self.tail = self.tail.join_tails(next.tail);
        }
        let joined = (self.ends_in_word && next.starts_in_word) as u64;
        self.words = self.words + next.words - joined;
        self.lines += next.lines;
        self.spaces += next.spaces;
        self.blanks += next.blanks;
        self.whitespace += next.whitespace;
        self.bytes += next.bytes;
        if self.byte_values.len() < next.byte_values.len() {
            self.byte_values.resize(next.byte_values.len(), 0);
        }
        for (a, b) in self.byte_values.iter_mut().zip(&next.byte_values) {
            *a += b;
        }
        self.ends_in_word = next.ends_in_word;
        self
    }

    /// The width of the longest line (`wc -L`), for the counts of a whole input.
    pub fn max_line(&self) -> u64 {
        self.widths.longest_line()
    }

    /// Adds counts of unrelated inputs (for a total): words are not joined; the longest line is the
    /// longest of both, as in wc's total.
    pub fn add(&mut self, other: &Counts) {
        self.chars += other.chars;
        let longest = self.max_line().max(other.max_line());
        self.widths = Widths::line(longest);
        self.lines += other.lines;
        self.words += other.words;
        self.spaces += other.spaces;
        self.blanks += other.blanks;
        self.whitespace += other.whitespace;
        self.bytes += other.bytes;
        if self.byte_values.len() < other.byte_values.len() {
            self.byte_values.resize(other.byte_values.len(), 0);
        }
        for (a, b) in self.byte_values.iter_mut().zip(&other.byte_values) {
            *a += b;
        }
    }
}

/// Pieces are counted in blocks this big, so that each counter's pass over a block hits the cache.
const BLOCK: usize = 64 << 10;

impl Spec {
    /// Counts `bytes` on its own.
    pub fn count(&self, bytes: &[u8]) -> Counts {
        let mut counts = Counts {
            byte_values: vec![0; self.byte_values.len()],
            ..Counts::default()
        };
        if bytes.is_empty() {
            return counts;
        }
        counts.bytes = bytes.len() as u64;
        if self.words {
            // Only when words are counted: otherwise `then` would take a word away from a count of 0.
            counts.starts_in_word = !is_space(bytes[0]);
            counts.ends_in_word = !is_space(bytes[bytes.len() - 1]);
            counts.words = counts.starts_in_word as u64;
        }
        if self.chars || self.max_line {
            counts.text = Some(self.encoding);
            counts.head = Edge::head(bytes);
            counts.tail = Edge::tail(bytes);
            if self.chars {
                counts.chars = text::chars(bytes, self.encoding);
            }
            if self.max_line {
                counts.widths = Widths::of(bytes, self.encoding);
            }
        }
        let mut prev: Option<u8> = None;
        for block in bytes.chunks(BLOCK) {
            if self.lines {
                counts.lines += bytecount::count(block, b'\n') as u64;
            }
            if self.spaces {
                counts.spaces += bytecount::count(block, b' ') as u64;
            }
            if self.blanks {
                counts.blanks += count_class(block, |b| b == b' ' || b == b'\t');
            }
            if self.whitespace {
                counts.whitespace += count_class(block, is_space);
            }
            for (n, &value) in counts.byte_values.iter_mut().zip(&self.byte_values) {
                *n += bytecount::count(block, value) as u64;
            }
            if self.words {
                counts.words += word_starts_after_first(block);
                if let Some(p) = prev {
                    counts.words += (is_space(p) && !is_space(block[0])) as u64;
                }
                prev = block.last().copied();
            }
        }
        counts
    }
}

/// White space in the C locale: space, \t, \n, \v, \f, \r.
#[inline(always)]
pub fn is_space(b: u8) -> bool {
    b == b' ' || b.wrapping_sub(b'\t') < 5
}

/// Sums `pred` over `bytes` in byte lanes: 255 bytes at most per lane sum, so a u8 cannot overflow, and
/// the loop vectorises into compare-and-subtract over 16 or 32 bytes at a time.
#[inline(always)]
fn count_class(bytes: &[u8], pred: impl Fn(u8) -> bool) -> u64 {
    bytes
        .chunks(255)
        .map(|lane| lane.iter().fold(0u8, |n, &b| n.wrapping_add(pred(b) as u8)) as u64)
        .sum()
}

/// Counts the positions `i >= 1` of `bytes` where a word starts: `bytes[i - 1]` is white space and
/// `bytes[i]` is not.
fn word_starts_after_first(bytes: &[u8]) -> u64 {
    if bytes.len() < 2 {
        return 0;
    }
    let (before, at) = (&bytes[..bytes.len() - 1], &bytes[1..]);
    before
        .chunks(255)
        .zip(at.chunks(255))
        .map(|(b, a)| {
            b.iter().zip(a).fold(0u8, |n, (&p, &c)| {
                n.wrapping_add((is_space(p) & !is_space(c)) as u8)
            }) as u64
        })
        .sum()
}

impl Fold for Spec {
    type Acc = Counts;

    fn empty(&self) -> Counts {
        Counts {
            byte_values: vec![0; self.byte_values.len()],
            ..Counts::default()
        }
    }

    fn chunk(&self, _offset: u64, bytes: &[u8]) -> Counts {
        self.count(bytes)
    }

    fn combine(&self, left: Counts, right: Counts) -> Counts {
        left.then(right)
    }

    fn zeros(&self, _offset: u64, len: u64) -> Counts {
        let mut counts = self.empty();
        if len == 0 {
            return counts;
        }
        // NUL is not white space: a run of them is one word. It is one character in every locale,
        // of no width, and never a line end.
        counts.bytes = len;
        if self.words {
            counts.words = 1;
            counts.starts_in_word = true;
            counts.ends_in_word = true;
        }
        for (n, &value) in counts.byte_values.iter_mut().zip(&self.byte_values) {
            *n = if value == 0 { len } else { 0 };
        }
        if self.chars || self.max_line {
            counts.text = Some(self.encoding);
            counts.chars = if self.chars { len } else { 0 };
            counts.widths = Widths::default();
            let edge = [0u8; 5];
            let n = (len as usize).min(edge.len());
            counts.head = Edge::head(&edge[..n]);
            counts.tail = Edge::tail(&edge[..n]);
        }
        counts
    }
}

/// Parses a byte given as one character or an escape: `\t`, `\n`, `\r`, `\0`, `\\`, `\xHH`.
pub fn parse_byte(text: &str) -> Result<u8, String> {
    let bytes = text.as_bytes();
    match bytes {
        [b] => Ok(*b),
        [b'\\', b't'] => Ok(b'\t'),
        [b'\\', b'n'] => Ok(b'\n'),
        [b'\\', b'r'] => Ok(b'\r'),
        [b'\\', b'0'] => Ok(0),
        [b'\\', b'\\'] => Ok(b'\\'),
        [b'\\', b'x', h @ ..] if h.len() == 2 => u8::from_str_radix(&text[2..], 16)
            .map_err(|_| format!("invalid byte '{text}': \\x needs two hexadecimal digits")),
        _ => Err(format!(
            "invalid byte '{text}': give one character or \\t, \\n, \\r, \\0, \\\\, \\xHH"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all() -> Spec {
        crate::sys::locale::set_ctype("C.UTF-8");
        Spec {
            lines: true,
            words: true,
            spaces: true,
            blanks: true,
            whitespace: true,
            bytes: true,
            byte_values: vec![b'a', 0, 0xff],
            chars: true,
            max_line: true,
            encoding: Encoding::Utf8,
        }
    }

    /// The definitions, one byte at a time.
    fn naive(spec: &Spec, bytes: &[u8]) -> Counts {
        let mut c = spec.empty();
        let mut in_word = false;
        for &b in bytes {
            c.bytes += 1;
            c.lines += (b == b'\n') as u64;
            c.spaces += (b == b' ') as u64;
            c.blanks += (b == b' ' || b == b'\t') as u64;
            c.whitespace += b" \t\n\x0b\x0c\r".contains(&b) as u64;
            for (n, v) in c.byte_values.iter_mut().zip(&spec.byte_values) {
                *n += (b == *v) as u64;
            }
            let space = b" \t\n\x0b\x0c\r".contains(&b);
            if !space && !in_word {
                c.words += 1;
            }
            in_word = !space;
        }
        // Characters and widths have their own reference (count::text's tests): whole, not cut.
        c.chars = text::chars(bytes, spec.encoding);
        c.widths = Widths::of(bytes, spec.encoding);
        c
    }

    #[allow(clippy::type_complexity)]
    fn visible(c: &Counts) -> (u64, u64, u64, u64, u64, u64, Vec<u64>, u64, u64) {
        (
            c.lines,
            c.words,
            c.spaces,
            c.blanks,
            c.whitespace,
            c.bytes,
            c.byte_values.clone(),
            c.chars,
            c.max_line(),
        )
    }

    #[test]
    fn small_cases() {
        let spec = all();
        for text in [
            &b""[..],
            b" ",
            b"a",
            b"a b",
            b"  a\tb\n",
            b"\xff\x00 x",
            b"one two\r\nthree",
        ] {
            assert_eq!(
                visible(&spec.count(text)),
                visible(&naive(&spec, text)),
                "{text:?}"
            );
        }
        assert_eq!(spec.count(b" hello  world \n").words, 2);
    }

    #[test]
    fn byte_escapes() {
        assert_eq!(parse_byte("5"), Ok(b'5'));
        assert_eq!(parse_byte("\\t"), Ok(b'\t'));
        assert_eq!(parse_byte("\\x41"), Ok(b'A'));
        assert_eq!(parse_byte("\\\\"), Ok(b'\\'));
        assert!(parse_byte("ab").is_err());
        assert!(parse_byte("\\xZZ").is_err());
        assert!(parse_byte("").is_err());
    }

    #[test]
    fn joining_pieces_without_counting_words() {
        // Two pieces that each start and end inside a word, counted without -w: joining them used to
        // compute 0 + 0 - 1 words (a panic in debug builds, a wrapped count in release ones).
        let spec = Spec {
            spaces: true,
            ..Spec::default()
        };
        let joined = spec.combine(spec.chunk(0, b"ab c"), spec.chunk(4, b"d ef"));
        assert_eq!(joined.spaces, 2);
        assert_eq!(joined.words, 0);
        assert_eq!(joined.bytes, 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn counts_equal_the_naive_reference(bytes in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\n'), Just(b'\t'), Just(b'a'), any::<u8>()], 0..2000)) {
            let spec = all();
            prop_assert_eq!(visible(&spec.count(&bytes)), visible(&naive(&spec, &bytes)));
        }

        #[test]
        fn zeros_count_as_zero_bytes(len in 0u64..20_000, values in proptest::collection::vec(any::<u8>(), 0..3)) {
            let spec = Spec { byte_values: values, ..all() };
            let zeros = vec![0u8; len as usize];
            let expected = spec.count(&zeros);
            prop_assert_eq!(visible(&spec.zeros(0, len)), visible(&expected));
            // And joined to neighbours as the bytes would be.
            let left = spec.count(b"ab \xc3");
            let right = spec.count(b"\xa9 x");
            let mut whole = b"ab \xc3".to_vec();
            whole.extend(&zeros);
            whole.extend(b"\xa9 x");
            let joined = left.then(spec.zeros(5, len)).then(right);
            prop_assert_eq!(visible(&joined), visible(&spec.count(&whole)));
        }

        #[test]
        fn any_split_gives_the_same_counts(bytes in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'x'), Just(b'\n'), Just(b'\t'), Just(0xc3), Just(0xa9), Just(0xe6)], 0..600), cuts in proptest::collection::vec(0usize..600, 0..6)) {
            let spec = all();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            let mut acc = spec.empty();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                acc = spec.combine(acc, spec.chunk(at as u64, &bytes[at..c]));
                at = c;
            }
            prop_assert_eq!(visible(&acc), visible(&spec.count(&bytes)));
        }
    }
}
