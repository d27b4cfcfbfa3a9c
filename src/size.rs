//! Sizes and ranges as users write them (`4096`, `64K`, `1M`, `2G`, `OFFSET:LEN`, `OFFSET..END`) and as
//! tools print them (`1.5G`, binary units, rounded, never truncated).

use crate::range::Range;

/// Parses a size: a number with an optional binary suffix `K`, `M`, `G`, `T`, `P`, `E` (also `KiB`...),
/// or a decimal one `KB`, `MB`, ... (powers of 1000), as coreutils do. `B` alone means bytes. With a
/// suffix the number may have a fraction, so that every size the tools print (`8.5M`, `1.5G`) reads
/// back; it is rounded to the nearest byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && fraction.is_empty()) {
        return Err(format!(
            "invalid size '{text}': expected a number such as 4096, 64K, 1M or 1.5G"
        ));
    }
    let too_large = || format!("invalid size '{text}': too large");
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let units = "KMGTPE";
    let multiplier: u64 = match suffix {
        "" | "B" | "b" => 1,
        s => {
            let mut chars = s.chars();
            let unit = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('?');
            let power = units
                .find(unit)
                .ok_or_else(|| format!("invalid size '{text}': unknown suffix '{s}'"))?
                as u32
                + 1;
            match chars.as_str() {
                "" | "iB" | "ib" => 1024u64.pow(power),
                "B" | "b" => 1000u64.pow(power),
                _ => return Err(format!("invalid size '{text}': unknown suffix '{s}'")),
            }
        }
    };
    if multiplier == 1 && !fraction.is_empty() {
        return Err(format!(
            "invalid size '{text}': a number of bytes is a whole number"
        ));
    }
    // The fraction in exact arithmetic: digits / 10^len of the multiplier, rounded to a byte.
    let digits = fraction.get(..18).unwrap_or(fraction);
    let part = if digits.is_empty() {
        0
    } else {
        let numerator: u128 = digits.parse().map_err(|_| too_large())?;
        let scale = 10u128.pow(digits.len() as u32);
        ((numerator * u128::from(multiplier) + scale / 2) / scale) as u64
    };
    whole
        .checked_mul(multiplier)
        .and_then(|n| n.checked_add(part))
        .ok_or_else(too_large)
}

/// Parses `OFFSET:LENGTH` or `OFFSET..END`, each side with size suffixes; an empty `LENGTH` or `END` runs
/// to the end of the file (as does a length past the largest offset) and an empty `OFFSET` is 0.
pub fn parse_range(text: &str) -> Result<Range, String> {
    let side = |s: &str| {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_size(s).map(Some)
        }
    };
    if let Some((a, b)) = text.split_once("..") {
        let offset = side(a)?.unwrap_or(0);
        let end = match side(b)? {
            Some(end) if end < offset => {
                return Err(format!("invalid range '{text}': end is before the start"));
            }
            Some(end) => end,
            None => u64::MAX,
        };
        return Ok(Range::new(offset, end));
    }
    if let Some((a, b)) = text.split_once(':') {
        let offset = side(a)?.unwrap_or(0);
        return Ok(Range::at_most(offset, side(b)?.unwrap_or(u64::MAX)));
    }
    Err(format!(
        "invalid range '{text}': expected OFFSET:LENGTH or OFFSET..END, such as 1M:64K"
    ))
}

/// Formats a byte count with binary units: `0`, `512`, `1.5K`, `10M`, `4.9G`. Below 10 units one decimal
/// is shown; the value is rounded to nearest, so 4.95 GiB is `5.0G`, never a truncated `4G`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    loop {
        let shown = if value < 9.95 {
            (value * 10.0).round() / 10.0
        } else {
            value.round()
        };
        if shown < 1024.0 || unit == UNITS.len() - 1 {
            return if shown < 10.0 {
                format!("{shown:.1}{}", UNITS[unit])
            } else {
                format!("{shown:.0}{}", UNITS[unit])
            };
        }
        value /= 1024.0;
        unit += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1KB"), Ok(1000));
        assert_eq!(parse_size("7b"), Ok(7));
        assert!(parse_size("").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("1Q").is_err());
        assert!(parse_size("99999999999E").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("1M:64K"),
            Ok(Range::new(1 << 20, (1 << 20) + 65536))
        );
        assert_eq!(parse_range("4K..8K"), Ok(Range::new(4096, 8192)));
        assert_eq!(parse_range("4K.."), Ok(Range::new(4096, u64::MAX)));
        assert_eq!(parse_range("4K:"), Ok(Range::new(4096, u64::MAX)));
        assert_eq!(parse_range(":10"), Ok(Range::upto(10)));
        assert_eq!(parse_range("..").map(|r| r.clamp(7)), Ok(Range::upto(7)));
        assert_eq!(
            parse_range("8E:8E").map(|r| r.clamp(u64::MAX - 1)),
            Ok(Range::new(8 << 60, u64::MAX - 1)),
            "a length past the largest offset runs to the end"
        );
        assert!(parse_range("8K..4K").is_err());
        assert!(parse_range("12").is_err());
        assert_eq!(parse_range("10:").map(|r| r.clamp(4)), Ok(Range::new(4, 4)));
        assert_eq!(
            parse_range("1:100").map(|r| r.clamp(4)),
            Ok(Range::new(1, 4))
        );
    }

    #[test]
    fn fractions_read_back_what_the_tools_print() {
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("8.5M"), Ok(17 << 19));
        assert_eq!(parse_size("0.5G"), Ok(1 << 29));
        assert_eq!(parse_size("1.5KB"), Ok(1500));
        assert!(parse_size("1.5").is_err(), "a fraction of a byte");
        assert!(parse_size("1.M").is_err());
        assert!(parse_size(".5M").is_err());
        assert!(parse_size("1.2.3M").is_err());
        for bytes in [1024u64, 1536, 5 << 20, 8_912_345, 3 << 40, u64::MAX / 4] {
            let shown = human(bytes);
            let back = parse_size(&shown).unwrap_or_else(|e| panic!("{shown}: {e}"));
            // The printed form is rounded to 1 decimal (below 10 units) or a whole unit: within 5%.
            let error = back.abs_diff(bytes) as f64 / bytes as f64;
            assert!(error <= 0.05, "{bytes} -> {shown} -> {back}");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1024), "1.0K");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(10 << 20), "10M");
        assert_eq!(human((4.9 * (1u64 << 30) as f64) as u64), "4.9G");
        assert_eq!(human((4.96 * (1u64 << 30) as f64) as u64), "5.0G");
        assert_eq!(human((1u64 << 20) - 1), "1.0M");
        assert_eq!(human(u64::MAX), "16E");
    }
}
