package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.FuseTestSupport;
import io.reactorfuse.testing.OneFileFs;
import java.util.function.Function;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/** The core on real mounts: mounting, serving, interrupts, unmounting in every way. */
class MountIT {
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

  private static FuseOps oneFile(byte[] content, Function<Request.Read, Mono<ByteBuf>> reader) {
    return OneFileFs.of(content.length, reader);
  }

  @Test
  void mount_servesReadsThroughTheKernel() throws Exception {
    byte[] content = "through the kernel\n".getBytes(StandardCharsets.UTF_8);
    FuseMount m = fuse.mount(OneFileFs.of(content));
    assertEquals("through the kernel\n", Files.readString(m.mountPoint().resolve("f")));
    assertTrue(FuseTestSupport.isMounted(m.mountPoint()));
    FuseInit init = m.init();
    assertEquals(7, init.kernelMajor());
    assertTrue(init.minor() >= 31 && init.minor() <= 45, "minor " + init.minor());
    assertEquals(init.flags(), init.flags() & init.kernelFlags(), "only offered flags are set");
  }

  @Test
  void lookup_errnoReachesTheCaller() throws Exception {
    FuseMount m = fuse.mount(oneFile(new byte[0], req -> Errno.EIO.mono()));
    assertThrows(java.nio.file.NoSuchFileException.class,
        () -> Files.readString(m.mountPoint().resolve("missing")));
  }

  @Test
  void read_handlerFailure_givesEioNotAHang() throws Exception {
    FuseMount m = fuse.mount(oneFile(new byte[10], req -> Mono.error(new IllegalStateException(
        "handler bug"))));
    IOException e = assertThrows(IOException.class,
        () -> Files.readAllBytes(m.mountPoint().resolve("f")));
    assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), e.toString());
  }

  @Test
  void read_largeRepliesArriveWhole() throws Exception {
    byte[] content = new byte[3 << 20];
    for (int i = 0; i < content.length; i++) {
      content[i] = (byte) (i * 31 + (i >>> 12));
    }
    // Replies written from another thread than the event loop, as a blocking backend would.
    FuseMount m = fuse.mount(oneFile(content, req -> Mono.fromCallable(() -> {
      int from = (int) Math.min(req.offset(), content.length);
      int n = Math.min(req.size(), content.length - from);
      return (ByteBuf) Unpooled.directBuffer(n).writeBytes(content, from, n);
    }).subscribeOn(reactor.core.scheduler.Schedulers.boundedElastic())));
    assertTrue(java.util.Arrays.equals(content, Files.readAllBytes(m.mountPoint().resolve("f"))));
  }

  @Test
  void interrupt_cancelsTheHandlerAndTheCallerGetsOut() throws Exception {
    CountDownLatch waiting = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(1);
    FuseOps file = oneFile(new byte[0], req -> Errno.EIO.mono());
    // A LOOKUP that never answers. (READs of cached files come from readahead, which the
    // kernel sends in the background and never interrupts: a lookup is waited for in place.)
    FuseMount m = fuse.mount(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.<EntryReply>never()
            .doOnSubscribe(s -> waiting.countDown())
            .doOnCancel(cancelled::countDown);
      }

      @Override
      public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
        return file.getattr(ctx, req);
      }
    });
    Process stat = new ProcessBuilder("stat", m.mountPoint().resolve("slow").toString()).start();
    try {
      assertTrue(waiting.await(WAIT.toSeconds(), TimeUnit.SECONDS), "LOOKUP never arrived");
      // SIGINT: the kernel sends INTERRUPT for the waiting LOOKUP; the framework cancels it.
      FuseTestSupport.run(WAIT, "kill", "-INT", Long.toString(stat.pid()));
      assertTrue(cancelled.await(WAIT.toSeconds(), TimeUnit.SECONDS), "handler not cancelled");
      assertTrue(stat.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "caller still blocked");
      assertNotEquals(0, stat.exitValue());
    } finally {
      stat.destroyForcibly();
    }
  }

  @Test
  void onDispose_completesWhenSomeoneElseUnmounts() throws Exception {
    FuseMount m = fuse.mount(oneFile(new byte[0], req -> Errno.EIO.mono()));
    FuseTestSupport.sh("umount " + m.mountPoint());
    m.onDispose().block(WAIT);
    assertTrue(m.isDisposed());
    assertFalse(FuseTestSupport.isMounted(m.mountPoint()));
  }

  @Test
  void unmount_whileAFileIsOpen_failsWithEbusy_andLazyUnmountWorks() throws Exception {
    FuseMount m = fuse.mount(oneFile(new byte[4], req -> Mono.just(Unpooled.buffer(0))));
    Path f = m.mountPoint().resolve("f");
    try (FileChannel open = FileChannel.open(f)) {
      FuseException e = assertThrows(FuseException.class, () -> m.unmount().block(WAIT));
      assertEquals(Errno.EBUSY, e.errno());
      assertTrue(e.getMessage().contains("lazily"), e.getMessage());
      m.unmountLazy().block(WAIT);
      assertFalse(FuseTestSupport.isMounted(m.mountPoint()));
      assertFalse(m.isDisposed(), "the session lives while a file is open");
    }
    m.onDispose().block(WAIT);
  }

  @Test
  void unmount_endsTheSession() throws Exception {
    AtomicInteger reads = new AtomicInteger();
    FuseMount m = fuse.mount(oneFile(new byte[0], req -> {
      reads.incrementAndGet();
      return Mono.just(Unpooled.buffer(0));
    }));
    m.unmount().block(WAIT);
    assertTrue(m.isDisposed());
    assertFalse(FuseTestSupport.isMounted(m.mountPoint()));
  }

  @Test
  void mount_optionsReachTheKernel() throws Exception {
    FuseMount m = fuse.mount(oneFile(new byte[0], req -> Errno.EIO.mono()),
        s -> s.fsName("itfs").subtype("ittype").readOnly(true).allowOther(true));
    String line = Files.readAllLines(Path.of("/proc/mounts")).stream()
        .filter(l -> l.contains(" " + m.mountPoint() + " ")).findFirst().orElseThrow();
    assertTrue(line.startsWith("itfs " + m.mountPoint() + " fuse.ittype ro,"), line);
    assertTrue(line.contains("allow_other"), line);
  }
}
