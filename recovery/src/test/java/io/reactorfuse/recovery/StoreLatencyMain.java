package io.reactorfuse.recovery;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * Why the store is a mapped file: the latency of one put of a 160-byte value (the largest
 * journaled reply) done three ways, median and p99 over 200,000 puts after a warm-up.
 *
 * <ol>
 *   <li>{@link RecoveryStore#put}: stores into a shared mapping, no system call;
 *   <li>the same slot image written with {@code FileChannel.write} at its position: one
 *       {@code pwrite} per put, which survives the process's death too;
 *   <li>that plus {@code force(false)} ({@code fdatasync}): what surviving a machine crash would
 *       cost, which we do not need.
 * </ol>
 *
 * Not a test and not run by the build. Run from /work/main after {@code mvn test -pl recovery}:
 * {@code java -Xms512m -Xmx512m -XX:+AlwaysPreTouch -cp
 * recovery/target/test-classes:recovery/target/classes:$(cat /tmp/cp.txt)
 * io.reactorfuse.recovery.StoreLatencyMain [dir] [fdatasync puts]}. Without a pre-touched heap,
 * the first write to each new page of the young generation costs a page fault (about 1.5 us),
 * which shows in the p99 of (a) (allocations: the boxed keys of the index) and is not the
 * store's cost in a long-running worker.
 */
public final class StoreLatencyMain {

  private static final int VALUE_SIZE = 160;
  private static final int KEYS = 1024;
  /** Enough for the JIT, and for the young generation to have touched its pages. */
  private static final int WARMUP = 1_000_000;
  private static final int PUTS = 200_000;

  private StoreLatencyMain() {}

  public static void main(String[] args) throws IOException {
    Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("store-latency");
    // each fdatasync is a disk flush (about 0.1 ms on a virtio disk, more on others): a smaller
    // count can be given
    int syncPuts = args.length > 1 ? Integer.parseInt(args[1]) : PUTS;
    System.out.println("dir " + dir + ", value " + VALUE_SIZE + " bytes, " + KEYS
        + " keys overwritten in turn; times in microseconds");
    byte[] value = new byte[VALUE_SIZE];
    Arrays.fill(value, (byte) 0x5a);

    Path mapped = dir.resolve("mapped.store");
    Files.deleteIfExists(mapped);
    try (RecoveryStore store = RecoveryStore.open(mapped)) {
      Put put = i -> store.put(RecoveryStore.FIRST_USER_SPACE, i % KEYS, value);
      run(put, WARMUP);
      report("(a) RecoveryStore.put (mapped)", run(put, PUTS));
    }

    Path plain = dir.resolve("pwrite.store");
    Files.deleteIfExists(plain);
    try (FileChannel channel = FileChannel.open(plain, StandardOpenOption.CREATE,
        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      SlotWriter writer = new SlotWriter(channel, value);
      run(i -> writer.write(i, false), WARMUP);
      report("(b) FileChannel.write (pwrite)", run(i -> writer.write(i, false), PUTS));
      run(i -> writer.write(i, true), Math.max(1000, syncPuts / 100));
      report("(c) FileChannel.write + force(false)", run(i -> writer.write(i, true), syncPuts));
    }
    Files.deleteIfExists(mapped);
    Files.deleteIfExists(plain);
  }

  /** One put; {@code i} chooses the key. */
  private interface Put {
    void run(int i) throws IOException;
  }

  private static long[] run(Put put, int count) throws IOException {
    long[] nanos = new long[count];
    for (int i = 0; i < count; i++) {
      long start = System.nanoTime();
      put.run(i);
      nanos[i] = System.nanoTime() - start;
    }
    return nanos;
  }

  private static void report(String what, long[] nanos) {
    long total = Arrays.stream(nanos).sum();
    Arrays.sort(nanos);
    System.out.printf(Locale.ROOT,
        "%-38s n=%,7d  median %9.3f  p99 %9.3f  max %10.3f  mean %9.3f%n", what, nanos.length,
        nanos[nanos.length / 2] / 1e3, nanos[(int) (nanos.length * 0.99)] / 1e3,
        nanos[nanos.length - 1] / 1e3, total / 1e3 / nanos.length);
  }

  /** The store's put done with a system call: the same slot image, written at its position. */
  private static final class SlotWriter {
    private final FileChannel channel;
    private final byte[] value;
    private final ByteBuffer slot = ByteBuffer.allocateDirect(RecoveryStore.HEADER_SIZE
        + VALUE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final byte[] scratch = new byte[RecoveryStore.HEADER_SIZE + VALUE_SIZE];
    private final ByteBuffer scratchView = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();
    private long version;

    SlotWriter(FileChannel channel, byte[] value) {
      this.channel = channel;
      this.value = value;
    }

    void write(int i, boolean sync) throws IOException {
      long key = i % KEYS;
      scratchView.putInt(0, RecoveryStore.SLOT_MAGIC)
          .putLong(RecoveryStore.OFF_VERSION, ++version)
          .putLong(RecoveryStore.OFF_KEY, key)
          .putInt(RecoveryStore.OFF_SPACE, RecoveryStore.FIRST_USER_SPACE)
          .putInt(RecoveryStore.OFF_LENGTH, value.length);
      System.arraycopy(value, 0, scratch, RecoveryStore.HEADER_SIZE, value.length);
      crc.reset();
      crc.update(scratch, RecoveryStore.OFF_VERSION, scratch.length - RecoveryStore.OFF_VERSION);
      scratchView.putInt(RecoveryStore.OFF_CRC, (int) crc.getValue());
      slot.clear();
      slot.put(scratch).flip();
      long position = RecoveryStore.fileOffset((int) key + 1);
      while (slot.hasRemaining()) {
        channel.write(slot, position + slot.position());
      }
      if (sync) {
        channel.force(false);
      }
    }
  }
}
