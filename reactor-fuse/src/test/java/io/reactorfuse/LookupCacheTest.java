package io.reactorfuse;

import static io.reactorfuse.CacheTesting.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.reactorfuse.CacheTesting.FakeSession;
import io.reactorfuse.CacheTesting.FakeTicker;
import io.reactorfuse.CacheTesting.Held;
import io.reactorfuse.CacheTesting.Mirror;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import io.reactorfuse.spi.CacheListener;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The cache through direct calls on the wrapped {@link FuseOps}, in front of {@link ModelFs}:
 * what is cached, for how long, what each mutation drops, lookup counts, telling the kernel.
 * After each test the listener's mirror must equal the cache and the backend must have seen no
 * FORGET it did not count.
 */
class LookupCacheTest {
  private static final long ROOT = ModelFs.ROOT;
  private static final Duration T = Duration.ofSeconds(10);
  private static final int FILE = Attr.S_IFREG | 0644;

  private final FakeTicker ticker = new FakeTicker();
  private final Mirror mirror = new Mirror(ticker);
  private final Map<Long, Long> kernel = new HashMap<>();
  private ModelFs fs;
  private LookupCache cache;
  private FuseOps ops;

  private void start(Duration entry, Duration attr, Duration negative) {
    start(new ModelFs(entry, attr, negative), LookupCache.builder());
  }

  private void start(ModelFs model, LookupCache.Builder settings) {
    fs = model;
    cache = settings.listener(mirror).ticker(ticker).build();
    ops = cache.wrap(fs);
  }

  @AfterEach
  void mirrorAndCountsHold() {
    if (cache != null) {
      mirror.assertMirrors(cache, "after the test");
      assertEquals(0, cache.core().pendingTotal());
      assertEquals(List.of(), fs.violations);
    }
  }

  // --- the kernel's side: calls, and the lookups it holds ---------------------------------------

  private EntryReply lookup(long parent, String name) {
    EntryReply e = ops.lookup(ctx(), new Request.Lookup(parent, name)).block();
    counted(e);
    return e;
  }

  private void counted(EntryReply e) {
    if (e != null && e.nodeId() != 0) {
      kernel.merge(e.nodeId(), 1L, Long::sum);
    }
  }

  private Errno lookupError(long parent, String name) {
    ErrnoException e = assertThrows(ErrnoException.class,
        () -> ops.lookup(ctx(), new Request.Lookup(parent, name)).block());
    return e.errno();
  }

  private Attr getattr(long n) {
    return ops.getattr(ctx(), new Request.Getattr(n, 0, 0)).block().attr();
  }

  private AttrReply getattrReply(long n) {
    return ops.getattr(ctx(), new Request.Getattr(n, 0, 0)).block();
  }

  private void forget(long n, long k) {
    ops.forget(ctx(), new Request.Forget(n, k)).block();
    kernel.merge(n, -k, Long::sum);
  }

  private void forgetEverything() {
    for (Map.Entry<Long, Long> e : new ArrayList<>(kernel.entrySet())) {
      if (e.getValue() > 0) {
        forget(e.getKey(), e.getValue());
      }
    }
  }

  /**
   * The kernel forgets everything and then every cached item expires: only then has the backend
   * got back every lookup (the cache keeps one of each node an entry names).
   */
  private void forgetEverythingAndEmpty() {
    forgetEverything();
    ticker.advance(Duration.ofDays(1));
    cache.core().cleanUp();
  }

  /** The old rule: the backend's count reaches zero exactly when the kernel's does. */
  private void startWithoutRetention() {
    start(new ModelFs(T, T, T), LookupCache.builder().retainForgottenNodes(false));
  }

  private EntryReply mknod(long parent, String name) {
    EntryReply e = ops.mknod(ctx(), new Request.Mknod(parent, name, FILE, 0, 0)).block();
    counted(e);
    return e;
  }

  private EntryReply mkdir(long parent, String name) {
    EntryReply e = ops.mkdir(ctx(), new Request.Mkdir(parent, name, 0755, 0)).block();
    counted(e);
    return e;
  }

  private static Request.Setattr truncate(long n, long size) {
    return new Request.Setattr(n, Request.Setattr.FATTR_SIZE, 0, size, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0);
  }

  // --- hits, misses, negative entries, expiry ---------------------------------------------------

  @Test
  void lookup_secondLookupIsServedFromTheCache() {
    start(T, T, T);
    long a = fs.addOutside(ROOT, "a", FILE);
    EntryReply first = lookup(ROOT, "a");
    EntryReply second = lookup(ROOT, "a");
    assertEquals(1, fs.calls("lookup"));
    assertEquals(a, second.nodeId());
    assertEquals(first.attr(), second.attr());
    assertEquals(new LookupCache.Stats(1, 0, 1, 0, 0, 0, 0, 0, 0), cache.stats());
  }

  @Test
  void lookup_negativeEntryIsCached() {
    start(T, T, T);
    assertEquals(0, lookup(ROOT, "missing").nodeId());
    assertEquals(0, lookup(ROOT, "missing").nodeId());
    assertEquals(1, fs.calls("lookup"));
    assertEquals(1, cache.stats().negativeHits());
    assertEquals(0, cache.stats().entryHits());
  }

  @Test
  void lookup_enoentIsNotCached() {
    start(T, T, Duration.ZERO);
    assertEquals(Errno.ENOENT, lookupError(ROOT, "missing"));
    assertEquals(Errno.ENOENT, lookupError(ROOT, "missing"));
    assertEquals(2, fs.calls("lookup"));
  }

  @Test
  void lookup_zeroTimeoutIsNotCached() {
    start(Duration.ZERO, Duration.ZERO, Duration.ZERO);
    fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    lookup(ROOT, "a");
    getattr(ROOT);
    getattr(ROOT);
    assertEquals(2, fs.calls("lookup"));
    assertEquals(2, fs.calls("getattr"));
    assertEquals(Map.of(), cache.core().snapshot().entries());
  }

  @Test
  void lookup_entryExpiresAtItsEntryTimeout() {
    start(T, T, T);
    fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    ticker.advance(T.minusMillis(1));
    lookup(ROOT, "a");
    assertEquals(1, fs.calls("lookup"));
    ticker.advance(Duration.ofMillis(1));
    lookup(ROOT, "a");
    assertEquals(2, fs.calls("lookup"), "expired at the timeout");
  }

  @Test
  void lookup_hitCarriesTheTimeLeft() {
    start(T, T.multipliedBy(2), T);
    fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    lookup(ROOT, "missing");
    ticker.advance(Duration.ofSeconds(4));
    EntryReply hit = lookup(ROOT, "a");
    assertEquals(Duration.ofSeconds(6), hit.entryTimeout());
    assertEquals(Duration.ofSeconds(16), hit.attrTimeout());
    assertEquals(Duration.ofSeconds(6), lookup(ROOT, "missing").entryTimeout());
    ticker.advance(Duration.ofSeconds(1));
    assertEquals(Duration.ofSeconds(5), lookup(ROOT, "missing").entryTimeout());
  }

  @Test
  void lookup_withTheNodesAttrsExpired_goesToTheBackend() {
    // The entry's own attributes may be older than a write since: never served alone.
    start(T, Duration.ofSeconds(1), T);
    fs.addOutside(ROOT, "a", FILE);
    long a = lookup(ROOT, "a").nodeId();
    ticker.advance(Duration.ofSeconds(2));
    lookup(ROOT, "a");
    assertEquals(2, fs.calls("lookup"));
    ticker.advance(Duration.ofSeconds(2));
    getattr(a); // attributes again: the entry, still valid, answers once more
    lookup(ROOT, "a");
    assertEquals(2, fs.calls("lookup"));
    assertEquals(1, cache.stats().entryHits());
    forgetEverything();
  }

  @Test
  void lookup_dotAndDotDotAreCountedButNotCached() {
    start(T, T, T);
    long d = mkdir(ROOT, "d").nodeId();
    ModelFs model = fs;
    // ModelFs has no "..": answer it like a backend that resolves it to the parent.
    FuseOps dots = new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext c, Request.Lookup req) {
        return model.lookup(c, new Request.Lookup(ROOT, "d"));
      }
    };
    LookupCache second = LookupCache.builder().ticker(ticker).build();
    FuseOps wrapped = second.wrap(dots);
    wrapped.lookup(ctx(), new Request.Lookup(d, "..")).block();
    wrapped.lookup(ctx(), new Request.Lookup(d, "..")).block();
    assertEquals(2, second.stats().entryMisses());
    assertEquals(Map.of(), second.core().snapshot().entries());
    assertEquals(2, second.core().counts(d)[1]);
    fs.forget(ctx(), new Request.Forget(d, 2)).block(); // the second cache's lookups
  }

  @Test
  void getattr_isServedFromTheCacheUntilItsTimeout() {
    start(T, T, T);
    Attr root = getattr(ROOT);
    assertEquals(root, getattr(ROOT));
    assertEquals(1, fs.calls("getattr"));
    ticker.advance(T);
    getattr(ROOT);
    assertEquals(2, fs.calls("getattr"));
    cache.core().cleanUp();
    assertEquals(new LookupCache.Stats(0, 0, 0, 0, 0, 1, 2, 0, 1), cache.stats());
  }

  @Test
  void getattr_afterALookup_isServedFromTheEntrysAttrs() {
    start(T, T, T);
    fs.addOutside(ROOT, "a", FILE);
    long a = lookup(ROOT, "a").nodeId();
    assertEquals(fs.attrOf(a), getattr(a));
    assertEquals(0, fs.calls("getattr"));
  }

  @Test
  void stats_countEvictionsAtTheSizeBound() {
    start(new ModelFs(T, T, T), LookupCache.builder().maximumEntries(2).maximumAttrs(2));
    for (String name : List.of("a", "b", "c", "d", "e")) {
      lookup(ROOT, name);
      getattr(ROOT);
      fs.addOutside(ROOT, "x" + name, FILE);
      getattr(lookup(ROOT, "x" + name).nodeId());
    }
    cache.core().cleanUp();
    LookupCache.Stats s = cache.stats();
    assertTrue(s.entryEvictions() >= 8, s.toString());
    assertTrue(s.attrEvictions() >= 3, s.toString());
    assertTrue(cache.core().snapshot().entries().size() <= 2);
    mirror.assertMirrors(cache, "after evictions");
    forgetEverything();
  }

  // --- mutations --------------------------------------------------------------------------------

  /** A creation through the cache, by name; returns the new entry. */
  private EntryReply create(String how, long parent, String name, long linkTarget) {
    FuseContext c = ctx();
    EntryReply e;
    switch (how) {
      case "mknod": e = ops.mknod(c, new Request.Mknod(parent, name, FILE, 0, 0)).block(); break;
      case "mkdir": e = ops.mkdir(c, new Request.Mkdir(parent, name, 0755, 0)).block(); break;
      case "symlink":
        e = ops.symlink(c, new Request.Symlink(parent, name, "target")).block();
        break;
      case "create":
        e = ops.create(c, new Request.Create(parent, name, 0, 0644, 0, 0)).block().entry();
        break;
      case "link": e = ops.link(c, new Request.Link(linkTarget, parent, name)).block(); break;
      default: throw new AssertionError(how);
    }
    counted(e);
    return e;
  }

  @Test
  void creation_dropsTheNegativeEntryAndTheDirsAttrs_andCachesTheNewEntry() {
    for (String how : List.of("mknod", "mkdir", "symlink", "create", "link")) {
      start(T, T, T);
      long target = mknod(ROOT, "target").nodeId();
      long d = mkdir(ROOT, "d").nodeId();
      assertEquals(0, lookup(d, "new").nodeId());
      getattr(d);
      getattr(target);
      int lookups = fs.calls("lookup");
      int getattrs = fs.calls("getattr");

      EntryReply made = create(how, d, "new", target);

      EntryReply seen = lookup(d, "new");
      assertEquals(made.nodeId(), seen.nodeId(), how);
      assertEquals(lookups, fs.calls("lookup"), how + ": the new entry is cached");
      assertEquals(fs.attrOf(d), getattr(d), how + ": the directory's mtime changed");
      assertEquals(getattrs + 1, fs.calls("getattr"), how);
      assertEquals(fs.attrOf(target), getattr(target), how + ": a link changes nlink");
      assertEquals(how.equals("link") ? 2 : 1, getattr(target).nlink(), how);
      mirror.assertMirrors(cache, how);
      forgetEverythingAndEmpty();
      assertEquals(List.of(), fs.looked(), how);
      assertEquals(List.of(), fs.violations, how);
      kernel.clear();
    }
  }

  @Test
  void unlink_dropsTheEntryTheDirsAttrsAndTheRemovedNodesAttrs() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    lookup(ROOT, "a");
    getattr(ROOT);
    assertEquals(1, getattr(a).nlink());
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    assertEquals(0, lookup(ROOT, "a").nodeId());
    assertEquals(fs.attrOf(ROOT), getattr(ROOT));
    assertEquals(0, getattr(a).nlink());
    forgetEverything();
  }

  @Test
  void unlink_ofANameWhoseEntryExpired_stillDropsTheNodesAttrs() {
    // The entry is gone but the kernel still holds the name; the attrs are cached by node id.
    start(Duration.ofSeconds(1), T, T);
    long a = mknod(ROOT, "a").nodeId();
    ticker.advance(Duration.ofSeconds(2));
    cache.core().cleanUp();
    assertEquals(1, getattr(a).nlink());
    int getattrs = fs.calls("getattr");
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    assertEquals(0, getattr(a).nlink());
    assertEquals(getattrs + 1, fs.calls("getattr"));
    forgetEverything();
  }

  @Test
  void rmdir_dropsTheEntryAndBothDirsAttrs() {
    start(T, T, T);
    long d = mkdir(ROOT, "d").nodeId();
    assertEquals(3, getattr(ROOT).nlink());
    getattr(d);
    ops.rmdir(ctx(), new Request.Rmdir(ROOT, "d")).block();
    assertEquals(2, getattr(ROOT).nlink());
    assertEquals(0, getattr(d).nlink());
    assertEquals(0, lookup(ROOT, "d").nodeId());
    forgetEverything();
  }

  @Test
  void rename_dropsBothNamesBothDirsAndTheReplacedNode() {
    start(T, T, T);
    long d1 = mkdir(ROOT, "d1").nodeId();
    long d2 = mkdir(ROOT, "d2").nodeId();
    long a = mknod(d1, "a").nodeId();
    long b = mknod(d2, "b").nodeId();
    getattr(d1);
    getattr(d2);
    getattr(b);
    ops.rename(ctx(), new Request.Rename(d1, "a", d2, "b", 0)).block();
    assertEquals(0, lookup(d1, "a").nodeId());
    assertEquals(a, lookup(d2, "b").nodeId());
    assertEquals(fs.attrOf(d1), getattr(d1));
    assertEquals(fs.attrOf(d2), getattr(d2));
    assertEquals(0, getattr(b).nlink());
    assertEquals(fs.attrOf(a), getattr(a), "the moved node's ctime");
    forgetEverything();
  }

  @Test
  void rename2Exchange_swapsBothEntries() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    long b = mknod(ROOT, "b").nodeId();
    getattr(a);
    getattr(b);
    ops.rename2(ctx(), new Request.Rename(ROOT, "a", ROOT, "b",
        Request.Rename.RENAME_EXCHANGE)).block();
    assertEquals(b, lookup(ROOT, "a").nodeId());
    assertEquals(a, lookup(ROOT, "b").nodeId());
    assertEquals(fs.attrOf(a), getattr(a));
    assertEquals(fs.attrOf(b), getattr(b));
    // Later removals must still find both nodes under their new names.
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    assertEquals(0, getattr(b).nlink());
    forgetEverything();
  }

  @Test
  void rename_ontoAnotherNameOfTheSameFile_forgetsNeitherName() {
    // POSIX: renaming a file onto one of its other names does nothing; both names remain.
    start(T, T, T);
    long n = mknod(ROOT, "a").nodeId();
    counted(ops.link(ctx(), new Request.Link(n, ROOT, "b")).block());
    ops.rename(ctx(), new Request.Rename(ROOT, "a", ROOT, "b", 0)).block();
    assertEquals(2, getattr(n).nlink());
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block(); // its dentry is still the kernel's
    assertEquals(1, getattr(n).nlink());
    ops.rename(ctx(), new Request.Rename(ROOT, "b", ROOT, "b", 0)).block();
    getattr(n);
    ops.unlink(ctx(), new Request.Unlink(ROOT, "b")).block();
    assertEquals(0, getattr(n).nlink());
    forgetEverything();
  }

  @Test
  void setattr_cachesTheRepliedAttrs() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    getattr(a);
    AttrReply r = ops.setattr(ctx(), truncate(a, 5)).block();
    assertEquals(5, r.attr().size());
    assertEquals(r.attr(), getattr(a));
    assertEquals(0, fs.calls("getattr"));
    forgetEverything();
  }

  @Test
  void dataAndXattrOps_dropTheNodesAttrs() {
    Map<String, Consumer<Long>> mutations = new java.util.LinkedHashMap<>();
    mutations.put("write", n -> ops.write(ctx(), new Request.Write(n, 0, 100, 0, 0, 0,
        Unpooled.wrappedBuffer(new byte[7]))).block());
    mutations.put("fallocate", n -> ops.fallocate(ctx(),
        new Request.Fallocate(n, 0, 0, 4096, 0)).block());
    mutations.put("copyFileRange", n -> ops.copyFileRange(ctx(),
        new Request.CopyFileRange(ROOT, 0, 0, n, 0, 50, 10, 0)).block());
    mutations.put("setxattr", n -> ops.setxattr(ctx(),
        new Request.Setxattr(n, "user.x", new byte[1], 0, 0)).block());
    mutations.put("removexattr", n -> ops.removexattr(ctx(),
        new Request.Removexattr(n, "user.x")).block());
    mutations.put("open O_TRUNC", n -> ops.open(ctx(), new Request.Open(n, 01001, 0)).block());
    mutations.put("ioctl (ENOSYS)", n -> assertThrows(ErrnoException.class, () -> ops.ioctl(ctx(),
        new Request.Ioctl(n, 0, 0, 0, 0, 0, 0, new byte[0])).block()));
    for (Map.Entry<String, Consumer<Long>> m : mutations.entrySet()) {
      start(T, T, T);
      long a = mknod(ROOT, "a").nodeId();
      ops.write(ctx(), new Request.Write(a, 0, 0, 0, 0, 0, Unpooled.wrappedBuffer(new byte[3])))
          .block();
      getattr(a);
      int getattrs = fs.calls("getattr");
      m.getValue().accept(a);
      assertEquals(fs.attrOf(a), getattr(a), m.getKey());
      assertEquals(getattrs + 1, fs.calls("getattr"), m.getKey());
      forgetEverything();
      kernel.clear();
    }
  }

  @Test
  void open_withoutOTrunc_dropsNothing() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    getattr(a);
    ops.open(ctx(), new Request.Open(a, 0, 0)).block();
    getattr(a);
    assertEquals(0, fs.calls("getattr"));
    forgetEverything();
  }

  @Test
  void mutation_thatFails_stillDropsWhatItTouches() {
    start(T, T, T);
    long d = mkdir(ROOT, "d").nodeId();
    mknod(d, "f");
    getattr(ROOT);
    assertThrows(ErrnoException.class,
        () -> ops.rmdir(ctx(), new Request.Rmdir(ROOT, "d")).block());
    getattr(ROOT);
    assertEquals(2, fs.calls("getattr"), "dropped although the rmdir failed");
    assertEquals(d, lookup(ROOT, "d").nodeId());
    forgetEverything();
  }

  // --- fills that race with mutations -----------------------------------------------------------

  @Test
  void lookup_startedBeforeAnUnlink_isNotCached() {
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of("lookup"));
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    long a = model.addOutside(ROOT, "a", FILE);

    List<EntryReply> stale = new ArrayList<>();
    ops.lookup(ctx(), new Request.Lookup(ROOT, "a")).subscribe(stale::add);
    held.methods = Set.of();
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    held.release("lookup"); // the answer read before the unlink arrives after it
    assertEquals(a, stale.get(0).nodeId(), "passed on: it was true during the call");
    counted(stale.get(0));

    assertEquals(0, lookup(ROOT, "a").nodeId(), "but not cached");
    assertEquals(2, model.calls("lookup"));
    forgetEverything();
  }

  @Test
  void getattr_startedBeforeAWrite_isNotCached() {
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of());
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    long a = mknod(ROOT, "a").nodeId();
    cache.invalidateNode(a).block();

    held.methods = Set.of("getattr");
    List<AttrReply> stale = new ArrayList<>();
    ops.getattr(ctx(), new Request.Getattr(a, 0, 0)).subscribe(stale::add);
    held.methods = Set.of();
    ops.write(ctx(), new Request.Write(a, 0, 0, 0, 0, 0, Unpooled.wrappedBuffer(new byte[9])))
        .block();
    held.release("getattr");
    assertEquals(0, stale.get(0).attr().size());
    assertEquals(9, getattr(a).size());
    forgetEverything();
  }

  @Test
  void lookup_startedBeforeAnUnlinkOfItsName_doesNotCacheTheNodesAttrs() {
    // The unlink did not know which node it removed (the lookup's answer was still on its way):
    // the answer's attributes (nlink 1) must not be cached either.
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of("lookup"));
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    long a = model.addOutside(ROOT, "a", FILE);
    List<EntryReply> stale = new ArrayList<>();
    ops.lookup(ctx(), new Request.Lookup(ROOT, "a")).subscribe(stale::add);
    held.methods = Set.of();
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    held.release("lookup");
    counted(stale.get(0));
    assertEquals(0, getattr(a).nlink());
    forgetEverything();
  }

  @Test
  void lookup_whileAMutationIsInFlight_goesToTheBackend() {
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of());
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    long a = mknod(ROOT, "a").nodeId();
    getattr(a);

    held.methods = Set.of("setattr");
    List<AttrReply> done = new ArrayList<>();
    ops.setattr(ctx(), truncate(a, 3)).subscribe(done::add); // applied, reply held
    held.methods = Set.of();
    assertEquals(3, getattr(a).size(), "not the cached size 0");
    assertEquals(1, model.calls("getattr"));
    lookup(ROOT, "a");
    assertEquals(1, model.calls("lookup"), "the entry's node is being changed");
    held.release("setattr");
    assertEquals(1, done.size());
    assertEquals(3, getattr(a).size());
    forgetEverything();
  }

  @Test
  void creation_racingWithAnotherOnTheSameName_cachesNeither() {
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of("mknod", "unlink"));
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    List<EntryReply> made = new ArrayList<>();
    ops.mknod(ctx(), new Request.Mknod(ROOT, "a", FILE, 0, 0)).subscribe(made::add);
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).subscribe();
    held.release("unlink"); // completes first, but ran after the mknod
    held.release("mknod");
    counted(made.get(0));
    held.methods = Set.of();
    assertEquals(0, lookup(ROOT, "a").nodeId(), "the mknod's entry must not be cached");
    forgetEverything();
  }

  /** A cache in front of {@code model} whose replies to {@code heldMethods} wait. */
  private Held heldBackend(ModelFs model, Set<String> heldMethods) {
    Held held = new Held(model, heldMethods);
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    return held;
  }

  @Test
  void unlink_racingWithACreationOfTheSameName_stillKnowsTheNewNode() {
    Held held = heldBackend(new ModelFs(T, T, T), Set.of());
    long old = mknod(ROOT, "k").nodeId();
    held.methods = Set.of("unlink", "mknod");
    ops.unlink(ctx(), new Request.Unlink(ROOT, "k")).subscribe(); // done, answer held
    List<EntryReply> made = new ArrayList<>();
    ops.mknod(ctx(), new Request.Mknod(ROOT, "k", FILE, 0, 0)).subscribe(made::add);
    held.release("mknod"); // answers first
    held.release("unlink");
    held.methods = Set.of();
    long n = made.get(0).nodeId();
    counted(made.get(0));
    assertEquals(1, getattr(n).nlink());
    // The kernel holds k -> n from the mknod's answer: it unlinks without looking k up again.
    ops.unlink(ctx(), new Request.Unlink(ROOT, "k")).block();
    assertEquals(0, getattr(n).nlink(), "which node k named was not forgotten");
    assertEquals(0, getattr(old).nlink());
    forgetEverything();
  }

  @Test
  void creation_racingWithARenameOntoItsName_keepsTheRenamedNodeKnown() {
    Held held = heldBackend(new ModelFs(T, T, T), Set.of());
    long m = mknod(ROOT, "x").nodeId();
    held.methods = Set.of("mknod", "rename");
    List<EntryReply> made = new ArrayList<>();
    ops.mknod(ctx(), new Request.Mknod(ROOT, "k", FILE, 0, 0)).subscribe(made::add);
    ops.rename(ctx(), new Request.Rename(ROOT, "x", ROOT, "k", 0)).subscribe(); // replaces it
    held.release("rename"); // answers first
    held.release("mknod");
    held.methods = Set.of();
    counted(made.get(0));
    assertEquals(1, getattr(m).nlink());
    // The kernel holds k -> m from the rename: it unlinks without looking k up again.
    ops.unlink(ctx(), new Request.Unlink(ROOT, "k")).block();
    assertEquals(0, getattr(m).nlink(), "which node k named was not forgotten");
    forgetEverything();
  }

  // --- lookup counts ----------------------------------------------------------------------------

  @Test
  void forget_takesTheCachesShareFirst() {
    startWithoutRetention();
    fs.addOutside(ROOT, "a", FILE);
    long a = lookup(ROOT, "a").nodeId();
    lookup(ROOT, "a");
    lookup(ROOT, "a");
    assertEquals(1, fs.lookups(a));
    forget(a, 2);
    assertEquals(0, fs.calls("forget"), "both were the cache's");
    assertEquals(1, fs.lookups(a));
    forget(a, 1);
    assertEquals(0, fs.lookups(a));
    assertEquals(Map.of(a, 3L), mirror.forgotten);
  }

  @Test
  void forget_lookupCountsStayExact() {
    start(T, T, T);
    Random rnd = new Random(42);
    List<String> names = List.of("a", "b", "c");
    for (String n : names) {
      fs.addOutside(ROOT, n, FILE);
    }
    for (int i = 0; i < 500; i++) {
      String name = names.get(rnd.nextInt(names.size()));
      long n = fs.nodeAt(ROOT, name);
      if (rnd.nextInt(3) == 0 && kernel.getOrDefault(n, 0L) > 0) {
        forget(n, 1 + rnd.nextInt((int) (long) kernel.get(n)));
      } else {
        lookup(ROOT, name);
      }
      if (rnd.nextInt(10) == 0) {
        ticker.advance(Duration.ofSeconds(3));
      }
    }
    assertTrue(cache.stats().entryHits() > 100, cache.stats().toString());
    forgetEverythingAndEmpty();
    assertEquals(List.of(), fs.looked());
    assertEquals(fs.served, fs.forgotten);
    assertEquals(Set.of(), cache.core().trackedNodes());
  }

  @Test
  void forget_theLastOne_dropsEveryEntryAndTheAttrsOfTheNode() {
    startWithoutRetention();
    long a = mknod(ROOT, "a").nodeId();
    ops.link(ctx(), new Request.Link(a, ROOT, "b")).block();
    kernel.merge(a, 1L, Long::sum);
    lookup(ROOT, "a");
    assertEquals(2, cache.core().snapshot().entries().size());
    forget(a, 2);
    assertEquals(2, cache.core().snapshot().entries().size(), "the backend still counts one");
    forget(a, 1);
    CacheCore.Snapshot s = cache.core().snapshot();
    assertEquals(Map.of(), s.entries());
    assertEquals(Set.of(), s.attrs().keySet());
    assertEquals(0, fs.lookups(a));
  }

  @Test
  void forget_ofACachedNode_keepsItAndItsEntriesServable() {
    start(T, T, T);
    long a = fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    lookup(ROOT, "a");
    forget(a, 2); // drop_caches
    assertEquals(0, fs.calls("forget") + fs.calls("batchForget"), "the cache keeps one");
    assertEquals(1, fs.lookups(a));
    assertEquals(a, lookup(ROOT, "a").nodeId());
    assertEquals(1, fs.calls("lookup"), "a hit");
    assertEquals(fs.attrOf(a), cache.core().peekLookup(new CacheCore.Key(ROOT, "a")).attr());
    forget(a, 1);
    assertEquals(0, fs.calls("forget"));
    assertEquals(1, fs.lookups(a));
    forgetEverythingAndEmpty();
    assertEquals(0, fs.lookups(a));
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void forget_retainedNode_isGivenBackWhenItsLastEntryLeaves() {
    start(T, T, T);
    long d = mkdir(ROOT, "d").nodeId();
    long a = mknod(d, "a").nodeId();
    long b = mknod(ROOT, "b").nodeId();
    forgetEverything();
    assertEquals(List.of(1L, 1L, 1L), List.of(fs.lookups(d), fs.lookups(a), fs.lookups(b)));
    // Expiry: the directory's entry goes, so does the directory, and with it what is in it.
    ticker.advance(Duration.ofSeconds(5));
    lookup(ROOT, "b"); // a hit, and then the kernel forgets it again
    forget(b, 1);
    ticker.advance(Duration.ofSeconds(6));
    cache.core().cleanUp();
    assertEquals(0, fs.lookups(d));
    assertEquals(0, fs.lookups(a));
    assertEquals(0, fs.lookups(b));
    assertEquals(Set.of(), cache.core().trackedNodes());
    assertEquals(Map.of(), cache.core().snapshot().entries());
    assertEquals(Set.of(), cache.core().snapshot().attrs().keySet());
    assertEquals(Map.of(d, 1L, a, 1L, b, 2L), mirror.forgotten, "give-backs are not told");
    // Invalidation: the entry goes at once, and the lookup with it.
    long c = mknod(ROOT, "c").nodeId();
    forget(c, 1);
    assertEquals(1, fs.lookups(c));
    cache.invalidateEntry(ROOT, "c").block();
    assertEquals(0, fs.lookups(c));
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void forget_retainedNode_lookedUpAgain_isNotGivenBackEarly() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    forget(a, 1);
    lookup(ROOT, "a"); // a hit: the kernel holds it again
    cache.invalidateEntry(ROOT, "a").block();
    assertEquals(1, fs.lookups(a), "the kernel still holds it");
    assertEquals(Set.of(a), cache.core().trackedNodes());
    lookup(ROOT, "a"); // from the backend now: cached again
    forget(a, 2);
    assertEquals(1, fs.lookups(a), "retained again: its entry is cached");
    ticker.advance(Duration.ofSeconds(11));
    cache.core().cleanUp();
    assertEquals(0, fs.lookups(a));
    // Looked up again from the backend while retained: the kernel's FORGET gives it all back.
    long b = mknod(ROOT, "b").nodeId();
    forget(b, 1);
    // A write drops b's attributes, not its entry: the next lookup misses and counts there.
    ops.write(ctx(), new Request.Write(b, 0, 0, 0, 0, 0, Unpooled.wrappedBuffer(new byte[2])))
        .block();
    assertEquals(1, fs.lookups(b));
    lookup(ROOT, "b");
    assertEquals(2, fs.calls("lookup"), "a miss");
    assertEquals(2, fs.lookups(b));
    cache.invalidateEntry(ROOT, "b").block();
    assertEquals(2, fs.lookups(b), "the kernel holds one");
    forget(b, 1);
    assertEquals(0, fs.lookups(b));
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void forget_withoutRetention_theBackendForgetsWithTheKernel() {
    startWithoutRetention();
    long a = fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    forget(a, 1);
    assertEquals(0, fs.lookups(a));
    assertEquals(Map.of(), cache.core().snapshot().entries());
    lookup(ROOT, "a");
    assertEquals(2, fs.calls("lookup"), "a miss");
    forget(a, 1);
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void unlink_ofARetainedNodesOtherName_givesItBack() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    ops.link(ctx(), new Request.Link(a, ROOT, "b")).block();
    kernel.merge(a, 1L, Long::sum);
    forgetEverything();
    assertEquals(1, fs.lookups(a));
    ops.unlink(ctx(), new Request.Unlink(ROOT, "a")).block();
    assertEquals(0, fs.lookups(a), "its other name's entry went too");
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void destroy_givesTheRetainedLookupsBack() {
    start(T, T, T);
    long a = mknod(ROOT, "a").nodeId();
    forgetEverything();
    assertEquals(1, fs.lookups(a));
    ops.destroy(ctx()).block();
    assertEquals(0, fs.lookups(a));
    assertEquals(fs.served, fs.forgotten);
  }

  @Test
  void batchForget_forwardsOnlyTheBackendsShare() {
    startWithoutRetention();
    long a = mknod(ROOT, "a").nodeId();
    long b = mknod(ROOT, "b").nodeId();
    lookup(ROOT, "a");
    lookup(ROOT, "b");
    List<Request.BatchForget> seen = new ArrayList<>();
    LookupCache c = LookupCache.builder().retainForgottenNodes(false).ticker(ticker).build();
    ModelFs model = fs;
    FuseOps spy = new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext x, Request.Lookup req) {
        return model.lookup(x, req);
      }

      @Override
      public Mono<Void> batchForget(FuseContext x, Request.BatchForget req) {
        seen.add(req);
        return model.batchForget(x, req);
      }
    };
    FuseOps wrapped = c.wrap(spy);
    wrapped.lookup(ctx(), new Request.Lookup(ROOT, "a")).block();
    wrapped.lookup(ctx(), new Request.Lookup(ROOT, "a")).block();
    wrapped.lookup(ctx(), new Request.Lookup(ROOT, "b")).block();
    wrapped.batchForget(ctx(), new Request.BatchForget(List.of(
        new Request.Forget(a, 1), new Request.Forget(b, 1)))).block();
    assertEquals(List.of(new Request.BatchForget(List.of(new Request.Forget(b, 1)))), seen);
    wrapped.batchForget(ctx(), new Request.BatchForget(List.of(new Request.Forget(a, 1))))
        .block();
    assertEquals(new Request.BatchForget(List.of(new Request.Forget(a, 1))), seen.get(1));
    forgetEverything();
  }

  @Test
  void forget_givenBackByTheFramework_isNotToldToTheListener() {
    startWithoutRetention();
    long a = mknod(ROOT, "a").nodeId();
    lookup(ROOT, "a");
    ops.forget(new FuseContext(0, a, 0, 0, 0, -1), new Request.Forget(a, 1)).block();
    kernel.merge(a, -1L, Long::sum);
    assertEquals(Map.of(), mirror.forgotten);
    forget(a, 1);
    assertEquals(Map.of(a, 1L), mirror.forgotten);
    assertEquals(0, fs.lookups(a));
  }

  @Test
  void readdirplus_entriesCountAsTheBackendsLookups() {
    start(T, T, T);
    long a = fs.addOutside(ROOT, "a", FILE);
    long b = fs.addOutside(ROOT, "b", FILE);
    List<DirEntryPlus> listed = ops.readdirplus(ctx(), new Request.Readdir(ROOT, 0, 0, 4096))
        .collectList().block();
    listed.forEach(p -> counted(p.entry()));
    lookup(ROOT, "a"); // a miss: READDIRPLUS does not fill the cache
    lookup(ROOT, "a"); // a hit
    assertEquals(2, fs.lookups(a));
    assertEquals(1, fs.lookups(b));
    forgetEverythingAndEmpty();
    assertEquals(List.of(), fs.looked());
  }

  @Test
  void tmpfile_countsItsLookup() {
    start(T, T, T);
    EntryReply e = ops.tmpfile(ctx(), new Request.Create(ROOT, "", 0, 0600, 0, 0)).block()
        .entry();
    counted(e);
    assertEquals(1, cache.core().counts(e.nodeId())[1]);
    forgetEverything();
    assertEquals(List.of(), fs.looked());
  }

  // --- changes behind the cache's back ----------------------------------------------------------

  @Test
  void invalidateEntry_dropsTheNameAndTellsTheKernel() {
    start(T, T, T);
    FakeSession session = new FakeSession();
    ops.init(session).block();
    fs.addOutside(ROOT, "a", FILE);
    lookup(ROOT, "a");
    getattr(ROOT);
    fs.unlinkOutside(ROOT, "a");
    cache.invalidateEntry(ROOT, "a").block();
    assertEquals(List.of("invalEntry 1 a false"), session.told);
    assertEquals(0, lookup(ROOT, "a").nodeId());
    assertEquals(fs.attrOf(ROOT), getattr(ROOT));
    forgetEverything();
  }

  @Test
  void invalidateEntry_aNameTheKernelDoesNotHold_isSuccess() {
    start(T, T, T);
    FakeSession session = new FakeSession();
    session.answer = Errno.ENOENT;
    ops.init(session).block();
    cache.invalidateEntry(ROOT, "a").block();
    cache.invalidateNode(5).block();
    session.answer = Errno.ENODEV;
    ErrnoException e = assertThrows(ErrnoException.class,
        () -> cache.invalidateNode(5).block());
    assertEquals(Errno.ENODEV, e.errno());
  }

  @Test
  void invalidateEntry_beforeInit_dropsOnlyTheCache() {
    start(T, T, T);
    lookup(ROOT, "a");
    Mono<Void> later = cache.invalidateEntry(ROOT, "a");
    assertEquals(1, cache.core().snapshot().entries().size(), "nothing before subscription");
    later.block();
    assertEquals(Map.of(), cache.core().snapshot().entries());
  }

  @Test
  void invalidateEntry_discardsALookupInFlight() {
    ModelFs model = new ModelFs(T, T, T);
    Held held = new Held(model, Set.of("lookup"));
    fs = model;
    cache = LookupCache.builder().listener(mirror).ticker(ticker).build();
    ops = cache.wrap(held.ops());
    List<EntryReply> old = new ArrayList<>();
    ops.lookup(ctx(), new Request.Lookup(ROOT, "a")).subscribe(old::add); // reads "no a"
    long a = model.addOutside(ROOT, "a", FILE);
    cache.invalidateEntry(ROOT, "a").block();
    held.release("lookup");
    assertEquals(0, old.get(0).nodeId());
    held.methods = Set.of();
    assertEquals(a, lookup(ROOT, "a").nodeId());
    forgetEverything();
  }

  @Test
  void invalidateNode_dropsTheAttrsAndTellsTheKernel() {
    start(T, T, T);
    FakeSession session = new FakeSession();
    ops.init(session).block();
    long a = mknod(ROOT, "a").nodeId();
    getattr(a);
    fs.resizeOutside(a, 77);
    assertEquals(0, getattr(a).size(), "cached");
    cache.invalidateNode(a).block();
    assertEquals(List.of("invalInode " + a + " 0 0"), session.told);
    assertEquals(77, getattr(a).size());
    assertEquals(a, lookup(ROOT, "a").nodeId());
    assertEquals(77, lookup(ROOT, "a").attr().size());
    forgetEverything();
  }

  // --- the wrapper and the builder --------------------------------------------------------------

  @Test
  void wrap_delegatesEveryFuseOpsMethod() throws Exception {
    // A FuseOps method the wrapper does not override would answer with FuseOps' default instead
    // of the backend's: a new opcode must be delegated here too.
    for (Method m : FuseOps.class.getMethods()) {
      if (Modifier.isStatic(m.getModifiers())) {
        continue;
      }
      Method impl = CachingOps.class.getMethod(m.getName(), m.getParameterTypes());
      assertEquals(CachingOps.class, impl.getDeclaringClass(), m.toString());
    }
  }

  @Test
  void wrap_aSecondTime_isRejected() {
    LookupCache c = LookupCache.builder().build();
    c.wrap(new FuseOps() { });
    assertThrows(IllegalStateException.class, () -> c.wrap(new FuseOps() { }));
  }

  @Test
  void builder_rejectsBoundsBelowOne() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LookupCache.builder().maximumEntries(0));
    assertEquals("maximumEntries must be positive but was 0", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> LookupCache.builder().maximumAttrs(-1));
    assertThrows(NullPointerException.class, () -> LookupCache.builder().listener(null));
  }

  @Test
  void builder_settersReturnACopy() {
    LookupCache.Builder b = LookupCache.builder();
    b.maximumEntries(1);
    LookupCache c = b.build();
    FuseOps wrapped = c.wrap(new ModelFs(T, T, T));
    for (String n : List.of("a", "b", "c")) {
      wrapped.lookup(ctx(), new Request.Lookup(ROOT, n)).block();
    }
    c.core().cleanUp();
    assertEquals(3, c.core().snapshot().entries().size(), "the default bound, not 1");
  }

  @Test
  void listener_thatThrows_doesNotBreakTheCache() {
    CacheListener broken = new CacheListener() {
      @Override
      public void entryCached(long parent, byte[] name, EntryReply entry) {
        throw new IllegalStateException("mirror full");
      }

      @Override
      public void entryRemoved(long parent, byte[] name) {
        throw new IllegalStateException("mirror full");
      }

      @Override
      public void attrCached(long nodeId, AttrReply attr) {
        throw new IllegalStateException("mirror full");
      }

      @Override
      public void attrRemoved(long nodeId) {
        throw new IllegalStateException("mirror full");
      }
    };
    ModelFs model = new ModelFs(T, T, T);
    LookupCache c = LookupCache.builder().listener(broken).ticker(ticker).build();
    FuseOps wrapped = c.wrap(model);
    wrapped.lookup(ctx(), new Request.Lookup(ROOT, "a")).block();
    wrapped.lookup(ctx(), new Request.Lookup(ROOT, "a")).block();
    assertEquals(1, model.calls("lookup"));
    wrapped.mknod(ctx(), new Request.Mknod(ROOT, "a", FILE, 0, 0)).block();
    assertNotNull(wrapped.lookup(ctx(), new Request.Lookup(ROOT, "a")).block());
  }

  @Test
  void destroy_emptiesTheCache() {
    start(T, T, T);
    lookup(ROOT, "a");
    getattr(ROOT);
    ops.destroy(ctx()).block();
    CacheCore.Snapshot s = cache.core().snapshot();
    assertEquals(Map.of(), s.entries());
    assertEquals(Map.of(), s.attrs());
  }

  @Test
  void readdir_isPassedThrough() {
    start(T, T, T);
    fs.addOutside(ROOT, "a", FILE);
    List<DirEntry> l = ops.readdir(ctx(), new Request.Readdir(ROOT, 0, 0, 4096)).collectList()
        .block();
    assertEquals(1, l.size());
    assertEquals(List.of(), Flux.from(ops.readdir(ctx(), new Request.Readdir(ROOT, 0, 1, 4096)))
        .collectList().block());
  }
}
