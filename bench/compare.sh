#!/usr/bin/env bash
# compare.sh [TOOL...]: time the mmtools against their peers and print a table of medians.
#
# Builds the release binaries and the C baseline programs, makes its data under a temporary directory,
# runs the rows of bench/rows/TOOL.sh (all of them when no TOOL is given), prints
# `workload | mmtools | peer | ratio | target` and writes it as Markdown to bench/out/latest.md.
# bench/README.md documents the environment variables and the interface for row files.
set -euo pipefail

BENCH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_HOME/.." && pwd)
LIB=$BENCH_HOME/lib
OUT=$BENCH_HOME/out
SHARED=${BENCH_SHARED:-$REPO/../shared}
if [[ -z ${BENCH_SHARED:-} && ! -d $SHARED ]]; then
  # A git worktree: look beside the main checkout instead.
  common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  [[ -z $common || ! -d $common/../../shared ]] || SHARED=$(cd "$common/../../shared" && pwd)
fi
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}

usage() {
  cat <<EOF
usage: bench/compare.sh [--list] [TOOL...]

Runs the benchmark rows of each TOOL (bench/rows/TOOL.sh), or of every tool when none is given.
Environment: BENCH_SIZE (default 1G), BENCH_RUNS (5), BENCH_WARMUP (1), BENCH_DIR (data directory,
kept), BENCH_KEEP=1 (keep the temporary data directory), BENCH_MAX_BUSY (before each row, wait until
at most this many CPUs are busy), BENCH_BUSY_WAIT (600 s), BENCH_SHARED (default: ../shared beside
the repository).
EOF
}

# ---------------------------------------------------------------------------------------------------
# Helpers for row files (documented in bench/README.md).

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'compare.sh: %s\n' "$*" >&2
  exit 1
}

# parse_size SIZE: 4096, 64K, 1M, 2G, 1T (binary units) to bytes.
parse_size() {
  local s=${1^^} mult=1
  case $s in
    *K) mult=$((1 << 10)) s=${s%K} ;;
    *M) mult=$((1 << 20)) s=${s%M} ;;
    *G) mult=$((1 << 30)) s=${s%G} ;;
    *T) mult=$((1 << 40)) s=${s%T} ;;
  esac
  [[ $s =~ ^[0-9]+$ ]] || die "not a size: '$1' (use 4096, 64K, 1M, 2G)"
  echo $((s * mult))
}

# scale SIZE: SIZE (given at full scale, for BENCH_SIZE=1G) scaled by BENCH_SIZE/1G, in whole pages.
scale() {
  local bytes page
  bytes=$(parse_size "$1")
  page=$(getconf PAGESIZE)
  # Divide first: SIZE x BENCH_BYTES would overflow 64 bits for a 1T file at BENCH_SIZE=1T.
  # shellcheck disable=SC2017
  bytes=$((bytes / 1024 * (BENCH_BYTES / 1024) / 1024))
  bytes=$((bytes / page * page))
  echo $((bytes < page ? page : bytes))
}

# need CMD [PACKAGE]: install PACKAGE (default CMD) with apt-get when CMD is missing.
APT_UPDATED=
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local pkg=${2:-$1} sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  say "installing $pkg (for $1)"
  if [[ -z $APT_UPDATED ]]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  command -v "$1" >/dev/null 2>&1 || die "$1 is still missing after installing $pkg"
}

# gen_text PATH BYTES SEED: prose-like ASCII text of exactly BYTES bytes (sizes as for parse_size).
gen_text() {
  local bytes
  bytes=$(parse_size "$2")
  say "text: $1 ($bytes bytes, seed $3)"
  python3 "$LIB/gen.py" text "$1" "$bytes" "$3"
}

# gen_sparse PATH BYTES EXTENTS DATA_BYTES SEED: a sparse file with EXTENTS runs of random data.
gen_sparse() {
  local bytes data
  bytes=$(parse_size "$2")
  data=$(parse_size "$4")
  say "sparse: $1 ($bytes bytes, $3 extents, $data bytes of data, seed $5)"
  python3 "$LIB/gen.py" sparse "$1" "$bytes" "$3" "$data" "$5"
}

# gen_tree DIR FILES MEAN_BYTES SEED: FILES small text files in DIR/dNN/dNN/.
gen_tree() {
  local mean
  mean=$(parse_size "$3")
  say "tree: $1 ($2 files of about $mean bytes, seed $4)"
  python3 "$LIB/gen.py" tree "$1" "$2" "$mean" "$4"
}

# bench_text: the shared cached-text file of BENCH_SIZE bytes (seed 1), made on first use; prints its path.
bench_text() {
  local path=$WORK/text-$BENCH_SIZE
  gen_text "$path" "$BENCH_BYTES" 1
  echo "$path"
}

# bench_note TEXT: a line for the notes under the table.
bench_note() { printf '%s\n' "$*" >>"$NOTES"; }

# busy: how many CPUs were busy, on average, over the last 2 seconds (from /proc/stat), as "0.07".
busy() {
  python3 -c '
import os, time
def snap():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v), v[3] + v[4]
t0, i0 = snap()
time.sleep(2)
t1, i1 = snap()
print(f"{(1 - (i1 - i0) / max(1, t1 - t0)) * os.cpu_count():.2f}")'
}

# Sets BUSY to the CPUs busy now; with BENCH_MAX_BUSY set, first waits (at most BENCH_BUSY_WAIT seconds,
# default 600) until at most that many CPUs are busy (other processes: compare.sh itself is idle then).
BUSY=
wait_for_quiet() {
  local waited=0 limit=${BENCH_BUSY_WAIT:-600} said=
  BUSY=$(busy)
  [[ -n ${BENCH_MAX_BUSY:-} ]] || return 0
  while python3 -c "import sys; sys.exit($BUSY <= $BENCH_MAX_BUSY)"; do
    if ((waited >= limit)); then
      say "still $BUSY CPUs busy after ${limit}s; going on"
      return 0
    fi
    [[ -n $said ]] || say "waiting until at most $BENCH_MAX_BUSY CPUs are busy (now $BUSY)"
    said=1
    sleep 3
    waited=$((waited + 5))
    BUSY=$(busy)
  done
}

# hyperfine -N runs no shell: a command with shell syntax is wrapped in `sh -c '...'` (and marked).
SHELL_CHARS='[|<>;&$`*?(){}~]|^[A-Za-z_][A-Za-z0-9_]*='
wrap() {
  if [[ $1 =~ $SHELL_CHARS || $1 == *$'\n'* ]]; then
    printf "sh -c '%s'" "${1//\'/\'\\\'\'}"
  else
    printf '%s' "$1"
  fi
}
WRAPPED_NOTE=
mark_wrapped() {
  if [[ -z $WRAPPED_NOTE ]]; then
    WRAPPED_NOTE=1
    bench_note "† run through \`sh -c\` (a pipeline or redirection: hyperfine -N runs no shell); the shell adds about 1 ms."
  fi
}

# bench_row WORKLOAD TARGET MM_CMD PEER_LABEL PEER_CMD [PREPARE_CMD]
# One hyperfine run (-N, BENCH_WARMUP warm-ups, BENCH_RUNS runs) timing MM_CMD then PEER_CMD; appends
# a result row with both medians, the ratio mm/peer and whether TARGET ("0.5" = at most 0.5, ">=2",
# "-" = none) is met. PREPARE_CMD runs before every run of either command (--prepare), e.g. "evict F".
# Sets LAST_MM and LAST_PEER to the medians in seconds ("-" when the row failed).
ROW_N=0
FAILED=0
bench_row() {
  (($# == 5 || $# == 6)) || die "bench_row WORKLOAD TARGET MM_CMD PEER_LABEL PEER_CMD [PREPARE_CMD]: got $# arguments"
  local workload=$1 target=$2 mm peer label=$4 json load
  local -a args=(-N --warmup "$WARMUP" --runs "$RUNS")
  mm=$(wrap "$3")
  peer=$(wrap "$5")
  [[ $mm == "$3" ]] || {
    workload+=" †"
    mark_wrapped
  }
  [[ $peer == "$5" ]] || {
    label+=" †"
    mark_wrapped
  }
  [[ -z ${6:-} ]] || args+=(--prepare "$(wrap "$6")")
  ROW_N=$((ROW_N + 1))
  json=$OUT/json/$(printf '%02d' "$ROW_N")-$CURRENT_TOOL.json
  wait_for_quiet
  load=$BUSY
  say "row $ROW_N ($CURRENT_TOOL): $workload: mmtools vs $label ($load CPUs busy before)"
  if hyperfine "${args[@]}" --export-json "$json" -n mmtools "$mm" -n "$label" "$peer"; then
    read -r LAST_MM LAST_PEER < <(python3 "$LIB/report.py" add "$RESULTS" "$json" "$CURRENT_TOOL" \
      "$workload" "$target" "$label" "$load")
  else
    FAILED=$((FAILED + 1))
    python3 "$LIB/report.py" raw "$RESULTS" "$CURRENT_TOOL" "$workload" failed "$label" failed - "$load" timed >/dev/null
    # shellcheck disable=SC2034 # read by row files
    LAST_MM=- LAST_PEER=-
  fi
}

# bench_time CMD [PREPARE_CMD]: prints the median seconds of CMD alone (hyperfine's report goes to stderr).
bench_time() {
  local json=$WORK/time.json
  local -a args=(-N --warmup "$WARMUP" --runs "$RUNS" --export-json "$json")
  [[ -z ${2:-} ]] || args+=(--prepare "$(wrap "$2")")
  hyperfine "${args[@]}" "$(wrap "$1")" >&2
  python3 "$LIB/report.py" median "$json"
}

# bench_result WORKLOAD MM PEER_LABEL PEER [TARGET]: a row computed by the row file. MM and PEER are
# seconds (then the ratio and TARGET are checked) or free text such as "412k/s" (no ratio).
bench_result() {
  (($# == 4 || $# == 5)) || die "bench_result WORKLOAD MM PEER_LABEL PEER [TARGET]: got $# arguments"
  python3 "$LIB/report.py" raw "$RESULTS" "$CURRENT_TOOL" "$1" "$2" "$3" "$4" "${5:--}" "" >/dev/null
}

# agree LABEL CMD...: runs each CMD through sh -c and checks that the first number each prints is the
# same (e.g. `mmcount -l F` and `wc -l < F`); a mismatch is noted and makes compare.sh exit 1.
agree() {
  local label=$1 cmd first='' value joined
  shift
  for cmd in "$@"; do
    value=$(sh -c "$cmd" | grep -Eo '[0-9]+' | head -n1 || true)
    if [[ -z $first ]]; then
      first=$value
    elif [[ $value != "$first" ]]; then
      FAILED=$((FAILED + 1))
      bench_note "MISMATCH ($CURRENT_TOOL, $label): '$1' gave '$first' but '$cmd' gave '$value'"
      say "MISMATCH: $label: '$1' gave '$first' but '$cmd' gave '$value'"
      return 0
    fi
  done
  local shown=() c
  for c in "$@"; do
    c=${c//"$MM/"/}
    c=${c//"$ANCHORS/"/}
    shown+=("\`${c//"$WORK/"/}\`")
  done
  joined=$(printf '%s, ' "${shown[@]}")
  bench_note "$CURRENT_TOOL: $label = $first from each of ${joined%, }."
  say "agree: $label = $first ($# commands)"
}

# ---------------------------------------------------------------------------------------------------
# The run.

LIST=
TOOLS=()
for arg in "$@"; do
  case $arg in
    -h | --help)
      usage
      exit 0
      ;;
    --list) LIST=1 ;;
    -*) die "unknown option '$arg' (see --help)" ;;
    *) TOOLS+=("$arg") ;;
  esac
done

ALL=()
for file in "$BENCH_HOME"/rows/*.sh; do
  [[ -e $file ]] || continue
  # shellcheck source=/dev/null
  source "$file"
  tool=$(basename "$file" .sh)
  declare -F "rows_$tool" >/dev/null || die "$file does not define rows_$tool"
  ALL+=("$tool")
done
if [[ -n $LIST ]]; then
  printf '%s\n' "${ALL[@]}"
  exit 0
fi
((${#TOOLS[@]})) || TOOLS=("${ALL[@]}")
for tool in "${TOOLS[@]}"; do
  declare -F "rows_$tool" >/dev/null || die "no rows for '$tool' (have: ${ALL[*]})"
done

BENCH_SIZE=${BENCH_SIZE:-1G}
BENCH_BYTES=$(parse_size "$BENCH_SIZE")
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

need python3
need hyperfine
need vmtouch
[[ -x $SHARED/anchors/build.sh ]] || die "no $SHARED/anchors/build.sh: put shared/ beside the repository or set BENCH_SHARED"

say "cargo build --release --locked"
(cd "$REPO" && cargo build --release --locked)
MM=${CARGO_TARGET_DIR:-$REPO/target}/release
[[ $MM == /* ]] || MM=$REPO/$MM

if [[ -n ${BENCH_DIR:-} ]]; then
  WORK=$BENCH_DIR
  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mmtools-bench.XXXXXX")
  cleanup() {
    if [[ ${BENCH_KEEP:-} == 1 ]]; then
      say "kept the data in $WORK"
    else
      rm -rf -- "$WORK"
    fi
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi
# Commands are strings that hyperfine splits into words: keep the data path free of quoting trouble.
[[ $WORK =~ ^[A-Za-z0-9._/+-]+$ ]] || die "the data directory '$WORK' must not need quoting (set BENCH_DIR)"

ANCHORS=$WORK/anchors
bash "$SHARED/anchors/build.sh" "$ANCHORS" >&2
export PATH=$LIB/bin:$PATH # evict, warm, resident

rm -rf "$OUT/json"
mkdir -p "$OUT/json"
RESULTS=$OUT/latest.tsv
NOTES=$OUT/notes.txt
MACHINE=$OUT/machine.txt
: >"$RESULTS"
: >"$NOTES"

fs=$(stat -f -c %T "$WORK")
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
{
  echo "machine: $(nproc) CPUs, ${model:-unknown CPU}, $mem RAM, Linux $(uname -r)"
  echo "data: $BENCH_SIZE text on $fs ($WORK); hyperfine -N, $WARMUP warm-up, $RUNS runs per command"
  echo "versions: mmtools $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown), $(rustc --version | cut -d' ' -f1-2), $(hyperfine --version), GNU wc $(wc --version | head -n1 | awk '{print $NF}'), gcc $(gcc -dumpfullversion)"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$MACHINE"
cat "$MACHINE" >&2
if [[ $fs == tmpfs || $fs == ramfs ]]; then
  bench_note "warning: the data is on $fs, where evicting does nothing: the cold rows are really cached."
  say "warning: $WORK is on $fs: cold rows will not be cold (set BENCH_DIR to a disk directory)"
fi

for tool in "${TOOLS[@]}"; do
  CURRENT_TOOL=$tool
  say "rows for $tool"
  "rows_$tool"
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$MACHINE"
echo
python3 "$LIB/report.py" table "$RESULTS" "$NOTES" "$MACHINE" "$OUT/latest.md"
((FAILED == 0)) || die "$FAILED row(s) failed or disagreed; see above"
