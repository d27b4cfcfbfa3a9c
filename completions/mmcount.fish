complete -c mmcount -s B -l byte -d 'Count occurrences of one byte: a character, or \\t, \\n, \\r, \\0, \\\\, \\xHH (repeatable)' -r
complete -c mmcount -l files0-from -d 'Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them' -r -F
complete -c mmcount -l map-mode -d 'How to map inputs: shared (the page cache itself) or private (copy-on-write)' -r -f -a "shared\t'MAP_SHARED: read the page cache directly'
private\t'MAP_PRIVATE: copy-on-write private map'"
complete -c mmcount -s j -l threads -d 'Worker threads [default: available parallelism]' -r
complete -c mmcount -l window-size -d 'Largest window mapped at once per worker, such as 64K or 16M; rounded up to whole pages' -r
complete -c mmcount -l cache -d 'What to leave in the page cache: normal (what is read stays cached) or neutral (the pages the run brings in are dropped behind it; those cached before stay)' -r -f -a "normal\t'What is read or written stays cached, as with any read or write'
neutral\t'Pages the run brings in are dropped once done with; pages cached before stay'"
complete -c mmcount -s s -l spaces -d 'Count ASCII spaces (0x20); the default when no counter is given'
complete -c mmcount -s b -l blanks -d 'Count `[:blank:]` bytes: space and tab'
complete -c mmcount -s W -l whitespace -d 'Count white-space bytes: space, \\t, \\n, \\v, \\f and \\r'
complete -c mmcount -s l -l lines -d 'Count newline bytes, as wc -l'
complete -c mmcount -s w -l words -d 'Count words: maximal runs of bytes other than white space (GNU wc -w in the C locale)'
complete -c mmcount -s c -l bytes -d 'Count bytes'
complete -c mmcount -s m -l chars -d 'Count characters, as wc -m: complete UTF-8 sequences in a UTF-8 locale (invalid bytes are not characters), bytes in the C locale'
complete -c mmcount -s L -l max-line-length -d 'Print the width of the longest line, as wc -L: tabs stop every 8 columns, wide characters take 2 and non-printing ones none; the total is the longest of all'
complete -c mmcount -l json -d 'Write JSON Lines: a "file" object per input, "error" per failure, and a "summary"'
complete -c mmcount -l no-mmap -d 'Read with read(2) instead of mapping (the escape hatch; results are the same)'
complete -c mmcount -s q -l quiet -d 'Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a --check verdict through the exit status)'
complete -c mmcount -l progress -d 'Show a progress bar on stderr even for short runs or when stderr is not a terminal'
complete -c mmcount -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mmcount -s V -l version -d 'Print version'
