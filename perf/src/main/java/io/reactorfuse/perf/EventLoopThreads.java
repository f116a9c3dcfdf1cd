package io.reactorfuse.perf;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The executor JMH runs the benchmark threads on ({@code -Djmh.executor=CUSTOM}, see
 * {@link BenchmarkDefaults#EXECUTOR}): Netty {@code FastThreadLocalThread}s, like the event loops
 * that serve requests in production.
 *
 * <p>It matters since Netty 4.2: on any other thread the {@code Recycler} pools nothing, so every
 * pooled buffer handed out costs a new {@code PooledByteBuf} object (144 bytes of heap), and the
 * allocator gives the thread no buffer cache. JMH's own threads are plain threads.
 */
public final class EventLoopThreads extends ThreadPoolExecutor {
  /** The signature JMH's CUSTOM executor type calls. */
  public EventLoopThreads(int maxThreads, String prefix) {
    super(maxThreads, maxThreads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
        new DefaultThreadFactory(prefix, true));
  }
}
