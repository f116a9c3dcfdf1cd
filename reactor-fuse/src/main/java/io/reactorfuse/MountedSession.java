package io.reactorfuse;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.codec.NotificationEncoder;
import io.reactorfuse.internal.dispatch.InitOptions;
import io.reactorfuse.internal.notify.KernelNotifier;
import io.reactorfuse.internal.sys.Native;
import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.transport.DevFuseHandle;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.spi.MountedDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * One mount: the session fd and its clones, one per event loop, sharing one dispatcher. Created
 * by {@link FuseServer#mount()}.
 *
 * <p>Each fd has its own processing list in the kernel, so a request's reply goes to the fd that
 * read it; the session ends when every fd has seen the end (each gets ENODEV on its own).
 */
final class MountedSession implements FuseMount {
  private static final Logger log = LoggerFactory.getLogger(MountedSession.class);
  /** Mounts still up, detached by a JVM shutdown hook so that none is left dangling. */
  private static final Set<MountedSession> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(MountedSession::detachAll, "reactor-fuse-exit"));
  }

  private final Path mountPoint;
  private final MountMethod method;
  private final IoEventLoopGroup group;
  private final boolean ownsGroup;
  /** False for {@code fromFd}: whoever handed over the fd decides when the mount goes. */
  private final boolean ownsMount;
  private final Dispatcher dispatcher;
  private final Sinks.Empty<Void> disposed = Sinks.empty();
  private final List<DevFuseHandle> handles = new ArrayList<>();
  private final AtomicInteger liveHandles = new AtomicInteger();
  private volatile Throwable failure;
  private volatile KernelNotifier notifier;
  private volatile boolean ended;

  private MountedSession(Path mountPoint, MountMethod method, IoEventLoopGroup group,
      boolean ownsGroup, boolean ownsMount, Dispatcher dispatcher) {
    this.ownsMount = ownsMount;
    this.mountPoint = mountPoint;
    this.method = method;
    this.group = group;
    this.ownsGroup = ownsGroup;
    this.dispatcher = dispatcher;
  }

  static Mono<FuseMount> mount(ServerConfig c, InitOptions options) {
    return Mono.fromCallable(() -> start(c, options))
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(s -> s.dispatcher.initialized()
            .timeout(c.initTimeout)
            .onErrorMap(TimeoutException.class, e -> new FuseException(
                "the kernel sent no INIT within " + c.initTimeout + " after mounting "
                    + s.mountPoint + "; the mount was detached", null, e))
            .doOnError(e -> s.detachQuietly())
            .thenReturn((FuseMount) s));
  }

  private static MountedSession start(ServerConfig c, InitOptions options) {
    boolean handedOver = c.existingFds != null;
    if (!handedOver) {
      // Not for a handed-over fd: its mount point is that mount, and a stat would wait for an
      // INIT that nobody answers yet.
      checkMountPoint(c.mountPoint);
    }
    Fuse.ensureAvailability();
    MountMethod method = KernelMount.resolve(c.mountMethod);
    boolean ownsGroup = c.eventLoopGroup == null;
    // One handed-over fd is cloned as threads(n) asks; several are used as they are.
    int loops = handedOver && c.existingFds.length > 1 ? c.existingFds.length : c.threads;
    IoEventLoopGroup group = ownsGroup
        ? new MultiThreadIoEventLoopGroup(loops,
            new DefaultThreadFactory("reactor-fuse-loop", true), EpollIoHandler.newFactory())
        : c.eventLoopGroup;
    ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    Dispatcher dispatcher = new Dispatcher(c.ops, options, alloc, c.debug, c.handlerScheduler,
        c.journal);
    MountedSession session = new MountedSession(c.mountPoint, method, group, ownsGroup,
        !handedOver, dispatcher);
    dispatcher.setSession(session);
    // Mount first: before it, the fd belongs to no connection and epoll reports EPOLLERR, which
    // would end the session before it began. The kernel queues INIT until we listen.
    List<Integer> fds = new ArrayList<>();
    try {
      if (handedOver) {
        for (int fd : c.existingFds) {
          fds.add(fd);
        }
      } else {
        fds.add(KernelMount.mount(c, method));
      }
    } catch (RuntimeException e) {
      session.shutdownGroup();
      throw e;
    }
    try {
      addClones(fds, loops);
      if (c.resumeInit != null) {
        dispatcher.resume(c.resumeInit);
      }
      if (c.resendOnStart) {
        requestResend(fds.get(0), alloc);
      }
      session.register(fds, options, alloc);
    } catch (NativeError | RuntimeException e) {
      session.detachQuietly();
      fds.forEach(Native::closeQuietly); // closing the last fd aborts the connection
      session.shutdownGroup();
      throw e instanceof NativeError ? cloneFailure(loops, (NativeError) e) : (RuntimeException) e;
    }
    session.notifier = new KernelNotifier(session.handles.get(0), dispatcher, alloc);
    LIVE.add(session);
    return session;
  }

  /**
   * FUSE_NOTIFY_RESEND before any fd is read (see {@link FuseServer#resendOnStart}): written
   * directly, as the notifier needs a registered handle and registering starts the reading.
   */
  private static void requestResend(int fd, ByteBufAllocator alloc) {
    ByteBuf notification = new NotificationEncoder(alloc).resend();
    try {
      Native.write(fd, ByteBufUtil.getBytes(notification), "FUSE_NOTIFY_RESEND");
    } catch (NativeError e) {
      throw new FuseException("cannot ask the kernel to resend the requests a dead server left "
          + "unanswered (FUSE_NOTIFY_RESEND: " + e.getMessage() + "); it needs Linux 6.9 or later",
          e.errno(), e);
    } finally {
      notification.release();
    }
  }

  /** {@link FuseServer#mountDevice()}: mounts and clones, serving nothing. */
  static MountedDevice mountDevice(ServerConfig c) {
    checkMountPoint(c.mountPoint);
    Fuse.ensureAvailability();
    MountMethod method = KernelMount.resolve(c.mountMethod);
    List<Integer> fds = new ArrayList<>(List.of(KernelMount.mount(c, method)));
    try {
      addClones(fds, c.threads);
    } catch (NativeError e) {
      fds.forEach(Native::closeQuietly); // aborts the connection
      try {
        KernelMount.unmount(c.mountPoint, method, true);
      } catch (RuntimeException ignored) {
        // aborted already: nothing left to detach
      }
      throw cloneFailure(c.threads, e);
    }
    List<Integer> all = List.copyOf(fds);
    Path mountPoint = c.mountPoint;
    return new MountedDevice() {
      @Override
      public Path mountPoint() {
        return mountPoint;
      }

      @Override
      public List<Integer> fds() {
        return all;
      }

      @Override
      public void unmount(boolean lazy) {
        KernelMount.unmount(mountPoint, method, lazy);
      }

      @Override
      public void closeFds() {
        all.forEach(Native::closeQuietly);
      }
    };
  }

  /** Clones the session fd ({@code fds.get(0)}) until there are {@code total} fds. */
  private static void addClones(List<Integer> fds, int total) throws NativeError {
    while (fds.size() < total) {
      fds.add(Native.cloneDevice(fds.get(0)));
    }
  }

  private static FuseException cloneFailure(int threads, NativeError e) {
    return new FuseException("cannot clone the /dev/fuse fd for " + threads + " threads: "
        + e.getMessage(), e.errno(), e);
  }

  private static void checkMountPoint(Path mp) {
    if (!Files.exists(mp)) {
      throw new FuseException("mount point " + mp + " does not exist: create it first (mkdir -p "
          + mp + ")", Errno.ENOENT, null);
    }
    if (!Files.isDirectory(mp)) {
      throw new FuseException("mount point " + mp + " is not a directory: mount on a directory",
          Errno.ENOTDIR, null);
    }
  }

  /** Puts each fd on its own event loop (round robin over the group's loops). */
  private void register(List<Integer> fds, InitOptions options, ByteBufAllocator alloc) {
    List<IoEventLoop> loops = new ArrayList<>();
    for (EventExecutor e : group) {
      loops.add((IoEventLoop) e);
    }
    liveHandles.set(fds.size());
    for (int i = 0; i < fds.size(); i++) {
      IoEventLoop loop = loops.get(i % loops.size());
      DevFuseHandle h = new DevFuseHandle(fds.get(i), dispatcher, alloc,
          options.readBufferSize(), this::handleEnded);
      IoRegistration registration;
      try {
        registration = loop.register(h).syncUninterruptibly().getNow();
      } catch (Exception e) {
        throw new FuseException("cannot put /dev/fuse on the epoll loop: " + e, null, e);
      }
      handles.add(h);
      loop.execute(() -> h.start(loop, registration));
    }
  }

  /** Called on a handle's loop when its fd is done; the session ends with the last one. */
  private void handleEnded(Throwable error) {
    if (error != null) {
      failure = error;
      // A fatal error on one fd ends them all: close the others on their own loops.
      for (DevFuseHandle h : handles) {
        if (!h.isEnded()) {
          h.closeFromAnyThread();
        }
      }
    }
    if (liveHandles.decrementAndGet() == 0) {
      ended(failure);
    }
  }

  /** The session has ended (unmounted, aborted, or failed). */
  private void ended(Throwable error) {
    ended = true;
    LIVE.remove(this);
    KernelNotifier n = notifier;
    if (n != null) {
      n.sessionEnded();
    }
    // Aborted connections leave the mount point behind (ENOTCONN): never leave it stuck.
    detachQuietly();
    Runnable done = () -> {
      if (error == null) {
        disposed.tryEmitEmpty();
      } else {
        log.error("FUSE session on {} ended with an error", mountPoint, error);
        disposed.tryEmitError(new FuseException("the FUSE session on " + mountPoint
            + " failed: " + error, Errno.from(error), error));
      }
    };
    if (ownsGroup) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).addListener(f -> done.run());
    } else {
      done.run();
    }
  }

  private void shutdownGroup() {
    if (ownsGroup) {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
  }

  /**
   * Lazily unmounts a mount this session made, after a failure or at JVM exit. A handed-over fd's
   * mount is left alone: another holder of the connection (a supervisor) may serve it next.
   */
  private void detachQuietly() {
    if (!ownsMount) {
      return;
    }
    try {
      KernelMount.unmount(mountPoint, method, true);
    } catch (RuntimeException e) {
      log.debug("lazy unmount of {}", mountPoint, e); // not mounted any more: what we wanted
    }
  }

  private static void detachAll() {
    for (MountedSession s : LIVE) {
      s.detachQuietly();
    }
  }

  @Override
  public Path mountPoint() {
    return mountPoint;
  }

  @Override
  public FuseInit init() {
    return dispatcher.init();
  }

  @Override
  public FuseNotifier notifier() {
    return notifier;
  }

  @Override
  public int openBacking(int fd) {
    try {
      return Native.backingOpen(handles.get(0).fd().intValue(), fd);
    } catch (NativeError e) {
      throw e.errno().exception();
    }
  }

  @Override
  public void closeBacking(int backingId) {
    try {
      Native.backingClose(handles.get(0).fd().intValue(), backingId);
    } catch (NativeError e) {
      throw e.errno().exception();
    }
  }

  @Override
  public int threads() {
    return handles.size();
  }

  @Override
  public Mono<Void> unmount() {
    return umount(false).then(onDispose());
  }

  @Override
  public Mono<Void> unmountLazy() {
    return umount(true);
  }

  private Mono<Void> umount(boolean lazy) {
    return Mono.<Void>fromRunnable(() -> {
      if (!ended) {
        KernelMount.unmount(mountPoint, method, lazy);
      }
    }).subscribeOn(Schedulers.boundedElastic());
  }

  @Override
  public Mono<Void> onDispose() {
    return disposed.asMono();
  }

  @Override
  public boolean isDisposed() {
    return ended;
  }

  @Override
  public String toString() {
    return "FuseMount[" + mountPoint + "]";
  }
}
