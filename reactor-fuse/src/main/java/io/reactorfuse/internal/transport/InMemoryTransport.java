package io.reactorfuse.internal.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.internal.dispatch.Dispatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A transport without /dev/fuse, for tests: it feeds literal request bytes to a {@link Dispatcher}
 * and records the reply bytes the dispatcher writes back. It exists so that the dispatcher (error
 * mapping, interrupts, buffer ownership, directory packing) can be tested with golden bytes, with
 * no mount, no root and no kernel.
 *
 * <p>Ownership follows the real transport: {@link #inject} copies the request into a pooled direct
 * buffer and releases it after {@link Dispatcher#onRequest} unless the request kept it (a WRITE
 * payload), and every reply is copied out and released at once, so a buffer leak in the
 * dispatcher shows up under Netty's leak detector. Thread-safe: replies may arrive from any thread.
 *
 * <p>It is also a {@link NotificationSink}: notifications are recorded apart from replies, and
 * answered as {@link #answerNotifications} says (success by default), like the kernel's write(2).
 */
public final class InMemoryTransport implements ReplyChannel, NotificationSink {
  private final Dispatcher dispatcher;
  private final ByteBufAllocator alloc;
  private final BlockingQueue<byte[]> pending = new LinkedBlockingQueue<>();
  private final List<byte[]> all = new ArrayList<>();
  private final BlockingQueue<byte[]> notifications = new LinkedBlockingQueue<>();
  private volatile Function<byte[], Errno> notificationAnswer = n -> null;

  /** A transport whose request buffers come from {@link PooledByteBufAllocator#DEFAULT}. */
  public InMemoryTransport(Dispatcher dispatcher) {
    this(dispatcher, PooledByteBufAllocator.DEFAULT);
  }

  public InMemoryTransport(Dispatcher dispatcher, ByteBufAllocator alloc) {
    this.dispatcher = dispatcher;
    this.alloc = alloc;
  }

  /**
   * Serves one request, as if read from /dev/fuse.
   *
   * @return what {@link Dispatcher#onRequest} returned: true if the request kept its buffer
   */
  public boolean inject(byte[] request) {
    ByteBuf buf = alloc.directBuffer(request.length).writeBytes(request);
    boolean kept = false;
    try {
      kept = dispatcher.onRequest(this, buf);
      return kept;
    } finally {
      if (!kept) {
        buf.release();
      }
    }
  }

  /**
   * The next reply not taken yet, waiting up to {@code timeout} for it (for handlers that answer
   * on another thread).
   *
   * @throws AssertionError if none arrives in time
   */
  public byte[] takeReply(Duration timeout) throws InterruptedException {
    byte[] reply = pending.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (reply == null) {
      throw new AssertionError("no reply within " + timeout);
    }
    return reply;
  }

  /** Every reply received so far, in order, taken or not. */
  public List<byte[]> replies() {
    synchronized (all) {
      return List.copyOf(all);
    }
  }

  @Override
  public void send(ByteBuf reply) {
    byte[] out;
    try {
      out = ByteBufUtil.getBytes(reply);
    } finally {
      reply.release();
    }
    record(out);
  }

  @Override
  public void send(ByteBuf header, ByteBuf payload) {
    byte[] out;
    try {
      out = new byte[header.readableBytes() + payload.readableBytes()];
      header.getBytes(header.readerIndex(), out, 0, header.readableBytes());
      payload.getBytes(payload.readerIndex(), out, header.readableBytes(), payload.readableBytes());
    } finally {
      header.release();
      payload.release();
    }
    record(out);
  }

  /** Published only after the buffers were released: a test that sees a reply may check leaks. */
  private void record(byte[] reply) {
    synchronized (all) {
      all.add(reply);
      pending.add(reply);
    }
  }

  /**
   * Records a notification and answers it: null (success) unless {@link #answerNotifications}
   * says otherwise. Releases it, as the real transport does.
   */
  @Override
  public Errno notify(ByteBuf notification) {
    byte[] bytes;
    try {
      bytes = ByteBufUtil.getBytes(notification);
    } finally {
      notification.release();
    }
    notifications.add(bytes);
    return notificationAnswer.apply(bytes);
  }

  /**
   * How later notifications are answered: the function gets the notification's bytes and returns
   * the errno the kernel would fail the write with, or null for success.
   */
  public void answerNotifications(Function<byte[], Errno> answer) {
    this.notificationAnswer = answer;
  }

  /**
   * The next notification not taken yet, waiting up to {@code timeout} for it.
   *
   * @throws AssertionError if none arrives in time
   */
  public byte[] takeNotification(Duration timeout) throws InterruptedException {
    byte[] n = notifications.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (n == null) {
      throw new AssertionError("no notification within " + timeout);
    }
    return n;
  }

  /** Whether no notification waits to be taken. */
  public boolean noNotificationPending() {
    return notifications.isEmpty();
  }
}
