//! `--watch SECS`: measure again and again until interrupted (or --count refreshes), showing what
//! changed since the previous refresh, above all the recently evicted pages that betray thrashing. On a
//! terminal each refresh redraws the screen; otherwise refreshes are appended. SIGINT, SIGTERM and SIGHUP
//! end the loop between refreshes, after which the process dies of the signal, as the shell expects.

use std::collections::HashMap;
use std::collections::HashSet;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::args::Plan;
use super::group::{Group, Groups};
use super::measure::{FileStat, Report, Totals, collect};
use super::{Frame, emit};
use crate::cli::common::Reporter;
use crate::sys::signals;

#[derive(Debug, Clone, Copy)]
struct Seen {
    resident_pages: Option<u64>,
    resident_bytes: Option<u64>,
    recently_evicted: Option<u64>,
}

/// Changes since the previous refresh; `None` where either side is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change {
    /// Resident pages.
    pub resident_pages: Option<i64>,
    /// Resident bytes.
    pub resident_bytes: Option<i64>,
    /// Recently evicted pages.
    pub recently_evicted: Option<i64>,
}

/// What the previous refresh saw.
#[derive(Debug)]
pub struct Previous {
    files: HashMap<PathBuf, Seen>,
    /// The directories of --group-by.
    groups: HashMap<PathBuf, Seen>,
    totals: Seen,
}

fn diff(now: Option<u64>, before: Option<u64>) -> Option<i64> {
    Some(now? as i64 - before? as i64)
}

fn seen(f: &FileStat) -> Seen {
    Seen {
        resident_pages: f.resident(),
        resident_bytes: f.resident_bytes,
        recently_evicted: f.residency.detail.map(|d| d.recently_evicted),
    }
}

fn totals_seen(t: &Totals) -> Seen {
    Seen {
        resident_pages: Some(t.resident_pages),
        resident_bytes: Some(t.resident_bytes),
        recently_evicted: t.detail.map(|d| d.recently_evicted),
    }
}

fn group_seen(g: &Group) -> Seen {
    Seen {
        resident_pages: Some(g.resident_pages),
        resident_bytes: Some(g.resident_bytes),
        recently_evicted: g.detail.map(|d| d.recently_evicted),
    }
}

fn change(now: Seen, before: Option<&Seen>) -> Change {
    let Some(before) = before else {
        return Change::default();
    };
    Change {
        resident_pages: diff(now.resident_pages, before.resident_pages),
        resident_bytes: diff(now.resident_bytes, before.resident_bytes),
        recently_evicted: diff(now.recently_evicted, before.recently_evicted),
    }
}

impl Previous {
    /// Remembers a refresh.
    pub fn of(plan: &Plan, report: &Report) -> Previous {
        let groups = match plan.group_by {
            Some(by) => Groups::of(plan, by, report)
                .list
                .into_iter()
                .map(|g| (g.path.clone(), group_seen(&g)))
                .collect(),
            None => HashMap::new(),
        };
        Previous {
            files: report.files().map(|f| (f.path.clone(), seen(f))).collect(),
            groups,
            totals: totals_seen(&report.totals),
        }
    }

    /// A directory's change under --group-by (all `None` for one not seen before).
    pub fn group_change(&self, g: &Group) -> Change {
        change(group_seen(g), self.groups.get(&g.path))
    }

    /// A file's change (all `None` for a file not seen before).
    pub fn change(&self, f: &FileStat) -> Change {
        change(seen(f), self.files.get(&f.path))
    }

    /// The totals' change.
    pub fn total_change(&self, t: &Totals) -> Change {
        change(totals_seen(t), Some(&self.totals))
    }
}

/// The UTC time as `2025-06-01T12:00:03Z`.
pub fn timestamp(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Sleeps until `deadline`, waking early when a termination signal arrives.
fn sleep_until(deadline: Instant) {
    while signals::caught().is_none() {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// The loop.
pub fn run(plan: &Plan, reporter: &Reporter) -> anyhow::Result<()> {
    signals::catch_termination();
    let interval = plan.watch.unwrap_or(Duration::from_secs(2));
    // A refresh redraws a terminal; one written to --output-file replaces the file.
    let tty = super::output::to_stdout(plan) && io::stdout().is_terminal();
    let mut previous: Option<Previous> = None;
    let mut reported = HashSet::new();
    let mut refresh = 0u64;
    let mut last: Option<Totals> = None;
    loop {
        let deadline = Instant::now() + interval;
        let report = collect(plan);
        if signals::caught().is_some() {
            break;
        }
        refresh += 1;
        let mut frame = Frame {
            refresh: Some(refresh),
            tty,
            interval,
            reported: &mut reported,
        };
        emit(plan, reporter, &report, previous.as_ref(), &mut frame)?;
        previous = Some(Previous::of(plan, &report));
        last = Some(report.totals);
        if plan.count.is_some_and(|n| refresh >= n) {
            break;
        }
        sleep_until(deadline);
        if signals::caught().is_some() {
            break;
        }
    }
    io::stdout().flush()?;
    if let Some(signal) = signals::caught() {
        signals::die_of(signal);
    }
    if let (Some(threshold), Some(t)) = (plan.check, &last) {
        super::check(reporter, t, threshold);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(at), "2023-11-14T22:13:20Z");
        assert_eq!(timestamp(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00Z");
    }
}
