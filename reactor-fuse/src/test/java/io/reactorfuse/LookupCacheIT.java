package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The cache on a real mount. The backend lets everything be cached for 10 s and counts the
 * requests that reach it; the kernel's own caches are bypassed where the kernel allows it
 * ({@code stat --cached=never} forces GETATTR, an exclusive create forces a LOOKUP), so what the
 * counts show is the userspace cache answering.
 */
class LookupCacheIT {
  private static final long ROOT = Request.ROOT_ID;
  private static final Duration TEN_S = Duration.ofSeconds(10);

  private FuseTestSupport fuse;
  private final TenSecondFs fs = new TenSecondFs();
  private LookupCache cache;
  private FuseMount mount;

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    FuseTestSupport.requireTools("stat");
    fuse = new FuseTestSupport();
    cache = LookupCache.builder().build();
    mount = fuse.mount(cache.wrap(fs));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
    assertEquals(List.of(), fs.violations);
  }

  /** Files in the root by name; node id = ino; counts LOOKUPs per name, GETATTRs per node. */
  static final class TenSecondFs implements FuseOps {
    final Map<String, Long> names = new ConcurrentHashMap<>();
    final Map<Long, Long> sizes = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> lookups = new ConcurrentHashMap<>();
    final Map<Long, AtomicInteger> getattrs = new ConcurrentHashMap<>();
    final Map<Long, AtomicInteger> held = new ConcurrentHashMap<>();
    final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger nextIno = new AtomicInteger(2);

    long add(String name, long size) {
      long ino = nextIno.getAndIncrement();
      sizes.put(ino, size);
      names.put(name, ino);
      return ino;
    }

    int lookups(String name) {
      return lookups.computeIfAbsent(name, n -> new AtomicInteger()).get();
    }

    int getattrs(long ino) {
      return getattrs.computeIfAbsent(ino, n -> new AtomicInteger()).get();
    }

    private Attr attr(long ino) {
      if (ino == ROOT) {
        return Attr.builder().ino(ROOT).mode(Attr.S_IFDIR | 0755).nlink(2).build();
      }
      return Attr.builder().ino(ino).mode(Attr.S_IFREG | 0644).size(sizes.get(ino)).build();
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      lookups.computeIfAbsent(req.name(), n -> new AtomicInteger()).incrementAndGet();
      Long ino = req.parent() == ROOT ? names.get(req.name()) : null;
      if (ino == null) {
        return Mono.just(EntryReply.negative(TEN_S));
      }
      held.computeIfAbsent(ino, n -> new AtomicInteger()).incrementAndGet();
      return Mono.just(EntryReply.of(attr(ino), TEN_S, TEN_S));
    }

    @Override
    public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
      int left = held.computeIfAbsent(req.nodeId(), n -> new AtomicInteger())
          .addAndGet((int) -req.nlookup());
      if (left < 0) {
        violations.add("FORGET beyond the lookups answered: " + req + " leaves " + left);
      }
      return Mono.empty();
    }

    @Override
    public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
      req.forgets().forEach(f -> forget(ctx, f));
      return Mono.empty();
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      getattrs.computeIfAbsent(req.nodeId(), n -> new AtomicInteger()).incrementAndGet();
      if (req.nodeId() != ROOT && !sizes.containsKey(req.nodeId())) {
        return Errno.ENOENT.mono();
      }
      return Mono.just(new AttrReply(attr(req.nodeId()), TEN_S));
    }

    @Override
    public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
      List<DirEntry> l = new ArrayList<>();
      names.forEach((n, ino) -> l.add(new DirEntry(ino, l.size() + 1, Attr.S_IFREG >>> 12, n)));
      return Flux.fromIterable(l).skip(req.offset());
    }
  }

  private Path path(String name) {
    return mount.mountPoint().resolve(name);
  }

  /** stat(1) with AT_STATX_FORCE_SYNC: the kernel asks for the attributes even if it has them. */
  private long statSizeNoKernelCache(String name) throws Exception {
    return Long.parseLong(FuseTestSupport.sh("stat --cached=never -c %s " + path(name)).trim());
  }

  @Test
  void stat_ofTheSamePaths_reachesTheBackendOnce() throws Exception {
    long a = fs.add("a", 5);
    long b = fs.add("b", 7);
    for (int i = 0; i < 3; i++) {
      assertEquals(5, statSizeNoKernelCache("a"));
      assertEquals(7, statSizeNoKernelCache("b"));
      assertFalse(Files.exists(path("missing")));
    }
    assertEquals(1, fs.lookups("a"));
    assertEquals(1, fs.lookups("b"));
    assertEquals(1, fs.lookups("missing"));
    assertEquals(0, fs.getattrs(a), "every forced GETATTR was answered by the cache");
    assertEquals(0, fs.getattrs(b));
    assertTrue(cache.stats().attrHits() >= 6, cache.stats().toString());

    // An exclusive create makes the kernel look the name up again, cached dentry or not.
    for (int i = 0; i < 3; i++) {
      assertThrows(FileAlreadyExistsException.class, () -> Files.createFile(path("a")));
    }
    assertEquals(1, fs.lookups("a"), "the lookups the kernel forced were answered by the cache");
    assertTrue(cache.stats().entryHits() >= 3, cache.stats().toString());
  }

  @Test
  void invalidateEntry_theKernelAndTheCacheSeeTheNewState() throws Exception {
    fs.add("a", 5);
    assertEquals(5, statSizeNoKernelCache("a"));
    assertEquals(5, statSizeNoKernelCache("a"));
    assertFalse(Files.exists(path("new")));

    // Another client replaces a and creates new; the backend tells the cache.
    long replaced = fs.add("a", 9);
    fs.add("new", 3);
    cache.invalidateEntry(ROOT, "a").block(WAIT);
    cache.invalidateEntry(ROOT, "new").block(WAIT);

    assertEquals(9, statSizeNoKernelCache("a"));
    assertEquals(replaced, Files.getAttribute(path("a"), "unix:ino"));
    assertTrue(Files.exists(path("new")));
    assertEquals(2, fs.lookups("a"));
    assertEquals(2, fs.lookups("new"));
    assertEquals(9, statSizeNoKernelCache("a"));
    assertEquals(2, fs.lookups("a"), "cached again");
  }

  @Test
  void invalidateNode_theKernelAndTheCacheSeeTheNewAttributes() throws Exception {
    long a = fs.add("a", 5);
    assertEquals(5, Files.size(path("a")));
    assertEquals(5, statSizeNoKernelCache("a"));
    fs.sizes.put(a, 11L);
    assertEquals(5, Files.size(path("a")), "both caches still hold the old size");
    cache.invalidateNode(a).block(WAIT);
    assertEquals(11, Files.size(path("a")));
    assertEquals(11, statSizeNoKernelCache("a"));
    assertEquals(1, fs.getattrs(a));
  }
}
