package io.reactorfuse;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Scheduler;
import com.github.benmanes.caffeine.cache.Ticker;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseNames;
import io.reactorfuse.spi.CacheListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machinery behind {@link LookupCache}: two Caffeine caches, the lookup counts, and the
 * counters that keep a fill which raced with a change from being cached.
 *
 * <h2>State, and who changes it where</h2>
 * <ul>
 *   <li>{@code entries} ({@link Key} -> {@link Entry}) and {@code attrs} (node id ->
 *       {@link Attrs}): every change is an {@code asMap().compute*} on its key, and tells the
 *       {@link CacheListener} inside that compute. Caffeine's {@code evictionListener} (size and
 *       expiry) runs inside the per-key compute that removes the entry, also when a compute of
 *       ours finds an expired entry (it is reported removed before our function sees null). So
 *       per key the listener hears the changes in the order they happened, and a removal can never
 *       be reported after a re-put of that key: the mirror holds exactly what the cache holds.
 *       (The plain {@code removalListener} would not do: it runs after the change, on any
 *       thread, and could report a removal after the key was cached again.) Expired items are
 *       removed when Caffeine's timer wheel reaches them (about a second late at most, sooner
 *       with the system scheduler), so a mirror honours the timeouts itself, as this cache does.
 *   <li>{@code nodes}: per node id, the lookups answered from the cache and those the backend
 *       answered, and the names (keys) that may point at it; a node is here while the backend
 *       has lookups of it outstanding. With {@code retain}, a node the kernel forgot while a
 *       cached positive entry still names it stays here ({@link Node#retained}): the cache keeps
 *       one of the backend's lookups, so that the id cannot be reused while the entry may still
 *       be served. It gives that lookup back ({@code giveBack}) once the last such entry left
 *       and the kernel holds none: every removal of a positive entry queues its node in
 *       {@code leaving}, and {@link #drain} checks them after the change, outside every compute
 *       (the give-back calls the backend).
 *   <li>{@code children}: per directory, its cached entries (positive and negative), to drop
 *       them when the backend forgets the directory. Changed inside the entries' computes only.
 *   <li>{@code names}: per name, the nodes it may point at (a superset of the truth: a lookup
 *       only adds, a mutation replaces only when nothing raced with it). It says whose attributes
 *       an unlink or rename changes when the entry itself is no longer cached.
 * </ul>
 * Lock order: a compute on {@code names} may compute on {@code nodes} inside, and one on
 * {@code entries} on {@code children}; never the reverse, nothing else nests.
 *
 * <h2>Fill versus invalidate</h2>
 * Keys hash to stripes; each stripe has {@code pending} (mutations in flight on a key of the
 * stripe) and {@code lastInval} (the sequence number of the last completed invalidation). A
 * mutation increments {@code pending} before it calls the backend and, when it ends, removes (or
 * replaces with its own reply) its keys, sets {@code lastInval} to a fresh sequence number and
 * decrements {@code pending}. A cache hit needs {@code pending == 0}; a fill (a lookup or getattr
 * reply) remembers the sequence number before calling the backend and is cached only if, inside
 * the compute on its key, {@code pending == 0 && lastInval <= start}. So a fill that read the
 * backend before a mutation, or while one was in flight, is never cached, and while a mutation is
 * in flight its keys are answered by the backend. Stripes shared by unrelated keys only cost a
 * skipped fill or an extra backend call, never a stale answer.
 *
 * <p>Two refinements close the gaps a model test found. A mutation of a name changes the node
 * the name points at, which it may not know yet when it begins (the lookup telling it is still on
 * its way): the attributes a lookup reply carries are cached only if the name's stripe is quiet
 * too, and a mutation ending drops the attributes of every node its names are known to point at
 * by then ({@link Op#learnVictims}). And a mutation's own reply (a creation's entry, a setattr's
 * attributes) is cached only if its stripes saw no one else: pending equals its own count and
 * nothing was invalidated since it began.
 *
 * <p>Which node a name points at is learnt from the replies that pass through here. That is
 * enough because the kernel changes or removes a name only after looking it up (it needs the
 * dentry), and every lookup it gets is answered here.
 */
final class CacheCore {
  private static final Logger log = LoggerFactory.getLogger(CacheCore.class);

  /** Stripes per kind of key (names, nodes); a power of two. */
  private static final int STRIPES = 1 << 12;
  /** Longer timeouts are cut to this, so that {@code now + timeout} cannot overflow. */
  private static final long MAX_TIMEOUT_NANOS = Duration.ofDays(3650).toNanos();
  private static final long[] NONE = new long[0];

  /** A name in a directory. */
  record Key(long parent, String name) {}

  /** A cached entry: node 0 for a negative one. */
  record Entry(long nodeId, long generation, long expiresAt) {
    boolean negative() {
      return nodeId == 0;
    }
  }

  /** Cached attributes. */
  record Attrs(Attr attr, long expiresAt) {}

  /** Lookup counts of one node, and the names that may point at it. Guarded by nodes' lock. */
  static final class Node {
    long cacheServed;
    long backendServed;
    /**
     * One of {@code backendServed} is the cache's own, not the kernel's: kept when the kernel
     * forgot the node while an entry naming it was cached.
     */
    boolean retained;
    final Set<Key> names = new HashSet<>(2);
  }

  private final Ticker ticker;
  private final CacheListener listener;
  private final Cache<Key, Entry> entries;
  private final Cache<Long, Attrs> attrs;
  private final ConcurrentHashMap<Long, Node> nodes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Key, long[]> names = new ConcurrentHashMap<>();
  /** The cached entries in each directory; changed only inside the entries' computes. */
  private final ConcurrentHashMap<Long, Set<Key>> children = new ConcurrentHashMap<>();
  private final AtomicLong seq = new AtomicLong();
  private final AtomicIntegerArray pending = new AtomicIntegerArray(2 * STRIPES);
  private final AtomicLongArray lastInval = new AtomicLongArray(2 * STRIPES);
  private final AtomicBoolean listenerFailed = new AtomicBoolean();
  private final boolean retain;
  /** Nodes a positive entry of which left the cache: maybe their retained lookup goes back. */
  private final ConcurrentLinkedQueue<Long> leaving = new ConcurrentLinkedQueue<>();
  /** Gives one lookup of a node back to the backend (a FORGET of 1); set by the wrapper. */
  private volatile LongConsumer giveBack = n -> { };

  final LongAdder entryHits = new LongAdder();
  final LongAdder negativeHits = new LongAdder();
  final LongAdder entryMisses = new LongAdder();
  final LongAdder entryEvictions = new LongAdder();
  final LongAdder entryExpirations = new LongAdder();
  final LongAdder attrHits = new LongAdder();
  final LongAdder attrMisses = new LongAdder();
  final LongAdder attrEvictions = new LongAdder();
  final LongAdder attrExpirations = new LongAdder();

  /** {@code listener} may be null: no mirror. */
  CacheCore(long maximumEntries, long maximumAttrs, CacheListener listener, Ticker ticker) {
    this(maximumEntries, maximumAttrs, listener, ticker, true);
  }

  /** {@code retain}: keep forgotten nodes while an entry names them (see {@link Node}). */
  CacheCore(long maximumEntries, long maximumAttrs, CacheListener listener, Ticker ticker,
      boolean retain) {
    this.listener = listener;
    this.retain = retain;
    this.ticker = ticker;
    // Without an injected ticker, a scheduler removes expired entries soon after they expire,
    // so that a mirror (which cannot see Caffeine's clock) does not keep them long.
    Scheduler scheduler = ticker == Ticker.systemTicker()
        ? Scheduler.systemScheduler() : Scheduler.disabledScheduler();
    this.entries = Caffeine.newBuilder()
        .maximumSize(maximumEntries)
        .ticker(ticker)
        .scheduler(scheduler)
        // Maintenance (and so eviction notices) on the thread that changed the cache: no hop.
        .executor(Runnable::run)
        .expireAfter(new AbsoluteExpiry<Key, Entry>(Entry::expiresAt))
        .evictionListener((Key k, Entry v, RemovalCause cause) -> {
          if (k != null) {
            count(cause, entryEvictions, entryExpirations);
            entryGone(k, v == null ? 0 : v.nodeId());
          }
        })
        .build();
    this.attrs = Caffeine.newBuilder()
        .maximumSize(maximumAttrs)
        .ticker(ticker)
        .scheduler(scheduler)
        .executor(Runnable::run)
        .expireAfter(new AbsoluteExpiry<Long, Attrs>(Attrs::expiresAt))
        .evictionListener((Long n, Attrs v, RemovalCause cause) -> {
          if (n != null) {
            count(cause, attrEvictions, attrExpirations);
            tellAttrRemoved(n);
          }
        })
        .build();
  }

  private static void count(RemovalCause cause, LongAdder evictions, LongAdder expirations) {
    if (cause == RemovalCause.EXPIRED) {
      expirations.increment();
    } else {
      evictions.increment();
    }
  }

  /** Expiry at the absolute ticker time stored in the value. */
  private static final class AbsoluteExpiry<K, V> implements Expiry<K, V> {
    private final java.util.function.ToLongFunction<V> expiresAt;

    AbsoluteExpiry(java.util.function.ToLongFunction<V> expiresAt) {
      this.expiresAt = expiresAt;
    }

    @Override
    public long expireAfterCreate(K key, V value, long currentTime) {
      return Math.max(0, expiresAt.applyAsLong(value) - currentTime);
    }

    @Override
    public long expireAfterUpdate(K key, V value, long currentTime, long currentDuration) {
      return Math.max(0, expiresAt.applyAsLong(value) - currentTime);
    }

    @Override
    public long expireAfterRead(K key, V value, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stripes

  static int stripe(Key k) {
    return spread(k.hashCode()) & (STRIPES - 1);
  }

  static int stripe(long node) {
    return STRIPES + (spread(Long.hashCode(node * 0x9E3779B97F4A7C15L)) & (STRIPES - 1));
  }

  private static int spread(int h) {
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    return h;
  }

  /** The sequence number a fill remembers before it calls the backend. */
  long start() {
    return seq.get();
  }

  private boolean quiet(int stripe, long start) {
    return pending.get(stripe) == 0 && lastInval.get(stripe) <= start;
  }

  private void bump(int stripe) {
    long s = seq.incrementAndGet();
    lastInval.accumulateAndGet(stripe, s, Math::max);
  }

  // ---------------------------------------------------------------------------------------------
  // Hits

  /**
   * The reply for a lookup the cache can answer, counted as a lookup served from the cache; null
   * for a miss. A positive entry needs the node's attributes cached too: the entry's own
   * attributes may be older than a setattr or write since.
   */
  EntryReply lookupHit(Key key) {
    try {
      return hit(key, true);
    } finally {
      drain(); // a read may run Caffeine's maintenance: expiry, eviction
    }
  }

  /** What {@link #lookupHit} would answer now, counting nothing; for tests. */
  EntryReply peekLookup(Key key) {
    return hit(key, false);
  }

  private EntryReply hit(Key key, boolean count) {
    if (pending.get(stripe(key)) != 0) {
      return null;
    }
    // A peek reads quietly: it must not change what the eviction policy sees.
    Entry e = count ? entries.getIfPresent(key) : entries.policy().getIfPresentQuietly(key);
    if (e == null) {
      return null;
    }
    long now = ticker.read();
    if (e.negative()) {
      if (count) {
        negativeHits.increment();
      }
      return EntryReply.negative(remaining(e.expiresAt(), now));
    }
    long n = e.nodeId();
    if (pending.get(stripe(n)) != 0) {
      return null;
    }
    Attrs a = count ? attrs.getIfPresent(n) : attrs.policy().getIfPresentQuietly(n);
    if (a == null) {
      return null;
    }
    // Atomic with a FORGET that gives the backend its last lookup back: either this hit counts
    // first (and the FORGET absorbs it), or the node is gone and this is a miss.
    Node counted = !count ? nodes.get(n) : nodes.computeIfPresent(n, (id, s) -> {
      s.cacheServed++;
      return s;
    });
    if (counted == null) {
      return null;
    }
    if (count) {
      entryHits.increment();
    }
    return new EntryReply(n, e.generation(), a.attr(), remaining(e.expiresAt(), now),
        remaining(a.expiresAt(), now));
  }

  /** Cached attributes of {@code n}, or null. */
  AttrReply attrHit(long n) {
    AttrReply r = attrs(n, true);
    if (r != null) {
      attrHits.increment();
    }
    return r;
  }

  /** What {@link #attrHit} would answer now, counting nothing; for tests. */
  AttrReply peekAttrs(long n) {
    return attrs(n, false);
  }

  private AttrReply attrs(long n, boolean count) {
    if (pending.get(stripe(n)) != 0) {
      return null;
    }
    Attrs a = count ? attrs.getIfPresent(n) : attrs.policy().getIfPresentQuietly(n);
    if (a == null) {
      return null;
    }
    return new AttrReply(a.attr(), remaining(a.expiresAt(), ticker.read()));
  }

  private static Duration remaining(long expiresAt, long now) {
    return Duration.ofNanos(Math.max(1, expiresAt - now));
  }

  // ---------------------------------------------------------------------------------------------
  // Fills (replies of lookup and getattr, which change nothing)

  /** A lookup the backend answered (started at {@code start}): count it and cache it. */
  void lookedUp(Key key, EntryReply reply, long start) {
    long n = reply.nodeId();
    boolean dots = isDots(key.name());
    if (n != 0) {
      if (dots) {
        countBackend(n);
      } else {
        countBackend(key, n, () -> false);
      }
      // The name's stripe too: a mutation of this name that did not yet know it pointed at n
      // (this reply is what tells) may have changed n (an unlink, its link count).
      fillAttrs(n, new AttrReply(reply.attr(), reply.attrTimeout()), start, null,
          dots ? -1 : stripe(key));
    }
    if (!dots) {
      fillEntry(key, reply, start, null);
    }
    drain();
  }

  /** The backend said ENOENT (not to be cached): a cached entry for the name is stale. */
  void lookupFailedNoent(Key key, long start) {
    entries.asMap().computeIfPresent(key, (k, old) -> {
      if (!quiet(stripe(k), start)) {
        return old;
      }
      entryGone(k, old.nodeId());
      return null;
    });
    drain();
  }

  /** A getattr the backend answered. */
  void gotAttrs(long n, AttrReply reply, long start) {
    fillAttrs(n, reply, start, null, -1);
  }

  /** A READDIRPLUS entry the backend produced: it counts a lookup (not for "." and ".."). */
  void readdirplusEntry(long dir, String name, long n) {
    if (n != 0 && !isDots(name)) {
      countBackend(new Key(dir, name), n, () -> false);
    }
  }

  /** A TMPFILE's entry: counts a lookup, has no name. */
  void countBackend(long n) {
    nodes.compute(n, (id, s) -> {
      s = s == null ? new Node() : s;
      s.backendServed++;
      return s;
    });
  }

  static boolean isDots(String name) {
    return name.equals(".") || name.equals("..");
  }

  /**
   * Caches {@code reply} for {@code key} if nothing invalidated the key since {@code start}
   * ({@code op}: the mutation filling its own reply, whose pending counts are its own), else
   * leaves the key alone. A reply that may not be cached (timeout 0) removes an older one.
   */
  private void fillEntry(Key key, EntryReply reply, long start, Op op) {
    entries.asMap().compute(key, (k, old) -> {
      boolean quiet = op == null ? quiet(stripe(k), start) : op.quiet(stripe(k));
      if (!quiet) {
        return old;
      }
      return putEntry(k, old, reply);
    });
  }

  private Entry putEntry(Key k, Entry old, EntryReply reply) {
    long timeout = nanos(reply.entryTimeout());
    if (timeout == 0) {
      if (old != null) {
        entryGone(k, old.nodeId());
      }
      return null;
    }
    if (old != null && old.nodeId() != reply.nodeId()) {
      leftNode(old.nodeId()); // the name now points elsewhere: the old node lost an entry
    }
    Entry e = new Entry(reply.nodeId(), reply.generation(), ticker.read() + timeout);
    if (old == null) {
      children.compute(k.parent(), (p, set) -> {
        set = set == null ? new HashSet<>() : set;
        set.add(k);
        return set;
      });
    }
    tell(() -> listener.entryCached(k.parent(), FuseNames.encode(k.name()), reply));
    return e;
  }

  /** Like {@link #fillEntry}; also requires {@code alsoQuiet} quiet, unless it is -1. */
  private void fillAttrs(long n, AttrReply reply, long start, Op op, int alsoQuiet) {
    attrs.asMap().compute(n, (id, old) -> {
      boolean quiet = op == null
          ? quiet(stripe(id), start) && (alsoQuiet < 0 || quiet(alsoQuiet, start))
          : op.quiet(stripe(id)) && (alsoQuiet < 0 || op.quiet(alsoQuiet));
      if (!quiet) {
        return old;
      }
      return putAttrs(id, old, reply);
    });
  }

  private Attrs putAttrs(long n, Attrs old, AttrReply reply) {
    long timeout = nanos(reply.timeout());
    if (timeout == 0) {
      if (old != null) {
        tellAttrRemoved(n);
      }
      return null;
    }
    Attrs a = new Attrs(reply.attr(), ticker.read() + timeout);
    tell(() -> listener.attrCached(n, reply));
    return a;
  }

  private static long nanos(Duration d) {
    if (d.isNegative() || d.isZero()) {
      return 0;
    }
    return d.compareTo(Duration.ofNanos(MAX_TIMEOUT_NANOS)) > 0 ? MAX_TIMEOUT_NANOS : d.toNanos();
  }

  // ---------------------------------------------------------------------------------------------
  // Names and lookup counts

  /**
   * Counts one lookup of {@code n} the backend answered for {@code key}, and records that the
   * name may point at it: in place of what it pointed at before when {@code replace} holds, else
   * in addition.
   */
  private void countBackend(Key key, long n, java.util.function.BooleanSupplier replace) {
    names.compute(key, (k, cands) -> {
      nodes.compute(n, (id, s) -> {
        s = s == null ? new Node() : s;
        s.backendServed++;
        s.names.add(k);
        return s;
      });
      // Decided inside the compute: a mutation racing on this name changes it under this lock.
      if (!replace.getAsBoolean()) {
        return with(cands, n);
      }
      unlinkNames(k, cands, n);
      return new long[] {n};
    });
  }

  /**
   * Replaces the candidates of {@code key} by {@code f} of them (applied inside the compute);
   * keeps only nodes that are tracked.
   */
  private void replaceNames(Key key, UnaryOperator<long[]> f) {
    names.compute(key, (k, cands) -> {
      long[] before = cands == null ? NONE : cands;
      long[] after = f.apply(before);
      long[] kept = NONE;
      for (long n : after) {
        boolean tracked = contains(before, n) ? nodes.containsKey(n)
            : nodes.computeIfPresent(n, (id, s) -> {
              s.names.add(k);
              return s;
            }) != null;
        if (tracked) {
          kept = with(kept, n);
        }
      }
      unlinkNames(k, before, kept);
      return kept.length == 0 ? null : kept;
    });
  }

  private void unlinkNames(Key k, long[] before, long... kept) {
    if (before == null) {
      return;
    }
    for (long old : before) {
      if (!contains(kept, old)) {
        nodes.computeIfPresent(old, (id, s) -> {
          s.names.remove(k);
          return s;
        });
      }
    }
  }

  /** The nodes {@code key} may point at. */
  long[] candidates(Key key) {
    long[] c = names.get(key);
    return c == null ? NONE : c;
  }

  private static long[] with(long[] set, long n) {
    if (set == null) {
      return new long[] {n};
    }
    if (contains(set, n)) {
      return set;
    }
    long[] r = Arrays.copyOf(set, set.length + 1);
    r[set.length] = n;
    return r;
  }

  private static long[] union(long[] a, long[] b) {
    long[] r = a;
    for (long n : b) {
      r = with(r, n);
    }
    return r;
  }

  private static boolean intersects(long[] a, long[] b) {
    for (long n : a) {
      if (contains(b, n)) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(long[] set, long n) {
    for (long m : set) {
      if (m == n) {
        return true;
      }
    }
    return false;
  }

  /**
   * FORGET of {@code k} lookups of {@code n}: absorbs the lookups the cache answered first and
   * returns how many to forward to the backend. When the kernel holds none any more and (with
   * {@code retain}) no cached positive entry names the node, the backend's count goes to 0 (a
   * retained lookup is given back in the same FORGET): the backend forgets the node (and may
   * reuse its id), so every entry pointing at it and its attributes go. While such an entry is
   * cached, the cache keeps one lookup instead, so that the entry stays servable (the kernel
   * forgetting after drop_caches is what the cache is for). A FORGET beyond what was counted
   * (lookups answered elsewhere, e.g. by a mirror in the kernel) is not forwarded past the
   * kernel's share; one for a node never seen is forwarded whole.
   */
  long forget(long n, long k) {
    long[] forward = {k};
    Node[] gone = {null};
    nodes.computeIfPresent(n, (id, s) -> {
      long absorbed = Math.min(k, s.cacheServed);
      s.cacheServed -= absorbed;
      long held = s.retained ? 1 : 0;
      long f = Math.min(k - absorbed, s.backendServed - held);
      s.backendServed -= f;
      forward[0] = f;
      if (s.cacheServed > 0 || s.backendServed > held) {
        return s; // the kernel still holds some
      }
      if (retain && cachedEntry(id, s)) {
        if (!s.retained) {
          // f >= 1: backendServed was at least 1 and is 0 now. Keep one of them.
          s.retained = true;
          s.backendServed = 1;
          forward[0] = f - 1;
        }
        return s;
      }
      forward[0] = f + held;
      gone[0] = s;
      return null;
    });
    if (gone[0] != null) {
      dropNode(n, gone[0].names);
    }
    drain();
    return forward[0];
  }

  /** Whether a live positive entry names {@code n}; inside the compute on {@code n}. */
  private boolean cachedEntry(long n, Node s) {
    for (Key k : s.names) {
      Entry e = entries.policy().getIfPresentQuietly(k);
      if (e != null && e.nodeId() == n) {
        return true;
      }
    }
    return false;
  }

  /**
   * Gives back the lookups of retained nodes that lost their last entry while the kernel holds
   * none. Runs after the changes that queued them, outside every compute: the give-back calls
   * the backend, and dropping the node computes on the caches. An entry cached again meanwhile
   * was counted first (every fill counts its lookup before it caches), so the check is exact.
   */
  private void drain() {
    for (Long n; (n = leaving.poll()) != null; ) {
      Node[] gone = {null};
      nodes.computeIfPresent(n, (id, s) -> {
        if (s.retained && s.cacheServed == 0 && s.backendServed == 1 && !cachedEntry(id, s)) {
          gone[0] = s;
          return null;
        }
        return s;
      });
      if (gone[0] != null) {
        dropNode(n, gone[0].names); // may queue more: the entries in a directory given back
        giveBack.accept(n);
      }
    }
  }

  /** Where the retained lookups go back to; set once by the wrapper. */
  void giveBack(LongConsumer giveBack) {
    this.giveBack = giveBack;
  }

  /** A positive entry naming {@code n} left (inside the compute that removed it). */
  private void leftNode(long n) {
    if (retain && n != 0) {
      leaving.add(n);
    }
  }

  /** Drops every cached entry naming {@code n}: it was replaced, removed or changed. */
  private void dropEntriesOf(long n) {
    List<Key> ks = new ArrayList<>();
    nodes.computeIfPresent(n, (id, x) -> {
      ks.addAll(x.names);
      return x;
    });
    for (Key key : ks) {
      entries.asMap().computeIfPresent(key, (k, e) -> {
        if (e.nodeId() != n) {
          return e;
        }
        entryGone(k, n);
        return null;
      });
    }
    leftNode(n); // its entries may have left before: check it all the same
  }

  /**
   * The backend forgot {@code n}. A lookup may have counted it again meanwhile: then its names
   * stay (its fills may be racing with this; dropping them is merely a miss).
   */
  private void dropNode(long n, Set<Key> keys) {
    for (Key key : keys) {
      names.computeIfPresent(key, (k, cands) -> {
        if (nodes.containsKey(n)) {
          return cands;
        }
        long[] r = NONE;
        for (long c : cands) {
          if (c != n) {
            r = with(r, c);
          }
        }
        return r.length == 0 ? null : r;
      });
      entries.asMap().computeIfPresent(key, (k, e) -> {
        if (e.nodeId() != n || nodes.containsKey(n)) {
          return e;
        }
        entryGone(k, n);
        return null;
      });
    }
    attrs.asMap().computeIfPresent(n, (id, a) -> {
      if (nodes.containsKey(n)) {
        return a;
      }
      tellAttrRemoved(id);
      return null;
    });
    // And what it holds, if it is a directory: the backend may give the id to another one.
    // (While the kernel holds n it looks nothing up in a new directory of that id.)
    Set<Key> inside = children.remove(n);
    if (inside != null) {
      for (Key k : inside) {
        removeEntry(k);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations

  /** Begins a mutation of these keys (each may be null) and nodes. */
  Op begin(List<Key> keys, long... nodeIds) {
    return new Op(keys, nodeIds);
  }

  /**
   * One mutation in flight: its keys are pending from {@link #begin} to {@link #finish} or
   * {@link #abort}. Success callbacks ({@link #created}, {@link #unlinked}, ...) run before
   * {@link #finish}, all before the reply goes to the kernel.
   */
  final class Op {
    private final Key[] keys;
    private final long[] nodeIds;
    private final int[] stripes;
    private final long start;
    private final Map<Key, EntryReply> entryFills = new HashMap<>(2);
    private final Map<Long, AttrReply> attrFills = new HashMap<>(2);
    /** The name an attribute fill came with (its stripe must be quiet too). */
    private final Map<Long, Key> attrKeys = new HashMap<>(2);
    private final AtomicBoolean ended = new AtomicBoolean();
    private long[] late = NONE;
    /** Nodes it removed or replaced: their entries under other names go too (see finish). */
    private long[] victims = NONE;

    private Op(List<Key> keyList, long[] nodeList) {
      Set<Key> ks = new java.util.LinkedHashSet<>();
      for (Key k : keyList) {
        if (k != null) {
          ks.add(k);
        }
      }
      keys = ks.toArray(new Key[0]);
      nodeIds = Arrays.stream(nodeList).distinct().toArray();
      stripes = new int[keys.length + nodeIds.length];
      int i = 0;
      for (Key k : keys) {
        stripes[i++] = stripe(k);
      }
      for (long n : nodeIds) {
        stripes[i++] = stripe(n);
      }
      for (int s : stripes) {
        pending.incrementAndGet(s);
      }
      // Removed now too, not only at the end, for a mirror, which cannot see pending counts.
      for (Key k : keys) {
        removeEntry(k);
      }
      for (long n : nodeIds) {
        removeAttrs(n);
      }
      start = seq.get();
    }

    /**
     * Whether the stripe saw no other mutation since this one began: the only pending counts are
     * this mutation's own, and no invalidation completed since.
     */
    boolean quiet(int stripe) {
      int own = 0;
      for (int s : stripes) {
        if (s == stripe) {
          own++;
        }
      }
      return pending.get(stripe) == own && lastInval.get(stripe) <= start;
    }

    /** The backend created (or linked) {@code key} as {@code reply}: count it and cache it. */
    void created(Key key, EntryReply reply) {
      long n = reply.nodeId();
      if (n == 0) {
        return; // not a valid creation reply; nothing to count
      }
      countBackend(key, n, () -> quiet(stripe(key)));
      entryFills.put(key, reply);
      attrFills.put(n, new AttrReply(reply.attr(), reply.attrTimeout()));
      attrKeys.put(n, key);
    }

    /** The backend answered with these attributes for {@code n}. */
    void attrs(long n, AttrReply reply) {
      attrFills.put(n, reply);
    }

    /** The backend removed {@code key}. */
    void unlinked(Key key) {
      victims = union(victims, candidates(key));
      replaceNames(key, c -> quiet(stripe(key)) ? NONE : c);
    }

    /** The backend renamed {@code from} to {@code to} (or exchanged them). */
    void renamed(Key from, Key to, boolean exchange) {
      long[] fromNodes = candidates(from);
      long[] toNodes = candidates(to);
      int sf = stripe(from);
      int st = stripe(to);
      // Renaming a file onto itself, or onto another of its names, does nothing at all: when
      // that may be what happened, the old name keeps what it had.
      boolean maybeSame = from.equals(to) || intersects(fromNodes, toNodes);
      if (!exchange && !maybeSame) {
        victims = union(victims, toNodes);
      }
      // When something raced with this rename, which node is where is uncertain: keep both.
      replaceNames(to, c -> quiet(sf) && quiet(st) && !maybeSame ? fromNodes
          : union(c, fromNodes));
      replaceNames(from, c -> quiet(sf) && quiet(st) && !maybeSame
          ? (exchange ? toNodes : NONE)
          : exchange ? union(c, toNodes) : c);
    }

    /**
     * The nodes its names point at now that were not known when it began: a lookup or creation
     * answered meanwhile told which node a name is. Their attributes are dropped at the end too.
     * Read before the success callbacks change the names.
     */
    private long[] learnVictims() {
      long[] late = NONE;
      for (Key k : keys) {
        for (long c : candidates(k)) {
          if (!contains(nodeIds, c)) {
            late = with(late, c);
          }
        }
      }
      return late;
    }

    /** The mutation succeeded: {@code callbacks} record what it did, then {@link #finish}. */
    void succeeded(java.util.function.Consumer<Op> callbacks) {
      late = learnVictims();
      try {
        callbacks.accept(this);
      } finally {
        finish();
        drain();
      }
    }

    /** The mutation succeeded: caches what its reply says, drops the rest, ends pending. */
    private void finish() {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      for (Key k : keys) {
        EntryReply fill = entryFills.remove(k);
        entries.asMap().compute(k, (key, old) -> {
          if (fill != null && quiet(stripe(key))) {
            return putEntry(key, old, fill);
          }
          if (old != null) {
            entryGone(key, old.nodeId());
          }
          return null;
        });
      }
      for (long n : nodeIds) {
        AttrReply fill = attrFills.remove(n);
        Key with = attrKeys.get(n);
        attrs.asMap().compute(n, (id, old) -> {
          if (fill != null && quiet(stripe(id)) && (with == null || quiet(stripe(with)))) {
            return putAttrs(id, old, fill);
          }
          if (old != null) {
            tellAttrRemoved(id);
          }
          return null;
        });
      }
      entryFills.forEach((k, r) -> fillEntry(k, r, start, this));
      attrFills.forEach((n, r) -> {
        Key k = attrKeys.get(n);
        fillAttrs(n, r, start, this, k == null ? -1 : stripe(k));
      });
      // A removed or replaced node keeps no entry: one would keep it retained (and, unlinked,
      // alive in the backend) for no use; under another name it merely misses once.
      for (long n : victims) {
        dropEntriesOf(n);
      }
      release();
    }

    /** The mutation failed or was cancelled: it may have changed anything it touches. */
    void abort() {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      late = learnVictims();
      for (Key k : keys) {
        removeEntry(k);
      }
      for (long n : nodeIds) {
        removeAttrs(n);
      }
      release();
      drain();
    }

    /** Invalidations complete (after every fill decision of this op), then pending ends. */
    private void release() {
      for (long n : late) {
        if (attrFills.containsKey(n)) {
          continue; // its own reply (a creation's node), cached or not by the quiet rule
        }
        removeAttrs(n);
        bump(stripe(n));
      }
      for (int s : stripes) {
        bump(s);
      }
      for (int s : stripes) {
        pending.decrementAndGet(s);
      }
    }
  }

  private void removeEntry(Key k) {
    entries.asMap().computeIfPresent(k, (key, old) -> {
      entryGone(key, old.nodeId());
      return null;
    });
  }

  private void removeAttrs(long n) {
    attrs.asMap().computeIfPresent(n, (id, old) -> {
      tellAttrRemoved(id);
      return null;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Outside changes

  /** A name changed behind the cache's back: drop it, what it may point to, the dir's attrs. */
  void invalidateEntry(long parent, String name) {
    Key key = new Key(parent, name);
    Op op = begin(List.of(key), parent);
    replaceNames(key, c -> NONE);
    op.abort();
  }

  /**
   * A node changed behind the cache's back: drop its attributes, and the entries naming it (it
   * may be gone: a retained node must not be kept for them).
   */
  void invalidateNode(long n) {
    dropEntriesOf(n);
    begin(List.of(), n).abort();
  }

  /**
   * The session ended: empty everything (the listener hears each removal) and give the retained
   * lookups back; the kernel's own share, if any, its FORGET forwards whole (the node is unknown
   * then).
   */
  void clear() {
    List<Long> back = new ArrayList<>();
    for (Long n : new ArrayList<>(nodes.keySet())) {
      nodes.computeIfPresent(n, (id, s) -> {
        if (s.retained) {
          back.add(id);
        }
        return null;
      });
    }
    for (Key k : new ArrayList<>(entries.asMap().keySet())) {
      removeEntry(k);
    }
    for (Long n : new ArrayList<>(attrs.asMap().keySet())) {
      removeAttrs(n);
    }
    names.clear();
    nodes.clear();
    children.clear();
    leaving.clear();
    back.forEach(giveBack::accept);
  }

  // ---------------------------------------------------------------------------------------------
  // Listener

  /**
   * {@code k}, naming {@code n} (0: negative), left the entries (called inside the compute that
   * removed it).
   */
  private void entryGone(Key k, long n) {
    leftNode(n);
    children.computeIfPresent(k.parent(), (p, set) -> {
      set.remove(k);
      return set.isEmpty() ? null : set;
    });
    tell(() -> listener.entryRemoved(k.parent(), FuseNames.encode(k.name())));
  }

  private void tellAttrRemoved(long n) {
    tell(() -> listener.attrRemoved(n));
  }

  void tellForgotten(long n, long k) {
    tell(() -> listener.forgotten(n, k));
  }

  /** A failing listener must not break the cache (its calls run inside Caffeine's computes). */
  private void tell(Runnable call) {
    if (listener == null) {
      return; // nobody mirrors: not even the name's bytes are needed
    }
    try {
      call.run();
    } catch (RuntimeException e) {
      if (listenerFailed.compareAndSet(false, true)) {
        log.warn("the cache listener failed; its mirror may now differ (logged once)", e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // For tests

  /** What the caches hold now, after removing what has expired. */
  Snapshot snapshot() {
    cleanUp();
    Map<Key, Entry> e = new HashMap<>(entries.asMap());
    Map<Long, Attr> a = new HashMap<>();
    attrs.asMap().forEach((n, v) -> a.put(n, v.attr()));
    return new Snapshot(e, a);
  }

  record Snapshot(Map<Key, Entry> entries, Map<Long, Attr> attrs) {}

  /**
   * What must hold between calls: the directory index matches the entries, and every cached
   * positive entry points at a node the backend still counts, under a name that knows it.
   * Empty when all is well; for tests.
   */
  List<String> invariantViolations() {
    cleanUp();
    List<String> bad = new ArrayList<>();
    Map<Long, Set<Key>> byParent = new HashMap<>();
    for (Map.Entry<Key, Entry> e : new HashMap<>(entries.asMap()).entrySet()) {
      Key k = e.getKey();
      byParent.computeIfAbsent(k.parent(), p -> new HashSet<>()).add(k);
      long n = e.getValue().nodeId();
      if (n != 0 && !nodes.containsKey(n)) {
        bad.add(k + " points at node " + n + ", which the backend forgot");
      }
      if (n != 0 && !contains(candidates(k), n)) {
        bad.add(k + " points at node " + n + ", which its name does not list");
      }
    }
    Map<Long, Set<Key>> index = new HashMap<>();
    children.forEach((p, set) -> index.put(p, new HashSet<>(set)));
    // Expired entries Caffeine has not removed yet are still indexed: compare what is live.
    index.values().forEach(set ->
        set.removeIf(k -> entries.policy().getIfPresentQuietly(k) == null));
    index.values().removeIf(Set::isEmpty);
    if (!index.equals(byParent)) {
      bad.add("directory index " + index + " but entries " + byParent);
    }
    return bad;
  }

  /** Pending counts summed over all stripes: 0 when no mutation is in flight. */
  int pendingTotal() {
    int sum = 0;
    for (int i = 0; i < pending.length(); i++) {
      sum += pending.get(i);
    }
    return sum;
  }

  /** Lookups answered from the cache and by the backend that the kernel still holds of n. */
  long[] counts(long n) {
    Node s = nodes.get(n);
    return s == null ? new long[2] : new long[] {s.cacheServed, s.backendServed};
  }

  /** Nodes with lookups outstanding. */
  Set<Long> trackedNodes() {
    return Set.copyOf(nodes.keySet());
  }

  /** Runs pending maintenance (expiry) now. */
  void cleanUp() {
    entries.cleanUp();
    attrs.cleanUp();
    drain();
  }
}
