package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A tree with more nodes than the process may have open files (20,000 here), all of them held by
 * the kernel at once (day-long timeouts): libfuse's passthroughs fail with EMFILE on it, ours
 * keeps at most {@link PassthroughFs#maxPathFds()} O_PATH fds and file handles for the rest.
 */
class PassthroughBigTreeIT {
  private static final int DIRS = 25;
  private static final int FILES_PER_DIR = 1_000;

  private FuseTestSupport fuse;
  private FuseMount mount;
  private PassthroughFs fs;
  private Path source;

  @BeforeEach
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    source = Files.createTempDirectory("passthrough-bigtree-");
    for (int d = 0; d < DIRS; d++) {
      Path dir = Files.createDirectory(source.resolve("d" + d));
      for (int f = 0; f < FILES_PER_DIR; f++) {
        Files.write(dir.resolve("f" + f), content(d, f));
      }
    }
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.ALWAYS);
    fuse = new FuseTestSupport();
    mount = fuse.mount(fs, s -> s.defaultPermissions(true).fsName("passthrough")
        .subtype("passthrough"));
  }

  @AfterEach
  void unmount() throws Exception {
    PassthroughTeardown.release(fuse, fs, source);
  }

  private static byte[] content(int d, int f) {
    return ("d" + d + "/f" + f + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private static long openFds() throws Exception {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  private static long openFileLimit() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
      if (line.startsWith("Max open files")) {
        return Long.parseLong(line.substring(26).trim().split("\\s+")[0]);
      }
    }
    throw new AssertionError("no open-file limit in /proc/self/limits");
  }

  @Test
  void moreNodesThanOpenFiles_allStatReadCreateUnlink() throws Exception {
    String mnt = "'" + mount.mountPoint() + "'";
    long limit = openFileLimit();
    int total = DIRS * FILES_PER_DIR;
    assertTrue(total > limit, "the tree (" + total + ") must be bigger than the limit " + limit);

    assertEquals(String.valueOf(1 + DIRS + total), sh("find " + mnt + " | wc -l").trim());
    assertEquals(String.valueOf(total),
        sh("find " + mnt + " -type f -exec stat -c '%s %i' {} + | wc -l").trim());
    // The kernel holds every node (nothing forgot them); we hold far fewer fds.
    assertTrue(fs.nodeCount() >= 1 + DIRS + total, "nodes: " + fs.nodeCount());
    assertTrue(fs.pathFdCount() <= fs.maxPathFds() + 64, "O_PATH fds: " + fs.pathFdCount());
    assertTrue(fs.evictionCount() > 0);
    assertTrue(openFds() < limit - 5_000, "fds open: " + openFds());

    // Every file's content through the mount: each evicted node is reopened from its handle.
    long bytes = 0;
    for (int d = 0; d < DIRS; d++) {
      for (int f = 0; f < FILES_PER_DIR; f++) {
        bytes += content(d, f).length;
      }
    }
    assertEquals(String.valueOf(bytes),
        sh("cd " + mnt + " && find . -type f -print0 | xargs -0 cat | wc -c").trim());
    assertTrue(fs.reopenCount() > 0, "reopened: " + fs.reopenCount());
    assertEquals("d3/f17\n", Files.readString(mount.mountPoint().resolve("d3/f17")));
    assertEquals("d0/f999\n", Files.readString(mount.mountPoint().resolve("d0/f999")));

    // Create and unlink in directories whose nodes were evicted long ago.
    for (int k = 0; k < 50; k++) {
      Files.writeString(mount.mountPoint().resolve("d1/new" + k), "new" + k);
      Files.delete(mount.mountPoint().resolve("d2/f" + k));
    }
    sh("mkdir " + mnt + "/d4/sub && mv " + mnt + "/d5/f5 " + mnt + "/d4/sub/moved");
    assertEquals("new49", Files.readString(source.resolve("d1/new49")));
    assertFalse(Files.exists(source.resolve("d2/f0")));
    assertEquals("d5/f5\n", Files.readString(source.resolve("d4/sub/moved")));
    assertEquals(String.valueOf(1 + DIRS + 1 + total), sh("find " + mnt + " | wc -l").trim());

    assertTrue(fs.pathFdCount() <= fs.maxPathFds() + 64, "O_PATH fds: " + fs.pathFdCount());
    assertTrue(openFds() < limit - 5_000, "fds open: " + openFds());
  }
}
