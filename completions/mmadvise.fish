# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mmadvise_global_optspecs
    string join \n h/help V/version
end

function __fish_mmadvise_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mmadvise_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mmadvise_using_subcommand
    set -l cmd (__fish_mmadvise_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mmadvise -n "__fish_mmadvise_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -s V -l version -d 'Print version'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "willneed" -d 'Prefetch in the background (WILLNEED in chunks of the device\'s readahead cap, missing data only)'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "touch" -d 'Load synchronously (MADV_POPULATE_READ per window, in parallel), skipping holes'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "load" -d 'Load synchronously (MADV_POPULATE_READ per window, in parallel), skipping holes'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "evict" -d 'Drop the files\' clean pages from the page cache and explain what stayed'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "lock" -d 'Lock the files in memory and hold them until SIGINT or SIGTERM'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "advise" -d 'Give advice with a lasting effect (cold, pageout, hugepage), and verify it'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "restore" -d 'Warm the page cache from a residency snapshot (mmstat --save)'
complete -c mmadvise -n "__fish_mmadvise_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l budget -d 'Load at most SIZE bytes (such as 2G), or PCT% of the memory available now (MemAvailable, or the room left under this process\'s memory cgroup limit when that is smaller); what does not fit is left out and reported' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l rate -d 'Read at most BYTES per second (such as 40M), counting only the missing data that is read' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l ionice -d 'I/O priority of the loading threads, set before any read: idle, best-effort[:0-7] or realtime[:0-7] (level 4 when not given; realtime needs CAP_SYS_ADMIN)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l wait -d 'Wait until the pages are resident (or reading stops making progress), with a progress bar'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand willneed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l pidfile -d 'With --follow: write the following process\'s id to FILE once the first walk is done; removed when it ends' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l map-mode -d 'How to map files: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l advice -d 'Access advice while loading [default: sequential readahead, exact reads near holes and range ends]' -r -f -a "normal\t'MADV_NORMAL: the kernel\'s read-around on each fault'
sequential\t'MADV_SEQUENTIAL and POSIX_FADV_SEQUENTIAL: aggressive readahead'
random\t'MADV_RANDOM and POSIX_FADV_RANDOM: no readahead, one read per page'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l window-size -d 'Largest window loaded at once per worker, such as 4M or 64M' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l budget -d 'Load at most SIZE bytes (such as 2G), or PCT% of the memory available now (MemAvailable, or the room left under this process\'s memory cgroup limit when that is smaller); what does not fit is left out and reported' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l rate -d 'Read at most BYTES per second (such as 40M), counting only the missing data that is read' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l ionice -d 'I/O priority of the loading threads, set before any read: idle, best-effort[:0-7] or realtime[:0-7] (level 4 when not given; realtime needs CAP_SYS_ADMIN)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l follow -d 'Keep following the files until SIGINT or SIGTERM: a file replaced by a rename is loaded again, a file that grows has its new tail loaded, new files under a directory are loaded, deleted files are let go; each change is reported as it happens (SIGHUP walks everything again)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l daemon -d 'With --follow: detach once the first walk is done, and follow in the background'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand touch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l pidfile -d 'With --follow: write the following process\'s id to FILE once the first walk is done; removed when it ends' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l map-mode -d 'How to map files: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l advice -d 'Access advice while loading [default: sequential readahead, exact reads near holes and range ends]' -r -f -a "normal\t'MADV_NORMAL: the kernel\'s read-around on each fault'
sequential\t'MADV_SEQUENTIAL and POSIX_FADV_SEQUENTIAL: aggressive readahead'
random\t'MADV_RANDOM and POSIX_FADV_RANDOM: no readahead, one read per page'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l window-size -d 'Largest window loaded at once per worker, such as 4M or 64M' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l budget -d 'Load at most SIZE bytes (such as 2G), or PCT% of the memory available now (MemAvailable, or the room left under this process\'s memory cgroup limit when that is smaller); what does not fit is left out and reported' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l rate -d 'Read at most BYTES per second (such as 40M), counting only the missing data that is read' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l ionice -d 'I/O priority of the loading threads, set before any read: idle, best-effort[:0-7] or realtime[:0-7] (level 4 when not given; realtime needs CAP_SYS_ADMIN)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l follow -d 'Keep following the files until SIGINT or SIGTERM: a file replaced by a rename is loaded again, a file that grows has its new tail loaded, new files under a directory are loaded, deleted files are let go; each change is reported as it happens (SIGHUP walks everything again)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l daemon -d 'With --follow: detach once the first walk is done, and follow in the background'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand load" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l sync -d 'Write dirty pages back first (fdatasync), so that they can be evicted too'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand evict" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l pidfile -d 'Write the holding process\'s id to FILE once the files are locked; removed when it ends' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l map-mode -d 'How to map files: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l advice -d 'Access advice while loading [default: sequential readahead, exact reads near holes and range ends]' -r -f -a "normal\t'MADV_NORMAL: the kernel\'s read-around on each fault'
sequential\t'MADV_SEQUENTIAL and POSIX_FADV_SEQUENTIAL: aggressive readahead'
random\t'MADV_RANDOM and POSIX_FADV_RANDOM: no readahead, one read per page'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l window-size -d 'Largest window loaded at once per worker, such as 4M or 64M' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l daemon -d 'Detach once the files are locked, and hold them in the background'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l follow -d 'Keep following the files until SIGINT or SIGTERM: a file replaced by a rename is locked again, a file that grows has its new tail locked, new files under a directory are locked, deleted files are let go; each change is reported as it happens (SIGHUP walks everything again)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand lock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l range -d 'Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l include -d 'Only files whose name (or, with a /, whose path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l exclude -d 'Leave out files and directories whose name (or path) matches GLOB; repeatable' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l min-size -d 'Leave out files smaller than SIZE (such as 4K or 1M)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l max-size -d 'Leave out files larger than SIZE' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l map-mode -d 'How to map files: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -s L -l dereference -d 'Follow symbolic links while walking directories (loops are detected and skipped); without it, links met inside directories are skipped with a note, and links named on the command line are followed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -s x -l one-file-system -d 'Stay on the filesystem of each directory named on the command line'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand advise" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l order -d 'The order files are loaded in, which decides what a --budget keeps: the snapshot\'s own, the highest resident share of the file first (density), or the most resident bytes first (size)' -r -f -a "snapshot\t'The snapshot\'s order'
density\t'Files with the highest resident share first'
size\t'Files with the most resident bytes first'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l map-prefix -d 'Restore files saved under OLD from under NEW instead (repeatable; the longest OLD that is a prefix of whole path components wins), for a snapshot saved on another host or before a copy' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l match -d 'How a saved file is recognised: identity (device, inode, size and modification time: the same file), size-mtime (a copy made with cp -a, rsync -a or mmcp -a), or fingerprint (the size and the content fingerprint saved by mmstat --save --fingerprint)' -r -f -a "identity\t'Device, inode, size and modification time: the same file'
size-mtime\t'Size and modification time: a copy that kept them'
fingerprint\t'Size and content fingerprint (mmstat --save --fingerprint)'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l map-mode -d 'How to map files: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l advice -d 'Access advice while loading [default: sequential readahead, exact reads near holes and range ends]' -r -f -a "normal\t'MADV_NORMAL: the kernel\'s read-around on each fault'
sequential\t'MADV_SEQUENTIAL and POSIX_FADV_SEQUENTIAL: aggressive readahead'
random\t'MADV_RANDOM and POSIX_FADV_RANDOM: no readahead, one read per page'"
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l window-size -d 'Largest window loaded at once per worker, such as 4M or 64M' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l budget -d 'Load at most SIZE bytes (such as 2G), or PCT% of the memory available now (MemAvailable, or the room left under this process\'s memory cgroup limit when that is smaller); what does not fit is left out and reported' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l rate -d 'Read at most BYTES per second (such as 40M), counting only the missing data that is read' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l ionice -d 'I/O priority of the loading threads, set before any read: idle, best-effort[:0-7] or realtime[:0-7] (level 4 when not given; realtime needs CAP_SYS_ADMIN)' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l strict -d 'Exit 1 when any file of the snapshot is skipped (changed or removed since it was saved)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l json -d 'Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l bytes -d 'Print exact byte counts instead of human-readable sizes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "willneed" -d 'Prefetch in the background (WILLNEED in chunks of the device\'s readahead cap, missing data only)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "touch" -d 'Load synchronously (MADV_POPULATE_READ per window, in parallel), skipping holes'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "evict" -d 'Drop the files\' clean pages from the page cache and explain what stayed'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "lock" -d 'Lock the files in memory and hold them until SIGINT or SIGTERM'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "advise" -d 'Give advice with a lasting effect (cold, pageout, hugepage), and verify it'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "restore" -d 'Warm the page cache from a residency snapshot (mmstat --save)'
complete -c mmadvise -n "__fish_mmadvise_using_subcommand help; and not __fish_seen_subcommand_from willneed touch evict lock advise restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
