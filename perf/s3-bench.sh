#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup (a trap) and the functions guarded runs are called indirectly
# Object store: one embedded S3 server (the samples jar's s3server, s3proxy on loopback), three
# FUSE clients of it side by side in one run: reactor-fuse's objectstore sample, s3fs-fuse and
# rclone mount. Medians and min-max of ROUNDS runs, contenders alternating (rf s3fs rclone rf ...),
# ratios reactor-fuse / s3fs and reactor-fuse / rclone (above 1 = reactor-fuse faster), as a
# Markdown table.
#
# Usage (as root, from anywhere, after `mvn -B -q package -DskipTests`):
#   perf/s3-bench.sh            full run  (256 MiB file, 5,000 keys, 3 rounds)
#   perf/s3-bench.sh --quick    quick run (64 MiB file, 1,000 keys, 2 rounds), for development
# Results: perf/results/<UTC timestamp>-s3[-quick]/ (results.md, runs.tsv, logs/ with every
# client's and the server's log); results.md also goes to stdout. See perf/README.md
# ("Object store (s3-bench.sh)").
#
# Clients (missing s3fs / rclone are installed with `apt-get install -y s3fs rclone`):
#   rf       java -jar reactor-fuse-samples.jar objectstore --endpoint URL --bucket B
#              --access-key K --secret-key S --spool-dir DIR MNT      (everything else default)
#   s3fs     s3fs B MNT -f -o url=URL -o use_path_request_style -o passwd_file=FILE (no use_cache)
#   rclone   rclone mount ":s3,provider=Other,access_key_id=K,secret_access_key=S,endpoint='URL':B"
#              MNT --vfs-cache-mode off --config EMPTY-FILE
#            (cache mode off: close() returns once the upload is done, as with the other two;
#            with a VFS cache rclone would upload after close() and seqwrite would mean nothing)
#   All three run in the foreground of a background job (their PID kept), under
#   `env -u AWS_CA_BUNDLE -u AWS_ACCESS_KEY_ID ... -u http_proxy ...` (rclone 1.60 refuses to
#   start when AWS_CA_BUNDLE is set on a plain-http endpoint).
#
# Workloads (every measured run: fresh mount of that client, then `sync; echo 3 >
# /proc/sys/vm/drop_caches`, then the files the run reads warmed on the server side, see
# SERVER_CACHE, then the timed command, then unmount):
#   seqwrite  dd if=SRC of=MNT/seqwrite-<client>-r<round>.dat bs=1M, FILE_MB MiB of random bytes
#             from a local file (in the page cache), timed until dd's close() returns; the object
#             on the server is then compared with SRC (not timed)                      MiB/s
#   seqread   dd if=MNT/seqread.dat of=/dev/null bs=1M, FILE_MB MiB                    MiB/s
#   lsr       ls -lR MNT/tree: KEYS keys, KEYS_PER_DIR per directory (KEY_BYTES each)  seconds
#   par64     PAR parallel cat of PAR different objects of PAR_MB MiB
#             (xargs -0 -P PAR -n 1 cat >/dev/null)                                    seconds, MiB/s
# The test data (seqread.dat, tree/, par/) is written once per run through one client (SETUP_CLIENT,
# reactor-fuse by default), checked on the server's disk and then read back through every
# client once (CHECK=1) before the measured rounds. A workload that a client cannot do (mount
# fails, command fails, wrong data, no answer within RUN_TIMEOUT) shows as "n/a (reason)".
#
# Environment (defaults: full / --quick):
#   ROUNDS=3 / 2             measured runs of every client in every workload
#   FILE_MB=256 / 64         seqwrite / seqread file size
#   KEYS=5000 / 1000         keys in the lsr tree
#   KEYS_PER_DIR=100         keys per directory of the tree
#   KEY_BYTES=1024           size of each key of the tree
#   PAR=64  PAR_MB=1         par64: that many objects of that many MiB, read by that many processes
#   CLIENTS="rf s3fs rclone" clients (rf is required: the ratios are rf / the others)
#   WORKLOADS="seqwrite seqread lsr par64"
#   SERVER_CACHE=warm        warm: after drop_caches, the objects a run reads are read from the
#                            server's disk into the page cache (not timed), so the server serves
#                            them from memory and the clients are compared, not the disk;
#                            cold: no warming
#   SETUP_CLIENT=rf          the client the test data is written through
#   CHECK=1                  read the test data back through every client before round 1
#   SETTLE=1                 seconds of pause between mounting (+ drop_caches) and measuring
#   WARMUP=0                 1: right after mounting, before drop_caches, every client does the
#                            run's workload once, unmeasured, on separate warm-up data (warm/: a
#                            WARM_MB=32 MiB object, 2 x KEYS_PER_DIR keys, PAR objects): the JVM
#                            of reactor-fuse is then warm (JIT) but nothing measured is cached.
#                            0 (default): every measured run starts from a new client process
#   MOUNT_TIMEOUT=30         seconds a client may take to mount
#   SERVER_TIMEOUT=60        seconds the server may take to print its endpoint line
#   UMOUNT_TIMEOUT=30        seconds a client may take to exit after it is unmounted
#   RUN_TIMEOUT=600          seconds one command through a mount may take; then its client is
#                            killed (which aborts the pending FUSE requests) and the cell is n/a
#   JAVA_OPTS=""             JVM options of the reactor-fuse client (default: none, plain java -jar)
#   SERVER_JAVA_OPTS=""      JVM options of the server
#   INSTALL=1                apt-get install s3fs / rclone when missing (0: those clients are n/a)
#   RESULTS_DIR=perf/results/<timestamp>-s3[-quick]
set -euo pipefail
export LC_ALL=C
BENCH=s3-bench
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$BENCH: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$PERF_DIR")
JAR_SRC=${SAMPLES_JAR:-"$ROOT_DIR/samples/target/reactor-fuse-samples.jar"}
LOCK_DIR="$PERF_DIR/target/stat-bench"   # the lock of stat-bench.sh, stat-scale.sh and fs-bench.sh

if ((QUICK)); then
  MODE=quick
  ROUNDS=${ROUNDS:-2}; FILE_MB=${FILE_MB:-64}; KEYS=${KEYS:-1000}
else
  MODE=full
  ROUNDS=${ROUNDS:-3}; FILE_MB=${FILE_MB:-256}; KEYS=${KEYS:-5000}
fi
KEYS_PER_DIR=${KEYS_PER_DIR:-100}
KEY_BYTES=${KEY_BYTES:-1024}
PAR=${PAR:-64}
PAR_MB=${PAR_MB:-1}
CLIENTS=${CLIENTS:-rf s3fs rclone}
WORKLOADS=${WORKLOADS:-seqwrite seqread lsr par64}
SERVER_CACHE=${SERVER_CACHE:-warm}
SETUP_CLIENT=${SETUP_CLIENT:-rf}
CHECK=${CHECK:-1}
SETTLE=${SETTLE:-1}
WARMUP=${WARMUP:-0}
WARM_MB=${WARM_MB:-32}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}
SERVER_TIMEOUT=${SERVER_TIMEOUT:-60}
UMOUNT_TIMEOUT=${UMOUNT_TIMEOUT:-30}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
JAVA_OPTS=${JAVA_OPTS:-}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:-}
INSTALL=${INSTALL:-1}
BUCKET=s3bench

die() { echo "$BENCH: ERROR: $*" >&2; exit 1; }
log() { echo "$BENCH: $*" >&2; }

for v in ROUNDS FILE_MB KEYS KEYS_PER_DIR KEY_BYTES PAR PAR_MB WARM_MB MOUNT_TIMEOUT SERVER_TIMEOUT UMOUNT_TIMEOUT RUN_TIMEOUT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$SETTLE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SETTLE must be a number of seconds, got '$SETTLE'"
[[ "$SERVER_CACHE" == warm || "$SERVER_CACHE" == cold ]] || die "SERVER_CACHE must be warm or cold"
[[ "$CHECK" == 0 || "$CHECK" == 1 ]] || die "CHECK must be 0 or 1"
[[ "$WARMUP" == 0 || "$WARMUP" == 1 ]] || die "WARMUP must be 0 or 1"
for c in $CLIENTS; do case "$c" in rf|s3fs|rclone) ;; *) die "unknown client '$c' (rf s3fs rclone)" ;; esac; done
[[ " $CLIENTS " == *" rf "* ]] || die "CLIENTS must include rf"
[[ " $CLIENTS " == *" $SETUP_CLIENT "* ]] || die "SETUP_CLIENT '$SETUP_CLIENT' is not one of CLIENTS"
for w in $WORKLOADS; do case "$w" in seqwrite|seqread|lsr|par64) ;; *) die "unknown workload '$w'" ;; esac; done
[[ -n "$WORKLOADS" ]] || die "WORKLOADS is empty"

# ---------------------------------------------------------------- preconditions
[[ $EUID -eq 0 ]] || die "run as root (mounts, drop_caches)"
[[ -f "$JAR_SRC" ]] || die "sample jar missing: $JAR_SRC
  build it first with:  (cd $ROOT_DIR && mvn -B -q package -DskipTests)"
[[ -e /dev/fuse ]] || die "/dev/fuse is missing"
[[ -w /proc/sys/vm/drop_caches ]] || die "/proc/sys/vm/drop_caches is not writable"
for tool in java awk sort dd ls xargs cat cmp diff find split head flock timeout umount mountpoint; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH"
done

declare -A NA    # client/workload -> reason it is n/a
declare -A SKIP  # client -> why it is not mounted at all
missing=()
for c in s3fs rclone; do
  if [[ " $CLIENTS " == *" $c "* ]] && ! command -v "$c" >/dev/null; then missing+=("$c"); fi
done
if ((${#missing[@]})); then
  if [[ "$INSTALL" == 1 ]]; then
    log "installing ${missing[*]} (apt-get install -y ${missing[*]})"
    timeout 600 apt-get install -y "${missing[@]}" >&2 \
      || { timeout 600 apt-get update >&2 && timeout 600 apt-get install -y "${missing[@]}" >&2; } \
      || log "WARNING: apt-get install ${missing[*]} failed"
  fi
  for c in "${missing[@]}"; do
    if ! command -v "$c" >/dev/null; then
      SKIP[$c]="$c is not installed"
      for w in $WORKLOADS; do NA[$c/$w]="$c is not installed"; done
    fi
  done
fi

mkdir -p "$LOCK_DIR"
exec 9>"$LOCK_DIR/lock"
flock -n 9 || die "another perf benchmark is running (lock $LOCK_DIR/lock)"

# ---------------------------------------------------------------- cleanup (always)
WORK=$(mktemp -d /tmp/s3bench-XXXXXX)
PIDS=()      # processes this script started and has not yet seen exit
MOUNTS=()    # mount points this script created
WATCHDOG=
MAIN_PID=$BASHPID
is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
cleanup() {
  local rc=$? m p i
  trap - EXIT INT TERM
  # A background subshell (the watchdog) that gets a signal before its own trap is in place must
  # not run the main shell's cleanup.
  if [[ $BASHPID != "$MAIN_PID" ]]; then exit "$rc"; fi
  set +e
  if [[ -n "$WATCHDOG" ]]; then kill -TERM "$WATCHDOG" 2>/dev/null; fi
  for m in "${MOUNTS[@]}"; do
    if is_mounted "$m"; then
      timeout 20 umount "$m" 2>/dev/null || timeout 10 umount -l "$m" || log "WARNING: could not unmount $m"
    fi
  done
  for p in "${PIDS[@]}"; do   # clients exit once unmounted; the server needs a TERM
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  for m in "${MOUNTS[@]}"; do is_mounted "$m" && log "WARNING: $m is still mounted"; done
  rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DATA="$WORK/data"           # the server's --data-dir
OBJ="$DATA/$BUCKET"         # where the server keeps the bucket's objects (one file per key)
SPOOL="$WORK/spool"         # reactor-fuse's --spool-dir
STAGE="$WORK/stage"         # local copies of tree/ and par/
SRC="$WORK/src.dat"         # FILE_MB MiB of random bytes on local disk
MNT_BASE="$WORK/mnt"
mkdir -p "$DATA" "$SPOOL" "$STAGE" "$MNT_BASE"
for c in $CLIENTS; do mkdir "$MNT_BASE/$c"; MOUNTS+=("$MNT_BASE/$c"); done
WD_FIFO="$WORK/watchdog.fifo"; mkfifo "$WD_FIFO"
JAR="$WORK/reactor-fuse-samples.jar"
cp "$JAR_SRC" "$JAR"   # a concurrent `mvn package` cannot replace it under the running JVMs

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
SUFFIX=; ((QUICK)) && SUFFIX=-quick
RESDIR=${RESULTS_DIR:-"$PERF_DIR/results/$STAMP-s3$SUFFIX"}
LOGS="$RESDIR/logs"
mkdir -p "$LOGS"
printf 'round\tworkload\tclient\tseconds\tvalue\tunit\n' >"$RESDIR/runs.tsv"
note() { echo "$*" | tee -a "$RESDIR/runs.log" >&2; }

# ---------------------------------------------------------------- helpers
drop_caches() { timeout 120 sync || true; echo 3 >/proc/sys/vm/drop_caches; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }   # EPOCHREALTIME values
dd_bytes() { awk '/ bytes / { b = $1 } END { print b + 0 }' "$1"; }
md_cell() { local x; x=$(printf '%s' "$1" | tr '|\n' '/ ' | cut -c1-200); echo "${x% }"; }

# guarded LIMIT PID CMD...: runs CMD in the foreground; if it still runs after LIMIT seconds, kills
# PID (the client daemon): a process waiting for a FUSE reply that never comes may not be
# killable, but the daemon closing /dev/fuse aborts its requests, so CMD fails. Returns CMD's
# status, or 124 if the watchdog fired. The watchdog waits in bash's own `read -t` on a FIFO
# nobody writes to (no sleep child left behind when it is stopped).
guarded() {
  local limit=$1 dpid=$2 rc=0
  shift 2
  rm -f "$WORK/watchdog.fired"
  ( trap - EXIT INT; trap 'exit 0' TERM
    if read -r -t "$limit" <>"$WD_FIFO"; then exit 0; fi
    : >"$WORK/watchdog.fired"
    log "no answer within ${limit}s: killing the client daemon (pid $dpid) to abort its requests"
    kill -TERM "$dpid" 2>/dev/null || true
    read -r -t 5 <>"$WD_FIFO" || true
    kill -KILL "$dpid" 2>/dev/null || true ) &
  WATCHDOG=$!
  "$@" || rc=$?
  kill -TERM "$WATCHDOG" 2>/dev/null || true
  wait "$WATCHDOG" 2>/dev/null || true
  WATCHDOG=
  if [[ -e "$WORK/watchdog.fired" ]]; then return 124; fi
  return "$rc"
}

busy_percent() { # CPU use of the whole machine over 1 s, in percent
  local a b
  read -r -a a </proc/stat; sleep 1; read -r -a b </proc/stat
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

# ---------------------------------------------------------------- server
AK="s3bench$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SK="$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"
log "starting the S3 server (data under $DATA)"
# shellcheck disable=SC2086
java $SERVER_JAVA_OPTS -jar "$JAR" s3server --data-dir "$DATA" --bucket "$BUCKET" \
  --access-key "$AK" --secret-key "$SK" >"$WORK/server.out" 2>"$LOGS/server.log" </dev/null &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
deadline=$((SECONDS + SERVER_TIMEOUT))
until grep -q '^endpoint ' "$WORK/server.out"; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 30 "$LOGS/server.log" >&2 || true
    die "the S3 server exited before printing its endpoint; log: $LOGS/server.log"
  fi
  ((SECONDS < deadline)) || { tail -n 30 "$LOGS/server.log" >&2 || true; die "the S3 server printed no endpoint within ${SERVER_TIMEOUT}s"; }
  sleep 0.2
done
read -r _ URL _ _ <"$WORK/server.out"
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "unexpected server line: $(head -n 1 "$WORK/server.out")"
[[ -d "$OBJ" ]] || die "the server did not create $OBJ"
log "S3 server at $URL (pid $SERVER_PID), bucket $BUCKET"

# ---------------------------------------------------------------- clients
PASSWD="$WORK/s3fs.passwd"
(umask 077; echo "$AK:$SK" >"$PASSWD")
RCLONE_CONF="$WORK/rclone.conf"
: >"$RCLONE_CONF"
CLIENT_ENV=(env -u AWS_CA_BUNDLE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
            -u AWS_PROFILE -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE -u AWSACCESSKEYID
            -u AWSSECRETACCESSKEY -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY
            -u all_proxy -u ALL_PROXY)
client_cmd() { # client mountpoint -> CMD
  case "$1" in
    rf)
      # shellcheck disable=SC2206
      CMD=(java $JAVA_OPTS -jar "$JAR" objectstore --endpoint "$URL" --bucket "$BUCKET"
           --access-key "$AK" --secret-key "$SK" --spool-dir "$SPOOL" "$2") ;;
    s3fs)
      CMD=(s3fs "$BUCKET" "$2" -f -o "url=$URL" -o use_path_request_style -o "passwd_file=$PASSWD") ;;
    rclone)
      CMD=(rclone mount ":s3,provider=Other,access_key_id=$AK,secret_access_key=$SK,endpoint='$URL':$BUCKET"
           "$2" --vfs-cache-mode off --config "$RCLONE_CONF") ;;
  esac
}
shown_cmd() { # client -> the command line, keys replaced by K and S
  local s='' a
  client_cmd "$1" MNT
  for a in "${CMD[@]}"; do
    if [[ "$a" =~ ^[][A-Za-z0-9_./=:,@+%-]+$ ]]; then s+=" $a"; else s+=" \"$a\""; fi
  done
  s=${s# }; s=${s//$SK/S}; s=${s//$AK/K}
  echo "$s"
}
declare -A LABEL=([rf]=reactor-fuse [s3fs]=s3fs [rclone]=rclone)
declare -A MOUNT_OPTS

# mount_client CLIENT TAG: starts the client on its mount point and waits until it is mounted.
# Sets CUR_PID, CUR_MNT, CUR_LOG; on failure returns 1 with MOUNT_ERR, nothing left behind.
mount_client() {
  local c=$1 mnt="$MNT_BASE/$1" pid deadline st
  CUR_LOG="$LOGS/$1-$2.log"
  MOUNT_ERR=
  if is_mounted "$mnt"; then MOUNT_ERR="$mnt is still mounted"; return 1; fi
  client_cmd "$c" "$mnt"
  "${CLIENT_ENV[@]}" "${CMD[@]}" >"$CUR_LOG" 2>&1 </dev/null &
  pid=$!
  PIDS+=("$pid")
  CUR_PID=$pid CUR_MNT=$mnt
  deadline=$((SECONDS + MOUNT_TIMEOUT))
  until is_mounted "$mnt" && timeout 10 mountpoint -q "$mnt"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      st=0; wait "$pid" 2>/dev/null || st=$?
      forget_pid "$pid"
      MOUNT_ERR="$c exited (status $st) before mounting, log $CUR_LOG: $(tail -n 3 "$CUR_LOG" | tr '\n' ' ')"
      log "$MOUNT_ERR"
      is_mounted "$mnt" && { timeout 20 umount "$mnt" || timeout 10 umount -l "$mnt" || true; }
      return 1
    fi
    if ((SECONDS >= deadline)); then
      MOUNT_ERR="$c did not mount within ${MOUNT_TIMEOUT}s (log $CUR_LOG)"
      log "$MOUNT_ERR"; tail -n 20 "$CUR_LOG" >&2 || true
      unmount_client
      return 1
    fi
    sleep 0.1
  done
}

# unmount_client: unmounts CUR_MNT (umount, retried; umount -l as a last resort) and waits for
# CUR_PID to exit (TERM, then KILL, after UMOUNT_TIMEOUT s). Logs a non-zero exit status.
unmount_client() {
  local mnt=$CUR_MNT pid=$CUR_PID i st=0 killed=0
  if is_mounted "$mnt"; then
    for i in 1 2 3; do
      timeout 20 umount "$mnt" 2>>"$CUR_LOG" && break
      sleep 1
    done
    if is_mounted "$mnt"; then
      log "WARNING: umount $mnt failed 3 times: lazy unmount"
      timeout 10 umount -l "$mnt" || log "WARNING: umount -l $mnt failed"
    fi
  fi
  for ((i = 0; i < UMOUNT_TIMEOUT * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "WARNING: client pid $pid still running ${UMOUNT_TIMEOUT}s after unmount: TERM"
    killed=1
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || st=$?
  forget_pid "$pid"
  if ((st != 0 && !killed)) && [[ ! -e "$WORK/watchdog.fired" ]]; then
    log "WARNING: client pid $pid exited with status $st after unmount (log $CUR_LOG)"
  fi
  if [[ -d "$SPOOL" ]] && [[ -n "$(ls -A "$SPOOL" 2>/dev/null)" ]]; then
    log "WARNING: reactor-fuse's spool dir is not empty after unmount: $(find "$SPOOL" -mindepth 1 | head -n 5 | tr '\n' ' ')"
  fi
}

# ---------------------------------------------------------------- test data
NDIRS=$(((KEYS + KEYS_PER_DIR - 1) / KEYS_PER_DIR))
PW=$(( ${#PAR} > 2 ? ${#PAR} : 2 ))       # digits of the par/ names
DW=$(( ${#NDIRS} > 3 ? ${#NDIRS} : 3 ))   # digits of the tree/ directory names
log "creating the local test data ($FILE_MB MiB file, $KEYS keys of $KEY_BYTES bytes, $PAR x $PAR_MB MiB)"
head -c "$((FILE_MB * 1048576))" /dev/urandom >"$SRC"
mkdir "$STAGE/tree" "$STAGE/par"
left=$KEYS
for ((i = 0; left > 0; i++)); do
  n=$((left < KEYS_PER_DIR ? left : KEYS_PER_DIR))
  d=$(printf "$STAGE/tree/d%0${DW}d" "$i")
  mkdir "$d"
  head -c $((n * KEY_BYTES)) /dev/urandom | (cd "$d" && split -b "$KEY_BYTES" -a "${#KEYS_PER_DIR}" -d - f)
  left=$((left - n))
done
head -c $((PAR * PAR_MB * 1048576)) /dev/urandom | (cd "$STAGE/par" && split -b "${PAR_MB}M" -a "$PW" -d - p)
if ((WARMUP)); then   # the same shapes, other keys: warm/seq.dat, warm/tree (2 directories), warm/par
  mkdir -p "$STAGE/warm/tree/d0" "$STAGE/warm/tree/d1" "$STAGE/warm/par"
  head -c "$((WARM_MB * 1048576))" /dev/urandom >"$STAGE/warm/seq.dat"
  for d in "$STAGE/warm/tree/d0" "$STAGE/warm/tree/d1"; do
    head -c $((KEYS_PER_DIR * KEY_BYTES)) /dev/urandom | (cd "$d" && split -b "$KEY_BYTES" -a "${#KEYS_PER_DIR}" -d - f)
  done
  head -c $((PAR * PAR_MB * 1048576)) /dev/urandom | (cd "$STAGE/warm/par" && split -b "${PAR_MB}M" -a "$PW" -d - p)
fi
[[ $(find "$STAGE/tree" -type f | wc -l) -eq $KEYS ]] || die "staging tree has the wrong number of files"
[[ $(find "$STAGE/par" -type f | wc -l) -eq $PAR ]] || die "staging par/ has the wrong number of files"

setup_copy() { # mnt
  local m=$1
  dd if="$SRC" of="$m/seqread.dat" bs=1M status=none || return 1
  mkdir "$m/par" "$m/tree" || return 1
  cp "$STAGE/par"/* "$m/par/" || return 1
  (cd "$STAGE/tree" && printf '%s\n' d*) | xargs -P 8 -I{} cp -r "$STAGE/tree/{}" "$m/tree/{}" || return 1
  if ((WARMUP)); then cp -r "$STAGE/warm" "$m/warm" || return 1; fi
}
log "writing the test data through $SETUP_CLIENT"
mount_client "$SETUP_CLIENT" setup || die "cannot mount $SETUP_CLIENT to write the test data: $MOUNT_ERR"
t0=$EPOCHREALTIME
guarded "$RUN_TIMEOUT" "$CUR_PID" setup_copy "$CUR_MNT" || { unmount_client; die "writing the test data through $SETUP_CLIENT failed (log $CUR_LOG)"; }
log "test data written through $SETUP_CLIENT in $(elapsed "$t0" "$EPOCHREALTIME") s"
unmount_client
cmp -s "$SRC" "$OBJ/seqread.dat" || die "the server's seqread.dat differs from the source (written through $SETUP_CLIENT)"
diff -rq "$STAGE/par" "$OBJ/par" >&2 || die "the server's par/ differs from the local copy (written through $SETUP_CLIENT)"
diff -rq "$STAGE/tree" "$OBJ/tree" >&2 || die "the server's tree/ differs from the local copy (written through $SETUP_CLIENT)"
if ((WARMUP)); then
  diff -rq "$STAGE/warm" "$OBJ/warm" >&2 || die "the server's warm/ differs from the local copy (written through $SETUP_CLIENT)"
fi
log "test data checked on the server's disk"

PAR_LIST="$WORK/par.list"
par_list() { # dir -> PAR_LIST: DIR/pNN (no readdir through the mount)
  local i
  for ((i = 0; i < PAR; i++)); do printf "%s/p%0${PW}d\0" "$1" "$i"; done >"$PAR_LIST"
}

# ---------------------------------------------------------------- check (read back through every client)
chk_seqread() { cmp -s "$SRC" "$1/seqread.dat"; }
chk_par() { diff -rq "$STAGE/par" "$1/par" >&2; }
chk_tree() {
  local n
  n=$(find "$1/tree" -type f | wc -l) || return 1
  [[ "$n" -eq "$KEYS" ]] || { log "find $1/tree: $n files, expected $KEYS"; return 1; }
  diff -rq "$STAGE/tree/d$(printf "%0${DW}d" 0)" "$1/tree/d$(printf "%0${DW}d" 0)" >&2
}
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
for c in $CLIENTS; do
  if [[ -n "${SKIP[$c]:-}" ]]; then continue; fi
  if ! mount_client "$c" check; then
    for w in $WORKLOADS; do NA[$c/$w]="mount failed: $MOUNT_ERR"; done
    continue
  fi
  MOUNT_OPTS[$c]=$(awk -v m="$CUR_MNT" '$2 == m { print $3, $4 }' /proc/mounts)
  if ((CHECK)); then
    log "$c: reading the test data back"
    if wants seqread && ! guarded "$RUN_TIMEOUT" "$CUR_PID" chk_seqread "$CUR_MNT"; then
      NA[$c/seqread]="check failed: seqread.dat read through $c differs from what was written"
    fi
    if wants par64 && ! guarded "$RUN_TIMEOUT" "$CUR_PID" chk_par "$CUR_MNT"; then
      NA[$c/par64]="check failed: par/ read through $c differs from what was written"
    fi
    if wants lsr && ! guarded "$RUN_TIMEOUT" "$CUR_PID" chk_tree "$CUR_MNT"; then
      NA[$c/lsr]="check failed: tree/ through $c has not the $KEYS keys written"
    fi
  fi
  unmount_client
done

# ---------------------------------------------------------------- workloads
# Each w_* runs in the foreground (under guarded) and leaves "t0 t1" (EPOCHREALTIME) in $WORK/elapsed.
timed() { # err out cmd...: cmd with its stdout to out and stderr to err, timed right around it
  local err=$1 out=$2 t0 t1 rc=0
  shift 2
  t0=$EPOCHREALTIME
  "$@" >"$out" 2>"$err" || rc=$?
  t1=$EPOCHREALTIME
  echo "$t0 $t1" >"$WORK/elapsed"
  return "$rc"
}
w_seqwrite() { timed "$WORK/dd.err" /dev/null dd if="$SRC" of="$1/$2" bs=1M; }   # mnt key
w_seqread() { timed "$WORK/dd.err" /dev/null dd if="$1/seqread.dat" of=/dev/null bs=1M; }   # mnt
w_lsr() { timed "$WORK/lsr.err" "$WORK/lsr.out" ls -lR "$1/tree"; }   # mnt
w_par64() { timed "$WORK/par.err" /dev/null xargs -0 -a "$PAR_LIST" -P "$PAR" -n 1 cat; }   # (PAR_LIST)
warm_client() { # workload mnt: the unmeasured warm-up pass of WARMUP=1, on warm/
  local rc=0
  case "$1" in
    seqwrite) dd if="$SRC" of="$2/warm-write.dat" bs=1M count="$WARM_MB" status=none || rc=$? ;;
    seqread) dd if="$2/warm/seq.dat" of=/dev/null bs=1M status=none || rc=$? ;;
    lsr) ls -lR "$2/warm/tree" >/dev/null || rc=$? ;;
    par64) par_list "$2/warm/par"; xargs -0 -P "$PAR" -n 1 cat <"$PAR_LIST" >/dev/null || rc=$? ;;
  esac
  return "$rc"
}
warm_server() { # workload: the objects the run reads into the page cache (server side, not timed)
  [[ "$SERVER_CACHE" == warm ]] || return 0
  case "$1" in
    seqread) cat "$OBJ/seqread.dat" >/dev/null ;;
    par64) cat "$OBJ/par"/* >/dev/null ;;
    lsr) ls -lR "$OBJ/tree" >/dev/null ;;
  esac
}

declare -A UNIT=([seqwrite]="MiB/s" [seqread]="MiB/s" [lsr]="s" [par64]="s")
# measure CLIENT WORKLOAD ROUND: one measured run on a fresh mount. Sets SECS and VAL, or FAIL.
measure() {
  local c=$1 w=$2 r=$3 mnt key rc=0 b n t0 t1
  SECS='' VAL='' FAIL=''
  mount_client "$c" "r$r-$w" || { FAIL="mount failed: $MOUNT_ERR"; return 1; }
  mnt=$CUR_MNT
  key="seqwrite-$c-r$r.dat"
  if ((WARMUP)); then
    if ! guarded "$RUN_TIMEOUT" "$CUR_PID" warm_client "$w" "$mnt"; then
      FAIL="warm-up pass failed in round $r"
      unmount_client
      rm -f "$OBJ/warm-write.dat"
      return 1
    fi
    rm -f "$OBJ/warm-write.dat"   # the client may remember it; nothing measured reads it
  fi
  [[ "$w" == par64 ]] && par_list "$mnt/par"
  drop_caches
  [[ "$w" == seqwrite ]] && cat "$SRC" >/dev/null   # the local source from memory for everyone
  warm_server "$w"
  sleep "$SETTLE"
  guarded "$RUN_TIMEOUT" "$CUR_PID" "w_$w" "$mnt" "$key" || rc=$?
  if ((rc == 124)); then
    FAIL="no answer within ${RUN_TIMEOUT}s in round $r (client killed)"
  elif ((rc != 0)); then
    FAIL="failed in round $r (exit $rc): $(cat "$WORK/dd.err" "$WORK/lsr.err" "$WORK/par.err" 2>/dev/null | grep -v -e 'records in' -e 'records out' -e ' copied' | head -n 2 | tr '\n' ' ' || true)"
  else
    read -r t0 t1 <"$WORK/elapsed"
    SECS=$(elapsed "$t0" "$t1")
    case "$w" in
      seqwrite|seqread)
        b=$(dd_bytes "$WORK/dd.err")
        if ((b != FILE_MB * 1048576)); then
          FAIL="dd copied $b bytes, not $((FILE_MB * 1048576)), in round $r"
        else
          VAL=$(awk -v s="$SECS" -v m="$FILE_MB" 'BEGIN { printf "%.3f", m / s }')
        fi ;;
      lsr)
        n=$(grep -c '^-' "$WORK/lsr.out" || true)
        if ((n != KEYS)); then FAIL="ls -lR listed $n files, not $KEYS, in round $r"; else VAL=$SECS; fi ;;
      par64) VAL=$SECS ;;
    esac
  fi
  # Once close() has returned, the whole object must be on the server (compared before unmounting).
  if [[ "$w" == seqwrite && -z "$FAIL" ]] && ! cmp -s "$SRC" "$OBJ/$key"; then
    FAIL="when close() returned, the object on the server was not the file written (round $r: $(stat -c %s "$OBJ/$key" 2>/dev/null || echo missing) bytes)"
  fi
  unmount_client
  [[ "$w" == seqwrite ]] && rm -f "$OBJ/$key"
  rm -f "$WORK/dd.err" "$WORK/lsr.err" "$WORK/par.err" "$WORK/lsr.out" "$WORK/elapsed"
  [[ -z "$FAIL" ]]
}

# ---------------------------------------------------------------- header
BUSY=$(busy_percent)
((BUSY > 10)) && log "WARNING: the machine was ${BUSY}% busy in the second before measuring: other processes will skew the numbers"
version_of() {
  case "$1" in
    rf) echo "reactor-fuse samples jar $(date -u -r "$JAR_SRC" +%Y-%m-%dT%H:%MZ), sha256 $(sha256sum "$JAR" | cut -c1-12)" ;;
    s3fs) s3fs --version 2>&1 | head -n 1 | sed 's/Amazon Simple Storage Service File System //' ;;
    rclone) rclone version 2>/dev/null | head -n 1 ;;
  esac
}
declare -A VER   # client -> version string
for c in $CLIENTS; do
  if [[ -n "${SKIP[$c]:-}" ]]; then VER[$c]="$c not installed"; else VER[$c]=$(version_of "$c" || true); fi
done
HDR="$RESDIR/header.md"
{
  echo "# s3-bench ($MODE mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) CPUs ($(lscpu 2>/dev/null | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); loadavg before measuring $(cut -d' ' -f1-3 /proc/loadavg), ${BUSY}% busy in the second before; nothing pinned"
  echo "- versions: s3fs ${VER[s3fs]:-not used}; ${VER[rclone]:-rclone not used}; $(java -version 2>&1 | head -n 1); ${VER[rf]}"
  echo "- server: the samples jar's \`s3server\` (s3proxy, objects as files under \`$DATA\`, on $(df --output=fstype "$WORK" 2>/dev/null | tail -n 1)), $URL, bucket \`$BUCKET\`, one server for the whole run; JVM options: \`${SERVER_JAVA_OPTS:-none}\`"
  echo "- every measured run: a fresh mount of the client (started, mounted, unmounted after the run), then \`sync; echo 3 > /proc/sys/vm/drop_caches\`, then (SERVER_CACHE=$SERVER_CACHE) $(if [[ "$SERVER_CACHE" == warm ]]; then echo "the objects the run reads read from the server's disk into the page cache"; else echo "no warming of the server's files"; fi), ${SETTLE} s pause, the timed command"
  if ((WARMUP)); then
    echo "- WARMUP=1: between mounting and drop_caches, every client did the run's workload once, unmeasured, on other keys (warm/: $WARM_MB MiB object, $((2 * KEYS_PER_DIR)) keys, $PAR objects): reactor-fuse's JVM is warm"
  else
    echo "- WARMUP=0: every measured run is the first work of a new client process (for reactor-fuse a new JVM: its JIT warm-up is inside the measured time)"
  fi
  echo "- rounds $ROUNDS; in each round and workload the clients run in the order: $CLIENTS"
  echo "- test data written once through \`$SETUP_CLIENT\` ($FILE_MB MiB seqread.dat, $KEYS keys of $KEY_BYTES bytes in $NDIRS directories, $PAR objects of $PAR_MB MiB), checked on the server's disk$( ((CHECK)) && echo ", then read back through every client")"
  echo "- clients (\`K\`, \`S\`: the run's random access and secret keys; \`MNT\`: the client's mount point; all run under \`env -u AWS_CA_BUNDLE -u AWS_ACCESS_KEY_ID ... -u http_proxy ...\`):"
  echo
  echo "| client | command | mount (/proc/mounts) |"
  echo "|---|---|---|"
  for c in $CLIENTS; do
    echo "| ${LABEL[$c]} | \`$(md_cell "$(shown_cmd "$c")")\` | ${MOUNT_OPTS[$c]:-} |"
  done
  echo
  echo "rclone runs with \`--vfs-cache-mode off\`: close() returns only after the upload (with a VFS cache it would upload after close()); s3fs has no \`use_cache\` (it keeps a file being written in a temporary file and uploads it at flush/close); reactor-fuse uploads at close. Every other option is each client's default."
} >"$HDR"
cat "$HDR" >&2

# ---------------------------------------------------------------- measure
declare -A SEC   # workload/client -> seconds of every run
declare -A RES   # workload/client -> value of every run (MiB/s or s)
for ((round = 1; round <= ROUNDS; round++)); do
  for w in $WORKLOADS; do
    for c in $CLIENTS; do
      [[ -z "${NA[$c/$w]:-}" ]] || continue
      if measure "$c" "$w" "$round"; then
        SEC[$w/$c]="${SEC[$w/$c]:-} $SECS"
        RES[$w/$c]="${RES[$w/$c]:-} $VAL"
        case "$w" in
          seqwrite|seqread) line=$(printf '%8.3f s  %8.1f MiB/s' "$SECS" "$VAL") ;;
          par64) line=$(printf '%8.3f s  %8.1f MiB/s' "$SECS" "$(awk -v s="$SECS" -v m="$((PAR * PAR_MB))" 'BEGIN { print m / s }')") ;;
          *) line=$(printf '%8.3f s' "$SECS") ;;
        esac
        note "$(printf 'round %d  %-9s %-7s %s' "$round" "$w" "$c" "$line")"
        printf '%d\t%s\t%s\t%s\t%s\t%s\n' "$round" "$w" "$c" "$SECS" "$VAL" "${UNIT[$w]}" >>"$RESDIR/runs.tsv"
      else
        NA[$c/$w]=$FAIL
        note "round $round  $w  $c: n/a ($FAIL)"
      fi
    done
  done
done

# ---------------------------------------------------------------- report
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { awk -v x="$1" 'BEGIN { if (x >= 100) printf "%.0f", x; else if (x >= 10) printf "%.1f", x; else printf "%.2f", x }'; }
mm() { local lo hi; read -r lo hi < <(tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }'); echo "$(fmt "$lo")–$(fmt "$hi")"; }
mibs() { local s out=; for s in $1; do out+=" $(awk -v s="$s" -v m="$((PAR * PAR_MB))" 'BEGIN { printf "%.3f", m / s }')"; done; echo "$out"; }
cell() { # values -> "median (min–max)" or the n/a reason
  if [[ -n "$2" ]]; then echo "n/a ($(md_cell "$2"))"; else echo "$(fmt "$(median <<<"$1")") ($(mm <<<"$1"))"; fi
}
ratio() { # rf-values other-values higher-is-better(1/0) -> ratio of medians, >1 = rf faster
  local a b
  [[ -n "$1" && -n "$2" ]] || { echo "n/a"; return; }
  a=$(median <<<"$1"); b=$(median <<<"$2")
  if [[ "$3" == 1 ]]; then awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
  else awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }'; fi
}
declare -A TITLE=(
  [seqwrite]="seqwrite: \`dd bs=1M\` of a ${FILE_MB} MiB local file to a new key, until close() returns"
  [seqread]="seqread: \`dd of=/dev/null bs=1M\` of a ${FILE_MB} MiB object"
  [lsr]="lsr: \`ls -lR\` of ${KEYS} keys (${NDIRS} dirs × ${KEYS_PER_DIR})"
  [par64]="par64: ${PAR} parallel \`cat\` of ${PAR} objects of ${PAR_MB} MiB")
LOG_PATTERN=' (WARN|ERROR) |\[(ERR|WAN|CRT)\]|Exception in thread'
log_hits() { # files -> matching lines in those that exist, or - if none exists
  local f n=0 any=0 k
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    any=1
    k=$(grep -Ec "$LOG_PATTERN" "$f" || true)
    n=$((n + k))
  done
  if ((any)); then echo "$n"; else echo "-"; fi
}
declare -A BETTER=([seqwrite]=1 [seqread]=1 [lsr]=0 [par64]=0)
OTHERS=()
for c in $CLIENTS; do [[ "$c" == rf ]] || OTHERS+=("$c"); done
MD="$RESDIR/results.md"
{
  cat "$HDR"
  echo
  echo "## Results: median (min–max) of $ROUNDS runs"
  echo
  hdr="| workload | unit |"; sep="|---|---|"
  for c in $CLIENTS; do hdr+=" ${LABEL[$c]} |"; sep+="---:|"; done
  for c in "${OTHERS[@]}"; do hdr+=" **rf / $c** (>1 = reactor-fuse faster) |"; sep+="---:|"; done
  echo "$hdr"; echo "$sep"
  for w in $WORKLOADS; do
    if [[ ${BETTER[$w]} == 1 ]]; then row="| ${TITLE[$w]} | ${UNIT[$w]} |"; else row="| ${TITLE[$w]} | ${UNIT[$w]}, lower is better |"; fi
    for c in $CLIENTS; do row+=" $(cell "${RES[$w/$c]:-}" "${NA[$c/$w]:-}") |"; done
    for c in "${OTHERS[@]}"; do
      if [[ -n "${NA[rf/$w]:-}" || -n "${NA[$c/$w]:-}" ]]; then row+=" n/a |"
      else row+=" $(ratio "${RES[$w/rf]:-}" "${RES[$w/$c]:-}" "${BETTER[$w]}") |"; fi
    done
    echo "$row"
    if [[ "$w" == par64 ]]; then   # the same runs as throughput
      row="| par64 as throughput ($((PAR * PAR_MB)) MiB per run) | MiB/s |"
      for c in $CLIENTS; do
        if [[ -n "${NA[$c/$w]:-}" ]]; then row+=" n/a |"; else row+=" $(cell "$(mibs "${RES[$w/$c]:-}")" "") |"; fi
      done
      for c in "${OTHERS[@]}"; do
        if [[ -n "${NA[rf/$w]:-}" || -n "${NA[$c/$w]:-}" ]]; then row+=" n/a |"
        else row+=" $(ratio "$(mibs "${RES[$w/rf]:-}")" "$(mibs "${RES[$w/$c]:-}")" 1) |"; fi
      done
      echo "$row"
    fi
  done
  echo
  echo "Ratios are ratios of medians: for MiB/s reactor-fuse / other, for seconds other / reactor-fuse, so above 1 always means reactor-fuse was faster."
  echo
  echo "## Every run (seconds)"
  echo
  echo "| workload | client | seconds, round 1..$ROUNDS |"
  echo "|---|---|---|"
  for w in $WORKLOADS; do
    for c in $CLIENTS; do
      runs=''
      for x in ${SEC[$w/$c]:-}; do runs+="${runs:+ }$(awk -v x="$x" 'BEGIN { printf "%.3f", x }')"; done
      if [[ -n "${NA[$c/$w]:-}" ]]; then runs+="${runs:+; }n/a ($(md_cell "${NA[$c/$w]}"))"; fi
      echo "| $w | ${LABEL[$c]} | $runs |"
    done
  done
  echo
  echo "## Client logs"
  echo
  echo "Lines matching \`$LOG_PATTERN\` in each client's logs (\`logs/\`: setup, check and every measured run):"
  echo
  echo "| client | setup | check | measured runs |"
  echo "|---|---:|---:|---:|"
  for c in $CLIENTS; do
    echo "| ${LABEL[$c]} | $(log_hits "$LOGS/$c-setup.log") | $(log_hits "$LOGS/$c-check.log") | $(log_hits "$LOGS/$c-r"*.log) |"
  done
} >"$MD"

# The server: TERM by its PID, bounded wait (the EXIT trap would do the same, after 5 s of waiting).
kill -TERM "$SERVER_PID" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
forget_pid "$SERVER_PID"

cat "$MD"
log "results in $RESDIR"
exit 0
