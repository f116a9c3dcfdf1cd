package io.reactorfuse.spi;

import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;

/**
 * Told of every change to a lookup/attribute cache ({@code io.reactorfuse.LookupCache}), in the
 * order the changes happen, so that a mirror (the eBPF maps of the ebpf module) stays equal to
 * the cache. Calls come from the threads that change the cache; an implementation must be
 * thread-safe and must not block.
 */
public interface CacheListener {

  /**
   * An entry was cached or replaced: {@code name} (the bytes the kernel sent) in {@code parent}
   * is {@code entry}; a negative entry has node id 0.
   */
  void entryCached(long parent, byte[] name, EntryReply entry);

  /** The entry for {@code name} in {@code parent} left the cache (invalidated or evicted). */
  void entryRemoved(long parent, byte[] name);

  /** The attributes of {@code nodeId} were cached or replaced. */
  void attrCached(long nodeId, AttrReply attr);

  /** The attributes of {@code nodeId} left the cache. */
  void attrRemoved(long nodeId);

  /**
   * The kernel forgot {@code nlookup} lookups of {@code nodeId} (FORGET): where a mirror counts
   * lookups itself (ExtFUSE's entry_map nlookup), it subtracts them.
   */
  default void forgotten(long nodeId, long nlookup) {}
}
