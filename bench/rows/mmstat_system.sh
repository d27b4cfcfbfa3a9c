# shellcheck shell=bash
# mmstat --system rows (issue 13): the page cache of the whole machine, every local filesystem walked
# and every process's files looked at. Time (hyperfine's median) and peak RSS (GNU time), with the
# reconciliation against /proc/meminfo in the notes. There is no peer that answers the same question;
# the notes give the file and directory counts for scale. Sourced by bench/compare.sh.

rows_mmstat_system() {
  local median rss report
  need /usr/bin/time time

  median=$(bench_time "$MM/mmstat --system --top 20")
  bench_result "whole machine, --system --top 20" "$median" "(no peer)" "-"
  rss=$(/usr/bin/time -f %M "$MM/mmstat" --system --top 20 -q 2>&1 >/dev/null | tail -n1)
  bench_result "whole machine, peak RSS" "${rss} KiB" "(no peer)" "-"
  report=$("$MM/mmstat" --system --summary 2>/dev/null)
  bench_note "mmstat --system: peak RSS ${rss} KiB (GNU time %M). Its reconciliation:"
  while IFS= read -r line; do
    bench_note "    $line"
  done <<<"$report"
}
