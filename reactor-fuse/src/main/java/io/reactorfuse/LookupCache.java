package io.reactorfuse;

import com.github.benmanes.caffeine.cache.Ticker;
import io.reactorfuse.spi.CacheListener;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import reactor.core.publisher.Mono;

/**
 * A lookup and attribute cache in front of a filesystem: {@link #wrap} returns a {@link FuseOps}
 * that answers LOOKUP and GETATTR from memory where it can and passes everything else on.
 *
 * <pre>{@code
 * LookupCache cache = LookupCache.builder().maximumEntries(100_000).build();
 * FuseServer.create().mountPoint(dir).handle(cache.wrap(new MyFs(cache))).mountNow();
 * }</pre>
 *
 * <h2>What it caches, and for how long</h2>
 * Entries, by (directory node id, name): the node a name points to, and negative entries
 * ({@code EntryReply.negative}, node id 0) for names that do not exist; an ENOENT error is not
 * cached. Attributes, by node id: from GETATTR, SETATTR and the attribute part of every entry
 * reply. Each expires when the kernel's copy would: an entry at its {@code entryTimeout},
 * attributes at their timeout; a zero timeout is not cached. A reply from the cache carries the
 * time that is left, not the original timeout, so the kernel never holds it longer than the
 * backend allowed.
 * A lookup is answered from the cache only when the entry <em>and</em> the node's attributes
 * are cached (the entry's own attributes may predate a write). Both caches are bounded
 * ({@link Builder#maximumEntries}, {@link Builder#maximumAttrs}; Caffeine's size-based
 * eviction); READDIRPLUS, READLINK, STATX and xattrs are not cached.
 *
 * <h2>Changes that pass through it</h2>
 * A mutation drops what it can change, from the moment it is called until its reply is on its
 * way: CREATE, MKNOD, MKDIR, SYMLINK, LINK (the name, the directory's attributes, a negative
 * entry; LINK also the target's attributes), UNLINK and RMDIR (the name, the directory's and the
 * removed node's attributes), RENAME and RENAME2 (both names, both directories, the node moved
 * and the node replaced), SETATTR, WRITE, FALLOCATE, COPY_FILE_RANGE (the written node), SETXATTR,
 * REMOVEXATTR, IOCTL and OPEN with O_TRUNC (the node's attributes). The reply of a successful
 * creation or SETATTR is cached in turn. A failed or cancelled mutation still drops its keys.
 *
 * <h2>Never stale: fills versus invalidations</h2>
 * A lookup that misses asks the backend; if a mutation of that name or node began or ended
 * while the backend was answering, the answer is passed on but not cached (it may describe the
 * state before the mutation). While a mutation is in flight, lookups and getattrs of what it
 * touches go to the backend. So, provided the backend itself is linearizable, an answer from the
 * cache is one the backend could have given during the request. Which node a removed or renamed
 * name pointed at, the cache learns from the replies it passes on; the kernel always looks a name
 * up before it changes it, so it knows. An interrupted mutation is the exception to all this: its
 * keys are dropped when it is cancelled, but if the backend carries it out later anyway, that is
 * a change behind the cache's back (see below).
 *
 * <h2>Lookup counts</h2>
 * A lookup answered from the cache counts for FORGET like any other, but the backend never saw
 * it. The cache counts, per node, the lookups it answered and those the backend answered (LOOKUP,
 * MKNOD, MKDIR, SYMLINK, LINK, CREATE, TMPFILE, READDIRPLUS entries); a FORGET is taken from the
 * cache's share first and the rest is passed on. When the kernel forgets a node while a cached
 * positive entry names it (after {@code drop_caches}, say), the cache keeps one of the backend's
 * lookups and passes on one less, so that the entry, the node's attributes and, for a directory,
 * the entries in it can still be served: the backend cannot reuse the id meanwhile. When the
 * last entry naming it leaves the cache (expiry, eviction, invalidation, a mutation, destroy)
 * and the kernel holds no lookup of it, the cache gives that lookup back itself, as a FORGET of
 * 1 with {@code unique} 0. So the backend's count reaches zero once the kernel's has and no
 * entry naming the node is cached ({@link Builder#retainForgottenNodes}: {@code false} for
 * exactly when the kernel's does). When it does, the node's attributes, every entry pointing at
 * it and, for a directory, every entry in it leave the cache: the backend may reuse the id. A
 * FORGET of more lookups than passed through the cache (some answered elsewhere, say by a mirror
 * in the kernel) passes on at most the kernel's share.
 *
 * <h2>Changes behind its back</h2>
 * A backend that learns of a change made elsewhere (another client, the layer below) calls
 * {@link #invalidateEntry} or {@link #invalidateNode}: the cache drops what changed and tells the
 * kernel (inval_entry, inval_inode), so that neither serves the old state. Call them after the
 * backend's own state is new (a lookup racing with the call then reads the new state). As with
 * {@link FuseNotifier}, do not wait for their Monos inside a handler of the same node or directory:
 * the kernel may hold a lock the notification needs.
 *
 * <h2>Threads, and the mirror</h2>
 * All methods are thread-safe and none blocks; the wrapped ops may be called on any number of
 * event loops. A {@link CacheListener} ({@link Builder#listener}) hears every change, eviction
 * and expiry included, from the thread making it, in the order the cache changed for each key:
 * a mirror that applies the calls holds what the cache holds. Expiry is reported when Caffeine
 * gets to it (well within a second), so a mirror that answers lookups itself checks the timeouts
 * of what it holds, as the cache does. It must not block or call back into the cache. A FORGET
 * that the framework makes up (the lookup of a READDIRPLUS entry that did not fit, given back,
 * {@code unique} 0) is not reported as {@link CacheListener#forgotten}: the kernel never held it.
 *
 * <h2>Memory</h2>
 * Besides the two bounded caches, it keeps per node the kernel holds (or a cached entry names) a
 * few counters and the names known to point at it: bounded by the kernel's inode cache plus
 * {@link Builder#maximumEntries}.
 */
public final class LookupCache {
  private final CacheCore core;
  private final AtomicBoolean wrapped = new AtomicBoolean();
  private volatile FuseSession session;

  private LookupCache(Builder b) {
    this.core = new CacheCore(b.maximumEntries, b.maximumAttrs,
        b.listener == NO_LISTENER ? null : b.listener, b.ticker, b.retain);
  }

  /**
   * A builder with the defaults: 100,000 entries, 100,000 attributes, no listener, forgotten
   * nodes retained.
   */
  public static Builder builder() {
    return new Builder(100_000, 100_000, NO_LISTENER, Ticker.systemTicker(), true);
  }

  /**
   * The filesystem {@code backend} behind this cache. Every {@link FuseOps} method delegates to
   * the backend's (its defaults stay in force); {@code init} also hands the session to this cache
   * for {@link #invalidateEntry} and {@link #invalidateNode}.
   *
   * @throws IllegalStateException if this cache already wraps a filesystem: node ids and lookup
   *     counts belong to one session
   */
  public FuseOps wrap(FuseOps backend) {
    Objects.requireNonNull(backend, "backend");
    if (!wrapped.compareAndSet(false, true)) {
      throw new IllegalStateException("this LookupCache already wraps a filesystem; "
          + "build one cache per session");
    }
    return new CachingOps(backend, core, this);
  }

  /** The counts so far. */
  public Stats stats() {
    return new Stats(core.entryHits.sum(), core.negativeHits.sum(), core.entryMisses.sum(),
        core.entryEvictions.sum(), core.entryExpirations.sum(), core.attrHits.sum(),
        core.attrMisses.sum(), core.attrEvictions.sum(), core.attrExpirations.sum());
  }

  /**
   * The name {@code name} in {@code parent} changed behind the cache's back (created, removed,
   * now pointing elsewhere). On subscription: drops the cached entry and the directory's
   * attributes, discards lookups of the name that are in flight, then sends inval_entry to the
   * kernel. Completes when the kernel has it; a name the kernel has not cached (ENOENT) is
   * success, any other errno fails the Mono (ENODEV: the session is over; the cache is dropped
   * all the same). Before the session's INIT there is no kernel to tell: only the cache is
   * dropped.
   * When the node the name pointed to changed as well (its link count), call
   * {@link #invalidateNode} for it too.
   */
  public Mono<Void> invalidateEntry(long parent, String name) {
    Objects.requireNonNull(name, "name");
    return Mono.defer(() -> {
      core.invalidateEntry(parent, name);
      FuseSession s = session;
      return s == null ? Mono.<Void>empty()
          : ignoreEnoent(s.notifier().invalEntry(parent, name, false));
    });
  }

  /**
   * The node changed behind the cache's back (attributes or content). On subscription: drops its
   * cached attributes, discards getattrs of it in flight, then sends inval_inode to the kernel
   * for its attributes and all its cached pages. A node the kernel does not know (ENOENT) is
   * success; before INIT only the cache is dropped.
   */
  public Mono<Void> invalidateNode(long nodeId) {
    return Mono.defer(() -> {
      core.invalidateNode(nodeId);
      FuseSession s = session;
      return s == null ? Mono.<Void>empty() : ignoreEnoent(s.notifier().invalInode(nodeId, 0, 0));
    });
  }

  private static Mono<Void> ignoreEnoent(Mono<Void> notification) {
    return notification.onErrorResume(
        e -> e instanceof ErrnoException && ((ErrnoException) e).errno() == Errno.ENOENT,
        e -> Mono.empty());
  }

  void session(FuseSession session) {
    this.session = session;
  }

  /** The machinery, for tests in this package. */
  CacheCore core() {
    return core;
  }

  /**
   * Counts since the cache was built. A lookup is a hit ({@code entryHits}: a positive entry,
   * {@code negativeHits}: a negative one) or a miss; so is a getattr. Evictions are removals to
   * stay within the size bound, expirations removals at the timeout; invalidations count in
   * neither.
   */
  public record Stats(
      long entryHits,
      long negativeHits,
      long entryMisses,
      long entryEvictions,
      long entryExpirations,
      long attrHits,
      long attrMisses,
      long attrEvictions,
      long attrExpirations) {}

  /** Settings of a {@link LookupCache}; each setter returns a new builder. */
  public static final class Builder {
    private final long maximumEntries;
    private final long maximumAttrs;
    private final CacheListener listener;
    private final Ticker ticker;
    private final boolean retain;

    private Builder(long maximumEntries, long maximumAttrs, CacheListener listener,
        Ticker ticker, boolean retain) {
      this.maximumEntries = maximumEntries;
      this.maximumAttrs = maximumAttrs;
      this.listener = listener;
      this.ticker = ticker;
      this.retain = retain;
    }

    /** At most this many names (positive and negative) are cached. */
    public Builder maximumEntries(long maximumEntries) {
      requirePositive("maximumEntries", maximumEntries);
      return new Builder(maximumEntries, maximumAttrs, listener, ticker, retain);
    }

    /** At most this many nodes' attributes are cached. */
    public Builder maximumAttrs(long maximumAttrs) {
      requirePositive("maximumAttrs", maximumAttrs);
      return new Builder(maximumEntries, maximumAttrs, listener, ticker, retain);
    }

    /** Told of every change to the cache (a mirror, such as the eBPF module's maps). */
    public Builder listener(CacheListener listener) {
      Objects.requireNonNull(listener, "listener");
      return new Builder(maximumEntries, maximumAttrs, listener, ticker, retain);
    }

    /**
     * Whether a node the kernel forgot stays cached while an entry names it (default true).
     * {@code false}: the backend's lookup count reaches zero exactly when the kernel's does;
     * {@code true}: it reaches zero when the kernel's has and the cache holds no entry naming
     * the node, so that the cache still answers after the kernel dropped its caches (the cache
     * gives its lookup back with a FORGET of its own when the last entry leaves).
     */
    public Builder retainForgottenNodes(boolean retain) {
      return new Builder(maximumEntries, maximumAttrs, listener, ticker, retain);
    }

    /** The clock of expiry, for tests. */
    Builder ticker(Ticker ticker) {
      Objects.requireNonNull(ticker, "ticker");
      return new Builder(maximumEntries, maximumAttrs, listener, ticker, retain);
    }

    public LookupCache build() {
      return new LookupCache(this);
    }

    private static void requirePositive(String what, long value) {
      if (value <= 0) {
        throw new IllegalArgumentException(String.format(
            "%s must be positive but was %d", what, value));
      }
    }
  }

  private static final CacheListener NO_LISTENER = new CacheListener() {
    @Override
    public void entryCached(long parent, byte[] name, io.reactorfuse.ops.EntryReply entry) {}

    @Override
    public void entryRemoved(long parent, byte[] name) {}

    @Override
    public void attrCached(long nodeId, io.reactorfuse.ops.AttrReply attr) {}

    @Override
    public void attrRemoved(long nodeId) {}
  };
}
