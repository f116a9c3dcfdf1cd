#!/usr/bin/env bash
# stat() calls per second through FUSE mounts with entry/attr timeouts 0, compared in one run:
#   rf-memfs   reactor-fuse's memfs sample (java -jar samples/target/reactor-fuse-samples.jar memfs --timeout 0)
#   libfuse-s  libfuse's passthrough_ll example, -o cache=never, single-threaded (-s)  <- main reference
#   libfuse-mt the same, default multi-threaded loop (LIBFUSE_MT=0 to skip)
#   native     the same file system the libfuse source dir lives on, no FUSE at all
#
# Usage (from anywhere):  perf/stat-bench.sh
# Environment:
#   ROUNDS=3          rounds; each round measures every contender once, start order rotated per round
#   SECONDS=5         measured seconds per run (read from the environment; SECONDS_PER_RUN
#                     is an alias that wins if both are set)
#   WARMUP=2          seconds of unmeasured stat loop right before each measured run (JIT warm-up)
#   INITIAL_WARMUP=5  seconds of unmeasured stat loop per contender once, before round 1, in the
#                     shared layout (fast) so the JVM is compiled before the first measurement
#   CLIENT_CPU=0      CPU the stat-loop client is pinned to in the split layout (taskset -c)
#   DAEMON_CPU=1      CPU every daemon (all of its threads) is pinned to, for the whole run
#   LAYOUTS="split shared"  CPU layouts measured, each in every round:
#                     split  = client on CLIENT_CPU, daemon on DAEMON_CPU (every request and
#                              reply is a cross-CPU wake-up)
#                     shared = client on DAEMON_CPU too (what TRANSPORT-NOTES.md calls
#                              "pinned to one CPU"; no cross-CPU wake-ups)
#   LIBFUSE_MT=1      also measure passthrough_ll in its default multi-threaded mode
#   LIBFUSE_DEFAULT_PERMISSIONS=  1/0: mount passthrough_ll with/without -o default_permissions;
#                     default: the same as the reactor-fuse mount shows in /proc/mounts
#   JAVA_OPTS=...     JVM flags for the reactor-fuse daemon (default below)
#   NATIVE_BASE=/var/tmp  where the native dir and the passthrough source dir are created
#   MOUNT_TIMEOUT=30  seconds to wait for a mount to show up in /proc/mounts
#   RF_SAMPLE=memfs   'hello' = plumbing dry run against the current hello sample (stats
#                     MNT/hello, 1 s timeouts: its numbers are NOT comparable)
set -euo pipefail
BENCH=stat-bench
# shellcheck source=perf/stat-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stat-common.sh"   # ROUNDS, SECONDS, WARMUP, ..., cleanup trap

CLIENT_CPU=${CLIENT_CPU:-0}
DAEMON_CPU=${DAEMON_CPU:-1}
LIBFUSE_MT=${LIBFUSE_MT:-1}
RF_SAMPLE=${RF_SAMPLE:-memfs}
LAYOUTS=${LAYOUTS:-split shared}

check_common_params
for l in $LAYOUTS; do case "$l" in split|shared) ;; *) die "LAYOUTS may only name split and shared, got '$l'" ;; esac; done
[[ -n "${LAYOUTS// /}" ]] || die "LAYOUTS is empty"
case "$RF_SAMPLE" in memfs|hello) ;; *) die "RF_SAMPLE must be memfs or hello, got '$RF_SAMPLE'" ;; esac

# ---------------------------------------------------------------- preconditions
check_preconditions
for c in "$CLIENT_CPU" "$DAEMON_CPU"; do check_cpu "$c"; done
[[ "$CLIENT_CPU" != "$DAEMON_CPU" ]] || log "WARNING: client and daemons share CPU $CLIENT_CPU"
take_lock

# ---------------------------------------------------------------- build
build_tools "$RF_SAMPLE"

# ---------------------------------------------------------------- contenders
declare -A TARGET   # contender -> path that stat-loop stats
NAMES=()
make_target() { # name dir
  create_file "$1" "$2/stat-target"
  TARGET[$1]="$2/stat-target"
}

# reactor-fuse
MNT=$(mktemp -d /tmp/stat-bench-rf.XXXXXX); MOUNTS+=("$MNT")
if [[ "$RF_SAMPLE" == memfs ]]; then
  RF=rf-memfs
  # shellcheck disable=SC2086
  start_daemon "$RF" "$BUILD/$RF.log" "$DAEMON_CPU" java $JAVA_OPTS -jar "$JAR" memfs --timeout 0 "$MNT"
  wait_mount "$RF" "$MNT" "$LAST_PID" "$BUILD/$RF.log"
  make_target "$RF" "$MNT"
else
  RF=rf-hello
  log "RF_SAMPLE=hello: PLUMBING DRY RUN, hello sample has 1 s timeouts, its numbers are not comparable"
  # shellcheck disable=SC2086
  start_daemon "$RF" "$BUILD/$RF.log" "$DAEMON_CPU" java $JAVA_OPTS -jar "$JAR" hello "$MNT"
  wait_mount "$RF" "$MNT" "$LAST_PID" "$BUILD/$RF.log"
  TARGET[$RF]="$MNT/hello"
fi
NAMES+=("$RF")

# libfuse passthrough_ll mirroring a temp dir on the native file system, with the same
# default_permissions setting as the reactor-fuse mount (see libfuse_opts_like).
libfuse_opts_like "$(dirname "${TARGET[$RF]}")"
SRC=$(mktemp -d "$NATIVE_BASE/stat-bench-src.XXXXXX"); TMPDIRS+=("$SRC")
LF_MODES=(s)
[[ "$LIBFUSE_MT" == 1 ]] && LF_MODES+=(mt)
for mode in "${LF_MODES[@]}"; do
  name=libfuse-$mode
  MNT=$(mktemp -d /tmp/stat-bench-lf$mode.XXXXXX); MOUNTS+=("$MNT")
  extra=(); [[ $mode == s ]] && extra=(-s)
  start_daemon "$name" "$BUILD/$name.log" "$DAEMON_CPU" \
    "$BUILD/passthrough_ll" -f "${extra[@]}" -o cache=never "${LIBFUSE_OPTS[@]}" -o "source=$SRC" "$MNT"
  wait_mount "$name" "$MNT" "$LAST_PID" "$BUILD/$name.log"
  if [[ $mode == s ]]; then make_target "$name" "$MNT"; else TARGET[$name]="$MNT/stat-target"; fi
  guarded "$name" 30 stat "${TARGET[$name]}" >/dev/null || die "$name: cannot stat ${TARGET[$name]}"
  NAMES+=("$name")
done

# native
NATIVE=$(mktemp -d "$NATIVE_BASE/stat-bench-native.XXXXXX"); TMPDIRS+=("$NATIVE")
make_target native "$NATIVE"
NAMES+=(native)
NATIVE_FS=$(native_fs_desc "$NATIVE")

# ---------------------------------------------------------------- measure
check_idle
header_versions
echo "# $(cpu_model), $NCPU CPUs; daemons pinned to CPU $DAEMON_CPU; loadavg $(cut -d' ' -f1-3 /proc/loadavg); ${BUSY}% busy just before"
echo "# layouts: split = client on CPU $CLIENT_CPU, daemon on CPU $DAEMON_CPU;  shared = client on CPU $DAEMON_CPU too"
echo "# rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN warm-up=${WARMUP}s before each run (+${INITIAL_WARMUP}s each once at start); native fs: $NATIVE_FS"
echo "# JAVA_OPTS=$JAVA_OPTS"
for n in "${NAMES[@]}"; do
  opts=$(mount_opts "$(dirname "${TARGET[$n]}")")
  echo "# $n: stat ${TARGET[$n]}${opts:+  ($opts)}"
done

declare -A RESULTS   # layout/contender -> space-separated stat/s values
run_one() { # layout name -> prints stat/s
  local layout=$1 name=$2 path=${TARGET[$2]} cpu out
  if [[ $layout == split ]]; then cpu=$CLIENT_CPU; else cpu=$DAEMON_CPU; fi
  if positive "$WARMUP"; then
    guarded "$name" "$(limit_for "$WARMUP")" taskset -c "$cpu" "$STAT_LOOP" "$path" "$WARMUP" >/dev/null \
      || die "$name: warm-up stat loop on $path failed"
  fi
  out=$(guarded "$name" "$(limit_for "$SECONDS_PER_RUN")" taskset -c "$cpu" "$STAT_LOOP" "$path" "$SECONDS_PER_RUN") \
    || die "$name: stat loop on $path failed"
  printf '  round %d  %-6s %-11s %s\n' "$round" "$layout" "$name" "$out" >&2
  awk '{ print $(NF - 1) }' <<<"$out"
}

# One-off warm-up before round 1, in the shared layout where stat() is ~20x faster, so the JVM
# has compiled its request path before the first (slow, split-layout) measurement.
if positive "$INITIAL_WARMUP"; then
  for n in "${NAMES[@]}"; do
    guarded "$n" "$(limit_for "$INITIAL_WARMUP")" taskset -c "$DAEMON_CPU" "$STAT_LOOP" "${TARGET[$n]}" "$INITIAL_WARMUP" >/dev/null \
      || die "$n: initial warm-up stat loop on ${TARGET[$n]} failed"
  done
fi

N=${#NAMES[@]}
for ((round = 1; round <= ROUNDS; round++)); do
  for layout in $LAYOUTS; do
    for ((i = 0; i < N; i++)); do      # rotate the start order each round
      name=${NAMES[$(((i + round - 1) % N))]}
      r=$(run_one "$layout" "$name")
      RESULTS[$layout/$name]="${RESULTS[$layout/$name]:-} $r"
    done
  done
done

declare -A MED
for layout in $LAYOUTS; do
  if [[ $layout == split ]]; then desc="client CPU $CLIENT_CPU, daemon CPU $DAEMON_CPU"; else desc="client and daemon both on CPU $DAEMON_CPU"; fi
  echo
  echo "== layout $layout ($desc)"
  printf '%-12s %14s %20s  %s\n' contender "median stat/s" "min-max" "runs"
  for n in "${NAMES[@]}"; do
    k=$layout/$n
    MED[$k]=$(median <<<"${RESULTS[$k]}")
    printf '%-12s %14.0f %20s  %s\n' "$n" "${MED[$k]}" "$(minmax <<<"${RESULTS[$k]}")" "${RESULTS[$k]# }"
  done
  printf '%-28s %s\n' "$RF / libfuse-s" "$(ratio "${MED[$layout/$RF]}" "${MED[$layout/libfuse-s]}")"
  if [[ -n "${MED[$layout/libfuse-mt]:-}" ]]; then
    printf '%-28s %s\n' "$RF / libfuse-mt" "$(ratio "${MED[$layout/$RF]}" "${MED[$layout/libfuse-mt]}")"
  fi
  printf '%-28s %s\n' "$RF / native" "$(ratio "${MED[$layout/$RF]}" "${MED[$layout/native]}")"
done
if [[ "$RF" == rf-hello ]]; then echo "# RF_SAMPLE=hello: dry run, rf-hello has 1 s timeouts and is NOT comparable"; fi
exit 0
