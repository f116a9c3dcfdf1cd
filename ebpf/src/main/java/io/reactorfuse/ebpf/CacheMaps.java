package io.reactorfuse.ebpf;

import io.reactorfuse.FuseException;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.spi.CacheListener;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lookup/attribute cache mirrored into two BPF hash maps with ExtFUSE's layout, so that a
 * BPF handler ({@link CacheProgram}) can answer LOOKUP and GETATTR without user space.
 *
 * <p>Register it as the cache's listener ({@code LookupCache.builder().listener(maps)}): every
 * fill is an update, every invalidation, eviction or expiry a delete, in the order the cache
 * reports them, so the maps hold what the cache holds. Names longer than NAME_MAX (255 bytes) are
 * not mirrored (a miss, answered by user space). If the kernel refuses an update (the map is
 * full), the key is deleted instead: the maps may then hold less than the cache, never something
 * the cache does not hold, because a miss only costs a trip to user space while a stale hit
 * would be a wrong answer.
 *
 * <h2>Layout (see lookup.bpf.c)</h2>
 * <ul>
 *   <li>entry_map: key {@code {u64 parent; char name[255]}} (264 bytes with C's pad byte),
 *       value ExtFUSE's {@code {u32 stale; u64 nlookup; u64 nodeid; u64 generation;
 *       u64 entry_valid; u32 entry_valid_nsec}} and {@code u64 expires_ns} (56 bytes).
 *   <li>attr_map: key {@code u64 nodeid}, value ExtFUSE's {@code {u32 stale;
 *       struct fuse_attr_out}} and {@code u64 expires_ns} (120 bytes).
 * </ul>
 * The one extension, {@code expires_ns}, is there because the user-space cache answers with the
 * time left until expiry, not the original timeout: it is the CLOCK_MONOTONIC time
 * ({@link System#nanoTime()}, the cache's ticker) at which the cache drops the key, computed as
 * the cache does (timeouts capped at 3650 days). As in ExtFUSE, a LOOKUP is answered with the
 * node's attributes from attr_map, so entries carry none. {@code stale} is always 0 here:
 * ExtFUSE's kernel handlers mark entries stale on unlink and rename; this mirror deletes them,
 * following the cache.
 *
 * <h2>Lookup counts (as ExtFUSE)</h2>
 * An entry's {@code nlookup} counts the lookups the kernel holds through it. A positive fill
 * sets it to 1 (the reply that filled the cache is one lookup), or adds 1 when the same name
 * already mirrored the same node; a negative entry has 0. The BPF handler adds 1 for every
 * positive entry it serves, which user space never sees. {@link #forgotten} subtracts a FORGET's
 * count from the node's entries (oldest first, never below 0) without deleting them: when they
 * leave is the cache's decision (it drops a node's names once the kernel forgot it). The counts
 * of a removed or replaced entry leave with it.
 *
 * <p>Thread-safe; calls are serialized (each is one or two bpf(2) calls). After {@link #close()}
 * listener calls are ignored, so a cache may outlive its mirror.
 */
public final class CacheMaps implements CacheListener, AutoCloseable {
  /** Default capacity of each map, ExtFUSE's {@code MAX_ENTRIES} ({@code 2 << 16}). */
  public static final int DEFAULT_MAX_ENTRIES = 2 << 16;

  private static final Logger log = LoggerFactory.getLogger(CacheMaps.class);

  /** LookupCache's cap on timeouts (so that now + timeout cannot overflow), mirrored. */
  private static final long MAX_TIMEOUT_NANOS = Duration.ofDays(3650).toNanos();

  private final LibBpf lib;
  private final int entryFd;
  private final int attrFd;
  private final LongSupplier clock;
  /** Positive entries per node id, oldest first: FORGET names a node, the map is by name. */
  private final Map<Long, Set<EntryKey>> byNode = new HashMap<>();
  private boolean closed;
  private long failures;

  private CacheMaps(LibBpf lib, int entryFd, int attrFd, LongSupplier clock) {
    this.lib = lib;
    this.entryFd = entryFd;
    this.attrFd = attrFd;
    this.clock = clock;
  }

  /** Creates empty maps of {@link #DEFAULT_MAX_ENTRIES} each. */
  public static CacheMaps open() {
    return open(DEFAULT_MAX_ENTRIES);
  }

  /**
   * Creates empty maps of {@code maxEntries} each (entries are allocated as they are inserted).
   *
   * @throws FuseException when BPF is unavailable here (not root: "needs root
   *     (CAP_BPF/CAP_SYS_ADMIN)"; no libbpf), see {@link Bpf#unavailabilityCause()}
   */
  public static CacheMaps open(int maxEntries) {
    return open(maxEntries, System::nanoTime);
  }

  /** With the cache's clock, for tests that drive a LookupCache with a fake ticker. */
  static CacheMaps open(int maxEntries, LongSupplier clock) {
    if (maxEntries < 1) {
      throw new IllegalArgumentException("maxEntries must be positive, got " + maxEntries);
    }
    Bpf.ensureAvailability();
    LibBpf lib = LibBpf.get();
    int entryFd = lib.createHashMap("entry_map", MapAbi.ENTRY_KEY, MapAbi.ENTRY_VALUE, maxEntries);
    try {
      int attrFd = lib.createHashMap("attr_map", MapAbi.ATTR_KEY, MapAbi.ATTR_VALUE, maxEntries);
      return new CacheMaps(lib, entryFd, attrFd, clock);
    } catch (RuntimeException e) {
      lib.close(entryFd);
      throw e;
    }
  }

  /**
   * {@link #open()} where BPF is available; elsewhere logs why at WARN and returns empty: the
   * Caffeine cache then works alone.
   */
  public static Optional<CacheMaps> openIfAvailable() {
    FuseException cause = Bpf.unavailabilityCause();
    if (cause != null) {
      log.warn("eBPF cache maps disabled, the user-space cache works alone: {}",
          cause.getMessage());
      return Optional.empty();
    }
    return Optional.of(open());
  }

  @Override
  public synchronized void entryCached(long parent, byte[] name, EntryReply entry) {
    if (closed || !mirrored(name)) {
      return;
    }
    EntryKey key = new EntryKey(parent, name.clone());
    byte[] k = MapAbi.entryKey(parent, name);
    byte[] old = new byte[MapAbi.ENTRY_VALUE];
    boolean had = lib.lookup(entryFd, k, old);
    long nlookup = 0;
    if (entry.nodeId() != 0) {
      // A refill of the same name with the same node keeps the lookups counted so far.
      nlookup = 1 + (had && MapAbi.nodeId(old) == entry.nodeId() ? MapAbi.nlookup(old) : 0);
    }
    if (had) {
      unindex(MapAbi.nodeId(old), key);
    }
    byte[] value = MapAbi.entryValue(entry, nlookup, expiresAt(entry.entryTimeout()));
    if (write(entryFd, k, value) && entry.nodeId() != 0) {
      byNode.computeIfAbsent(entry.nodeId(), n -> new LinkedHashSet<>()).add(key);
    }
  }

  @Override
  public synchronized void entryRemoved(long parent, byte[] name) {
    if (closed || !mirrored(name)) {
      return;
    }
    byte[] k = MapAbi.entryKey(parent, name);
    byte[] old = new byte[MapAbi.ENTRY_VALUE];
    if (lib.lookup(entryFd, k, old)) {
      unindex(MapAbi.nodeId(old), new EntryKey(parent, name));
    }
    lib.delete(entryFd, k);
  }

  @Override
  public synchronized void attrCached(long nodeId, AttrReply attr) {
    if (!closed) {
      write(attrFd, MapAbi.attrKey(nodeId), MapAbi.attrValue(attr, expiresAt(attr.timeout())));
    }
  }

  @Override
  public synchronized void attrRemoved(long nodeId) {
    if (!closed) {
      lib.delete(attrFd, MapAbi.attrKey(nodeId));
    }
  }

  @Override
  public synchronized void forgotten(long nodeId, long nlookup) {
    Set<EntryKey> keys = byNode.get(nodeId);
    if (closed || keys == null) {
      return;
    }
    long left = nlookup;
    byte[] v = new byte[MapAbi.ENTRY_VALUE];
    for (Iterator<EntryKey> it = keys.iterator(); it.hasNext() && left > 0; ) {
      EntryKey key = it.next();
      byte[] k = MapAbi.entryKey(key.parent(), key.name());
      if (!lib.lookup(entryFd, k, v)) {
        it.remove();
        continue;
      }
      long have = MapAbi.nlookup(v);
      long take = Math.min(have, left);
      if (take > 0) {
        MapAbi.setNlookup(v, have - take);
        // Read-modify-write: a handler counting at the same moment (a kernel hook, or a
        // TEST_RUN on another thread) loses its increment. A patched kernel would need the
        // subtraction done in BPF (or a bpf_spin_lock in the value).
        write(entryFd, k, v);
        left -= take;
      }
    }
  }

  /** The current content of entry_map, read back from the kernel (for tests and tools). */
  public synchronized Map<EntryKey, EntryValue> entries() {
    Map<EntryKey, EntryValue> out = new LinkedHashMap<>();
    byte[] v = new byte[MapAbi.ENTRY_VALUE];
    for (byte[] k : keys(entryFd, MapAbi.ENTRY_KEY)) {
      if (lib.lookup(entryFd, k, v)) {
        out.put(MapAbi.decodeEntryKey(k), MapAbi.decodeEntryValue(v));
      }
    }
    return out;
  }

  /** The current content of attr_map, read back from the kernel (for tests and tools). */
  public synchronized Map<Long, AttrValue> attrs() {
    Map<Long, AttrValue> out = new LinkedHashMap<>();
    byte[] v = new byte[MapAbi.ATTR_VALUE];
    for (byte[] k : keys(attrFd, MapAbi.ATTR_KEY)) {
      if (lib.lookup(attrFd, k, v)) {
        out.put(MapAbi.le(k).getLong(0), MapAbi.decodeAttrValue(v));
      }
    }
    return out;
  }

  private List<byte[]> keys(int fd, int size) {
    checkOpen();
    List<byte[]> keys = new ArrayList<>();
    byte[] key = null;
    byte[] next = new byte[size];
    while (lib.nextKey(fd, key, next)) {
      keys.add(next);
      key = next;
      next = new byte[size];
    }
    return keys;
  }

  int entryMapFd() {
    checkOpen();
    return entryFd;
  }

  int attrMapFd() {
    checkOpen();
    return attrFd;
  }

  private synchronized void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CacheMaps is closed");
    }
  }

  /** Closes both maps (a program that reuses them keeps its own reference). */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      byNode.clear();
      lib.close(entryFd);
      lib.close(attrFd);
    }
  }

  /** When the cache drops a key filled now with this timeout (LookupCache's arithmetic). */
  private long expiresAt(Duration timeout) {
    long nanos = timeout.isNegative() || timeout.isZero() ? 0
        : timeout.compareTo(Duration.ofNanos(MAX_TIMEOUT_NANOS)) > 0 ? MAX_TIMEOUT_NANOS
        : timeout.toNanos();
    return clock.getAsLong() + nanos;
  }

  private static boolean mirrored(byte[] name) {
    return name.length > 0 && name.length <= MapAbi.NAME_MAX;
  }

  private void unindex(long nodeId, EntryKey key) {
    Set<EntryKey> keys = byNode.get(nodeId);
    if (keys != null && keys.remove(key) && keys.isEmpty()) {
      byNode.remove(nodeId);
    }
  }

  /** Update, or on failure delete so that the map never answers with an outdated value. */
  private boolean write(int fd, byte[] key, byte[] value) {
    try {
      lib.update(fd, key, value);
      return true;
    } catch (FuseException e) {
      lib.delete(fd, key);
      if (failures++ == 0) {
        log.warn("BPF map update failed, the key is left out of the mirror (a miss): {}",
            e.getMessage());
      } else {
        log.debug("BPF map update failed: {}", e.getMessage());
      }
      return false;
    }
  }

  /**
   * An entry_map key: the parent's node id and the name's bytes as the kernel sent them.
   *
   * @param parent the directory's node id
   * @param name the name (not copied; do not modify)
   */
  public record EntryKey(long parent, byte[] name) {
    /** A key for a name given as a string (UTF-8, as the kernel passes it through). */
    public static EntryKey of(long parent, String name) {
      return new EntryKey(parent, name.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof EntryKey k && k.parent == parent && Arrays.equals(k.name, name);
    }

    @Override
    public int hashCode() {
      return Long.hashCode(parent) * 31 + Arrays.hashCode(name);
    }

    @Override
    public String toString() {
      return parent + "/" + new String(name, StandardCharsets.UTF_8);
    }
  }

  /**
   * An entry_map value.
   *
   * @param stale ExtFUSE's stale mark (always 0 in this mirror)
   * @param nlookup lookups the kernel holds through this entry
   * @param nodeId the node the name points at (0: a negative entry)
   * @param generation the node's generation
   * @param entryTimeout the timeout the entry was cached with
   * @param expiresAtNanos when it expires, on {@link System#nanoTime()}'s clock
   */
  public record EntryValue(int stale, long nlookup, long nodeId, long generation,
      Duration entryTimeout, long expiresAtNanos) {}

  /**
   * An attr_map value.
   *
   * @param stale ExtFUSE's stale mark (always 0 in this mirror)
   * @param reply the attributes and the timeout they were cached with
   * @param expiresAtNanos when they expire, on {@link System#nanoTime()}'s clock
   */
  public record AttrValue(int stale, AttrReply reply, long expiresAtNanos) {}
}
