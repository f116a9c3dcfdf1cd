package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.FuseSession;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * {@code passthrough --passthrough}: the kernel reads and writes SOURCE's files itself. The
 * filesystem is wrapped in a proxy counting the requests that reach it, so "no READ" is seen,
 * not assumed.
 */
class PassthroughKernelIT {
  private static final long BIG = 1L << 30;
  private static final int CHUNK = 1 << 20;
  private static final String BIG_NAME = "big.bin";

  private static Path source;

  private final Map<String, LongAdder> calls = new ConcurrentHashMap<>();
  private final LongAdder failedReads = new LongAdder();
  /** When set, the session handed to init refuses backing files, as for a daemon not root. */
  private volatile boolean backingRefused;
  private FuseTestSupport fuse;
  private PassthroughFs fs;

  /** SOURCE with a 1 GiB file of seeded pseudo-random bytes, written 1 MiB at a time. */
  @BeforeAll
  static void bigFile() throws IOException {
    FuseTestSupport.requireFuse();
    source = Files.createTempDirectory("passthrough-kernel-it-");
    Random random = new Random(42);
    byte[] chunk = new byte[CHUNK];
    try (FileChannel out = FileChannel.open(source.resolve(BIG_NAME),
        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long done = 0; done < BIG; done += CHUNK) {
        random.nextBytes(chunk);
        ByteBuffer b = ByteBuffer.wrap(chunk);
        while (b.hasRemaining()) {
          out.write(b);
        }
      }
    }
  }

  @AfterAll
  static void deleteBigFile() throws Exception {
    if (source != null) {
      sh("rm -rf '" + source + "'");
    }
  }

  @AfterEach
  void unmount() throws Exception {
    try {
      if (fuse != null) {
        fuse.close();
      }
    } finally {
      if (fs != null) {
        fs.close();
      }
      sh("find '" + source + "' -mindepth 1 ! -name " + BIG_NAME + " -delete");
    }
  }

  /** Mounts PassthroughFs over SOURCE behind a proxy that counts each handler call by name. */
  private FuseMount mount(boolean kernelPassthrough, UnaryOperator<FuseServer> settings)
      throws IOException {
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.AUTO, kernelPassthrough);
    PassthroughFs target = fs;
    // Every FuseOps method, defaults included, goes to PassthroughFs: both init overloads too.
    FuseOps counting = (FuseOps) Proxy.newProxyInstance(FuseOps.class.getClassLoader(),
        new Class<?>[] {FuseOps.class}, (proxy, method, args) -> {
          if (method.getDeclaringClass() == Object.class) {
            return method.invoke(target, args);
          }
          calls.computeIfAbsent(method.getName(), k -> new LongAdder()).increment();
          if (backingRefused && args != null && args.length == 1
              && args[0] instanceof FuseSession session) {
            args = new Object[] {refusingBackings(session)};
          }
          Object result;
          try {
            result = method.invoke(target, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          if (method.getName().equals("read")) {
            result = ((Mono<?>) result).doOnError(e -> failedReads.increment());
          }
          return result;
        });
    fuse = new FuseTestSupport();
    return fuse.mount(counting, s -> settings.apply(s.defaultPermissions(true)
        .fsName("passthrough").subtype("passthrough")));
  }

  /** {@code session}, except that openBacking fails with EPERM (no CAP_SYS_ADMIN). */
  private static FuseSession refusingBackings(FuseSession session) {
    return (FuseSession) Proxy.newProxyInstance(FuseSession.class.getClassLoader(),
        new Class<?>[] {FuseSession.class}, (proxy, method, args) -> {
          if (method.getName().equals("openBacking")) {
            throw Errno.EPERM.exception();
          }
          try {
            return method.invoke(session, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  private FuseMount mountWithPassthrough() throws IOException {
    FuseMount m = mount(true, s -> s.passthrough(true));
    assumeTrue(m.init().has(FuseInit.PASSTHROUGH),
        "the kernel does not offer FUSE_PASSTHROUGH (protocol 7.40, CONFIG_FUSE_PASSTHROUGH)");
    assertTrue(fs.passthroughActive(), () -> "not active: " + fs.passthroughProblem());
    return m;
  }

  private long count(String op) {
    LongAdder a = calls.get(op);
    return a == null ? 0 : a.sum();
  }

  /**
   * Reads {@code name} through the mount with 1 MiB buffers and compares each chunk with
   * SOURCE's; returns the nanoseconds spent reading the mount and reading SOURCE.
   */
  private static long[] readAndCompare(Path mounted, Path native_) throws IOException {
    ByteBuffer seen = ByteBuffer.allocate(CHUNK);
    ByteBuffer want = ByteBuffer.allocate(CHUNK);
    long nanos = 0;
    long nativeNanos = 0;
    long position = 0;
    try (FileChannel m = FileChannel.open(mounted); FileChannel n = FileChannel.open(native_)) {
      while (true) {
        seen.clear();
        long t0 = System.nanoTime();
        while (seen.hasRemaining() && m.read(seen) > 0) {
          // fill the whole buffer, as far as the file goes
        }
        nanos += System.nanoTime() - t0;
        want.clear();
        t0 = System.nanoTime();
        while (want.hasRemaining() && n.read(want) > 0) {
          // same
        }
        nativeNanos += System.nanoTime() - t0;
        assertEquals(want.position(), seen.position(), "chunk length at " + position);
        int at = Arrays.mismatch(seen.array(), 0, seen.position(), want.array(), 0,
            want.position());
        if (at >= 0) {
          throw new AssertionError("mount and SOURCE differ at byte " + (position + at));
        }
        if (seen.position() == 0) {
          break;
        }
        position += seen.position();
      }
    }
    assertEquals(Files.size(native_), position, "bytes read through the mount");
    return new long[] {nanos, nativeNanos};
  }

  private static String throughput(long bytes, long nanos) {
    return String.format("%.0f MiB/s", bytes / (1024.0 * 1024.0) / (nanos / 1e9));
  }

  /** RELEASE is asynchronous: waits (bounded) until every backing id was given back. */
  private void awaitNoPassthroughOpen() throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (fs.passthroughOpenCount() != 0) {
      assertTrue(System.nanoTime() < deadline, "backing ids still open after " + WAIT);
      TimeUnit.MILLISECONDS.sleep(10);
    }
  }

  @Test
  void passthrough_1GiBSequentialRead_sendsNoReadRequestAndMatchesTheNativeFile()
      throws Exception {
    FuseMount m = mountWithPassthrough();
    long[] nanos = readAndCompare(m.mountPoint().resolve(BIG_NAME), source.resolve(BIG_NAME));
    System.err.println("passthrough: 1 GiB read at " + throughput(BIG, nanos[0])
        + " (SOURCE directly: " + throughput(BIG, nanos[1]) + "), READ "
        + "requests: " + count("read") + ", opens: " + count("open"));
    assertEquals(0, count("read"), "READ requests reached the daemon");
    assertTrue(count("open") >= 1, "the read went through OPEN");
    awaitNoPassthroughOpen();
  }

  @Test
  void withoutPassthrough_theSameReadSendsReadRequests() throws Exception {
    FuseMount m = mount(false, s -> s);
    assertFalse(m.init().has(FuseInit.PASSTHROUGH));
    long[] nanos = readAndCompare(m.mountPoint().resolve(BIG_NAME), source.resolve(BIG_NAME));
    System.err.println("no passthrough: 1 GiB read at " + throughput(BIG, nanos[0])
        + " (SOURCE directly: " + throughput(BIG, nanos[1]) + "), READ "
        + "requests: " + count("read"));
    assertTrue(count("read") > 0, "no READ request reached the daemon");
    assertEquals(0, failedReads.sum());
    assertEquals(0, fs.passthroughOpenCount());
  }

  @Test
  void writes_throughPassthroughOpenedFiles_landInSourceByteExactly() throws Exception {
    FuseMount m = mountWithPassthrough();
    // CREATE: a new file, written in 1 MiB pieces plus an odd tail.
    byte[] data = new byte[16 * CHUNK + 4097];
    new Random(5).nextBytes(data);
    Path created = m.mountPoint().resolve("created.bin");
    try (FileChannel ch = FileChannel.open(created, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE)) {
      for (int off = 0; off < data.length; off += CHUNK) {
        ByteBuffer b = ByteBuffer.wrap(data, off, Math.min(CHUNK, data.length - off));
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
    }
    assertArrayEquals(data, Files.readAllBytes(source.resolve("created.bin")));
    assertEquals(data.length, Files.size(created), "size through the mount");

    // OPEN read-write of an existing file: overwrite a range in the middle, extend the end.
    byte[] patch = new byte[3 * CHUNK + 11];
    new Random(6).nextBytes(patch);
    int at = 5 * CHUNK + 123;
    try (FileChannel ch = FileChannel.open(created, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(patch);
      while (b.hasRemaining()) {
        ch.write(b, at + b.position());
      }
      ch.write(ByteBuffer.wrap(patch, 0, 100), data.length);
    }
    byte[] expected = Arrays.copyOf(data, data.length + 100);
    System.arraycopy(patch, 0, expected, at, patch.length);
    System.arraycopy(patch, 0, expected, data.length, 100);
    assertArrayEquals(expected, Files.readAllBytes(source.resolve("created.bin")));
    assertArrayEquals(expected, Files.readAllBytes(created));

    System.err.println("passthrough writes: WRITE requests: " + count("write") + ", READ: "
        + count("read") + ", creates: " + count("create") + ", opens: " + count("open"));
    assertEquals(1, count("create"));
    assertEquals(0, count("write"), "WRITE requests reached the daemon");
    assertEquals(0, count("read"), "READ requests reached the daemon");
    awaitNoPassthroughOpen();
  }

  @Test
  void twoOpensOfOneFile_shareTheBackingId_andReadaheadReadsAreServed() throws Exception {
    FuseTestSupport.requireTools("python3");
    FuseMount m = mountWithPassthrough();
    Path big = m.mountPoint().resolve(BIG_NAME);
    byte[] want = new byte[CHUNK];
    try (FileChannel n = FileChannel.open(source.resolve(BIG_NAME))) {
      n.read(ByteBuffer.wrap(want), 7L * CHUNK);
    }
    // The kernel refuses a second, different backing file on one inode (EIO at open).
    try (FileChannel a = FileChannel.open(big); FileChannel b = FileChannel.open(big)) {
      assertEquals(2, fs.passthroughOpenCount());
      for (FileChannel ch : new FileChannel[] {a, b}) {
        ByteBuffer got = ByteBuffer.allocate(CHUNK);
        while (got.hasRemaining() && ch.read(got, 7L * CHUNK + got.position()) > 0) {
          // fill
        }
        assertArrayEquals(want, got.array());
      }
      // readahead(2) / fadvise(WILLNEED) fill the FUSE page cache through ordinary READs.
      sh("python3 -c 'import os,sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
          + "os.posix_fadvise(fd, 0, 8 << 20, os.POSIX_FADV_WILLNEED); os.close(fd)' '"
          + big + "'");
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (count("read") == 0 && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(10); // readahead is asynchronous
      }
    }
    System.err.println("fadvise(WILLNEED) on a passthrough file: READ requests: "
        + count("read"));
    assertTrue(count("read") > 0, "readahead sent no READ (kernel changed?)");
    assertEquals(0, failedReads.sum(), "READ requests for a passthrough file failed");
    awaitNoPassthroughOpen();
  }

  @Test
  void askedForButNotNegotiated_warnsOnceAndUsesOrdinaryIo() throws Exception {
    FuseMount m = mount(true, s -> s); // the server does not ask the kernel for it
    assertFalse(m.init().has(FuseInit.PASSTHROUGH));
    assertFalse(fs.passthroughActive());
    String why = fs.passthroughProblem();
    assertTrue(why != null && (why.contains("not negotiated") || why.contains("did not offer")),
        why);
    Files.write(m.mountPoint().resolve("small"), new byte[] {1, 2, 3});
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(m.mountPoint().resolve("small")));
    assertEquals(0, fs.passthroughOpenCount());
    assertTrue(count("write") > 0, "ordinary WRITE expected");
  }

  @Test
  void backingRefused_oneWarningThenOrdinaryIoForTheRestOfTheSession() throws Exception {
    backingRefused = true;
    java.io.PrintStream err = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true));
    try {
      FuseMount m = mountWithPassthrough();
      for (int i = 0; i < 5; i++) {
        Path f = m.mountPoint().resolve("f" + i);
        Files.write(f, new byte[] {(byte) i, 9});
        assertArrayEquals(new byte[] {(byte) i, 9}, Files.readAllBytes(f));
      }
      byte[] head = new byte[CHUNK];
      try (FileChannel n = FileChannel.open(source.resolve(BIG_NAME))) {
        n.read(ByteBuffer.wrap(head));
      }
      try (FileChannel ch = FileChannel.open(m.mountPoint().resolve(BIG_NAME))) {
        ByteBuffer got = ByteBuffer.allocate(CHUNK);
        while (got.hasRemaining() && ch.read(got) > 0) {
          // fill
        }
        assertArrayEquals(head, got.array());
      }
    } finally {
      System.setErr(err);
    }
    String log = captured.toString();
    System.err.print(log);
    assertFalse(fs.passthroughActive());
    assertTrue(fs.passthroughProblem().contains("EPERM"), fs.passthroughProblem());
    assertEquals(1, log.split("kernel passthrough unavailable", -1).length - 1,
        "exactly one warning:\n" + log);
    assertTrue(count("read") > 0 && count("write") > 0, "ordinary I/O expected");
    assertEquals(0, fs.passthroughOpenCount());
  }

  @Test
  void writebackCache_excludesPassthrough_saidOnce() throws Exception {
    FuseMount m = mount(true, s -> s.writebackCache(true));
    assumeTrue(m.init().has(FuseInit.WRITEBACK_CACHE), "no writeback cache offered");
    assertFalse(fs.passthroughActive());
    assertTrue(fs.passthroughProblem().contains("writeback"), fs.passthroughProblem());
    Files.write(m.mountPoint().resolve("small"), new byte[] {4, 5});
    assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(source.resolve("small")));
  }

  @Test
  void passthroughOff_noProblemReported() throws Exception {
    mount(false, s -> s.passthrough(true));
    assertFalse(fs.passthroughActive());
    assertNull(fs.passthroughProblem(), "nothing asked, nothing to warn about");
  }
}
