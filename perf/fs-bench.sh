#!/usr/bin/env bash
# File-system workloads through reactor-fuse's passthrough sample, libfuse's passthrough_ll and
# ext4 itself (plus reactor-fuse's memfs where it makes sense), all in one run, contenders
# alternating (A B C A B C), medians and min-max, a Markdown table with ratios and a PNG chart.
#
# Usage (as root, from anywhere, after `mvn -B -q package -DskipTests`):
#   perf/fs-bench.sh            full run  (1 GiB files, 10k/20k/5k files, 1 and 2 threads; ~15 min)
#   perf/fs-bench.sh --quick    quick run (256 MiB, 2k/5k/1k files, 1 thread only; < 5 min)
# Results: perf/results/<UTC timestamp>[-quick]/ (results.md, ratios.png, runs.tsv, runs.log,
# daemon logs); results.md also goes to stdout. See perf/README.md ("File-system workloads").
#
# Contenders (every FUSE daemon mirrors its own fresh directory under NATIVE_BASE, ext4 here):
#   ext4          a directory under NATIVE_BASE, no FUSE
#   rf-tN         java -jar reactor-fuse-samples.jar passthrough --threads N --cache auto SRC MNT
#   rf-tN-pt      the same with --passthrough (kernel passthrough I/O for regular files)
#   lf-s          passthrough_ll -f -s -o cache=auto [-o default_permissions] -o source=SRC MNT
#                 (single-threaded: the partner of rf-t1)
#   lf-mt         the same without -s: libfuse's multi-threaded loop (threads on demand, up to
#                 10 idle ones; NOT "2 threads"): the partner of rf-tN, N >= 2
#   memfs         reactor-fuse's memfs --timeout 1 (metadata loop only: framework cost, no syscalls)
#   *-never, memfs-t0   the stat() loop only: the same daemons with timeouts 0 (--cache never /
#                 -o cache=never / memfs --timeout 0), so every stat() is a round trip
#
# Environment (defaults: full / --quick):
#   ROUNDS=3                 measured runs of every contender in every workload
#   FILE_MB=1024 / 256       fio file size (sequential write, sequential read, random read)
#   RAND_SECONDS=10 / 5      fio random-read run time (4 KiB, 2 jobs, psync)
#   META_FILES=10000 / 2000  meta-loop: create + stat + unlink of that many files
#   FIND_FILES=20000 / 5000  files in the tree `find` walks after drop_caches
#   TAR_FILES=5000 / 1000    2 KiB files in the tarball `tar -x` extracts
#   STAT_SECONDS=3           stat-loop measured seconds (after WARMUP=2 / 1 unmeasured; full / quick)
#   THREADS="1 2" / "1"      reactor-fuse --threads values (1 -> vs lf-s, 2 -> vs lf-mt)
#   PASSTHROUGH="0 1"        also measure --passthrough ("0" = without only)
#   LIBFUSE_XATTR=0          1: passthrough_ll -o xattr, like the reactor-fuse sample (which always
#                            serves xattrs); without it passthrough_ll answers ENOSYS and the kernel
#                            stops sending the security.capability GETXATTR it sends before writes
#   SCHEDULERS="none"        reactor-fuse --scheduler values; "none boundedElastic" adds rf-tN-be:
#                            the same daemon with handlers on Reactor's boundedElastic scheduler
#                            (blocking syscalls off the event loop) instead of inline
#   WORKLOADS="seqwrite seqread randread meta find tar stat"
#   CLIENT_CPU=0             every client (fio, meta-loop, find, tar, stat-loop) pinned here
#   DAEMON_CPUS=1            every daemon, all threads, pinned here (taskset -c list; "" = not pinned)
#   READ_CACHE=warm          warm: seqread/randread read a file whose source is in the page cache;
#                            cold: drop_caches before each read run (disk speed for everyone)
#   INITIAL_WARMUP=1         one unmeasured pass of small workloads per contender before round 1
#   JAVA_OPTS, NATIVE_BASE=/var/tmp, MOUNT_TIMEOUT=30, LIBFUSE_DEFAULT_PERMISSIONS: as stat-bench.sh
#   RESULTS_DIR=perf/results/<timestamp>
set -euo pipefail
BENCH=fs-bench
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$BENCH: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=perf/stat-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stat-common.sh"   # build, lock, cleanup trap, daemons, medians

if ((QUICK)); then
  MODE=quick
  FILE_MB=${FILE_MB:-256}; RAND_SECONDS=${RAND_SECONDS:-5}; META_FILES=${META_FILES:-2000}
  FIND_FILES=${FIND_FILES:-5000}; TAR_FILES=${TAR_FILES:-1000}; STAT_SECONDS=${STAT_SECONDS:-3}
  THREADS=${THREADS:-1}; WARMUP=$(printenv WARMUP || echo 1)
else
  MODE=full
  FILE_MB=${FILE_MB:-1024}; RAND_SECONDS=${RAND_SECONDS:-10}; META_FILES=${META_FILES:-10000}
  FIND_FILES=${FIND_FILES:-20000}; TAR_FILES=${TAR_FILES:-5000}; STAT_SECONDS=${STAT_SECONDS:-3}
  THREADS=${THREADS:-1 2}
fi
PASSTHROUGH=${PASSTHROUGH:-0 1}
SCHEDULERS=${SCHEDULERS:-none}
LIBFUSE_XATTR=${LIBFUSE_XATTR:-0}
WORKLOADS=${WORKLOADS:-seqwrite seqread randread meta find tar stat}
CLIENT_CPU=${CLIENT_CPU:-0}
DAEMON_CPUS=${DAEMON_CPUS-1}
READ_CACHE=${READ_CACHE:-warm}
INITIAL_WARMUP=$(printenv INITIAL_WARMUP || echo 1)
check_common_params
for v in FILE_MB RAND_SECONDS META_FILES FIND_FILES TAR_FILES STAT_SECONDS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
for t in $THREADS; do [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "THREADS must list positive integers, got '$THREADS'"; done
for p in $PASSTHROUGH; do [[ "$p" == 0 || "$p" == 1 ]] || die "PASSTHROUGH must list 0 and/or 1, got '$PASSTHROUGH'"; done
for w in $WORKLOADS; do
  case "$w" in seqwrite|seqread|randread|meta|find|tar|stat) ;; *) die "unknown workload '$w'" ;; esac
done
[[ "$READ_CACHE" == warm || "$READ_CACHE" == cold ]] || die "READ_CACHE must be warm or cold"
has_workload() { [[ " $WORKLOADS " == *" $1 "* ]]; }
if has_workload seqread || has_workload randread; then
  has_workload seqwrite || die "seqread and randread read the file seqwrite writes: keep seqwrite in WORKLOADS"
fi

# ---------------------------------------------------------------- preconditions
check_preconditions
[[ $EUID -eq 0 ]] || die "run as root (mounts, drop_caches, --passthrough)"
command -v fio >/dev/null || die "fio not found: install it with  apt-get install fio"
for tool in tar find split xargs date; do command -v "$tool" >/dev/null || die "'$tool' not found on PATH"; done
CHART=1
if ! command -v gnuplot >/dev/null; then
  CHART=0
  log "gnuplot not found: writing the table only, no chart (apt-get install gnuplot-nox for ratios.png)"
fi
check_cpu "$CLIENT_CPU"
for c in ${DAEMON_CPUS//,/ }; do for x in ${c//-/ }; do check_cpu "$x"; done; done
take_lock
# passthrough_ll keeps one O_PATH fd open per inode the kernel knows (until FORGET), so the find tree
# + tar + stat targets can exceed the fd limit (tar then fails with EMFILE). The JVM raises its own
# soft limit to the hard one anyway; give every daemon (and client) the highest limit we may
# (raising the hard limit needs CAP_SYS_RESOURCE), and drop_caches after find and before tar so
# the kernel FORGETs inodes from earlier workloads.
NOFILE=${NOFILE:-1048576}
ulimit -Hn "$NOFILE" 2>/dev/null || true
ulimit -Sn "$NOFILE" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" || true
log "open files limit (ulimit -n) for every daemon and client: $(ulimit -Sn)"

# ---------------------------------------------------------------- build
build_tools memfs
gcc -O2 -Wall -Wextra -o "$BUILD/meta-loop" "$PERF_DIR/meta-loop.c"
META_LOOP="$BUILD/meta-loop"
timeout 30 java -jar "$JAR" passthrough --help >/dev/null 2>&1 \
  || die "$JAR_SRC has no passthrough command (java -jar $JAR_SRC passthrough --help fails)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
SUFFIX=; ((QUICK)) && SUFFIX=-quick
RESDIR=${RESULTS_DIR:-"$PERF_DIR/results/$STAMP$SUFFIX"}
mkdir -p "$RESDIR"
RUNLOG="$RESDIR/runs.log"
: >"$RUNLOG"
printf 'round\tworkload\tcontender\tvalue\tunit\n' >"$RESDIR/runs.tsv"
note() { echo "$*" | tee -a "$RUNLOG" >&2; }

# ---------------------------------------------------------------- contenders
declare -A ROOT      # contender -> directory the workloads run in (mount point or ext4 dir)
declare -A PARTNER   # reactor-fuse contender -> libfuse contender it is compared with
declare -A SERIES    # reactor-fuse contender -> label in the chart (stat's *-never fold into rf-tN)
declare -A DESC      # contender -> command line
MAIN=()              # contenders of seqwrite seqread randread find tar (meta adds memfs)
STATC=()             # contenders of stat
RF_SERIES=()         # chart series, in order

# Not called in $(...): the cleanup trap only knows what is added to TMPDIRS / MOUNTS in the main shell.
tmp_src() { SRCDIR=$(mktemp -d "$NATIVE_BASE/fs-bench-$1.XXXXXX"); TMPDIRS+=("$SRCDIR"); }
tmp_mnt() { MNTDIR=$(mktemp -d "/tmp/fs-bench-$1.XXXXXX"); MOUNTS+=("$MNTDIR"); }

make_find_tree() { # dir: FIND_FILES empty files, 200 per subdirectory
  local dir=$1/find-tree i per=200 left=$FIND_FILES n
  mkdir "$dir"
  for ((i = 0; left > 0; i++)); do
    n=$((left < per ? left : per))
    mkdir "$dir/d$i"
    (cd "$dir/d$i" && seq -f 'f%04g' 1 "$n" | xargs touch)
    left=$((left - n))
  done
}

# fio, find and tar need a prepared source; the stat loop needs a file it may stat.
prepare_src() { # src
  if has_workload find; then make_find_tree "$1"; fi
}

mount_rf() { # name src cache threads passthrough(0/1) [scheduler]
  local name=$1 src=$2 cache=$3 t=$4 pt=$5 sched=${6:-none} mnt args
  tmp_mnt "$name"; mnt=$MNTDIR
  args=(passthrough --threads "$t" --cache "$cache")
  ((pt)) && args+=(--passthrough)
  [[ $sched == none ]] || args+=(--scheduler "$sched")
  # shellcheck disable=SC2086
  start_daemon "$name" "$RESDIR/$name.log" "$DAEMON_CPUS" java $JAVA_OPTS -jar "$JAR" "${args[@]}" "$src" "$mnt"
  wait_mount "$name" "$mnt" "$LAST_PID" "$RESDIR/$name.log"
  ROOT[$name]=$mnt
  DESC[$name]="reactor-fuse ${args[*]} SRC MNT"
}
mount_memfs() { # name timeout
  local name=$1 mnt
  tmp_mnt "$name"; mnt=$MNTDIR
  # shellcheck disable=SC2086
  start_daemon "$name" "$RESDIR/$name.log" "$DAEMON_CPUS" java $JAVA_OPTS -jar "$JAR" memfs --threads 1 --timeout "$2" "$mnt"
  wait_mount "$name" "$mnt" "$LAST_PID" "$RESDIR/$name.log"
  ROOT[$name]=$mnt
  DESC[$name]="reactor-fuse memfs --threads 1 --timeout $2 MNT"
}
mount_lf() { # name src cache mode(s|mt)
  local name=$1 src=$2 cache=$3 mode=$4 mnt extra=()
  tmp_mnt "$name"; mnt=$MNTDIR
  [[ $mode == s ]] && extra=(-s)
  [[ $LIBFUSE_XATTR == 1 ]] && extra+=(-o xattr)
  start_daemon "$name" "$RESDIR/$name.log" "$DAEMON_CPUS" \
    "$BUILD/passthrough_ll" -f "${extra[@]}" -o "cache=$cache" "${LIBFUSE_OPTS[@]}" -o "source=$src" "$mnt"
  wait_mount "$name" "$mnt" "$LAST_PID" "$RESDIR/$name.log"
  ROOT[$name]=$mnt
  DESC[$name]="passthrough_ll -f ${extra[*]:+${extra[*]} }-o cache=$cache ${LIBFUSE_OPTS[*]:+${LIBFUSE_OPTS[*]} }-o source=SRC MNT"
}

log "preparing sources and mounting ($MODE mode)"
tmp_src ext4; NATIVE=$SRCDIR
prepare_src "$NATIVE"
ROOT[ext4]=$NATIVE
NATIVE_FS_DESC=$(native_fs_desc "$NATIVE")
DESC[ext4]="no FUSE: $NATIVE_FS_DESC"
MAIN+=(ext4); STATC+=(ext4)
first_rf=
sched_suffix() { case $1 in none) echo "" ;; boundedElastic) echo -be ;; *) echo "-$1" ;; esac; }
for t in $THREADS; do
  for pt in $PASSTHROUGH; do
   for sched in $SCHEDULERS; do
    name=rf-t$t; ((pt)) && name+=-pt; name+=$(sched_suffix "$sched")
    tmp_src "$name"; src=$SRCDIR; prepare_src "$src"
    mount_rf "$name" "$src" auto "$t" "$pt" "$sched"
    [[ -n "$first_rf" ]] || first_rf=$name
    MAIN+=("$name"); SERIES[$name]=$name; RF_SERIES+=("$name")
    if ((pt)); then
      # the sample falls back to ordinary I/O with one warning if the kernel refuses passthrough
      if grep -qi passthrough "$RESDIR/$name.log"; then
        log "WARNING: $name's log mentions passthrough: $(grep -i passthrough "$RESDIR/$name.log" | head -n 1)"
      fi
    fi
   done
  done
done
[[ -n "$first_rf" ]] || die "no reactor-fuse contender (THREADS/PASSTHROUGH empty?)"
libfuse_opts_like "${ROOT[$first_rf]}"   # same default_permissions as the reactor-fuse mount
LF_NAMES=()
for t in $THREADS; do
  if ((t == 1)); then lf=lf-s; else lf=lf-mt; fi
  for pt in $PASSTHROUGH; do
    for sched in $SCHEDULERS; do
      name=rf-t$t; ((pt)) && name+=-pt; name+=$(sched_suffix "$sched"); PARTNER[$name]=$lf
    done
  done
  [[ " ${LF_NAMES[*]} " == *" $lf "* ]] && continue
  LF_NAMES+=("$lf")
  tmp_src "$lf"; src=$SRCDIR; prepare_src "$src"
  mount_lf "$lf" "$src" auto "${lf#lf-}"
  MAIN+=("$lf")
done
META_EXTRA=()
if has_workload meta; then
  mount_memfs memfs 1
  PARTNER[memfs]=lf-s; SERIES[memfs]=memfs; META_EXTRA=(memfs)
  [[ " ${LF_NAMES[*]} " == *" lf-s "* ]] || PARTNER[memfs]=${LF_NAMES[0]}
fi
if has_workload stat; then
  for t in $THREADS; do
    name=rf-t$t-never
    tmp_src "$name"; mount_rf "$name" "$SRCDIR" never "$t" 0
    STATC+=("$name"); SERIES[$name]=rf-t$t
  done
  for lf in "${LF_NAMES[@]}"; do
    tmp_src "$lf-never"; mount_lf "$lf-never" "$SRCDIR" never "${lf#lf-}"
    STATC+=("$lf-never")
  done
  for t in $THREADS; do if ((t == 1)); then PARTNER[rf-t$t-never]=lf-s-never; else PARTNER[rf-t$t-never]=lf-mt-never; fi; done
  mount_memfs memfs-t0 0
  STATC+=(memfs-t0); SERIES[memfs-t0]=memfs; PARTNER[memfs-t0]=${PARTNER[memfs]:-lf-s}-never
  [[ -n "${ROOT[${PARTNER[memfs-t0]}]:-}" ]] || PARTNER[memfs-t0]=${LF_NAMES[0]}-never
  for n in "${STATC[@]}"; do create_file "$n" "${ROOT[$n]}/stat-target"; done
fi
if has_workload meta || has_workload stat; then RF_SERIES+=(memfs); fi

if has_workload tar; then
  tmp_src tarball; TARSRC=$SRCDIR
  per=100 left=$TAR_FILES
  for ((i = 0; left > 0; i++)); do
    n=$((left < per ? left : per)); mkdir "$TARSRC/tree/d$i" -p
    head -c $((n * 2048)) /dev/urandom | (cd "$TARSRC/tree/d$i" && split -b 2048 -a 3 -d - f)
    left=$((left - n))
  done
  TARBALL="$TARSRC/tree.tar"
  tar -cf "$TARBALL" -C "$TARSRC/tree" .
  rm -rf "$TARSRC/tree"
fi

# ---------------------------------------------------------------- workloads
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now_ns() { date +%s%N; }
rate_since() { awk -v n="$1" -v t0="$2" -v t1="$(now_ns)" 'BEGIN { printf "%.1f", n / ((t1 - t0) / 1e9) }'; }
client() { taskset -c "$CLIENT_CPU" "$@"; }
FIO_COMMON=(--ioengine=psync --fallocate=none --invalidate=0 --minimal)
fio_field() { awk -F';' -v f="$1" 'NR == 1 { print $f }'; }   # terse v3: 7 read KiB/s, 8 read IOPS, 48 write KiB/s

declare -A UNIT=([seqwrite]="MiB/s" [seqread]="MiB/s" [randread]="IOPS" [meta]="files/s"
                 [find]="files/s" [tar]="files/s" [stat]="stat/s")
declare -A TITLE=(
  [seqwrite]="fio sequential write, 1 MiB blocks, ${FILE_MB} MiB file (new file, no fsync; sync after, untimed)"
  [seqread]="fio sequential read, 1 MiB blocks, ${FILE_MB} MiB file ($READ_CACHE source page cache)"
  [randread]="fio random read, 4 KiB, 2 jobs, ${RAND_SECONDS} s, same file ($READ_CACHE source page cache)"
  [meta]="meta-loop: create + stat + unlink of ${META_FILES} files in one directory"
  [find]="find over ${FIND_FILES} files (200 per directory) after drop_caches"
  [tar]="tar -x of ${TAR_FILES} files of 2 KiB (100 per directory)"
  [stat]="stat() of one file, timeouts 0 (*-never mounts, memfs --timeout 0), ${STAT_SECONDS} s after ${WARMUP} s warm-up")
contenders_of() { # workload -> names
  case "$1" in
    meta) echo "${MAIN[*]} ${META_EXTRA[*]}" ;;
    stat) echo "${STATC[*]}" ;;
    *) echo "${MAIN[*]}" ;;
  esac
}

run_workload() { # workload name [warm-up: 1] -> prints the value
  local w=$1 n=$2 small=${3:-0} d=${ROOT[$2]} out t0 limit=600 mb=$FILE_MB files
  ((small)) && mb=32
  case "$w" in
    seqwrite)
      guarded "$n" 60 rm -f "$d/fio.dat"
      out=$(guarded "$n" "$limit" client fio --name=seqwrite --filename="$d/fio.dat" --rw=write --bs=1M \
              --size="${mb}M" "${FIO_COMMON[@]}") || die "$n: fio seqwrite failed"
      guarded "$n" "$limit" sync
      fio_field 48 <<<"$out" | awk '{ printf "%.1f", $1 / 1024 }' ;;
    seqread)
      [[ $READ_CACHE == cold ]] && drop_caches
      out=$(guarded "$n" "$limit" client fio --name=seqread --filename="$d/fio.dat" --rw=read --bs=1M \
              --size="${mb}M" "${FIO_COMMON[@]}") || die "$n: fio seqread failed"
      fio_field 7 <<<"$out" | awk '{ printf "%.1f", $1 / 1024 }' ;;
    randread)
      [[ $READ_CACHE == cold ]] && drop_caches
      local secs=$RAND_SECONDS; ((small)) && secs=1
      out=$(guarded "$n" "$(limit_for "$secs")" client fio --name=randread --filename="$d/fio.dat" --rw=randread \
              --bs=4k --size="${mb}M" --numjobs=2 --group_reporting --time_based --runtime="${secs}s" \
              "${FIO_COMMON[@]}") || die "$n: fio randread failed"
      guarded "$n" 60 rm -f "$d/fio.dat"
      fio_field 8 <<<"$out" ;;
    meta)
      files=$META_FILES; ((small)) && files=500
      guarded "$n" 30 mkdir "$d/meta" || die "$n: cannot mkdir $d/meta"
      out=$(guarded "$n" "$limit" client "$META_LOOP" "$d/meta" "$files") || die "$n: meta-loop failed"
      guarded "$n" 30 rmdir "$d/meta" || die "$n: cannot rmdir $d/meta"
      echo "meta: $out" >>"$RUNLOG"
      awk '{ print $7 }' <<<"$out" ;;
    find)
      drop_caches
      t0=$(now_ns)
      guarded "$n" "$limit" client find "$d/find-tree" >/dev/null || die "$n: find failed"
      rate_since "$FIND_FILES" "$t0"
      drop_caches ;;   # the kernel FORGETs the tree's inodes: passthrough_ll closes their fds
    tar)
      drop_caches   # not timed: no inodes (and passthrough_ll fds) left over from earlier workloads
      guarded "$n" 30 mkdir "$d/tar" || die "$n: cannot mkdir $d/tar"
      cat "$TARBALL" >/dev/null   # the tarball itself from the page cache for everyone
      t0=$(now_ns)
      guarded "$n" "$limit" client tar -xf "$TARBALL" -C "$d/tar" || die "$n: tar -x failed"
      rate_since "$TAR_FILES" "$t0"
      guarded "$n" "$limit" rm -rf "$d/tar" || die "$n: cannot remove $d/tar"
      guarded "$n" "$limit" sync ;;
    stat)
      local secs=$STAT_SECONDS; ((small)) && secs=1
      if positive "$WARMUP" && ((!small)); then
        guarded "$n" "$(limit_for "$WARMUP")" client "$STAT_LOOP" "$d/stat-target" "$WARMUP" >/dev/null \
          || die "$n: warm-up stat loop failed"
      fi
      out=$(guarded "$n" "$(limit_for "$secs")" client "$STAT_LOOP" "$d/stat-target" "$secs") \
        || die "$n: stat loop failed"
      awk '{ print $(NF - 1) }' <<<"$out" ;;
  esac
}

# ---------------------------------------------------------------- header
check_idle
HDR="$RESDIR/header.md"
{
  echo "# fs-bench ($MODE mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- kernel $(uname -r), libfuse $(pkg-config --modversion fuse3), $(java -version 2>&1 | head -n 1), fio $(fio --version)"
  echo "- $(cpu_model), $NCPU CPUs; loadavg before measuring $(cut -d' ' -f1-3 /proc/loadavg), ${BUSY}% busy in the second before"
  echo "- CPU placement: every client (fio and its jobs, meta-loop, find, tar, stat-loop) pinned to CPU $CLIENT_CPU; every daemon (all threads) $(if [[ -n "$DAEMON_CPUS" ]]; then echo "pinned to CPU(s) $DAEMON_CPUS"; else echo "not pinned"; fi)"
  echo "- cache settings: reactor-fuse \`--cache auto\`, libfuse \`-o cache=auto\` (names and attributes cached 1 s, page cache dropped at open); stat row: \`--cache never\` / \`-o cache=never\` / memfs \`--timeout 0\`"
  echo "- libfuse threads: \`lf-s\` = \`-s\` (single-threaded, partner of rf-t1); \`lf-mt\` = libfuse's default multi-threaded loop (threads on demand, not \"2 threads\"; partner of rf-tN, N >= 2)"
  echo "- rounds $ROUNDS, contenders alternate in every workload (order rotated each round); initial warm-up $INITIAL_WARMUP; sources and ext4 dir under $NATIVE_BASE: $NATIVE_FS_DESC"
  echo "- JAVA_OPTS: \`$JAVA_OPTS\`"
  echo "- open files limit (ulimit -n) of every daemon: $(ulimit -Sn)"
  echo
  echo "| contender | command | mount |"
  echo "|---|---|---|"
  for n in "${MAIN[@]}" "${META_EXTRA[@]}" "${STATC[@]:1}"; do
    echo "| $n | \`${DESC[$n]}\` | ${DPID[$n]:+$(mount_opts "${ROOT[$n]}")} |"
  done
} >"$HDR"
cat "$HDR" >&2

# ---------------------------------------------------------------- measure
if ((INITIAL_WARMUP)); then
  log "initial warm-up (small unmeasured pass of every workload, every contender)"
  for w in $WORKLOADS; do
    for n in $(contenders_of "$w"); do run_workload "$w" "$n" 1 >/dev/null; done
  done
fi

declare -A RES   # workload/contender -> values
for ((round = 1; round <= ROUNDS; round++)); do
  for w in $WORKLOADS; do
    read -r -a C <<<"$(contenders_of "$w")"
    N=${#C[@]}
    for ((i = 0; i < N; i++)); do
      n=${C[$(((i + round - 1) % N))]}
      t_run=$(now_ns)
      v=$(run_workload "$w" "$n")
      [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] && positive "$v" || die "$n: $w gave no number ('$v')"
      RES[$w/$n]="${RES[$w/$n]:-} $v"
      note "$(printf 'round %d  %-9s %-14s %12s %-8s (%.1f s wall)' "$round" "$w" "$n" "$v" "${UNIT[$w]}" "$(awk -v a="$t_run" -v b="$(now_ns)" 'BEGIN { print (b - a) / 1e9 }')")"
      printf '%d\t%s\t%s\t%s\t%s\n' "$round" "$w" "$n" "$v" "${UNIT[$w]}" >>"$RESDIR/runs.tsv"
    done
  done
done

# ---------------------------------------------------------------- report
fmt() { awk -v x="$1" 'BEGIN { if (x >= 100) printf "%.0f", x; else printf "%.1f", x }'; }
mm() { local lo hi; read -r lo hi < <(tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }'); echo "$(fmt "$lo")-$(fmt "$hi")"; }
declare -A MED
ratio4() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4g", a / b }'; }
rratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; if (r >= 0.1) printf "%.3f", r; else printf "%.2g", r }'; }
MD="$RESDIR/results.md"
DAT="$RESDIR/ratios.dat"
{
  cat "$HDR"
  echo
  echo "## Ratios (median / median; above 1 = reactor-fuse faster)"
  echo
  echo "| workload | unit | reactor-fuse | median (min-max) | libfuse | median (min-max) | ext4 median | **rf / libfuse** | **rf / ext4** |"
  echo "|---|---|---|---:|---|---:|---:|---:|---:|"
  for w in $WORKLOADS; do
    for n in $(contenders_of "$w"); do MED[$w/$n]=$(median <<<"${RES[$w/$n]}"); done
    for n in $(contenders_of "$w"); do
      lf=${PARTNER[$n]:-}
      [[ -n "$lf" ]] || continue
      echo "| $w | ${UNIT[$w]} | $n | $(fmt "${MED[$w/$n]}") ($(mm <<<"${RES[$w/$n]}")) | $lf | $(fmt "${MED[$w/$lf]}") ($(mm <<<"${RES[$w/$lf]}")) | $(fmt "${MED[$w/ext4]}") | $(rratio "${MED[$w/$n]}" "${MED[$w/$lf]}") | $(rratio "${MED[$w/$n]}" "${MED[$w/ext4]}") |"
    done
  done
  echo
  echo "## All contenders (median, min-max, every run)"
  echo
  for w in $WORKLOADS; do
    echo "**$w**: ${TITLE[$w]}"
    echo
    echo "| contender | median ${UNIT[$w]} | min-max | runs |"
    echo "|---|---:|---:|---|"
    for n in $(contenders_of "$w"); do
      echo "| $n | $(fmt "${MED[$w/$n]}") | $(mm <<<"${RES[$w/$n]}") | ${RES[$w/$n]# } |"
    done
    echo
  done
  echo "memfs rows compare an in-memory file system with libfuse's passthrough_ll (which makes the real syscalls on ext4): they show the framework's own cost per request, not a like-for-like daemon comparison."
} >"$MD"

# chart data: one line per workload, two columns (rf/libfuse, rf/ext4) per series
{
  for w in $WORKLOADS; do
    printf '%s' "$w"
    for s in "${RF_SERIES[@]}"; do
      a=- b=-
      for n in $(contenders_of "$w"); do
        if [[ "${SERIES[$n]:-}" == "$s" && -n "${PARTNER[$n]:-}" ]]; then
          a=$(ratio4 "${MED[$w/$n]}" "${MED[$w/${PARTNER[$n]}]}"); b=$(ratio4 "${MED[$w/$n]}" "${MED[$w/ext4]}")
        fi
      done
      printf '\t%s\t%s' "$a" "$b"
    done
    echo
  done
} >"$DAT"

if ((CHART)); then
  ns=${#RF_SERIES[@]}
  plot1= plot2=
  for ((k = 0; k < ns; k++)); do
    plot1+="${plot1:+, }'$DAT' using $((2 + 2 * k)):xtic(1) title '${RF_SERIES[$k]}'"
    plot2+="${plot2:+, }'$DAT' using $((3 + 2 * k)):xtic(1) title '${RF_SERIES[$k]}'"
  done
  if gnuplot <<EOF 2>"$RESDIR/gnuplot.log"
set terminal pngcairo noenhanced size 1200,900 font ',10'
set output '$RESDIR/ratios.png'
set datafile separator '\t'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside right top
set grid ytics
set yrange [0:*]
set multiplot layout 2,1 title 'fs-bench $MODE, $STAMP: ratios of medians (1 = equal, black line)'
set title 'reactor-fuse / libfuse passthrough_ll (rf-t1 vs lf-s, rf-t2 vs lf-mt; memfs vs lf-s)'
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black'
plot $plot1
set logscale y 10
set yrange [0.0001:2]
set title 'reactor-fuse / ext4 (no FUSE), log scale'
plot $plot2
unset multiplot
EOF
  then
    log "chart: $RESDIR/ratios.png"
    echo -e "\n![ratios](ratios.png)" >>"$MD"
  else
    log "WARNING: gnuplot failed (see $RESDIR/gnuplot.log): table only"
  fi
fi

cat "$MD"
log "results in $RESDIR"
exit 0
