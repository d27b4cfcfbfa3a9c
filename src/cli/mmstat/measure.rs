//! The bridge to the core's measurement ([`crate::residency::scan`]): the request a plan makes, the
//! report of a run kept whole (for sorted output, --save and --watch), and how subjects and names
//! are shown.

use std::ops::ControlFlow;

use crate::cli::common::{InputName, insert_name};
use crate::cli::quote;
use crate::residency::{Options, Request, Source};

use super::args::Plan;

pub use crate::residency::{Cell, FileStat, Outcome, Subject, Totals};

/// One measurement of everything the plan names, kept whole.
#[derive(Debug)]
pub struct Report {
    /// Outcomes in input order.
    pub outcomes: Vec<Outcome>,
    /// Totals.
    pub totals: Totals,
}

impl Report {
    /// The files measured, in input order.
    pub fn files(&self) -> impl Iterator<Item = &FileStat> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::File(f) => Some(&**f),
            _ => None,
        })
    }
}

/// What to measure of each file, as the plan asks.
pub fn options(plan: &Plan) -> Options {
    Options {
        range: plan.range,
        method: plan.method,
        runs: plan.needs_runs(),
        cells: plan.map.map(|style| style.cells),
    }
}

/// The plan's inputs as the core names them.
pub fn sources(plan: &Plan) -> Vec<Source> {
    plan.inputs
        .iter()
        .map(|name| match name {
            InputName::Path(p) => Source::Path(p.clone()),
            InputName::Stdin { .. } => Source::Stdin,
            InputName::Invalid(why) => Source::Invalid(why.clone()),
        })
        .collect()
}

/// Measures everything the plan names, handing each outcome to `sink` in order until it breaks;
/// returns the totals.
pub fn stream(plan: &Plan, sink: impl FnMut(Outcome) -> ControlFlow<()>) -> Totals {
    let sources = sources(plan);
    let request = Request {
        sources: &sources,
        pids: &plan.pids,
        walk: &plan.walk,
        options: options(plan),
    };
    crate::residency::scan_until(&request, sink)
}

/// Finds and measures everything the plan names, keeping every outcome.
pub fn collect(plan: &Plan) -> Report {
    let mut outcomes = Vec::new();
    let totals = stream(plan, |o| {
        outcomes.push(o);
        ControlFlow::Continue(())
    });
    Report { outcomes, totals }
}

/// How subjects are shown.
pub trait Shown {
    /// The subject for people: the file name quoted as [`quote::name`] does, or `process PID`.
    fn shown(&self) -> String;
    /// The subject as the `path` field of a JSON record (with `path_bytes` for a name that is not
    /// UTF-8).
    fn insert_json(&self, fields: &mut serde_json::Map<String, serde_json::Value>);
}

impl Shown for Subject {
    fn shown(&self) -> String {
        match self {
            Subject::File(path) => quote::name(path),
            Subject::Process(pid) => format!("process {pid}"),
        }
    }

    fn insert_json(&self, fields: &mut serde_json::Map<String, serde_json::Value>) {
        match self {
            Subject::File(path) => insert_name(fields, "path", path.as_os_str()),
            Subject::Process(pid) => {
                fields.insert("path".into(), format!("process {pid}").into());
            }
        }
    }
}

/// A file's path in a row, quoted when it cannot be printed as it is ([`quote::row`]).
pub fn row_name(f: &FileStat) -> String {
    quote::row(&f.path)
}
