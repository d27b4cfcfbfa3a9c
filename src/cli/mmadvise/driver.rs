//! mmadvise's one batch driver, shared by every action: it finds the files (walked trees, or the files
//! of a snapshot in priority order), opens them a batch at a time (so that a tree of any size never
//! holds too many descriptors), and hands each batch to the action. For the actions that load (touch,
//! willneed, lock, restore) it also stages each file (residency before, data, what to load within the
//! budget), loads the batch (paced by --rate, on threads of the --ionice priority), measures again and
//! reports, and ends with the summary of what was loaded, left out, and how fast.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::advise::Subject;
use crate::advise::budget::{Allowance, Memory, saved_bytes, sort};
use crate::advise::load::{Job, load_paced};
use crate::advise::lock::Locked;
use crate::advise::readahead::Caps;
use crate::advise::restore::{Match, Verdict, map_paths, unique, vanished, verdict};
use crate::advise::throttle::{Throttle, set_io_priority};
use crate::advise::willneed::{self, Pending, WaitEnd};
use crate::cli::common::Reporter;
use crate::error::{Error, describe};
use crate::input::Input;
use crate::range::{Range, total};
use crate::residency::Residency;
use crate::size::human;
use crate::snapshot::Identity;

use super::plan::{BudgetArg, Plan, Source, ionice_text};
use super::report::{Outcome, Report};
use super::restore::read_snapshot;
use super::run::{
    Opened, PROGRESS_THRESHOLD, batch, gather, open_batch, opened, outcome, range_of, subjects,
};

/// What a loading action does to a file before its load (lock: check the limit and lock it): the lock
/// taken, if any, or `None` to leave the file out (after reporting why).
pub type Prepare<'f, 'r, 'a> = dyn FnMut(&mut Report<'r>, &Subject<'a>, &[Range]) -> anyhow::Result<Option<Option<Locked>>>
    + 'f;

/// One file of a batch, opened, with what the action covers.
#[derive(Debug)]
pub struct Item<'a> {
    /// The file and its covered range.
    pub subject: Subject<'a>,
    /// A snapshot's saved ranges of it, page-aligned; `None` for the data of the covered range.
    pub saved: Option<Vec<Range>>,
}

/// How a loading action loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Populate the missing pages (touch, restore).
    Populate,
    /// Lock the covered range and populate all its data through the locked map (lock).
    Lock,
    /// Ask for the missing pages in the background, and wait for them when asked to (willneed).
    Prefetch {
        /// --wait.
        wait: bool,
    },
}

/// One file of a loading batch, staged.
#[derive(Debug)]
pub struct Staged<'s, 'a> {
    /// The file.
    pub subject: &'s Subject<'a>,
    /// Its residency before.
    pub before: Residency,
    /// The data (not holes) of its covered range.
    pub data: Vec<Range>,
    /// What the action aims for: the saved ranges of a snapshot, or the data.
    pub wanted: Vec<Range>,
    /// What is loaded (or asked for): the missing part of `wanted` within the budget.
    pub spans: Vec<Range>,
    /// Missing bytes left out because the budget was spent.
    pub left_out: u64,
    /// The WILLNEED chunk size of its device.
    pub cap: u64,
    /// The lock of its covered range (lock).
    pub lock: Option<Locked>,
    /// What is still missing after a wait (willneed --wait).
    pub outstanding: Vec<Range>,
    /// How the wait ended (willneed --wait).
    pub waited: Option<WaitEnd>,
}

/// Counts over the whole run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Files of a snapshot skipped because they changed.
    pub changed: u64,
    /// Files of a snapshot skipped because they no longer exist.
    pub removed: u64,
    /// Files a snapshot lists (each once).
    pub listed: u64,
    /// Bytes loaded or asked for.
    pub loaded_bytes: u64,
    /// Files with bytes loaded or asked for.
    pub loaded_files: u64,
    /// Missing bytes left out for the budget.
    pub left_out_bytes: u64,
    /// Files with bytes left out for the budget.
    pub left_out_files: u64,
    /// Time spent loading.
    pub busy: Duration,
}

/// The driver of one run.
#[derive(Debug)]
pub struct Driver<'p, 'r> {
    /// The plan.
    pub plan: Plan<'p>,
    /// The output.
    pub report: Report<'r>,
    /// The run's counts.
    pub tally: Tally,
    /// The files' total size (or the snapshot's saved bytes), once found.
    pub size: u64,
    caps: Caps,
    pool: Option<rayon::ThreadPool>,
    throttle: Option<Throttle>,
    allowance: Option<Allowance>,
    /// How a percentage budget was worked out, for the text.
    budget_basis: Option<String>,
}

impl<'p, 'r> Driver<'p, 'r> {
    /// Prepares a run: the I/O priority of this thread (inherited by every thread made after), the
    /// worker pool, the budget and the pace.
    pub fn new(plan: Plan<'p>, reporter: &'r Reporter) -> anyhow::Result<Self> {
        if let Some(p) = plan.ionice {
            set_io_priority(p).map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    " (the realtime class needs CAP_SYS_ADMIN)"
                } else {
                    ""
                };
                anyhow::anyhow!(
                    "cannot set the I/O priority {}: {}{hint}",
                    ionice_text(p),
                    describe(&e)
                )
            })?;
        }
        let start = plan.ionice.map(|p| {
            Box::new(move |_: usize| {
                let _ = set_io_priority(p);
            }) as Box<dyn Fn(usize) + Send + Sync>
        });
        let pool = crate::cli::common::thread_pool(plan.common.threads, start)?;
        let (allowance, budget_basis) = match plan.budget {
            None => (None, None),
            Some(BudgetArg::Bytes(n)) => (Some(Allowance::new(n)), None),
            Some(BudgetArg::Percent(pct)) => {
                let memory =
                    Memory::now().context("cannot read the memory available (/proc/meminfo)")?;
                let base = memory.usable();
                let under = match &memory.cgroup {
                    Some(h) if h.room() < memory.available => format!(
                        " under the memory cgroup limit of {} ({} used of {})",
                        crate::cli::quote::name(&h.dir),
                        human(h.usage),
                        human(h.limit)
                    ),
                    _ => String::new(),
                };
                let budget = (base as f64 * pct / 100.0) as u64;
                (
                    Some(Allowance::new(budget)),
                    Some(format!("{pct}% of {} available{under}", human(base))),
                )
            }
        };
        Ok(Driver {
            report: Report::new(plan.action, plan.common, reporter),
            plan,
            tally: Tally::default(),
            size: 0,
            caps: Caps::default(),
            pool,
            throttle: plan.rate.map(Throttle::new),
            allowance,
            budget_basis,
        })
    }

    /// Runs `f` on the worker pool.
    fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Finds the files, opens them a batch at a time and hands each batch to `each`. With `bar`, a
    /// progress bar of the bytes loaded is shown (its length grows as batches are staged).
    pub fn run(
        &mut self,
        bar: bool,
        mut each: impl FnMut(&mut Self, Vec<Item<'_>>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self.plan.source {
            Source::Targets(targets) => {
                let (files, size) = gather(
                    targets,
                    self.plan.common,
                    &mut self.report,
                    self.plan.block_devices,
                )?;
                self.size = size;
                self.start_bar(bar);
                let range = range_of(targets);
                for paths in files.chunks(batch()) {
                    let opened = open_batch(paths, &mut self.report)?;
                    let items = subjects(&opened, range, &mut self.report)?
                        .into_iter()
                        .map(|subject| Item {
                            subject,
                            saved: None,
                        })
                        .collect();
                    each(self, items)?;
                }
            }
            Source::Snapshot {
                path,
                order,
                map_prefix,
                how,
            } => {
                // One file is one file, however many times the snapshot names it.
                let mut records = unique(map_paths(read_snapshot(path)?, map_prefix));
                sort(&mut records, order);
                self.tally.listed = records.len() as u64;
                self.size = records.iter().map(saved_bytes).sum();
                self.start_bar(bar);
                let whole = Range::ALL;
                for records in records.chunks(batch()) {
                    let mut accepted: Vec<(Opened, Vec<Range>)> = Vec::new();
                    for record in records {
                        if let Some(o) = self.accept(record, how)? {
                            accepted.push(o);
                        }
                    }
                    let mut items = Vec::new();
                    for (o, spans) in &accepted {
                        match Subject::new(o.input.file(), o.input.name(), o.len, whole) {
                            Ok(subject) => items.push(Item {
                                subject,
                                saved: Some(spans.clone()),
                            }),
                            Err(e) => self.report.core_error(&e)?,
                        }
                    }
                    each(self, items)?;
                }
            }
        }
        Ok(())
    }

    fn start_bar(&mut self, bar: bool) {
        if !bar {
            return;
        }
        let b = self.plan.common.progress.bar(self.size, PROGRESS_THRESHOLD);
        b.set_length(0);
        if let Some(rate) = self.plan.rate {
            b.set_message(format!("(limit {}/s)", human(rate)));
        }
        self.report.set_bar(b);
    }

    /// Opens a file of a snapshot and checks that it is still the one saved: its saved spans, or
    /// `None` when it is skipped (changed, removed, not a regular file) or failed (reported).
    fn accept(
        &mut self,
        record: &crate::snapshot::FileRecord,
        how: Match,
    ) -> anyhow::Result<Option<(Opened, Vec<Range>)>> {
        let report = &mut self.report;
        let o = match Input::open(&record.path) {
            Err(e) if vanished(&e) => {
                self.tally.removed += 1;
                report.skipped(&record.path, REMOVED)?;
                return Ok(None);
            }
            input => match opened(&record.path, input, report)? {
                Some(o) => o,
                None => return Ok(None),
            },
        };
        let meta = match o.input.file().metadata() {
            Ok(m) => m,
            Err(e) => {
                report.core_error(&crate::error::Error::io(
                    crate::error::Op::Stat,
                    &record.path,
                    e,
                ))?;
                return Ok(None);
            }
        };
        match verdict(record, &Identity::of(&meta), how, o.input.file()) {
            Verdict::Changed(why) => {
                self.tally.changed += 1;
                report.skipped(&record.path, &format!("changed since the snapshot: {why}"))?;
                Ok(None)
            }
            Verdict::Unknown(why) => {
                self.tally.changed += 1;
                report.skipped(&record.path, &format!("cannot be matched: {why}"))?;
                Ok(None)
            }
            Verdict::Restore(spans) => Ok(Some((o, spans))),
        }
    }

    /// Stages, loads, measures and reports one batch of a loading action. `prepare` runs on each file
    /// before its load (lock: the limit check and the lock; `Ok(None)` leaves the file out, reported),
    /// and `finish` adds the action's fields to each file's outcome.
    pub fn load<'s, 'a>(
        &mut self,
        items: &'s [Item<'a>],
        kind: Kind,
        prepare: &mut Prepare<'_, 'r, 'a>,
        finish: &mut dyn FnMut(&Report<'r>, &mut Staged<'s, 'a>, &mut Outcome) -> Result<(), Error>,
    ) -> anyhow::Result<()> {
        let arrived = matches!(kind, Kind::Prefetch { .. });
        let measure = |s: &Subject<'_>| {
            if arrived {
                s.measure_arrived()
            } else {
                s.measure()
            }
        };
        let started = Instant::now();
        let mut staged: Vec<Staged<'s, 'a>> = Vec::new();
        for item in items {
            let subject = &item.subject;
            let step = measure(subject).and_then(|before| {
                let data = subject.data()?;
                let wanted = item.saved.clone().unwrap_or_else(|| data.clone());
                let missing = match kind {
                    Kind::Lock => wanted.clone(),
                    _ => subject.missing(&wanted)?,
                };
                Ok((before, data, wanted, missing))
            });
            let (before, data, wanted, missing) = match step {
                Ok(s) => s,
                Err(e) => {
                    self.report.core_error(&e)?;
                    continue;
                }
            };
            let Some(lock) = prepare(&mut self.report, subject, &data)? else {
                continue;
            };
            let (spans, left_out) = match &mut self.allowance {
                Some(a) => a.take(&missing),
                None => (missing, 0),
            };
            let cap = self.caps.of(subject.file);
            if let Kind::Prefetch { .. } = kind {
                let asked = willneed::issue_paced(
                    subject.file,
                    subject.path,
                    &spans,
                    cap,
                    self.throttle.as_ref(),
                );
                if let Err(e) = asked {
                    self.report.core_error(&e)?;
                    continue;
                }
            }
            self.report.bar().inc_length(total(&spans));
            staged.push(Staged {
                subject,
                before,
                data,
                wanted,
                spans,
                left_out,
                cap,
                lock,
                outstanding: Vec::new(),
                waited: None,
            });
        }
        let mut errors: Vec<Option<Error>> = staged.iter().map(|_| None).collect();
        let bar = self.report.bar().clone();
        match kind {
            Kind::Prefetch { wait: false } => {}
            Kind::Prefetch { wait: true } => {
                let mut pending: Vec<Pending<'_, '_>> = staged
                    .iter()
                    .map(|s| Pending {
                        subject: s.subject,
                        asked: s.spans.clone(),
                        outstanding: s.spans.clone(),
                        cap: s.cap,
                        error: None,
                        throttle: self.throttle.as_ref(),
                    })
                    .collect();
                let end = willneed::wait(&mut pending, &|n| bar.inc(n));
                for ((s, p), error) in staged.iter_mut().zip(pending).zip(&mut errors) {
                    s.outstanding = p.outstanding;
                    s.waited = Some(end);
                    *error = p.error;
                }
            }
            Kind::Populate | Kind::Lock => {
                let jobs: Vec<Job<'_, '_>> = staged
                    .iter()
                    .map(|s| Job {
                        subject: s.subject,
                        spans: match (&s.lock, kind) {
                            (None, Kind::Lock) => Vec::new(),
                            _ => s.spans.clone(),
                        },
                        cap: s.cap,
                        map: s.lock.as_ref().map(|l| &l.map),
                    })
                    .collect();
                let throttle = self.throttle.as_ref();
                let options = self.plan.load;
                let done = self.in_pool(|| load_paced(&jobs, &options, throttle, &|n| bar.inc(n)));
                drop(jobs);
                errors = done;
            }
        }
        self.tally.busy += started.elapsed();
        for (mut s, error) in staged.into_iter().zip(errors) {
            if let Some(e) = error {
                self.report.core_error(&e)?;
                continue;
            }
            let after = match measure(s.subject) {
                Ok(a) => a,
                Err(e) => {
                    self.report.core_error(&e)?;
                    continue;
                }
            };
            let mut o = outcome(s.subject, &s.data, s.before, after);
            if self.allowance.is_some() {
                o.fields.insert("left_out_bytes".into(), s.left_out.into());
                if s.left_out > 0 {
                    o.notes.push(format!(
                        "{} left out: the budget was spent",
                        self.report.size(s.left_out)
                    ));
                }
            }
            if let Err(e) = finish(&self.report, &mut s, &mut o) {
                self.report.core_error(&e)?;
                continue;
            }
            let loaded = total(&s.spans);
            self.tally.loaded_bytes += loaded;
            self.tally.loaded_files += u64::from(loaded > 0);
            self.tally.left_out_bytes += s.left_out;
            self.tally.left_out_files += u64::from(s.left_out > 0);
            self.report.file(&o)?;
        }
        Ok(())
    }

    /// The summary fields and text of what was loaded: the budget and what it left out, and the rate
    /// achieved against the one asked for.
    pub fn load_summary(&self, fields: &mut Map<String, Value>) -> String {
        let t = &self.tally;
        let size = |n| self.report.size(n);
        let seconds = t.busy.as_secs_f64();
        let rate = if seconds > 0.0 {
            (t.loaded_bytes as f64 / seconds) as u64
        } else {
            0
        };
        fields.insert("loaded_bytes".into(), t.loaded_bytes.into());
        fields.insert("loaded_files".into(), t.loaded_files.into());
        fields.insert(
            "elapsed_seconds".into(),
            ((seconds * 1000.0).round() / 1000.0).into(),
        );
        fields.insert("rate_bytes_per_second".into(), rate.into());
        let mut tail = String::new();
        if let Some(a) = &self.allowance {
            fields.insert("budget_bytes".into(), a.budget.into());
            fields.insert("left_out_bytes".into(), t.left_out_bytes.into());
            fields.insert("left_out_files".into(), t.left_out_files.into());
            let basis = self
                .budget_basis
                .as_ref()
                .map_or(String::new(), |b| format!(" ({b})"));
            tail.push_str(&format!(
                ", budget {}{basis}: loaded {} of {} file{}, left out {} of {} file{}",
                size(a.budget),
                size(t.loaded_bytes),
                t.loaded_files,
                plural(t.loaded_files),
                size(t.left_out_bytes),
                t.left_out_files,
                plural(t.left_out_files),
            ));
        }
        if let Some(limit) = self.plan.rate {
            fields.insert("rate_limit_bytes_per_second".into(), limit.into());
            tail.push_str(&format!(
                ", read at {}/s (limit {}/s)",
                human(rate),
                human(limit)
            ));
        }
        if let Some(p) = self.plan.ionice {
            fields.insert("ionice".into(), ionice_text(p).into());
        }
        tail
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The reason a file of the snapshot that no longer exists is skipped.
pub const REMOVED: &str = "no longer exists: removed since the snapshot";
