package io.reactorfuse.perf;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.internal.codec.InHeader;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.codec.RequestDecoder;
import io.reactorfuse.ops.Request;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Request bytes to a {@link Request} record, the way the dispatcher does it: header, opcode
 * lookup, a slice of the body, {@link RequestDecoder#decode}. The bytes sit in pooled direct
 * buffers, as read from /dev/fuse, and are decoded again on every call (decoding never moves the
 * reader index).
 *
 * <p>The two WRITE sizes should cost the same: the payload is sliced, not copied ({@link #setup}
 * checks that the record's data is a view of the request buffer).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsPrepend = {
    BenchmarkDefaults.LEAK_DETECTION_OFF, BenchmarkDefaults.EXECUTOR,
    BenchmarkDefaults.EXECUTOR_CLASS})
public class DecodeBenchmark {
  private ByteBuf lookupIn;
  private ByteBuf getattrIn;
  private ByteBuf readIn;
  private ByteBuf write4kIn;
  private ByteBuf write128kIn;

  @Setup
  public void setup() {
    lookupIn = RequestBytes.direct(
        RequestBytes.lookup(Fixtures.UNIQUE, Fixtures.PARENT, "stat-target"));
    getattrIn = RequestBytes.direct(RequestBytes.getattr(Fixtures.UNIQUE, Fixtures.NODE));
    readIn = RequestBytes.direct(
        RequestBytes.read(Fixtures.UNIQUE, Fixtures.NODE, 7, 1 << 20, 128 * 1024));
    write4kIn = RequestBytes.direct(RequestBytes.write(
        Fixtures.UNIQUE, Fixtures.NODE, 7, 0, RequestBytes.payload(4 * 1024)));
    write128kIn = RequestBytes.direct(RequestBytes.write(
        Fixtures.UNIQUE, Fixtures.NODE, 7, 0, RequestBytes.payload(128 * 1024)));

    check(((Request.Lookup) decode(lookupIn)).name().equals("stat-target"), "LOOKUP name");
    check(((Request.Getattr) decode(getattrIn)).nodeId() == Fixtures.NODE, "GETATTR node");
    check(((Request.Read) decode(readIn)).size() == 128 * 1024, "READ size");
    checkSliced(write4kIn, 4 * 1024);
    checkSliced(write128kIn, 128 * 1024);
  }

  @TearDown
  public void tearDown() {
    for (ByteBuf b : new ByteBuf[] {lookupIn, getattrIn, readIn, write4kIn, write128kIn}) {
      b.release();
    }
  }

  @Benchmark
  public Request lookup() {
    return decode(lookupIn);
  }

  @Benchmark
  public Request getattr() {
    return decode(getattrIn);
  }

  @Benchmark
  public Request read() {
    return decode(readIn);
  }

  @Benchmark
  public Request write4k() {
    return decode(write4kIn);
  }

  @Benchmark
  public Request write128k() {
    return decode(write128kIn);
  }

  /** What {@code Dispatcher.onRequest} does before calling the handler (checks left out). */
  static Request decode(ByteBuf buf) {
    InHeader h = InHeader.decode(buf);
    Opcode op = Opcode.of(h.opcodeCode());
    return RequestDecoder.decode(op, h.unique(), h.nodeId(),
        buf.slice(buf.readerIndex() + InHeader.SIZE, h.bodyLength()), false);
  }

  /** The WRITE record's data has the payload's size and sees a change made to the request. */
  private static void checkSliced(ByteBuf request, int size) {
    ByteBuf data = ((Request.Write) decode(request)).data();
    check(data.readableBytes() == size, "WRITE size");
    int at = InHeader.SIZE + 40;
    byte before = request.getByte(at);
    request.setByte(at, before + 1);
    boolean view = data.getByte(data.readerIndex()) == (byte) (before + 1);
    request.setByte(at, before);
    check(view, "WRITE payload is a slice of the request buffer, not a copy");
  }

  static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("benchmark fixture broken: " + what);
    }
  }
}
