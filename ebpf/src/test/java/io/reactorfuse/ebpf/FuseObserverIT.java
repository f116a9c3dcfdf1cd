package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.ops.StatfsReply;
import io.reactorfuse.ops.StatxReply;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The kernel-side observer against the daemon's own counters: a filesystem that counts every
 * request in its FuseOps methods, a scripted workload on a real mount, and the observer's
 * per-opcode counts must equal the daemon's.
 */
class FuseObserverIT {
  /** Opcodes the observer cannot see (not on the traced send path, or before attach). */
  private static final Set<Integer> UNTRACED = Set.of(2, 26, 36, 38, 42);
  private static final int FILES = 20;

  private final FuseTestSupport fuse = new FuseTestSupport();
  private FuseObserver observer;

  @BeforeEach
  void require() {
    FuseTestSupport.requireFuse();
    BpfTestSupport.requireBpf();
    FuseTestSupport.requireTools("stat", "cat", "ls");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (observer != null) {
      observer.close();
    }
    fuse.close();
  }

  @Test
  void snapshot_countsEqualDaemonCounters() throws Exception {
    CountingFs fs = new CountingFs(FILES);
    FuseMount mount = fuse.mount(fs);
    Path mnt = mount.mountPoint();
    observer = FuseObserver.attach(mnt);
    Map<Integer, Long> before = fs.counts();

    // Timeouts are 0: every stat reaches the daemon (a LOOKUP and a GETATTR or STATX each).
    String files = IntStream.range(0, FILES).mapToObj(i -> mnt.resolve("f" + i).toString())
        .collect(Collectors.joining(" "));
    FuseTestSupport.sh("stat " + files + " > /dev/null");
    FuseTestSupport.sh("stat " + files + " > /dev/null");
    assertEquals("content of f3\n", FuseTestSupport.sh("cat " + mnt.resolve("f3")));
    FuseTestSupport.sh("ls " + mnt + " > /dev/null");
    FuseTestSupport.sh("stat " + mnt.resolve("absent") + " 2>&1 || true");

    Map<Integer, Long> daemon = awaitEqual(fs, before);
    Map<Integer, Long> kernel = observed();
    FuseTop.print(System.out, mnt, observer.snapshot(), Map.of());
    assertEquals(daemon, kernel, "per-opcode counts: daemon vs observer");
    // The workload's own arithmetic: every stat looks the name up (2 rounds), plus cat and the
    // missing name.
    assertEquals(2L * FILES + 2, kernel.get(1), "LOOKUP");
    assertTrue(kernel.getOrDefault(3, 0L) > 0, "GETATTR seen");
    assertTrue(kernel.getOrDefault(14, 0L) == 1, "one OPEN");
    assertTrue(kernel.getOrDefault(15, 0L) >= 1, "READ seen");
    assertTrue(kernel.getOrDefault(27, 0L) >= 1, "OPENDIR seen");
    FuseObserver.OpStats lookups = observer.snapshot().get(1);
    assertTrue(lookups.maxNanos() > 0 && lookups.totalNanos() >= lookups.maxNanos(),
        "latencies measured: " + lookups);
  }

  @Test
  void attach_otherMountsNotCounted() throws Exception {
    CountingFs watched = new CountingFs(2);
    CountingFs other = new CountingFs(2);
    Path watchedMnt = fuse.mount(watched).mountPoint();
    Path otherMnt = fuse.mount(other).mountPoint();
    observer = FuseObserver.attach(watchedMnt);
    FuseTestSupport.sh("stat " + otherMnt.resolve("f0") + " " + otherMnt.resolve("f1")
        + " > /dev/null");
    assertEquals(Map.of(), observer.snapshot());
    FuseTestSupport.sh("stat " + watchedMnt.resolve("f0") + " > /dev/null");
    assertEquals(1L, observer.snapshot().get(1).count());
  }

  @Test
  void attach_notFuse_clearError() {
    FuseException e = assertThrows(FuseException.class, () -> FuseObserver.attach(Path.of("/")));
    assertTrue(e.getMessage().contains("not FUSE"), e.getMessage());
  }

  private Map<Integer, Long> observed() {
    Map<Integer, Long> out = new TreeMap<>();
    observer.snapshot().forEach((op, s) -> out.put(op, s.count()));
    return out;
  }

  /**
   * The daemon's counts since {@code before}, once the observer agrees or after a bounded wait:
   * RELEASE is asynchronous, so its end can come after the command exited.
   */
  private Map<Integer, Long> awaitEqual(CountingFs fs, Map<Integer, Long> before)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    Map<Integer, Long> daemon;
    do {
      daemon = new TreeMap<>();
      for (Map.Entry<Integer, Long> e : fs.counts().entrySet()) {
        long n = e.getValue() - before.getOrDefault(e.getKey(), 0L);
        if (n > 0 && !UNTRACED.contains(e.getKey())) {
          daemon.put(e.getKey(), n);
        }
      }
      if (daemon.equals(observed())) {
        return daemon;
      }
      Thread.sleep(50);
    } while (System.nanoTime() < deadline);
    return daemon;
  }

  /**
   * A root directory with files f0..f(n-1) (node ids 2..n+1), timeouts 0, and a counter per
   * opcode in every method the kernel may call; defaults are kept (ENOSYS where FuseOps says so).
   */
  static final class CountingFs implements FuseOps {
    private final Map<Integer, AtomicLong> counts = new ConcurrentHashMap<>();
    private final int n;
    private final Attr root = Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(2).build();

    CountingFs(int n) {
      this.n = n;
    }

    Map<Integer, Long> counts() {
      Map<Integer, Long> out = new TreeMap<>();
      counts.forEach((op, c) -> out.put(op, c.get()));
      return out;
    }

    private void count(int opcode) {
      counts.computeIfAbsent(opcode, k -> new AtomicLong()).incrementAndGet();
    }

    private static byte[] content(long node) {
      return ("content of f" + (node - 2) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private Attr attr(long node) {
      if (node == 1) {
        return root;
      }
      return Attr.builder().ino(node).mode(Attr.S_IFREG | 0644).size(content(node).length)
          .build();
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      count(1);
      String name = req.name();
      if (req.parent() == 1 && name.matches("f\\d+") && Integer.parseInt(name.substring(1)) < n) {
        return Mono.just(EntryReply.of(attr(2 + Integer.parseInt(name.substring(1))),
            Duration.ZERO, Duration.ZERO));
      }
      return Errno.ENOENT.mono();
    }

    @Override
    public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
      count(2);
      return Mono.empty();
    }

    @Override
    public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
      count(42);
      return Mono.empty();
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      count(3);
      return Mono.just(new AttrReply(attr(req.nodeId()), Duration.ZERO));
    }

    @Override
    public Mono<StatxReply> statx(FuseContext ctx, Request.Statx req) {
      count(52);
      return FuseOps.super.statx(ctx, req);
    }

    @Override
    public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
      count(14);
      return FuseOps.super.open(ctx, req);
    }

    @Override
    public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
      count(15);
      byte[] c = content(req.nodeId());
      int from = (int) Math.min(req.offset(), c.length);
      return Mono.just(Unpooled.wrappedBuffer(c, from, Math.min(req.size(), c.length - from)));
    }

    @Override
    public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
      count(17);
      return FuseOps.super.statfs(ctx, req);
    }

    @Override
    public Mono<Void> release(FuseContext ctx, Request.Release req) {
      count(18);
      return FuseOps.super.release(ctx, req);
    }

    @Override
    public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
      count(22);
      return FuseOps.super.getxattr(ctx, req);
    }

    @Override
    public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
      count(23);
      return FuseOps.super.listxattr(ctx, req);
    }

    @Override
    public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
      count(25);
      return FuseOps.super.flush(ctx, req);
    }

    @Override
    public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
      count(27);
      return FuseOps.super.opendir(ctx, req);
    }

    @Override
    public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
      count(28);
      return Flux.range((int) req.offset(), Math.max(0, n - (int) req.offset()))
          .map(i -> new DirEntry(2 + i, i + 1, Attr.S_IFREG >>> 12, "f" + i));
    }

    @Override
    public Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
      count(29);
      return FuseOps.super.releasedir(ctx, req);
    }

    @Override
    public Mono<Void> access(FuseContext ctx, Request.Access req) {
      count(34);
      return FuseOps.super.access(ctx, req);
    }
  }
}
