#!/usr/bin/env bash
# Compiles the BPF programs of src/main/bpf into target/classes/io/reactorfuse/ebpf/*.bpf.o, so
# that they ship in the jar as resources. Run by exec-maven-plugin (generate-resources):
#   build-bpf.sh <src/main/bpf> <target dir>
# Needs clang (-target bpf), libbpf's headers (bpf_helpers.h, bpf_core_read.h) and bpftool
# (vmlinux.h from the kernel's BTF, for the observer). A missing tool fails the build with the
# Debian package to install, not with "cannot run program".
set -euo pipefail

src=$1
target=$2
out="$target/classes/io/reactorfuse/ebpf"
gen="$target/generated-sources/bpf"
btf=/sys/kernel/btf/vmlinux

missing=()
command -v clang >/dev/null || missing+=(clang)
[ -e /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
# bpftool lives in /usr/sbin, which a non-root PATH may lack.
bpftool=$(command -v bpftool || command -v /usr/sbin/bpftool || true)
[ -n "$bpftool" ] || missing+=(bpftool)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ERROR: the ebpf module compiles BPF programs and needs: ${missing[*]}." >&2
  echo "ERROR: on Debian/Ubuntu: apt-get install clang libbpf-dev bpftool" >&2
  exit 1
fi
if [ ! -r "$btf" ]; then
  echo "ERROR: $btf is missing: the observer needs a kernel built with CONFIG_DEBUG_INFO_BTF" >&2
  echo "ERROR: (its vmlinux.h is generated from the running kernel's BTF)" >&2
  exit 1
fi

mkdir -p "$out" "$gen"
# Regenerate only when the kernel changed: bpftool takes a second and the header is 5 MB.
if [ ! -s "$gen/vmlinux.h" ] || [ "$btf" -nt "$gen/vmlinux.h" ]; then
  "$bpftool" btf dump file "$btf" format c > "$gen/vmlinux.h.tmp"
  mv "$gen/vmlinux.h.tmp" "$gen/vmlinux.h"
fi

for c in "$src"/*.bpf.c; do
  o="$out/$(basename "${c%.c}").o"
  if [ "$o" -nt "$c" ] && [ "$o" -nt "$gen/vmlinux.h" ] && [ "$o" -nt "$0" ]; then
    continue
  fi
  echo "clang -target bpf: $(basename "$c") -> $o"
  clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I"$gen" -c "$c" -o "$o"
done
