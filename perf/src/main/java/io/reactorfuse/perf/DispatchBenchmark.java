package io.reactorfuse.perf;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.FuseOps;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.dispatch.InitOptions;
import io.reactorfuse.internal.transport.ReplyChannel;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * One request through {@link Dispatcher#onRequest} and its reply out, without a kernel: decode,
 * context, in-flight bookkeeping, the handler's publisher, encode, send. The handlers answer
 * constants from publishers built once, so what is measured is the framework's cost per request,
 * not the filesystem's. The reply channel only releases the reply (the transport's write(2) is
 * left out), after checking it is not an error.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsPrepend = {
    BenchmarkDefaults.LEAK_DETECTION_OFF, BenchmarkDefaults.EXECUTOR,
    BenchmarkDefaults.EXECUTOR_CLASS})
public class DispatchBenchmark {
  private Dispatcher dispatcher;
  private final CountingChannel channel = new CountingChannel();
  private ByteBuf lookupIn;
  private ByteBuf getattrIn;
  private ByteBuf write4kIn;
  private ByteBuf readdirIn;

  @Setup
  public void setup() {
    InitOptions options = new InitOptions(128 * 1024, 128 * 1024, 12, 9, 1, 0);
    // wiretap off, handlers called inline on the calling thread (as on the event loop)
    dispatcher = new Dispatcher(new ConstantOps(), options, PooledByteBufAllocator.DEFAULT, false);
    lookupIn = RequestBytes.direct(
        RequestBytes.lookup(Fixtures.UNIQUE, Fixtures.PARENT, "stat-target"));
    getattrIn = RequestBytes.direct(RequestBytes.getattr(Fixtures.UNIQUE, Fixtures.NODE));
    write4kIn = RequestBytes.direct(RequestBytes.write(
        Fixtures.UNIQUE, Fixtures.NODE, 7, 0, RequestBytes.payload(4 * 1024)));
    readdirIn = RequestBytes.direct(RequestBytes.readdir(
        Fixtures.UNIQUE, Fixtures.PARENT, 7, 0, Fixtures.READDIR_SIZE));
  }

  @TearDown
  public void tearDown() {
    for (ByteBuf b : new ByteBuf[] {lookupIn, getattrIn, write4kIn, readdirIn}) {
      b.release();
    }
  }

  /** Every request was answered, synchronously, with a success, and no buffer was kept. */
  @TearDown(Level.Iteration)
  public void checkReplies() {
    DecodeBenchmark.check(channel.errors == 0, channel.errors + " error replies");
    DecodeBenchmark.check(channel.replies > 0, "no reply");
    DecodeBenchmark.check(dispatcher.inFlightCount() == 0, "requests left in flight");
    DecodeBenchmark.check(write4kIn.refCnt() == 1, "WRITE buffer refCnt " + write4kIn.refCnt());
    channel.replies = 0;
  }

  /** LOOKUP answered with a constant entry: reply 16 + 128 bytes. */
  @Benchmark
  public boolean lookup() {
    return dispatcher.onRequest(channel, lookupIn);
  }

  /** GETATTR answered with constant attributes: reply 16 + 104 bytes. */
  @Benchmark
  public boolean getattr() {
    return dispatcher.onRequest(channel, getattrIn);
  }

  /**
   * WRITE of 4 KiB, the handler answers the size. The dispatcher keeps the request buffer
   * (sliced payload) and releases it once answered: retained here so it can be served again.
   */
  @Benchmark
  public boolean write4k() {
    write4kIn.retain();
    return dispatcher.onRequest(channel, write4kIn);
  }

  /** READDIR of a 4 KiB buffer, the handler's Flux gives 100 entries (all fit). */
  @Benchmark
  public boolean readdir100() {
    return dispatcher.onRequest(channel, readdirIn);
  }

  /** The trivial filesystem: constant answers from publishers built once. */
  static final class ConstantOps implements FuseOps {
    private final Mono<EntryReply> entry = Mono.just(Fixtures.ENTRY);
    private final Mono<AttrReply> attr = Mono.just(Fixtures.ATTR_REPLY);
    private final Mono<Integer> written = Mono.just(4 * 1024);
    private final Flux<DirEntry> dir = Flux.fromIterable(Fixtures.dirEntries());

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      return entry;
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      return attr;
    }

    @Override
    public Mono<Integer> write(FuseContext ctx, Request.Write req) {
      return written;
    }

    @Override
    public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
      return dir;
    }
  }

  /** Releases every reply; counts them and the ones carrying an errno. */
  static final class CountingChannel implements ReplyChannel {
    long replies;
    long errors;

    @Override
    public void send(ByteBuf reply) {
      replies++;
      if (reply.getIntLE(reply.readerIndex() + 4) != 0) {
        errors++;
      }
      reply.release();
    }

    @Override
    public void send(ByteBuf header, ByteBuf payload) {
      payload.release();
      send(header);
    }
  }
}
