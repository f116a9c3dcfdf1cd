package io.reactorfuse.spi;

import java.util.function.BiConsumer;

/**
 * A small key-value store that outlives the process writing it: what a recoverable filesystem
 * keeps so that the worker started after a crash can rebuild its tables (the nodes the kernel
 * holds lookups on, open file and directory handles). Implemented by the recovery module.
 *
 * <p>Each {@link #put} or {@link #remove} is atomic: after a crash at any moment a reader sees
 * the old value or the new one, never a mix. Keys live in numbered spaces so that several tables
 * share a store. Thread-safe.
 */
public interface StateStore {

  /** The largest value {@link #put} accepts, in bytes. */
  int maxValueSize();

  /** Stores {@code value} (at most {@link #maxValueSize()} bytes) under (space, key). */
  void put(int space, long key, byte[] value);

  /** The value under (space, key), or null. */
  byte[] get(int space, long key);

  /** Removes (space, key) if present. */
  void remove(int space, long key);

  /** Calls {@code action} for every entry of {@code space}, in no particular order. */
  void forEach(int space, BiConsumer<Long, byte[]> action);
}
