package io.reactorfuse.perf;

/**
 * JVM flags every benchmark fork gets, chosen to match a production event loop rather than the
 * defaults for an arbitrary thread. They are prepended ({@code @Fork(jvmArgsPrepend = ...)}) so
 * that {@code -jvmArgsAppend -Dname=value} on the command line overrides any one of them, e.g.
 * {@code -jvmArgsAppend -Djmh.executor=PLATFORM} to run on JMH's plain threads.
 */
final class BenchmarkDefaults {
  /**
   * Netty's default leak detection (simple) tracks 1 in 128 buffer allocations with a stack
   * trace; no production deployment runs it (perf/stat-bench.sh turns it off too).
   */
  static final String LEAK_DETECTION_OFF = "-Dio.netty.leakDetection.level=disabled";

  /** Benchmark threads are Netty event-loop threads: see {@link EventLoopThreads}. */
  static final String EXECUTOR = "-Djmh.executor=CUSTOM";

  static final String EXECUTOR_CLASS = "-Djmh.executor.class=io.reactorfuse.perf.EventLoopThreads";

  private BenchmarkDefaults() {}
}
