package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.reactorfuse.internal.sys.Native;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.testing.FuseTestSupport;
import io.reactorfuse.testing.OneFileFs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import jnr.ffi.LibraryLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Serving an fd that someone else opened and mounted: with INIT still pending, and taken over by
 * a second server after the first one stopped, with the first one's INIT result.
 */
class FromFdIT {
  /** dup(2), which the framework itself never needs. */
  public interface Dup {
    int dup(int fd);
  }

  private static final Dup LIBC = LibraryLoader.create(Dup.class).load("c");

  private FuseTestSupport fuse;
  private Path mountPoint;
  private int sessionFd = -1;

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    fuse = new FuseTestSupport();
    mountPoint = fuse.newMountPoint();
    // What a supervisor does: open the device and mount, leaving INIT to whoever serves.
    sessionFd = Native.open("/dev/fuse", Native.O_RDWR | Native.O_NONBLOCK | Native.O_CLOEXEC);
    Native.mount("fromfd", mountPoint.toString(), "fuse", 0,
        "fd=" + sessionFd + ",rootmode=40000,user_id=0,group_id=0");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (mountPoint != null && FuseTestSupport.isMounted(mountPoint)) {
      FuseTestSupport.run(WAIT, "umount", "-l", mountPoint.toString());
    }
    Native.closeQuietly(sessionFd);
    if (fuse != null) {
      fuse.close();
    }
  }

  /** A root holding one file whose content names the server that answers. */
  private static FuseOps server(String name) {
    return OneFileFs.of(name.getBytes(StandardCharsets.UTF_8));
  }

  private String readThroughKernel() throws Exception {
    // Timeouts 0 and no FOPEN_KEEP_CACHE: every open asks the server that serves now.
    return Files.readString(mountPoint.resolve("f"));
  }

  @Test
  void fromFd_withInitPending_answersInitAndServes() throws Exception {
    FuseMount m = FuseServer.create().mountPoint(mountPoint).fromFd(LIBC.dup(sessionFd))
        .handle(server("first")).mount().block(WAIT);
    assertEquals(7, m.init().kernelMajor());
    assertEquals("first", readThroughKernel());
    m.unmount().block(WAIT);
    assertTrue(m.isDisposed());
  }

  @Test
  void resume_secondServerTakesOverWithTheSavedInit() throws Exception {
    MultiThreadIoEventLoopGroup firstLoops =
        new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    FuseMount first = FuseServer.create().mountPoint(mountPoint).fromFd(LIBC.dup(sessionFd))
        .eventLoopGroup(firstLoops).handle(server("first")).mount().block(WAIT);
    FuseInit saved = first.init();
    assertEquals("first", readThroughKernel());

    // The first server stops (its loops shut down, its fd closes); the test's copy of the
    // session fd keeps the connection and the mount alive.
    firstLoops.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
    first.onDispose().block(WAIT);
    assertTrue(FuseTestSupport.isMounted(mountPoint), "the mount outlives the first server");

    FuseMount second = FuseServer.create().mountPoint(mountPoint).fromFd(LIBC.dup(sessionFd))
        .resume(saved).handle(server("second")).mount().block(WAIT);
    assertEquals(saved, second.init());
    assertEquals("second", readThroughKernel());
    second.unmount().block(WAIT);
  }

  @Test
  void resend_aReadInFlightWhenItsServerStoppedIsAnsweredByTheNext() throws Exception {
    // What a supervisor does with clone fds: mount, clone, keep a copy of every fd.
    io.reactorfuse.spi.MountedDevice device = FuseServer.create().mountPoint(fuse.newMountPoint())
        .threads(2).mountDevice();
    Path mp = device.mountPoint();
    byte[] content = "answered by the second server\n".getBytes(StandardCharsets.UTF_8);
    MultiThreadIoEventLoopGroup firstLoops =
        new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    Process cat = null;
    try {
      java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
      FuseMount first = FuseServer.create().mountPoint(mp).fromFds(dups(device))
          .eventLoopGroup(firstLoops)
          .handle(OneFileFs.of(content.length, req -> {
            reading.countDown();
            return reactor.core.publisher.Mono.never(); // dies before answering
          }))
          .mount().block(WAIT);
      cat = new ProcessBuilder("cat", mp.resolve("f").toString())
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      assertTrue(reading.await(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS),
          "the READ never reached the first server");

      firstLoops.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
      first.onDispose().block(WAIT);
      assertTrue(cat.isAlive(), "the reader waits: the device's fds keep its request");

      FuseMount second = FuseServer.create().mountPoint(mp).fromFds(dups(device))
          .resume(first.init()).resendOnStart(true).handle(OneFileFs.of(content))
          .mount().block(WAIT);
      assertTrue(cat.waitFor(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS),
          "cat did not finish after RESEND");
      assertEquals(0, cat.exitValue());
      assertEquals(new String(content, StandardCharsets.UTF_8),
          new String(cat.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      second.unmount().block(WAIT);
    } finally {
      if (cat != null) {
        cat.destroyForcibly();
      }
      if (FuseTestSupport.isMounted(mp)) {
        device.unmount(true);
      }
      device.closeFds();
      firstLoops.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  private static int[] dups(io.reactorfuse.spi.MountedDevice device) {
    return device.fds().stream().mapToInt(LIBC::dup).toArray();
  }

  @Test
  void resume_withoutFromFd_isRefused() {
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalStateException.class, () -> FuseServer.create().mountPoint(mountPoint)
            .resume(new FuseInit(7, 45, 45, 0, 0, 0, 4096, 1, 1, 1, 1, 0))
            .handle(server("x")).mount().block(WAIT));
    assertTrue(e.getMessage().contains("fromFd"), e.getMessage());
  }
}
