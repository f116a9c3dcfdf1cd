package io.reactorfuse;

import static io.reactorfuse.CacheTesting.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.reactorfuse.CacheTesting.FakeTicker;
import io.reactorfuse.CacheTesting.Held;
import io.reactorfuse.CacheTesting.Mirror;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Mono;

/**
 * Cache coherence against a model. {@link ModelFs} is the truth; a random sequence of lookups,
 * getattrs, creations, unlinks, renames, links, setattrs, writes, forgets, READDIRPLUS listings,
 * clock jumps and outside changes goes through the cache, while the backend's replies are held and
 * released in random order (read at the call or only at the release), so that fills race with
 * invalidations in every order. Half the runs use a backend that gives node ids up as soon as the
 * kernel forgets them and hands them to other files. After every step: for each name in each
 * directory the kernel holds and each node it holds, what the cache would answer by itself (if
 * anything) equals what the model says now: no stale answer, ever; the listener's mirror equals
 * the cache and the cache's own invariants hold. At the end, once the kernel has forgotten
 * everything, the backend's lookup counts are all zero and it never saw a FORGET it did not count.
 *
 * <p>The driver behaves like the kernel where the cache relies on it: it looks a name up before
 * changing it unless it holds the dentry, forgets only nodes no request in flight refers to, and
 * forgets a node's dentries with it.
 *
 * <p>Seeds are fixed (plus one fresh per run, reported, and in every failure message); set
 * {@code -Dlookupcache.seed=N} to replay one, {@code -Dlookupcache.firstSeed=F} and
 * {@code -Dlookupcache.seeds=N} to run seeds F..F+N-1. A seed fixes the requests and their
 * interleaving; Caffeine's admission policy has randomness of its own, so a replay may evict
 * other entries.
 */
class LookupCacheModelTest {
  private static final long ROOT = ModelFs.ROOT;
  private static final List<String> NAMES = List.of("a", "b", "c", "d");
  private static final Set<String> HELD = Set.of("lookup", "getattr", "setattr", "mknod",
      "mkdir", "create", "unlink", "rmdir", "rename", "rename2", "link", "write", "symlink");

  static Stream<Long> seeds() {
    String fixed = System.getProperty("lookupcache.seed");
    if (fixed != null) {
      return Stream.of(Long.parseLong(fixed));
    }
    int first = Integer.getInteger("lookupcache.firstSeed", 1);
    int count = Integer.getInteger("lookupcache.seeds", 12);
    return Stream.concat(LongStream.range(first, first + count).boxed(),
        Stream.of(System.nanoTime()));
  }

  /** Each seed with forgotten nodes retained (the default) and without. */
  static Stream<Arguments> seedsBothWays() {
    return seeds().flatMap(s -> Stream.of(Arguments.of(s, true), Arguments.of(s, false)));
  }

  @ParameterizedTest(name = "seed {0}, retain {1}")
  @MethodSource("seedsBothWays")
  void randomOps_theCacheNeverAnswersStale(long seed, boolean retain, TestReporter reporter) {
    reporter.publishEntry("seed", Long.toString(seed));
    new Run(seed, retain).run(1500);
  }

  /** One randomized run, single-threaded: the interleaving is the seed's alone. */
  private static final class Run {
    final long seed;
    final Random rnd;
    final FakeTicker ticker = new FakeTicker();
    final Mirror mirror = new Mirror(ticker);
    final ModelFs fs;
    final Held held;
    final LookupCache cache;
    final CachingOps ops;
    /** The lookups the kernel holds, per node. */
    final Map<Long, Long> kernel = new TreeMap<>();
    /** Nodes that requests in flight refer to: the kernel does not forget those. */
    final Map<Long, Integer> busy = new HashMap<>();
    final List<String> trail = new ArrayList<>();
    /**
     * The names the kernel holds a dentry for (roughly: by the order replies arrive), and so may
     * change without looking up first.
     */
    final Map<CacheCore.Key, Long> dentries = new HashMap<>();
    int step;

    Run(long seed, boolean retain) {
      this.seed = seed;
      this.rnd = new Random(seed);
      Duration[] timeouts = {Duration.ofSeconds(10), Duration.ofSeconds(3), Duration.ZERO};
      Duration entry = rnd.nextInt(4) == 0 ? timeouts[1] : timeouts[0];
      Duration attr = timeouts[rnd.nextInt(2)];
      Duration negative = timeouts[rnd.nextInt(3)];
      fs = new ModelFs(entry, attr, negative, rnd.nextBoolean());
      held = new Held(fs, HELD);
      held.readLate = m -> rnd.nextBoolean();
      cache = LookupCache.builder()
          .maximumEntries(4 + rnd.nextInt(40))
          .maximumAttrs(4 + rnd.nextInt(40))
          .retainForgottenNodes(retain)
          .listener(mirror).ticker(ticker).build();
      ops = (CachingOps) cache.wrap(held.ops());
    }

    String where() {
      int from = Math.max(0, trail.size() - Integer.getInteger("lookupcache.trail", 12));
      return "seed " + seed + ", step " + step + ", last steps:\n  "
          + String.join("\n  ", trail.subList(from, trail.size()));
    }

    void run(int steps) {
      for (step = 0; step < steps; step++) {
        act();
        check();
      }
      // Drain: every reply arrives, then the kernel forgets everything it holds.
      while (!held.held().isEmpty()) {
        release();
        check();
      }
      List<Long> nodes = new ArrayList<>(kernel.keySet());
      for (int i = 0; i < nodes.size(); i += 3) {
        List<Request.Forget> batch = new ArrayList<>();
        for (long n : nodes.subList(i, Math.min(nodes.size(), i + 3))) {
          long k = kernel.get(n);
          if (k > 0) {
            batch.add(new Request.Forget(n, k));
          }
        }
        ops.batchForget(ctx(), new Request.BatchForget(batch)).block();
      }
      kernel.clear();
      // And everything the cache holds expires: the lookups it kept for its entries go back.
      trail.add("advance past every timeout");
      ticker.advance(Duration.ofDays(1));
      cache.core().cleanUp();
      assertEquals(List.of(), fs.violations, where());
      assertEquals(List.of(), fs.looked(), "backend lookups left: " + where());
      assertEquals(fs.served, fs.forgotten, where());
      assertEquals(Set.of(), cache.core().trackedNodes(), where());
      assertEquals(0, cache.core().pendingTotal(), where());
      CacheCore.Snapshot s = cache.core().snapshot();
      assertEquals(Map.of(), s.entries(), where());
      assertEquals(Map.of(), s.attrs(), where());
      mirror.assertMirrors(cache, where());
      LookupCache.Stats stats = cache.stats();
      assertTrue(stats.entryHits() + stats.negativeHits() + stats.attrHits() > 20,
          "the cache was hardly used: " + stats + " " + where());
    }

    // --- the kernel's view ---------------------------------------------------------------------

    List<Long> knownNodes() {
      List<Long> r = new ArrayList<>();
      r.add(ROOT);
      kernel.forEach((n, k) -> {
        if (k > 0) {
          r.add(n);
        }
      });
      return r;
    }

    List<Long> knownDirs() {
      List<Long> r = new ArrayList<>();
      for (long n : knownNodes()) {
        if (fs.isDir(n)) {
          r.add(n);
        }
      }
      return r;
    }

    <T> T pick(List<T> list) {
      return list.get(rnd.nextInt(list.size()));
    }

    String name() {
      return pick(NAMES);
    }

    void counted(EntryReply e) {
      if (e != null && e.nodeId() != 0) {
        kernel.merge(e.nodeId(), 1L, Long::sum);
      }
    }

    /** An entry for {@code dir/name} arrived: counted, and the kernel holds the dentry. */
    void dentry(long dir, String name, EntryReply e) {
      counted(e);
      CacheCore.Key k = new CacheCore.Key(dir, name);
      if (e != null && e.nodeId() != 0) {
        dentries.put(k, e.nodeId());
      } else {
        dentries.remove(k);
      }
    }

    /** Sends a request answered without a value; {@code onSuccess} runs when it succeeds. */
    void sendVoid(String what, Mono<Void> request, Runnable onSuccess, long... refs) {
      send(what, request.doOnSuccess(v -> onSuccess.run()), v -> { }, refs);
    }

    /** Sends a request; its reply may come at once or when released. */
    <T> void send(String what, Mono<T> request, java.util.function.Consumer<T> onReply,
        long... refs) {
      trail.add(what);
      for (long r : refs) {
        busy.merge(r, 1, Integer::sum);
      }
      Runnable done = () -> {
        for (long r : refs) {
          busy.merge(r, -1, Integer::sum);
        }
      };
      request.subscribe(v -> onReply.accept(v), e -> done.run(), done);
    }

    // --- steps ---------------------------------------------------------------------------------

    void act() {
      int r = rnd.nextInt(100);
      long dir = pick(knownDirs());
      String name = name();
      // A few replies in flight at a time (more would keep every stripe pending for good).
      if (rnd.nextInt(6) < held.held().size()) {
        release();
      } else if (r < 40) {
        send("lookup " + dir + "/" + name, ops.lookup(ctx(), new Request.Lookup(dir, name)),
            e -> dentry(dir, name, e), dir);
      } else if (r < 48) {
        long n = pick(knownNodes());
        send("getattr " + n, ops.getattr(ctx(), new Request.Getattr(n, 0, 0)), a -> { }, n);
      } else if (r < 53) {
        send("mknod " + dir + "/" + name, ops.mknod(ctx(),
            new Request.Mknod(dir, name, Attr.S_IFREG | 0644, 0, 0)), e -> dentry(dir, name, e),
            dir);
      } else if (r < 57) {
        send("mkdir " + dir + "/" + name, ops.mkdir(ctx(), new Request.Mkdir(dir, name, 0755, 0)),
            e -> dentry(dir, name, e), dir);
      } else if (r < 60) {
        send("create " + dir + "/" + name, ops.create(ctx(),
            new Request.Create(dir, name, 0, 0644, 0, 0)), c -> dentry(dir, name, c.entry()),
            dir);
      } else if (r < 65) {
        walk(dir, name);
        sendVoid("unlink " + dir + "/" + name, ops.unlink(ctx(), new Request.Unlink(dir, name)),
            () -> dentries.remove(new CacheCore.Key(dir, name)), dir);
      } else if (r < 67) {
        walk(dir, name);
        sendVoid("rmdir " + dir + "/" + name, ops.rmdir(ctx(), new Request.Rmdir(dir, name)),
            () -> dentries.remove(new CacheCore.Key(dir, name)), dir);
      } else if (r < 73) {
        long to = pick(knownDirs());
        String toName = name();
        walk(dir, name);
        walk(to, toName);
        int flags = new int[] {0, 0, Request.Rename.RENAME_NOREPLACE,
            Request.Rename.RENAME_EXCHANGE}[rnd.nextInt(4)];
        Request.Rename req = new Request.Rename(dir, name, to, toName, flags);
        CacheCore.Key from = new CacheCore.Key(dir, name);
        CacheCore.Key into = new CacheCore.Key(to, toName);
        sendVoid("rename " + dir + "/" + name + " " + to + "/" + toName + " flags " + flags,
            flags == 0 && rnd.nextBoolean() ? ops.rename(ctx(), req) : ops.rename2(ctx(), req),
            () -> {
              Long a = dentries.remove(from);
              Long b = dentries.remove(into);
              if (a != null) {
                dentries.put(into, a);
              }
              if (b != null && flags == Request.Rename.RENAME_EXCHANGE) {
                dentries.put(from, b);
              }
            }, dir, to);
      } else if (r < 76) {
        long n = pick(knownNodes());
        send("link " + n + " " + dir + "/" + name,
            ops.link(ctx(), new Request.Link(n, dir, name)), e -> dentry(dir, name, e), n, dir);
      } else if (r < 80) {
        long n = pick(knownNodes());
        long size = rnd.nextInt(100);
        send("setattr " + n + " size " + size, ops.setattr(ctx(), new Request.Setattr(n,
            Request.Setattr.FATTR_SIZE, 0, size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), a -> { }, n);
      } else if (r < 84) {
        long n = pick(knownNodes());
        int len = 1 + rnd.nextInt(9);
        long off = rnd.nextInt(120);
        send("write " + n + " " + off + "+" + len, ops.write(ctx(), new Request.Write(n, 0, off,
            0, 0, 0, Unpooled.wrappedBuffer(new byte[len]))), v -> { }, n);
      } else if (r < 92) {
        forget();
      } else if (r < 94) {
        trail.add("readdirplus " + dir);
        List<DirEntryPlus> l = ops.readdirplus(ctx(), new Request.Readdir(dir, 0, 0, 4096))
            .collectList().block();
        l.forEach(p -> dentry(dir, p.dirEntry().name(), p.entry()));
      } else if (r < 97) {
        Duration d = Duration.ofMillis(rnd.nextInt(4000));
        trail.add("advance " + d);
        ticker.advance(d);
      } else {
        outsideChange(dir, name);
      }
    }

    /**
     * The kernel's path walk: before it changes or removes a name it has looked it up (it needs
     * the dentry), and the answer has arrived. The cache relies on that to know which node a
     * name's removal changes.
     */
    void walk(long dir, String name) {
      if (dentries.containsKey(new CacheCore.Key(dir, name)) && rnd.nextInt(4) != 0) {
        return; // the kernel holds the dentry: it goes straight to the change
      }
      held.immediate = true;
      try {
        trail.add("walk " + dir + "/" + name);
        dentry(dir, name, ops.lookup(ctx(), new Request.Lookup(dir, name))
            .onErrorResume(e -> Mono.empty()).block());
      } finally {
        held.immediate = false;
      }
    }

    void release() {
      int i = rnd.nextInt(held.held().size());
      Held.Release r = held.held().get(i);
      trail.add("release " + r.method + " " + java.util.Arrays.toString(r.args));
      held.release(i);
    }

    void forget() {
      List<Long> idle = new ArrayList<>();
      kernel.forEach((n, k) -> {
        if (k > 0 && busy.getOrDefault(n, 0) == 0) {
          idle.add(n);
        }
      });
      if (idle.isEmpty()) {
        return;
      }
      long n = pick(idle);
      long k = 1 + rnd.nextInt((int) (long) kernel.get(n));
      trail.add("forget " + n + " " + k);
      if (kernel.merge(n, -k, Long::sum) == 0) {
        // A node is forgotten after its dentries, and a directory after those inside it.
        dentries.entrySet().removeIf(e -> e.getValue() == n || e.getKey().parent() == n);
      }
      if (rnd.nextBoolean()) {
        ops.forget(ctx(), new Request.Forget(n, k)).block();
      } else {
        ops.batchForget(ctx(), new Request.BatchForget(List.of(new Request.Forget(n, k))))
            .block();
      }
    }

    /** Another client changes the backend; the backend tells the cache. */
    void outsideChange(long dir, String name) {
      long n = fs.nodeAt(dir, name);
      if (n <= 0) {
        return;
      }
      if (rnd.nextBoolean() || fs.isDir(n)) {
        trail.add("outside resize " + n);
        fs.resizeOutside(n, rnd.nextInt(1000));
        cache.invalidateNode(n).block();
      } else {
        trail.add("outside unlink " + dir + "/" + name);
        fs.unlinkOutside(dir, name);
        cache.invalidateEntry(dir, name).block();
        dentries.remove(new CacheCore.Key(dir, name));
        cache.invalidateNode(n).block();
        cache.invalidateNode(dir).block();
      }
    }

    // --- the invariant -------------------------------------------------------------------------

    /**
     * Everything the kernel could ask that the cache would answer itself equals the model now.
     * Peeked, not asked: a real lookup would count, fill and record names, and so mend the very
     * state under test; what the cache would not answer, the backend answers, truthfully.
     */
    void check() {
      CacheCore core = cache.core();
      for (long d : knownDirs()) {
        for (String name : NAMES) {
          EntryReply hit = core.peekLookup(new CacheCore.Key(d, name));
          if (hit == null) {
            continue;
          }
          long expected = fs.nodeAt(d, name);
          assertEquals(expected, hit.nodeId(), "lookup " + d + "/" + name
              + (expected == -1 ? " (the backend gave the name's node id up)" : "") + ": "
              + where());
          if (expected != 0) {
            assertEquals(fs.attrOf(expected), hit.attr(), "lookup " + d + "/" + name
                + " attrs: " + where());
          }
        }
      }
      for (long n : knownNodes()) {
        AttrReply hit = core.peekAttrs(n);
        if (hit != null) {
          assertEquals(fs.attrOf(n), hit.attr(), "getattr " + n + ": " + where());
        }
      }
      mirror.assertMirrors(cache, where());
    }
  }

  /**
   * The same, with real threads: four clients at once against a backend that answers on its own
   * threads, so that Caffeine, the stripes and the counts are raced for real. Checked when
   * everything has settled: every answer equals the model, and the counts come out exact.
   */
  static Stream<Long> concurrentSeeds() {
    String fixed = System.getProperty("lookupcache.seed");
    if (fixed != null) {
      return Stream.of(Long.parseLong(fixed));
    }
    return Stream.concat(LongStream.rangeClosed(1, 3).boxed(), Stream.of(System.nanoTime()));
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("concurrentSeeds")
  void concurrentClients_settleCoherentAndCountExactly(long seed, TestReporter reporter)
      throws Exception {
    reporter.publishEntry("seed", Long.toString(seed));
    ModelFs fs = new ModelFs(Duration.ofSeconds(10), Duration.ofSeconds(10),
        Duration.ofSeconds(10));
    Mirror mirror = new Mirror(com.github.benmanes.caffeine.cache.Ticker.systemTicker());
    LookupCache cache = LookupCache.builder().maximumEntries(16).maximumAttrs(16)
        .listener(mirror).build();
    FuseOpsOnThreads slow = new FuseOpsOnThreads(fs);
    FuseOps ops = cache.wrap(slow.ops());
    Map<Long, AtomicInteger> kernel = new java.util.concurrent.ConcurrentHashMap<>();
    ExecutorService clients = Executors.newFixedThreadPool(4);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < 4; t++) {
        Random rnd = new Random(seed * 31 + t);
        done.add(clients.submit(() -> {
          go.await();
          for (int i = 0; i < 400; i++) {
            concurrentStep(rnd, ops, kernel);
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
      String where = "seed " + seed;
      for (long d : LongStream.concat(LongStream.of(ROOT), kernel.keySet().stream()
          .mapToLong(Long::longValue)).distinct().toArray()) {
        if (!fs.isDir(d)) {
          continue;
        }
        for (String name : NAMES) {
          long expected = fs.nodeAt(d, name);
          EntryReply got = ops.lookup(ctx(), new Request.Lookup(d, name))
              .onErrorResume(e -> Mono.just(EntryReply.negative(Duration.ZERO)))
              .block(Duration.ofSeconds(10));
          if (got.nodeId() != 0) {
            kernel.computeIfAbsent(got.nodeId(), x -> new AtomicInteger()).incrementAndGet();
          }
          assertEquals(expected, got.nodeId(), d + "/" + name + " " + where);
          if (expected != 0) {
            assertEquals(fs.attrOf(expected), got.attr(), d + "/" + name + " " + where);
          }
        }
      }
      mirror.assertMirrors(cache, where);
      for (Map.Entry<Long, AtomicInteger> e : kernel.entrySet()) {
        if (e.getValue().get() > 0) {
          ops.forget(ctx(), new Request.Forget(e.getKey(), e.getValue().get()))
              .block(Duration.ofSeconds(10));
        }
      }
      mirror.assertMirrors(cache, where);
      // The cache keeps a lookup of each node an entry names; destroy gives them back.
      ops.destroy(ctx()).block(Duration.ofSeconds(10));
      assertEquals(List.of(), fs.violations, where);
      assertEquals(List.of(), fs.looked(), where);
      assertEquals(fs.served, fs.forgotten, where);
      mirror.assertMirrors(cache, where);
    } finally {
      clients.shutdownNow();
      slow.close();
    }
  }

  private static void concurrentStep(Random rnd, FuseOps ops, Map<Long, AtomicInteger> kernel) {
    Duration wait = Duration.ofSeconds(10);
    String name = NAMES.get(rnd.nextInt(NAMES.size()));
    String other = NAMES.get(rnd.nextInt(NAMES.size()));
    java.util.function.Consumer<EntryReply> count = e -> {
      if (e != null && e.nodeId() != 0) {
        kernel.computeIfAbsent(e.nodeId(), x -> new AtomicInteger()).incrementAndGet();
      }
    };
    Mono<?> m;
    switch (rnd.nextInt(9)) {
      case 0:
      case 1:
      case 2:
        m = ops.lookup(ctx(), new Request.Lookup(ROOT, name)).doOnNext(count);
        break;
      case 3:
        m = ops.mknod(ctx(), new Request.Mknod(ROOT, name, Attr.S_IFREG | 0644, 0, 0))
            .doOnNext(count);
        break;
      case 4:
        m = ops.unlink(ctx(), new Request.Unlink(ROOT, name));
        break;
      case 5:
        m = ops.rename(ctx(), new Request.Rename(ROOT, name, ROOT, other, 0));
        break;
      case 6:
        m = ops.getattr(ctx(), new Request.Getattr(ROOT, 0, 0));
        break;
      case 7: {
        // A node this client holds: truncate it, or give one of its lookups back.
        Long n = kernel.entrySet().stream().filter(e -> e.getValue().get() > 0)
            .map(Map.Entry::getKey).findAny().orElse(null);
        if (n == null) {
          return;
        }
        AtomicInteger k = kernel.get(n);
        if (rnd.nextBoolean() && k.getAndUpdate(x -> x > 0 ? x - 1 : x) > 0) {
          m = ops.forget(ctx(), new Request.Forget(n, 1));
        } else {
          m = ops.setattr(ctx(), new Request.Setattr(n, Request.Setattr.FATTR_SIZE, 0,
              rnd.nextInt(50), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        }
        break;
      }
      default: {
        Long n = kernel.keySet().stream().findAny().orElse(null);
        if (n == null) {
          return;
        }
        m = ops.link(ctx(), new Request.Link(n, ROOT, name)).doOnNext(count);
        break;
      }
    }
    m.onErrorResume(e -> Mono.empty()).block(wait);
  }

  /**
   * Runs a backend's calls on a pool, each after a tiny random pause: replies come back on other
   * threads, out of order.
   */
  private static final class FuseOpsOnThreads implements AutoCloseable {
    private final FuseOps target;
    private final reactor.core.scheduler.Scheduler pool =
        reactor.core.scheduler.Schedulers.newParallel("backend", 3);

    FuseOpsOnThreads(FuseOps target) {
      this.target = target;
    }

    FuseOps ops() {
      return (FuseOps) java.lang.reflect.Proxy.newProxyInstance(FuseOps.class.getClassLoader(),
          new Class<?>[] {FuseOps.class}, (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
              return m.invoke(this, args);
            }
            if (!Mono.class.isAssignableFrom(m.getReturnType()) || m.getName().equals("forget")
                || m.getName().equals("batchForget")) {
              return m.invoke(target, args);
            }
            return Mono.defer(() -> {
              try {
                return (Mono<?>) m.invoke(target, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                return Mono.error(e.getCause());
              } catch (IllegalAccessException e) {
                return Mono.error(e);
              }
            }).subscribeOn(pool).publishOn(pool);
          });
    }

    @Override
    public void close() {
      pool.dispose();
    }
  }
}
