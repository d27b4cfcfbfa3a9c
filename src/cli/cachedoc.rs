//! The man page section on `--cache neutral`, shared by mmcp and mmcount.

/// mmcount's PAGE CACHE section.
pub const MMCOUNT: &str = "With --cache neutral, mmcount leaves the page cache as it found it. Before each span of a \
file (4 MiB, or --window-size when smaller) is read, mmcount records which of its pages are cached \
(cachestat(2), or mincore(2) over a map of the span that is never read). The threads (-j, at most \
four at once) take spans in file order; one at a time, each span is mapped and faulted in through the \
page cache with the kernel's readahead on and going forward only (MADV_SEQUENTIAL), then counted while \
the next is read. mmcount records the file ahead of the reader, as far as its readahead can reach \
(twice the device's read_ahead_kb, or its largest request, or the span, whichever is larger, and 2 MiB), and \
once every span before a part of the file has been read, it drops the pages that part brought in \
(posix_fadvise POSIX_FADV_DONTNEED); those cached before stay where they were. On a device whose \
readahead window is over 8 MiB, or that cannot be found, readahead is off instead and each read brings \
in only its own pages. A neutral run holds at most 42 MiB of pages it brought in, whatever the file's \
size or the number of threads (in a file with holes, readahead may also fill up to 18 MiB of the hole \
after each span being read). Holes of sparse files are not read. With --no-mmap, spans are read \
with pread(2) instead of maps, the same way. A regular file on standard input is read from where its \
offset stands, through the cache, recorded ahead of the reader and dropped behind it in the same \
way; a pipe, a FIFO or a device is read as usual, and nothing is dropped. With --json, the records gain \
dropped_pages (pages the run brought in and dropped) and kept_pages (pages cached before, left \
cached).\n\
\nLimits: a page that another process brings into the cache while its span is being read looks like \
one of ours, and is dropped. Pages on tmpfs cannot be dropped (reading them adds none). For a file the \
caller may not write, and does not own, the kernel hides which pages are cached: such a file is read as \
with --cache normal, and a warning says so. Residency is recorded per page, but the kernel drops a \
large folio only when the whole folio lies in the range dropped. A run ended by a signal (SIGTERM, \
SIGINT, SIGKILL) stops where it is and leaves cached what it had brought in and not yet dropped, at \
most the 42 MiB above.\n\
\nA scan of a day of logs that leaves the cache as it was, with what it dropped:\n\
\n    mmcount --cache neutral -l --json /var/log/app/*.log";

/// mmcp's PAGE CACHE section.
pub const MMCP: &str = "With --cache neutral, mmcp leaves the page cache as it found it. Before each span of SRC \
(4 MiB, or --window-size when smaller) is read, mmcp records which of its pages are cached \
(cachestat(2), or mincore(2) over a map of the span that is never read). SRC is read through maps, \
one span at a time, through the page cache, the kernel's readahead on, recorded ahead of the reader \
as far as its readahead can reach, and dropped (posix_fadvise POSIX_FADV_DONTNEED) behind the first span not yet \
read, while the pages cached before stay (see mmcount(1) for the details). Holes are \
not read. Up to four threads (-j) copy spans at once, in file order. Each span is written to the \
copy with pwrite(2), started to disk at once (sync_file_range(2) with SYNC_FILE_RANGE_WRITE), and four \
spans behind the writer, mmcp waits until it is written and drops it. A neutral copy holds at most \
66 MiB of pages it brought in, source and copy together, whatever the \
file's size or the number of threads; when it ends, none of the copy's pages are cached. With \
--in-place, the pages of DST that were cached before the copy are written through the cache and are \
the ones left cached. --verify reads both files through the cache, recording each window before it \
is read and dropping what it brought in. A regular file on standard input is read from where its offset stands, through the \
cache; a pipe, a FIFO or a device is read as usual. With --json, the records gain dropped_pages (pages \
the copy brought in and dropped, of SRC and of the copy) and kept_pages (pages of SRC cached before, \
left cached).\n\
\nLimits: a page that another process brings into the cache while its span is being read looks like \
one of ours, and is dropped. Pages on tmpfs cannot be dropped (neither SRC's nor the copy's). A neutral \
copy waits for the disk as it goes: on a slow disk it takes as long as cp followed by sync, not as long \
as cp, whose dirty pages the kernel writes back after cp has returned. For a SRC the caller may not \
write, and does not own, the kernel hides which pages are cached: it is read as with --cache normal, \
and a warning says so (the copy is still dropped behind the writer). SIGTERM and SIGINT end a \
neutral copy after its drops; SIGKILL leaves cached what it had brought in and not yet dropped, at \
most the 66 MiB above.\n\
\nA backup that leaves a database's cached pages alone, and the pages it dropped:\n\
\n    mmcp --cache neutral --json /srv/db/base.tar /backup/";
