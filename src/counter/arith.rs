//! What can be done to a counter (read, add, set) and the bounds every result must stay within.

use std::fmt;

use super::format::{Counter, max_value};

/// What to do to the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read it.
    Get,
    /// Add to it (the step may be negative).
    Add(i64),
    /// Store this value.
    Set(i64),
}

/// Why an operation's result cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutOfRange {
    /// The sum is beyond the width's largest value (or beyond `i64`).
    Above {
        /// The value before.
        previous: i64,
        /// The step.
        by: i64,
        /// The counter's width.
        width: usize,
    },
    /// The sum is below 0.
    Below {
        /// The value before.
        previous: i64,
        /// The step.
        by: i64,
    },
    /// `--set` with a value that does not fit in the width (or is negative).
    SetTooWide {
        /// The value asked for.
        value: i64,
        /// The counter's width.
        width: usize,
    },
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OutOfRange::Above {
                previous,
                by,
                width,
            } => write!(
                f,
                "{previous} + {by} does not fit in {width} {} (the largest value is {})",
                plural(width as u64, "digit", "digits"),
                max_value(width)
            ),
            OutOfRange::Below { previous, by } => {
                write!(f, "{previous} - {} would be below 0", by.unsigned_abs())
            }
            OutOfRange::SetTooWide { value, width } if value < 0 => {
                write!(
                    f,
                    "cannot set {value}: counters are not negative (width {width})"
                )
            }
            OutOfRange::SetTooWide { value, width } => write!(
                f,
                "cannot set {value}: it does not fit in {width} {} (the largest value is {})",
                plural(width as u64, "digit", "digits"),
                max_value(width)
            ),
        }
    }
}

/// `one` for a count of 1, `many` otherwise.
pub(super) fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

impl Op {
    /// The counter after this operation, keeping the width.
    pub fn apply(self, current: Counter) -> Result<Counter, OutOfRange> {
        let width = current.width();
        match self {
            Op::Get => Ok(current),
            Op::Add(by) => {
                let previous = current.value();
                let above = OutOfRange::Above {
                    previous,
                    by,
                    width,
                };
                match previous.checked_add(by) {
                    Some(v) if v < 0 => Err(OutOfRange::Below { previous, by }),
                    Some(v) => Counter::new(v, width).ok_or(above),
                    None => Err(above),
                }
            }
            Op::Set(value) => {
                Counter::new(value, width).ok_or(OutOfRange::SetTooWide { value, width })
            }
        }
    }

    pub(crate) fn writes(self) -> bool {
        self != Op::Get
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_stays_in_range() {
        let c = |v, w| Counter::new(v, w).unwrap();
        assert_eq!(Op::Add(1).apply(c(41, 10)), Ok(c(42, 10)));
        assert_eq!(Op::Add(-41).apply(c(41, 10)), Ok(c(0, 10)));
        assert_eq!(
            Op::Add(-42).apply(c(41, 10)),
            Err(OutOfRange::Below {
                previous: 41,
                by: -42
            })
        );
        assert!(Op::Add(1).apply(c(9_999_999_999, 10)).is_err());
        assert!(Op::Add(1).apply(c(9, 1)).is_err());
        assert!(Op::Add(1).apply(c(i64::MAX, 20)).is_err());
        assert!(Op::Add(i64::MIN).apply(c(0, 20)).is_err());
        assert_eq!(Op::Set(99).apply(c(5, 2)), Ok(c(99, 2)));
        assert!(Op::Set(100).apply(c(5, 2)).is_err());
        assert_eq!(
            Op::Add(1)
                .apply(c(9_999_999_999, 10))
                .unwrap_err()
                .to_string(),
            "9999999999 + 1 does not fit in 10 digits (the largest value is 9999999999)"
        );
        assert_eq!(
            Op::Add(-7).apply(c(5, 10)).unwrap_err().to_string(),
            "5 - 7 would be below 0"
        );
        assert_eq!(max_value(1), 9);
        assert_eq!(max_value(18), 999_999_999_999_999_999);
        assert_eq!(max_value(19), i64::MAX);
        assert!(Counter::new(0, 0).is_none() && Counter::new(0, 21).is_none());
        assert!(Counter::new(-1, 5).is_none());
    }
}
