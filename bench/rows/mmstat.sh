# mmstat rows (issues 5 and 13): residency of a tree of about 100k files against vmtouch and fincore
# (time and peak RSS), of generated trees of 300,000 and 1,000,000 files (time grows with the files,
# memory does not), and of a 1 TiB sparse file against vmtouch (time and peak RSS). Sourced by
# bench/compare.sh; see bench/README.md.
#
# MMSTAT_BENCH_TREE names the tree; by default /usr when it holds at least 50,000 regular files (as on
# our machines), otherwise a generated tree of 100,000 small files.

# Peak RSS of a command in KiB, through GNU time.
mmstat_peak_rss() {
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1
}

rows_mmstat() {
  local tree files sparse rss_mm rss_peer
  need /usr/bin/time time
  need fincore util-linux

  tree=${MMSTAT_BENCH_TREE:-}
  if [[ -z $tree ]]; then
    # head closes the pipe early, which pipefail would count as find failing.
    files=$( (find /usr -xdev -type f 2>/dev/null || true) | head -n 50000 | wc -l)
    if ((files >= 50000)); then
      tree=/usr
    else
      tree=$WORK/tree-100k
      gen_tree "$tree" 100000 2K 5
    fi
  fi
  files=$(find "$tree" -type f | wc -l)
  bench_note "mmstat: the tree is $tree ($files regular files); its metadata is cached by the warm-up runs."

  # Both count every page of every regular file, hard links once, symbolic links not followed.
  agree "total pages of $tree" \
    "$MM/mmstat --json --summary $tree 2>/dev/null | tail -n 1 | sed 's/.*\"pages\":\\([0-9]*\\).*/\\1/'" \
    "vmtouch $tree 2>/dev/null | sed -n 's|.*Resident Pages: [0-9]*/\\([0-9]*\\) .*|\\1|p'"

  bench_row "tree of $files files, summary" 0.35 \
    "$MM/mmstat --summary $tree" "vmtouch -q" "vmtouch -q $tree"
  rss_mm=$(mmstat_peak_rss "$MM/mmstat" --summary "$tree")
  rss_peer=$(mmstat_peak_rss vmtouch -q "$tree")
  bench_result "tree of $files files, summary, peak RSS" "${rss_mm} KiB" "vmtouch -q" "${rss_peer} KiB"
  rss_mm=$(mmstat_peak_rss "$MM/mmstat" --json "$tree")
  bench_result "tree of $files files, JSON, peak RSS" "${rss_mm} KiB" "32 MiB bound" "32768 KiB"
  bench_row "tree of $files files, a row per file" - \
    "$MM/mmstat $tree" "find | xargs fincore" \
    "find $tree -type f -print0 | xargs -0 fincore"
  bench_row "tree of $files files, JSON" - \
    "$MM/mmstat --json $tree" "vmtouch -q" "vmtouch -q $tree"

  # Scale: generated trees of 300,000 and 1,000,000 empty-ish files (MMSTAT_BENCH_SCALE=0 skips them).
  if [[ ${MMSTAT_BENCH_SCALE:-1} != 0 ]]; then
    local n t_small t_big rss_small rss_big
    for n in 300000 1000000; do
      [[ -d $WORK/tree-$n ]] || gen_tree "$WORK/tree-$n" "$n" 64 11
    done
    t_small=$(bench_time "$MM/mmstat --summary $WORK/tree-300000")
    t_big=$(bench_time "$MM/mmstat --summary $WORK/tree-1000000")
    bench_result "1,000,000 files vs 300,000, summary (s)" "$t_big" "300,000 files" "$t_small"
    rss_small=$(mmstat_peak_rss "$MM/mmstat" --summary "$WORK/tree-300000")
    rss_big=$(mmstat_peak_rss "$MM/mmstat" --summary "$WORK/tree-1000000")
    bench_result "1,000,000 files vs 300,000, summary, peak RSS" "${rss_big} KiB" "300,000 files" "${rss_small} KiB"
    rss_big=$(mmstat_peak_rss "$MM/mmstat" --top 20 "$WORK/tree-1000000")
    bench_result "1,000,000 files, --top 20, peak RSS" "${rss_big} KiB" "32 MiB bound" "32768 KiB"
  fi

  # A 1 TiB sparse file holding a few extents of data (cached, since just written).
  sparse=$WORK/sparse-1t
  gen_sparse "$sparse" 1T 16 "$(scale 256M)" 3
  agree "resident pages of the sparse file" \
    "$MM/mmstat --json $sparse | sed 's/.*\"resident_pages\":\\([0-9]*\\).*/\\1/'" \
    "fincore --raw --noheadings -o PAGES $sparse"

  bench_row "1 TiB sparse file" - "$MM/mmstat $sparse" "vmtouch" "vmtouch $sparse"
  [[ $LAST_MM == - ]] || bench_result "1 TiB sparse file, 10 ms bound" "$LAST_MM" "10 ms" 0.010 1
  bench_row "1 TiB sparse file, residency map" - "$MM/mmstat -v $sparse" "vmtouch -v" "vmtouch -v $sparse"

  rss_mm=$(mmstat_peak_rss "$MM/mmstat" "$sparse")
  rss_peer=$(mmstat_peak_rss vmtouch "$sparse")
  bench_result "1 TiB sparse file, peak RSS (KiB)" "${rss_mm} KiB" "vmtouch" "${rss_peer} KiB"
  rss_mm=$(mmstat_peak_rss "$MM/mmstat" -v --method mincore --range 0:64G "$sparse")
  bench_result "64 GiB of it by mincore windows, peak RSS" "${rss_mm} KiB" "32 MiB bound" "32768 KiB"
  bench_note "mmstat: peak RSS by GNU time (%M); the bound of the issue is 32 MiB with --map or mincore."
}
