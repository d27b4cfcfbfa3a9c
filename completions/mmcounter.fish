complete -c mmcounter -l shm -d 'Keep the counter in the POSIX shared-memory object NAME (shm_open; /dev/shm/NAME on Linux); a symbolic link planted at /dev/shm/NAME is refused, as shm_open refuses it' -r
complete -c mmcounter -l by -d 'Add N instead of 1; N may be negative' -r
complete -c mmcounter -l set -d 'Store N (0 or more, and no wider than the counter)' -r
complete -c mmcounter -l width -d 'Number of digits of a counter created now (1 to 20); existing counters keep theirs' -r
complete -c mmcounter -l map-mode -d 'shared: update the counter; private: map it copy-on-write, print the next value, store nothing' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmcounter -l timeout -d 'Wait at most SECS (such as 2 or 0.5) for the lock, then fail; 0 tries once' -r
complete -c mmcounter -l get -d 'Print the value without changing it (takes a shared lock)'
complete -c mmcounter -l reset -d 'Store 0'
complete -c mmcounter -l unlink -d 'Remove the shared-memory object named by --shm'
complete -c mmcounter -l padded -d 'Print the value as stored, zero-padded to the counter\'s width'
complete -c mmcounter -l json -d 'Print a JSON object: {"type":"counter","path":...,"previous":...,"value":...}'
complete -c mmcounter -s q -l quiet -d 'Quiet, as in every tool: mmcounter prints only what was asked for (the value) and errors anyway, so this changes nothing'
complete -c mmcounter -l hold -d 'After the update, keep the map open (holding no lock) until Enter, end of input, SIGINT or SIGTERM, then print the value seen through it'
complete -c mmcounter -l sync -d 'msync(MS_SYNC) the update before releasing the lock, so that it survives a power loss'
complete -c mmcounter -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmcounter -s V -l version -d 'Print version'
