// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-side observer: counts the FUSE requests of one connection per opcode, with their
 * latency (send to end), from the BTF tracepoints fuse_request_send and fuse_request_end
 * (fs/fuse/fuse_trace.h: both take the struct fuse_req).
 *
 * Requests that never pass through the send path are not seen: FORGET, BATCH_FORGET and
 * INTERRUPT go through their own queues, and INIT is over before Java can attach.
 * A request counts once it ends, and only if its send was seen, so every counted request has a
 * latency and requests in flight at attach time are left out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_OPCODES 64

/*
 * The fields read, as CO-RE "flavors" (libbpf drops the ___rf suffix when it matches them with
 * the running kernel's types): offsets are relocated at load time, so the object works on any
 * kernel with these fields, and the build does not need the fuse types in vmlinux.h, which lacks
 * them where fuse is a module (its BTF is then /sys/kernel/btf/fuse). On 6.18: struct fuse_req
 * { ...; struct { struct fuse_in_header h; } in; ...; struct fuse_mount *fm; ... },
 * fuse_mount { struct fuse_conn *fc; ... }, fuse_conn { ...; dev_t dev; ... }.
 */
struct fuse_in_header___rf {
  __u32 len;
  __u32 opcode;
  __u64 unique;
} __attribute__((preserve_access_index));

struct fuse_conn___rf {
  __u32 dev;
} __attribute__((preserve_access_index));

struct fuse_mount___rf {
  struct fuse_conn___rf *fc;
} __attribute__((preserve_access_index));

struct fuse_req___rf {
  struct {
    struct fuse_in_header___rf h;
  } in;
  struct fuse_mount___rf *fm;
} __attribute__((preserve_access_index));

struct op_stats {
  __u64 count;
  __u64 total_ns;
  __u64 max_ns;
};

/* Written by Java after load, before attach: which connection to watch. */
struct observer_config {
  __u32 dev;    /* fc->dev: the kernel dev_t of the connection (MKDEV(major, minor)) */
  __u32 armed;  /* 0 until dev is set: never count before the filter is in place */
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct observer_config);
} conn_filter SEC(".maps");

/*
 * Send time per request, keyed by the fuse_req's address rather than its unique: one in-flight
 * request per address from send to end, nothing to read at send, and no dependence on when the
 * kernel assigns unique (6.18 does it before the send tracepoint; a RESEND sets bit 63 of it).
 * LRU so that ends never seen (detach mid-flight, aborted connections) cannot fill it.
 */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, __u64);
} start SEC(".maps");

/*
 * Per-CPU: the end handler runs concurrently on every CPU, and per-CPU slots need no atomics
 * (max in particular has no atomic form). Java sums counts and totals and takes the max of maxes.
 * Slot 0 collects opcodes >= MAX_OPCODES (only CUSE_INIT, 4096, exists).
 */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MAX_OPCODES);
  __type(key, __u32);
  __type(value, struct op_stats);
} stats SEC(".maps");

static __always_inline int watched(const struct fuse_req___rf *req)
{
  __u32 zero = 0;
  struct observer_config *cfg = bpf_map_lookup_elem(&conn_filter, &zero);

  /* An array lookup of index 0 cannot fail, but the verifier wants the check. */
  if (!cfg || !cfg->armed)
    return 0;
  /* Every mount has its own fuse_conn; fc->dev is the superblock's s_dev (fuse_fill_super). */
  return BPF_CORE_READ(req, fm, fc, dev) == cfg->dev;
}

SEC("tp_btf/fuse_request_send")
int BPF_PROG(fuse_send, const struct fuse_req___rf *req)
{
  if (!watched(req))
    return 0;
  __u64 key = (__u64)req;
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&start, &key, &now, BPF_ANY);
  return 0;
}

SEC("tp_btf/fuse_request_end")
int BPF_PROG(fuse_end, const struct fuse_req___rf *req)
{
  __u64 key = (__u64)req;
  __u64 *sent = bpf_map_lookup_elem(&start, &key);

  /* Only requests whose send we saw (which implies the connection matched). */
  if (!sent)
    return 0;
  __u64 ns = bpf_ktime_get_ns() - *sent;
  bpf_map_delete_elem(&start, &key);

  __u32 opcode = BPF_CORE_READ(req, in.h.opcode);
  __u32 slot = opcode < MAX_OPCODES ? opcode : 0;
  struct op_stats *s = bpf_map_lookup_elem(&stats, &slot);
  if (!s)
    return 0;
  s->count++;
  s->total_ns += ns;
  if (ns > s->max_ns)
    s->max_ns = ns;
  return 0;
}

/* GPL: tracing programs use GPL-only helpers. */
char LICENSE[] SEC("license") = "GPL";
