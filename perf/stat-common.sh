# Shared by perf/stat-bench.sh and perf/stat-scale.sh: sourced, not run.
# The sourcing script sets BENCH (its name for messages) and `set -euo pipefail` first.
# Sourcing installs the cleanup trap; everything else is functions.

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$PERF_DIR")
JAR=${SAMPLES_JAR:-"$ROOT_DIR/samples/target/reactor-fuse-samples.jar"}
BUILD="$PERF_DIR/target/stat-bench"   # shared by both scripts (and so is its lock)
EXAMPLES=/usr/share/doc/libfuse3-dev/examples
NATIVE_BASE=${NATIVE_BASE:-/var/tmp}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}
# SECONDS is also bash's elapsed-time counter, so take the caller's value from the environment.
ENV_SECONDS=$(printenv SECONDS || true)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-${ENV_SECONDS:-5}}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
INITIAL_WARMUP=${INITIAL_WARMUP:-5}
# Fixed heap (no resizing during a run), pre-touched; serial GC made explicit (what the JVM picks
# on one CPU; the request path allocates little); Netty's buffer leak detector samples
# allocations, so turn it off as any production deployment would.
JAVA_OPTS=${JAVA_OPTS:-"-Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:+UseSerialGC -Dio.netty.leakDetection.level=disabled"}

die() { echo "$BENCH: ERROR: $*" >&2; exit 1; }
log() { echo "$BENCH: $*" >&2; }
positive() { awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }

check_common_params() {
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
  [[ "$SECONDS_PER_RUN" =~ ^[0-9]+(\.[0-9]+)?$ ]] && positive "$SECONDS_PER_RUN" || die "SECONDS (seconds per run) must be a positive number, got '$SECONDS_PER_RUN'"
  [[ "$WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WARMUP must be a number, got '$WARMUP'"
  [[ "$INITIAL_WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "INITIAL_WARMUP must be a number, got '$INITIAL_WARMUP'"
}

check_preconditions() {
  [[ -f "$JAR" ]] || die "sample jar missing: $JAR
  build it first with:  (cd $ROOT_DIR && mvn -B -q package -DskipTests)"
  [[ -e /dev/fuse ]] || die "/dev/fuse is missing"
  local tool
  for tool in gcc pkg-config taskset java awk sort umount flock; do
    command -v "$tool" >/dev/null || die "'$tool' not found on PATH"
  done
  pkg-config --exists fuse3 || die "pkg-config does not know fuse3 (apt-get install libfuse3-dev)"
  [[ -f "$EXAMPLES/passthrough_ll.c" ]] || die "$EXAMPLES/passthrough_ll.c not found (libfuse3-dev examples)"
  NCPU=$(nproc)
}

check_cpu() { [[ "$1" =~ ^[0-9]+$ && "$1" -lt "$NCPU" ]] || die "CPU '$1' is not one of this machine's $NCPU CPUs"; }

# Never two benchmarks at once (either script): they would steal each other's CPUs.
take_lock() {
  mkdir -p "$BUILD"
  exec 9>"$BUILD/lock"
  flock -n 9 || die "another stat benchmark is running (lock $BUILD/lock)"
  WD_FIFO="$BUILD/watchdog.fifo"   # see guarded; safe to reuse now that we hold the lock
  [[ -p "$WD_FIFO" ]] || { rm -f "$WD_FIFO"; mkfifo "$WD_FIFO"; }
}

# ---------------------------------------------------------------- cleanup (always)
PIDS=()      # daemons this script started
MOUNTS=()    # mount points this script created
TMPDIRS=()   # temp dirs this script created
is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
MAIN_PID=$BASHPID
cleanup() {
  local rc=$? m p i
  trap - EXIT INT TERM
  # Subshells inherit these traps until they set their own: a watchdog (see guarded) that gets
  # its TERM before its own trap is in place would otherwise run the whole cleanup, unmounting
  # everything and killing the daemons while the benchmark goes on.
  if [[ $BASHPID != "$MAIN_PID" ]]; then exec 2>/dev/null; exit "$rc"; fi
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
# Compiles stat-loop and passthrough_ll into $BUILD, copies the samples jar there (so a concurrent
# `mvn package` cannot swap it under the running JVM) and checks it has memfs (unless $1 == hello).
build_tools() {
  log "building into $BUILD"
  gcc -O2 -Wall -Wextra -o "$BUILD/stat-loop" "$PERF_DIR/stat-loop.c"
  cp "$EXAMPLES/passthrough_ll.c" "$EXAMPLES/passthrough_helpers.h" "$BUILD/"
  # shellcheck disable=SC2046
  gcc -O2 -Wall -o "$BUILD/passthrough_ll" "$BUILD/passthrough_ll.c" $(pkg-config --cflags --libs fuse3)
  STAT_LOOP="$BUILD/stat-loop"
  cp "$JAR" "$BUILD/reactor-fuse-samples.jar"
  JAR_SRC=$JAR
  JAR="$BUILD/reactor-fuse-samples.jar"
  if [[ "${1:-memfs}" == memfs ]]; then
    local help
    help=$(timeout 30 java -jar "$JAR" --help 2>&1 || true)
    grep -q memfs <<<"$help" || die "$JAR_SRC has no memfs command yet ('java -jar $JAR_SRC --help' does not mention memfs).
  rebuild it with:  (cd $ROOT_DIR && mvn -B -q package -DskipTests)"
  fi
}

# ---------------------------------------------------------------- daemons
declare -A DPID   # contender -> pid of its daemon

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
  log "$name mounted on $mnt (pid $pid, $(taskset -cp "$pid" 2>/dev/null | sed 's/.*: /CPUs /'))"
}

start_daemon() { # name logfile cpus cmd...   (cpus: taskset -c list, or "" = not pinned; sets LAST_PID)
  local name=$1 logf=$2 cpus=$3; shift 3
  if [[ -n "$cpus" ]]; then
    taskset -c "$cpus" "$@" >"$logf" 2>&1 &
  else
    "$@" >"$logf" 2>&1 &
  fi
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
    # The watchdog waits in bash's own `read -t` on a FIFO nobody writes to, not in a `sleep`
    # child: stopping it with TERM then leaves no orphaned sleep behind, however early it comes.
    ( trap - EXIT; trap 'exit 0' TERM
      if read -r -t "$limit" <>"$WD_FIFO"; then exit 0; fi
      log "$name: a request got no reply within ${limit}s: killing its daemon (pid $dpid) to abort it"
      kill -TERM "$dpid" 2>/dev/null || true
      read -r -t 3 <>"$WD_FIFO" || true
      kill -KILL "$dpid" 2>/dev/null || true ) >&2 &
    wd=$!
    WATCHDOG=$wd   # for cleanup, if a signal ends the script while CMD runs in the main shell
  fi
  "$@" || rc=$?
  if [[ -n "$wd" ]]; then kill -TERM "$wd" 2>/dev/null || true; wait "$wd" 2>/dev/null || true; fi
  return "$rc"
}
limit_for() { awk -v s="$1" 'BEGIN { printf "%d", s + 30 }'; }   # run length + 30 s

create_file() { # name path: creates the file through the mount and stats it
  guarded "$1" 30 touch "$2" || die "$1: cannot create $2"
  guarded "$1" 30 stat "$2" >/dev/null || die "$1: cannot stat $2"
}

# Same kernel-side permission model as the reactor-fuse mount at $1: with default_permissions the
# kernel checks search permission on the parent itself, and with attr timeout 0 that costs one
# more GETATTR (on the root dir) per stat(); matching it keeps the request count per stat equal
# (3 with, 2 without: GETATTR parent + LOOKUP + GETATTR file). Sets LIBFUSE_OPTS.
libfuse_opts_like() { # reactor-fuse mount point
  local rf_opts
  if [[ -z "${LIBFUSE_DEFAULT_PERMISSIONS:-}" ]]; then
    rf_opts=$(awk -v m="$1" '$2 == m { print $4 }' /proc/mounts)
    if [[ ",$rf_opts," == *,default_permissions,* ]]; then LIBFUSE_DEFAULT_PERMISSIONS=1; else LIBFUSE_DEFAULT_PERMISSIONS=0; fi
  fi
  LIBFUSE_OPTS=()
  if [[ "$LIBFUSE_DEFAULT_PERMISSIONS" == 1 ]]; then LIBFUSE_OPTS+=(-o default_permissions); fi
}

native_fs_desc() { # dir
  echo "$(stat -f -c %T "$1") ($(awk -v d="$(df --output=target "$1" | tail -n 1)" '$2 == d { t = $3 } END { print t }' /proc/mounts) per /proc/mounts)"
}

# ---------------------------------------------------------------- measure / report
busy_percent() { # CPU use of the whole machine over 1 s, in percent
  local a b
  a=($(head -n 1 /proc/stat)); sleep 1; b=($(head -n 1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
check_idle() { # sets BUSY
  BUSY=$(busy_percent)
  if ((BUSY > 10)); then
    log "WARNING: the machine was ${BUSY}% busy during the last second before measuring: other processes will skew the numbers"
  fi
}
header_versions() {
  echo "# $BENCH $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  libfuse $(pkg-config --modversion fuse3)  $(java -version 2>&1 | head -n 1)"
}
cpu_model() { lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'; }
mount_opts() { awk -v m="$1" '$2 == m { print $3, $4 }' /proc/mounts; }   # mount point -> "type opts"

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
