# mmcounter rows (issue 4): 1000 sequential increments against the C baseline seed_counter and against a
# shell counter built on flock(1); 8 concurrent writers, with a check that no increment was lost.
# Sourced by bench/compare.sh; see bench/README.md for the helpers used here.

MMCOUNTER_RUNS=1000
MMCOUNTER_WRITERS=8
MMCOUNTER_EACH=500

# Writes the helper scripts the rows run into $WORK (a loop, a shell counter and a launcher of
# concurrent writers), so that the timed commands need no shell syntax of their own.
mmcounter_scripts() {
  cat >"$WORK/counter-loop" <<'SH'
#!/bin/sh
# counter-loop N CMD [ARG...]: runs CMD N times, one after another, output discarded; fails if CMD fails.
n=$1
shift
i=0
while [ "$i" -lt "$n" ]; do
  "$@" >/dev/null || exit 1
  i=$((i + 1))
done
SH
  cat >"$WORK/flock-counter" <<'SH'
#!/bin/sh
# flock-counter N FILE: N increments of the counter in FILE, in mmcounter's format (10 digits, newline).
# Each runs in a subshell that holds flock(1) on the file while it reads the value and writes the next.
n=$1
f=$2
i=0
while [ "$i" -lt "$n" ]; do
  (
    exec 9>>"$f"
    flock 9
    v=
    read -r v <"$f" || true
    v=${v#"${v%%[!0]*}"} # no leading zeros, or $(( )) reads octal
    v=$((${v:-0} + 1))
    printf '%010d\n' "$v" >"$f"
    echo "$v"
  ) >/dev/null || exit 1
  i=$((i + 1))
done
SH
  cat >"$WORK/counter-par" <<'SH'
#!/bin/sh
# counter-par W CMD [ARG...]: runs W copies of CMD at once and waits for all; fails if any fails.
w=$1
shift
pids=
i=0
while [ "$i" -lt "$w" ]; do
  "$@" &
  pids="$pids $!"
  i=$((i + 1))
done
status=0
for pid in $pids; do
  wait "$pid" || status=1
done
exit "$status"
SH
}

rows_mmcounter() {
  local n=$MMCOUNTER_RUNS w=$MMCOUNTER_WRITERS each=$MMCOUNTER_EACH total seed_kept
  local loop=$WORK/counter-loop par=$WORK/counter-par flock_counter=$WORK/flock-counter
  total=$((w * each))
  mmcounter_scripts
  rm -f "$WORK"/counter.*

  # All three counters agree on what 1000 increments of a new counter give.
  sh "$loop" "$n" "$MM/mmcounter" "$WORK/counter.mm"
  sh "$loop" "$n" "$ANCHORS/seed_counter" "$WORK/counter.seed"
  sh "$flock_counter" "$n" "$WORK/counter.flock"
  agree "$n sequential increments" "echo $n" "$MM/mmcounter --get $WORK/counter.mm" \
    "$MM/mmcounter --get $WORK/counter.seed" "$MM/mmcounter --get $WORK/counter.flock"

  # Sequential: mostly the cost of starting a process, which is what the 1.2x target is about.
  bench_row "$n increments, one after another" 1.2 \
    "sh $loop $n $MM/mmcounter $WORK/counter.mm" \
    "seed_counter" "sh $loop $n $ANCHORS/seed_counter $WORK/counter.seed"
  [[ $LAST_MM == - || $LAST_PEER == - ]] ||
    bench_note "mmcounter: $(python3 -c "print(f'{$LAST_MM / $n * 1e6:.0f} µs per increment against {$LAST_PEER / $n * 1e6:.0f} µs for seed_counter')") (each includes the fork and wait of the shell loop that runs it)."
  bench_row "$n increments, one after another" - \
    "sh $loop $n $MM/mmcounter $WORK/counter.mm" \
    "flock(1) shell counter" "sh $flock_counter $n $WORK/counter.flock"

  # Concurrent: w writers of `each` increments each, on a counter that none of them has created yet.
  bench_row "$w writers x $each increments at once" - \
    "sh $par $w sh $loop $each $MM/mmcounter $WORK/counter.par-mm" \
    "flock(1) shell counter" "sh $par $w sh $flock_counter $each $WORK/counter.par-flock" \
    "rm -f $WORK/counter.par-mm $WORK/counter.par-flock"
  if [[ $LAST_MM != - && $LAST_PEER != - ]]; then
    bench_result "$w writers, increments per second" \
      "$(python3 -c "print(f'{$total / $LAST_MM:,.0f}/s')")" \
      "flock(1) shell counter" "$(python3 -c "print(f'{$total / $LAST_PEER:,.0f}/s')")"
  fi
  # None lost: one more untimed run of each, checked.
  rm -f "$WORK"/counter.par-*
  sh "$par" "$w" sh "$loop" "$each" "$MM/mmcounter" "$WORK/counter.par-mm"
  sh "$par" "$w" sh "$flock_counter" "$each" "$WORK/counter.par-flock"
  agree "$w writers x $each increments, none lost" "echo $total" \
    "$MM/mmcounter --get $WORK/counter.par-mm" "$MM/mmcounter --get $WORK/counter.par-flock"
  # The C baseline has no lock: show what it keeps under the same load.
  sh "$par" "$w" sh "$loop" "$each" "$ANCHORS/seed_counter" "$WORK/counter.par-seed"
  seed_kept=$("$MM/mmcounter" --get "$WORK/counter.par-seed" 2>/dev/null || echo "an unreadable counter")
  bench_note "seed_counter, which takes no lock, kept $seed_kept of $total increments from $w writers x $each."
}
