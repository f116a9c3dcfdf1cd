package io.reactorfuse.samples.passthrough;

import io.reactorfuse.spi.StateStore;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A {@link StateStore} in a HashMap, for tests: it outlives the filesystem objects of one JVM
 * (what a takeover test needs), not the process. Values are copied in and out, so a caller
 * cannot change what was stored.
 */
final class MemoryStateStore implements StateStore {
  private final Map<Integer, Map<Long, byte[]>> spaces = new HashMap<>();
  private final int maxValueSize;

  MemoryStateStore() {
    this(480);
  }

  MemoryStateStore(int maxValueSize) {
    this.maxValueSize = maxValueSize;
  }

  @Override
  public int maxValueSize() {
    return maxValueSize;
  }

  @Override
  public synchronized void put(int space, long key, byte[] value) {
    if (value.length > maxValueSize) {
      throw new IllegalArgumentException("value of " + value.length + " bytes");
    }
    spaces.computeIfAbsent(space, s -> new HashMap<>()).put(key, value.clone());
  }

  @Override
  public synchronized byte[] get(int space, long key) {
    byte[] v = spaces.getOrDefault(space, Map.of()).get(key);
    return v == null ? null : v.clone();
  }

  @Override
  public synchronized void remove(int space, long key) {
    Map<Long, byte[]> s = spaces.get(space);
    if (s != null) {
      s.remove(key);
    }
  }

  @Override
  public void forEach(int space, BiConsumer<Long, byte[]> action) {
    Map<Long, byte[]> copy;
    synchronized (this) {
      copy = new HashMap<>(spaces.getOrDefault(space, Map.of()));
    }
    copy.forEach((k, v) -> action.accept(k, v.clone()));
  }

  /** How many entries {@code space} holds. */
  synchronized int size(int space) {
    return spaces.getOrDefault(space, Map.of()).size();
  }
}
