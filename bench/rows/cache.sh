# shellcheck shell=bash
# --cache neutral rows (issue 11): a neutral copy of an evicted 1 GiB file against cp followed by sync,
# GNU dd's nocache flags and mmcp's default followed by sync; a neutral count against the default; and
# the residency each leaves behind. Sourced by bench/compare.sh; see bench/README.md.

# cache_half FILE: the first half of FILE cached and the second not, read with readahead off so that
# not a page more comes in.
cache_half() {
  python3 - "$1" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
half = size // 2 // 4096 * 4096
at = 0
while at < half:
    at += len(os.pread(fd, min(1 << 20, half - at), at))
os.close(fd)
EOF
}

# cache_left LABEL CMD: runs CMD once on a source whose first half is cached, then records the
# residency of SRC and of the copy (when there is one) it leaves, in a result row.
cache_left() {
  local label=$1 cmd=$2 src dst
  rm -f "$CACHE_OUT"
  sync
  cache_half "$CACHE_SRC"
  sh -c "$cmd"
  sync
  src=$(resident "$CACHE_SRC")
  dst=-
  [[ ! -e $CACHE_OUT ]] || dst=$(resident "$CACHE_OUT")
  bench_result "left cached (SRC half cached before): $label" "SRC $src%, DST $dst%" "SRC before" "50.0%"
  bench_note "cache: after $label on a source whose first half was cached: SRC $src% cached, DST $dst%."
}

rows_cache() {
  local f out=$WORK/cache-copy
  f=$(bench_text)
  CACHE_SRC=$f
  CACHE_OUT=$out
  "$MM/mmcp" --cache neutral "$f" "$out"
  cmp "$f" "$out"
  agree "lines, neutral" "$MM/mmcount --cache neutral -l $f" "wc -l < $f"
  rm -f "$out"
  sync

  local prep="rm -f $out; sync; evict $f"
  bench_row "copy 1 GiB, cold, neutral, then sync" 1.1 "$MM/mmcp --cache neutral $f $out && sync" \
    "cp && sync" "cp $f $out && sync" "$prep"
  bench_row "copy 1 GiB, cold, neutral, then sync" - "$MM/mmcp --cache neutral $f $out && sync" \
    "dd nocache" "dd if=$f of=$out iflag=nocache oflag=nocache bs=1M status=none" "$prep"
  bench_row "copy 1 GiB, cold, neutral, then sync" 1.1 "$MM/mmcp --cache neutral $f $out && sync" \
    "mmcp && sync" "$MM/mmcp $f $out && sync" "$prep"
  bench_row "spaces, cold, neutral" 1.1 "$MM/mmcount --cache neutral $f" "mmcount" "$MM/mmcount $f" "evict $f"

  cache_left "mmcp --cache neutral" "$MM/mmcp --cache neutral $f $out"
  cache_left "cp" "cp $f $out"
  cache_left "dd iflag=nocache oflag=nocache" "dd if=$f of=$out iflag=nocache oflag=nocache bs=1M status=none"
  cache_left "mmcp" "$MM/mmcp $f $out"
  cache_left "mmcount --cache neutral" "$MM/mmcount --cache neutral $f >/dev/null"
  cache_left "mmcount" "$MM/mmcount $f >/dev/null"
  rm -f "$out"
  warm "$f"
}
