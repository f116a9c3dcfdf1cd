#!/usr/bin/env bash
# stat() calls per second through FUSE mounts with entry/attr timeouts 0, with 1 and 2 concurrent
# client processes, for reactor-fuse's memfs with 1 and 2 event loops and with inline or scheduled
# handlers, next to libfuse's passthrough_ll (single- and multi-threaded) and the native file
# system, all in one run:
#   rf-t1        memfs --timeout 0                                 (one /dev/fuse fd, one event loop, handlers inline)
#   rf-t2        memfs --timeout 0 --threads 2                     (mount fd + 1 cloned fd, one event loop each)
#   rf-t1-sched  memfs --timeout 0 --threads 1 --scheduler parallel (handlers on Reactor's parallel scheduler)
#   rf-t2-sched  memfs --timeout 0 --threads 2 --scheduler parallel
#   libfuse-s    passthrough_ll -o cache=never -s   (single-threaded)
#   libfuse-mt   passthrough_ll -o cache=never      (multi-threaded)
#   native       the file system under NATIVE_BASE, no FUSE
# Client k (k = 1, 2, ...) stats its own file, DIR/stat-target-k, in the mount's root directory.
# With K clients, K stat-loop processes start together, each runs SECONDS, and the run's value is
# the sum of their stat/s.
#
# Usage (from anywhere):  perf/stat-scale.sh
# Environment (shared with stat-bench.sh: ROUNDS, SECONDS, WARMUP, INITIAL_WARMUP, JAVA_OPTS,
# NATIVE_BASE, MOUNT_TIMEOUT, LIBFUSE_DEFAULT_PERMISSIONS; see stat-common.sh):
#   ROUNDS=3          rounds; each round runs, for each client count, every contender once,
#                     start order rotated per round
#   SECONDS=5         measured seconds per run
#   WARMUP=2          seconds of unmeasured stat loop (same client count) right before each run
#   INITIAL_WARMUP=5  seconds of unmeasured loop per contender once before round 1, with the
#                     largest client count (so every event loop of a daemon gets traffic)
#   CLIENTS="1 2"     client counts measured (each in every round)
#   LAYOUT=pinned-clients
#                     pinned-clients = client k pinned to CPU (k-1) mod nproc (1 client: CPU 0;
#                                      2 clients: CPU 0 and CPU 1); daemons NOT pinned (the
#                                      kernel places their threads; a pinned daemon could not
#                                      use a second event loop or scheduler thread)
#                     none           = nothing pinned
#   DAEMON_CPUS=      taskset -c list for every daemon (empty: not pinned)
#   RF_CONTENDERS="rf-t1 rf-t2 rf-t1-sched rf-t2-sched"   any rf-tN or rf-tN-sched
#   LIBFUSE_MT=1      also measure passthrough_ll multi-threaded
set -euo pipefail

BENCH=stat-scale
# shellcheck source=perf/stat-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stat-common.sh"   # ROUNDS, SECONDS, WARMUP, ..., cleanup trap

CLIENTS=${CLIENTS:-1 2}
LAYOUT=${LAYOUT:-pinned-clients}
DAEMON_CPUS=${DAEMON_CPUS:-}
RF_CONTENDERS=${RF_CONTENDERS:-rf-t1 rf-t2 rf-t1-sched rf-t2-sched}
LIBFUSE_MT=${LIBFUSE_MT:-1}

check_common_params
[[ -n "${CLIENTS// /}" ]] || die "CLIENTS is empty"
MAX_CLIENTS=0
for k in $CLIENTS; do
  [[ "$k" =~ ^[1-9][0-9]*$ ]] || die "CLIENTS must list positive integers, got '$k'"
  ((k > MAX_CLIENTS)) && MAX_CLIENTS=$k
done
case "$LAYOUT" in pinned-clients|none) ;; *) die "LAYOUT must be pinned-clients or none, got '$LAYOUT'" ;; esac
[[ -n "${RF_CONTENDERS// /}" ]] || die "RF_CONTENDERS is empty"
for c in $RF_CONTENDERS; do [[ "$c" =~ ^rf-t[1-9][0-9]*(-sched)?$ ]] || die "RF_CONTENDERS: '$c' is not rf-tN or rf-tN-sched"; done

# ---------------------------------------------------------------- preconditions
check_preconditions
if [[ -n "$DAEMON_CPUS" ]]; then taskset -c "$DAEMON_CPUS" true 2>/dev/null || die "DAEMON_CPUS='$DAEMON_CPUS' is not a valid CPU list here"; fi
take_lock

# ---------------------------------------------------------------- build
build_tools memfs

# ---------------------------------------------------------------- contenders
declare -A DIR CMD   # contender -> directory holding stat-target-1..K; -> what was started
NAMES=()
make_targets() { # name dir
  local i
  for ((i = 1; i <= MAX_CLIENTS; i++)); do create_file "$1" "$2/stat-target-$i"; done
  DIR[$1]=$2
}

# reactor-fuse memfs, one daemon per variant
for name in $RF_CONTENDERS; do
  [[ "$name" =~ ^rf-t([0-9]+)(-sched)?$ ]]
  args=(memfs --timeout 0 --threads "${BASH_REMATCH[1]}")
  [[ -n "${BASH_REMATCH[2]}" ]] && args+=(--scheduler parallel)
  MNT=$(mktemp -d "/tmp/stat-scale-$name.XXXXXX"); MOUNTS+=("$MNT")
  # shellcheck disable=SC2086
  start_daemon "$name" "$BUILD/$name.log" "$DAEMON_CPUS" java $JAVA_OPTS -jar "$JAR" "${args[@]}" "$MNT"
  CMD[$name]="java -jar reactor-fuse-samples.jar ${args[*]} MNT"
  wait_mount "$name" "$MNT" "$LAST_PID" "$BUILD/$name.log"
  make_targets "$name" "$MNT"
  NAMES+=("$name")
done
FIRST_RF=${NAMES[0]}

# libfuse passthrough_ll mirroring a temp dir on the native file system, with the same
# default_permissions setting as the (first) reactor-fuse mount.
libfuse_opts_like "${DIR[$FIRST_RF]}"
SRC=$(mktemp -d "$NATIVE_BASE/stat-scale-src.XXXXXX"); TMPDIRS+=("$SRC")
LF_MODES=(s)
[[ "$LIBFUSE_MT" == 1 ]] && LF_MODES+=(mt)
for mode in "${LF_MODES[@]}"; do
  name=libfuse-$mode
  MNT=$(mktemp -d "/tmp/stat-scale-lf$mode.XXXXXX"); MOUNTS+=("$MNT")
  extra=(); [[ $mode == s ]] && extra=(-s)
  start_daemon "$name" "$BUILD/$name.log" "$DAEMON_CPUS" \
    "$BUILD/passthrough_ll" -f "${extra[@]}" -o cache=never "${LIBFUSE_OPTS[@]}" -o "source=$SRC" "$MNT"
  CMD[$name]="passthrough_ll -f ${extra[*]} -o cache=never ${LIBFUSE_OPTS[*]} -o source=SRC MNT"
  wait_mount "$name" "$MNT" "$LAST_PID" "$BUILD/$name.log"
  if [[ $mode == s ]]; then
    make_targets "$name" "$MNT"   # creates them in SRC, which libfuse-mt shows too
  else
    DIR[$name]=$MNT
    for ((i = 1; i <= MAX_CLIENTS; i++)); do
      guarded "$name" 30 stat "$MNT/stat-target-$i" >/dev/null || die "$name: cannot stat $MNT/stat-target-$i"
    done
  fi
  NAMES+=("$name")
done

# native
NATIVE=$(mktemp -d "$NATIVE_BASE/stat-scale-native.XXXXXX"); TMPDIRS+=("$NATIVE")
make_targets native "$NATIVE"
CMD[native]="no FUSE"
NAMES+=(native)

# ---------------------------------------------------------------- measure
client_cpu() { # client number (1-based) -> CPU to pin it to, or "" for none
  if [[ $LAYOUT == pinned-clients ]]; then echo $((($1 - 1) % NCPU)); fi
}
layout_desc() { # client count
  local k=$1 i cpus=()
  if [[ $LAYOUT == none ]]; then echo "nothing pinned"; return; fi
  for ((i = 1; i <= k; i++)); do cpus+=("$(client_cpu "$i")"); done
  echo "client CPU(s) ${cpus[*]}; daemons ${DAEMON_CPUS:+on CPUs $DAEMON_CPUS}${DAEMON_CPUS:-not pinned}"
}

# clients NAME K SECONDS: K stat-loops at once, client i on DIR/stat-target-i; prints their
# output lines in client order; fails if any of them fails.
clients() {
  local name=$1 k=$2 secs=$3 i cpu rc=0 pids=()
  for ((i = 1; i <= k; i++)); do
    cpu=$(client_cpu "$i")
    if [[ -n "$cpu" ]]; then
      taskset -c "$cpu" "$STAT_LOOP" "${DIR[$name]}/stat-target-$i" "$secs" >"$BUILD/client-$i.out" &
    else
      "$STAT_LOOP" "${DIR[$name]}/stat-target-$i" "$secs" >"$BUILD/client-$i.out" &
    fi
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  ((rc == 0)) || return 1
  for ((i = 1; i <= k; i++)); do cat "$BUILD/client-$i.out"; done
}

declare -A RESULTS   # K/contender -> space-separated stat/s values (sum over the K clients)
run_one() { # K name -> prints the summed stat/s
  local k=$1 name=$2 out
  if positive "$WARMUP"; then
    guarded "$name" "$(limit_for "$WARMUP")" clients "$name" "$k" "$WARMUP" >/dev/null \
      || die "$name: warm-up stat loop with $k client(s) failed"
  fi
  out=$(guarded "$name" "$(limit_for "$SECONDS_PER_RUN")" clients "$name" "$k" "$SECONDS_PER_RUN") \
    || die "$name: stat loop with $k client(s) failed"
  awk -v r="$round" -v k="$k" -v n="$name" '{ v = $(NF - 1); s += v; each = each (NR > 1 ? " + " : "") v }
    END { printf "  round %d  %d client(s)  %-12s %8.0f stat/s%s\n", r, k, n, s, (NR > 1 ? "  (" each ")" : "") }' <<<"$out" >&2
  awk '{ s += $(NF - 1) } END { printf "%.0f\n", s }' <<<"$out"
}

check_idle
header_versions
echo "# $(cpu_model), $NCPU CPUs; loadavg $(cut -d' ' -f1-3 /proc/loadavg); ${BUSY}% busy just before"
for k in $CLIENTS; do echo "# layout $LAYOUT, $k client(s): $(layout_desc "$k")"; done
echo "# clients: $CLIENTS; client k stats its own file DIR/stat-target-k; a run's value = sum of its clients' stat/s"
echo "# rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN warm-up=${WARMUP}s before each run (+${INITIAL_WARMUP}s each once at start, $MAX_CLIENTS client(s)); native fs: $(native_fs_desc "$NATIVE")"
echo "# JAVA_OPTS=$JAVA_OPTS"
for n in "${NAMES[@]}"; do
  opts=$(mount_opts "${DIR[$n]}")
  fds=""
  if [[ -n "${DPID[$n]:-}" ]]; then fds="; /dev/fuse fds: $(find "/proc/${DPID[$n]}/fd" -lname /dev/fuse 2>/dev/null | wc -l)"; fi
  echo "# $n: ${CMD[$n]}${opts:+  ($opts)}$fds"
done

if positive "$INITIAL_WARMUP"; then
  for n in "${NAMES[@]}"; do
    guarded "$n" "$(limit_for "$INITIAL_WARMUP")" clients "$n" "$MAX_CLIENTS" "$INITIAL_WARMUP" >/dev/null \
      || die "$n: initial warm-up stat loop failed"
  done
fi

N=${#NAMES[@]}
for ((round = 1; round <= ROUNDS; round++)); do
  for k in $CLIENTS; do
    for ((i = 0; i < N; i++)); do      # rotate the start order each round
      name=${NAMES[$(((i + round - 1) % N))]}
      r=$(run_one "$k" "$name")
      RESULTS[$k/$name]="${RESULTS[$k/$name]:-} $r"
    done
  done
done
for n in "${NAMES[@]}"; do   # the daemons must have survived the whole run
  if [[ -n "${DPID[$n]:-}" ]] && ! kill -0 "${DPID[$n]}" 2>/dev/null; then die "$n daemon exited during the run; log: $BUILD/$n.log"; fi
done

# ---------------------------------------------------------------- report
declare -A MED
for k in $CLIENTS; do
  echo
  echo "== $k client(s): $(layout_desc "$k")"
  printf '%-12s %14s %20s  %s\n' contender "median stat/s" "min-max" "runs"
  for n in "${NAMES[@]}"; do
    MED[$k/$n]=$(median <<<"${RESULTS[$k/$n]}")
    printf '%-12s %14.0f %20s  %s\n' "$n" "${MED[$k/$n]}" "$(minmax <<<"${RESULTS[$k/$n]}")" "${RESULTS[$k/$n]# }"
  done
done

KS=($CLIENTS)
REFS=(libfuse-s); [[ "$LIBFUSE_MT" == 1 ]] && REFS+=(libfuse-mt)
echo
echo "== summary: median stat/s (summed over clients); ratios vs libfuse with the same number of clients"
hdr=$(printf '%-12s' contender)
for k in "${KS[@]}"; do hdr+=$(printf ' %11s' "${k}c stat/s"); done
for k in "${KS[@]:1}"; do hdr+=$(printf ' %8s' "${k}c/${KS[0]}c"); done
for ref in "${REFS[@]}"; do for k in "${KS[@]}"; do hdr+=$(printf ' %9s' "/lf-${ref#libfuse-} ${k}c"); done; done
echo "$hdr"
for n in "${NAMES[@]}"; do
  line=$(printf '%-12s' "$n")
  for k in "${KS[@]}"; do line+=$(printf ' %11.0f' "${MED[$k/$n]}"); done
  for k in "${KS[@]:1}"; do line+=$(printf ' %8s' "$(ratio "${MED[$k/$n]}" "${MED[${KS[0]}/$n]}")"); done
  for ref in "${REFS[@]}"; do for k in "${KS[@]}"; do line+=$(printf ' %9s' "$(ratio "${MED[$k/$n]}" "${MED[$k/$ref]}")"); done; done
  echo "$line"
done
echo "(Kc stat/s: median with K clients; Kc/${KS[0]}c: speed-up of K clients over ${KS[0]}; /lf-s Kc, /lf-mt Kc: ratio to libfuse-s, libfuse-mt with the same K)"

# inline vs scheduled handlers, where both variants were measured
pairs=""
for n in "${NAMES[@]}"; do
  if [[ "$n" =~ ^(rf-t[0-9]+)-sched$ && -n "${MED[${KS[0]}/${BASH_REMATCH[1]}]:-}" ]]; then
    base=${BASH_REMATCH[1]}
    line=$(printf '%-28s' "$n / $base")
    for k in "${KS[@]}"; do line+=$(printf ' %4sc %s' "$k" "$(ratio "${MED[$k/$n]}" "${MED[$k/$base]}")"); done
    pairs+="$line"$'\n'
  fi
done
if [[ -n "$pairs" ]]; then
  echo
  echo "== scheduled (--scheduler parallel) / inline handlers, same number of clients"
  printf '%s' "$pairs"
fi
exit 0
