package io.reactorfuse.perf;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.FuseNames;
import java.util.List;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Reply shapes to kernel bytes with {@link ReplyEncoder} on the production allocator
 * ({@link PooledByteBufAllocator#DEFAULT}). Each call allocates the reply buffer, fills it and
 * releases it, as the transport does after write(2): the pool's allocate/release is part of the
 * cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsPrepend = {
    BenchmarkDefaults.LEAK_DETECTION_OFF, BenchmarkDefaults.EXECUTOR,
    BenchmarkDefaults.EXECUTOR_CLASS})
public class EncodeBenchmark {
  private final ReplyEncoder encoder = new ReplyEncoder(PooledByteBufAllocator.DEFAULT);
  private List<DirEntry> entries;

  @Setup
  public void setup() {
    entries = Fixtures.dirEntries();
    DecodeBenchmark.check(readdir100() == ReplyEncoder.OUT_HEADER + 32 * Fixtures.DIR_ENTRIES,
        "READDIR packs all " + Fixtures.DIR_ENTRIES + " entries");
  }

  /** {@code fuse_entry_out} (LOOKUP, MKDIR...): 16 + 128 bytes. */
  @Benchmark
  public int entryOut() {
    return sent(encoder.entry(Fixtures.UNIQUE, Fixtures.ENTRY));
  }

  /** {@code fuse_attr_out} (GETATTR, SETATTR): 16 + 104 bytes. */
  @Benchmark
  public int attrOut() {
    return sent(encoder.attr(Fixtures.UNIQUE, Fixtures.ATTR_REPLY));
  }

  /** The 16-byte header of a READ reply; the data goes out as a second iovec, never copied. */
  @Benchmark
  public int readHeader() {
    return sent(encoder.dataHeader(Fixtures.UNIQUE, 128 * 1024));
  }

  /**
   * 100 {@code fuse_dirent}s packed into a READDIR reply for a 4 KiB kernel buffer, the way the
   * dispatcher's directory packer does it: encode each name, check it fits, append.
   */
  @Benchmark
  public int readdir100() {
    int capacity = Fixtures.READDIR_SIZE;
    ByteBuf packed = encoder.begin(Fixtures.UNIQUE, Math.min(capacity, 64 * 1024));
    for (DirEntry d : entries) {
      byte[] name = FuseNames.encode(d.name());
      int used = packed.readableBytes() - ReplyEncoder.OUT_HEADER;
      if (used + ReplyEncoder.direntSize(name.length) > capacity) {
        break;
      }
      ReplyEncoder.writeDirent(packed, d, name);
    }
    return sent(ReplyEncoder.finish(packed));
  }

  /** What the transport does with a reply: write it (here: read its length) and release it. */
  private static int sent(ByteBuf reply) {
    int length = reply.getIntLE(reply.readerIndex());
    reply.release();
    return length;
  }
}
