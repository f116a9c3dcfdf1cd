package io.reactorfuse.recovery;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/**
 * The child process of {@link RecoveryStoreCrashTest}: opens a store, puts a first batch of keys,
 * puts and removes a batch of others, prints "ready", then overwrites keys until it is killed
 * (or a minute has passed, so that no child outlives a test JVM that died).
 *
 * <p>Arguments: store file, first batch size, removed batch size, first sequence number.
 */
public final class CrashWriterMain {

  static final int KEPT_SPACE = RecoveryStore.FIRST_USER_SPACE;
  static final int REMOVED_SPACE = KEPT_SPACE + 1;
  static final int CHURN_SPACE = KEPT_SPACE + 2;

  private CrashWriterMain() {}

  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    int kept = Integer.parseInt(args[1]);
    int removed = Integer.parseInt(args[2]);
    long seq = Long.parseLong(args[3]);
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    RecoveryStore store = RecoveryStore.open(file);
    int max = store.maxValueSize();
    for (int k = 0; k < kept; k++) {
      store.put(KEPT_SPACE, k, value(k, seq++, max));
    }
    for (int k = 0; k < removed; k++) {
      store.put(REMOVED_SPACE, k, value(k, seq++, max));
      store.put(REMOVED_SPACE, k, value(k, seq++, max));
      store.remove(REMOVED_SPACE, k);
    }
    // what an earlier child's churn loop left (at most one key)
    store.forEach(CHURN_SPACE, (k, v) -> store.remove(CHURN_SPACE, k));
    System.out.println("ready");
    System.out.flush();
    SplittableRandom random = new SplittableRandom(seq);
    for (long i = 0; ; i++) {
      int k = random.nextInt(kept);
      store.put(KEPT_SPACE, k, value(k, seq++, max));
      if ((i & 7) == 0) {
        long churn = i & 1023;
        store.put(CHURN_SPACE, churn, value(churn, seq++, max));
        store.remove(CHURN_SPACE, churn);
      }
      if ((i & 4095) == 0 && System.nanoTime() > deadline) {
        System.exit(3);
      }
    }
  }

  /**
   * A value that proves itself whole: {key, sequence number, filler of a length that varies
   * with the sequence number, CRC32 of all that}.
   */
  static byte[] value(long key, long seq, int maxSize) {
    int filler = Math.floorMod(seq * 7919, maxSize - 20 + 1);
    ByteBuffer b = ByteBuffer.allocate(20 + filler);
    b.putLong(key).putLong(seq);
    for (int i = 0; i < filler; i++) {
      b.put((byte) (seq + i));
    }
    CRC32 crc = new CRC32();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** The sequence number of a value made by {@link #value} for {@code key}, or -1 if torn. */
  static long checkedSeq(long key, byte[] value) {
    if (value.length < 20) {
      return -1;
    }
    ByteBuffer b = ByteBuffer.wrap(value);
    CRC32 crc = new CRC32();
    crc.update(value, 0, value.length - 4);
    if ((int) crc.getValue() != b.getInt(value.length - 4) || b.getLong(0) != key) {
      return -1;
    }
    return b.getLong(8);
  }
}
