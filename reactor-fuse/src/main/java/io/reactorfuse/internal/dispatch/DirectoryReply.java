package io.reactorfuse.internal.dispatch;

import io.reactorfuse.ops.FuseNames;
import io.netty.buffer.ByteBuf;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.internal.transport.ReplyChannel;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.Request;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * Packs a handler's {@code Flux} of directory entries into the kernel's READDIR / READDIRPLUS
 * buffer. Entries are requested one at a time so that at most one is produced that does not fit;
 * that one is dropped (for READDIRPLUS its lookup is given back with a forget) and the rest of
 * the Flux is cancelled.
 */
final class DirectoryReply extends InFlight implements CoreSubscriber<Object> {
  private final boolean plus;
  private final int capacity;
  private ByteBuf packed;

  DirectoryReply(Dispatcher dispatcher, ReplyChannel channel, Opcode op, long unique,
      Request.Readdir request) {
    super(dispatcher, channel, op, unique, request, null);
    this.plus = op == Opcode.READDIRPLUS;
    this.capacity = Math.max(0, request.size());
    this.packed = dispatcher.encoder.begin(unique, Math.min(capacity, 64 * 1024));
  }

  @Override
  public void onSubscribe(Subscription s) {
    setSubscription(s);
    s.request(1);
  }

  @Override
  public synchronized void onNext(Object item) {
    if (isDone()) {
      giveBack(item);
      return;
    }
    DirEntry d = plus ? ((DirEntryPlus) item).dirEntry() : (DirEntry) item;
    byte[] name = FuseNames.encode(d.name());
    int need = plus ? ReplyEncoder.direntPlusSize(name.length) : ReplyEncoder.direntSize(name.length);
    int used = packed.readableBytes() - ReplyEncoder.OUT_HEADER;
    if (used + need > capacity) {
      giveBack(item);
      subscription.cancel();
      onComplete();
      return;
    }
    if (plus) {
      ReplyEncoder.writeDirentPlus(packed, ((DirEntryPlus) item).entry(), d, name);
    } else {
      ReplyEncoder.writeDirent(packed, d, name);
    }
    subscription.request(1);
  }

  @Override
  public synchronized void onError(Throwable t) {
    if (!markDone()) {
      return;
    }
    if (packed.readableBytes() > ReplyEncoder.OUT_HEADER) {
      // Entries already packed are valid; the error will surface on the next READDIR call.
      dispatcher.logUnexpected(op, t);
      dispatcher.sendPacked(this, ReplyEncoder.finish(packed));
    } else {
      packed.release();
      dispatcher.sendError(this, null, t);
    }
  }

  @Override
  public synchronized void onComplete() {
    if (markDone()) {
      dispatcher.sendPacked(this, ReplyEncoder.finish(packed));
    }
  }

  @Override
  synchronized void discard() {
    packed.release(); // onNext may run on another thread: hence the lock
  }

  /** An entry the kernel will never see: give back the lookup its handler counted. */
  private void giveBack(Object item) {
    if (plus) {
      DirEntryPlus p = (DirEntryPlus) item;
      String name = p.dirEntry().name();
      if (p.entry().nodeId() != 0 && !name.equals(".") && !name.equals("..")) {
        dispatcher.forgetUnsent(p.entry().nodeId());
      }
    }
  }
}
