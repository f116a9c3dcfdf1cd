package io.reactorfuse.samples.passthrough;

import static io.reactorfuse.samples.passthrough.PassthroughSys.C;
import static io.reactorfuse.samples.passthrough.PassthroughSys.check;
import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseServer;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.samples.passthrough.PassthroughFs.CacheMode;
import io.reactorfuse.spi.MountedDevice;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * A takeover in one JVM: a device mounted without serving (the supervisor's part) holds the
 * /dev/fuse fds; server 1 serves copies of them and dies; server 2, a new PassthroughFs built
 * from the same store, serves new copies and resumes with server 1's INIT. The files, handles
 * and nodes this JVM got through server 1 keep working through server 2.
 */
class PassthroughTakeoverIT {
  private FuseTestSupport fuse;
  private Path tree;
  private Path source;
  private MountedDevice dev;
  private boolean devFdsClosed;
  private final List<FuseMount> servers = new ArrayList<>();
  private final List<IoEventLoopGroup> groups = new ArrayList<>();
  private final List<PassthroughFs> filesystems = new ArrayList<>();
  /** Files and directories this JVM holds open through the mount. */
  private final List<AutoCloseable> opened = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    tree = Files.createTempDirectory("passthrough-takeover-");
    source = Files.createDirectory(tree.resolve("source"));
    fuse = new FuseTestSupport();
  }

  @AfterEach
  void tearDown() throws Exception {
    boolean served = !servers.isEmpty() && !servers.get(servers.size() - 1).isDisposed();
    if (!served) {
      closeDevFds(); // nobody serves: abort the connection, so closing files cannot hang
    }
    for (AutoCloseable c : opened) {
      try {
        c.close();
      } catch (Exception e) {
        // aborted, or closed by the test already
      }
    }
    try {
      if (dev != null) {
        try {
          dev.unmount(false);
        } catch (RuntimeException e) {
          dev.unmount(true);
        }
      }
    } finally {
      for (FuseMount m : servers) {
        m.onDispose().onErrorResume(e -> Mono.empty()).block(WAIT);
      }
      closeDevFds();
      for (IoEventLoopGroup g : groups) {
        g.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(WAIT.toMillis());
      }
      for (PassthroughFs f : filesystems) {
        f.close();
      }
      try {
        if (fuse != null) {
          fuse.close();
        }
      } finally {
        if (tree != null) {
          sh("rm -rf '" + tree + "'");
        }
      }
    }
  }

  private void closeDevFds() {
    if (dev != null && !devFdsClosed) {
      devFdsClosed = true;
      dev.closeFds();
    }
  }

  /** A recoverable PassthroughFs over SOURCE: NEVER caches, so every access reaches it. */
  private PassthroughFs passthrough(MemoryStateStore store) {
    PassthroughFs fs = new PassthroughFs(source, CacheMode.NEVER, false, 0, store);
    filesystems.add(fs);
    return fs;
  }

  /**
   * Serves {@code fs} on fresh copies (dup) of the device's fds, as a worker process gets them
   * from its supervisor; on {@code loops} if given, resuming {@code init} if given.
   */
  private FuseMount serve(PassthroughFs fs, IoEventLoopGroup loops, FuseInit init) {
    int[] fds = dev.fds().stream().mapToInt(fd -> check(C.dup(fd))).toArray();
    FuseServer server = FuseServer.create().mountPoint(dev.mountPoint()).defaultPermissions(true)
        .fromFds(fds).handle(fs);
    server = loops == null ? server : server.eventLoopGroup(loops);
    server = init == null ? server : server.resume(init);
    FuseMount m = server.mount().block(WAIT);
    servers.add(m);
    return m;
  }

  private <T extends AutoCloseable> T held(T c) {
    opened.add(c);
    return c;
  }

  private static String read(FileChannel ch, long position, int size) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(size);
    ch.read(b, position);
    return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
  }

  private static ByteBuffer bytes(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  /** Bounded poll: FORGET and RELEASE carry no reply this JVM could wait for. */
  private static void await(BooleanSupplier done, Supplier<String> what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(5);
    }
    assertTrue(done.getAsBoolean(), what);
  }

  @Test
  void newWorker_takesOverNodesOpenFilesAndDirectories() throws Exception {
    Files.writeString(source.resolve("read.txt"), "read me");
    Files.writeString(source.resolve("write.txt"), "0123456789");
    Files.writeString(source.resolve("log.txt"), "log:");
    Path d = Files.createDirectory(source.resolve("d"));
    List<String> entries = List.of("e0", "e1", "e2", "e3", "e4");
    for (String e : entries) {
      Files.writeString(d.resolve(e), e);
    }
    MemoryStateStore store = new MemoryStateStore();
    dev = FuseServer.create().mountPoint(fuse.newMountPoint()).defaultPermissions(true)
        .fsName("passthrough").subtype("passthrough").mountDevice();
    Path m = dev.mountPoint();

    // Server 1 hands out nodes and handles.
    PassthroughFs fs1 = passthrough(store);
    IoEventLoopGroup loops1 = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    groups.add(loops1);
    FuseMount server1 = serve(fs1, loops1, null);
    assertEquals(7, Files.size(m.resolve("read.txt")));
    assertTrue(Files.isDirectory(m.resolve("d")));
    FileChannel reader = held(FileChannel.open(m.resolve("read.txt"), StandardOpenOption.READ));
    FileChannel writer = held(FileChannel.open(m.resolve("write.txt"), StandardOpenOption.WRITE));
    FileChannel appender = held(FileChannel.open(m.resolve("log.txt"), StandardOpenOption.WRITE,
        StandardOpenOption.APPEND));
    DirectoryStream<Path> dir = held(Files.newDirectoryStream(m.resolve("d")));
    assertEquals("read", read(reader, 0, 4));
    writer.write(bytes("AB"), 0);
    appender.write(bytes(" one"));
    assertEquals("AB23456789", Files.readString(source.resolve("write.txt")));
    int nodes = fs1.nodeCount();
    assertEquals(nodes - 1, store.size(PassthroughFs.SPACE_NODES), "every node but the root");
    assertEquals(3, store.size(PassthroughFs.SPACE_FILES));
    assertEquals(1, store.size(PassthroughFs.SPACE_DIRS));

    // Server 1 dies: its loops stop and its copies of the fds close; the device's copies keep
    // the connection. Its process's own fds would be gone as well.
    loops1.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    server1.onDispose().block(WAIT);
    fs1.close();

    // Server 2: a new filesystem from the store, on new copies of the fds.
    PassthroughFs fs2 = passthrough(store);
    assertEquals(nodes, fs2.nodeCount());
    FuseMount server2 = serve(fs2, null, server1.init());
    server2.notifier().resend().block(WAIT);

    // The same open files, nodes and directory handle, now served by server 2.
    assertEquals("me", read(reader, 5, 2));
    writer.write(bytes("CD"), 2);
    assertEquals("ABCD456789", Files.readString(source.resolve("write.txt")));
    appender.write(bytes(" two"));
    assertEquals("log: one two", Files.readString(source.resolve("log.txt")), "appended once");
    assertEquals(7, Files.size(m.resolve("read.txt")));
    assertTrue(Files.isDirectory(m.resolve("d")));
    List<String> listed = new ArrayList<>();
    dir.forEach(p -> listed.add(p.getFileName().toString()));
    listed.sort(null);
    assertEquals(entries, listed);
    Files.writeString(m.resolve("d/new.txt"), "new");
    assertEquals("new", Files.readString(source.resolve("d/new.txt")));
    assertEquals("new", Files.readString(m.resolve("d/new.txt")));

    // Everything closed and the kernel's caches dropped, its FORGETs bring server 2's count
    // back to the root alone: the counts it restored were the kernel's.
    for (AutoCloseable c : opened) {
      c.close();
    }
    await(() -> store.size(PassthroughFs.SPACE_FILES) == 0
        && store.size(PassthroughFs.SPACE_DIRS) == 0, () -> "RELEASEs missing");
    sh("sync; echo 2 > /proc/sys/vm/drop_caches");
    await(() -> fs2.nodeCount() == 1, () -> "nodes left: " + fs2.nodeCount());
    assertEquals(0, store.size(PassthroughFs.SPACE_NODES));
  }
}
