package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Node fds evicted and reopened from file handles all the time (16 fds for 2,000 nodes) while
 * two event loops serve concurrent readers, renamers, creators and listers: nothing fails, no
 * data is lost, and once the tree is removed every lookup has been given back (exact counts).
 */
class PassthroughEvictionIT {
  private FuseTestSupport fuse;
  private FuseMount mount;
  private PassthroughFs fs;
  private Path source;

  @BeforeEach
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    source = Files.createTempDirectory("passthrough-evict-");
    for (int d = 0; d < 20; d++) {
      Path dir = Files.createDirectory(source.resolve("d" + d));
      for (int f = 0; f < 100; f++) {
        Files.writeString(dir.resolve("f" + f), "d" + d + "f" + f + "\n");
      }
    }
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.AUTO, false, 16);
    fuse = new FuseTestSupport();
    mount = fuse.mount(fs, s -> s.defaultPermissions(true).threads(2).fsName("passthrough")
        .subtype("passthrough"));
  }

  @AfterEach
  void unmount() throws Exception {
    PassthroughTeardown.release(fuse, fs, source);
  }

  @Test
  void concurrentUse_withConstantEviction_isExact() throws Exception {
    String m = "'" + mount.mountPoint() + "'";
    sh("cd " + m + " && "
        + "( for r in 1 2 3; do find . -type f -exec cat {} + > /dev/null; done ) & "
        + "( for i in $(seq 0 99); do mv d0/f$i d1/m$i && mv d1/m$i d0/f$i; done ) & "
        + "( for i in $(seq 1 200); do echo n$i > d5/n$i && cat d5/n$i > /dev/null"
        + " && rm d5/n$i; done ) & "
        + "( for r in 1 2 3; do ls -lR > /dev/null; done ) & "
        + "wait");
    assertTrue(fs.evictionCount() > 1000, "evictions: " + fs.evictionCount());
    assertTrue(fs.reopenCount() > 0, "reopens: " + fs.reopenCount());
    assertTrue(fs.pathFdCount() <= 16 + 64, "O_PATH fds: " + fs.pathFdCount());
    StringBuilder expected = new StringBuilder();
    for (int d = 0; d < 20; d++) {
      for (int f = 0; f < 100; f++) {
        expected.append("d").append(d).append("f").append(f).append("\n");
      }
    }
    String all = sh("cd " + m + " && for d in $(seq 0 19); do for f in $(seq 0 99); do"
        + " cat d$d/f$f; done; done");
    assertEquals(expected.toString(), all);
    assertEquals(expected.toString().getBytes(StandardCharsets.UTF_8).length,
        Long.parseLong(sh("cat " + m + "/d*/* | wc -c").trim()));

    sh("rm -r " + m + "/d*");
    long deadline = System.nanoTime() + FuseTestSupport.WAIT.toNanos();
    while (fs.nodeCount() > 1 && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(5); // bounded poll: FORGETs carry no reply to wait for
    }
    assertEquals(1, fs.nodeCount(), "every lookup given back");
    assertEquals(1, fs.pathFdCount());
  }
}
