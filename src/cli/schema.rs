//! The JSON Lines schema of all five tools, written once: every record type each tool writes and every
//! field it may carry, with its meaning. The man page mmtools-json(7) is generated from it, and the
//! tests fail when a tool writes a field that is not listed here.
//!
//! The vocabulary: page counts end in `_pages`, byte counts in `_bytes` (or are `size`), times in
//! `_seconds`; the same quantity has the same name in every tool and in mmstat's Prometheus output. A
//! name that is not valid UTF-8 is written lossily in `path` (`src`, `dst`, ...), with the exact bytes
//! in standard base64 in `path_bytes` (`src_bytes`, ...), which is present only then.

/// The schema's version, written as `"schema"` in every summary record. It changes when a field is
/// renamed or removed or changes meaning; adding a field or a record type keeps it.
pub const VERSION: u64 = 1;

/// One field of a record.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key. A key ending in `*` stands for every key with that prefix (`byte_0x*`).
    pub name: &'static str,
    /// What it holds.
    pub meaning: &'static str,
}

/// One record type of one tool.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// The tool that writes it (`mmstat --save` snapshots are listed under `snapshot`).
    pub tool: &'static str,
    /// The `"type"` value.
    pub kind: &'static str,
    /// When it is written.
    pub when: &'static str,
    /// Its fields, after `"type"`.
    pub fields: &'static [Field],
}

const fn f(name: &'static str, meaning: &'static str) -> Field {
    Field { name, meaning }
}

const PATH: Field = f(
    "path",
    "the file as named (lossy when the name is not UTF-8)",
);
const PATH_BYTES: Field = f(
    "path_bytes",
    "the exact name in standard base64, only when it is not UTF-8",
);
const ERROR: Field = f(
    "error",
    "the message as printed on standard error, without the leading 'TOOL: ': cp's words in every tool \
(cannot open 'a b' for reading: No such file or directory), wc's in mmcount (a b: No such file or directory)",
);
const SCHEMA: Field = f("schema", "the version of this schema");
const FILES: Field = f("files", "files that were handled");
const ERRORS: Field = f("errors", "inputs that failed");
const REASON: Field = f("reason", "why the path was passed over");

const ERROR_FIELDS: &[Field] = &[PATH, PATH_BYTES, ERROR];
const SKIPPED_FIELDS: &[Field] = &[PATH, PATH_BYTES, REASON];

const COUNTS: [Field; 9] = [
    f("lines", "newline bytes (-l)"),
    f("words", "words (-w)"),
    f("spaces", "ASCII spaces (-s)"),
    f("blanks", "spaces and tabs (-b)"),
    f("whitespace", "white-space bytes (-W)"),
    f(
        "byte_0x*",
        "occurrences of one byte value, in two hexadecimal digits (-B)",
    ),
    f("chars", "characters in the locale (-m)"),
    f("bytes", "bytes (-c)"),
    f("max_line_length", "the width of the longest line (-L)"),
];

const DROPPED_PAGES: Field = f(
    "dropped_pages",
    "with --cache neutral: pages the run brought into the page cache and dropped again",
);
const KEPT_PAGES: Field = f(
    "kept_pages",
    "with --cache neutral: pages already cached when the run read them, left cached",
);

const MMCOUNT_FILE: &[Field] = &[
    PATH,
    PATH_BYTES,
    COUNTS[0],
    COUNTS[1],
    COUNTS[2],
    COUNTS[3],
    COUNTS[4],
    COUNTS[5],
    COUNTS[6],
    COUNTS[7],
    COUNTS[8],
    DROPPED_PAGES,
    KEPT_PAGES,
];

const MMCOUNT_SUMMARY: &[Field] = &[
    SCHEMA,
    FILES,
    ERRORS,
    COUNTS[0],
    COUNTS[1],
    COUNTS[2],
    COUNTS[3],
    COUNTS[4],
    COUNTS[5],
    COUNTS[6],
    COUNTS[7],
    COUNTS[8],
    DROPPED_PAGES,
    KEPT_PAGES,
];

const HOLE_BYTES: Field = f("hole_bytes", "bytes left as holes in the copy");
const ELAPSED: Field = f("elapsed_seconds", "the run's wall-clock time");

const MMCP_FILE: &[Field] = &[
    f("src", "the source as named"),
    f(
        "src_bytes",
        "the source's exact name in base64, only when not UTF-8",
    ),
    f("dst", "the destination"),
    f(
        "dst_bytes",
        "the destination's exact name in base64, only when not UTF-8",
    ),
    f("bytes", "bytes copied"),
    HOLE_BYTES,
    DROPPED_PAGES,
    KEPT_PAGES,
    f(
        "link_to",
        "with -l or hard links kept: the copy this one is a link to",
    ),
    f(
        "link_to_bytes",
        "its exact name in base64, only when not UTF-8",
    ),
    f(
        "backup",
        "the name the old destination was kept under (--backup)",
    ),
    f(
        "backup_bytes",
        "its exact name in base64, only when not UTF-8",
    ),
];

const MMCP_SUMMARY: &[Field] = &[
    SCHEMA,
    FILES,
    ERRORS,
    f("bytes", "bytes copied in all"),
    HOLE_BYTES,
    ELAPSED,
    DROPPED_PAGES,
    KEPT_PAGES,
];

const COUNTER_PATH: Field = f("path", "FILE, or the --shm NAME as given");

const MMCOUNTER_COUNTER: &[Field] = &[
    COUNTER_PATH,
    PATH_BYTES,
    f("previous", "the value before the operation"),
    f(
        "value",
        "the value after it (equal for --get; with --map-mode private, what would be stored)",
    ),
];

const MMCOUNTER_HELD: &[Field] = &[
    COUNTER_PATH,
    PATH_BYTES,
    f("value", "the value seen through the still-open map"),
];

const MMCOUNTER_UNLINKED: &[Field] = &[COUNTER_PATH, PATH_BYTES];

const PAGES: Field = f("pages", "pages of the file or range looked at");
const SIZE: Field = f("size", "the file's size in bytes");
const RESIDENT_PAGES: Field = f("resident_pages", "pages in the page cache (null: unknown)");
const RESIDENT_BYTES: Field = f(
    "resident_bytes",
    "bytes of the file in resident pages (null: unknown)",
);
const PERCENT: Field = f(
    "percent",
    "the share of pages resident, 0 to 100 (null: unknown)",
);
const DIRTY: Field = f(
    "dirty_pages",
    "dirty pages (cachestat only; null otherwise)",
);
const WRITEBACK: Field = f("writeback_pages", "pages under writeback (cachestat only)");
const EVICTED: Field = f(
    "evicted_pages",
    "evicted pages the kernel still remembers (cachestat only)",
);
const RECENTLY_EVICTED: Field = f(
    "recently_evicted_pages",
    "evicted pages that were recently in use (cachestat only)",
);
const UNKNOWN_REASON: Field = f(
    "unknown_reason",
    "why residency is unknown: not-writable (the kernel hides it), hugetlbfs; null when known",
);
const PAGES_DELTA: Field = f(
    "resident_pages_delta",
    "--watch: change since the last refresh",
);
const BYTES_DELTA: Field = f(
    "resident_bytes_delta",
    "--watch: change since the last refresh",
);
const EVICTED_DELTA: Field = f(
    "recently_evicted_pages_delta",
    "--watch: change since the last refresh",
);

const MMSTAT_FILE: &[Field] = &[
    PATH,
    PATH_BYTES,
    SIZE,
    f("range", "with --range: [start, end) in bytes"),
    PAGES,
    RESIDENT_PAGES,
    RESIDENT_BYTES,
    PERCENT,
    DIRTY,
    WRITEBACK,
    EVICTED,
    RECENTLY_EVICTED,
    f("method", "cachestat or mincore"),
    f("fs", "storage, tmpfs or hugetlbfs"),
    UNKNOWN_REASON,
    f(
        "counted",
        "false for a second name of a file already counted (a hard link)",
    ),
    f(
        "resident_ranges",
        "with --ranges: resident [start, end) byte ranges",
    ),
    f("map", "with --map: [resident pages, pages] per cell"),
    PAGES_DELTA,
    BYTES_DELTA,
    EVICTED_DELTA,
    f(
        "group",
        "with --group-by and --top: the directory (the \"group\" record before) it counts in",
    ),
    f(
        "group_bytes",
        "the exact directory name in standard base64, only when it is not UTF-8",
    ),
];

const MMSTAT_GROUP: &[Field] = &[
    f(
        "path",
        "the directory, as the argument it was found under plus at most DEPTH levels \
(lossy when not UTF-8)",
    ),
    PATH_BYTES,
    f("depth", "the DEPTH of --group-by dir:DEPTH"),
    f(
        "files",
        "distinct files counted in the directory and below it (hard links once)",
    ),
    f("links", "second names of files already counted"),
    f("unknown_files", "files whose residency is unknown"),
    f("pages", "pages of the files counted"),
    f(
        "resident_pages",
        "resident pages of the files whose residency is known (null: none is)",
    ),
    f("unknown_pages", "pages of files whose residency is unknown"),
    f("size", "bytes of the files counted"),
    f("unknown_bytes", "bytes of files whose residency is unknown"),
    f(
        "resident_bytes",
        "bytes in resident pages of the files whose residency is known (null: none is)",
    ),
    f(
        "percent",
        "the share of the known pages resident, 0 to 100 (null: no known page)",
    ),
    DIRTY,
    WRITEBACK,
    EVICTED,
    RECENTLY_EVICTED,
    PAGES_DELTA,
    BYTES_DELTA,
    EVICTED_DELTA,
];

const MMSTAT_SUMMARY: &[Field] = &[
    SCHEMA,
    FILES,
    f("links", "second names of files already counted"),
    f("directories", "directories walked"),
    f("skipped", "paths passed over"),
    ERRORS,
    f("unknown_files", "files whose residency is unknown"),
    PAGES,
    RESIDENT_PAGES,
    f("unknown_pages", "pages of files whose residency is unknown"),
    SIZE,
    f("unknown_bytes", "bytes of files whose residency is unknown"),
    RESIDENT_BYTES,
    PERCENT,
    DIRTY,
    WRITEBACK,
    EVICTED,
    RECENTLY_EVICTED,
    ELAPSED,
    f("check", "with --check: the threshold"),
    f("check_passed", "with --check: whether it was met"),
    PAGES_DELTA,
    BYTES_DELTA,
    EVICTED_DELTA,
    f("refresh", "--watch: the refresh number, from 1"),
    f(
        "vanished",
        "--system: files and directories that vanished during the walk",
    ),
    f("processes", "--system: processes looked at"),
    f("held_files", "--system: distinct files processes hold"),
    f(
        "processes_gone",
        "--system: processes that exited before they were looked at",
    ),
    f(
        "processes_unreadable",
        "--system: processes whose files may not be listed",
    ),
    f("mounts_walked", "--system: filesystems walked"),
    f(
        "timestamp",
        "--watch: when the refresh was measured (UTC, ISO 8601)",
    ),
];

const MOUNT: Field = f(
    "mount",
    "mmstat --system: where the filesystem is mounted (lossy when not UTF-8)",
);
const MOUNT_BYTES: Field = f(
    "mount_bytes",
    "the exact mount point in standard base64, only when it is not UTF-8",
);

const MMSTAT_TOP_FILE: &[Field] = &[
    f("rank", "1 for the file with the most resident bytes"),
    PATH,
    PATH_BYTES,
    SIZE,
    RESIDENT_BYTES,
    f(
        "part",
        "where its pages count in Cached: walked, tmpfs, deleted or elsewhere",
    ),
    MOUNT,
    MOUNT_BYTES,
    f(
        "pid",
        "the first process found holding it open or mapped, or null",
    ),
    f("processes", "how many processes hold it"),
];

const MMSTAT_MOUNT: &[Field] = &[
    MOUNT,
    MOUNT_BYTES,
    f("fstype", "the filesystem type"),
    f("source", "the mounted device or source"),
    f(
        "source_bytes",
        "the exact source in standard base64, only when it is not UTF-8",
    ),
    f("walked", "whether the mount was walked"),
    f("reason", "why it was not walked, or null"),
    FILES,
    SIZE,
    RESIDENT_BYTES,
    f("unknown_files", "files whose residency is unknown"),
    f(
        "held_files",
        "files on it that processes hold (counted in files)",
    ),
];

const MMSTAT_CGROUP: &[Field] = &[
    f("cgroup", "the memory cgroup's path (lossy when not UTF-8)"),
    f(
        "cgroup_bytes",
        "the exact path in standard base64, only when it is not UTF-8",
    ),
    f("processes", "its processes"),
    f(
        "files",
        "files its processes hold open or map (a file held in several cgroups counts in each)",
    ),
    RESIDENT_BYTES,
];

const MMSTAT_RECONCILIATION: &[Field] = &[
    f(
        "cached_bytes",
        "Cached from /proc/meminfo when the measurement ended",
    ),
    f(
        "buffers_bytes",
        "Buffers from /proc/meminfo (beside Cached)",
    ),
    f("shmem_bytes", "Shmem from /proc/meminfo (part of Cached)"),
    f(
        "walked_bytes",
        "resident bytes of files on walked filesystems backed by storage",
    ),
    f("walked_percent", "their share of Cached"),
    f(
        "tmpfs_bytes",
        "resident bytes of files on tmpfs and other memory filesystems",
    ),
    f("tmpfs_percent", "their share of Cached"),
    f(
        "deleted_bytes",
        "resident bytes of deleted files still open or mapped",
    ),
    f("deleted_percent", "their share of Cached"),
    f(
        "elsewhere_bytes",
        "resident bytes of files processes hold on filesystems not walked",
    ),
    f("elsewhere_percent", "their share of Cached"),
    f(
        "rest_bytes",
        "Cached less all of the above: pages of files the walk could not reach",
    ),
    f("rest_percent", "its share of Cached"),
    f(
        "over_bytes",
        "how much the files found exceed Cached (it changed during the walk), else 0",
    ),
];

const MMADVISE_FILE: &[Field] = &[
    f("action", "willneed, touch, evict, lock, advise or restore"),
    PATH,
    PATH_BYTES,
    SIZE,
    f("offset", "the start of the range acted on, in bytes"),
    f("length_bytes", "the length of the range acted on"),
    PAGES,
    f("data_bytes", "bytes of data in the range (holes left out)"),
    f(
        "resident_pages_before",
        "resident pages before the action (null: unknown)",
    ),
    f(
        "resident_pages_after",
        "resident pages after it (null: unknown)",
    ),
    UNKNOWN_REASON,
    f(
        "notes",
        "what the text output says about the file, as strings",
    ),
    f("requested_bytes", "willneed: bytes asked for"),
    f(
        "cap_bytes",
        "willneed: the chunk size (the device's readahead cap)",
    ),
    f(
        "missing_bytes",
        "willneed --wait: bytes still missing at the end",
    ),
    f("loaded_bytes", "touch, restore: bytes read"),
    f("stayed_pages", "evict: pages that stayed resident"),
    DIRTY,
    WRITEBACK,
    f("other_pages", "evict: pages that stayed for another reason"),
    f(
        "tmpfs",
        "evict: whether the file is on tmpfs (its pages cannot be dropped)",
    ),
    f(
        "holders",
        "evict: processes that map the file: objects with pid, name and locked_bytes",
    ),
    f("advice", "advise: the advice given"),
    f("active_pages_before", "advise cold: active pages before"),
    f("active_pages_after", "advise cold: active pages after"),
    f("huge_bytes", "advise hugepage: bytes in huge pages after"),
    f("saved_bytes", "restore: resident bytes in the snapshot"),
    f("saved_pages", "restore: resident pages in the snapshot"),
    f("restored_pages", "restore: those resident now"),
    f("locked_bytes", "lock: bytes locked"),
    f(
        "left_out_bytes",
        "touch, willneed, restore with --budget: missing bytes left out because the budget was spent",
    ),
];

const MMADVISE_SUMMARY: &[Field] = &[
    SCHEMA,
    f("action", "the action"),
    FILES,
    f("skipped", "paths passed over"),
    ERRORS,
    SIZE,
    PAGES,
    f(
        "resident_pages_before",
        "resident pages before, files of known residency",
    ),
    f("resident_pages_after", "resident pages after"),
    f("unknown_files", "files whose residency is unknown"),
    f("locked_bytes", "lock: bytes locked in all"),
    f("pid", "lock: the process holding the locks"),
    f("holding", "lock: whether anything is locked"),
    f(
        "changed_files",
        "restore: files skipped because they changed since the snapshot",
    ),
    f(
        "removed_files",
        "restore: files skipped because they no longer exist",
    ),
    f(
        "loaded_bytes",
        "touch, willneed, restore: bytes read (willneed: asked for), missing data only",
    ),
    f(
        "loaded_files",
        "touch, willneed, restore: files with bytes read",
    ),
    f(
        "elapsed_seconds",
        "touch, willneed, restore: the time spent loading (willneed: and waiting)",
    ),
    f(
        "rate_bytes_per_second",
        "touch, willneed, restore: the rate achieved, loaded_bytes over the time spent loading",
    ),
    f(
        "rate_limit_bytes_per_second",
        "with --rate: the rate asked for",
    ),
    f("budget_bytes", "with --budget: the budget, in bytes"),
    f(
        "left_out_bytes",
        "with --budget: missing bytes left out because the budget was spent",
    ),
    f("left_out_files", "with --budget: files with bytes left out"),
    f(
        "ionice",
        "with --ionice: the I/O priority of the loading threads (idle, best-effort:N, realtime:N)",
    ),
];

const MMADVISE_EVENT: &[Field] = &[
    f("action", "lock or touch (with --follow)"),
    f(
        "event",
        "added, replaced, grew, shrank (a file locked or loaded), released (let go), rescan, \
watching (after a walk), stopped (last)",
    ),
    PATH,
    PATH_BYTES,
    SIZE,
    f("previous_size", "grew, shrank: the size before"),
    f("offset", "the start of the range acted on, in bytes"),
    f("length_bytes", "the length of the range acted on"),
    f(
        "locked_bytes",
        "lock: bytes locked by this event (stopped, watching: in all; released: let go)",
    ),
    f("loaded_bytes", "touch: bytes read by this event"),
    f(
        "reason",
        "released: deleted or filtered; rescan: overflow (events were lost) or requested (SIGHUP)",
    ),
    FILES,
    f("directories", "watching: directories watched"),
    f("pid", "watching: the following process"),
];

const SNAPSHOT_HEADER: &[Field] = &[
    f("format", "always mmtools-residency"),
    f("version", "the snapshot format's version"),
    f("page_size", "the page size of the machine that saved it"),
    f(
        "created_ns",
        "when it was saved, in nanoseconds since the epoch",
    ),
];

const SNAPSHOT_FILE: &[Field] = &[
    PATH,
    PATH_BYTES,
    f("dev", "device number when saved"),
    f("ino", "inode number when saved"),
    SIZE,
    f("mtime_ns", "modification time when saved, in nanoseconds"),
    f(
        "fingerprint",
        "version 2, with mmstat --save --fingerprint: the content fingerprint (16 hexadecimal digits)",
    ),
    f("resident_ranges", "resident [start, end) byte ranges"),
];

/// Every record type of every tool.
pub const RECORDS: &[Record] = &[
    Record {
        tool: "mmcount",
        kind: "file",
        when: "per input counted",
        fields: MMCOUNT_FILE,
    },
    Record {
        tool: "mmcount",
        kind: "error",
        when: "per input that could not be counted",
        fields: ERROR_FIELDS,
    },
    Record {
        tool: "mmcount",
        kind: "summary",
        when: "last; the counts are totals",
        fields: MMCOUNT_SUMMARY,
    },
    Record {
        tool: "mmcp",
        kind: "file",
        when: "per file copied (or linked)",
        fields: MMCP_FILE,
    },
    Record {
        tool: "mmcp",
        kind: "error",
        when: "per file that could not be copied",
        fields: ERROR_FIELDS,
    },
    Record {
        tool: "mmcp",
        kind: "summary",
        when: "last",
        fields: MMCP_SUMMARY,
    },
    Record {
        tool: "mmcounter",
        kind: "counter",
        when: "after an update or --get",
        fields: MMCOUNTER_COUNTER,
    },
    Record {
        tool: "mmcounter",
        kind: "held",
        when: "after --hold ends",
        fields: MMCOUNTER_HELD,
    },
    Record {
        tool: "mmcounter",
        kind: "unlinked",
        when: "after --shm NAME --unlink",
        fields: MMCOUNTER_UNLINKED,
    },
    Record {
        tool: "mmcounter",
        kind: "error",
        when: "when the counter could not be read or updated",
        fields: ERROR_FIELDS,
    },
    Record {
        tool: "mmstat",
        kind: "file",
        when: "per file measured",
        fields: MMSTAT_FILE,
    },
    Record {
        tool: "mmstat",
        kind: "group",
        when: "with --group-by, per directory (instead of a file record per file; with --top N, its \
first N files follow it)",
        fields: MMSTAT_GROUP,
    },
    Record {
        tool: "mmstat",
        kind: "skipped",
        when: "per path passed over (FIFOs, sockets, devices, symlinks not followed)",
        fields: SKIPPED_FIELDS,
    },
    Record {
        tool: "mmstat",
        kind: "error",
        when: "per path that could not be measured",
        fields: ERROR_FIELDS,
    },
    Record {
        tool: "mmstat",
        kind: "summary",
        when: "last (per refresh with --watch)",
        fields: MMSTAT_SUMMARY,
    },
    Record {
        tool: "mmstat",
        kind: "top_file",
        when: "--system: per file of the top list, most resident bytes first",
        fields: MMSTAT_TOP_FILE,
    },
    Record {
        tool: "mmstat",
        kind: "mount",
        when: "--system: per mount, walked or not, in the mount table's order",
        fields: MMSTAT_MOUNT,
    },
    Record {
        tool: "mmstat",
        kind: "cgroup",
        when: "--system --by cgroup: per memory cgroup, most resident bytes first",
        fields: MMSTAT_CGROUP,
    },
    Record {
        tool: "mmstat",
        kind: "reconciliation",
        when: "--system: before the summary; Cached split by where its pages were found",
        fields: MMSTAT_RECONCILIATION,
    },
    Record {
        tool: "mmadvise",
        kind: "file",
        when: "per file acted on",
        fields: MMADVISE_FILE,
    },
    Record {
        tool: "mmadvise",
        kind: "skipped",
        when: "per path passed over",
        fields: SKIPPED_FIELDS,
    },
    Record {
        tool: "mmadvise",
        kind: "error",
        when: "per file that failed",
        fields: ERROR_FIELDS,
    },
    Record {
        tool: "mmadvise",
        kind: "summary",
        when: "last",
        fields: MMADVISE_SUMMARY,
    },
    Record {
        tool: "mmadvise",
        kind: "event",
        when: "with --follow: per change, instead of file and summary records",
        fields: MMADVISE_EVENT,
    },
    Record {
        tool: "snapshot",
        kind: "snapshot",
        when: "first line of a file written by mmstat --save",
        fields: SNAPSHOT_HEADER,
    },
    Record {
        tool: "snapshot",
        kind: "file",
        when: "per file in the snapshot",
        fields: SNAPSHOT_FILE,
    },
];

/// Whether `tool` may write `key` in a record of type `kind`.
pub fn allows(tool: &str, kind: &str, key: &str) -> bool {
    key == "type"
        || RECORDS
            .iter()
            .filter(|r| r.tool == tool && r.kind == kind)
            .flat_map(|r| r.fields)
            .any(|f| match f.name.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => f.name == key,
            })
}

/// The man page mmtools-json(7), in roff.
pub fn man_page(version: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH mmtools-json 7 \"\" \"mmtools {version}\" \"mmtools\"\n.SH NAME\nmmtools\\-json \\- the \
JSON Lines records of mmcp, mmcount, mmcounter, mmstat and mmadvise\n"
    ));
    out.push_str(
        ".SH DESCRIPTION\nWith \\fB\\-\\-json\\fR, each tool writes JSON Lines: one object per line, \
each with a \\fBtype\\fR field first. The records and fields below are all that the tools write; a field \
may be absent where its description says when it is written. Numbers are exact integers (bytes, pages), \
never human\\-readable strings; residency the kernel does not reveal is null, never a guess.\n.PP\n\
Page counts end in \\fB_pages\\fR, byte counts in \\fB_bytes\\fR (or are \\fBsize\\fR), times in \
\\fB_seconds\\fR; the same quantity has the same name in every tool and in mmstat's Prometheus output. \
Every summary record carries \\fBschema\\fR, the version of this schema (",
    );
    out.push_str(&VERSION.to_string());
    out.push_str(
        "), which changes only when a field is renamed or removed or changes meaning.\n.PP\nA file \
name is kept exactly: \\fBpath\\fR (and \\fBsrc\\fR, \\fBdst\\fR, ...) is a string, lossy (U+FFFD) when \
the name is not valid UTF\\-8, and then \\fBpath_bytes\\fR (\\fBsrc_bytes\\fR, ...) holds the exact bytes \
in standard base64. It is absent for a name that is valid UTF\\-8, so \\fBjq \\-r .path\\fR works for \
every ordinary name.\n",
    );
    let mut tool = "";
    for record in RECORDS {
        if record.tool != tool {
            tool = record.tool;
            let title = match tool {
                "snapshot" => "SNAPSHOTS (mmstat \\-\\-save, read by mmadvise restore)".to_string(),
                t => t.to_uppercase(),
            };
            out.push_str(&format!(".SH {title}\n"));
        }
        out.push_str(&format!(
            ".SS \"{}\"\nWritten {}.\n",
            record.kind,
            record.when.replace('-', "\\-")
        ));
        for field in record.fields {
            out.push_str(&format!(
                ".TP\n\\fB{}\\fR\n{}\n",
                field.name.replace('-', "\\-"),
                field.meaning.replace('-', "\\-")
            ));
        }
    }
    out.push_str(
        ".SH SEE ALSO\n\\fBmmcp\\fR(1), \\fBmmcount\\fR(1), \\fBmmcounter\\fR(1), \\fBmmstat\\fR(1), \
\\fBmmadvise\\fR(1)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_is_listed_once_and_every_field_once_per_record() {
        let mut seen = std::collections::HashSet::new();
        for r in RECORDS {
            assert!(seen.insert((r.tool, r.kind)), "{} {}", r.tool, r.kind);
            let mut names = std::collections::HashSet::new();
            for f in r.fields {
                assert!(names.insert(f.name), "{} {} {}", r.tool, r.kind, f.name);
            }
        }
        assert!(allows("mmcount", "file", "byte_0x41"));
        assert!(!allows("mmcount", "file", "dirty_pages"));
        assert!(allows("mmstat", "summary", "schema"));
    }

    #[test]
    fn names_follow_the_vocabulary() {
        // Quantities that are neither pages nor bytes nor times keep plain names; these are the ones
        // that look like pages or bytes but are not named so.
        for r in RECORDS {
            for f in r.fields {
                assert!(
                    !matches!(
                        f.name,
                        "dirty" | "writeback" | "evicted" | "unknown" | "seconds"
                    ),
                    "{} {} {}",
                    r.tool,
                    r.kind,
                    f.name
                );
            }
        }
    }
}
