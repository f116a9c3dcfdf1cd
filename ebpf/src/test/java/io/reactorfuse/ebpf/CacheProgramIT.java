package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseSession;
import io.reactorfuse.LookupCache;
import io.reactorfuse.LookupCacheAccess;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * TEST_RUN equivalence on a real mount, in shadow mode: core's LookupCache (mirrored by
 * CacheMaps) serves a small filesystem, and every LOOKUP and GETATTR the kernel sends is also
 * given to the BPF handler, as the kernel wrote it, just before the cache answers it. Every
 * request must get the same outcome from both: the handler's reply byte for byte equal to the
 * cache's where the cache answered without the backend, an upcall where it did not.
 *
 * <p>The kernel asks again for a name or node only once its own copy expired, and so has the
 * cache's; the test therefore makes the kernel forget (inval_entry, inval_inode notifications)
 * while the cache still holds, which is when a cache answers.
 */
class CacheProgramIT {
  private static final ReplyEncoder ENCODER = new ReplyEncoder(UnpooledByteBufAllocator.DEFAULT);

  private final FuseTestSupport fuse = new FuseTestSupport();
  private CacheMaps maps;
  private CacheProgram program;

  @BeforeEach
  void require() {
    FuseTestSupport.requireFuse();
    BpfTestSupport.requireBpf();
    FuseTestSupport.requireTools("stat");
  }

  @AfterEach
  void tearDown() throws Exception {
    fuse.close();
    if (program != null) {
      program.close();
    }
    if (maps != null) {
      maps.close();
    }
  }

  /** One request's outcome on both sides. */
  record Check(String request, Optional<String> bpf, String userSpace, boolean cacheHit) {}

  @Test
  void shadow_everyRequestOnAMount_bpfEqualsLookupCache() throws Exception {
    // One clock for the cache, the mirror and the handler, read once per request (the replies
    // carry the time left until expiry, so both sides must compute it at the same instant).
    AtomicLong clock = new AtomicLong(System.nanoTime());
    maps = CacheMaps.open(CacheMaps.DEFAULT_MAX_ENTRIES, clock::get);
    program = CacheProgram.load(maps);
    LookupCache cache = LookupCacheAccess.withTicker(LookupCache.builder().listener(maps),
        clock::get).build();
    TreeFs backend = new TreeFs();
    List<Check> checks = new CopyOnWriteArrayList<>();
    FuseMount mount = fuse.mount(new ShadowOps(cache.wrap(backend), backend, program, clock,
        checks));
    Path mnt = mount.mountPoint();

    String paths = mnt.resolve("a.txt") + " " + mnt.resolve("dir") + " " + mnt.resolve("dir/b")
        + " " + mnt.resolve("missing");
    FuseTestSupport.sh("stat " + paths + " > /dev/null 2>&1 || true");
    // The kernel forgets, the cache does not: the next stat is answered by the cache. Open files
    // keep a.txt and b in the kernel's inode cache: without them the kernel would FORGET the
    // nodes with their names, and the cache would rightly drop them too.
    try (FileChannel a = FileChannel.open(mnt.resolve("a.txt"));
        FileChannel b = FileChannel.open(mnt.resolve("dir/b"))) {
      for (int round = 0; round < 3; round++) {
        mount.notifier().invalEntry(1, "a.txt", false).block(FuseTestSupport.WAIT);
        mount.notifier().invalEntry(1, "missing", false).block(FuseTestSupport.WAIT);
        mount.notifier().invalEntry(3, "b", false).block(FuseTestSupport.WAIT);
        mount.notifier().invalInode(2, 0, 0).block(FuseTestSupport.WAIT);
        mount.notifier().invalInode(3, 0, 0).block(FuseTestSupport.WAIT);
        FuseTestSupport.sh("stat " + paths + " > /dev/null 2>&1 || true");
      }
      assertTrue(a.isOpen() && b.isOpen(), "the nodes stayed pinned");
    }

    checks.forEach(c -> System.out.println((c.cacheHit() ? "hit  " : "miss ") + c.request()
        + (c.bpf().isPresent() ? "  (BPF served)" : "  (BPF upcall)")));
    assertTrue(checks.stream().anyMatch(c -> !c.cacheHit()), "misses seen: " + checks);
    long lookupHits = checks.stream()
        .filter(c -> c.cacheHit() && c.request().startsWith("LOOKUP")).count();
    long getattrHits = checks.stream()
        .filter(c -> c.cacheHit() && c.request().startsWith("GETATTR")).count();
    assertTrue(lookupHits >= 6 && getattrHits >= 3, "cache hits seen: " + checks);
    for (Check c : checks) {
      if (c.cacheHit()) {
        assertEquals(Optional.of(c.userSpace()), c.bpf(), () -> "reply to " + c.request());
      } else {
        assertEquals(Optional.empty(), c.bpf(), () -> "BPF must upcall " + c.request());
      }
    }
  }

  /**
   * In front of the cache: runs the handler on each LOOKUP and GETATTR, then the cache, with the
   * clock set once for both; records the outcomes. Serialized, so that no other request moves
   * the clock or the maps between the two.
   */
  static final class ShadowOps implements FuseOps {
    private final FuseOps cache;
    private final TreeFs backend;
    private final CacheProgram program;
    private final AtomicLong clock;
    private final List<Check> checks;

    ShadowOps(FuseOps cache, TreeFs backend, CacheProgram program, AtomicLong clock,
        List<Check> checks) {
      this.cache = cache;
      this.backend = backend;
      this.program = program;
      this.clock = clock;
      this.checks = checks;
    }

    @Override
    public Mono<Void> init(FuseSession session) {
      return cache.init(session);
    }

    @Override
    public Mono<Void> init(FuseInit init) {
      return cache.init(init);
    }

    @Override
    public synchronized Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      byte[] name = (req.name() + "\0").getBytes(StandardCharsets.UTF_8);
      byte[] request = kernelRequest(ctx.unique(), 1, req.parent(), name);
      return shadow("LOOKUP " + req.parent() + "/" + req.name(), request,
          () -> cache.lookup(ctx, req), e -> ENCODER.entry(ctx.unique(), e));
    }

    @Override
    public synchronized Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      byte[] request = kernelRequest(ctx.unique(), 3, req.nodeId(), new byte[16]);
      return shadow("GETATTR " + req.nodeId(), request, () -> cache.getattr(ctx, req),
          a -> ENCODER.attr(ctx.unique(), a));
    }

    /** The backend answers at once (Mono.just), so block() here does not wait. */
    private <T> Mono<T> shadow(String what, byte[] request,
        java.util.function.Supplier<Mono<T>> call,
        java.util.function.Function<T, ByteBuf> encode) {
      clock.set(System.nanoTime());
      Optional<String> bpf = program.serve(request, clock.get()).map(HexFormat.of()::formatHex);
      long calls = backend.calls.get();
      T reply;
      ByteBuf bytes;
      try {
        reply = call.get().block();
        bytes = encode.apply(reply);
      } catch (RuntimeException e) {
        long unique = ByteBuffer.wrap(request).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
        checks.add(new Check(what, bpf, hex(ENCODER.error(unique, Errno.from(e).code())),
            backend.calls.get() == calls));
        return Mono.error(e);
      }
      checks.add(new Check(what, bpf, hex(bytes), backend.calls.get() == calls));
      return Mono.just(reply);
    }

    @Override
    public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
      return cache.forget(ctx, req);
    }

    @Override
    public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
      return cache.batchForget(ctx, req);
    }
  }

  private static String hex(ByteBuf buf) {
    try {
      return HexFormat.of().formatHex(ByteBufUtil.getBytes(buf));
    } finally {
      buf.release();
    }
  }

  /** The request bytes as the kernel wrote them: fuse_in_header, then the body. */
  private static byte[] kernelRequest(long unique, int opcode, long node, byte[] body) {
    byte[] req = new byte[40 + body.length];
    ByteBuffer.wrap(req).order(ByteOrder.LITTLE_ENDIAN).putInt(req.length).putInt(opcode)
        .putLong(unique).putLong(node).putInt(0).putInt(0).putInt(1).putInt(0).put(body);
    return req;
  }

  /** / (1) holds a.txt (2) and dir (3); dir holds b (4); "missing" is a negative entry. */
  static final class TreeFs implements FuseOps {
    final AtomicLong calls = new AtomicLong();
    private final Instant t = Instant.ofEpochSecond(1_700_000_000L, 42);

    private Attr attr(long node) {
      return switch ((int) node) {
        case 1 -> Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(3).times(t).build();
        case 2 -> Attr.builder().ino(2).mode(Attr.S_IFREG | 0644).size(5).uid(1000).gid(1000)
            .times(t).build();
        case 3 -> Attr.builder().ino(3).mode(Attr.S_IFDIR | 0700).nlink(2).times(t).build();
        default -> Attr.builder().ino(node).mode(Attr.S_IFREG | 0600).size(1 << 20).times(t)
            .build();
      };
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      calls.incrementAndGet();
      long child = req.parent() == 1 && req.name().equals("a.txt") ? 2
          : req.parent() == 1 && req.name().equals("dir") ? 3
          : req.parent() == 3 && req.name().equals("b") ? 4 : 0;
      // Long timeouts: the kernel asks again only when told to forget.
      return Mono.just(child == 0 ? EntryReply.negative(Duration.ofSeconds(60))
          : new EntryReply(child, 1, attr(child), Duration.ofSeconds(60, 5),
              Duration.ofSeconds(30, 7)));
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      calls.incrementAndGet();
      return Mono.just(new AttrReply(attr(req.nodeId()), Duration.ofSeconds(30, 7)));
    }
  }
}
