//! The actions over walked files: finding and opening them (for the driver, which takes them a batch at
//! a time), then willneed, touch, evict and advise.

use serde_json::{Map, Value};

use crate::advise::Subject;
use crate::advise::advice::{Act, Check, advise as give_advice};
use crate::advise::evict::{Stayed, evict as evict_file};
use crate::advise::load::LoadOptions;
use crate::advise::willneed::WaitEnd;
use crate::cli::common::InputName;
use crate::input::{Access, Input, StreamKind};
use crate::range::{Range, total};
use crate::walk::{FileEntry, Item as Walked, walk};

use super::driver::{Driver, Item, Kind};
use super::report::{Outcome, Report, pages_to_bytes};
use super::{Advice, AdviseArgs, Common, EvictArgs, Loading, Targets, WillneedArgs};

/// Files opened at once: enough to keep every worker busy (256), few enough for the descriptor limit
/// (a quarter of it: `ulimit -n 256` opens 64 at once).
pub fn batch() -> usize {
    crate::walk::tree::descriptor_share(4, 8, 256)
}

/// Trees this big (in total) show a progress bar on a terminal.
pub const PROGRESS_THRESHOLD: u64 = 256 << 20;

/// The regular files named by `targets`, walked, in order, each (device, inode) once, and with
/// `block_devices` the block devices named; special files and errors are reported on the way. Returns
/// the files (with the identity each is opened as, later) and their total size.
pub fn gather(
    targets: &Targets,
    common: &Common,
    report: &mut Report<'_>,
    block_devices: bool,
) -> anyhow::Result<(Vec<FileEntry>, u64)> {
    let mut roots = Vec::new();
    // A --files0-from list is read one name at a time: bad entries are reported as they come, and
    // only the names to walk are kept.
    let names: Box<dyn Iterator<Item = anyhow::Result<InputName>>> =
        match targets.files_from.list()? {
            Some(list) => Box::new(list),
            None => Box::new(
                targets
                    .files_from
                    .inputs(&targets.files)?
                    .into_iter()
                    .map(Ok),
            ),
        };
    for name in names {
        match name? {
            InputName::Path(p) => roots.push(p),
            InputName::Invalid(why) => report.plain_error(&why)?,
            InputName::Stdin { .. } => report.error(
                std::path::Path::new("-"),
                "standard input cannot be advised: name the file instead",
            )?,
        }
    }
    let mut options = targets.walk.to_options();
    options.threads = common.threads.map_or(0, usize::from);
    options.block_devices = block_devices;
    let walked = walk(&roots, &options).map_err(anyhow::Error::msg)?;
    let mut files = Vec::new();
    let mut size = 0;
    for item in walked.items {
        match item {
            Walked::File(f) if f.first_link => {
                size += f.size;
                files.push(f);
            }
            Walked::File(_) => {}
            Walked::Skipped(path, why) => report.skipped(&path, why.describe())?,
            Walked::Error(e) => report.core_error(&e)?,
        }
    }
    Ok((files, size))
}

/// An opened regular file.
#[derive(Debug)]
pub struct Opened {
    /// The open file.
    pub input: Input,
    /// Its size.
    pub len: u64,
}

/// What a special file is, in a note.
pub fn stream_kind(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Stdin => "standard input",
        StreamKind::Fifo => "a FIFO",
        StreamKind::CharDevice => "a character device",
        StreamKind::Socket => "a socket",
        StreamKind::BlockDevice => "a block device",
        StreamKind::Pseudo => "a file of a pseudo filesystem (/proc, /sys), not in the page cache",
    }
}

/// What opening `path` gave, or why not (an error, or a note for special files).
pub fn opened(
    path: &std::path::Path,
    input: crate::error::Result<Input>,
    report: &mut Report<'_>,
) -> anyhow::Result<Option<Opened>> {
    match input {
        Err(e) => report.core_error(&e)?,
        Ok(input) => match input.access() {
            Access::Map { len } => return Ok(Some(Opened { input, len })),
            Access::Empty => return Ok(Some(Opened { input, len: 0 })),
            Access::Stream(kind) => report.skipped(path, stream_kind(kind))?,
        },
    }
    Ok(None)
}

/// Opens a batch of walked files, each only if it is still the file the walk found.
pub fn open_batch(files: &[FileEntry], report: &mut Report<'_>) -> anyhow::Result<Vec<Opened>> {
    let mut out = Vec::new();
    for f in files {
        let input =
            Input::open_found(&f.path, (f.dev, f.ino)).and_then(crate::advise::block_device);
        if let Some(o) = opened(&f.path, input, report)? {
            out.push(o);
        }
    }
    Ok(out)
}

/// The subjects of opened files over `range`; files that cannot be prepared are reported.
pub fn subjects<'a>(
    opened: &'a [Opened],
    range: Range,
    report: &mut Report<'_>,
) -> anyhow::Result<Vec<Subject<'a>>> {
    let mut out = Vec::new();
    for o in opened {
        match Subject::new(o.input.file(), o.input.name(), o.len, range) {
            Ok(s) => out.push(s),
            Err(e) => report.core_error(&e)?,
        }
    }
    Ok(out)
}

/// The whole file when no range is given.
pub fn range_of(targets: &Targets) -> Range {
    targets.range.unwrap_or(Range::ALL)
}

/// The outcome skeleton of a subject: path, sizes and residency before and after.
pub fn outcome(
    subject: &Subject<'_>,
    data: &[Range],
    before: crate::residency::Residency,
    after: crate::residency::Residency,
) -> Outcome {
    Outcome {
        path: subject.path.to_path_buf(),
        size: subject.len,
        span: subject.span,
        data: total(data),
        before,
        after,
        tail: String::new(),
        notes: Vec::new(),
        fields: Map::new(),
    }
}

/// Load options from the loading flags.
pub fn load_options(loading: &Loading) -> LoadOptions {
    LoadOptions {
        mode: loading.map_mode.into(),
        window: loading.window_size,
        pattern: loading.pattern(),
        huge: false,
    }
}

/// `mmadvise willneed`.
pub fn willneed(args: &WillneedArgs, driver: &mut Driver<'_, '_>) -> anyhow::Result<()> {
    let kind = Kind::Prefetch { wait: args.wait };
    driver.run(args.wait, |d, items| {
        d.load(
            &items,
            kind,
            &mut |_, _, _| Ok(Some(None)),
            &mut |report, s, o| {
                let requested = total(&s.spans);
                o.fields.insert("requested_bytes".into(), requested.into());
                o.fields.insert("cap_bytes".into(), s.cap.into());
                o.tail = format!(", requested {}", report.size(requested));
                match s.waited {
                    None if requested > 0 => o
                        .notes
                        .push("reading in the background (--wait waits for it)".into()),
                    Some(WaitEnd::Stalled) if !s.outstanding.is_empty() => {
                        let missing = total(&s.outstanding);
                        o.fields.insert("missing_bytes".into(), missing.into());
                        o.notes.push(format!(
                            "{} still missing: reading stopped making progress (memory pressure \
evicting what was read, or a device that does not answer)",
                            report.size(missing)
                        ));
                    }
                    Some(_) => {
                        o.fields.insert("missing_bytes".into(), 0.into());
                    }
                    None => {}
                }
                Ok(())
            },
        )
    })?;
    let mut fields = Map::new();
    let tail = driver.load_summary(&mut fields);
    driver.report.summary(fields, &tail)?;
    Ok(())
}

/// `mmadvise touch`.
pub fn touch(driver: &mut Driver<'_, '_>) -> anyhow::Result<()> {
    driver.run(true, |d, items| {
        d.load(
            &items,
            Kind::Populate,
            &mut |_, _, _| Ok(Some(None)),
            &mut |report, s, o| {
                let loaded = total(&s.spans);
                o.fields.insert("loaded_bytes".into(), loaded.into());
                o.tail = format!(", loaded {}", report.size(loaded));
                Ok(())
            },
        )
    })?;
    let mut fields = Map::new();
    let tail = driver.load_summary(&mut fields);
    driver.report.summary(fields, &tail)?;
    Ok(())
}

/// Explanations of pages that stayed after evict or pageout, and their JSON fields.
pub fn explain_stayed(stayed: &Stayed, span_len: u64, report: &Report<'_>, o: &mut Outcome) {
    let f = &mut o.fields;
    f.insert("stayed_pages".into(), stayed.pages.into());
    f.insert("dirty_pages".into(), stayed.dirty.into());
    f.insert("writeback_pages".into(), stayed.writeback.into());
    f.insert("other_pages".into(), stayed.other.into());
    f.insert("tmpfs".into(), stayed.tmpfs.into());
    let holders: Vec<Value> = stayed
        .holders
        .iter()
        .map(|h| serde_json::json!({"pid": h.pid, "name": h.name, "locked_bytes": h.locked}))
        .collect();
    f.insert("holders".into(), holders.into());
    let size = |pages| report.size(pages_to_bytes(pages, span_len));
    if stayed.tmpfs && stayed.pages > 0 {
        o.notes.push(format!(
            "{} stayed: the file is on tmpfs, whose pages live only in memory (and swap) and cannot \
be evicted; delete or truncate the file to free them",
            size(stayed.pages)
        ));
        return;
    }
    if stayed.dirty > 0 {
        o.notes.push(format!(
            "{} stayed dirty: written but not yet written back (use --sync to write them first)",
            size(stayed.dirty)
        ));
    }
    if stayed.writeback > 0 {
        o.notes.push(format!(
            "{} stayed under writeback: dirty pages being written back right now (use --sync to \
write them back and wait before evicting)",
            size(stayed.writeback)
        ));
    }
    if stayed.other > 0 {
        let who = if stayed.holders.is_empty() {
            "no process maps the file now: they were read again while evicting, or are pinned by \
the kernel"
                .to_string()
        } else {
            let names: Vec<String> = stayed
                .holders
                .iter()
                .map(|h| {
                    let locked = if h.locked > 0 {
                        format!(", {} locked", report.size(h.locked))
                    } else {
                        String::new()
                    };
                    format!("{} ({}{locked})", h.pid, h.name)
                })
                .collect();
            format!("mapped by process {}", names.join(", "))
        };
        o.notes
            .push(format!("{} stayed in use: {who}", size(stayed.other)));
    }
}

/// `mmadvise evict`.
pub fn evict(args: &EvictArgs, driver: &mut Driver<'_, '_>) -> anyhow::Result<()> {
    driver.run(false, |d, items| {
        let report = &mut d.report;
        for Item { subject, .. } in &items {
            let done = subject
                .data()
                .and_then(|data| Ok((data, evict_file(subject, args.sync)?)));
            match done {
                Ok((data, evicted)) => {
                    let mut o = outcome(subject, &data, evicted.before, evicted.after);
                    explain_stayed(&evicted.stayed, subject.span.len(), report, &mut o);
                    report.file(&o)?;
                }
                Err(e) => report.core_error(&e)?,
            }
        }
        Ok(())
    })?;
    driver.report.summary(Map::new(), "")?;
    Ok(())
}

/// `mmadvise advise cold|pageout|hugepage`.
pub fn advise(args: &AdviseArgs, driver: &mut Driver<'_, '_>) -> anyhow::Result<()> {
    let (act, name) = match args.advice {
        Advice::Cold => (Act::Cold, "cold"),
        Advice::Pageout => (Act::PageOut, "pageout"),
        Advice::Hugepage => (Act::HugePage, "hugepage"),
        other => anyhow::bail!("advice {other:?} is refused"),
    };
    driver.run(false, |d, items| {
        let report = &mut d.report;
        for Item { subject, .. } in &items {
            let done = subject.data().and_then(|data| {
                let advised = give_advice(subject, act, args.map_mode.into(), &data)?;
                Ok((data, advised))
            });
            let (data, advised) = match done {
                Ok(d) => d,
                Err(e) => {
                    report.core_error(&e)?;
                    continue;
                }
            };
            let mut o = outcome(subject, &data, advised.before, advised.after);
            o.fields.insert("advice".into(), name.into());
            let span_len = subject.span.len();
            match &advised.check {
                Check::Active { before, after } => {
                    o.fields
                        .insert("active_pages_before".into(), before.active.into());
                    o.fields
                        .insert("active_pages_after".into(), after.active.into());
                    o.tail = format!(
                        ", active {} -> {}",
                        report.size(pages_to_bytes(before.active, span_len)),
                        report.size(pages_to_bytes(after.active, span_len))
                    );
                }
                Check::Unverified(why) => o.notes.push(format!(
                    "not verified: {}",
                    match why {
                        crate::advise::pageflags::Unreadable::NoPfns =>
                            "reading page flags needs CAP_SYS_ADMIN",
                        crate::advise::pageflags::Unreadable::NoKpageflags =>
                            "/proc/kpageflags cannot be read",
                    }
                )),
                Check::Stayed(stayed) => explain_stayed(stayed, span_len, report, &mut o),
                Check::Huge {
                    huge,
                    data,
                    collapse,
                } => {
                    o.fields.insert("huge_bytes".into(), (*huge).into());
                    o.tail = format!(
                        ", in huge pages {} of {}",
                        report.size(*huge),
                        report.size(*data)
                    );
                    if huge < data {
                        let mode =
                            std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                                .unwrap_or_default();
                        let why = match collapse {
                            _ if mode.contains("[never]") => "transparent huge pages are disabled \
(/sys/kernel/mm/transparent_hugepage/enabled says never)"
                                .to_string(),
                            Some(e) => format!(
                                "the kernel would not collapse pages already cached in small pages \
(MADV_COLLAPSE: {e})"
                            ),
                            None => "the filesystem or the file's layout gave no more".into(),
                        };
                        o.notes.push(format!(
                            "{} not in huge pages: {why}",
                            report.size(data - huge)
                        ));
                    }
                }
            }
            report.file(&o)?;
        }
        Ok(())
    })?;
    driver.report.summary(Map::new(), "")?;
    Ok(())
}
