package io.reactorfuse.samples.objectstore;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.testing.FuseTestSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.domain.Blob;
import org.jclouds.blobstore.options.GetOptions;
import org.jclouds.blobstore.util.ForwardingBlobStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A thousand readers of different objects at once, through the {@code objectstore} command in a
 * JVM of its own: the server holds every GET until all thousand have arrived, so the daemon has a
 * thousand reads in flight, and its thread count is taken right then.
 */
class ObjectStoreThreadsIT {
  private static final int READERS = 1000;
  /** Objects read before the measurement, so that lazily started pools are running. */
  private static final int WARM_UP = 8;
  private static final int SIZE = 16 << 10;
  private static final String BUCKET = "threads-bucket";

  private Path data;
  private Path spool;
  private Path mountPoint;
  private EmbeddedS3 server;
  private Process daemon;
  private final Gate gate = new Gate();

  /** Holds GETs once armed, until {@code target} of them wait (or a minute passes). */
  static final class Gate {
    final AtomicInteger waiting = new AtomicInteger();
    volatile int target = Integer.MAX_VALUE;
    final CompletableFuture<Void> full = new CompletableFuture<>();
    final CountDownLatch open = new CountDownLatch(1);

    BlobStore wrap(BlobStore store) {
      return new ForwardingBlobStore(store) {
        @Override
        public Blob getBlob(String container, String name, GetOptions options) {
          hold();
          return super.getBlob(container, name, options);
        }

        @Override
        public Blob getBlob(String container, String name) {
          hold();
          return super.getBlob(container, name);
        }
      };
    }

    private void hold() {
      if (target == Integer.MAX_VALUE) {
        return;
      }
      if (waiting.incrementAndGet() >= target) {
        full.complete(null);
      }
      try {
        open.await(60, TimeUnit.SECONDS); // bounded: a lost reader must not hang the server
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    data = Files.createTempDirectory("objectstore-threads-data-");
    spool = Files.createTempDirectory("objectstore-threads-spool-");
    mountPoint = Files.createTempDirectory("objectstore-threads-mnt-");
    server = EmbeddedS3.start(data, 0, "k", "s", gate::wrap);
    server.createBucket(BUCKET);
  }

  @AfterEach
  void tearDown() throws Exception {
    gate.open.countDown();
    if (mountPoint != null && FuseTestSupport.isMounted(mountPoint)) {
      FuseTestSupport.run(WAIT, "umount", "-l", mountPoint.toString());
    }
    if (daemon != null) {
      daemon.destroy(); // our own child, by its handle
      if (!daemon.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
        daemon.destroyForcibly();
      }
    }
    if (server != null) {
      server.close();
    }
    FuseTestSupport.sh("rm -rf '" + data + "' '" + spool + "'; rmdir '" + mountPoint + "'");
  }

  private static byte[] content(int i) {
    byte[] b = new byte[SIZE];
    new Random(i).nextBytes(b);
    return b;
  }

  private int threads() throws IOException {
    try (var tasks = Files.list(Path.of("/proc", Long.toString(daemon.pid()), "task"))) {
      return (int) tasks.count();
    }
  }

  @Test
  void thousandConcurrentReaders_threadCountStaysFlat() throws Exception {
    S3Settings s3 = new S3Settings(server.endpoint(), "us-east-1", BUCKET, "k", "s",
        Duration.ofSeconds(30), 3, 64, 16 << 20, 8 << 20);
    try (Bucket bucket = new Bucket(s3)) {
      reactor.core.publisher.Flux.range(0, READERS + WARM_UP)
          .flatMap(i -> bucket.put("obj-" + i, content(i)), 32)
          .blockLast(WAIT.multipliedBy(4));
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    daemon = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        "io.reactorfuse.samples.Samples", "objectstore", "--endpoint",
        server.endpoint().toString(), "--bucket", BUCKET, "--access-key", "k", "--secret-key", "s",
        "--spool-dir", spool.toString(), "--cache-timeout", "60", mountPoint.toString())
        .redirectErrorStream(true)
        .redirectOutput(spool.resolve("daemon.log").toFile())
        .start();
    FuseTestSupport.awaitMount(mountPoint,
        () -> daemon.isAlive() ? null : "the daemon exited: " + log());
    // Warm up: every kind of request a few times.
    for (int i = READERS; i < READERS + WARM_UP; i++) {
      assertArrayEquals(content(i), Files.readAllBytes(mountPoint.resolve("obj-" + i)));
    }
    int before = threads();

    gate.target = READERS;
    List<CompletableFuture<byte[]>> reads = new ArrayList<>();
    List<Thread> readers = new ArrayList<>();
    for (int i = 0; i < READERS; i++) {
      CompletableFuture<byte[]> f = new CompletableFuture<>();
      Path file = mountPoint.resolve("obj-" + i);
      Thread t = new Thread(() -> {
        try {
          f.complete(Files.readAllBytes(file));
        } catch (Throwable e) {
          f.completeExceptionally(e);
        }
      }, "reader-" + i);
      t.setDaemon(true);
      reads.add(f);
      readers.add(t);
    }
    readers.forEach(Thread::start);
    try {
      gate.full.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("only " + gate.waiting.get() + " of " + READERS
          + " GETs reached the server at once", e);
    }
    int during = threads();
    String names = FuseTestSupport.sh("cat /proc/" + daemon.pid() + "/task/*/comm | sort "
        + "| uniq -c | sort -rn | head -8 | tr -s ' \\n' ' '");
    gate.open.countDown();
    for (int i = 0; i < reads.size(); i++) {
      assertArrayEquals(content(i), reads.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
    }
    int after = threads();
    System.out.printf("daemon threads: %d idle, %d with %d reads in flight, %d after (%s)%n",
        before, during, gate.waiting.get(), after, names);
    assertEquals(READERS, gate.waiting.get());
    // No thread per request: a few threads the JVM starts on its own (JIT, GC) at most.
    assertTrue(during - before < 10, "threads went from " + before + " to " + during
        + " with " + gate.waiting.get() + " reads in flight: " + names);
  }

  private String log() {
    try {
      return Files.readString(spool.resolve("daemon.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }
}
