package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Each notification's effect, seen through the kernel. The filesystem below lets the kernel cache
 * everything for an hour (names, attributes, and pages: FOPEN_KEEP_CACHE) and counts the requests
 * that still reach it, so a notification shows as a request that comes back (or does not).
 */
class NotifierIT {
  private static final long ROOT = 1;
  private static final Duration HOUR = Duration.ofHours(1);

  private FuseTestSupport fuse;
  private final CachingFs fs = new CachingFs();
  private FuseMount mount;
  private FuseNotifier notifier;

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    fuse = new FuseTestSupport();
    mount = fuse.mount(fs);
    notifier = mount.notifier();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
  }

  /** Files by name in the root; node id = ino. Counts LOOKUPs per name, READs and FORGETs per node. */
  static final class CachingFs implements FuseOps {
    final Map<String, Long> names = new ConcurrentHashMap<>();
    final Map<Long, byte[]> content = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> lookups = new ConcurrentHashMap<>();
    final Map<Long, AtomicInteger> reads = new ConcurrentHashMap<>();
    final Map<Long, AtomicInteger> forgets = new ConcurrentHashMap<>();
    private final AtomicInteger nextIno = new AtomicInteger(2);

    long add(String name, byte[] data) {
      long ino = nextIno.getAndIncrement();
      content.put(ino, data);
      names.put(name, ino);
      return ino;
    }

    int lookups(String name) {
      return lookups.computeIfAbsent(name, n -> new AtomicInteger()).get();
    }

    int reads(long ino) {
      return reads.computeIfAbsent(ino, n -> new AtomicInteger()).get();
    }

    int forgets(long ino) {
      return forgets.computeIfAbsent(ino, n -> new AtomicInteger()).get();
    }

    private Attr attr(long ino) {
      if (ino == ROOT) {
        return Attr.builder().ino(ROOT).mode(Attr.S_IFDIR | 0755).nlink(2).build();
      }
      return Attr.builder().ino(ino).mode(Attr.S_IFREG | 0644).nlink(1)
          .size(content.get(ino).length).build();
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      lookups.computeIfAbsent(req.name(), n -> new AtomicInteger()).incrementAndGet();
      Long ino = req.parent() == ROOT ? names.get(req.name()) : null;
      return ino == null ? Errno.ENOENT.mono() : Mono.just(EntryReply.of(attr(ino), HOUR, HOUR));
    }

    @Override
    public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
      forgets.computeIfAbsent(req.nodeId(), n -> new AtomicInteger()).incrementAndGet();
      return Mono.empty();
    }

    @Override
    public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
      req.forgets().forEach(f -> forget(ctx, f));
      return Mono.empty();
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      return Mono.just(new AttrReply(attr(req.nodeId()), HOUR));
    }

    @Override
    public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
      return Mono.just(OpenReply.of(0, OpenReply.FOPEN_KEEP_CACHE));
    }

    @Override
    public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
      reads.computeIfAbsent(req.nodeId(), n -> new AtomicInteger()).incrementAndGet();
      byte[] data = content.get(req.nodeId());
      int from = (int) Math.min(req.offset(), data.length);
      int n = Math.min(req.size(), data.length - from);
      return Mono.just(Unpooled.copiedBuffer(data, from, n));
    }
  }

  private Path path(String name) {
    return mount.mountPoint().resolve(name);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static Errno errnoOf(Mono<?> notification) {
    ErrnoException e = assertThrows(ErrnoException.class, () -> notification.block(WAIT));
    return e.errno();
  }

  private static byte[] drain(ByteBuf buf) {
    try {
      return ByteBufUtil.getBytes(buf);
    } finally {
      buf.release();
    }
  }

  /** Polls {@code condition} until it holds or {@link FuseTestSupport#WAIT} passes. */
  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + WAIT + ": " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void invalEntry_theNextLookupReachesTheDaemon() throws Exception {
    fs.add("a", ascii("a"));
    assertTrue(Files.exists(path("a")));
    assertTrue(Files.exists(path("a")));
    assertEquals(1, fs.lookups("a"), "cached for an hour");

    notifier.invalEntry(ROOT, "a", false).block(WAIT);
    assertTrue(Files.exists(path("a")));
    assertEquals(2, fs.lookups("a"));

    notifier.invalEntry(ROOT, "a", true).block(WAIT); // expire only
    assertTrue(Files.exists(path("a")));
    assertEquals(3, fs.lookups("a"), "an expired entry is revalidated");
  }

  @Test
  void invalEntry_aNameTheKernelHasNotCached_isEnoent() {
    fs.add("never", ascii("x"));
    assertEquals(Errno.ENOENT, errnoOf(notifier.invalEntry(ROOT, "never", false)));
  }

  @Test
  void invalInode_theNextReadReachesTheDaemon() throws Exception {
    long ino = fs.add("i", ascii("one"));
    assertArrayEquals(ascii("one"), Files.readAllBytes(path("i")));
    int reads = fs.reads(ino);
    assertTrue(reads > 0);
    assertArrayEquals(ascii("one"), Files.readAllBytes(path("i")));
    assertEquals(reads, fs.reads(ino), "served from the page cache (FOPEN_KEEP_CACHE)");

    fs.content.put(ino, ascii("two"));
    assertArrayEquals(ascii("one"), Files.readAllBytes(path("i")), "the kernel does not know");
    notifier.invalInode(ino, 0, 0).block(WAIT);
    assertArrayEquals(ascii("two"), Files.readAllBytes(path("i")));
    assertTrue(fs.reads(ino) > reads);
  }

  @Test
  void store_thePageCacheServesTheStoredBytesWithoutARead() throws Exception {
    byte[] daemon = new byte[4096];
    Arrays.fill(daemon, (byte) 'd');
    long ino = fs.add("s", daemon);
    assertTrue(Files.exists(path("s"))); // the kernel knows the node now, nothing is cached
    byte[] stored = new byte[4096];
    Arrays.fill(stored, (byte) 'S');

    notifier.store(ino, 0, Unpooled.wrappedBuffer(stored)).block(WAIT);
    assertArrayEquals(stored, Files.readAllBytes(path("s")));
    assertEquals(0, fs.reads(ino), "no READ reached the daemon");
  }

  @Test
  void retrieve_returnsTheCachedBytes() throws Exception {
    byte[] data = new byte[100];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) ('a' + i % 26);
    }
    long ino = fs.add("r", data);
    assertArrayEquals(data, Files.readAllBytes(path("r"))); // now in the page cache

    assertArrayEquals(data, drain(notifier.retrieve(ino, 0, 4096).block(WAIT)),
        "capped at the file size");
    assertArrayEquals(Arrays.copyOfRange(data, 10, 30),
        drain(notifier.retrieve(ino, 10, 20).block(WAIT)));
    assertEquals(0, drain(notifier.retrieve(ino, 200, 10).block(WAIT)).length, "beyond EOF");
  }

  @Test
  void retrieve_afterStore_returnsTheStoredBytes() throws Exception {
    long ino = fs.add("rs", new byte[8192]);
    assertTrue(Files.exists(path("rs")));
    assertEquals(0, drain(notifier.retrieve(ino, 0, 8192).block(WAIT)).length,
        "a known node with nothing cached: an empty answer");
    byte[] page = new byte[4096];
    Arrays.fill(page, (byte) 7);
    notifier.store(ino, 4096, Unpooled.wrappedBuffer(page)).block(WAIT);
    assertArrayEquals(page, drain(notifier.retrieve(ino, 4096, 4096).block(WAIT)));
    assertEquals(0, fs.reads(ino));
  }

  @Test
  void retrieve_withCloneFds_theAnswerIsMatchedWhicheverFdReadsIt() throws Exception {
    CachingFs cloned = new CachingFs();
    byte[] data = ascii("read by any of four fds");
    long ino = cloned.add("c", data);
    FuseMount m = fuse.mount(cloned, s -> s.threads(4));
    assertArrayEquals(data, Files.readAllBytes(m.mountPoint().resolve("c")));
    for (int i = 0; i < 20; i++) {
      assertArrayEquals(data, drain(m.notifier().retrieve(ino, 0, 4096).block(WAIT)));
    }
  }

  @Test
  void delete_makesTheNameVanish_andUnlinksTheOpenInode() throws Exception {
    long ino = fs.add("d", ascii("doomed"));
    try (FileChannel open = FileChannel.open(path("d"))) {
      assertEquals(1, fs.lookups("d"));
      Path fd = procFdOf(path("d"));
      assertEquals(1, Files.getAttribute(fd, "unix:nlink"));

      fs.names.remove("d"); // the daemon deleted it, then tells the kernel
      notifier.delete(ROOT, ino, "d").block(WAIT);
      assertEquals(0, Files.getAttribute(fd, "unix:nlink"), "the open inode is unlinked");
      assertThrows(NoSuchFileException.class, () -> Files.readAllBytes(path("d")));
      assertEquals(2, fs.lookups("d"), "the name was dropped: the kernel asked again");
    }
  }

  @Test
  void delete_ofANameThatPointsElsewhere_isEnoent_afterDroppingTheName() throws Exception {
    long ino = fs.add("d2", ascii("kept"));
    assertTrue(Files.exists(path("d2")));
    assertEquals(Errno.ENOENT, errnoOf(notifier.delete(ROOT, ino + 100, "d2")));
    assertTrue(Files.exists(path("d2")));
    assertEquals(2, fs.lookups("d2"), "the kernel invalidates the name before checking the child");
  }

  /** The /proc/self/fd link of this process's open file {@code file}. */
  private static Path procFdOf(Path file) throws Exception {
    try (var links = Files.list(Path.of("/proc/self/fd"))) {
      return links.filter(l -> {
        try {
          return Files.readSymbolicLink(l).equals(file);
        } catch (Exception e) {
          return false; // closed meanwhile, or not a link
        }
      }).findFirst().orElseThrow(() -> new AssertionError("no fd open on " + file));
    }
  }

  @Test
  void unknownNode_isEnoent() {
    long unknown = 1_000_000;
    assertEquals(Errno.ENOENT, errnoOf(notifier.invalInode(unknown, 0, 0)));
    assertEquals(Errno.ENOENT, errnoOf(notifier.invalEntry(unknown, "x", false)));
    assertEquals(Errno.ENOENT, errnoOf(notifier.delete(unknown, 5, "x")));
    assertEquals(Errno.ENOENT, errnoOf(notifier.store(unknown, 0, Unpooled.wrappedBuffer(
        new byte[3]))));
    assertEquals(Errno.ENOENT, errnoOf(notifier.retrieve(unknown, 0, 10)));
  }

  @Test
  void incEpoch_cachedNamesAreLookedUpAgain() throws Exception {
    fs.add("e", ascii("e"));
    assertTrue(Files.exists(path("e")));
    assertTrue(Files.exists(path("e")));
    assertEquals(1, fs.lookups("e"));
    notifier.incEpoch().block(WAIT);
    assertTrue(Files.exists(path("e")));
    assertEquals(2, fs.lookups("e"));
  }

  @Test
  void prune_anUnusedNodeIsForgotten() throws Exception {
    long ino = fs.add("p", ascii("p"));
    assertTrue(Files.exists(path("p")));
    assertEquals(0, fs.forgets(ino));
    notifier.prune(ino, 1_000_000).block(WAIT); // an unknown node is skipped
    await("FORGET of the pruned node", () -> fs.forgets(ino) == 1);
  }

  @Test
  void afterUnmount_notificationsFailWithEnodev() {
    FuseNotifier n = mount.notifier();
    mount.unmount().block(WAIT);
    assertEquals(Errno.ENODEV, errnoOf(n.invalInode(ROOT, 0, 0)));
    assertEquals(Errno.ENODEV, errnoOf(n.retrieve(ROOT, 0, 10)));
  }

  @Test
  void pollWakeup_andResend_withNothingWaiting_succeed() {
    notifier.pollWakeup(12345).block(WAIT);
    notifier.resend().block(WAIT);
    assertFalse(mount.isDisposed());
  }
}
