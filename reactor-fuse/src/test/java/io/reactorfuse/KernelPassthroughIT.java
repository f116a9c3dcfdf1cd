package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.internal.sys.Native;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.FuseTestSupport;
import io.reactorfuse.testing.OneFileFs;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/** Kernel passthrough: the kernel reads a backing file itself, no READ reaches the daemon. */
class KernelPassthroughIT {
  private FuseTestSupport fuse;

  @BeforeEach
  void setUp() {
    FuseTestSupport.requireFuse();
    fuse = new FuseTestSupport();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
  }

  /** One file "f" whose opens are backed by {@code backing}; counts READs and open backings. */
  private static final class BackedFile implements FuseOps {
    final AtomicInteger reads = new AtomicInteger();
    final Map<Long, int[]> open = new ConcurrentHashMap<>(); // fh -> {fd, backing id}
    final AtomicLong nextFh = new AtomicLong(1);
    final Path backing;
    final byte[] content;
    volatile FuseSession session;

    BackedFile(Path backing, byte[] content) {
      this.backing = backing;
      this.content = content;
    }

    @Override
    public Mono<Void> init(FuseSession session) {
      this.session = session;
      return Mono.empty();
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      return OneFileFs.of(content).lookup(ctx, req);
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      return OneFileFs.of(content).getattr(ctx, req);
    }

    @Override
    public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
      return Mono.fromCallable(() -> {
        int fd = Native.open(backing.toString(), Native.O_CLOEXEC); // O_RDONLY
        int id = session.openBacking(fd);
        long fh = nextFh.getAndIncrement();
        open.put(fh, new int[] {fd, id});
        return OpenReply.passthrough(fh, id, 0);
      });
    }

    @Override
    public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
      reads.incrementAndGet(); // readahead(2) still comes this way; plain reads must not
      return Mono.just(OneFileFs.slice(content, req));
    }

    @Override
    public Mono<Void> release(FuseContext ctx, Request.Release req) {
      int[] fdAndId = open.remove(req.fh());
      if (fdAndId != null) {
        session.closeBacking(fdAndId[1]);
        Native.closeQuietly(fdAndId[0]);
      }
      return Mono.empty();
    }
  }

  @Test
  void passthrough_sequentialReadSendsNoReadRequest(@TempDir Path tmp) throws Exception {
    byte[] content = new byte[16 << 20];
    new Random(3).nextBytes(content);
    Path backing = Files.write(tmp.resolve("backing"), content);
    BackedFile fs = new BackedFile(backing, content);
    FuseMount m = fuse.mount(fs, s -> s.passthrough(true));
    org.junit.jupiter.api.Assumptions.assumeTrue(m.init().has(FuseInit.PASSTHROUGH),
        "the kernel does not offer FUSE_PASSTHROUGH (protocol 7.40, CONFIG_FUSE_PASSTHROUGH)");
    assertEquals(1, m.init().maxStackDepth());

    ByteArrayOutputStream seen = new ByteArrayOutputStream(content.length);
    try (FileChannel ch = FileChannel.open(m.mountPoint().resolve("f"))) {
      ByteBuffer buf = ByteBuffer.allocate(1 << 20);
      while (ch.read(buf) > 0) {
        seen.write(buf.array(), 0, buf.position());
        buf.clear();
      }
    }
    assertArrayEquals(content, seen.toByteArray());
    assertEquals(0, fs.reads.get(), "READ requests reached the daemon");
    m.unmount().block(WAIT);
    assertTrue(fs.open.isEmpty(), "every backing id was closed at RELEASE");
  }

  @Test
  void openBacking_withoutPassthroughNegotiated_failsWithTheKernelsErrno(@TempDir Path tmp)
      throws Exception {
    byte[] content = "x".getBytes();
    BackedFile fs = new BackedFile(Files.write(tmp.resolve("b"), content), content);
    FuseMount m = fuse.mount(fs);
    int fd = Native.open(fs.backing.toString(), Native.O_CLOEXEC);
    try {
      ErrnoException e = org.junit.jupiter.api.Assertions.assertThrows(ErrnoException.class,
          () -> m.openBacking(fd));
      assertEquals(Errno.EPERM, e.errno(), "kernel answered " + e.errno());
    } finally {
      Native.closeQuietly(fd);
    }
  }
}
