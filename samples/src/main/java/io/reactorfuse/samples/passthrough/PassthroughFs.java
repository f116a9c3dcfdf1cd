package io.reactorfuse.samples.passthrough;

import static io.reactorfuse.samples.passthrough.PassthroughSys.AT_EMPTY_PATH;
import static io.reactorfuse.samples.passthrough.PassthroughSys.AT_FDCWD;
import static io.reactorfuse.samples.passthrough.PassthroughSys.AT_REMOVEDIR;
import static io.reactorfuse.samples.passthrough.PassthroughSys.AT_SYMLINK_NOFOLLOW;
import static io.reactorfuse.samples.passthrough.PassthroughSys.C;
import static io.reactorfuse.samples.passthrough.PassthroughSys.CLONE_FS;
import static io.reactorfuse.samples.passthrough.PassthroughSys.EMPTY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_CLOEXEC;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_CREAT;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_DIRECTORY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_EXCL;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_NOCTTY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_NOFOLLOW;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_PATH;
import static io.reactorfuse.samples.passthrough.PassthroughSys.SEEK_SET;
import static io.reactorfuse.samples.passthrough.PassthroughSys.STATFS_SIZE;
import static io.reactorfuse.samples.passthrough.PassthroughSys.UTIME_NOW;
import static io.reactorfuse.samples.passthrough.PassthroughSys.UTIME_OMIT;
import static io.reactorfuse.samples.passthrough.PassthroughSys.XATTR_MAX;
import static io.reactorfuse.samples.passthrough.PassthroughSys.check;
import static io.reactorfuse.samples.passthrough.PassthroughSys.closeQuietly;
import static io.reactorfuse.samples.passthrough.PassthroughSys.errno;
import static io.reactorfuse.samples.passthrough.PassthroughSys.fail;
import static io.reactorfuse.samples.passthrough.PassthroughSys.fstat;
import static io.reactorfuse.samples.passthrough.PassthroughSys.nameBytes;
import static io.reactorfuse.samples.passthrough.PassthroughSys.nameString;
import static io.reactorfuse.samples.passthrough.PassthroughSys.procPath;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.ErrnoException;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseSession;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.ops.StatfsReply;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Mirrors a SOURCE directory, like libfuse's {@code passthrough_hp}: every operation is the same
 * system call on the real file, made relative to file descriptors, never through a path string
 * that could be raced or escape SOURCE.
 *
 * <h2>Trade-offs</h2>
 * <ul>
 *   <li><b>One O_PATH fd per known node.</b> A node is the real inode ({@code st_dev},
 *       {@code st_ino}); while the kernel holds a lookup on it we hold an O_PATH fd, so renames
 *       in SOURCE never confuse us, unlinked files stay reachable and the inode number cannot be
 *       reused. The price is one fd per node the kernel remembers: with the hard limit of 20,000
 *       open files here, trees the kernel keeps more of than that in its cache fail with EMFILE
 *       (the kernel forgets nodes under memory pressure, not fd pressure).</li>
 *   <li><b>Blocking system calls on the event loop.</b> Handlers do their syscalls inline, the
 *       way libfuse's worker threads do: a slow disk stalls the other requests of that
 *       /dev/fuse fd. Use {@code --threads N} for more loops, or the framework's
 *       {@code handlerScheduler} if measurements say otherwise.</li>
 *   <li><b>Created as the caller.</b> create, mknod, mkdir and symlink run with the thread's
 *       fsuid/fsgid set to the caller's (Linux keeps these per thread), so new files belong to
 *       the caller and the backing filesystem applies setgid directories itself. Supplementary
 *       groups are NOT switched: a caller allowed only through a supplementary group gets
 *       EACCES from the backing filesystem. Each handler thread gets its own umask of 0
 *       ({@code unshare(CLONE_FS)}): the kernel has already applied the caller's umask.</li>
 *   <li><b>Permissions are the kernel's job</b> (mount with {@code default_permissions}):
 *       the daemon is root and would otherwise let everything through. ACCESS is not
 *       implemented for that reason.</li>
 *   <li><b>Caching</b> ({@link CacheMode}): entry and attribute timeouts, and whether the
 *       page cache survives an open. Changes made in SOURCE behind the mount's back show up
 *       only after the timeouts.</li>
 *   <li>Names and link targets go to the kernel as the bytes it sent
 *       ({@link PassthroughSys#nameBytes}, lossless for names that are not UTF-8).</li>
 *   <li><b>Kernel passthrough</b> (optional, {@code kernelPassthrough}, needs
 *       {@code FuseServer.passthrough(true)}, root and Linux 6.9+): regular files are
 *       registered with the kernel at OPEN/CREATE ({@link FuseSession#openBacking}) and the
 *       kernel then reads, writes, splices and maps them itself: no READ or WRITE request, the
 *       speed of the native file. One backing id per inode, shared by all its opens (the kernel
 *       refuses two different backing files, or a cached and a passthrough open, on one inode)
 *       and closed at the last RELEASE, never right after the OPEN reply (that races with the
 *       opener). READ and WRITE are still served ({@code readahead(2)} sends READs). Passthrough
 *       I/O reads SOURCE's own page cache, so {@link CacheMode#NEVER}'s direct I/O is dropped
 *       for such opens: they see SOURCE's current data anyway. When it cannot be had (the
 *       kernel did not offer it, the writeback cache is on, the daemon lacks CAP_SYS_ADMIN)
 *       one warning is logged and the session uses ordinary I/O.</li>
 * </ul>
 *
 * <h2>State</h2>
 * {@code nodes} (by node id, read without locking) and {@code byKey} (by dev/ino) are changed
 * together under {@code table}'s lock; lookup counts are only touched under it. Open files and
 * directories are real fds, returned as {@code fh}; directory handles keep their read position
 * in {@code dirs}.
 */
public final class PassthroughFs implements FuseOps, AutoCloseable {

  /** How long the kernel may cache names, attributes and file data (like passthrough_ll). */
  public enum CacheMode {
    /** Timeouts 0 and direct I/O: every access reaches SOURCE. */
    NEVER(Duration.ZERO, OpenReply.FOPEN_DIRECT_IO),
    /** Timeouts 1 s; the page cache is dropped when a file is opened. */
    AUTO(Duration.ofSeconds(1), 0),
    /** Timeouts 1 day; the page cache survives opens (SOURCE is not changed behind us). */
    ALWAYS(Duration.ofDays(1), OpenReply.FOPEN_KEEP_CACHE);

    final Duration timeout;
    final int openFlags;

    CacheMode(Duration timeout, int openFlags) {
      this.timeout = timeout;
      this.openFlags = openFlags;
    }
  }

  // ---- state ----------------------------------------------------------------------------------

  /** A real inode the kernel knows by {@code id}. */
  private static final class Inode {
    final long id;
    final long dev;
    final long ino;
    final int fd; // O_PATH
    final boolean symlink;
    long lookups; // guarded by table
    int backingId; // kernel passthrough id shared by the open files, 0 if none; guarded by this
    int passthroughOpens; // guarded by this

    Inode(long id, long dev, long ino, int fd, boolean symlink) {
      this.id = id;
      this.dev = dev;
      this.ino = ino;
      this.fd = fd;
      this.symlink = symlink;
    }
  }

  private record DevIno(long dev, long ino) {}

  /** An open directory: its fd and where the next getdents64 starts. */
  private static final class DirHandle {
    final int fd;
    long position; // guarded by this

    DirHandle(int fd) {
      this.fd = fd;
    }
  }

  private final Object table = new Object();
  private final Map<Long, Inode> nodes = new ConcurrentHashMap<>();
  private final Map<DevIno, Inode> byKey = new HashMap<>(); // guarded by table
  private long nextId = Request.ROOT_ID + 1; // guarded by table
  private final Map<Long, DirHandle> dirs = new ConcurrentHashMap<>();
  /** Open files answered with a backing id, by fh: their inode, to drop the id at RELEASE. */
  private final Map<Long, Inode> passthroughFiles = new ConcurrentHashMap<>();
  private final ThreadLocal<Boolean> threadReady = ThreadLocal.withInitial(() -> false);

  private final Inode root;
  private final CacheMode cache;
  private final int daemonUid = C.geteuid();
  private final int daemonGid = C.getegid();

  private static final Logger log = LoggerFactory.getLogger(PassthroughFs.class);
  private final boolean kernelPassthrough;
  private volatile FuseSession session;
  /** Whether new inodes get backing ids: set at INIT, cleared for good by the first failure. */
  private volatile boolean passthroughActive;
  /** Why kernel passthrough is not used, or null; set once. */
  private volatile String passthroughProblem;
  private final AtomicBoolean passthroughWarned = new AtomicBoolean();

  /** Serves {@code source}; opens it at once (fails if it is not a readable directory). */
  public PassthroughFs(Path source, CacheMode cache) {
    this(source, cache, false);
  }

  /**
   * Serves {@code source}, with kernel passthrough I/O for regular files if
   * {@code kernelPassthrough} and the session negotiated it (mount with
   * {@code FuseServer.passthrough(true)}).
   */
  public PassthroughFs(Path source, CacheMode cache, boolean kernelPassthrough) {
    this.cache = cache;
    this.kernelPassthrough = kernelPassthrough;
    int fd = check(C.openat(AT_FDCWD, nameBytes(source.toAbsolutePath().toString()),
        O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    byte[] st = fstat(fd);
    root = new Inode(Request.ROOT_ID, Stat.dev(st), Stat.ino(st), fd, false);
    root.lookups = 1;
    nodes.put(root.id, root);
    byKey.put(new DevIno(root.dev, root.ino), root);
  }

  /** Closes every fd still held (nodes the kernel never forgot, open directories). */
  @Override
  public void close() {
    synchronized (table) {
      for (Inode i : nodes.values()) {
        closeQuietly(i.fd);
      }
      nodes.clear();
      byKey.clear();
    }
    for (DirHandle d : dirs.values()) {
      closeQuietly(d.fd);
    }
    dirs.clear();
  }

  /** How many nodes the kernel holds lookups on, the root included (one O_PATH fd each). */
  public int nodeCount() {
    return nodes.size();
  }

  /** Whether new opens get kernel passthrough (asked for, negotiated, and nothing failed yet). */
  public boolean passthroughActive() {
    return passthroughActive;
  }

  /** Why kernel passthrough was asked for but is not used, or null. */
  public String passthroughProblem() {
    return passthroughProblem;
  }

  /** How many open files are served by kernel passthrough (each holds its inode's backing id). */
  public int passthroughOpenCount() {
    return passthroughFiles.size();
  }

  /** Turns passthrough off for the rest of the session, with one warning saying why. */
  private void disablePassthrough(String why) {
    passthroughActive = false;
    if (passthroughWarned.compareAndSet(false, true)) {
      passthroughProblem = why;
      log.warn("kernel passthrough unavailable, using ordinary FUSE reads and writes: {}", why);
    }
  }

  /**
   * The reply to OPEN or CREATE of {@code node} (a regular file if {@code regular}) opened as
   * {@code fd}: with the inode's backing id when passthrough is on, registering it on the
   * inode's first open. An inode that already has one keeps using it even after passthrough
   * was turned off (the kernel refuses a cached open next to a passthrough one).
   */
  private OpenReply openReply(Inode node, int fd, boolean regular) {
    if (!kernelPassthrough || !regular) {
      return OpenReply.of(fd, cache.openFlags);
    }
    int id;
    synchronized (node) {
      if (node.backingId == 0) {
        if (!passthroughActive) {
          return OpenReply.of(fd, cache.openFlags);
        }
        try {
          node.backingId = session.openBacking(fd);
        } catch (ErrnoException e) {
          disablePassthrough(e.errno().equals(Errno.EPERM)
              ? "registering a backing file failed with EPERM: the daemon needs CAP_SYS_ADMIN "
                  + "(run it as root)"
              : e.errno().equals(Errno.ELOOP)
              ? "registering a backing file failed with ELOOP: SOURCE is on a stacked "
                  + "filesystem (overlayfs, FUSE passthrough) too deep to stack on"
              : "registering a backing file failed: " + e.getMessage());
          return OpenReply.of(fd, cache.openFlags);
        }
      }
      node.passthroughOpens++;
      id = node.backingId;
    }
    passthroughFiles.put((long) fd, node);
    // Direct I/O would override passthrough; keep_cache is meaningless (no page cache used).
    return OpenReply.passthrough(fd, id,
        cache.openFlags & ~(OpenReply.FOPEN_DIRECT_IO | OpenReply.FOPEN_KEEP_CACHE));
  }

  /** At RELEASE of {@code fh}: the last passthrough open of an inode closes its backing id. */
  private void releaseBacking(long fh) {
    Inode node = passthroughFiles.remove(fh);
    if (node == null) {
      return;
    }
    int toClose = 0;
    synchronized (node) {
      if (--node.passthroughOpens == 0) {
        toClose = node.backingId;
        node.backingId = 0;
      }
    }
    if (toClose != 0) {
      try {
        session.closeBacking(toClose);
      } catch (ErrnoException e) {
        log.warn("closing backing id {} failed: {}", toClose, e.getMessage());
      }
    }
  }

  private Inode inode(long nodeId) {
    Inode i = nodes.get(nodeId);
    if (i == null) {
      throw Errno.ESTALE.exception();
    }
    return i;
  }

  /**
   * Counts one lookup of the inode behind {@code fd} (an O_PATH fd we own): an inode already
   * known keeps its node and fd, and {@code fd} is closed; else {@code fd} becomes the node's.
   */
  private Inode register(int fd, byte[] st) {
    DevIno key = new DevIno(Stat.dev(st), Stat.ino(st));
    Inode found;
    synchronized (table) {
      found = byKey.get(key);
      if (found == null) {
        Inode created = new Inode(nextId++, key.dev(), key.ino(), fd,
            (Stat.mode(st) & Attr.S_IFMT) == Attr.S_IFLNK);
        created.lookups = 1;
        byKey.put(key, created);
        nodes.put(created.id, created);
        return created;
      }
      found.lookups++;
    }
    closeQuietly(fd);
    return found;
  }

  private void unref(long nodeId, long n) {
    int toClose = -1;
    synchronized (table) {
      Inode i = nodes.get(nodeId);
      if (i == null || i == root) {
        return;
      }
      i.lookups -= n;
      if (i.lookups <= 0) {
        nodes.remove(nodeId);
        byKey.remove(new DevIno(i.dev, i.ino));
        toClose = i.fd;
      }
    }
    closeQuietly(toClose);
  }

  private EntryReply entry(Inode i, byte[] st) {
    return new EntryReply(i.id, 0, Stat.attr(st), cache.timeout, cache.timeout);
  }

  /** Looks {@code name} up in {@code parent} and counts the lookup. */
  private EntryReply lookupIn(Inode parent, String name) {
    if (name.equals(".") || (name.equals("..") && parent == root)) {
      // ".." at the root stays at the root: SOURCE's parent is not part of the mount.
      byte[] st = fstat(parent.fd);
      synchronized (table) {
        parent.lookups++;
      }
      return entry(parent, st);
    }
    int fd = check(C.openat(parent.fd, nameBytes(name), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0));
    byte[] st;
    try {
      st = fstat(fd);
    } catch (ErrnoException e) {
      closeQuietly(fd);
      throw e;
    }
    return entry(register(fd, st), st);
  }

  /** Runs {@code action} with this thread's fsuid/fsgid set to the caller's. */
  private <T> T asCaller(FuseContext ctx, Supplier<T> action) {
    prepareThread();
    C.setfsgid(ctx.gid());
    C.setfsuid(ctx.uid());
    try {
      return action.get();
    } finally {
      C.setfsuid(daemonUid);
      C.setfsgid(daemonGid);
    }
  }

  /** Once per thread: a private umask of 0 (the kernel applied the caller's already). */
  private void prepareThread() {
    if (!threadReady.get()) {
      if (C.unshare(CLONE_FS) == 0) {
        C.umask(0);
      }
      threadReady.set(true);
    }
  }

  private static <T> Mono<T> run(Supplier<T> op) {
    try {
      return Mono.justOrEmpty(op.get());
    } catch (ErrnoException e) {
      return Mono.error(e);
    }
  }

  private static Mono<Void> runVoid(Runnable op) {
    try {
      op.run();
      return Mono.empty();
    } catch (ErrnoException e) {
      return Mono.error(e);
    }
  }

  // ---- handlers, in opcode order --------------------------------------------------------------

  @Override
  public Mono<Void> init(FuseSession session) {
    this.session = session;
    if (kernelPassthrough) {
      FuseInit init = session.init();
      if (init.has(FuseInit.PASSTHROUGH)) {
        passthroughActive = true;
        log.info("kernel passthrough on: the kernel reads and writes regular files itself");
      } else if (init.has(FuseInit.WRITEBACK_CACHE)) {
        disablePassthrough("the writeback cache is on, and excludes passthrough");
      } else if ((init.kernelFlags() & FuseInit.PASSTHROUGH) == 0) {
        disablePassthrough("the kernel did not offer FUSE_PASSTHROUGH (needs protocol 7.40, "
            + "Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH); it offered 7." + init.kernelMinor());
      } else {
        disablePassthrough("not negotiated: mount with FuseServer.passthrough(true)");
      }
    }
    return Mono.empty();
  }

  @Override
  public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    try {
      return Mono.just(lookupIn(inode(req.parent()), req.name()));
    } catch (ErrnoException e) {
      if (e.errno().equals(Errno.ENOENT)) {
        return Mono.just(EntryReply.negative(cache.timeout));
      }
      return Mono.error(e);
    }
  }

  @Override
  public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    unref(req.nodeId(), req.nlookup());
    return Mono.empty();
  }

  @Override
  public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
    for (Request.Forget f : req.forgets()) {
      unref(f.nodeId(), f.nlookup());
    }
    return Mono.empty();
  }

  @Override
  public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    return run(() -> {
      int fd = req.hasFh() ? (int) req.fh() : inode(req.nodeId()).fd;
      return new AttrReply(Stat.attr(fstat(fd)), cache.timeout);
    });
  }

  @Override
  public Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    return run(() -> {
      Inode i = inode(req.nodeId());
      boolean hasFh = req.has(Request.Setattr.FATTR_FH);
      int fh = (int) req.fh();
      if (req.has(Request.Setattr.FATTR_MODE)) {
        check(hasFh ? C.fchmod(fh, req.mode()) : C.fchmodat(AT_FDCWD, procPath(i.fd),
            req.mode(), 0));
      }
      if (req.has(Request.Setattr.FATTR_UID) || req.has(Request.Setattr.FATTR_GID)) {
        int uid = req.has(Request.Setattr.FATTR_UID) ? req.uid() : -1;
        int gid = req.has(Request.Setattr.FATTR_GID) ? req.gid() : -1;
        check(C.fchownat(i.fd, EMPTY, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
      }
      if (req.has(Request.Setattr.FATTR_SIZE)) {
        check(hasFh ? C.ftruncate(fh, req.size()) : C.truncate(procPath(i.fd), req.size()));
      }
      if (req.has(Request.Setattr.FATTR_ATIME) || req.has(Request.Setattr.FATTR_MTIME)) {
        long[] times = {
            req.atimeSec(), time(req, Request.Setattr.FATTR_ATIME,
                Request.Setattr.FATTR_ATIME_NOW, req.atimeNsec()),
            req.mtimeSec(), time(req, Request.Setattr.FATTR_MTIME,
                Request.Setattr.FATTR_MTIME_NOW, req.mtimeNsec())};
        if (hasFh) {
          check(C.futimens(fh, times));
        } else if (i.symlink) {
          check(C.utimensat(i.fd, EMPTY, times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
        } else {
          check(C.utimensat(AT_FDCWD, procPath(i.fd), times, 0));
        }
      }
      return new AttrReply(Stat.attr(fstat(hasFh ? fh : i.fd)), cache.timeout);
    });
  }

  /** The nanoseconds field of one utimensat time: the value, UTIME_NOW or UTIME_OMIT. */
  private static long time(Request.Setattr req, int set, int now, int nsec) {
    if (!req.has(set)) {
      return UTIME_OMIT;
    }
    return req.has(now) ? UTIME_NOW : nsec;
  }

  @Override
  public Mono<String> readlink(FuseContext ctx, Request.Readlink req) {
    return run(() -> {
      byte[] buf = new byte[4096];
      int n = (int) check(C.readlinkat(inode(req.nodeId()).fd, EMPTY, buf, buf.length));
      return nameString(buf, 0, n);
    });
  }

  @Override
  public Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      asCaller(ctx, () -> check(C.symlinkat(nameBytes(req.target()), parent.fd,
          nameBytes(req.name()))));
      return lookupIn(parent, req.name());
    });
  }

  @Override
  public Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      asCaller(ctx, () -> check(C.mknodat(parent.fd, nameBytes(req.name()), req.mode(),
          req.rdev() & 0xffffffffL)));
      return lookupIn(parent, req.name());
    });
  }

  @Override
  public Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      asCaller(ctx, () -> check(C.mkdirat(parent.fd, nameBytes(req.name()), req.mode())));
      return lookupIn(parent, req.name());
    });
  }

  @Override
  public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return runVoid(() -> check(C.unlinkat(inode(req.parent()).fd, nameBytes(req.name()), 0)));
  }

  @Override
  public Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return runVoid(() -> check(C.unlinkat(inode(req.parent()).fd, nameBytes(req.name()),
        AT_REMOVEDIR)));
  }

  @Override
  public Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return rename2(ctx, req);
  }

  @Override
  public Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    return runVoid(() -> check(C.renameat2(inode(req.parent()).fd, nameBytes(req.name()),
        inode(req.newParent()).fd, nameBytes(req.newName()), req.flags())));
  }

  @Override
  public Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    return run(() -> {
      Inode node = inode(req.nodeId());
      Inode parent = inode(req.newParent());
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH: done as the daemon, not as the caller.
      check(C.linkat(node.fd, EMPTY, parent.fd, nameBytes(req.newName()), AT_EMPTY_PATH));
      return lookupIn(parent, req.newName());
    });
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    return run(() -> {
      // The kernel resolved the name: reopen the node's own inode, following nothing more.
      int flags = req.flags() & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW) | O_CLOEXEC;
      Inode node = inode(req.nodeId());
      int fd = check(C.openat(AT_FDCWD, procPath(node.fd), flags, 0));
      try {
        // OPEN comes for regular files only, but a node may have been replaced behind us.
        boolean regular = kernelPassthrough && passthroughActive
            ? (Stat.mode(fstat(fd)) & Attr.S_IFMT) == Attr.S_IFREG : true;
        return openReply(node, fd, regular);
      } catch (ErrnoException e) {
        closeQuietly(fd);
        throw e;
      }
    });
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(req.size(), 1));
    long n = -1;
    try {
      n = C.pread64((int) req.fh(), buf.memoryAddress(), req.size(), req.offset());
      if (n < 0) {
        return Mono.error(fail());
      }
      buf.writerIndex((int) n);
      return Mono.just(buf);
    } finally {
      if (n < 0) {
        buf.release();
      }
    }
  }

  @Override
  public Mono<Integer> write(FuseContext ctx, Request.Write req) {
    ByteBuf data = req.data();
    int len = data.readableBytes();
    if (data.hasMemoryAddress()) {
      long n = C.pwrite64((int) req.fh(), data.memoryAddress() + data.readerIndex(), len,
          req.offset());
      return n < 0 ? Mono.error(fail()) : Mono.just((int) n);
    }
    ByteBuf copy = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(len, 1));
    try {
      copy.writeBytes(data, data.readerIndex(), len);
      long n = C.pwrite64((int) req.fh(), copy.memoryAddress(), len, req.offset());
      return n < 0 ? Mono.error(fail()) : Mono.just((int) n);
    } finally {
      copy.release();
    }
  }

  @Override
  public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    return run(() -> {
      byte[] b = new byte[STATFS_SIZE];
      check(C.fstatfs(inode(req.nodeId()).fd, b));
      ByteBuffer s = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
      // struct statfs: f_type@0 f_bsize@8 f_blocks@16 f_bfree@24 f_bavail@32 f_files@40
      // f_ffree@48 f_fsid@56 f_namelen@64 f_frsize@72 f_flags@80
      return new StatfsReply(s.getLong(16), s.getLong(24), s.getLong(32), s.getLong(40),
          s.getLong(48), (int) s.getLong(8), (int) s.getLong(64), (int) s.getLong(72));
    });
  }

  @Override
  public Mono<Void> release(FuseContext ctx, Request.Release req) {
    releaseBacking(req.fh()); // before the fd closes, so its number cannot be reused meanwhile
    closeQuietly((int) req.fh());
    return Mono.empty();
  }

  @Override
  public Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return runVoid(() -> check(req.datasync() ? C.fdatasync((int) req.fh())
        : C.fsync((int) req.fh())));
  }

  @Override
  public Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    return runVoid(() -> check(C.setxattr(procPath(inode(req.nodeId()).fd), nameBytes(req.name()),
        req.value(), req.value().length, req.flags())));
  }

  @Override
  public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
    return run(() -> {
      byte[] buf = new byte[XATTR_MAX];
      int n = (int) check(C.getxattr(procPath(inode(req.nodeId()).fd), nameBytes(req.name()),
          buf, buf.length));
      return java.util.Arrays.copyOf(buf, n);
    });
  }

  @Override
  public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
    return run(() -> {
      byte[] buf = new byte[XATTR_MAX];
      int n = (int) check(C.listxattr(procPath(inode(req.nodeId()).fd), buf, buf.length));
      List<String> names = new ArrayList<>();
      int start = 0;
      for (int k = 0; k < n; k++) {
        if (buf[k] == 0) {
          if (k > start) {
            names.add(nameString(buf, start, k - start));
          }
          start = k + 1;
        }
      }
      return names;
    });
  }

  @Override
  public Mono<Void> removexattr(FuseContext ctx, Request.Removexattr req) {
    return runVoid(() -> check(C.removexattr(procPath(inode(req.nodeId()).fd),
        nameBytes(req.name()))));
  }

  @Override
  public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    // close(dup(fd)) like libfuse: the backing filesystem sees a close (NFS flushes on it) and
    // POSIX locks of this owner are dropped, while our fd stays open until RELEASE.
    return runVoid(() -> check(C.close(check(C.dup((int) req.fh())))));
  }

  @Override
  public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return run(() -> {
      int fd = check(C.openat(inode(req.nodeId()).fd, nameBytes("."),
          O_DIRECTORY | O_CLOEXEC, 0));
      dirs.put((long) fd, new DirHandle(fd));
      return OpenReply.of(fd, cache == CacheMode.ALWAYS ? OpenReply.FOPEN_KEEP_CACHE
          | OpenReply.FOPEN_CACHE_DIR : 0);
    });
  }

  @Override
  public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    try {
      return Flux.fromIterable(listDir(req, req.size()));
    } catch (ErrnoException e) {
      return Flux.error(e);
    }
  }

  /**
   * One getdents64 batch after {@code req.offset()} (the kernel's own d_off cookies). A
   * {@code linux_dirent64} is never bigger than the {@code fuse_dirent} it becomes, so a batch of
   * {@code bytes} covers what fits; the framework drops the rest and the next request seeks back.
   */
  private List<DirEntry> listDir(Request.Readdir req, int bytes) {
    DirHandle d = dirs.get(req.fh());
    if (d == null) {
      throw Errno.EBADF.exception();
    }
    byte[] buf = new byte[Math.max(bytes, 1024)];
    int n;
    synchronized (d) {
      if (req.offset() != d.position) {
        check(C.lseek(d.fd, req.offset(), SEEK_SET));
        d.position = req.offset();
      }
      n = (int) check(C.getdents64(d.fd, buf, buf.length));
      List<DirEntry> out = new ArrayList<>();
      ByteBuffer b = ByteBuffer.wrap(buf, 0, n).order(ByteOrder.LITTLE_ENDIAN);
      // struct linux_dirent64: d_ino u64@0, d_off s64@8, d_reclen u16@16, d_type u8@18, name@19
      for (int p = 0; p < n; ) {
        int reclen = b.getShort(p + 16) & 0xffff;
        int nameEnd = p + 19;
        while (buf[nameEnd] != 0) {
          nameEnd++;
        }
        long off = b.getLong(p + 8);
        out.add(new DirEntry(b.getLong(p), off, buf[p + 18] & 0xff,
            nameString(buf, p + 19, nameEnd - p - 19)));
        d.position = off;
        p += reclen;
      }
      return out;
    }
  }

  @Override
  public Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
    DirHandle d = dirs.remove(req.fh());
    if (d != null) {
      closeQuietly(d.fd);
    }
    return Mono.empty();
  }

  @Override
  public Mono<Void> fsyncdir(FuseContext ctx, Request.Fsync req) {
    return fsync(ctx, req);
  }

  @Override
  public Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      int flags = (req.flags() | O_CREAT | O_CLOEXEC) & ~O_NOCTTY;
      int fd = asCaller(ctx, () -> check(C.openat(parent.fd, nameBytes(req.name()), flags,
          req.mode())));
      try {
        // The node's O_PATH fd names the very inode just opened: no second lookup by name.
        int pathFd = check(C.openat(AT_FDCWD, procPath(fd), O_PATH | O_CLOEXEC, 0));
        byte[] st;
        try {
          st = fstat(pathFd);
        } catch (ErrnoException e) {
          closeQuietly(pathFd);
          throw e;
        }
        Inode node = register(pathFd, st);
        EntryReply entry = entry(node, st);
        return new CreateReply(entry, openReply(node, fd,
            (Stat.mode(st) & Attr.S_IFMT) == Attr.S_IFREG));
      } catch (ErrnoException e) {
        closeQuietly(fd);
        throw e;
      }
    });
  }

  @Override
  public Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    return runVoid(() -> check(C.fallocate((int) req.fh(), req.mode(), req.offset(),
        req.length())));
  }

  @Override
  public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    List<DirEntry> batch;
    Inode dir;
    try {
      dir = inode(req.nodeId());
      // A direntplus is ~150 bytes bigger than a dirent: read about as many as will fit.
      batch = listDir(req, req.size() / 4);
    } catch (ErrnoException e) {
      return Flux.error(e);
    }
    // Lazily, one lookup per entry the framework asks for: entries it never takes are never
    // counted, and the one that did not fit is given back through forget.
    return Flux.fromIterable(batch).map(d -> {
      if (d.name().equals(".") || d.name().equals("..")) {
        return new DirEntryPlus(d, EntryReply.negative(Duration.ZERO));
      }
      try {
        return new DirEntryPlus(d, lookupIn(dir, d.name()));
      } catch (ErrnoException e) {
        // Gone since getdents64 (or unreadable): list it without an entry.
        return new DirEntryPlus(d, EntryReply.negative(Duration.ZERO));
      }
    });
  }

  @Override
  public Mono<Long> lseek(FuseContext ctx, Request.Lseek req) {
    return run(() -> check(C.lseek((int) req.fh(), req.offset(), req.whence())));
  }

  @Override
  public Mono<Long> copyFileRange(FuseContext ctx, Request.CopyFileRange req) {
    return run(() -> check(C.copy_file_range((int) req.fhIn(), new long[] {req.offIn()},
        (int) req.fhOut(), new long[] {req.offOut()}, req.len(), (int) req.flags())));
  }

  // ---- struct stat ----------------------------------------------------------------------------

  /** Reads an x86-64 {@code struct stat} (144 bytes). */
  static final class Stat {
    private Stat() {}

    private static ByteBuffer le(byte[] st) {
      return ByteBuffer.wrap(st).order(ByteOrder.LITTLE_ENDIAN);
    }

    static long dev(byte[] st) {
      return le(st).getLong(0);
    }

    static long ino(byte[] st) {
      return le(st).getLong(8);
    }

    static int mode(byte[] st) {
      return le(st).getInt(24);
    }

    /**
     * st_dev u64@0, st_ino u64@8, st_nlink u64@16, st_mode u32@24, st_uid u32@28, st_gid u32@32,
     * st_rdev u64@40, st_size i64@48, st_blksize i64@56, st_blocks i64@64, st_atim @72/@80,
     * st_mtim @88/@96, st_ctim @104/@112.
     */
    static Attr attr(byte[] st) {
      ByteBuffer b = le(st);
      return new Attr(b.getLong(8), b.getLong(48), b.getLong(64),
          b.getLong(72), (int) b.getLong(80),
          b.getLong(88), (int) b.getLong(96),
          b.getLong(104), (int) b.getLong(112),
          b.getInt(24), (int) b.getLong(16), b.getInt(28), b.getInt(32), (int) b.getLong(40),
          (int) b.getLong(56), 0);
    }
  }
}
