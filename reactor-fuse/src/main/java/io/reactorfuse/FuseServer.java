package io.reactorfuse;

import io.reactorfuse.internal.dispatch.InitOptions;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import reactor.core.publisher.Mono;

/**
 * Mounts a {@link FuseOps} filesystem. Immutable: every setter returns a new builder, and checks
 * its value at once.
 *
 * <pre>{@code
 * FuseMount mount = FuseServer.create()
 *     .mountPoint(Path.of("/tmp/m"))
 *     .fsName("memfs")
 *     .handle(new MemFs())
 *     .mountNow();
 * mount.onDispose().block(); // until someone runs umount /tmp/m
 * }</pre>
 */
public final class FuseServer {
  /** The kernel's limit for one WRITE with FUSE_MAX_PAGES (256 pages). */
  public static final int MAX_WRITE_LIMIT = 1 << 20;

  private final ServerConfig config;

  private FuseServer(ServerConfig config) {
    this.config = config;
  }

  /** A builder with the defaults: 1 MiB writes, async reads, parallel dirops, 30 s INIT wait. */
  public static FuseServer create() {
    return new FuseServer(new ServerConfig());
  }

  private FuseServer with(Consumer<ServerConfig> change) {
    ServerConfig copy = config.copy();
    change.accept(copy);
    return new FuseServer(copy);
  }

  private static IllegalArgumentException invalid(String format, Object... args) {
    return new IllegalArgumentException(String.format(format, args));
  }

  /** The directory to mount on; it must exist. */
  public FuseServer mountPoint(Path mountPoint) {
    Objects.requireNonNull(mountPoint, "mountPoint");
    return with(c -> c.mountPoint = mountPoint.toAbsolutePath().normalize());
  }

  /** The filesystem to serve. */
  public FuseServer handle(FuseOps ops) {
    Objects.requireNonNull(ops, "ops");
    return with(c -> c.ops = ops);
  }

  /** The mount's source, shown by mount(8) and df (default "reactor-fuse"). */
  public FuseServer fsName(String fsName) {
    checkOptionValue("fsName", fsName);
    return with(c -> c.fsName = fsName);
  }

  /** The type suffix: the mount shows as {@code fuse.<subtype>} (default: plain "fuse"). */
  public FuseServer subtype(String subtype) {
    checkOptionValue("subtype", subtype);
    return with(c -> c.subtype = subtype);
  }

  private static void checkOptionValue(String name, String value) {
    Objects.requireNonNull(value, name);
    if (value.isEmpty() || value.chars().anyMatch(ch -> ch == ',' || ch == '=' || ch <= ' ')) {
      throw invalid("%s must be non-empty without commas, '=' or white space, got \"%s\"", name,
          value);
    }
  }

  /** Let users other than the mounting one use the mount (mount option allow_other). */
  public FuseServer allowOther(boolean allowOther) {
    return with(c -> c.allowOther = allowOther);
  }

  /** Let the kernel check permissions from the mode bits (mount option default_permissions). */
  public FuseServer defaultPermissions(boolean defaultPermissions) {
    return with(c -> c.defaultPermissions = defaultPermissions);
  }

  /** Mount read-only. */
  public FuseServer readOnly(boolean readOnly) {
    return with(c -> c.readOnly = readOnly);
  }

  /** Ignore set-user-id and set-group-id bits (MS_NOSUID). */
  public FuseServer noSuid(boolean noSuid) {
    return with(c -> c.noSuid = noSuid);
  }

  /** Do not interpret device files (MS_NODEV). */
  public FuseServer noDev(boolean noDev) {
    return with(c -> c.noDev = noDev);
  }

  /** The largest READ the kernel sends, in bytes (mount option max_read; 0: the kernel's). */
  public FuseServer maxRead(int maxRead) {
    if (maxRead < 0) {
      throw invalid("maxRead must be 0 (the kernel's default) or positive, got %d", maxRead);
    }
    return with(c -> c.maxRead = maxRead);
  }

  /** The mount's owner uid (mount option user_id; default: this process's uid). */
  public FuseServer userId(int uid) {
    if (uid < 0) {
      throw invalid("userId must be >= 0, got %d", uid);
    }
    return with(c -> c.userId = uid);
  }

  /** The mount's owner gid (mount option group_id; default: this process's gid). */
  public FuseServer groupId(int gid) {
    if (gid < 0) {
      throw invalid("groupId must be >= 0, got %d", gid);
    }
    return with(c -> c.groupId = gid);
  }

  /** The largest WRITE, 4 KiB to 1 MiB (default 1 MiB). Each read buffer is this plus 4 KiB. */
  public FuseServer maxWrite(int bytes) {
    if (bytes < 4096 || bytes > MAX_WRITE_LIMIT) {
      throw invalid("maxWrite must be between 4096 and %d bytes (the kernel's limit), got %d",
          MAX_WRITE_LIMIT, bytes);
    }
    return with(c -> c.maxWrite = bytes);
  }

  /** Readahead limit in bytes (default: whatever the kernel offers). */
  public FuseServer maxReadahead(int bytes) {
    if (bytes < 0) {
      throw invalid("maxReadahead must be >= 0, got %d", bytes);
    }
    return with(c -> c.maxReadahead = bytes);
  }

  /** How many background requests (readahead, async writes) the kernel may queue (default 64). */
  public FuseServer maxBackground(int requests) {
    if (requests < 1 || requests > 65535) {
      throw invalid("maxBackground must be between 1 and 65535, got %d", requests);
    }
    return with(c -> c.maxBackground = requests);
  }

  /** The background queue length at which the kernel reports congestion (default 48). */
  public FuseServer congestionThreshold(int requests) {
    if (requests < 1 || requests > 65535) {
      throw invalid("congestionThreshold must be between 1 and 65535, got %d", requests);
    }
    return with(c -> c.congestionThreshold = requests);
  }

  /** Timestamp granularity in nanoseconds: a power of ten from 1 to 1,000,000,000. */
  public FuseServer timeGranularity(Duration granularity) {
    long ns = granularity.toNanos();
    long p = 1;
    while (p < ns) {
      p *= 10;
    }
    if (ns < 1 || ns > 1_000_000_000L || p != ns) {
      throw invalid("timeGranularity must be a power of ten from 1 ns to 1 s, got %s", granularity);
    }
    return with(c -> c.timeGranularity = (int) ns);
  }

  /** Let the kernel issue several READs of one file at once (default on). */
  public FuseServer asyncRead(boolean on) {
    return with(c -> c.asyncRead = on);
  }

  /** Allow concurrent lookups and readdirs in one directory (default on). */
  public FuseServer parallelDirops(boolean on) {
    return with(c -> c.parallelDirops = on);
  }

  /**
   * When to use READDIRPLUS. Default: {@link ReaddirplusMode#AUTO} if the ops override
   * {@code readdirplus}, else {@link ReaddirplusMode#NEVER}.
   */
  public FuseServer readdirplus(ReaddirplusMode mode) {
    Objects.requireNonNull(mode, "mode");
    return with(c -> c.readdirplus = mode);
  }

  /** Let the kernel cache writes and send them later (not with kernel passthrough). */
  public FuseServer writebackCache(boolean on) {
    return with(c -> c.writebackCache = on);
  }

  /** Lookups of "." and ".." may be sent (needed for NFS export). */
  public FuseServer exportSupport(boolean on) {
    return with(c -> c.exportSupport = on);
  }

  /** The kernel enforces POSIX ACLs stored in xattrs (implies default_permissions semantics). */
  public FuseServer posixAcl(boolean on) {
    return with(c -> c.posixAcl = on);
  }

  /** O_TRUNC is passed to OPEN instead of a separate SETATTR. */
  public FuseServer atomicOTrunc(boolean on) {
    return with(c -> c.atomicOTrunc = on);
  }

  /** The filesystem clears suid/sgid on write, chown and truncate (killpriv v2). */
  public FuseServer handleKillprivV2(boolean on) {
    return with(c -> c.handleKillprivV2 = on);
  }

  /** The kernel caches symlink targets in the page cache. */
  public FuseServer cacheSymlinks(boolean on) {
    return with(c -> c.cacheSymlinks = on);
  }

  /** An ENOSYS answer to OPEN means "opens always succeed": the kernel stops sending OPEN. */
  public FuseServer noOpenSupport(boolean on) {
    return with(c -> c.noOpenSupport = on);
  }

  /** An ENOSYS answer to OPENDIR means "always succeeds": the kernel stops sending OPENDIR. */
  public FuseServer noOpendirSupport(boolean on) {
    return with(c -> c.noOpendirSupport = on);
  }

  /**
   * The kernel invalidates cached data only when told (by a notification), not when it sees the
   * mtime or size change.
   */
  public FuseServer explicitInvalData(boolean on) {
    return with(c -> c.explicitInvalData = on);
  }

  /**
   * Kernel passthrough I/O (protocol 7.40): files opened with
   * {@link io.reactorfuse.ops.OpenReply#passthrough} are read and written by the kernel from a
   * backing file ({@link FuseSession#openBacking}). Needs root (CAP_SYS_ADMIN); excludes the
   * writeback cache. Granted only where the kernel offers it: check
   * {@code mount.init().has(FuseInit.PASSTHROUGH)}.
   */
  public FuseServer passthrough(boolean on) {
    return with(c -> c.passthrough = on);
  }

  /** Send POSIX locks (fcntl) to the filesystem (GETLK/SETLK/SETLKW) instead of local locking. */
  public FuseServer posixLocks(boolean on) {
    return with(c -> c.posixLocks = on);
  }

  /** Send flock(2) locks to the filesystem instead of local locking. */
  public FuseServer flockLocks(boolean on) {
    return with(c -> c.flockLocks = on);
  }

  /** Log one line per request and per reply (opcode, unique, node, result, microseconds). */
  public FuseServer debug(boolean on) {
    return with(c -> c.debug = on);
  }

  /**
   * How many /dev/fuse fds serve the mount: the session fd and {@code n - 1} clones
   * (FUSE_DEV_IOC_CLONE), each read by its own event loop; a request is answered on the fd that
   * read it. Default 1. On this project's 2-core machines two clients of a trivial filesystem
   * got no more from 2 fds than from 1 (perf/stat-scale.sh): more fds pay off when handlers do
   * real work on the loop or when there are more cores than one loop can keep busy.
   */
  public FuseServer threads(int n) {
    if (n < 1 || n > 256) {
      throw invalid("threads must be between 1 and 256, got %d", n);
    }
    return with(c -> c.threads = n);
  }

  /**
   * The epoll event loops to serve on (default: a group of {@link #threads} daemon loops made for
   * this mount and shut down with it). A group passed here is not shut down by the mount. Its
   * loops must be Netty epoll loops ({@code new MultiThreadIoEventLoopGroup(n,
   * EpollIoHandler.newFactory())}).
   */
  public FuseServer eventLoopGroup(io.netty.channel.IoEventLoopGroup group) {
    Objects.requireNonNull(group, "group");
    return with(c -> c.eventLoopGroup = group);
  }

  /**
   * Calls every handler method on this scheduler instead of the event loop. For filesystems
   * whose handlers block (JDBC, plain file I/O, {@code .block()}): a handler that blocks on the
   * loop stalls every request of that fd. Non-blocking handlers are faster without it: the hop to
   * another thread costs more than a small handler's work (see perf/README.md).
   */
  public FuseServer handlerScheduler(reactor.core.scheduler.Scheduler scheduler) {
    Objects.requireNonNull(scheduler, "scheduler");
    return with(c -> c.handlerScheduler = scheduler);
  }

  /** How to mount: {@link MountMethod#AUTO} (default) picks mount(2) as root, else fusermount3. */
  public FuseServer mountMethod(MountMethod method) {
    Objects.requireNonNull(method, "method");
    return with(c -> c.mountMethod = method);
  }

  /**
   * Serves an fd that is already open on /dev/fuse and already mounted on {@link #mountPoint}
   * (handed over by a supervisor, or inherited): no mount is made. If the kernel's INIT has not
   * been answered yet it is answered as usual; if an earlier server answered it, pass that
   * result with {@link #resume(FuseInit)}. The fd should be non-blocking; this mount closes it.
   * With {@link #threads threads(n)} above 1 the mount clones it.
   */
  public FuseServer fromFd(int fd) {
    return fromFds(fd);
  }

  /**
   * Like {@link #fromFd}, for a session fd and clones of it ({@code FUSE_DEV_IOC_CLONE}) made by
   * whoever mounted: one event loop serves each, none is cloned here ({@link #threads} is
   * ignored). A supervisor that keeps copies of all of them can restart a crashed server with
   * the requests it had in flight ({@link io.reactorfuse.spi.RequestJournal}).
   */
  public FuseServer fromFds(int... fds) {
    if (fds.length == 0) {
      throw invalid("fromFds needs at least one file descriptor");
    }
    for (int fd : fds) {
      if (fd < 0) {
        throw invalid("fromFd needs open file descriptors (>= 0), got %d", fd);
      }
    }
    int[] copy = fds.clone();
    return with(c -> c.existingFds = copy);
  }

  /**
   * With {@link #fromFds}, when taking over from a server that died: before reading any request,
   * ask the kernel to send again every request the dead server had read and not answered
   * (FUSE_NOTIFY_RESEND, Linux 6.9+; they come back with bit 63 of their unique set). It must
   * happen before this server reads anything: the kernel resends whatever is unanswered on the
   * connection at that moment, so a request this server were already serving would come twice.
   * On an older kernel the mount fails with a message saying so.
   */
  public FuseServer resendOnStart(boolean on) {
    return with(c -> c.resendOnStart = on);
  }

  /**
   * Saves what a successor needs to take over after this server dies: the INIT result, and the
   * replies of requests that must not run twice (see {@link io.reactorfuse.spi.RequestJournal};
   * the recovery module provides one on a file that outlives the process). A request the kernel
   * sends again after a restart (bit 63 of its unique set) is answered from it.
   */
  public FuseServer journal(io.reactorfuse.spi.RequestJournal journal) {
    Objects.requireNonNull(journal, "journal");
    return with(c -> c.journal = journal);
  }

  /**
   * With {@link #fromFd}: the INIT result an earlier server of this session negotiated
   * ({@link FuseMount#init()}); the kernel sends INIT only once per session.
   */
  public FuseServer resume(FuseInit negotiated) {
    Objects.requireNonNull(negotiated, "negotiated");
    return with(c -> c.resumeInit = negotiated);
  }

  /** How long {@link #mount()} waits for the kernel's INIT (default 30 s). */
  public FuseServer initTimeout(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw invalid("initTimeout must be positive, got %s", timeout);
    }
    return with(c -> c.initTimeout = timeout);
  }

  /**
   * Mounts: opens /dev/fuse, puts it on an event loop, calls mount(2), and completes once the
   * kernel's INIT is answered. Errors are {@link FuseException}s naming the cause and the fix.
   */
  public Mono<FuseMount> mount() {
    ServerConfig c = config.copy();
    return Mono.defer(() -> {
      if (c.mountPoint == null) {
        return Mono.error(new IllegalStateException(
            "no mount point: call mountPoint(Path) before mount()"));
      }
      if (c.ops == null) {
        return Mono.error(new IllegalStateException(
            "no filesystem: call handle(FuseOps) before mount()"));
      }
      if (c.resendOnStart && c.existingFds == null) {
        return Mono.error(new IllegalStateException(
            "resendOnStart(true) only makes sense with fromFds(...): a new mount has nothing to "
                + "resend"));
      }
      if (c.resumeInit != null && c.existingFds == null) {
        return Mono.error(new IllegalStateException(
            "resume(FuseInit) only makes sense with fromFd(fd): a new mount gets a new INIT"));
      }
      return MountedSession.mount(c, initOptions(c));
    });
  }

  /**
   * Mounts without serving, for a supervisor that hands the fds to other processes
   * ({@link #fromFds} there): opens /dev/fuse, mounts with this builder's options, and opens
   * {@link #threads} - 1 clones. Nothing reads the fds here, so the kernel's INIT stays pending
   * (and callers of the mount wait) until a server answers it. Needs only the mount point and
   * options; {@link #handle} is not used.
   */
  public io.reactorfuse.spi.MountedDevice mountDevice() {
    ServerConfig c = config.copy();
    if (c.mountPoint == null) {
      throw new IllegalStateException("no mount point: call mountPoint(Path) before mountDevice()");
    }
    return MountedSession.mountDevice(c);
  }

  /** {@link #mount()}, blocking until mounted (at most the INIT timeout plus a little). */
  public FuseMount mountNow() {
    return mount().block(config.initTimeout.plusSeconds(10));
  }

  static InitOptions initOptions(ServerConfig c) {
    long f = 0;
    f |= c.asyncRead ? FuseInit.ASYNC_READ : 0;
    f |= c.parallelDirops ? FuseInit.PARALLEL_DIROPS : 0;
    f |= c.writebackCache ? FuseInit.WRITEBACK_CACHE : 0;
    f |= c.exportSupport ? FuseInit.EXPORT_SUPPORT : 0;
    f |= c.posixAcl ? FuseInit.POSIX_ACL : 0;
    f |= c.atomicOTrunc ? FuseInit.ATOMIC_O_TRUNC : 0;
    f |= c.handleKillprivV2 ? FuseInit.HANDLE_KILLPRIV_V2 : 0;
    f |= c.cacheSymlinks ? FuseInit.CACHE_SYMLINKS : 0;
    f |= c.noOpenSupport ? FuseInit.NO_OPEN_SUPPORT : 0;
    f |= c.noOpendirSupport ? FuseInit.NO_OPENDIR_SUPPORT : 0;
    f |= c.explicitInvalData ? FuseInit.EXPLICIT_INVAL_DATA : FuseInit.AUTO_INVAL_DATA;
    f |= c.posixLocks ? FuseInit.POSIX_LOCKS : 0;
    f |= c.flockLocks ? FuseInit.FLOCK_LOCKS : 0;
    f |= c.passthrough ? FuseInit.PASSTHROUGH : 0;
    f |= FuseInit.HAS_IOCTL_DIR | FuseInit.ABORT_ERROR;
    ReaddirplusMode rdp = c.readdirplus != null ? c.readdirplus
        : overrides(unwrapped(c.ops), "readdirplus") ? ReaddirplusMode.AUTO
        : ReaddirplusMode.NEVER;
    if (rdp != ReaddirplusMode.NEVER) {
      f |= FuseInit.DO_READDIRPLUS;
      f |= rdp == ReaddirplusMode.AUTO ? FuseInit.READDIRPLUS_AUTO : 0;
    }
    return new InitOptions(c.maxWrite, c.maxReadahead, c.maxBackground,
        Math.min(c.congestionThreshold, c.maxBackground), c.timeGranularity, f);
  }

  /**
   * The filesystem behind a {@link LookupCache} wrapper, which overrides every method only to
   * delegate: its defaults (READDIRPLUS or not) must be the wrapped filesystem's.
   */
  private static FuseOps unwrapped(FuseOps ops) {
    return ops instanceof CachingOps ? ((CachingOps) ops).backend() : ops;
  }

  /** Whether the ops class implements {@code method} itself rather than using the default. */
  private static boolean overrides(FuseOps ops, String method) {
    try {
      return ops.getClass().getMethod(method, io.reactorfuse.ops.FuseContext.class,
          Request.Readdir.class).getDeclaringClass() != FuseOps.class;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }
}
