//! mmadvise's plan: the arguments of one action checked and turned into what the driver runs (the
//! files' source, the loading options, the budget, the pace and the I/O priority), and the parsers of
//! the flags that keep a warm-up gentle.

use std::path::Path;

use crate::advise::budget::Order;
use crate::advise::load::LoadOptions;
use crate::sys::ioprio::{IoClass, IoPriority};

use super::{Action, Common, OrderArg, Targets, Throttling, refusal};

/// A `--budget`: bytes, or a percentage of the memory available when the run starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetArg {
    /// Exactly this many bytes.
    Bytes(u64),
    /// This share (0 to 100) of the memory available now.
    Percent(f64),
}

/// Parses `2G`, `4096` or `25%`.
pub fn parse_budget(text: &str) -> Result<BudgetArg, String> {
    if let Some(pct) = text.strip_suffix('%') {
        return match pct.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(BudgetArg::Percent(p)),
            _ => Err(format!(
                "invalid budget '{text}': give a percentage above 0 and at most 100, such as 25%"
            )),
        };
    }
    crate::size::parse_size(text)
        .map(BudgetArg::Bytes)
        .map_err(|e| format!("{e} (give a size such as 2G, or a percentage such as 25%)"))
}

/// Parses a rate in bytes per second: `40M`, `40M/s` or `1G/s`.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let size = text.strip_suffix("/s").unwrap_or(text);
    match crate::size::parse_size(size) {
        Ok(0) => Err(format!(
            "invalid rate '{text}': give a rate above 0, such as 40M (bytes per second)"
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (give bytes per second, such as 40M)")),
    }
}

/// Parses `idle`, `best-effort[:LEVEL]` or `realtime[:LEVEL]` (also `be`, `rt`, and the numbers of
/// ionice(1): 1 realtime, 2 best-effort, 3 idle).
pub fn parse_ionice(text: &str) -> Result<IoPriority, String> {
    let bad = || {
        format!(
            "invalid I/O priority '{text}': give idle, best-effort[:0-7] or realtime[:0-7] (0 is \
the highest level)"
        )
    };
    let (class, level) = match text.split_once(':') {
        Some((c, l)) => (c, Some(l)),
        None => (text, None),
    };
    let class = match class.to_ascii_lowercase().as_str() {
        "idle" | "3" => IoClass::Idle,
        "best-effort" | "besteffort" | "be" | "2" => IoClass::BestEffort,
        "realtime" | "rt" | "1" => IoClass::Realtime,
        _ => return Err(bad()),
    };
    let level = match (class, level) {
        (IoClass::Idle, Some(_)) => {
            return Err(format!(
                "invalid I/O priority '{text}': the idle class has no levels"
            ));
        }
        (IoClass::Idle, None) => 0,
        (_, None) => 4,
        (_, Some(l)) => match l.parse::<u8>() {
            Ok(n) if n <= 7 => n,
            _ => return Err(bad()),
        },
    };
    Ok(IoPriority { class, level })
}

/// How a priority is written back to the user.
pub fn ionice_text(p: IoPriority) -> String {
    match p.class {
        IoClass::Idle => "idle".into(),
        IoClass::BestEffort => format!("best-effort:{}", p.level),
        IoClass::Realtime => format!("realtime:{}", p.level),
        IoClass::None => "none".into(),
    }
}

/// Where an action's files come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Named files and walked trees, each over the --range.
    Targets(&'a Targets),
    /// The files of a snapshot, each over its saved ranges, in this order.
    Snapshot {
        /// The snapshot (`-`: standard input).
        path: &'a Path,
        /// The priority order.
        order: Order,
        /// `--map-prefix`: saved paths rewritten.
        map_prefix: &'a [crate::advise::restore::PrefixMap],
        /// `--match`: how a saved file is recognised.
        how: crate::advise::restore::Match,
    },
}

/// A checked mmadvise run.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The action's name, as reports show it.
    pub action: &'static str,
    /// The output flags.
    pub common: &'a Common,
    /// The files.
    pub source: Source<'a>,
    /// How pages are loaded (touch, lock, restore).
    pub load: LoadOptions,
    /// The budget, if any.
    pub budget: Option<BudgetArg>,
    /// The pace in bytes per second, if any.
    pub rate: Option<u64>,
    /// The I/O priority of the loading threads, if any.
    pub ionice: Option<IoPriority>,
    /// Whether block devices named are acted on (their own page cache: willneed, touch, evict).
    pub block_devices: bool,
}

/// Checks the arguments and makes the plan, or says what is wrong (a usage error).
pub fn plan(action: &Action) -> Result<Plan<'_>, String> {
    let (name, common, source, loading, throttling): (_, _, _, _, Option<&Throttling>) =
        match action {
            Action::Willneed(a) => (
                "willneed",
                &a.common,
                Source::Targets(&a.targets),
                None,
                Some(&a.throttling),
            ),
            Action::Touch(a) => (
                "touch",
                &a.common,
                Source::Targets(&a.targets),
                Some(&a.loading),
                Some(&a.throttling),
            ),
            Action::Evict(a) => ("evict", &a.common, Source::Targets(&a.targets), None, None),
            Action::Lock(a) => (
                "lock",
                &a.common,
                Source::Targets(&a.targets),
                Some(&a.loading),
                None,
            ),
            Action::Advise(a) => {
                if let Some(why) = refusal(a.advice) {
                    return Err(why);
                }
                ("advise", &a.common, Source::Targets(&a.targets), None, None)
            }
            Action::Restore(a) => (
                "restore",
                &a.common,
                Source::Snapshot {
                    path: &a.snapshot,
                    order: match a.order {
                        OrderArg::Snapshot => Order::Snapshot,
                        OrderArg::Density => Order::Density,
                        OrderArg::Size => Order::Size,
                    },
                    map_prefix: &a.map_prefix,
                    how: a.matching.into(),
                },
                Some(&a.loading),
                Some(&a.throttling),
            ),
        };
    if let Source::Targets(t) = source {
        crate::walk::validate(&t.walk.to_options())?;
    }
    Ok(Plan {
        action: name,
        common,
        source,
        load: loading.map_or_else(LoadOptions::default, super::run::load_options),
        budget: throttling.and_then(|t| t.budget),
        rate: throttling.and_then(|t| t.rate),
        ionice: throttling.and_then(|t| t.ionice),
        block_devices: matches!(
            action,
            Action::Willneed(_) | Action::Touch(_) | Action::Evict(_)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_documented() {
        assert_eq!(parse_budget("2G"), Ok(BudgetArg::Bytes(2 << 30)));
        assert_eq!(parse_budget("12.5%"), Ok(BudgetArg::Percent(12.5)));
        assert!(parse_budget("0%").is_err());
        assert!(parse_budget("101%").is_err());
        assert!(parse_budget("x").is_err());
        assert_eq!(parse_rate("40M"), Ok(40 << 20));
        assert_eq!(parse_rate("1.5G/s"), parse_rate("1.5G"));
        assert!(parse_rate("0").is_err());
        let p = |c, l| IoPriority { class: c, level: l };
        assert_eq!(parse_ionice("idle"), Ok(p(IoClass::Idle, 0)));
        assert_eq!(parse_ionice("best-effort"), Ok(p(IoClass::BestEffort, 4)));
        assert_eq!(parse_ionice("be:7"), Ok(p(IoClass::BestEffort, 7)));
        assert_eq!(parse_ionice("realtime:0"), Ok(p(IoClass::Realtime, 0)));
        assert!(parse_ionice("realtime:8").is_err());
        assert!(parse_ionice("idle:3").is_err());
        assert!(parse_ionice("fast").is_err());
        assert_eq!(ionice_text(p(IoClass::BestEffort, 3)), "best-effort:3");
    }
}
