package io.reactorfuse.recovery;

import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.spi.RequestJournal;
import io.reactorfuse.spi.StateStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RequestJournal} kept in a {@link StateStore} (normally a {@link RecoveryStore}), in
 * the reserved spaces 1 to 3.
 *
 * <p>Per journaled request: {@link #started} puts an intent entry, {@link #replying} puts the
 * reply, {@link #replied} removes both. Each entry carries the wall-clock time it was written.
 *
 * <p><b>Leftovers.</b> A worker that dies after writing a reply to the kernel and before
 * {@link #replied} leaves entries that nothing will ask for: the kernel does not resend a request
 * it has the reply of. {@link #open} therefore deletes the entries older than a maximum age
 * (default {@link #DEFAULT_MAX_AGE}). That is safe because the kernel resends the requests in
 * flight at once when the next worker connects, so only recent entries can still be asked for.
 * The age must exceed the longest a journaled request runs plus the time from a crash to the
 * next worker's start. A wall clock stepped back only delays the deletion of entries that seem
 * to be from the future.
 *
 * <p>Thread-safe as its store is. Replies longer than the store's value size minus 8 bytes are
 * not saved (a warning is logged once); the request is then treated as started and not answered,
 * that is, run again with {@code FuseContext.maybeApplied()} set.
 */
public final class StoreJournal implements RequestJournal {

  /** How old a journal entry must be for {@link #open(StateStore)} to delete it. */
  public static final Duration DEFAULT_MAX_AGE = Duration.ofMinutes(10);

  private static final Logger log = LoggerFactory.getLogger(StoreJournal.class);

  /** Version of the INIT entry's layout, its first 4 bytes. */
  private static final int INIT_FORMAT = 1;
  private static final int INIT_SIZE = 4 + 10 * 4 + 2 * 8;
  /** Every intent and reply entry starts with the millis it was written at. */
  private static final int TIME_SIZE = 8;

  private final StateStore store;
  private final LongSupplier clockMillis;
  private final AtomicBoolean warnedTooBig = new AtomicBoolean();
  private final AtomicLong resentFromJournal = new AtomicLong();
  private final AtomicLong resentExecuted = new AtomicLong();
  private final AtomicReference<Long> firstResentNanos = new AtomicReference<>();

  StoreJournal(StateStore store, Duration maxAge, LongSupplier clockMillis) {
    this.store = Objects.requireNonNull(store, "store");
    this.clockMillis = clockMillis;
    if (maxAge.isNegative()) {
      throw new IllegalArgumentException("negative maxAge " + maxAge);
    }
    deleteOlderThan(clockMillis.getAsLong() - maxAge.toMillis());
  }

  /**
   * The journal in {@code store}, after deleting its entries older than
   * {@link #DEFAULT_MAX_AGE}. Call it once per worker, before the session starts.
   */
  public static StoreJournal open(StateStore store) {
    return open(store, DEFAULT_MAX_AGE);
  }

  /** The journal in {@code store}, after deleting its entries older than {@code maxAge}. */
  public static StoreJournal open(StateStore store, Duration maxAge) {
    return new StoreJournal(store, maxAge, System::currentTimeMillis);
  }

  @Override
  public void initNegotiated(FuseInit init) {
    ByteBuffer b = ByteBuffer.allocate(INIT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(INIT_FORMAT)
        .putInt(init.kernelMajor())
        .putInt(init.kernelMinor())
        .putInt(init.minor())
        .putLong(init.kernelFlags())
        .putLong(init.flags())
        .putInt(init.maxReadahead())
        .putInt(init.maxWrite())
        .putInt(init.maxPages())
        .putInt(init.maxBackground())
        .putInt(init.congestionThreshold())
        .putInt(init.timeGran())
        .putInt(init.maxStackDepth());
    store.put(Spaces.INIT, 0, b.array());
  }

  /**
   * The INIT result an earlier worker saved with {@link #initNegotiated}, or null if none was.
   *
   * @throws IllegalStateException if the saved entry is of another layout (another version)
   */
  public FuseInit savedInit() {
    byte[] value = store.get(Spaces.INIT, 0);
    if (value == null) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    if (value.length != INIT_SIZE || b.getInt() != INIT_FORMAT) {
      throw new IllegalStateException("saved INIT of unknown layout (" + value.length
          + " bytes, format " + (value.length >= 4 ? b.getInt(0) : -1) + ")");
    }
    return new FuseInit(b.getInt(), b.getInt(), b.getInt(), b.getLong(), b.getLong(),
        b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt());
  }

  @Override
  public ByteBuffer savedReply(long unique) {
    byte[] value = store.get(Spaces.REPLY, unique);
    if (value == null || value.length < TIME_SIZE) {
      return null;
    }
    return ByteBuffer.wrap(value, TIME_SIZE, value.length - TIME_SIZE).slice();
  }

  @Override
  public boolean wasStarted(long unique) {
    return store.get(Spaces.INTENT, unique) != null && store.get(Spaces.REPLY, unique) == null;
  }

  @Override
  public void started(long unique, int opcode) {
    store.put(Spaces.INTENT, unique, ByteBuffer.allocate(TIME_SIZE + 4)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(clockMillis.getAsLong())
        .putInt(opcode)
        .array());
  }

  @Override
  public void replying(long unique, ByteBuffer reply) {
    int length = reply.remaining();
    if (TIME_SIZE + length > store.maxValueSize()) {
      if (warnedTooBig.compareAndSet(false, true)) {
        log.warn("A reply of {} bytes (unique {}) is too large for the journal ({} at most): "
            + "such replies are not saved, their requests run again if resent", length, unique,
            store.maxValueSize() - TIME_SIZE);
      }
      return;
    }
    byte[] value = new byte[TIME_SIZE + length];
    ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).putLong(clockMillis.getAsLong());
    reply.get(reply.position(), value, TIME_SIZE, length);
    store.put(Spaces.REPLY, unique, value);
  }

  @Override
  public void replied(long unique) {
    store.remove(Spaces.REPLY, unique);
    store.remove(Spaces.INTENT, unique);
  }

  @Override
  public void resentAnswered(long unique, int opcode, boolean fromJournal) {
    long now = System.nanoTime();
    firstResentNanos.compareAndSet(null, now);
    (fromJournal ? resentFromJournal : resentExecuted).incrementAndGet();
  }

  /** How many resent requests were answered with a reply saved by an earlier worker. */
  public long resentFromJournal() {
    return resentFromJournal.get();
  }

  /** How many resent requests were answered by running them (again, possibly). */
  public long resentExecuted() {
    return resentExecuted.get();
  }

  /**
   * The {@link System#nanoTime()} at which the first resent request was answered, or empty if
   * none was yet: compared with the worker's start, how long recovery took.
   */
  public OptionalLong firstResentAnsweredNanos() {
    Long nanos = firstResentNanos.get();
    return nanos == null ? OptionalLong.empty() : OptionalLong.of(nanos);
  }

  private void deleteOlderThan(long cutoffMillis) {
    int deleted = deleteOlderThan(Spaces.INTENT, cutoffMillis)
        + deleteOlderThan(Spaces.REPLY, cutoffMillis);
    if (deleted > 0) {
      log.info("Deleted {} journal entries written before {} (left by a crash; the kernel will "
          + "not ask for them)", deleted, java.time.Instant.ofEpochMilli(cutoffMillis));
    }
  }

  private int deleteOlderThan(int space, long cutoffMillis) {
    List<Long> old = new ArrayList<>();
    store.forEach(space, (key, value) -> {
      // An entry too short to hold a time is not ours to keep either.
      if (value.length < TIME_SIZE || writtenMillis(value) < cutoffMillis) {
        old.add(key);
      }
    });
    for (long key : old) {
      store.remove(space, key);
    }
    return old.size();
  }

  private static long writtenMillis(byte[] value) {
    return ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
  }
}
