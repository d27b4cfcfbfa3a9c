complete -c mmstat -s o -l output -d 'Columns to show, comma-separated: res, pages, size, pct, dirty, writeback, evicted, recently_evicted, file (and in --watch, delta and recently_evicted_delta), in either case (fincore\'s RES,PAGES,SIZE,FILE work as they are)' -r -f -a "res\t'Resident bytes'
pages\t'Resident pages / pages'
size\t'The size of the file (or of the range looked at)'
pct\t'The share of pages resident'
dirty\t'Dirty pages (cachestat only)'
writeback\t'Pages under writeback (cachestat only)'
evicted\t'Evicted pages the kernel still remembers (cachestat only)'
recently_evicted\t'Evicted pages that were recently in use: the sign of thrashing (cachestat only)'
delta\t'Change of resident bytes since the previous refresh (--watch)'
recently_evicted_delta\t'Change of recently evicted pages since the previous refresh (--watch)'
file\t'The path'"
complete -c mmstat -l output-file -d 'Write the report (table, JSON or Prometheus) to FILE instead of standard output, whole or not at all: built in FILE\'s directory and renamed over it when complete, so that a reader such as node_exporter never sees half a file; with --watch, each refresh replaces FILE' -r -F
complete -c mmstat -l group-by -d 'Aggregate the files per directory, DEPTH levels below each argument (dir alone is dir:1; files higher up count in their own directory), one row, JSON "group" record or set of Prometheus gauges per directory instead of per file; with --top N, each directory\'s N files with the most resident bytes (or by --sort) follow it' -r
complete -c mmstat -l format -d 'Output format: a text table, JSON Lines, or Prometheus\'s text exposition format (for node_exporter\'s textfile collector)' -r -f -a "text\t'A table'
json\t'JSON Lines'
prometheus\t'Prometheus text exposition format'"
complete -c mmstat -l sort -d 'Sort files: by resident bytes, size, resident share or dirty pages (largest first), or by name; or none, in the order found. A sorted table keeps every file\'s record until the end (about 0.5 KiB a file); unsorted output and --top N print as they go in bounded memory' -r -f -a "res\t'Resident bytes, most first'
size\t'Size, largest first'
pct\t'Resident share, highest first'
dirty\t'Dirty pages, most first'
name\t'Path, in byte order'
none\t'None: the order of the inputs and of the walk, each file printed as it is measured (with --top, the first N files)'"
complete -c mmstat -l top -d 'Show only the first N files (sorted by resident bytes unless --sort says otherwise); the summary still covers every file' -r
complete -c mmstat -l watch -d 'Refresh every SECS seconds (fractions allowed) until interrupted: in place on a terminal, otherwise appending each refresh, with changes since the previous one' -r
complete -c mmstat -l count -d 'With --watch: stop after N refreshes' -r
complete -c mmstat -l check -d 'Exit with status 1 unless at least PCT percent of the pages (of files whose residency is known) are resident' -r
complete -c mmstat -l save -d 'Write a snapshot of the resident ranges of every file to FILE (JSON Lines; see SNAPSHOT FORMAT), for mmadvise restore' -r -F
complete -c mmstat -l range -d 'Look only at this byte range of each file: OFFSET:LENGTH or OFFSET..END, such as 1G:64M' -r
complete -c mmstat -l pid -d 'Look at the files process PID maps or holds open (repeatable)' -r
complete -c mmstat -l by -d 'With --system: also group the files processes hold by the memory cgroup of those processes' -r -f -a "cgroup\t'The memory cgroup of the processes holding each file (from /proc/PID/cgroup)'"
complete -c mmstat -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmstat -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmstat -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmstat -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmstat -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmstat -l method -d 'How to ask the kernel: cachestat(2) where the kernel has it, else mincore(2) (auto); or one of them only' -r -f -a "auto\t'cachestat where the kernel has it, mincore otherwise'
cachestat\t'cachestat only'
mincore\t'mincore only'"
complete -c mmstat -s j -l threads -d 'Worker threads for walking and measuring [default: available parallelism]' -r
complete -c mmstat -s b -l bytes -d 'Print sizes as exact byte counts instead of human-readable ones such as 1.5G'
complete -c mmstat -s n -l no-headings -l noheadings -d 'Leave out the heading line (and the summary line, unless --summary is given)'
complete -c mmstat -l summary -d 'Print the summary only, not a row per file'
complete -c mmstat -s q -l quiet -d 'Quiet: no table and no summary, only errors; with --check, the verdict is the exit status. JSON and Prometheus output are what was asked for, and stay'
complete -c mmstat -s v -l map -d 'Draw a residency map under each file: a bar as wide as the terminal, each cell shaded by the share of its pages that is resident'
complete -c mmstat -l ascii -d 'Draw maps with ASCII characters instead of Unicode blocks'
complete -c mmstat -l ranges -d 'List the resident and missing byte ranges of each file (arrays of [start, end) in JSON)'
complete -c mmstat -s J -l json -d 'Write JSON Lines: a "file" object per file, "error" per failure, and a "summary"'
complete -c mmstat -l fingerprint -d 'With --save: store each file\'s content fingerprint (its size and five sampled 4 KiB blocks, hashed), so that mmadvise restore --match fingerprint can recognise copies and catch changes'
complete -c mmstat -l system -d 'The whole machine: walk every mounted local filesystem (each once, without crossing into another) and the files processes hold open or map, deleted ones too; show the top files (20 unless --top says), totals per mount, and how /proc/meminfo\'s Cached splits between them'
complete -c mmstat -l all-fs -d 'With --system: walk network filesystems too (NFS, CIFS, Ceph, 9p, virtiofs...), and FUSE filesystems other than fuseblk (their servers may answer slowly, or never)'
complete -c mmstat -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmstat -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmstat -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmstat -s V -l version -d 'Print version'
