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

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$PERF_DIR")
JAR=${SAMPLES_JAR:-"$ROOT_DIR/samples/target/reactor-fuse-samples.jar"}
BUILD="$PERF_DIR/target/stat-bench"
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

ROUNDS=${ROUNDS:-3}
# SECONDS is also bash's elapsed-time counter, so take the caller's value from the environment.
ENV_SECONDS=$(printenv SECONDS || true)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-${ENV_SECONDS:-5}}
WARMUP=${WARMUP:-2}
INITIAL_WARMUP=${INITIAL_WARMUP:-5}
CLIENT_CPU=${CLIENT_CPU:-0}
DAEMON_CPU=${DAEMON_CPU:-1}
LIBFUSE_MT=${LIBFUSE_MT:-1}
NATIVE_BASE=${NATIVE_BASE:-/var/tmp}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}
RF_SAMPLE=${RF_SAMPLE:-memfs}
LAYOUTS=${LAYOUTS:-split shared}
# Fixed heap (no resizing during a run), pre-touched; serial GC is what the JVM picks anyway on
# one CPU, made explicit; Netty's buffer leak detector samples allocations, so turn it off as
# any production deployment would.
JAVA_OPTS=${JAVA_OPTS:-"-Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:+UseSerialGC -Dio.netty.leakDetection.level=disabled"}

die() { echo "stat-bench: ERROR: $*" >&2; exit 1; }
log() { echo "stat-bench: $*" >&2; }
positive() { awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ "$SECONDS_PER_RUN" =~ ^[0-9]+(\.[0-9]+)?$ ]] && positive "$SECONDS_PER_RUN" || die "SECONDS (seconds per run) must be a positive number, got '$SECONDS_PER_RUN'"
[[ "$WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WARMUP must be a number, got '$WARMUP'"
[[ "$INITIAL_WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "INITIAL_WARMUP must be a number, got '$INITIAL_WARMUP'"
for l in $LAYOUTS; do case "$l" in split|shared) ;; *) die "LAYOUTS may only name split and shared, got '$l'" ;; esac; done
[[ -n "${LAYOUTS// /}" ]] || die "LAYOUTS is empty"
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
  if [[ -n "${WATCHDOG:-}" ]]; then kill -TERM "$WATCHDOG" 2>/dev/null; fi
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

declare -A DPID   # contender -> pid of its daemon
start_daemon() { # name logfile cmd...   (sets LAST_PID)
  local name=$1 logf=$2; shift 2
  taskset -c "$DAEMON_CPU" "$@" >"$logf" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  DPID[$name]=$LAST_PID
}

# guarded NAME LIMIT CMD...: runs CMD; if it still runs after LIMIT seconds, kills NAME's daemon.
# A process waiting for a FUSE reply that never comes cannot be killed (once the daemon has read
# the request the kernel waits uninterruptibly), so neither `timeout` nor the EXIT trap would
# ever get to run; the daemon closing /dev/fuse aborts the request, CMD fails, the script dies.
guarded() {
  local name=$1 limit=$2 dpid=${DPID[$1]:-} wd= rc=0
  shift 2
  if [[ -n "$dpid" ]]; then
    ( trap 'kill "$sp" 2>/dev/null; exit 0' TERM
      sleep "$limit" & sp=$!
      wait "$sp"
      log "$name: a request got no reply within ${limit}s: killing its daemon (pid $dpid) to abort it"
      kill -TERM "$dpid" 2>/dev/null || true
      sleep 3
      kill -KILL "$dpid" 2>/dev/null || true ) >&2 &
    wd=$!
    WATCHDOG=$wd   # for cleanup, if a signal ends the script while CMD runs in the main shell
  fi
  "$@" || rc=$?
  if [[ -n "$wd" ]]; then kill -TERM "$wd" 2>/dev/null || true; wait "$wd" 2>/dev/null || true; fi
  return "$rc"
}
limit_for() { awk -v s="$1" 'BEGIN { printf "%d", s + 30 }'; }   # run length + 30 s

make_target() { # name dir
  local f="$2/stat-target"
  guarded "$1" 30 touch "$f" || die "$1: cannot create $f"
  guarded "$1" 30 stat "$f" >/dev/null || die "$1: cannot stat $f"
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

# libfuse passthrough_ll mirroring a temp dir on the native file system.
# Same kernel-side permission model as the reactor-fuse mount: with default_permissions the
# kernel checks search permission on the parent itself, and with attr timeout 0 that costs one
# more GETATTR (on the root dir) per stat(); matching it keeps the request count per stat equal
# (3 with, 2 without: GETATTR parent + LOOKUP + GETATTR file).
LIBFUSE_OPTS=()
if [[ -z "${LIBFUSE_DEFAULT_PERMISSIONS:-}" ]]; then
  rf_opts=$(awk -v m="$(dirname "${TARGET[$RF]}")" '$2 == m { print $4 }' /proc/mounts)
  if [[ ",$rf_opts," == *,default_permissions,* ]]; then LIBFUSE_DEFAULT_PERMISSIONS=1; else LIBFUSE_DEFAULT_PERMISSIONS=0; fi
fi
[[ "$LIBFUSE_DEFAULT_PERMISSIONS" == 1 ]] && LIBFUSE_OPTS+=(-o default_permissions)
SRC=$(mktemp -d "$NATIVE_BASE/stat-bench-src.XXXXXX"); TMPDIRS+=("$SRC")
LF_MODES=(s)
[[ "$LIBFUSE_MT" == 1 ]] && LF_MODES+=(mt)
for mode in "${LF_MODES[@]}"; do
  name=libfuse-$mode
  MNT=$(mktemp -d /tmp/stat-bench-lf$mode.XXXXXX); MOUNTS+=("$MNT")
  extra=(); [[ $mode == s ]] && extra=(-s)
  start_daemon "$name" "$BUILD/$name.log" \
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
NATIVE_FS="$(stat -f -c %T "$NATIVE") ($(awk -v d="$(df --output=target "$NATIVE" | tail -n 1)" '$2 == d { t = $3 } END { print t }' /proc/mounts) per /proc/mounts)"

# ---------------------------------------------------------------- measure
busy_percent() { # CPU use of the whole machine over 1 s, in percent
  local a b
  a=($(head -n 1 /proc/stat)); sleep 1; b=($(head -n 1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
BUSY=$(busy_percent)
if ((BUSY > 10)); then
  log "WARNING: the machine was ${BUSY}% busy during the last second before measuring: other processes will skew the numbers"
fi
echo "# stat-bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  libfuse $(pkg-config --modversion fuse3)  $(java -version 2>&1 | head -n 1)"
echo "# $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $NCPU CPUs; daemons pinned to CPU $DAEMON_CPU; loadavg $(cut -d' ' -f1-3 /proc/loadavg); ${BUSY}% busy just before"
echo "# layouts: split = client on CPU $CLIENT_CPU, daemon on CPU $DAEMON_CPU;  shared = client on CPU $DAEMON_CPU too"
echo "# rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN warm-up=${WARMUP}s before each run (+${INITIAL_WARMUP}s each once at start); native fs: $NATIVE_FS"
echo "# JAVA_OPTS=$JAVA_OPTS"
for n in "${NAMES[@]}"; do
  opts=$(awk -v m="$(dirname "${TARGET[$n]}")" '$2 == m { print $3, $4 }' /proc/mounts)
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

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
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
