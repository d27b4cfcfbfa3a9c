//! The man page section on `--cache neutral`, shared by mmcp and mmcount.

/// mmcount's PAGE CACHE section.
pub const MMCOUNT: &str = "With --cache neutral, mmcount leaves the page cache as it found it. Before each span of a \
file (4 MiB, or --window-size when smaller) is read, mmcount records which of its pages are cached \
(cachestat(2), or mincore(2) over a map of the span that is never read); once the span is read, the \
pages it brought in are dropped (posix_fadvise POSIX_FADV_DONTNEED) and those cached before stay where \
they were. Regular files are then read with pread(2), the kernel's readahead off, each span asked for \
four spans ahead of the reader: a neutral run holds at most 24 MiB of pages it brought in, whatever \
the file's size or the number of threads. Holes of sparse files are not read. A regular file on \
standard input is read the same way from where its offset stands; a pipe, a FIFO or a device is read \
as usual, and nothing is dropped. With --json, the records gain dropped_pages (pages the run brought in \
and dropped) and kept_pages (pages cached before, left cached).\n\
\nLimits: a page that another process brings into the cache while its span is being read looks like \
one of ours, and is dropped. Pages on tmpfs cannot be dropped (reading them adds none). For a file the \
caller may not write, and does not own, the kernel hides which pages are cached: such a file is read as \
with --cache normal, and a warning says so. Residency is recorded per page, but the kernel drops a \
large folio only when the whole folio lies in the range dropped.\n\
\nA scan of a day of logs that leaves the cache as it was, with what it dropped:\n\
\n    mmcount --cache neutral -l --json /var/log/app/*.log";

/// mmcp's PAGE CACHE section.
pub const MMCP: &str = "With --cache neutral, mmcp leaves the page cache as it found it. Before each span of SRC \
(4 MiB, or --window-size when smaller) is read, mmcp records which of its pages are cached \
(cachestat(2), or mincore(2) over a map of the span that is never read); once the span is read, the \
pages it brought in are dropped (posix_fadvise POSIX_FADV_DONTNEED) and those cached before stay. \
SRC is then read with pread(2), the kernel's readahead off, four spans ahead of the copy, and holes are \
not read. Each span written to the copy is started to disk at once (sync_file_range(2) with \
SYNC_FILE_RANGE_WRITE); four spans behind the writer, mmcp waits until it is written and drops it. \
A neutral copy holds at most 48 MiB of pages it brought in, source and copy together, whatever the \
file's size or the number of threads (24 MiB read ahead and being read, 24 MiB written and being \
written back); when it ends, none of the copy's pages are cached. With --in-place, the pages of DST \
that were cached before the copy (the truncation empties them) are the ones left cached. --verify \
reads both files the same way. A regular file on standard input is read from where its offset stands; \
a pipe, a FIFO or a device is read as usual. With --json, the records gain dropped_pages (pages the \
copy brought in and dropped, of SRC and of the copy) and kept_pages (pages of SRC cached before, left \
cached).\n\
\nLimits: a page that another process brings into the cache while its span is being read looks like \
one of ours, and is dropped. Pages on tmpfs cannot be dropped (neither SRC's nor the copy's). A neutral \
copy waits for the disk as it goes: on a slow disk it takes as long as cp followed by sync, not as long \
as cp, whose dirty pages the kernel writes back after cp has returned. For a SRC the caller may not \
write, and does not own, the kernel hides which pages are cached: it is read as with --cache normal, \
and a warning says so (the copy is still dropped behind the writer).\n\
\nA backup that leaves a database's cached pages alone, and the pages it dropped:\n\
\n    mmcp --cache neutral --json /srv/db/base.tar /backup/";
