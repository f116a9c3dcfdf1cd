package io.reactorfuse.internal.dispatch;

import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * An allocator that remembers every buffer it hands out, so that a test can assert that all were
 * released: deterministic, unlike the leak detector, which reports only after a GC.
 */
final class TrackingAllocator extends AbstractByteBufAllocator {
  private final Queue<ByteBuf> allocated = new ConcurrentLinkedQueue<>();

  TrackingAllocator() {
    super(true);
  }

  @Override
  protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
    ByteBuf buf = new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
    allocated.add(buf);
    return buf;
  }

  @Override
  protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
    ByteBuf buf = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
    allocated.add(buf);
    return buf;
  }

  @Override
  public boolean isDirectBufferPooled() {
    return false;
  }

  void assertAllReleased() {
    List<String> leaked = new ArrayList<>();
    for (ByteBuf buf : allocated) {
      if (buf.refCnt() != 0) {
        leaked.add(buf + " refCnt=" + buf.refCnt());
      }
    }
    if (!leaked.isEmpty()) {
      fail(leaked.size() + " of " + allocated.size() + " buffers not released, such as "
          + leaked.subList(0, Math.min(3, leaked.size())));
    }
  }
}
