package io.reactorfuse.internal.notify;

import io.reactorfuse.ops.FuseNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseNotifier;
import io.reactorfuse.internal.codec.NotificationEncoder;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.transport.NotificationSink;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * {@link FuseNotifier} on a session's /dev/fuse fd. Every Mono is lazy: the notification is
 * encoded and written, in one write(2) on the subscriber's thread, when it is subscribed (each
 * subscription writes again, except for {@link #store}, whose data is consumed once). The kernel
 * handles a notification inside that write(2) and answers it with the write's result, which
 * becomes the Mono's outcome.
 *
 * <p>RETRIEVE is the one notification with an answer: the kernel queues a NOTIFY_REPLY request
 * carrying the cached bytes, which the dispatcher hands to {@link #onNotifyReply} on the event
 * loop that read it. Retrievals are matched by the {@code notify_unique} this class chooses: bit
 * 62 set, plus a counter. The kernel's own uniques are even numbers counting up from 2 (bit 0 is
 * set only in INTERRUPT requests, bit 63 marks resent requests), so they never reach bit 62: a
 * NOTIFY_REPLY can never be mistaken for, or collide with, a request the kernel numbered (for
 * example in a journal of completed uniques). A retrieval is registered before its notification
 * is written (the answer may be read before write(2) returns), removed when it is answered,
 * cancelled or fails, and given up with ETIMEDOUT after {@link #RETRIEVE_TIMEOUT}: a lost answer
 * (the session ended first) leaks nothing.
 *
 * <p>Notifications newer than the kernel's protocol version (taken from INIT) fail with ENOSYS
 * without being written: an old kernel would answer EINVAL, which could not be told apart from a
 * malformed notification. Before INIT the notification is written and the kernel decides.
 */
public final class KernelNotifier implements FuseNotifier {
  private static final Logger log = LoggerFactory.getLogger(KernelNotifier.class);

  /** How long a retrieval waits for the kernel's NOTIFY_REPLY. */
  public static final Duration RETRIEVE_TIMEOUT = Duration.ofSeconds(30);

  /** Set in every notify_unique this class chooses (see the class comment). */
  static final long NOTIFY_UNIQUE_BIT = 1L << 62;

  /** Protocol minors that introduced a notification or flag. */
  private static final int MINOR_EXPIRE_ONLY = 38;
  private static final int MINOR_RESEND = 40;
  private static final int MINOR_INC_EPOCH = 44;
  private static final int MINOR_PRUNE = 45;

  private final NotificationSink sink;
  private final Dispatcher dispatcher;
  private final ByteBufAllocator alloc;
  private final NotificationEncoder encoder;
  private final Duration retrieveTimeout;
  private final Scheduler timer;
  private final AtomicLong lastUnique = new AtomicLong();
  private final Map<Long, Retrieval> pending = new ConcurrentHashMap<>();

  /**
   * @param sink where notifications are written (the session's first /dev/fuse fd)
   * @param dispatcher the session's dispatcher: its INIT result, and the NOTIFY_REPLY requests it
   *     reads, which this notifier now receives
   * @param alloc where notification buffers and retrieved copies come from
   */
  public KernelNotifier(NotificationSink sink, Dispatcher dispatcher, ByteBufAllocator alloc) {
    this(sink, dispatcher, alloc, RETRIEVE_TIMEOUT, Schedulers.parallel());
  }

  /** For tests: a shorter retrieve time-out, or a virtual-time scheduler. */
  KernelNotifier(NotificationSink sink, Dispatcher dispatcher, ByteBufAllocator alloc,
      Duration retrieveTimeout, Scheduler timer) {
    this.sink = Objects.requireNonNull(sink, "sink");
    this.dispatcher = Objects.requireNonNull(dispatcher, "dispatcher");
    this.alloc = Objects.requireNonNull(alloc, "alloc");
    this.encoder = new NotificationEncoder(alloc);
    this.retrieveTimeout = retrieveTimeout;
    this.timer = timer;
    dispatcher.setNotifyReplyHandler(this::onNotifyReply);
  }

  @Override
  public Mono<Void> invalInode(long nodeId, long offset, long length) {
    return write(0, () -> encoder.invalInode(nodeId, offset, length));
  }

  @Override
  public Mono<Void> invalEntry(long parent, String name, boolean expireOnly) {
    byte[] bytes = FuseNames.encode(name);
    return write(expireOnly ? MINOR_EXPIRE_ONLY : 0, () -> encoder.invalEntry(parent, bytes,
        expireOnly ? NotificationEncoder.FUSE_EXPIRE_ONLY : 0));
  }

  @Override
  public Mono<Void> delete(long parent, long child, String name) {
    byte[] bytes = FuseNames.encode(name);
    return write(0, () -> encoder.delete(parent, child, bytes));
  }

  @Override
  public Mono<Void> store(long nodeId, long offset, ByteBuf data) {
    Objects.requireNonNull(data, "data");
    AtomicBoolean consumed = new AtomicBoolean();
    return Mono.defer(() -> {
      if (!consumed.compareAndSet(false, true)) {
        return Mono.error(new IllegalStateException(
            "store() writes its data once: an earlier subscription consumed it"));
      }
      ByteBuf notification;
      try {
        notification = encoder.store(nodeId, offset, data);
      } finally {
        data.release();
      }
      return result(sink.notify(notification));
    });
  }

  @Override
  public Mono<ByteBuf> retrieve(long nodeId, long offset, int size) {
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size);
    }
    return Mono.<ByteBuf>create(s -> {
      long unique = NOTIFY_UNIQUE_BIT | (lastUnique.incrementAndGet() & (NOTIFY_UNIQUE_BIT - 1));
      Retrieval r = new Retrieval(s);
      pending.put(unique, r);
      Disposable timeout = timer.schedule(() -> {
        if (pending.remove(unique, r)) {
          s.error(Errno.ETIMEDOUT.exception());
        }
      }, retrieveTimeout.toNanos(), TimeUnit.NANOSECONDS);
      // Answered, failed or cancelled: nothing is pending any more.
      s.onDispose(() -> {
        pending.remove(unique, r);
        timeout.dispose();
      });
      Errno e = sink.notify(encoder.retrieve(unique, nodeId, offset, size));
      if (e != null && pending.remove(unique, r)) {
        s.error(e.exception());
      }
    })
        // A copy that lost a race with cancellation is released, not leaked.
        .doOnDiscard(ByteBuf.class, ReferenceCountUtil::safeRelease);
  }

  @Override
  public Mono<Void> pollWakeup(long kh) {
    return write(0, () -> encoder.pollWakeup(kh));
  }

  @Override
  public Mono<Void> resend() {
    return write(MINOR_RESEND, encoder::resend);
  }

  @Override
  public Mono<Void> incEpoch() {
    return write(MINOR_INC_EPOCH, encoder::incEpoch);
  }

  @Override
  public Mono<Void> prune(long... nodeIds) {
    long[] ids = nodeIds.clone();
    return write(MINOR_PRUNE, () -> encoder.prune(ids));
  }

  /** The session is over: retrievals still waiting will never be answered. */
  public void sessionEnded() {
    for (Long unique : pending.keySet()) {
      Retrieval r = pending.remove(unique);
      if (r != null) {
        r.sink.error(Errno.ENODEV.exception());
      }
    }
  }

  /** How many retrievals wait for their answer. */
  int pendingCount() {
    return pending.size();
  }

  /**
   * A NOTIFY_REPLY: completes the retrieval it answers with a copy of the data (the request's
   * buffer is reused once this returns). Runs on the event loop that read it.
   */
  void onNotifyReply(Request.NotifyReply reply) {
    Retrieval r = pending.remove(reply.unique());
    if (r == null) {
      log.debug("NOTIFY_REPLY {} matches no pending retrieve (timed out or cancelled): dropped",
          Long.toUnsignedString(reply.unique()));
      return;
    }
    ByteBuf data = reply.data();
    int n = data.readableBytes();
    ByteBuf copy = alloc.directBuffer(n);
    try {
      copy.writeBytes(data, data.readerIndex(), n);
    } catch (Throwable t) {
      copy.release();
      r.sink.error(t);
      return;
    }
    r.sink.success(copy);
  }

  /** A notification without an answer, written on subscribe. */
  private Mono<Void> write(int minMinor, Supplier<ByteBuf> notification) {
    return Mono.defer(() -> {
      if (minMinor > 0) {
        FuseInit init = dispatcher.init();
        if (init != null && init.kernelMinor() < minMinor) {
          return Errno.ENOSYS.mono(); // see the class comment
        }
      }
      return result(sink.notify(notification.get()));
    });
  }

  private static Mono<Void> result(Errno errno) {
    return errno == null ? Mono.empty() : errno.mono();
  }

  /** A retrieval waiting for its NOTIFY_REPLY. Identity matters: pending.remove(key, this). */
  private static final class Retrieval {
    final MonoSink<ByteBuf> sink;

    Retrieval(MonoSink<ByteBuf> sink) {
      this.sink = sink;
    }
  }
}
