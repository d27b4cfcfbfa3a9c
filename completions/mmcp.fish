complete -c mmcp -s t -l target-directory -d 'Copy every SRC into DIR' -r -F
complete -c mmcp -l preserve -d 'Keep these attributes (default: mode,ownership,timestamps): mode (exact bits and POSIX ACLs), ownership (where permitted), timestamps (atime, mtime, ns), links (hard links among the copied files), xattr (other extended attributes, not SELinux labels), all (all of them, extended attributes only where possible); context (SELinux) is not supported' -r
complete -c mmcp -l no-preserve -d 'Don\'t keep these attributes; --no-preserve=mode creates files 0666 and directories 0777, less the umask' -r
complete -c mmcp -l backup -d 'Back up each existing destination before it is replaced: CONTROL is none/off, numbered/t (NAME.~N~), existing/nil (numbered if numbered backups exist, else simple), simple/never (NAME~); without CONTROL, $VERSION_CONTROL, else existing' -r
complete -c mmcp -s S -l suffix -d 'Suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~); implies --backup' -r
complete -c mmcp -l sparse -d 'Holes: auto keeps the source\'s holes, always also makes holes of all-zero pages (and reserves no blocks ahead, so a full disk shows as the data is written), never writes every byte' -r -f -a "auto\t'Keep the source\'s holes'
always\t'Keep holes and make holes of all-zero pages'
never\t'Write every byte'"
complete -c mmcp -l dest-io -d 'How the mapped source reaches DST: write (pwrite from the map, the fastest) or map (a shared read-write map of DST)' -r -f -a "write\t'pwrite(2) from the source\'s map'
map\t'memcpy into a shared map of the destination'"
complete -c mmcp -l mmap-min -d 'Files smaller than SIZE are copied with pread/pwrite, which is faster for them than mapping; 0 maps every file' -r
complete -c mmcp -l reflink -d 'Clone data blocks (WHEN: auto, always, never): mmcp never clones, so auto and never copy as usual, and always (the default of a bare --reflink) is refused' -r
complete -c mmcp -l map-mode -d 'How to map inputs: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmcp -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmcp -l window-size -d 'Largest window mapped at once per worker, such as 64K or 16M; rounded up to whole pages' -r
complete -c mmcp -l cache -d 'What to leave in the page cache: normal (what is read stays cached) or neutral (the pages the run brings in are dropped behind it; those cached before stay)' -r -f -a "normal\t'What is read or written stays cached, as with any read or write'
neutral\t'Pages the run brings in are dropped once done with; pages cached before stay'"
complete -c mmcp -s r -l recursive -d 'Copy directories recursively; symlinks are copied as symlinks, FIFOs and sockets recreated, devices skipped (unless --copy-contents)'
complete -c mmcp -s a -l archive -d 'Copy an archive: -R -P --preserve=all (mode, ownership, timestamps, hard links, and extended attributes where possible)'
complete -c mmcp -s L -l dereference -d 'Follow every symlink in SRC (copy what they point to)'
complete -c mmcp -s P -l no-dereference -d 'Never follow symlinks in SRC: copy them as symlinks (the default with -r)'
complete -c mmcp -s H -d 'Follow symlinks named on the command line, not those found in trees'
complete -c mmcp -s d -d 'Same as --no-dereference --preserve=links'
complete -c mmcp -s n -l no-clobber -d 'Never overwrite an existing file (-n and -i override each other, the last wins; -f does not override -n, as in cp)'
complete -c mmcp -s i -l interactive -d 'Ask on stderr before overwriting; the answer is read from stdin'
complete -c mmcp -s f -l force -d 'Replace an existing destination even if it is not writable'
complete -c mmcp -s u -l update -d 'Copy only when SRC is newer than DST, or DST is missing'
complete -c mmcp -s p -d 'Same as --preserve=mode,ownership,timestamps'
complete -c mmcp -s b -d 'Like --backup, but takes no argument'
complete -c mmcp -s v -l verbose -d 'Print \'SRC\' -> \'DST\' for each file copied'
complete -c mmcp -l in-place -d 'Write DST directly instead of through a temporary file (no room for two copies; a failure leaves DST partly written)'
complete -c mmcp -l sync -d 'msync and fsync each copy before it replaces DST, then fsync the directory'
complete -c mmcp -l verify -d 'After copying, compare SRC and the copy through maps; a difference fails the file'
complete -c mmcp -s T -l no-target-directory -d 'Treat DST as a normal file, never as a directory to copy into'
complete -c mmcp -l remove-destination -d 'Remove each existing destination before creating the new one (a symlink or device at DST is replaced, not written through)'
complete -c mmcp -s l -l link -d 'Make hard links to the source files instead of copying them'
complete -c mmcp -s s -l symbolic-link -d 'Make symbolic links to the source files instead of copying them (the link holds SRC as named: a relative SRC works only when DST is in the current directory)'
complete -c mmcp -l parents -d 'Append SRC as named to DIR (making the missing directories), instead of SRC\'s last name'
complete -c mmcp -s x -l one-file-system -d 'Stay on the file system of each SRC: directories on other file systems (mount points) are created empty'
complete -c mmcp -l attributes-only -d 'Copy only the attributes asked for (-p, --preserve), not the data: a missing DST is created empty, an existing one keeps its contents'
complete -c mmcp -l copy-contents -d 'With -r, copy the contents of FIFOs and devices found in trees as regular files, instead of recreating FIFOs (and skipping devices)'
complete -c mmcp -l json -d 'Write JSON Lines: a "file" object per file copied, "error" per failure, and a "summary"'
complete -c mmcp -l no-mmap -d 'Read with read(2) instead of mapping (the escape hatch; results are the same)'
complete -c mmcp -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmcp -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmcp -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmcp -s V -l version -d 'Print version'
