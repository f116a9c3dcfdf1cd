package io.reactorfuse.internal.dispatch;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.reactorfuse.Errno;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.transport.ReplyChannel;
import io.reactorfuse.ops.Request;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.reactivestreams.Subscription;

/**
 * One request being served: it owns the subscription to the handler's publisher and makes sure
 * exactly one reply is written, whoever gets there first (the handler, an INTERRUPT, the end of
 * the session).
 */
abstract class InFlight {
  private static final AtomicIntegerFieldUpdater<InFlight> DONE =
      AtomicIntegerFieldUpdater.newUpdater(InFlight.class, "done");

  final Dispatcher dispatcher;
  final ReplyChannel channel;
  final Opcode op;
  final long unique;
  final Request request;
  final long startNanos;
  /** The read buffer when the request holds a slice of it (WRITE), released when done. */
  private final ByteBuf owned;

  volatile Subscription subscription;
  private volatile int done;

  InFlight(Dispatcher dispatcher, ReplyChannel channel, Opcode op, long unique,
      Request request, ByteBuf owned) {
    this.dispatcher = dispatcher;
    this.channel = channel;
    this.op = op;
    this.unique = unique;
    this.request = request;
    this.owned = owned;
    this.startNanos = dispatcher.wiretap ? System.nanoTime() : 0;
  }

  final boolean isDone() {
    return done != 0;
  }

  /**
   * Claims the right to end this request. Exactly one caller wins; it must then send or drop the
   * reply. The request payload is released here: nothing may read it afterwards.
   */
  final boolean markDone() {
    if (!DONE.compareAndSet(this, 0, 1)) {
      return false;
    }
    dispatcher.forgetInFlight(this);
    if (owned != null) {
      ReferenceCountUtil.safeRelease(owned);
    }
    return true;
  }

  final void setSubscription(Subscription s) {
    subscription = s;
    if (isDone()) {
      s.cancel(); // interrupted before the publisher even started
    }
  }

  /** INTERRUPT: stop the handler and answer EINTR. */
  final void interrupt() {
    if (markDone()) {
      cancelSubscription();
      discard();
      dispatcher.sendError(this, Errno.EINTR, null);
    }
  }

  /** The session ended: stop the handler, reply nothing (nobody can read it). */
  final void abandon() {
    if (markDone()) {
      cancelSubscription();
      discard();
    }
  }

  /** Frees what a reply in progress holds, once the request ended without it. */
  void discard() {}

  private void cancelSubscription() {
    Subscription s = subscription;
    if (s != null) {
      try {
        s.cancel();
      } catch (Throwable t) {
        dispatcher.logUnexpected(op, t);
      }
    }
  }
}
