# mmadvise rows (issue 6): loading, prefetching and evicting the ~1 GiB text file (and a sparse file)
# against vmtouch and cat. Sourced by bench/compare.sh; see bench/README.md for the helpers used here.
#
# Residency is checked after every timed run, without timing the check: each row's PREPARE_CMD first
# appends the residency the previous run left (`resident`, mincore) to a log, then evicts or warms the
# file. hyperfine runs all of mmtools' runs (warm-ups included) and then all of the peer's, so lines
# 2..N+1 of the log follow mmtools' N runs; the peer's last run is measured after the row.

# mmadvise_check LOG OP BOUND WHAT PEER_FINAL: OP BOUND is "ge 99", "le 1" or "in 4.9:5.2" (percent).
# Fails the run (and notes it) when a run of mmtools left the file outside the bound; otherwise notes the
# worst value, and the residency the peer's last run left.
mmadvise_check() {
  local log=$1 op=$2 bound=$3 what=$4 peer_final=$5 verdict status worst peer runs wanted
  verdict=$(python3 - "$log" "$((WARMUP + RUNS))" "$op" "$bound" "$peer_final" <<'PY'
import sys
log, n, op, bound, peer_final = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
values = [line.strip() for line in open(log) if line.strip()]
mm = [float(v) for v in values[1:n + 1]]
if len(mm) < n:
    print(f"FAILED - - {len(mm)}")
    sys.exit()
if op == "ge":
    lo, hi = float(bound), 100.0
elif op == "le":
    lo, hi = 0.0, float(bound)
else:
    lo, hi = (float(x) for x in bound.split(":"))
bad = [v for v in mm if not lo <= v <= hi]
worst = bad[0] if bad else (min(mm) if op == "ge" else max(mm))
print(f"{'FAILED' if bad else 'ok'} {worst:.1f} {peer_final} {len(mm)}")
PY
  )
  read -r status worst peer runs <<<"$verdict"
  case $op in
    ge) wanted="≥ $bound%" ;;
    le) wanted="≤ $bound%" ;;
    *) wanted="${bound/:/% to }%" ;;
  esac
  if [[ $status == ok ]]; then
    bench_note "mmadvise, $what: residency checked after each of the $runs runs of mmtools ($wanted): worst $worst%; the peer's last run left $peer%."
  else
    FAILED=$((FAILED + 1))
    bench_note "RESIDENCY ($what): a run of mmtools left $worst% resident, wanted $wanted ($runs runs logged)."
    say "RESIDENCY: $what: $verdict"
  fi
}

rows_mmadvise() {
  local f sparse log size data band
  f=$(bench_text)
  log=$WORK/mmadvise-residency.log

  : >"$log"
  bench_row "touch, evicted" 1.0 "$MM/mmadvise touch -q $f" "vmtouch -t" "vmtouch -tq $f" \
    "resident $f >> $log; evict $f"
  [[ $LAST_MM == - ]] || mmadvise_check "$log" ge 99 "touch vs vmtouch -t" "$(resident "$f")"

  : >"$log"
  bench_row "touch, evicted" - "$MM/mmadvise touch -q $f" "cat > /dev/null" "cat $f > /dev/null" \
    "resident $f >> $log; evict $f"
  [[ $LAST_MM == - ]] || mmadvise_check "$log" ge 99 "touch vs cat" "$(resident "$f")"

  : >"$log"
  bench_row "willneed --wait, evicted" - "$MM/mmadvise willneed --wait -q $f" "vmtouch -t" \
    "vmtouch -tq $f" "resident $f >> $log; evict $f"
  [[ $LAST_MM == - ]] || mmadvise_check "$log" ge 99 "willneed --wait vs vmtouch -t" "$(resident "$f")"

  : >"$log"
  bench_row "evict, cached" - "$MM/mmadvise evict -q $f" "vmtouch -e" "vmtouch -eq $f" \
    "resident $f >> $log; warm $f"
  [[ $LAST_MM == - ]] || mmadvise_check "$log" le 1 "evict vs vmtouch -e" "$(resident "$f")"

  # A sparse file with 5% data: mmadvise reads the data only; vmtouch touches every page, holes included,
  # which fills the page cache with pages of zeros.
  size=$(scale 4G)
  data=$((size / 20 / 4096 * 4096))
  sparse=$WORK/mmadvise-sparse
  gen_sparse "$sparse" "$size" 16 "$data" 6
  band=$(python3 -c "print(f'{100 * $data / $size - 0.2:.2f}:{100 * $data / $size + 0.2:.2f}')")
  : >"$log"
  bench_row "touch, evicted sparse file (5% data)" - "$MM/mmadvise touch -q $sparse" "vmtouch -t" \
    "vmtouch -tq $sparse" "resident $sparse >> $log; evict $sparse"
  [[ $LAST_MM == - ]] || mmadvise_check "$log" in "$band" \
    "touch of the sparse file (the data, not the holes)" "$(resident "$sparse")"
  evict "$sparse"

  # A throttled restore (issue 12): the whole text saved as hot, evicted before each run, restored at
  # --rate R. The ratio is the time taken over the time at the rate asked for (bytes / R): 1.0 means
  # the rate was met exactly, above it that the restore went slower than asked.
  local snap rate median ideal achieved
  warm "$f"
  snap=$WORK/mmadvise-restore.snap
  "$MM/mmstat" --save "$snap" "$f" >/dev/null
  rate=$(scale 200M)
  ideal=$(python3 -c "print($BENCH_BYTES / $rate)")
  : >"$log"
  median=$(bench_time "$MM/mmadvise restore -q --rate $rate $snap" "resident $f >> $log; evict $f")
  resident "$f" >>"$log"
  if [[ -n $median && $median != - ]]; then
    achieved=$(python3 -c "print(f'{$BENCH_BYTES / $median / 2**20:.1f}')")
    bench_result "restore --rate $((rate >> 20))M, evicted" "$median" \
      "the time at the rate asked ($((rate >> 20)) MiB/s)" "$ideal" "<=1.1"
    bench_note "mmadvise restore --rate $((rate >> 20))M: achieved $achieved MiB/s (median of $RUNS runs) for $((rate >> 20)) MiB/s asked."
    mmadvise_check "$log" ge 99 "restore --rate" "-"
  fi

  warm "$f"
}
