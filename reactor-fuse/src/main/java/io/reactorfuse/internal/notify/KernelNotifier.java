package io.reactorfuse.internal.notify;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseNotifier;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.transport.NotificationSink;
import reactor.core.publisher.Mono;

/** Placeholder until notifications are implemented: every call fails with ENOSYS. */
public final class KernelNotifier implements FuseNotifier {
  public KernelNotifier(NotificationSink sink, Dispatcher dispatcher, ByteBufAllocator alloc) {}

  @Override
  public Mono<Void> invalInode(long nodeId, long offset, long length) {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> invalEntry(long parent, String name, boolean expireOnly) {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> delete(long parent, long child, String name) {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> store(long nodeId, long offset, ByteBuf data) {
    data.release();
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<ByteBuf> retrieve(long nodeId, long offset, int size) {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> pollWakeup(long kh) {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> resend() {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> incEpoch() {
    return Errno.ENOSYS.mono();
  }

  @Override
  public Mono<Void> prune(long... nodeIds) {
    return Errno.ENOSYS.mono();
  }
}
