package io.reactorfuse.internal.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.ErrnoException;
import io.reactorfuse.FuseOps;
import io.reactorfuse.internal.codec.NotificationEncoder;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.dispatch.InitOptions;
import io.reactorfuse.internal.transport.InMemoryTransport;
import io.reactorfuse.ops.FuseInit;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * The notifier over {@link InMemoryTransport}: what it writes, when, how the kernel's write errors
 * come back, and how NOTIFY_REPLY requests read by the dispatcher complete retrievals.
 */
class KernelNotifierTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final int NOTIFY_REPLY = 41;

  private final List<ByteBuf> toRelease = new ArrayList<>();
  private Dispatcher dispatcher;
  private InMemoryTransport transport;
  private KernelNotifier notifier;

  @BeforeEach
  void setUp() {
    newNotifier(KernelNotifier.RETRIEVE_TIMEOUT);
  }

  private void newNotifier(Duration retrieveTimeout) {
    dispatcher = new Dispatcher(new FuseOps() {}, new InitOptions(1 << 20, 1 << 20, 64, 48, 1, 0),
        PooledByteBufAllocator.DEFAULT, false);
    transport = new InMemoryTransport(dispatcher);
    notifier = new KernelNotifier(transport, dispatcher, PooledByteBufAllocator.DEFAULT,
        retrieveTimeout, Schedulers.parallel());
  }

  @AfterEach
  void nothingPendingAndEveryBufferReleased() {
    assertEquals(0, notifier.pendingCount(), "retrievals still pending");
    for (ByteBuf b : toRelease) {
      assertEquals(1, b.refCnt(), "a buffer the caller owns was released by someone else");
      b.release();
    }
  }

  /** The header of a notification: {len, error = code, unique = 0}. */
  private static ByteBuffer notification(byte[] bytes, int code) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(bytes.length, b.getInt(0), "len");
    assertEquals(code, b.getInt(4), "notify code");
    assertEquals(0, b.getLong(8), "unique of a notification");
    return b;
  }

  /** The kernel's answer to a retrieve: NOTIFY_REPLY with fuse_notify_retrieve_in and the data. */
  private static byte[] notifyReply(long unique, long nodeId, long offset, byte[] data) {
    return ByteBuffer.allocate(40 + 40 + data.length).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(80 + data.length).putInt(NOTIFY_REPLY).putLong(unique).putLong(nodeId)
        .putInt(0).putInt(0).putInt(0).putInt(0)                // uid, gid, pid, extlen+padding
        .putLong(0).putLong(offset).putInt(data.length).putInt(0).putLong(0).putLong(0)
        .put(data).array();
  }

  private ByteBuf owned(ByteBuf b) {
    toRelease.add(b);
    return b;
  }

  private static String ascii(ByteBuf b) {
    return b.toString(StandardCharsets.US_ASCII);
  }

  @Test
  void retrieve_writesTheRequestAndCompletesWithACopyOfTheNotifyReply() throws Exception {
    CompletableFuture<ByteBuf> result = notifier.retrieve(9, 4096, 100).toFuture();
    ByteBuffer n = notification(transport.takeNotification(WAIT), NotificationEncoder.RETRIEVE);
    long unique = n.getLong(16);
    assertEquals(9, n.getLong(24), "nodeid");
    assertEquals(4096, n.getLong(32), "offset");
    assertEquals(100, n.getInt(40), "size");
    assertNotEquals(0, unique & KernelNotifier.NOTIFY_UNIQUE_BIT, "outside the kernel's uniques");
    assertEquals(1, notifier.pendingCount());
    assertFalse(result.isDone());

    assertFalse(transport.inject(notifyReply(unique, 9, 4096, "abc".getBytes())),
        "the read buffer is free again: the notifier copied the data");
    ByteBuf data = owned(result.get(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertEquals("abc", ascii(data));
    assertTrue(transport.replies().isEmpty(), "the kernel expects no reply to NOTIFY_REPLY");
  }

  @Test
  void retrieve_nothingCached_completesWithAnEmptyBuffer() throws Exception {
    CompletableFuture<ByteBuf> result = notifier.retrieve(9, 0, 4096).toFuture();
    long unique = notification(transport.takeNotification(WAIT), 5).getLong(16);
    transport.inject(notifyReply(unique, 9, 0, new byte[0]));
    ByteBuf data = owned(result.get(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertEquals(0, data.readableBytes());
  }

  @Test
  void retrieve_answersAreMatchedByUniqueInAnyOrder() throws Exception {
    CompletableFuture<ByteBuf> first = notifier.retrieve(9, 0, 10).toFuture();
    long u1 = notification(transport.takeNotification(WAIT), 5).getLong(16);
    CompletableFuture<ByteBuf> second = notifier.retrieve(9, 0, 10).toFuture();
    long u2 = notification(transport.takeNotification(WAIT), 5).getLong(16);
    assertNotEquals(u1, u2);

    transport.inject(notifyReply(u2, 9, 0, "two".getBytes()));
    assertEquals("two", ascii(owned(second.get(WAIT.toSeconds(), TimeUnit.SECONDS))));
    assertFalse(first.isDone());
    transport.inject(notifyReply(u1, 9, 0, "one".getBytes()));
    assertEquals("one", ascii(owned(first.get(WAIT.toSeconds(), TimeUnit.SECONDS))));
  }

  @Test
  void retrieve_isLazy_andEachSubscriptionRetrievesAgain() throws Exception {
    Mono<ByteBuf> retrieve = notifier.retrieve(9, 0, 10);
    assertTrue(transport.noNotificationPending(), "written before subscribe");
    for (String answer : new String[] {"a", "b"}) {
      CompletableFuture<ByteBuf> result = retrieve.toFuture();
      long unique = notification(transport.takeNotification(WAIT), 5).getLong(16);
      transport.inject(notifyReply(unique, 9, 0, answer.getBytes()));
      assertEquals(answer, ascii(owned(result.get(WAIT.toSeconds(), TimeUnit.SECONDS))));
    }
  }

  @Test
  void retrieve_writeFails_errorsWithTheKernelsErrno() {
    transport.answerNotifications(n -> Errno.ENOENT);
    StepVerifier.create(notifier.retrieve(77, 0, 10))
        .expectErrorSatisfies(e -> assertEquals(Errno.ENOENT, ((ErrnoException) e).errno()))
        .verify(WAIT);
  }

  @Test
  void retrieve_noAnswer_timesOutWithEtimedout_andALateAnswerIsDropped() throws Exception {
    newNotifier(Duration.ofMillis(50));
    StepVerifier.create(notifier.retrieve(9, 0, 10))
        .expectErrorSatisfies(e -> assertEquals(Errno.ETIMEDOUT, ((ErrnoException) e).errno()))
        .verify(WAIT);
    long unique = notification(transport.takeNotification(WAIT), 5).getLong(16);
    assertFalse(transport.inject(notifyReply(unique, 9, 0, "late".getBytes())));
  }

  @Test
  void retrieve_cancelled_forgetsTheRetrieval() throws Exception {
    Disposable subscription = notifier.retrieve(9, 0, 10).subscribe();
    long unique = notification(transport.takeNotification(WAIT), 5).getLong(16);
    assertEquals(1, notifier.pendingCount());
    subscription.dispose();
    assertEquals(0, notifier.pendingCount());
    assertFalse(transport.inject(notifyReply(unique, 9, 0, "late".getBytes())));
  }

  @Test
  void notifyReply_matchingNothing_isDroppedWithoutAReply() {
    assertFalse(transport.inject(notifyReply(KernelNotifier.NOTIFY_UNIQUE_BIT | 12345, 9, 0,
        "x".getBytes())));
    assertTrue(transport.replies().isEmpty());
  }

  @Test
  void invalEntry_isWrittenOnSubscribe_andCompletesEmpty() throws Exception {
    Mono<Void> inval = notifier.invalEntry(1, "name", false);
    assertTrue(transport.noNotificationPending(), "written before subscribe");
    StepVerifier.create(inval).verifyComplete();
    ByteBuffer n = notification(transport.takeNotification(WAIT), NotificationEncoder.INVAL_ENTRY);
    assertEquals(1, n.getLong(16), "parent");
    assertEquals(4, n.getInt(24), "namelen");
    assertEquals(0, n.getInt(28), "flags");
  }

  @Test
  void everyNotification_failsWithTheErrnoTheKernelAnswered() {
    transport.answerNotifications(n -> Errno.ENOENT);
    List<Mono<Void>> all = List.of(
        notifier.invalInode(5, 0, 0),
        notifier.invalEntry(1, "a", true),
        notifier.delete(1, 5, "a"),
        notifier.store(5, 0, Unpooled.wrappedBuffer(new byte[3])),
        notifier.pollWakeup(3),
        notifier.resend(),
        notifier.incEpoch(),
        notifier.prune(5, 6));
    for (Mono<Void> m : all) {
      StepVerifier.create(m)
          .expectErrorSatisfies(e -> assertEquals(Errno.ENOENT, ((ErrnoException) e).errno()))
          .verify(WAIT);
    }
  }

  @Test
  void store_releasesTheDataWhenWritten_andWritesOnce() throws Exception {
    ByteBuf data = Unpooled.copiedBuffer("page", StandardCharsets.US_ASCII);
    Mono<Void> store = notifier.store(5, 4096, data);
    assertEquals(1, data.refCnt(), "nothing happens before subscribe");
    assertTrue(transport.noNotificationPending());
    StepVerifier.create(store).verifyComplete();
    assertEquals(0, data.refCnt());
    ByteBuffer n = notification(transport.takeNotification(WAIT), NotificationEncoder.STORE);
    assertEquals(4, n.getInt(32), "size");
    StepVerifier.create(store).expectError(IllegalStateException.class).verify(WAIT);
    assertTrue(transport.noNotificationPending());
  }

  @Test
  void notificationsNewerThanTheKernel_failWithEnosysAndAreNotWritten() throws Exception {
    // A 7.39 kernel: no RESEND (7.40), INC_EPOCH (7.44) or PRUNE (7.45); it has EXPIRE_ONLY (7.38).
    dispatcher.resume(new FuseInit(7, 39, 39, 0, 0, 131072, 131072, 32, 12, 9, 1, 0));
    for (Mono<Void> m : List.of(notifier.resend(), notifier.incEpoch(), notifier.prune(5))) {
      StepVerifier.create(m)
          .expectErrorSatisfies(e -> assertEquals(Errno.ENOSYS, ((ErrnoException) e).errno()))
          .verify(WAIT);
    }
    assertTrue(transport.noNotificationPending());
    StepVerifier.create(notifier.invalEntry(1, "a", true)).verifyComplete();

    dispatcher.resume(new FuseInit(7, 37, 37, 0, 0, 131072, 131072, 32, 12, 9, 1, 0));
    transport.takeNotification(WAIT);
    StepVerifier.create(notifier.invalEntry(1, "a", true))
        .expectErrorSatisfies(e -> assertEquals(Errno.ENOSYS, ((ErrnoException) e).errno()))
        .verify(WAIT);
    StepVerifier.create(notifier.invalEntry(1, "a", false)).verifyComplete();
  }
}
