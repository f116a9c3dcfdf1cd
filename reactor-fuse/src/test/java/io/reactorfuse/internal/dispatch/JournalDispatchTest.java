package io.reactorfuse.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.internal.dispatch.Wire.Reply;
import io.reactorfuse.internal.transport.InMemoryTransport;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import io.reactorfuse.spi.RequestJournal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * The dispatcher's side of exactly-once recovery: what it tells the {@link RequestJournal}, in
 * which order, and how it answers requests the kernel resends (bit 63 of unique) after a worker
 * died.
 */
class JournalDispatchTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final InitOptions OPTIONS =
      new InitOptions(1 << 20, 1 << 20, 64, 48, 1, FuseInit.ASYNC_READ);
  private static final long RESENT = RequestJournal.RESEND_BIT;

  private final TrackingAllocator alloc = new TrackingAllocator();
  private final MapJournal journal = new MapJournal();
  private final AtomicInteger unlinks = new AtomicInteger();
  private final AtomicReference<FuseContext> lastContext = new AtomicReference<>();
  private Dispatcher dispatcher;
  private InMemoryTransport transport;

  /** unlink fails with ENOENT for names starting with "missing", else succeeds. */
  private final FuseOps ops = new FuseOps() {
    @Override
    public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
      unlinks.incrementAndGet();
      lastContext.set(ctx);
      return req.name().startsWith("missing") ? Mono.error(Errno.ENOENT.exception())
          : Mono.empty();
    }
  };

  @AfterEach
  void everyRequestEndedAndEveryBufferReleased() {
    assertEquals(0, dispatcher.inFlightCount(), "requests still in flight");
    alloc.assertAllReleased();
  }

  private void serve() {
    dispatcher = new Dispatcher(ops, OPTIONS, alloc, false, null, journal);
    transport = new InMemoryTransport(dispatcher, alloc);
  }

  private Reply take() throws InterruptedException {
    return Reply.parse(transport.takeReply(WAIT));
  }

  @Test
  void unlink_replyIsSavedBeforeItIsWrittenAndDroppedAfter() throws Exception {
    serve();
    transport.inject(Wire.unlink(10, 1, "missing"));
    Reply r = take();
    assertEquals(-Errno.ENOENT.code(), r.error());
    assertEquals(List.of("started 10 op 10", "replying 10", "replied 10"), journal.events);
    // The saved bytes are the reply that went out, header first.
    assertArrayEquals(transport.replies().get(0), journal.lastSaved);
  }

  @Test
  void lookup_isNotJournaled() throws Exception {
    serve();
    transport.inject(Wire.lookup(12, 1, "x"));
    take();
    assertTrue(journal.events.isEmpty(), journal.events.toString());
  }

  @Test
  void resentRequest_withSavedReply_isAnsweredFromTheJournalWithoutRunning() throws Exception {
    serve();
    // What a dead worker saved: unlink 20 failed with ENOENT.
    journal.saved.put(20L, reply(20, -Errno.ENOENT.code()));
    transport.inject(Wire.unlink(20 | RESENT, 1, "gone-already"));
    Reply r = take();
    assertEquals(20 | RESENT, r.unique(), "the resent unique is echoed with bit 63");
    assertEquals(-Errno.ENOENT.code(), r.error(), "the saved answer, not a fresh one");
    assertEquals(0, unlinks.get(), "the handler must not run twice");
    assertFalse(journal.saved.containsKey(20L), "answered: the entry is dropped");
    assertEquals(List.of("replied 20", "resent 20 from journal"), journal.events);
  }

  @Test
  void resentRequest_startedButNotSaved_runsAsMaybeApplied() throws Exception {
    serve();
    journal.started.add(30L);
    transport.inject(Wire.unlink(30 | RESENT, 1, "x"));
    Reply r = take();
    assertEquals(30 | RESENT, r.unique());
    assertEquals(0, r.error());
    assertEquals(1, unlinks.get());
    assertTrue(lastContext.get().maybeApplied());
    assertTrue(lastContext.get().resent());
    assertTrue(journal.events.contains("resent 30 executed"), journal.events.toString());
  }

  @Test
  void resentRequest_neverStarted_runsNormally() throws Exception {
    serve();
    transport.inject(Wire.unlink(40 | RESENT, 1, "x"));
    assertEquals(0, take().error());
    assertFalse(lastContext.get().maybeApplied());
    assertTrue(lastContext.get().resent());
  }

  @Test
  void firstDelivery_isNeverMaybeApplied() throws Exception {
    serve();
    journal.started.add(50L); // left over: only a resend may be taken as "maybe done"
    transport.inject(Wire.unlink(50, 1, "x"));
    take();
    assertFalse(lastContext.get().maybeApplied());
  }

  @Test
  void init_isSavedBeforeTheReply() throws Exception {
    serve();
    transport.inject(Wire.init(2, 7, 45, 0x73fffffbL));
    Reply r = take();
    assertEquals(0, r.error());
    assertNotNull(journal.init);
    assertEquals(List.of("init"), journal.events);
  }

  private static byte[] reply(long unique, int error) {
    return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(16).putInt(error).putLong(unique).array();
  }

  /** A journal in memory that records what it was told, in order. */
  private static final class MapJournal implements RequestJournal {
    final List<String> events = new ArrayList<>();
    final Map<Long, byte[]> saved = new HashMap<>();
    final Set<Long> started = new HashSet<>();
    byte[] lastSaved;
    FuseInit init;

    @Override
    public synchronized void initNegotiated(FuseInit init) {
      this.init = init;
      events.add("init");
    }

    @Override
    public synchronized ByteBuffer savedReply(long unique) {
      byte[] b = saved.get(unique);
      return b == null ? null : ByteBuffer.wrap(b);
    }

    @Override
    public synchronized boolean wasStarted(long unique) {
      return started.contains(unique) && !saved.containsKey(unique);
    }

    @Override
    public synchronized void started(long unique, int opcode) {
      started.add(unique);
      events.add("started " + unique + " op " + opcode);
    }

    @Override
    public synchronized void replying(long unique, ByteBuffer reply) {
      byte[] b = new byte[reply.remaining()];
      reply.duplicate().get(b);
      saved.put(unique, b);
      lastSaved = b;
      events.add("replying " + unique);
    }

    @Override
    public synchronized void replied(long unique) {
      saved.remove(unique);
      started.remove(unique);
      events.add("replied " + unique);
    }

    @Override
    public synchronized void resentAnswered(long unique, int opcode, boolean fromJournal) {
      events.add("resent " + unique + (fromJournal ? " from journal" : " executed"));
    }
  }
}
