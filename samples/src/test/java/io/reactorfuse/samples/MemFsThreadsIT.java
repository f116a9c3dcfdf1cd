package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.samples.memfs.MemFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** memfs served by two clone fds on two event loops, under concurrent clients. */
class MemFsThreadsIT {
  private static final int WRITERS = 4;
  private static final int REGION = 1 << 20;
  private static final int CHUNK = 16 * 1024;

  private final Set<String> servingThreads = ConcurrentHashMap.newKeySet();
  private FuseTestSupport fuse;
  private FuseMount mount;
  private ExecutorService clients;

  @BeforeEach
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    fuse = new FuseTestSupport();
    MemFs memfs = new MemFs(Duration.ofSeconds(1), 0, 0);
    // Records which thread calls each handler, then delegates to memfs.
    FuseOps recording = (FuseOps) Proxy.newProxyInstance(FuseOps.class.getClassLoader(),
        new Class<?>[] {FuseOps.class}, (proxy, method, args) -> {
          if (method.getDeclaringClass() == Object.class) {
            return method.invoke(memfs, args);
          }
          servingThreads.add(Thread.currentThread().getName());
          try {
            return method.invoke(memfs, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    mount = fuse.mount(recording, s -> s.threads(2).defaultPermissions(true));
    clients = Executors.newFixedThreadPool(WRITERS + 2);
  }

  @AfterEach
  void unmount() throws Exception {
    if (clients != null) {
      clients.shutdownNow();
      clients.awaitTermination(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    if (fuse != null) {
      fuse.close();
    }
  }

  private static byte expected(long position) {
    long writer = position / REGION;
    long chunk = (position % REGION) / CHUNK;
    return (byte) (1 + writer * 37 + chunk); // never 0: 0 means "not written yet"
  }

  @Test
  void sameFile_concurrentWritersAndReaders_noLostOrTornBytes() throws Exception {
    Path f = Files.createFile(mount.mountPoint().resolve("shared.bin"));
    AtomicBoolean writing = new AtomicBoolean(true);
    List<Future<?>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      long base = (long) w * REGION;
      writers.add(clients.submit(() -> {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
          for (int off = 0; off < REGION; off += CHUNK) {
            byte[] chunk = new byte[CHUNK];
            java.util.Arrays.fill(chunk, expected(base + off));
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            while (buf.hasRemaining()) {
              ch.write(buf, base + off + buf.position());
            }
          }
        }
        return null;
      }));
    }
    List<Future<Integer>> readers = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      readers.add(clients.submit(() -> {
        int passes = 0;
        do {
          // Every byte is written once: a reader sees 0 (not yet) or the right value, never
          // anything else, whatever the interleaving.
          byte[] seen = Files.readAllBytes(f);
          for (int i = 0; i < seen.length; i++) {
            if (seen[i] != 0 && seen[i] != expected(i)) {
              throw new AssertionError("byte " + i + " is " + seen[i] + ", expected "
                  + expected(i) + " or 0");
            }
          }
          passes++;
        } while (writing.get());
        return passes;
      }));
    }
    for (Future<?> w : writers) {
      w.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    writing.set(false);
    for (Future<Integer> r : readers) {
      assertTrue(r.get(WAIT.toSeconds(), TimeUnit.SECONDS) > 0);
    }
    byte[] all = Files.readAllBytes(f);
    byte[] want = new byte[WRITERS * REGION];
    for (int i = 0; i < want.length; i++) {
      want[i] = expected(i);
    }
    assertArrayEquals(want, all);
    assertTrue(servingThreads.stream().filter(n -> n.startsWith("reactor-fuse-loop")).count() >= 2,
        "both event loops served requests: " + servingThreads);
  }

  @Test
  void parallelCpAndTar_copiesAreExact() throws Exception {
    assertEquals(2, mount.threads());
    Path src = Files.createTempDirectory("threads-src-");
    try {
      sh("cd '" + src + "' && mkdir -p d/e && for i in $(seq 1 40); do "
          + "head -c $((i * 3001)) /dev/urandom > d/f$i; done && cp d/f7 d/e/g"
          + " && dd if=/dev/urandom of=big bs=1M count=4 status=none && ln -s d/f1 link");
      Path m = mount.mountPoint();
      sh("for i in 1 2 3; do cp -a '" + src + "' '" + m + "/cp'$i & done; "
          + "(mkdir '" + m + "/tar' && tar -C '" + src + "' -cf - . | tar -C '" + m
          + "/tar' -xf -) & wait");
      for (String copy : List.of("cp1", "cp2", "cp3", "tar")) {
        sh("diff -r --no-dereference '" + src + "' '" + m.resolve(copy) + "'");
      }
      sh("rm -r '" + m + "'/cp1 '" + m + "'/cp2 & rm -r '" + m + "'/cp3 '" + m + "'/tar & wait");
      try (var left = Files.list(m)) {
        assertEquals(0, left.count());
      }
    } finally {
      sh("rm -rf '" + src + "'");
    }
  }
}
