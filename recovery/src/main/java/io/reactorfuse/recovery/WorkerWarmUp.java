package io.reactorfuse.recovery;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.sys.Spawn;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Runs a whole session once before the hand-off, so that a hot standby's first reply after it
 * does not pay for loading and first running the framework's code. Measured here: without it a
 * standby needed ~130 ms from the hand-off to serving and ~130 ms more for its first reply,
 * about 100 ms of which went to registering Netty's buffer events with JFR on the first pooled
 * allocation.
 *
 * <p>The session is served from one end of a SOCK_SEQPACKET socket pair, which keeps message
 * boundaries as /dev/fuse does; this class plays the kernel on the other end: a LOOKUP, GETATTR,
 * OPEN and READ, a RESEND notification and a resent READ. Nothing is mounted. Best effort: a
 * failure only costs the time it saves, and is logged at debug level.
 */
final class WorkerWarmUp {
  private static final Logger log = LoggerFactory.getLogger(RecoverableWorker.class);
  private static final Duration BOUND = Duration.ofSeconds(10);
  private static final int HEADER = 40;
  private static final byte[] DATA = new byte[4096];
  private static final FuseInit INIT = new FuseInit(7, 45, 45, 0, FuseInit.ASYNC_READ, 131072,
      1 << 20, 256, 64, 48, 1, 0);

  private WorkerWarmUp() {}

  static void run() {
    long start = System.nanoTime();
    int[] pair;
    try {
      pair = Spawn.socketPair(true);
    } catch (NativeError e) {
      log.debug("No warm-up: {}", e.getMessage());
      return;
    }
    int kernel = pair[1];
    // The "kernel" side blocks in recvmsg: a watchdog wakes it (end of file) if the session
    // does not answer, so that a standby never hangs here.
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(BOUND.toMillis());
        Spawn.shutdown(kernel);
      } catch (InterruptedException done) {
        // the warm-up finished in time
      }
    }, "reactor-fuse-warm-up-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    MultiThreadIoEventLoopGroup group =
        new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      Spawn.setNonBlocking(pair[0]);
      FuseMount mount = FuseServer.create().mountPoint(Path.of("/reactor-fuse-warm-up"))
          .fromFds(pair[0]).eventLoopGroup(group).resume(INIT).handle(new WarmUpFs())
          .mountNow();
      exchange(kernel, request(1, 2, 1, "f\0".getBytes(StandardCharsets.US_ASCII)));
      exchange(kernel, request(3, 4, 2, new byte[16]));
      exchange(kernel, request(14, 6, 2, new byte[8]));
      exchange(kernel, request(15, 8, 2, readIn()));
      mount.notifier().resend().block(BOUND);
      receive(kernel); // the notification
      exchange(kernel, request(15, 10 | (1L << 63), 2, readIn()));
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(BOUND.toMillis());
      mount.onDispose().block(BOUND);
      log.debug("Warm-up session took {} ms", String.format(Locale.ROOT, "%.1f",
          (System.nanoTime() - start) / 1e6));
    } catch (NativeError | RuntimeException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      log.debug("Warm-up skipped: {}", e.toString());
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    } finally {
      watchdog.interrupt();
      Spawn.close(kernel);
    }
  }

  private static void exchange(int kernel, byte[] request) throws NativeError {
    Spawn.send(kernel, request);
    receive(kernel);
  }

  private static void receive(int kernel) throws NativeError {
    if (Spawn.receive(kernel, 64 * 1024, 0) == null) {
      throw new IllegalStateException("no reply within " + BOUND);
    }
  }

  /** fuse_in_header {len, opcode, unique, nodeid, uid, gid, pid, total_extlen, padding}. */
  private static byte[] request(int opcode, long unique, long nodeId, byte[] body) {
    ByteBuffer b = ByteBuffer.allocate(HEADER + body.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(HEADER + body.length).putInt(opcode).putLong(unique).putLong(nodeId)
        .putInt(0).putInt(0).putInt(0).putShort((short) 0).putShort((short) 0).put(body);
    return b.array();
  }

  /** fuse_read_in {fh, offset, size, read_flags, lock_owner, flags, padding}. */
  private static byte[] readIn() {
    return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(0).putLong(0).putInt(DATA.length).putInt(0).putLong(0).putInt(0).putInt(0)
        .array();
  }

  /** A root holding one file, {@code f}. */
  private static final class WarmUpFs implements FuseOps {
    private static final Attr ROOT = Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(2)
        .build();
    private static final Attr FILE = Attr.builder().ino(2).mode(Attr.S_IFREG | 0644)
        .size(DATA.length).build();

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      return req.name().equals("f") ? Mono.just(EntryReply.of(FILE, Duration.ZERO, Duration.ZERO))
          : Errno.ENOENT.mono();
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      return Mono.just(new AttrReply(req.nodeId() == 1 ? ROOT : FILE, Duration.ZERO));
    }

    @Override
    public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
      return Mono.just(Unpooled.wrappedBuffer(DATA, 0, Math.min(req.size(), DATA.length)));
    }
  }
}
