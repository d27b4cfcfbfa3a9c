//! The one byte range of the crate, `[start, end)` in a file, and the arithmetic on it: page
//! rounding, clamping to a file's size, intersection, merging sorted lists, and splitting into
//! windows. Parsed `--range` arguments, data extents, residency runs, advice spans, snapshot ranges
//! and scan windows are all built from it.

use serde::{Serialize, Serializer};

use crate::map::page_size;

/// The bytes `[start, end)` of a file; `start <= end` always holds, so a range is never inverted.
///
/// [`Range::ALL`] (to the largest offset) stands for "to the end of the file" until it is clamped to
/// a size. Serialised as the pair `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Range {
    start: u64,
    end: u64,
}

impl Range {
    /// Every byte of any file: `[0, u64::MAX)`.
    pub const ALL: Range = Range {
        start: 0,
        end: u64::MAX,
    };

    /// `[start, end)`; an `end` before `start` gives the empty range at `start`.
    pub const fn new(start: u64, end: u64) -> Range {
        Range {
            start,
            end: if end < start { start } else { end },
        }
    }

    /// `len` bytes from `offset`, or `None` when the end would pass the largest offset.
    pub fn at(offset: u64, len: u64) -> Option<Range> {
        offset.checked_add(len).map(|end| Range::new(offset, end))
    }

    /// `len` bytes from `offset`, ending at the largest offset when it would pass it: for lengths that
    /// mean "at most this much", such as a user's `OFFSET:LENGTH`.
    pub fn at_most(offset: u64, len: u64) -> Range {
        Range::new(offset, offset.saturating_add(len))
    }

    /// The first `len` bytes: `[0, len)`.
    pub const fn upto(len: u64) -> Range {
        Range { start: 0, end: len }
    }

    /// First byte.
    pub const fn start(self) -> u64 {
        self.start
    }

    /// One past the last byte.
    pub const fn end(self) -> u64 {
        self.end
    }

    /// Number of bytes.
    pub const fn len(self) -> u64 {
        self.end - self.start
    }

    /// Whether the range holds no byte.
    pub const fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The range as `(start, end)`.
    pub const fn bounds(self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// The part inside a file of `size` bytes: empty at `size` when the range starts past it.
    pub fn clamp(self, size: u64) -> Range {
        Range::new(self.start.min(size), self.end.min(size))
    }

    /// The bytes in both ranges: empty (at the later start) when they are disjoint.
    pub fn intersect(self, other: Range) -> Range {
        Range::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// The range and `other` as one, when they touch or overlap.
    pub fn join(self, other: Range) -> Option<Range> {
        (self.start <= other.end && other.start <= self.end)
            .then(|| Range::new(self.start.min(other.start), self.end.max(other.end)))
    }

    /// The whole pages the range touches (start rounded down, end up to a page boundary); an empty
    /// range touches none and stays as it is. An end within a page of the largest offset stays put.
    pub fn pages(self) -> Range {
        if self.is_empty() {
            return self;
        }
        Range::new(align_down(self.start), align_up(self.end))
    }

    /// Number of pages the range touches.
    pub fn page_count(self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let page = page_size() as u64;
        self.end.div_ceil(page) - self.start / page
    }

    /// The range in pieces of at most `size` bytes (rounded up to whole pages), in order, whose inner
    /// boundaries fall on multiples of that size: pieces line up whatever the range, so every piece
    /// but the first starts on a page.
    pub fn windows(self, size: u64) -> impl Iterator<Item = Range> {
        let page = page_size() as u64;
        let size = size.max(page).div_ceil(page).saturating_mul(page);
        let end = self.end;
        let mut at = self.start;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let next = ((at / size) + 1).saturating_mul(size).min(end);
            let piece = Range::new(at, next);
            at = next;
            Some(piece)
        })
    }
}

impl Serialize for Range {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.start, self.end).serialize(serializer)
    }
}

/// Rounds `offset` down to a page boundary.
pub fn align_down(offset: u64) -> u64 {
    offset - offset % page_size() as u64
}

/// Rounds `offset` up to a page boundary; within a page of the largest offset, the largest offset.
pub fn align_up(offset: u64) -> u64 {
    let page = page_size() as u64;
    offset.div_ceil(page).saturating_mul(page)
}

/// Appends `range` to `out`, a sorted list of disjoint ranges, merging it into the last one when they
/// touch or overlap; empty ranges are dropped. `range` must not start before the last one.
pub fn append(out: &mut Vec<Range>, range: Range) {
    if range.is_empty() {
        return;
    }
    match out
        .last_mut()
        .and_then(|last| Some((last.join(range)?, last)))
    {
        Some((joined, last)) => *last = joined,
        None => out.push(range),
    }
}

/// `ranges` sorted, with the empty ones dropped and the rest merged where they touch or overlap.
pub fn merged(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        append(&mut out, range);
    }
    out
}

/// The bytes in both of two sorted lists of disjoint ranges.
pub fn intersect(a: &[Range], b: &[Range]) -> Vec<Range> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        append(&mut out, a[i].intersect(b[j]));
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The total length of ranges.
pub fn total(ranges: &[Range]) -> u64 {
    ranges.iter().map(|r| r.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> u64 {
        page_size() as u64
    }

    #[test]
    fn constructors_and_accessors() {
        assert_eq!(Range::at(10, 5), Some(Range::new(10, 15)));
        assert_eq!(Range::at(u64::MAX, 1), None);
        assert_eq!(Range::at(u64::MAX, 0), Some(Range::new(u64::MAX, u64::MAX)));
        assert_eq!(Range::at_most(5, u64::MAX), Range::new(5, u64::MAX));
        assert_eq!(Range::new(9, 3), Range::new(9, 9), "never inverted");
        let r = Range::new(3, 10);
        assert_eq!(
            (r.start(), r.end(), r.len(), r.bounds()),
            (3, 10, 7, (3, 10))
        );
        assert!(!r.is_empty());
        assert!(Range::upto(0).is_empty());
        assert_eq!(Range::ALL.clamp(4), Range::upto(4));
        assert_eq!(Range::new(10, 20).clamp(4), Range::new(4, 4));
        assert_eq!(Range::new(1, 101).clamp(4), Range::new(1, 4));
        assert_eq!(serde_json::to_string(&r).unwrap(), "[3,10]");
    }

    #[test]
    fn page_arithmetic() {
        let p = p();
        assert_eq!(align_down(p + 1), p);
        assert_eq!(align_up(1), p);
        assert_eq!(align_up(p), p);
        assert_eq!(align_up(u64::MAX - 1), u64::MAX);
        assert_eq!(Range::new(10, 11).pages(), Range::upto(p));
        assert_eq!(Range::new(p, p).pages(), Range::new(p, p));
        assert_eq!(Range::new(p + 1, p + 1).pages().len(), 0);
        assert_eq!(Range::ALL.pages(), Range::ALL);
        assert_eq!(Range::upto(0).page_count(), 0);
        assert_eq!(Range::upto(1).page_count(), 1);
        assert_eq!(Range::new(p - 1, p + 1).page_count(), 2);
        assert_eq!(Range::new(p, 2 * p).page_count(), 1);
    }

    #[test]
    fn windows_line_up() {
        let p = p();
        let w: Vec<Range> = Range::upto(3 * p).windows(2 * p).collect();
        assert_eq!(w, [Range::upto(2 * p), Range::new(2 * p, 3 * p)]);
        let w: Vec<Range> = Range::new(p, 2 * p).windows(1).collect();
        assert_eq!(w, [Range::new(p, 2 * p)], "at least a page");
        let w: Vec<Range> = Range::new(p + 7, 4 * p).windows(2 * p).collect();
        assert_eq!(w, [Range::new(p + 7, 2 * p), Range::new(2 * p, 4 * p)]);
        assert_eq!(Range::new(5, 5).windows(p).count(), 0);
        assert_eq!(
            Range::new(u64::MAX - 1, u64::MAX).windows(u64::MAX).count(),
            1
        );
    }

    #[test]
    fn list_arithmetic() {
        let r = |s, e| Range::new(s, e);
        assert_eq!(
            intersect(&[r(0, 10), r(20, 30)], &[r(5, 25)]),
            [r(5, 10), r(20, 25)]
        );
        assert_eq!(intersect(&[r(0, 10)], &[r(10, 20)]), []);
        assert_eq!(intersect(&[r(0, 100)], &[r(0, 5), r(5, 9)]), [r(0, 9)]);
        assert_eq!(total(&[r(0, 10), r(20, 25)]), 15);
        assert_eq!(
            merged(vec![r(20, 30), r(0, 5), r(5, 6), r(7, 7), r(25, 40)]),
            [r(0, 6), r(20, 40)]
        );
        assert_eq!(r(0, 5).join(r(6, 9)), None);
        assert_eq!(r(0, 5).join(r(5, 9)), Some(r(0, 9)));
    }

    /// Sorted, disjoint ranges inside [0, 64) from a bitmap of 64 bits.
    fn ranges_of(bits: u64) -> Vec<Range> {
        let mut out = Vec::new();
        for i in 0..64 {
            if bits >> i & 1 == 1 {
                append(&mut out, Range::new(i, i + 1));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn lists_agree_with_bitmaps(a: u64, b: u64) {
            prop_assert_eq!(intersect(&ranges_of(a), &ranges_of(b)), ranges_of(a & b));
            prop_assert_eq!(total(&ranges_of(a)), u64::from(a.count_ones()));
            let mut both = ranges_of(a);
            both.extend(ranges_of(b));
            prop_assert_eq!(merged(both), ranges_of(a | b));
        }

        #[test]
        fn one_range_agrees_with_the_naive_sets(s1 in 0u64..200, l1 in 0u64..200, s2 in 0u64..200, l2 in 0u64..200, size in 0u64..400) {
            let (a, b) = (Range::at(s1, l1).unwrap(), Range::at(s2, l2).unwrap());
            let set = |r: Range| (r.start()..r.end()).collect::<std::collections::BTreeSet<u64>>();
            let both: std::collections::BTreeSet<u64> = set(a).intersection(&set(b)).copied().collect();
            let i = a.intersect(b);
            prop_assert_eq!(set(i), both);
            prop_assert!(i.start() <= i.end());
            let c = a.clamp(size);
            prop_assert_eq!(set(c), set(a).into_iter().filter(|&x| x < size).collect::<std::collections::BTreeSet<u64>>());
            prop_assert!(c.end() <= size);
            match a.join(b) {
                Some(j) => prop_assert_eq!(set(j), set(a).union(&set(b)).copied().collect::<std::collections::BTreeSet<u64>>()),
                None => prop_assert!(a.end() < b.start() || b.end() < a.start()),
            }
        }

        #[test]
        fn windows_cover_the_range(start in 0u64..1 << 24, len in 0u64..1 << 24, size in 0u64..1 << 22) {
            let r = Range::at(start, len).unwrap();
            let w: Vec<Range> = r.windows(size).collect();
            prop_assert_eq!(total(&w), r.len());
            let page = p();
            let step = size.max(page).div_ceil(page) * page;
            for (i, piece) in w.iter().enumerate() {
                prop_assert!(!piece.is_empty() && piece.len() <= step);
                if i > 0 {
                    prop_assert_eq!(piece.start(), w[i - 1].end());
                    prop_assert_eq!(piece.start() % step, 0);
                }
            }
            let pages = r.pages();
            prop_assert!(pages.start() <= r.start() && pages.end() >= r.end());
            prop_assert_eq!(pages.len() / page, r.page_count());
        }
    }
}
