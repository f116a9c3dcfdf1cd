// SPDX-License-Identifier: GPL-2.0
/*
 * The cache handler: answers LOOKUP and GETATTR from entry_map and attr_map, the way ExtFUSE's
 * kernel handlers do, and tells the caller to go to user space ("upcall") on a miss. Its replies
 * are the ones core's LookupCache gives for a hit: the entry's node and generation, the node's
 * cached attributes, and the time left until each expires.
 *
 * Mainline Linux has no hook that lets a BPF program answer a FUSE request, so this is a
 * BPF_PROG_TYPE_SYSCALL program: Java runs it with BPF_PROG_TEST_RUN over a request laid out as
 * struct cache_req, and the program writes the reply body into the same struct. The logic is the
 * one an ExtFUSE handler (SEC("extfuse/...") on the patched kernel) would run; only the way the
 * request comes in and the reply goes out differs.
 *
 * Built with plain types (no vmlinux.h): the program touches no kernel structure, so it does not
 * depend on the build machine's kernel. Java (CacheMaps, CacheProgram) holds the same layouts;
 * keep both in step.
 */

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
/* bpf_helper_defs.h names these in prototypes we never call. */
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>

/* From <linux/bpf.h>, which cannot be included for -target bpf without the multiarch asm/. */
#define BPF_MAP_TYPE_HASH 1
#define BPF_F_NO_PREALLOC 1

#define FUSE_LOOKUP 1
#define FUSE_GETATTR 3
#define NAME_MAX 255

/*
 * Not an errno: no errno exceeds MAX_ERRNO (4095), so a caller cannot mistake "not cached, ask
 * user space" for an error reply (an ENOENT reply is a legitimate cached answer elsewhere).
 */
#define CACHE_UPCALL (-4096)

/* The FUSE ABI structs (<linux/fuse.h>), little-endian, naturally aligned. */
struct fuse_attr {
  __u64 ino;
  __u64 size;
  __u64 blocks;
  __u64 atime;
  __u64 mtime;
  __u64 ctime;
  __u32 atimensec;
  __u32 mtimensec;
  __u32 ctimensec;
  __u32 mode;
  __u32 nlink;
  __u32 uid;
  __u32 gid;
  __u32 rdev;
  __u32 blksize;
  __u32 flags;
};

struct fuse_entry_out {
  __u64 nodeid;
  __u64 generation;
  __u64 entry_valid;
  __u64 attr_valid;
  __u32 entry_valid_nsec;
  __u32 attr_valid_nsec;
  struct fuse_attr attr;
};

struct fuse_attr_out {
  __u64 attr_valid;
  __u32 attr_valid_nsec;
  __u32 dummy;
  struct fuse_attr attr;
};

_Static_assert(sizeof(struct fuse_attr) == 88, "fuse_attr");
_Static_assert(sizeof(struct fuse_entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct fuse_attr_out) == 104, "fuse_attr_out");

/*
 * entry_map key: ExtFUSE's lookup_entry_key_t. The name is zero-filled after its bytes (no NUL
 * needed at 255), and C pads the struct to 264 bytes; the pad byte (offset 263) is always 0 so
 * that equal names hash equally.
 */
struct entry_key {
  __u64 parent;
  char name[NAME_MAX];
};
_Static_assert(sizeof(struct entry_key) == 264, "entry_key");

/*
 * entry_map value: ExtFUSE's lookup_entry_val_t (offsets 0..44, its tail padding 44..48) and one
 * field more. The user-space cache answers with the time *left* until an entry expires, not the
 * original timeout, so the handler needs the absolute expiry; entry_valid/entry_valid_nsec keep
 * the original timeout, as in ExtFUSE.
 */
struct entry_val {
  __u32 stale;             /* 0: non-zero = do not serve (ExtFUSE marks; we delete instead) */
  __u64 nlookup;           /* 8: lookups the kernel holds through this entry */
  __u64 nodeid;            /* 16: 0 = negative entry */
  __u64 generation;        /* 24 */
  __u64 entry_valid;       /* 32: the original timeout, seconds */
  __u32 entry_valid_nsec;  /* 40 */
  /* reactor-fuse extension: */
  __u64 expires_ns;        /* 48: CLOCK_MONOTONIC ns at which the cache drops the entry */
};
_Static_assert(sizeof(struct entry_val) == 56, "entry_val");
_Static_assert(__builtin_offsetof(struct entry_val, expires_ns) == 48, "entry_val tail");

/* attr_map: ExtFUSE's lookup_attr_key_t (u64 nodeid) / lookup_attr_val_t, and the expiry. */
struct attr_val {
  __u32 stale;               /* 0 */
  struct fuse_attr_out out;  /* 8: attr_valid/attr_valid_nsec hold the original timeout */
  /* reactor-fuse extension: */
  __u64 expires_ns;          /* 112 */
};
_Static_assert(sizeof(struct attr_val) == 120, "attr_val");

/*
 * The request/reply context BPF_PROG_TEST_RUN passes in and copies back (416 bytes). Laid out
 * without holes so that Java can write it field by field.
 */
struct cache_req {
  __u32 opcode;            /* 0: FUSE_LOOKUP or FUSE_GETATTR; anything else is an upcall */
  __u32 namelen;           /* 4: LOOKUP: bytes of name, without the NUL the kernel sends */
  __u64 nodeid;            /* 8: the in-header node id (LOOKUP: the parent) */
  __u64 now;               /* 16: CLOCK_MONOTONIC ns of the request; 0 = read the clock here */
  char name[256];          /* 24: LOOKUP: the name */
  __s32 error;             /* 280: out: 0 = reply filled, CACHE_UPCALL = ask user space */
  __u32 reply_len;         /* 284: out: bytes of reply (128 LOOKUP, 104 GETATTR, else 0) */
  union {                  /* 288: out: the reply body, after the 16-byte fuse_out_header */
    struct fuse_entry_out entry;
    struct fuse_attr_out attr;
    __u8 bytes[128];
  } reply;
};
_Static_assert(sizeof(struct cache_req) == 416, "cache_req");
_Static_assert(__builtin_offsetof(struct cache_req, reply) == 288, "cache_req reply");

/* Created by CacheMaps (same sizes, BPF_F_NO_PREALLOC); CacheProgram reuses their fds. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 1 << 17);
  __type(key, struct entry_key);
  __type(value, struct entry_val);
} entry_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 1 << 17);
  __type(key, __u64);
  __type(value, struct attr_val);
} attr_map SEC(".maps");

/* The key as 33 words, so that the name can be filled with whole 8-byte loads and stores. */
union key_words {
  struct entry_key key;
  __u64 words[33];
};

#define NSEC_PER_SEC 1000000000ULL

static __always_inline int upcall(struct cache_req *req)
{
  req->error = CACHE_UPCALL;
  req->reply_len = 0;
  return 0;
}

/*
 * Cached attributes that may be served at @now: present, not marked stale, not expired (the
 * user-space cache treats an entry as gone from its expiry on, whether or not it was evicted).
 */
static __always_inline struct attr_val *live_attr(__u64 nodeid, __u64 now)
{
  struct attr_val *a = bpf_map_lookup_elem(&attr_map, &nodeid);

  if (!a || a->stale || now >= a->expires_ns)
    return 0;
  return a;
}

static __always_inline int serve_lookup(struct cache_req *req, __u64 now)
{
  union key_words k;
  __u32 namelen = req->namelen;

  /* The kernel never sends an empty name; a longer one than NAME_MAX is never mirrored. */
  if (namelen == 0 || namelen > NAME_MAX)
    return upcall(req);
  /* "." and ".." (NFS export lookups) are never answered from the cache in user space either. */
  if (req->name[0] == '.' && (namelen == 1 || (namelen == 2 && req->name[1] == '.')))
    return upcall(req);

  /*
   * Copy the name word by word, masking every byte at or past namelen to 0: the key must hold
   * exactly the name and zeros (whatever follows it in the request), or the hash would not
   * match the key CacheMaps wrote. The syscall context only allows constant offsets, hence the
   * unrolled loop; the last word also clears the struct's pad byte.
   */
  k.words[0] = req->nodeid;
#pragma unroll
  for (int w = 0; w < 32; w++) {
    __u64 word = *(__u64 *)&req->name[w * 8];
    __s64 valid = (__s64)namelen - w * 8;
    if (valid <= 0)
      word = 0;
    else if (valid < 8)
      word &= (1ULL << (valid * 8)) - 1;
    k.words[1 + w] = word;
  }

  struct entry_val *e = bpf_map_lookup_elem(&entry_map, &k.key);
  /* A stale entry (ExtFUSE marks them on unlink and rename) or an expired one is a miss. */
  if (!e || e->stale || now >= e->expires_ns)
    return upcall(req);

  __u64 entry_left = e->expires_ns - now;
  __u64 nodeid = e->nodeid;

  __builtin_memset(&req->reply.entry, 0, sizeof(req->reply.entry));
  req->reply.entry.nodeid = nodeid;
  req->reply.entry.generation = e->generation;
  req->reply.entry.entry_valid = entry_left / NSEC_PER_SEC;
  req->reply.entry.entry_valid_nsec = entry_left % NSEC_PER_SEC;

  /*
   * A positive entry is served with the node's attributes from attr_map (as ExtFUSE does, and as
   * the user-space cache does: the entry's own attributes may predate a setattr or write), and
   * only while they are cached. A negative entry has no attributes: zeros, attr_valid 0.
   */
  if (nodeid) {
    struct attr_val *a = live_attr(nodeid, now);
    if (!a)
      return upcall(req);
    __u64 attr_left = a->expires_ns - now;
    req->reply.entry.attr_valid = attr_left / NSEC_PER_SEC;
    req->reply.entry.attr_valid_nsec = attr_left % NSEC_PER_SEC;
    req->reply.entry.attr = a->out.attr;
    /*
     * The kernel takes one lookup reference for every positive entry it receives, and user
     * space never saw this one: count it here, atomically because user space updates the same
     * value, so that FORGET accounting can give it back (ExtFUSE does the same).
     */
    __sync_fetch_and_add(&e->nlookup, 1);
  }

  req->error = 0;
  req->reply_len = sizeof(struct fuse_entry_out);
  return 0;
}

static __always_inline int serve_getattr(struct cache_req *req, __u64 now)
{
  /* ExtFUSE compares stale with the GETATTR mask; we never mark, so any stale bit is a miss. */
  struct attr_val *a = live_attr(req->nodeid, now);

  if (!a)
    return upcall(req);
  __u64 left = a->expires_ns - now;
  req->reply.attr.attr_valid = left / NSEC_PER_SEC;
  req->reply.attr.attr_valid_nsec = left % NSEC_PER_SEC;
  req->reply.attr.dummy = 0;
  req->reply.attr.attr = a->out.attr;
  req->error = 0;
  req->reply_len = sizeof(struct fuse_attr_out);
  return 0;
}

SEC("syscall")
int serve(struct cache_req *req)
{
  /*
   * Replies carry the time left until expiry, measured on CLOCK_MONOTONIC, the clock of the
   * user-space cache (System.nanoTime); a caller replaying a request gives the time it happened.
   */
  __u64 now = req->now ? req->now : bpf_ktime_get_ns();

  switch (req->opcode) {
  case FUSE_LOOKUP:
    return serve_lookup(req, now);
  case FUSE_GETATTR:
    return serve_getattr(req, now);
  default:
    return upcall(req);
  }
}

/* GPL: BPF_PROG_TYPE_SYSCALL helpers are GPL-only. */
char LICENSE[] SEC("license") = "GPL";
