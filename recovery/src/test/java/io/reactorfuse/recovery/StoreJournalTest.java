package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.ops.FuseInit;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreJournalTest {

  private static final long MINUTE = 60_000;

  @TempDir Path dir;
  private RecoveryStore store;
  private final AtomicLong now = new AtomicLong(1_700_000_000_000L);

  @BeforeEach
  void open() throws IOException {
    store = RecoveryStore.open(dir.resolve("state"));
  }

  @AfterEach
  void close() throws IOException {
    store.close();
  }

  private StoreJournal journal() {
    return new StoreJournal(store, StoreJournal.DEFAULT_MAX_AGE, now::get);
  }

  /** A reply as the dispatcher has it: 16-byte out header, then a body. */
  private static ByteBuffer reply(long unique, int bodyLength) {
    ByteBuffer b = ByteBuffer.allocate(16 + bodyLength);
    b.putInt(16 + bodyLength).putInt(0).putLong(unique);
    for (int i = 0; i < bodyLength; i++) {
      b.put((byte) (unique + i));
    }
    return b.flip();
  }

  @Test
  void init_roundTripKeepsEveryComponent() throws Exception {
    // a distinct value per component, with high bits set in the longs
    RecordComponent[] components = FuseInit.class.getRecordComponents();
    Object[] args = new Object[components.length];
    Class<?>[] types = new Class<?>[components.length];
    for (int i = 0; i < components.length; i++) {
      types[i] = components[i].getType();
      args[i] = types[i] == long.class ? (Object) (0x8000_0000_0000_0000L | (1L << 40) | i)
          : (Object) (1000 + i);
    }
    FuseInit init = FuseInit.class.getDeclaredConstructor(types).newInstance(args);
    StoreJournal journal = journal();
    assertNull(journal.savedInit());
    journal.initNegotiated(init);
    assertEquals(init, journal.savedInit());
    // and in the next worker's process
    store.close();
    store = RecoveryStore.open(dir.resolve("state"));
    assertEquals(init, journal().savedInit());
  }

  @Test
  void init_ofUnknownLayoutIsRefused() {
    store.put(Spaces.INIT, 0, new byte[] {9, 0, 0, 0});
    assertThrows(IllegalStateException.class, () -> journal().savedInit());
  }

  @Test
  void journal_followsARequestThroughItsLife() {
    StoreJournal journal = journal();
    assertFalse(journal.wasStarted(5));
    assertNull(journal.savedReply(5));

    journal.started(5, 9);
    assertTrue(journal.wasStarted(5), "started, no reply saved");
    assertNull(journal.savedReply(5));

    ByteBuffer reply = reply(5, 128);
    journal.replying(5, reply);
    assertFalse(journal.wasStarted(5), "a saved reply answers it");
    assertEquals(reply, journal.savedReply(5));
    assertEquals(0, journal.savedReply(5).position());

    journal.replied(5);
    assertFalse(journal.wasStarted(5));
    assertNull(journal.savedReply(5));
    assertEquals(0, store.size(), "nothing left behind");
  }

  @Test
  void replying_readsFromPositionWithoutMovingIt() {
    StoreJournal journal = journal();
    ByteBuffer reply = ByteBuffer.allocate(64);
    reply.position(10);
    reply.put(10, (byte) 0x7f);
    reply.limit(10 + 16 + 8);
    journal.started(3, 16);
    journal.replying(3, reply);
    assertEquals(10, reply.position());
    assertEquals(34, reply.limit());
    ByteBuffer saved = journal.savedReply(3);
    assertEquals(24, saved.remaining());
    assertEquals(0x7f, saved.get(0));
  }

  @Test
  void savedReply_isWritableForTheNewUnique() {
    StoreJournal journal = journal();
    journal.replying(8, reply(8, 40));
    ByteBuffer saved = journal.savedReply(8);
    saved.putLong(8, 8 | StoreJournal.RESEND_BIT);
    assertEquals(8, journal.savedReply(8).getLong(8), "the stored copy is not changed");
  }

  @Test
  void replying_largestJournaledReplyIsSaved() {
    StoreJournal journal = journal();
    ByteBuffer reply = reply(11, 128 + 16);
    journal.started(11, 35);
    journal.replying(11, reply);
    assertEquals(reply, journal.savedReply(11));
  }

  @Test
  void replying_tooBigReplyIsNotSavedAndLeavesRequestStarted() {
    StoreJournal journal = journal();
    journal.started(12, 16);
    journal.replying(12, reply(12, store.maxValueSize()));
    journal.replying(12, reply(12, store.maxValueSize() + 100));
    assertNull(journal.savedReply(12));
    assertTrue(journal.wasStarted(12), "runs again, with maybeApplied");
  }

  @Test
  void journal_survivesReopeningTheStore() throws IOException {
    StoreJournal journal = journal();
    journal.started(20, 9);
    journal.started(21, 10);
    journal.replying(21, reply(21, 0));
    store.close();
    store = RecoveryStore.open(dir.resolve("state"));
    StoreJournal next = journal();
    assertTrue(next.wasStarted(20));
    assertNull(next.savedReply(20));
    assertFalse(next.wasStarted(21));
    assertEquals(reply(21, 0), next.savedReply(21));
  }

  @Test
  void open_deletesEntriesOlderThanMaxAge() {
    StoreJournal journal = journal();
    journal.started(1, 9);
    journal.started(2, 10);
    journal.replying(2, reply(2, 16));
    now.addAndGet(5 * MINUTE);
    journal.started(3, 9);
    journal.replying(3, reply(3, 16));
    journal.started(4, 11);
    now.addAndGet(6 * MINUTE);

    StoreJournal next = journal();
    assertFalse(next.wasStarted(1));
    assertNull(next.savedReply(2));
    assertEquals(reply(3, 16), next.savedReply(3), "5 minutes old: kept");
    assertTrue(next.wasStarted(4));
    assertEquals(3, store.size(), "3's intent and reply, 4's intent");
  }

  @Test
  void open_withShorterMaxAgeDeletesMore() {
    journal().started(1, 9);
    now.addAndGet(2 * MINUTE);
    new StoreJournal(store, Duration.ofMinutes(1), now::get);
    assertEquals(0, store.size());
  }

  @Test
  void open_keepsInitAndUserSpaces() {
    StoreJournal journal = journal();
    journal.initNegotiated(new FuseInit(7, 45, 45, 1, 1, 0, 1 << 20, 256, 64, 48, 1, 0));
    store.put(RecoveryStore.FIRST_USER_SPACE, 1, new byte[0]);
    now.addAndGet(60 * MINUTE);
    journal();
    assertEquals(2, store.size());
  }

  @Test
  void resentAnswered_countsAndRecordsTheFirst() {
    StoreJournal journal = journal();
    assertEquals(OptionalLong.empty(), journal.firstResentAnsweredNanos());
    long before = System.nanoTime();
    journal.resentAnswered(1, 9, true);
    long first = journal.firstResentAnsweredNanos().orElseThrow();
    journal.resentAnswered(2, 10, false);
    journal.resentAnswered(3, 16, true);
    assertEquals(2, journal.resentFromJournal());
    assertEquals(1, journal.resentExecuted());
    assertTrue(first - before >= 0);
    assertEquals(first, journal.firstResentAnsweredNanos().orElseThrow(), "the first one");
  }

  @Test
  void open_defaultMaxAgeIsTenMinutes() {
    assertEquals(Duration.ofMinutes(10), StoreJournal.DEFAULT_MAX_AGE);
    StoreJournal.open(store).started(1, 9);
    assertTrue(StoreJournal.open(store).wasStarted(1));
  }
}
