# shellcheck shell=bash
# mmcount rows (issue 2, section 4): counting a cached ~1 GiB text file, and one cold (evicted) case.
# Sourced by bench/compare.sh; see bench/README.md for the helpers used here.

# One core streams RAM at about this many bytes per second on our machines (issue 2).
MMCOUNT_FLOOR_BPS=10000000000

rows_mmcount() {
  local f pct floor gbps
  f=$(bench_text)

  # The counts must agree before their times mean anything.
  agree "spaces" "$MM/mmcount $f" "tr -cd ' ' < $f | wc -c" "$ANCHORS/seed_count $f | tr -d n="
  agree "lines" "$MM/mmcount -l $f" "wc -l < $f"
  agree "words" "$MM/mmcount -w $f" "LC_ALL=C wc -w < $f"

  # Evict, then read: the page cache then holds the file the same way (as read-ahead put it) whether the
  # file was just written or kept from an earlier run, and mapping it costs the same.
  evict "$f"
  warm "$f"
  pct=$(resident "$f")
  [[ $pct == 100.0 ]] || bench_note "mmcount: only $pct% of the text was cached after warming it."

  bench_row "spaces, cached" 0.5 "$MM/mmcount $f" "wc -l" "wc -l $f"
  local spaces=$LAST_MM
  bench_row "spaces, cached" - "$MM/mmcount $f" "tr -cd ' ' | wc -c" "tr -cd ' ' < $f | wc -c"
  bench_row "spaces, cached" 0.1 "$MM/mmcount $f" "seed_count" "$ANCHORS/seed_count $f"
  bench_row "spaces, cached, one thread" - "$MM/mmcount -j1 $f" "wc -l" "wc -l $f"
  bench_row "lines, cached" 0.6 "$MM/mmcount -l $f" "wc -l" "wc -l $f"
  bench_row "words, cached" 0.05 "$MM/mmcount -w $f" "LC_ALL=C wc -w" "env LC_ALL=C wc -w $f"

  # The memory floor: the spaces median against reading the file at one core's RAM speed.
  if [[ $spaces != - ]]; then
    floor=$(python3 -c "print($BENCH_BYTES / $MMCOUNT_FLOOR_BPS)")
    gbps=$(python3 -c "print(f'{$BENCH_BYTES / $spaces / 1e9:.1f} GB/s (median {$spaces * 1e3:.1f} ms for {$BENCH_BYTES / 2**20:g} MiB)')")
    bench_result "spaces, cached, vs RAM speed" "$spaces" "10 GB/s floor" "$floor" 1.5
    bench_note "mmcount spaces on the cached text: $gbps; the floor row is the time to stream the file once at 10 GB/s, one core's RAM speed here."
  fi

  evict "$f"
  pct=$(resident "$f")
  [[ $pct == 0.0 ]] || bench_note "mmcount: $pct% of the text stayed cached after evicting it: the cold row is not cold."
  bench_row "spaces, cold" - "$MM/mmcount $f" "wc -l" "wc -l $f" "evict $f"
  warm "$f"
}
