# mmstat rows (issue 5): residency of a tree of about 100k files against vmtouch and fincore, and of a
# 1 TiB sparse file against vmtouch (time and peak RSS). Sourced by bench/compare.sh; see bench/README.md.
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
    "$MM/mmstat --json --summary $tree | sed 's/.*\"pages\":\\([0-9]*\\).*/\\1/'" \
    "vmtouch $tree 2>/dev/null | sed -n 's|.*Resident Pages: [0-9]*/\\([0-9]*\\) .*|\\1|p'"

  bench_row "tree of $files files, summary" 0.35 \
    "$MM/mmstat --summary $tree" "vmtouch -q" "vmtouch -q $tree"
  bench_row "tree of $files files, a row per file" - \
    "$MM/mmstat $tree" "find | xargs fincore" \
    "find $tree -type f -print0 | xargs -0 fincore"
  bench_row "tree of $files files, JSON" - \
    "$MM/mmstat --json $tree" "vmtouch -q" "vmtouch -q $tree"

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
