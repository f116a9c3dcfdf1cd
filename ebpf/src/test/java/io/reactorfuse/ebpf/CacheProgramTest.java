package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.LookupCache;
import io.reactorfuse.LookupCacheAccess;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * BPF_PROG_TEST_RUN equivalence with the user-space cache: core's LookupCache, mirrored by
 * CacheMaps, in front of a small filesystem. Each request, built as the kernel sends it, goes
 * first to the BPF handler and then to the cache. Where the cache answers without the backend (a
 * hit), the handler must have answered too, with exactly the bytes core's ReplyEncoder writes for
 * the cache's reply; where the cache asks the backend, the handler must have asked for user
 * space. One fake clock drives both (the replies carry the time left until expiry).
 */
class CacheProgramTest {
  private static final ReplyEncoder ENCODER = new ReplyEncoder(UnpooledByteBufAllocator.DEFAULT);
  private static final Instant T = Instant.ofEpochSecond(1_700_000_000L, 987_654_321);

  private final AtomicLong clock = new AtomicLong(5_000_000_000_000L);
  private final TreeFs backend = new TreeFs();
  /** LOOKUPs the cache answered, per node: lookups the kernel holds that the backend never saw. */
  private final Map<Long, Long> lookupHits = new HashMap<>();
  private CacheMaps maps;
  private CacheProgram program;
  private LookupCache lookupCache;
  private FuseOps cache;
  private long unique = 2;

  @BeforeEach
  void load() {
    BpfTestSupport.requireBpf();
    maps = CacheMaps.open(CacheMaps.DEFAULT_MAX_ENTRIES, clock::get);
    program = CacheProgram.load(maps);
    lookupCache = LookupCacheAccess.withTicker(LookupCache.builder().listener(maps), clock::get)
        .build();
    cache = lookupCache.wrap(backend);
  }

  @AfterEach
  void close() {
    if (program != null) {
      program.close();
    }
    if (maps != null) {
      maps.close();
    }
  }

  @Test
  void serve_recordedRequests_equalLookupCacheReplies() {
    // First sight of each name: misses on both sides, and fills.
    for (String name : new String[] {"file", "dir", "nope", "enoent", "x".repeat(255),
        "naïve-名前", "extreme"}) {
      assertMiss(lookup(1, name));
    }
    assertMiss(lookup(3, "nested"));
    clock.addAndGet(123_456_789);

    // Hits: positive entries with the node's attributes, a negative entry, getattrs.
    for (String name : new String[] {"file", "dir", "nope", "x".repeat(255), "naïve-名前",
        "extreme"}) {
      assertHit(lookup(1, name));
    }
    assertHit(lookup(3, "nested"));
    assertHit(getattr(2));
    assertHit(getattr(3));
    assertHit(getattr(7));
    // Nothing brought the root's attributes yet.
    assertMiss(getattr(1));
    assertHit(getattr(1));
  }

  @Test
  void serve_missesAndExpiry_equalLookupCacheMisses() {
    assertMiss(lookup(1, "file"));
    // ENOENT is not cached; names that only look alike are other keys.
    assertMiss(lookup(1, "enoent"));
    assertMiss(lookup(1, "enoent"));
    assertMiss(lookup(2, "file"));
    assertMiss(lookup(1, "fil"));
    assertMiss(lookup(1, "files"));
    assertMiss(lookup(1, "x".repeat(254)));
    // "." and ".." always go to the backend.
    assertMiss(lookup(1, "."));
    assertMiss(lookup(1, ".."));
    assertMiss(getattr(99));
    assertHit(getattr(99));
    // Opcodes the handler does not serve.
    assertEquals(Optional.empty(), program.serve(request(unique += 2, 14, 2, new byte[8]),
        clock.get()));

    assertHit(lookup(1, "file"));
    // file's attributes (250 ms) expire before its entry (1.5 s), exactly at their timeout: from
    // then on the entry alone is a miss, and the miss fills both again.
    clock.addAndGet(Duration.ofMillis(250).toNanos() - 1);
    assertHit(lookup(1, "file"));
    clock.addAndGet(1);
    assertMiss(lookup(1, "file"));
    assertHit(lookup(1, "file"));
    // 1 ns before the entry expires it is served (1 ns left), with refreshed attributes.
    clock.addAndGet(Duration.ofMillis(1500).toNanos() - 1);
    assertMiss(getattr(2));
    assertHit(lookup(1, "file"));
    clock.addAndGet(1);
    assertMiss(lookup(1, "file"));
  }

  @Test
  void serve_followsInvalidationAndForget() {
    assertMiss(lookup(1, "dir"));
    assertMiss(lookup(3, "nested"));
    assertHit(lookup(3, "nested"));
    assertHit(getattr(4));

    // Changes behind the cache's back (before INIT only the cache is dropped, no kernel told).
    lookupCache.invalidateNode(4).block();
    assertMiss(lookup(3, "nested")); // the entry is there, the node's attributes are not
    assertHit(lookup(3, "nested"));
    lookupCache.invalidateEntry(3, "nested").block();
    assertMiss(lookup(3, "nested"));
    assertHit(lookup(3, "nested"));
    // The refill counts 1, the BPF hit 1 more (the counts of the dropped entry left with it).
    assertEquals(2, maps.entries().get(CacheMaps.EntryKey.of(3, "nested")).nlookup());

    // The kernel forgets every lookup of node 4: the cache keeps the node (one of the backend's
    // lookups) while its name is cached, so the mirror still serves it.
    long held = backend.lookups(4) + lookupHits.getOrDefault(4L, 0L);
    cache.forget(ctx(4), new Request.Forget(4, held)).block();
    assertTrue(maps.entries().containsKey(CacheMaps.EntryKey.of(3, "nested")));
    assertHit(lookup(3, "nested"));
    // Once the name leaves the cache, it leaves the mirror too, and the next lookup misses.
    lookupCache.invalidateEntry(3, "nested").block();
    assertFalse(maps.entries().containsKey(CacheMaps.EntryKey.of(3, "nested")));
    assertMiss(lookup(3, "nested"));
  }

  @Test
  void run_bodyIsEncoderBodyWithoutOutHeader() {
    assertMiss(lookup(1, "file"));
    CacheProgram.Result lookup = program.run(CacheProgram.FUSE_LOOKUP, 1, bytes("file"),
        clock.get());
    assertEquals(0, lookup.error());
    assertEquals(ReplyEncoder.ENTRY_OUT, lookup.body().length);
    EntryReply expected = new EntryReply(2, 20, backend.attr(2), Duration.ofMillis(1500),
        Duration.ofMillis(250));
    assertArrayEquals(body(ENCODER.entry(2, expected)), lookup.body());

    CacheProgram.Result getattr = program.run(CacheProgram.FUSE_GETATTR, 2, new byte[0],
        clock.get() + 50);
    assertEquals(0, getattr.error());
    assertArrayEquals(body(ENCODER.attr(2, new AttrReply(backend.attr(2),
        Duration.ofMillis(250).minusNanos(50)))), getattr.body());

    CacheProgram.Result miss = program.run(CacheProgram.FUSE_LOOKUP, 1, bytes("g"), clock.get());
    assertEquals(CacheProgram.UPCALL, miss.error());
    assertEquals(0, miss.body().length);
  }

  @Test
  void serve_kernelClockIsTheCachesClock() {
    // Without a replay time the program reads CLOCK_MONOTONIC, which System.nanoTime (Caffeine's
    // ticker) reads too: a fresh hour-long timeout comes back as just under an hour.
    try (CacheMaps real = CacheMaps.open(); CacheProgram p = CacheProgram.load(real)) {
      real.attrCached(2, new AttrReply(backend.attr(2), Duration.ofHours(1)));
      byte[] reply = p.serve(getattr(2)).orElseThrow();
      long seconds = ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
      assertTrue(seconds >= 3590 && seconds <= 3599, "attr_valid " + seconds);
    }
  }

  @Test
  void serve_nameBytesAfterTheNulAreIgnored() {
    assertMiss(lookup(1, "file"));
    byte[] request = lookup(1, "file");
    byte[] padded = new byte[request.length + 8];
    System.arraycopy(request, 0, padded, 0, request.length);
    padded[request.length] = 'z'; // after the NUL: an extension, not part of the name
    assertEquals(hex(program.serve(request, clock.get())),
        hex(program.serve(padded, clock.get())));
    assertTrue(program.serve(padded, clock.get()).isPresent());
  }

  // --- one request through both ---

  /** The handler answers, byte for byte as the cache does, and the backend is not asked. */
  private void assertHit(byte[] request) {
    Outcome o = both(request);
    assertTrue(o.cacheHit(), () -> "the cache should answer " + describe(request));
    assertEquals(hex(o.userSpace()), hex(o.bpf()), () -> "reply to " + describe(request));
    ByteBuffer reply = ByteBuffer.wrap(o.bpf().get()).order(ByteOrder.LITTLE_ENDIAN);
    if (reply.getInt(0) == 16 + ReplyEncoder.ENTRY_OUT && reply.getLong(16) != 0) {
      lookupHits.merge(reply.getLong(16), 1L, Long::sum);
    }
  }

  /** The handler asks for user space, and so does the cache (it calls the backend). */
  private void assertMiss(byte[] request) {
    Outcome o = both(request);
    assertFalse(o.cacheHit(), () -> "the cache should miss " + describe(request));
    assertEquals(Optional.empty(), o.bpf().map(HexFormat.of()::formatHex),
        () -> "BPF must upcall " + describe(request));
  }

  record Outcome(Optional<byte[]> bpf, Optional<byte[]> userSpace, boolean cacheHit) {}

  private Outcome both(byte[] request) {
    Optional<byte[]> bpf = program.serve(request, clock.get());
    ByteBuffer in = ByteBuffer.wrap(request).order(ByteOrder.LITTLE_ENDIAN);
    int opcode = in.getInt(4);
    long u = in.getLong(8);
    long node = in.getLong(16);
    long calls = backend.calls.get();
    ByteBuf reply;
    try {
      if (opcode == 1) {
        String name = new String(request, 40, request.length - 41, StandardCharsets.UTF_8);
        reply = ENCODER.entry(u, cache.lookup(ctx(node), new Request.Lookup(node, name))
            .block());
      } else {
        reply = ENCODER.attr(u, cache.getattr(ctx(node), new Request.Getattr(node, 0, 0))
            .block());
      }
    } catch (RuntimeException e) {
      reply = ENCODER.error(u, Errno.from(e).code());
    }
    return new Outcome(bpf, Optional.of(all(reply)), backend.calls.get() == calls);
  }

  private FuseContext ctx(long node) {
    return new FuseContext(unique += 2, node, 0, 0, 1, 0);
  }

  // --- requests as the kernel writes them to /dev/fuse ---

  private byte[] lookup(long parent, String name) {
    byte[] n = bytes(name);
    byte[] body = new byte[n.length + 1]; // NUL-terminated
    System.arraycopy(n, 0, body, 0, n.length);
    return request(unique += 2, 1, parent, body);
  }

  private byte[] getattr(long node) {
    return request(unique += 2, 3, node, new byte[16]); // fuse_getattr_in: flags, dummy, fh
  }

  private static byte[] request(long unique, int opcode, long node, byte[] body) {
    byte[] r = new byte[40 + body.length];
    ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(r.length).putInt(opcode).putLong(unique).putLong(node)
        .putInt(1000).putInt(1000).putInt(4242).putShort((short) 0).putShort((short) 0)
        .put(body);
    return r;
  }

  private static String describe(byte[] request) {
    ByteBuffer in = ByteBuffer.wrap(request).order(ByteOrder.LITTLE_ENDIAN);
    int op = in.getInt(4);
    return (op == 1 ? "LOOKUP " : "GETATTR ") + in.getLong(16)
        + (op == 1 ? "/" + new String(request, 40, Math.min(request.length - 41, 40),
        StandardCharsets.UTF_8) : "");
  }

  private static byte[] all(ByteBuf buf) {
    try {
      return ByteBufUtil.getBytes(buf);
    } finally {
      buf.release();
    }
  }

  /** The encoder's reply without the 16-byte fuse_out_header. */
  private static byte[] body(ByteBuf buf) {
    try {
      return ByteBufUtil.getBytes(buf, buf.readerIndex() + ReplyEncoder.OUT_HEADER,
          buf.readableBytes() - ReplyEncoder.OUT_HEADER);
    } finally {
      buf.release();
    }
  }

  private static String hex(Optional<byte[]> bytes) {
    return bytes.map(HexFormat.of()::formatHex).orElse("(upcall)");
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The backend: / (1) holds file (2), dir (3), a 255-byte name (5), a UTF-8 name (6), extreme
   * (7); dir holds nested (4); "nope" is a negative entry, anything else ENOENT. Every node has
   * attributes (GETATTR of any id succeeds). Counts its calls.
   */
  static final class TreeFs implements FuseOps {
    final AtomicLong calls = new AtomicLong();
    private final Map<Long, AtomicLong> lookups = new HashMap<>();

    Attr attr(long node) {
      return switch ((int) node) {
        case 1 -> Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(3).times(T).build();
        case 2 -> Attr.builder().ino(2).mode(Attr.S_IFREG | 0644).size(12345).uid(1000)
            .gid(100).blksize(4096).times(T).build();
        case 3 -> Attr.builder().ino(3).mode(Attr.S_IFDIR | 0700).nlink(2).times(T).build();
        case 7 -> new Attr(7, Long.MAX_VALUE, -1L, Long.MIN_VALUE, 999_999_999, -1, -1, 0,
            Integer.MIN_VALUE, Attr.S_IFREG | 07777, -1, -1, -1, -1, -1, -1);
        default -> Attr.builder().ino(node).mode(Attr.S_IFLNK | 0777).size(node).times(T)
            .build();
      };
    }

    private static long child(long parent, String name) {
      if (parent == 3) {
        return name.equals("nested") ? 4 : -1;
      }
      return switch (name) {
        case "file" -> 2;
        case "dir" -> 3;
        case "naïve-名前" -> 6;
        case "extreme" -> 7;
        case "nope" -> 0;
        case "." -> 1;
        case ".." -> 1;
        default -> name.equals("x".repeat(255)) ? 5 : -1;
      };
    }

    synchronized long lookups(long node) {
      AtomicLong n = lookups.get(node);
      return n == null ? 0 : n.get();
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      calls.incrementAndGet();
      long n = child(req.parent(), req.name());
      if (n < 0) {
        return Errno.ENOENT.mono();
      }
      if (n == 0) {
        return Mono.just(EntryReply.negative(Duration.ofSeconds(10, 1)));
      }
      synchronized (this) {
        lookups.computeIfAbsent(n, k -> new AtomicLong()).incrementAndGet();
      }
      // Timeouts with nanoseconds, and attributes that expire before the entry.
      return Mono.just(new EntryReply(n, n * 10, attr(n),
          n == 7 ? Duration.ofDays(100_000) : Duration.ofMillis(1500),
          n == 7 ? Duration.ofSeconds(59, 999_999_999) : Duration.ofMillis(250)));
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      calls.incrementAndGet();
      return Mono.just(new AttrReply(attr(req.nodeId()), Duration.ofMillis(250)));
    }
  }
}
