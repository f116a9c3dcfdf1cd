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
#   CLIENT_CPU=0      CPU the stat-loop client is pinned to (taskset -c)
#   DAEMON_CPU=1      CPU every daemon (all of its threads) is pinned to
#   LIBFUSE_MT=1      also measure passthrough_ll in its default multi-threaded mode
#   JAVA_OPTS=...     JVM flags for the reactor-fuse daemon (default below)
#   NATIVE_BASE=/var/tmp  where the native dir and the passthrough source dir are created
#   MOUNT_TIMEOUT=30  seconds to wait for a mount to show up in /proc/mounts
#   RF_SAMPLE=memfs   'hello' = plumbing dry run against the current hello sample (stats
#                     MNT/hello, 1 s timeouts: its numbers are NOT comparable)
set -euo pipefail

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$PERF_DIR")
JAR="$ROOT_DIR/samples/target/reactor-fuse-samples.jar"
BUILD="$PERF_DIR/target/stat-bench"
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

ROUNDS=${ROUNDS:-3}
# SECONDS is also bash's elapsed-time counter, so take the caller's value from the environment.
ENV_SECONDS=$(printenv SECONDS || true)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-${ENV_SECONDS:-5}}
WARMUP=${WARMUP:-2}
CLIENT_CPU=${CLIENT_CPU:-0}
DAEMON_CPU=${DAEMON_CPU:-1}
LIBFUSE_MT=${LIBFUSE_MT:-1}
NATIVE_BASE=${NATIVE_BASE:-/var/tmp}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}
RF_SAMPLE=${RF_SAMPLE:-memfs}
# Fixed heap (no resizing during a run), pre-touched; serial GC is what the JVM picks anyway on
# one CPU, made explicit; Netty's buffer leak detector samples allocations, so turn it off as
# any production deployment would.
JAVA_OPTS=${JAVA_OPTS:-"-Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:+UseSerialGC -Dio.netty.leakDetection.level=disabled"}

die() { echo "stat-bench: ERROR: $*" >&2; exit 1; }
log() { echo "stat-bench: $*" >&2; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$SECONDS_PER_RUN" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SECONDS_PER_RUN must be a number, got '$SECONDS_PER_RUN'"
[[ "$WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WARMUP must be a number, got '$WARMUP'"
case "$RF_SAMPLE" in memfs|hello) ;; *) die "RF_SAMPLE must be memfs or hello, got '$RF_SAMPLE'" ;; esac

# ---------------------------------------------------------------- preconditions
[[ -f "$JAR" ]] || die "sample jar missing: $JAR
  build it first with:  (cd $ROOT_DIR && mvn -B -q package -DskipTests)"
[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
for tool in gcc pkg-config taskset java awk sort umount; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH"
done
pkg-config --exists fuse3 || die "pkg-config does not know fuse3 (apt-get install libfuse3-dev)"
[[ -f "$EXAMPLES/passthrough_ll.c" ]] || die "$EXAMPLES/passthrough_ll.c not found (libfuse3-dev examples)"
NCPU=$(nproc)
for c in "$CLIENT_CPU" "$DAEMON_CPU"; do
  [[ "$c" =~ ^[0-9]+$ && "$c" -lt "$NCPU" ]] || die "CPU '$c' is not one of this machine's $NCPU CPUs"
done
[[ "$CLIENT_CPU" != "$DAEMON_CPU" ]] || log "WARNING: client and daemons share CPU $CLIENT_CPU"

mkdir -p "$BUILD"
# Never two benchmarks at once: they would steal each other's pinned CPUs.
exec 9>"$BUILD/lock"
flock -n 9 || die "another stat-bench is running (lock $BUILD/lock)"

# ---------------------------------------------------------------- cleanup (always)
PIDS=()      # daemons this script started
MOUNTS=()    # mount points this script created
TMPDIRS=()   # temp dirs this script created
is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
cleanup() {
  local rc=$? m p i
  trap - EXIT INT TERM
  set +e
  for m in "${MOUNTS[@]}"; do
    if is_mounted "$m"; then
      timeout 10 umount "$m" 2>/dev/null || timeout 10 umount -l "$m" \
        || log "WARNING: could not unmount $m"
    fi
  done
  for p in "${PIDS[@]}"; do   # unmounting makes the daemons exit; wait up to 5 s, then insist
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; sleep 1; kill -KILL "$p" 2>/dev/null; fi
    wait "$p" 2>/dev/null
  done
  for m in "${MOUNTS[@]}"; do is_mounted "$m" && log "WARNING: $m is still mounted"; done
  for m in "${MOUNTS[@]}"; do is_mounted "$m" || rmdir "$m" 2>/dev/null; done
  for d in "${TMPDIRS[@]}"; do rm -rf --one-file-system "$d"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
log "building into $BUILD"
gcc -O2 -Wall -Wextra -o "$BUILD/stat-loop" "$PERF_DIR/stat-loop.c"
cp "$EXAMPLES/passthrough_ll.c" "$EXAMPLES/passthrough_helpers.h" "$BUILD/"
# shellcheck disable=SC2046
gcc -O2 -Wall -o "$BUILD/passthrough_ll" "$BUILD/passthrough_ll.c" $(pkg-config --cflags --libs fuse3)
STAT_LOOP="$BUILD/stat-loop"

# Run from a private copy so a concurrent `mvn package` cannot swap the jar under the JVM.
cp "$JAR" "$BUILD/reactor-fuse-samples.jar"
JAR_SRC=$JAR
JAR="$BUILD/reactor-fuse-samples.jar"
if [[ "$RF_SAMPLE" == memfs ]]; then
  help=$(timeout 30 java -jar "$JAR" --help 2>&1 || true)
  grep -q memfs <<<"$help" || die "$JAR_SRC has no memfs command yet ('java -jar $JAR_SRC --help' does not mention memfs).
  rebuild it with:  (cd $ROOT_DIR && mvn -B -q package -DskipTests)   or dry-run the plumbing with RF_SAMPLE=hello"
fi

# ---------------------------------------------------------------- contenders
declare -A TARGET   # contender -> path that stat-loop stats
NAMES=()

wait_mount() { # name mountpoint pid logfile
  local name=$1 mnt=$2 pid=$3 logf=$4 deadline=$((SECONDS + MOUNT_TIMEOUT))
  until is_mounted "$mnt"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logf" >&2 || true
      die "$name daemon (pid $pid) exited before mounting $mnt; log: $logf"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logf" >&2 || true
      die "$name: $mnt did not appear in /proc/mounts within ${MOUNT_TIMEOUT}s; log: $logf"
    fi
    sleep 0.1
  done
  log "$name mounted on $mnt (pid $pid, pinned to CPU $DAEMON_CPU)"
}

start_daemon() { # name logfile cmd...   (sets LAST_PID)
  local name=$1 logf=$2; shift 2
  taskset -c "$DAEMON_CPU" "$@" >"$logf" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

make_target() { # name dir
  local f="$2/stat-target"
  touch "$f" || die "$1: cannot create $f"
  stat "$f" >/dev/null || die "$1: cannot stat $f"
  TARGET[$1]=$f
}

# reactor-fuse
MNT=$(mktemp -d /tmp/stat-bench-rf.XXXXXX); MOUNTS+=("$MNT")
if [[ "$RF_SAMPLE" == memfs ]]; then
  RF=rf-memfs
  # shellcheck disable=SC2086
  start_daemon "$RF" "$BUILD/$RF.log" java $JAVA_OPTS -jar "$JAR" memfs --timeout 0 "$MNT"
  wait_mount "$RF" "$MNT" "$LAST_PID" "$BUILD/$RF.log"
  make_target "$RF" "$MNT"
else
  RF=rf-hello
  log "RF_SAMPLE=hello: PLUMBING DRY RUN, hello sample has 1 s timeouts, its numbers are not comparable"
  # shellcheck disable=SC2086
  start_daemon "$RF" "$BUILD/$RF.log" java $JAVA_OPTS -jar "$JAR" hello "$MNT"
  wait_mount "$RF" "$MNT" "$LAST_PID" "$BUILD/$RF.log"
  TARGET[$RF]="$MNT/hello"
fi
NAMES+=("$RF")

# libfuse passthrough_ll mirroring a temp dir on the native file system
SRC=$(mktemp -d "$NATIVE_BASE/stat-bench-src.XXXXXX"); TMPDIRS+=("$SRC")
LF_MODES=(s)
[[ "$LIBFUSE_MT" == 1 ]] && LF_MODES+=(mt)
for mode in "${LF_MODES[@]}"; do
  name=libfuse-$mode
  MNT=$(mktemp -d /tmp/stat-bench-lf$mode.XXXXXX); MOUNTS+=("$MNT")
  extra=(); [[ $mode == s ]] && extra=(-s)
  start_daemon "$name" "$BUILD/$name.log" \
    "$BUILD/passthrough_ll" -f "${extra[@]}" -o cache=never -o "source=$SRC" "$MNT"
  wait_mount "$name" "$MNT" "$LAST_PID" "$BUILD/$name.log"
  if [[ $mode == s ]]; then make_target "$name" "$MNT"; else TARGET[$name]="$MNT/stat-target"; fi
  stat "${TARGET[$name]}" >/dev/null || die "$name: cannot stat ${TARGET[$name]}"
  NAMES+=("$name")
done

# native
NATIVE=$(mktemp -d "$NATIVE_BASE/stat-bench-native.XXXXXX"); TMPDIRS+=("$NATIVE")
make_target native "$NATIVE"
NAMES+=(native)
NATIVE_FS="$(stat -f -c %T "$NATIVE") ($(awk -v d="$(df --output=target "$NATIVE" | tail -n 1)" '$2 == d { t = $3 } END { print t }' /proc/mounts) per /proc/mounts)"

# ---------------------------------------------------------------- measure
echo "# stat-bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  libfuse $(pkg-config --modversion fuse3)  $(java -version 2>&1 | head -n 1)"
echo "# $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $NCPU CPUs; client on CPU $CLIENT_CPU, daemons on CPU $DAEMON_CPU; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN warm-up=${WARMUP}s before each run; native fs: $NATIVE_FS"
echo "# JAVA_OPTS=$JAVA_OPTS"
for n in "${NAMES[@]}"; do echo "# $n: stat ${TARGET[$n]}"; done

declare -A RESULTS   # contender -> space-separated stat/s values
run_one() { # name -> prints stat/s
  local name=$1 path=${TARGET[$1]} out
  if [[ "$WARMUP" != 0 && "$WARMUP" != 0.0 ]]; then
    taskset -c "$CLIENT_CPU" "$STAT_LOOP" "$path" "$WARMUP" >/dev/null \
      || die "$name: warm-up stat loop on $path failed"
  fi
  out=$(taskset -c "$CLIENT_CPU" "$STAT_LOOP" "$path" "$SECONDS_PER_RUN") \
    || die "$name: stat loop on $path failed"
  printf '  round %d  %-11s %s\n' "$round" "$name" "$out" >&2
  awk '{ print $(NF - 1) }' <<<"$out"
}

N=${#NAMES[@]}
for ((round = 1; round <= ROUNDS; round++)); do
  for ((i = 0; i < N; i++)); do      # rotate the start order each round
    name=${NAMES[$(((i + round - 1) % N))]}
    r=$(run_one "$name")
    RESULTS[$name]="${RESULTS[$name]:-} $r"
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }
declare -A MED
echo
printf '%-12s %14s %20s  %s\n' contender "median stat/s" "min-max" "runs"
for n in "${NAMES[@]}"; do
  MED[$n]=$(median <<<"${RESULTS[$n]}")
  printf '%-12s %14.0f %20s  %s\n' "$n" "${MED[$n]}" "$(minmax <<<"${RESULTS[$n]}")" "${RESULTS[$n]# }"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf '%-28s %s\n' "$RF / libfuse-s" "$(ratio "${MED[$RF]}" "${MED[libfuse-s]}")"
[[ -n "${MED[libfuse-mt]:-}" ]] && printf '%-28s %s\n' "$RF / libfuse-mt" "$(ratio "${MED[$RF]}" "${MED[libfuse-mt]}")"
printf '%-28s %s\n' "$RF / native" "$(ratio "${MED[$RF]}" "${MED[native]}")"
[[ "$RF" == rf-hello ]] && echo "# RF_SAMPLE=hello: dry run, rf-hello has 1 s timeouts and is NOT comparable"
exit 0
