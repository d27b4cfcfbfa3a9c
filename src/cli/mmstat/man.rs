//! The hand-written sections of mmstat's man page: examples, exit status, and the JSON, snapshot and
//! Prometheus formats.

/// Hand-written man page sections: EXAMPLES, EXIT STATUS, JSON OUTPUT, SNAPSHOT FORMAT, PROMETHEUS
/// OUTPUT, CAVEATS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "How much of a database is in the page cache, file by file, with a summary:\n\
\n    mmstat /var/lib/postgresql\n\
\nWhat is in my page cache: the ten files under / with the most resident bytes, on one filesystem:\n\
\n    mmstat -x --top 10 /\n\
\nA residency map of one file, as wide as the terminal, and its resident byte ranges:\n\
\n    mmstat -v --ranges big.db\n\
\nThe files a process maps or holds open:\n\
\n    mmstat --pid $(pidof postgres | cut -d' ' -f1)\n\
\nA warm-up gate for a script: wait until 90% of an index is cached:\n\
\n    until mmstat --summary --check 90 /srv/index >/dev/null 2>&1; do sleep 1; done\n\
\nWatch for thrashing (recently evicted pages rising), one summary line every 10 seconds, into a log:\n\
\n    mmstat --watch 10 --summary /data >> residency.log\n\
\nPage-cache residency for Prometheus, through node_exporter's textfile collector: per directory two \
levels below /srv/data, with the five files with the most resident bytes in each, the file replaced \
whole:\n\
\n    mmstat --format prometheus --group-by dir:2 --top 5 \\\n        --output-file /var/lib/prometheus/node-exporter/mmstat.prom /srv/data\n\
\nThe same every minute from systemd (examples/systemd in the source holds both units, hardened; \
examples/kubernetes holds a DaemonSet that does the same on every node, with a warm-up gate):\n\
\n    # /etc/systemd/system/mmstat-textfile.service\n    [Service]\n    Type=oneshot\n    \
ExecStart=/usr/local/bin/mmstat --format prometheus --group-by dir:2 --top 5 --output-file \
/var/lib/prometheus/node-exporter/mmstat.prom /srv/data\n    CapabilityBoundingSet=CAP_DAC_READ_SEARCH \
CAP_FOWNER\n\n    # /etc/systemd/system/mmstat-textfile.timer\n    [Timer]\n    OnBootSec=1min\n    \
OnUnitActiveSec=1min\n    [Install]\n    WantedBy=timers.target\n\
\nOr as a daemon, refreshing the file every 60 seconds:\n\
\n    mmstat --watch 60 --format prometheus --group-by dir:2 --output-file /var/lib/prometheus/node-exporter/mmstat.prom /srv/data\n\
\nSave what is cached before a restart, and bring it back afterwards:\n\
\n    mmstat --save /var/tmp/cache.jsonl /data\n    mmadvise restore /var/tmp/cache.jsonl",
    ),
    (
        "THE WHOLE MACHINE",
        "mmstat --system answers \"buff/cache is large: which files are they?\" without naming any \
file. It reads the mount table (/proc/self/mountinfo) and walks every mounted local filesystem, each \
once and without crossing into another, in parallel; tmpfs and other memory filesystems are walked too \
(their pages are Shmem and cannot be evicted); network filesystems, and FUSE filesystems (but fuseblk), \
whose servers may answer slowly or never, only with --all-fs; pseudo \
filesystems (proc, sysfs, cgroup...) and stacked ones (overlay, whose pages belong to the filesystems \
below it) never. A mount hidden under a later one at the same place, and a second mount of a \
filesystem already walked (a bind mount), are passed over, so that no file counts twice. It also looks \
at the files every process holds open or maps (/proc/PID/fd, /proc/PID/map_files), which finds what no \
walk can: deleted files still open, memfd and shared memory, and files on mounts of other namespaces. \
A file reached twice (hard links, bind mounts, held and walked) counts once.\n\
\nIt prints the --top files (20 by default) with the most resident bytes, the totals of each mount \
walked, and how Cached in /proc/meminfo (read when the walk ends) splits: files on walked filesystems, \
files on tmpfs, deleted files still open, files processes hold on filesystems not walked, and the rest. \
The rest is pages of files the walk could not reach: files on filesystems no longer mounted, on mounts \
of other mount namespaces that no process here holds, and inodes no longer linked nor open, which stay \
cached until reclaimed. Buffers, the cache of block devices themselves, is shown beside it. The page \
cache changes while the walk runs, so the parts may exceed Cached a little; the output says by how \
much.\n\
\n--by cgroup adds, for the files processes hold, a total per memory cgroup of the processes holding \
them (from /proc/PID/cgroup), for container hosts. A file counts in the cgroup of every process that \
holds it. The kernel charges a page to the cgroup that first faulted it in, which this view cannot see: \
it shows who holds the files, not whom their pages are charged to.\n\
\nMemory stays bounded whatever the number of files: a heap of the top files, totals per mount, and a \
set of (device, inode) only for files with several links and files processes hold. Directories and \
files that cannot be read, files that vanish and processes that exit during the walk are counted and \
summarised on standard error, never fatal. Run it as root: the kernel hides the residency of files the \
caller may not write, and the files of other users' processes.\n\
\n    mmstat --system\n    mmstat --system --top 50 --by cgroup\n    mmstat --system --json | jq 'select(.type == \"reconciliation\")'",
    ),
    (
        "EXIT STATUS",
        "0 when every file was measured (and, with --check, at least PCT percent of the pages of files \
whose residency is known are resident); 1 when a file or directory could not be read, a snapshot could \
not be written, or the --check threshold was not met (the other files are still measured and \
reported); 2 for a usage error. Files whose residency is unknown, paths skipped (FIFOs, sockets, \
devices) and files of a process that exited during the scan do not make the status 1. With --system, \
directories and files that cannot be read, files that vanish and processes that exit during the walk \
are counted and summarised on standard error and do not make the status 1 either; it is 1 only when \
the mount table or /proc cannot be read. With --watch, \
the loop ends at SIGINT, SIGTERM or SIGHUP and mmstat then dies of that signal, as the shell expects \
(status 130 for Ctrl-C); with --count it ends after that many refreshes, with the status above (--check \
applies to the last refresh). Writing to a closed pipe ends the run quietly with status 0.",
    ),
    (
        "JSON OUTPUT",
        "With --json (or -J, or --format json), one JSON object per line, each with a \"type\" first: \
\"file\" per file measured (with --group-by, a \"group\" per directory instead, each followed by its \
--top files with a \"group\" field), \"skipped\" per path passed over, \"error\" per failure, and \
\"summary\" last (per refresh under --watch). Byte and page counts are exact integers; residency the kernel does not tell \
is null, never a guess:\n\
\n    {\"type\":\"file\",\"path\":\"a.db\",\"size\":8192,\"pages\":2,\"resident_pages\":1,\"resident_bytes\":4096,\"percent\":50.0,\"dirty_pages\":0,\"writeback_pages\":0,\"evicted_pages\":1,\"recently_evicted_pages\":0,\"method\":\"cachestat\",\"fs\":\"storage\",\"unknown_reason\":null,\"counted\":true}\n\
\nA file named twice or through a hard link has \"counted\": false and is not added to the summary. Every record type and field is listed, with its meaning, in mmtools-json(7); a summary record carries \"schema\", that page's version. Names are strings (lossy when not UTF-8, with the exact bytes in base64 in a sibling \"..._bytes\" field).\n\
\nIn the table, a name holding a newline, a control character or bytes that are not a printable \
character is quoted and escaped for the shell, as ls shows it ('a'$'\\377''b'), so that each file stays \
on one row; messages quote names as wc's do.",
    ),
    (
        "SNAPSHOT FORMAT",
        "--save FILE writes a residency snapshot, which mmadvise restore reads back to warm the page \
cache after a restart. FILE is written beside itself under a temporary name and renamed into place, so \
it is never half written. The format is JSON Lines. The first line is a header:\n\
\n    {\"type\":\"snapshot\",\"format\":\"mmtools-residency\",\"version\":2,\"page_size\":4096,\"created_ns\":1763771234000000000}\n\
\nEach further line is one file:\n\
\n    {\"type\":\"file\",\"path\":\"/data/db/table.ibd\",\"dev\":2049,\"ino\":131075,\"size\":1073741824,\"mtime_ns\":1763771200123456789,\"fingerprint\":\"d270f07d7870849f\",\"resident_ranges\":[[0,25165824],[67108864,67112960]]}\n\
\npath is absolute. A name that is not valid UTF-8 is written in path with U+FFFD for its invalid bytes \
and exactly in \"path_bytes\" (standard base64), which a restore reads back, so such files are found \
again; other names have no path_bytes, and snapshots written before it existed still load. dev, ino, size and mtime_ns (the modification time in nanoseconds since the epoch) \
identify the file: a restore passes over a file whose identity changed (or, with mmadvise restore \
--match size-mtime, whose size or modification time changed). fingerprint, written only with \
--fingerprint, is 16 hexadecimal digits: a 64-bit hash (our own multiply-and-fold mix, not \
cryptographic) of the size and of five 4 KiB blocks, read with pread and readahead off: the first \
block (offset 0); the blocks at a quarter, a half and three quarters of the size, each offset rounded \
down to a multiple of 4096; and the last 4096 bytes (offset size - 4096). A file of 20 KiB or less is \
hashed whole. A change outside those blocks that keeps the size is not seen: the fingerprint catches a \
file replaced or rewritten, cheaply, not every edit. mmadvise restore --match fingerprint checks it \
before loading. resident_ranges (resident in \
earlier snapshots, which still load) lists the resident \
byte ranges [start, end), sorted and not overlapping, page-aligned except that the last may end at the \
end of the file (or of --range). Only files whose residency is known are saved, each once (hard links \
by their first path). Version 2 added fingerprint; version 1 snapshots still load. Readers ignore \
fields they do not know and refuse a version they do not know. \
mmtools-json(7) lists the fields.",
    ),
    (
        "PROMETHEUS OUTPUT",
        "--format prometheus writes the text exposition format that node_exporter's textfile collector \
reads: for each metric a # HELP and a # TYPE line, then all of its samples. Per-file gauges are \
labelled path=\"...\" and fs=\"storage|tmpfs|hugetlbfs\"; in label values a backslash is written \\\\, a \
double quote \\\" and a newline \\n, and a name that is not UTF-8 (the format is) has U+FFFD for its \
invalid bytes. The per-file gauges are mmstat_file_size_bytes, mmstat_file_pages, \
mmstat_file_resident_pages, mmstat_file_resident_bytes (both absent for a file whose residency is \
unknown), and, from cachestat, mmstat_file_dirty_pages, mmstat_file_writeback_pages, \
mmstat_file_evicted_pages and mmstat_file_recently_evicted_pages. The totals are mmstat_files, \
mmstat_directories, mmstat_errors, mmstat_unknown_files, mmstat_pages, mmstat_resident_pages, \
mmstat_size_bytes, mmstat_resident_bytes, mmstat_resident_ratio (0 to 1, of the known pages), \
mmstat_scan_duration_seconds, and from cachestat mmstat_dirty_pages and mmstat_recently_evicted_pages. \
--top N keeps the per-file gauges to the N files with the most resident bytes (or those first by \
--sort), which bounds the number of series; --summary leaves out the per-file gauges; the totals always \
cover every file. A path named twice (overlapping arguments) gives one series.\n\
\nA name that is not UTF-8 also gets the label path_bytes=\"...\" with its exact bytes in standard \
base64 (as path_bytes in JSON), so that two such names never make one series, which the collector \
would refuse; other names have no path_bytes.\n\
\nWith --group-by dir[:DEPTH], the per-file gauges give way to per-directory ones, labelled path (and \
path_bytes): mmstat_dir_files (distinct files, hard links once), mmstat_dir_size_bytes, \
mmstat_dir_pages, mmstat_dir_resident_pages and mmstat_dir_resident_bytes (of the files whose residency \
is known; absent when none is), mmstat_dir_unknown_files, mmstat_dir_unknown_pages, and from cachestat \
mmstat_dir_dirty_pages, mmstat_dir_writeback_pages, mmstat_dir_evicted_pages and \
mmstat_dir_recently_evicted_pages. A file counts in the directory at most DEPTH levels below the \
argument it was found under (dir is dir:1; dir:0 is the argument; files higher up count in their own \
directory; a file named as an argument counts in the directory that holds it; a process's file counts \
at most DEPTH levels below /), so the number of series is bounded by the tree's shape, not by its \
number of files. With --top N, the per-file gauges of each directory's first N files are kept too.\n\
\n--output-file FILE writes the report (in any format) as an anonymous file (O_TMPFILE) in FILE's \
directory, synced, then linked in over the old FILE (through a temporary name renamed over it at once), \
so that the collector reads the old report or the new one and never half of one; FILE gets mode 0644 \
less the umask. A report that cannot be written whole (a full disk) leaves the old FILE and no \
temporary, and exits 1 with error writing 'FILE': reason. SIGINT, SIGTERM and SIGHUP let a write \
under way finish and stop mmstat before another begins. Only a SIGKILL in the instant between the \
link under the temporary name .FILE.mmcp-XXXXXX and the rename can leave that name behind (node_exporter reads only \
names ending in .prom, so it never reads it); where the filesystem has no anonymous files, the report \
is written under such a name, removed on failure. With --watch, each \
refresh replaces FILE, so --watch with --format prometheus needs --output-file.",
    ),
    (
        "CAVEATS",
        "Memory. The summary (--summary), JSON Lines, Prometheus totals, the table in the order \
found (no --sort, or --sort none) and --top N print each file as it is measured and keep, besides the \
totals and the N best files, only the device and inode of files with more than one link, of files \
named on the command line and of directories (to count each file once): a tree of any size is measured \
in a few MiB. --group-by adds each file to its directory's totals as it is measured and keeps, per \
directory, those totals and with --top N at most 2N files. With --output-file, these outputs stream into \
an anonymous file in FILE's directory, linked in whole at the end. A table sorted whole (--sort without --top), Prometheus samples for every file (each \
metric's samples are printed together), --save and --watch keep a record of every file, about 0.5 KiB \
each, until they print. The streamed table sizes its columns on the first 1000 files; a later, wider \
value widens its column from there on. The names of a --files0-from list are read whole before the \
walk starts, and a directory's names are read whole before its files are measured.\n\
\nLinux hides the page-cache residency of a file from a caller who may not write it (and is not \
its owner or root): mincore(2) claims every page resident (since Linux 5.2) and cachestat(2) fails with \
EPERM (since 6.14). mmstat reports such files as unknown (- in text, null in JSON) with one note, and \
leaves them out of the percentage; it never prints a fake 100%. An EPERM from cachestat for a file the \
caller may write comes from a seccomp filter instead: mmstat then uses mincore and says so.\n\
\ntmpfs files are labelled [tmpfs]: their pages live only in memory and cannot be evicted (they may be \
swapped, which shows as not resident). hugetlbfs files are unknown.\n\
\nRES counts the bytes of the file that lie in resident pages, exact to the byte at the file's end and \
at the edges of --range. PAGES and % count whole pages, as fincore and vmtouch do.\n\
\nMaps (-v) and ranges (--ranges) are exact: maps count each cell with cachestat, or with mincore(2) \
over bounded windows of at most 1 GiB, whose page vector takes 256 KiB however large the file; a 1 TiB \
sparse file takes a few milliseconds with cachestat. The list of ranges grows with the number of runs.\n\
\nSymbolic links met while walking are not followed (-L follows them, with loops detected by device and \
inode); a link named on the command line is followed. FIFOs, sockets and devices are skipped with a \
note and never opened in a way that could block. With --pid, files are opened through /proc/PID/root \
(so other mount namespaces work), /proc/PID/fd and, for deleted mapped files, /proc/PID/map_files \
(which needs CAP_SYS_ADMIN); a process that exits during the scan ends its list with a note. The \
walking filters (--include, --exclude, --min-size, --max-size, -x, -L) apply to the paths given, not to \
a process's files.\n\
\nResidency changes all the time: a report is a sample, and two files are not measured at the same \
instant.",
    ),
];
