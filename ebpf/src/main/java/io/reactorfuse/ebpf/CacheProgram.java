package io.reactorfuse.ebpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Optional;

/**
 * The BPF handler that answers LOOKUP and GETATTR from {@link CacheMaps} ({@code lookup.bpf.c}),
 * loaded on the maps of one {@code CacheMaps} and run with BPF_PROG_TEST_RUN.
 *
 * <h2>Where it runs</h2>
 * On a kernel with the fuse-extent/ExtFUSE patch the same handler would be a
 * {@code BPF_PROG_TYPE_EXTFUSE} program: the daemon loads it on these maps and hands the
 * program's fd to the kernel in its INIT reply, in the field the patch adds (core's INIT
 * negotiation would need a setting for it). The kernel then runs the program on every request
 * before queueing it to /dev/fuse: a reply the program writes goes straight back to the caller,
 * an "upcall" return lets the request continue to user space. Mainline Linux has no such hook
 * (nor any other way for BPF to answer a FUSE request), so here the handler logic is compiled as
 * a {@code BPF_PROG_TYPE_SYSCALL} program and run on demand over recorded requests: the reply it
 * gives must be byte for byte the reply the user-space cache gives, which is what the tests
 * check.
 *
 * <h2>What it answers</h2>
 * What core's LookupCache answers on a hit, byte for byte: LOOKUP of a cached negative entry, or
 * of a positive one whose node's attributes are cached too, with the node id and generation of
 * the entry, the attributes of attr_map and the time left until each expires; GETATTR of cached
 * attributes with the time left. Expired keys, "." and "..", names over 255 bytes and every other
 * opcode are upcalls. A served positive LOOKUP adds one to the entry's {@code nlookup}, as the
 * kernel would hold that lookup (see {@link CacheMaps}).
 *
 * <h2>The context (struct cache_req, 416 bytes, little-endian)</h2>
 * <pre>
 *   0 u32 opcode      1 LOOKUP, 3 GETATTR; anything else is an upcall
 *   4 u32 namelen     LOOKUP: name bytes, without the NUL
 *   8 u64 nodeid      the in-header node id (LOOKUP: the parent)
 *  16 u64 now         CLOCK_MONOTONIC ns of the request (System.nanoTime); 0: the program's clock
 *  24 char name[256]  LOOKUP: the name, zero-filled
 * 280 s32 error       out: 0 = reply filled, {@link #UPCALL} = not cached, ask user space
 * 284 u32 reply_len   out: 128 (fuse_entry_out), 104 (fuse_attr_out) or 0
 * 288 u8 reply[128]   out: the reply body that follows the 16-byte fuse_out_header
 * </pre>
 *
 * <p>Thread-safe: each run copies its own context in and out of the kernel.
 */
public final class CacheProgram implements AutoCloseable {
  /**
   * The handler's "not cached" code: not an errno (none exceeds MAX_ERRNO, 4095), so it cannot
   * be taken for an error reply.
   */
  public static final int UPCALL = -4096;

  static final int FUSE_LOOKUP = 1;
  static final int FUSE_GETATTR = 3;

  private static final int CTX_SIZE = 416;
  private static final int CTX_NAME = 24;
  private static final int CTX_NAME_SIZE = 256;
  private static final int CTX_ERROR = 280;
  private static final int CTX_REPLY_LEN = 284;
  private static final int CTX_REPLY = 288;
  private static final int CTX_REPLY_SIZE = 128;

  private static final int IN_HEADER = 40;
  private static final int OUT_HEADER = 16;

  private final BpfObject object;
  private final int progFd;

  private CacheProgram(BpfObject object, int progFd) {
    this.object = object;
    this.progFd = progFd;
  }

  /**
   * Loads the handler on the maps of {@code maps} (the verifier runs here). The program keeps its
   * own reference to the maps: closing {@code maps} first leaves it answering from them.
   */
  public static CacheProgram load(CacheMaps maps) {
    Bpf.ensureAvailability();
    BpfObject object = BpfObject.load("lookup.bpf.o",
        Map.of("entry_map", maps.entryMapFd(), "attr_map", maps.attrMapFd()));
    try {
      return new CacheProgram(object, object.programFd("serve"));
    } catch (RuntimeException e) {
      object.close();
      throw e;
    }
  }

  /**
   * Runs the handler over one request as the kernel sends it ({@code fuse_in_header} and body),
   * now.
   *
   * @return the whole reply ({@code fuse_out_header} with the request's unique, and body), or
   *     empty when the request must go to user space (not cached, or not LOOKUP/GETATTR)
   */
  public Optional<byte[]> serve(byte[] request) {
    return serve(request, 0);
  }

  /**
   * As {@link #serve(byte[])}, as if at {@code nowNanos} on the cache's clock (a replay, or a
   * test's fake ticker); 0 means now.
   */
  Optional<byte[]> serve(byte[] request, long nowNanos) {
    ByteBuffer in = ByteBuffer.wrap(request).order(ByteOrder.LITTLE_ENDIAN);
    if (request.length < IN_HEADER) {
      throw new IllegalArgumentException("a FUSE request is at least 40 bytes, got "
          + request.length);
    }
    int opcode = in.getInt(4);
    long unique = in.getLong(8);
    long nodeId = in.getLong(16);
    byte[] name = new byte[0];
    if (opcode == FUSE_LOOKUP) {
      // The name runs to its NUL (extensions, if any, follow it).
      int end = IN_HEADER;
      while (end < request.length && request[end] != 0) {
        end++;
      }
      name = new byte[end - IN_HEADER];
      System.arraycopy(request, IN_HEADER, name, 0, name.length);
    }
    Result r = run(opcode, nodeId, name, nowNanos);
    if (r.error() == UPCALL) {
      return Optional.empty();
    }
    byte[] reply = new byte[OUT_HEADER + r.body().length];
    ByteBuffer out = ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(reply.length).putInt(0).putLong(unique).put(r.body());
    return Optional.of(reply);
  }

  /** One run over a context built from these fields. */
  Result run(int opcode, long nodeId, byte[] name, long nowNanos) {
    byte[] ctx = new byte[CTX_SIZE];
    ByteBuffer b = ByteBuffer.wrap(ctx).order(ByteOrder.LITTLE_ENDIAN);
    if (name.length >= CTX_NAME_SIZE) {
      // Longer than NAME_MAX: never mirrored, so never served.
      return new Result(UPCALL, new byte[0]);
    }
    b.putInt(0, opcode).putInt(4, name.length).putLong(8, nodeId).putLong(16, nowNanos);
    System.arraycopy(name, 0, ctx, CTX_NAME, name.length);
    object.lib().testRun(progFd, ctx);
    int error = b.getInt(CTX_ERROR);
    int len = b.getInt(CTX_REPLY_LEN);
    if (error != 0 && error != UPCALL || len < 0 || len > CTX_REPLY_SIZE) {
      throw new IllegalStateException("the BPF handler returned error " + error + ", reply_len "
          + len + " (lookup.bpf.c and CacheProgram disagree on struct cache_req?)");
    }
    byte[] body = new byte[len];
    System.arraycopy(ctx, CTX_REPLY, body, 0, len);
    return new Result(error, body);
  }

  /** Unloads the program. */
  @Override
  public void close() {
    object.close();
  }

  /** A run's outcome: 0 and the reply body, or {@link #UPCALL} and no body. */
  record Result(int error, byte[] body) {}
}
