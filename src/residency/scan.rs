//! One run over everything named: paths (directories walked, each file measured as soon as the walk
//! opens it, on the rayon pool), standard input, and the files of processes, in that order. Each
//! outcome goes to a sink as soon as its batch is done, in input order whatever the thread count,
//! with its `counted` flag set; the run keeps only the totals and the set that tells the first path
//! to a file from later ones ([`Seen`]), so a tree of any size is measured in bounded memory.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use super::files::{Options, Outcome, Subject, Totals, measure_fd, measure_open, measure_path};
use crate::procmaps;
use crate::walk::open::{Found, Opened, walk_open};
use crate::walk::{Seen, WalkOptions};

/// Something named to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file or a directory (walked).
    Path(PathBuf),
    /// Standard input.
    Stdin,
    /// A name that cannot be used (an empty name in a list), with the reason.
    Invalid(String),
}

/// What a run measures.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Paths and standard input, in order.
    pub sources: &'a [Source],
    /// Processes whose files to measure, after the sources.
    pub pids: &'a [u32],
    /// How to walk directories.
    pub walk: &'a WalkOptions,
    /// What to measure of each file.
    pub options: Options,
}

/// The state of a run: what was met, the totals, and where outcomes go.
struct Run<S> {
    seen: Seen,
    totals: Totals,
    sink: S,
    stopped: bool,
}

impl<S: FnMut(Outcome) -> ControlFlow<()>> Run<S> {
    /// Passes on an outcome whose `counted` flag is set.
    fn emit(&mut self, outcome: Outcome) {
        if self.stopped {
            return;
        }
        self.totals.add(&outcome);
        self.stopped = (self.sink)(outcome).is_break();
    }

    /// Passes on the outcome of a file named (not found by a walk).
    fn named(&mut self, mut outcome: Outcome) {
        if let Outcome::File(f) = &mut outcome {
            f.counted = self
                .seen
                .first((f.identity.dev, f.identity.ino), f.nlink, true);
        }
        self.emit(outcome);
    }

    /// Walks `roots`, measuring each file found.
    fn walk(&mut self, roots: &mut Vec<PathBuf>, request: &Request<'_>) {
        if roots.is_empty() || self.stopped {
            roots.clear();
            return;
        }
        let options = &request.options;
        let visit = |o: Opened<'_>| measure_open(o.file, o.path, o.stat, false, options);
        let Run {
            seen,
            totals,
            sink,
            stopped,
        } = self;
        let result = walk_open(roots, request.walk, &visit, seen, |found| {
            let outcome = from_walk(found);
            totals.add(&outcome);
            let flow = sink(outcome);
            *stopped = flow.is_break();
            flow
        });
        match result {
            Ok(dirs) => self.totals.dirs += dirs,
            Err(message) => self.emit(Outcome::Error {
                path: None,
                message,
            }),
        }
        roots.clear();
    }
}

/// Measures everything `request` names, handing each outcome to `sink` in order, and returns the
/// totals (directories walked and the time taken included).
pub fn scan(request: &Request<'_>, mut sink: impl FnMut(Outcome)) -> Totals {
    scan_until(request, |outcome| {
        sink(outcome);
        ControlFlow::Continue(())
    })
}

/// [`scan`], until `sink` breaks (its output is closed, say): then nothing more is walked or
/// measured, and the totals cover what was passed on.
pub fn scan_until(request: &Request<'_>, sink: impl FnMut(Outcome) -> ControlFlow<()>) -> Totals {
    let started = Instant::now();
    let mut run = Run {
        // A process's files cannot be told apart from the walk's by their links: keep them all then.
        seen: if request.pids.is_empty() {
            Seen::new()
        } else {
            Seen::every_file()
        },
        totals: Totals::default(),
        sink,
        stopped: false,
    };
    let mut roots = Vec::new();
    for source in request.sources {
        match source {
            Source::Path(p) => roots.push(p.clone()),
            Source::Stdin => {
                run.walk(&mut roots, request);
                run.named(stdin(&request.options));
            }
            Source::Invalid(why) => {
                run.walk(&mut roots, request);
                run.emit(Outcome::Error {
                    path: None,
                    message: why.clone(),
                });
            }
        }
    }
    run.walk(&mut roots, request);
    for &pid in request.pids {
        if run.stopped {
            break;
        }
        for outcome in process(pid, &request.options) {
            run.named(outcome);
        }
    }
    let mut totals = run.totals;
    totals.elapsed = started.elapsed();
    totals
}

/// Measures standard input.
fn stdin(options: &super::Options) -> Outcome {
    if crate::sys::signals::caught().is_some() {
        return Outcome::Cancelled;
    }
    match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => measure_fd(&File::from(fd), Path::new("-"), false, options),
        Err(e) => Outcome::Failed(crate::error::Error::io(crate::error::Op::Open, "-", e)),
    }
}

/// Measures the files process `pid` maps or holds open, in parallel, in the order of its listing.
pub fn process(pid: u32, options: &super::Options) -> Vec<Outcome> {
    match procmaps::files(pid) {
        Ok(files) => files
            .into_par_iter()
            .map(|f| measure_path(&f.path, &f.open, Some(pid), options))
            .collect(),
        Err(e) => {
            let message = match e.reason() {
                crate::error::Reason::Io(io) if io.kind() == io::ErrorKind::NotFound => {
                    "no such process".to_string()
                }
                _ => e.reason_text(),
            };
            vec![Outcome::Error {
                path: Some(Subject::Process(pid)),
                message,
            }]
        }
    }
}

fn from_walk(item: Found<Outcome>) -> Outcome {
    match item {
        Found::File(entry, mut outcome) => {
            if let Outcome::File(f) = &mut outcome {
                f.path = entry.path;
                f.counted = entry.first_link;
            }
            outcome
        }
        Found::Skipped(path, reason) => Outcome::Skipped {
            path,
            why: reason.describe().into(),
        },
        Found::Error(e) => Outcome::Failed(e),
    }
}
