package io.reactorfuse;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.reactorfuse.internal.dispatch.Dispatcher;
import io.reactorfuse.internal.dispatch.InitOptions;
import io.reactorfuse.internal.sys.Native;
import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.transport.DevFuseHandle;
import io.reactorfuse.ops.FuseInit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * One mount: the /dev/fuse fd on its event loop, the dispatcher, and the mount point. Created by
 * {@link FuseServer#mount()}.
 */
final class MountedSession implements FuseMount {
  private static final Logger log = LoggerFactory.getLogger(MountedSession.class);
  /** Mounts still up, detached by a JVM shutdown hook so that none is left dangling. */
  private static final Set<MountedSession> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(MountedSession::detachAll, "reactor-fuse-exit"));
  }

  private final Path mountPoint;
  private final MultiThreadIoEventLoopGroup group;
  private final Dispatcher dispatcher;
  private final Sinks.Empty<Void> disposed = Sinks.empty();
  private volatile DevFuseHandle handle;
  private volatile boolean mounted;
  private volatile boolean ended;

  private MountedSession(Path mountPoint, MultiThreadIoEventLoopGroup group, Dispatcher dispatcher) {
    this.mountPoint = mountPoint;
    this.group = group;
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
    checkMountPoint(c.mountPoint);
    Fuse.ensureAvailability();
    if (Native.geteuid() != 0) {
      throw new FuseException("mounting with mount(2) needs root (CAP_SYS_ADMIN) and this process "
          + "runs as uid " + Native.geteuid() + ": run it as root");
    }
    int fd = openDevice();
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("reactor-fuse-loop", true), EpollIoHandler.newFactory());
    Dispatcher dispatcher =
        new Dispatcher(c.ops, options, PooledByteBufAllocator.DEFAULT, c.debug);
    MountedSession session = new MountedSession(c.mountPoint, group, dispatcher);
    // mount(2) first: before it, the fd belongs to no connection and epoll reports EPOLLERR,
    // which would end the session before it began. The kernel queues INIT until we listen.
    try {
      Native.mount(c.fsName, c.mountPoint.toString(),
          c.subtype == null ? "fuse" : "fuse." + c.subtype, mountFlags(c), mountData(c, fd));
    } catch (NativeError e) {
      Native.closeQuietly(fd);
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw mountFailure(c, e);
    }
    try {
      session.register(fd, options);
    } catch (RuntimeException e) {
      session.detachQuietly(); // the kernel aborts the connection once the fd is closed
      Native.closeQuietly(fd);
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
    session.mounted = true;
    LIVE.add(session);
    return session;
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

  private static int openDevice() {
    try {
      return Native.open(Fuse.DEVICE, Native.O_RDWR | Native.O_NONBLOCK | Native.O_CLOEXEC);
    } catch (NativeError e) {
      Errno errno = e.errno();
      if (errno.equals(Errno.ENOENT) || errno.equals(Errno.ENODEV) || errno.equals(Errno.ENXIO)) {
        throw new FuseException(Fuse.DEVICE + " is missing (" + errno.name() + "): load the fuse "
            + "module (modprobe fuse)", errno, e);
      }
      if (errno.equals(Errno.EACCES) || errno.equals(Errno.EPERM)) {
        throw new FuseException("no permission to open " + Fuse.DEVICE + " (" + errno.name()
            + "): run as root or give this user access to the device", errno, e);
      }
      throw new FuseException("cannot open " + Fuse.DEVICE + ": " + e.getMessage(), errno, e);
    }
  }

  static long mountFlags(ServerConfig c) {
    long flags = 0;
    flags |= c.readOnly ? Native.MS_RDONLY : 0;
    flags |= c.noSuid ? Native.MS_NOSUID : 0;
    flags |= c.noDev ? Native.MS_NODEV : 0;
    return flags;
  }

  static String mountData(ServerConfig c, int fd) {
    StringBuilder sb = new StringBuilder();
    sb.append("fd=").append(fd).append(",rootmode=40000");
    sb.append(",user_id=").append(c.userId >= 0 ? c.userId : Native.getuid());
    sb.append(",group_id=").append(c.groupId >= 0 ? c.groupId : Native.getgid());
    if (c.defaultPermissions) {
      sb.append(",default_permissions");
    }
    if (c.allowOther) {
      sb.append(",allow_other");
    }
    if (c.maxRead > 0) {
      sb.append(",max_read=").append(c.maxRead);
    }
    return sb.toString();
  }

  private static FuseException mountFailure(ServerConfig c, NativeError e) {
    Errno errno = e.errno();
    String mp = c.mountPoint.toString();
    String data = mountData(c, -1).replace("fd=-1,", "");
    if (errno.equals(Errno.EINVAL)) {
      return new FuseException("the kernel refused to mount " + mp + " with options \"" + data
          + "\" (EINVAL): check the options (max_read, user_id, group_id) and that the mount "
          + "point is not in use", errno, e);
    }
    if (errno.equals(Errno.EPERM) || errno.equals(Errno.EACCES)) {
      return new FuseException("mount(2) of " + mp + " was not permitted (" + errno.name()
          + "): mounting needs CAP_SYS_ADMIN; run as root", errno, e);
    }
    if (errno.equals(Errno.ENODEV)) {
      return new FuseException("the kernel knows no fuse filesystem type (ENODEV): load the "
          + "module with modprobe fuse", errno, e);
    }
    if (errno.equals(Errno.EBUSY)) {
      return new FuseException("mount point " + mp + " is busy (EBUSY): unmount what is mounted "
          + "there first", errno, e);
    }
    return new FuseException("mounting " + mp + " failed: " + e.getMessage(), errno, e);
  }

  private void register(int fd, InitOptions options) {
    IoEventLoop loop = group.next();
    DevFuseHandle h = new DevFuseHandle(fd, dispatcher, PooledByteBufAllocator.DEFAULT,
        options.readBufferSize(), this::ended);
    IoRegistration registration;
    try {
      registration = loop.register(h).syncUninterruptibly().getNow();
    } catch (Exception e) {
      throw new FuseException("cannot put /dev/fuse on the epoll loop: " + e, null, e);
    }
    loop.execute(() -> h.start(registration));
    handle = h;
  }

  /** Called on the loop when the session ends (unmounted, aborted, or failed). */
  private void ended(Throwable error) {
    ended = true;
    LIVE.remove(this);
    if (mounted) {
      // Aborted connections leave the mount point behind (ENOTCONN): never leave it stuck.
      detachQuietly();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).addListener(f -> {
      if (error == null) {
        disposed.tryEmitEmpty();
      } else {
        log.error("FUSE session on {} ended with an error", mountPoint, error);
        disposed.tryEmitError(new FuseException("the FUSE session on " + mountPoint
            + " failed: " + error, Errno.from(error), error));
      }
    });
  }

  private void detachQuietly() {
    try {
      Native.umount2(mountPoint.toString(), Native.MNT_DETACH);
    } catch (NativeError e) {
      // EINVAL: not mounted any more, which is what we wanted.
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
  public Mono<Void> unmount() {
    return umount(0);
  }

  @Override
  public Mono<Void> unmountLazy() {
    return umount(Native.MNT_DETACH);
  }

  private Mono<Void> umount(int flags) {
    Mono<Void> call = Mono.<Void>fromCallable(() -> {
      if (isDisposed()) {
        return null;
      }
      try {
        Native.umount2(mountPoint.toString(), flags);
      } catch (NativeError e) {
        if (e.errno().equals(Errno.EBUSY)) {
          throw new FuseException("cannot unmount " + mountPoint + ": files on it are still in "
              + "use (EBUSY); close them, or unmount lazily", Errno.EBUSY, e);
        }
        if (!e.errno().equals(Errno.EINVAL)) { // EINVAL: already unmounted
          throw new FuseException("cannot unmount " + mountPoint + ": " + e.getMessage(),
              e.errno(), e);
        }
      }
      return null;
    }).subscribeOn(Schedulers.boundedElastic());
    return flags == 0 ? call.then(onDispose()) : call;
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
