package io.reactorfuse.internal.dispatch;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.transport.ReplyChannel;
import io.reactorfuse.ops.Request;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * Subscribes to a handler's Mono and writes its reply from the thread that completes it: no hop
 * back to the event loop (measured: hopping cost a quarter of the throughput).
 */
final class MonoReply extends InFlight implements CoreSubscriber<Object> {
  private Object value;

  MonoReply(Dispatcher dispatcher, ReplyChannel channel, Opcode op, long unique, long nodeId,
      Request request, ByteBuf owned) {
    super(dispatcher, channel, op, unique, nodeId, request, owned);
  }

  @Override
  public void onSubscribe(Subscription s) {
    setSubscription(s);
    s.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(Object v) {
    if (isDone() || value != null) {
      ReferenceCountUtil.safeRelease(v); // late or extra value: nobody will send it
      return;
    }
    value = v;
  }

  @Override
  public void onError(Throwable t) {
    if (markDone()) {
      ReferenceCountUtil.safeRelease(value);
      dispatcher.sendError(this, null, t);
    }
  }

  @Override
  public void onComplete() {
    if (markDone()) {
      dispatcher.sendValue(this, value);
    } else {
      ReferenceCountUtil.safeRelease(value);
    }
  }
}
