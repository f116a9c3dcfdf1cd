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
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_RDONLY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_TMPFILE;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_TRUNC;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_DIRECT;
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
import io.reactorfuse.ops.StatxReply;
import io.reactorfuse.spi.StateStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import java.util.function.Predicate;
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
 *   <li><b>An O_PATH fd or a file handle per known node.</b> A node is the real inode
 *       ({@code st_dev}, {@code st_ino}); it is reached through an O_PATH fd, so renames in
 *       SOURCE never confuse us. The kernel forgets nodes under memory pressure, not fd
 *       pressure, so holding one fd per node (libfuse's way) fails with EMFILE on trees bigger
 *       than the open-file limit (20,000 here). Instead the soft limit is raised to the hard one
 *       and at most {@link #maxPathFds()} O_PATH fds are kept (least recently used evicted;
 *       default 40% of the limit, at most 8,000, leaving room for open files); an evicted node
 *       keeps its {@code name_to_handle_at} file handle and is reopened with
 *       {@code open_by_handle_at} (needs CAP_DAC_READ_SEARCH: root) when next used. A call
 *       pins the fd it uses, so eviction never closes an fd under a running call. Nodes whose
 *       fd is never evicted: the root; nodes on another mount than SOURCE's root; unlinked
 *       inodes (nlink 0: a handle could not find them again, and the fd keeps them alive while
 *       the kernel knows them); and every node if the backing filesystem has no file handles
 *       (EOPNOTSUPP, logged once: then trees bigger than the limit fail as libfuse's do).
 *       While a node is evicted its inode number could be reused in SOURCE; a lookup that
 *       finds the number again takes the fresh fd as the node's (the stale handle is dropped),
 *       and a stale handle otherwise gives ESTALE.</li>
 *   <li><b>Blocking system calls on the event loop.</b> Handlers do their syscalls inline, the
 *       way libfuse's worker threads do: a slow disk stalls the other requests of that
 *       /dev/fuse fd. Use {@code --threads N} for more loops, or the framework's
 *       {@code handlerScheduler} if measurements say otherwise.</li>
 *   <li><b>Created as the caller.</b> create, mknod, mkdir and symlink run with the thread's
 *       fsuid/fsgid set to the caller's (Linux keeps these per thread), so new files belong to
 *       the caller and the backing filesystem applies setgid directories itself. Supplementary
 *       groups are switched too, best effort: the caller's "Groups:" from /proc/PID/status,
 *       set for the handler thread only with the raw {@code setgroups} system call (glibc's
 *       wrapper changes every thread), none if they cannot be read, restored afterwards.
 *       O_TMPFILE (TMPFILE) works the same way. Each handler thread gets its own umask of 0
 *       ({@code unshare(CLONE_FS)}): the kernel has already applied the caller's umask.</li>
 *   <li><b>Permissions are the kernel's job</b> (mount with {@code default_permissions}):
 *       the daemon is root and would otherwise let everything through. ACCESS (sent only
 *       without it) is answered by faccessat(AT_EACCESS) as the caller.</li>
 *   <li><b>Locks are the kernel's.</b> The sample negotiates neither POSIX_LOCKS nor
 *       FLOCK_LOCKS, like libfuse's passthrough_hp: the kernel then keeps fcntl, OFD and flock
 *       locks on the FUSE inode itself, with exactly its own owner semantics, and they work
 *       between all processes using the mount. Forwarding them to SOURCE would need the
 *       kernel's lock owners emulated (classic fcntl locks taken by the daemon all belong to
 *       the daemon and never conflict; OFD locks on our per-open fds would make two opens of
 *       one process conflict): the only gain, locks shared with processes using SOURCE
 *       directly, is not worth that. Locks are not coordinated with such processes.</li>
 *   <li><b>O_APPEND</b> is dropped from backing opens with AUTO and ALWAYS caching: the
 *       kernel turns appends into writes at its own i_size, so clearing O_APPEND with
 *       fcntl(F_SETFL) works as on a native file; appends made in SOURCE behind the mount's
 *       back are seen only after the attribute timeout. NEVER keeps it (appends land at
 *       SOURCE's real end), except when recoverable (see below).</li>
 *   <li><b>O_DIRECT</b> is honoured on the FUSE side (the kernel sends such I/O straight to
 *       us, bypassing its page cache) but dropped from the backing open: our buffers are not
 *       aligned as O_DIRECT on SOURCE would require (EINVAL otherwise).</li>
 *   <li><b>STATX</b> is statx(2) on the real inode: birth times and attributes are SOURCE's.
 *       SYNCFS is syncfs(2) on SOURCE (the kernel sends it for virtiofs only). Offsets are
 *       64-bit throughout; LSEEK (SEEK_DATA/SEEK_HOLE), FALLOCATE (hole punching included) and
 *       COPY_FILE_RANGE are the same calls on the open fds.</li>
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
 *   <li><b>Recoverable</b> (optional: a {@link StateStore}). A supervisor keeps the /dev/fuse
 *       fds alive when the worker serving them dies, and a new worker takes over
 *       ({@code FuseServer.fromFds(..).resume(init)}, then {@code notifier().resend()}); the
 *       kernel still holds the node ids and file handles the dead one handed out, so they are
 *       kept in the store: each node (id, dev, ino, lookup count, symlink flag, and its
 *       {@code name_to_handle_at} handle taken when it is registered) is written before the
 *       reply that hands it out, rewritten when FORGET changes its count and removed at 0;
 *       each open file (fh, node, open flags) at OPEN/CREATE, each directory handle at
 *       OPENDIR, both removed at RELEASE/RELEASEDIR. {@code fh} is then an id looked up in a
 *       map (one hash lookup per READ/WRITE), not the fd number, which the next process would
 *       not have; node ids are reserved in the store by blocks, so a successor never reuses
 *       one. The successor's constructor reopens every node with {@code open_by_handle_at}
 *       (checking dev and ino), then every open file and directory through its node. Cost: a
 *       store write per lookup count change, made under the node table's lock. O_APPEND is
 *       always dropped from backing opens (a WRITE resent after a crash must not append
 *       twice; the kernel sends appends at its own i_size anyway). Not recoverable: inodes
 *       whose handle no longer opens (unlinked ones whose last fd died with the worker: a
 *       file removed while open, an O_TMPFILE never linked; their data is gone), nodes on
 *       another mount than SOURCE's root or on a filesystem without file handles. Each is
 *       dropped with one warning, and the kernel's requests on its node id, or on a file or
 *       directory opened through it, get ESTALE. A FORGET the dead worker read but had not
 *       counted, or a LOOKUP it counted but never answered, leaves a count too high: such a
 *       node stays in the table until unmount (a leak, never a wrong answer). Directory
 *       handles restart at the kernel's offset (d_off cookies, stable on ext4, xfs, btrfs
 *       and tmpfs). Kernel passthrough is refused together with a store for now: the backing
 *       ids (kept by the connection, not the worker) would have to be saved per inode and
 *       closed by the successor at RELEASE.</li>
 *   <li><b>Requests the dead worker may have run.</b> The framework answers a resent
 *       request from its journal when the reply was saved; one whose reply was not arrives
 *       with {@code FuseContext.maybeApplied()}, and running it again may fail only because
 *       it was done already. Then, and only then: mkdir, mknod, symlink, link and
 *       create(O_EXCL) finding EEXIST succeed if what is there is what they would have made
 *       (same type; the same target; the same inode); unlink and rmdir finding ENOENT
 *       succeed, and so do rename finding ENOENT with the target in place, setxattr
 *       (XATTR_CREATE) finding EEXIST with the same value, and removexattr finding ENODATA.
 *       A concurrent client could have done the same in between: indistinguishable here.</li>
 * </ul>
 *
 * <h2>State</h2>
 * {@code nodes} (by node id, read without locking) and {@code byKey} (by dev/ino) are changed
 * together under {@code table}'s lock; lookup counts are only touched under it. A node's fd,
 * pins and handle are guarded by the node itself; {@code lru} orders the evictable fds. Lock
 * order: {@code table} or {@code lru} before a node, never the reverse. Open files and
 * directories are real fds, returned as {@code fh} (when recoverable: ids, mapped to the fds
 * by {@code files} and {@code dirs}); directory handles keep their read position in
 * {@code dirs}. When recoverable, a node's record in {@code state} is written under
 * {@code table} with each change of its count, so records of one node land in order.
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
    final boolean symlink;
    long lookups; // guarded by table
    /** O_PATH fd, or -1 while evicted (then {@code handle} reopens it); guarded by this. */
    int fd;
    /** Calls using {@code fd} right now: it is not closed under them; guarded by this. */
    int pins;
    /** Forgotten by the kernel: never reopened; guarded by this. */
    boolean dead;
    /** Never evicted: the root, nodes without file handles or on another mount; guarded by lru. */
    boolean keepFd;
    /** The {@code struct file_handle} taken when {@code fd} was last evicted; guarded by this. */
    byte[] handle;
    int backingId; // kernel passthrough id shared by the open files, 0 if none; guarded by this
    int passthroughOpens; // guarded by this
    /** When recoverable: the file handle saved with the node (empty: none); guarded by table. */
    byte[] savedHandle;

    Inode(long id, long dev, long ino, int fd, boolean symlink) {
      this.id = id;
      this.dev = dev;
      this.ino = ino;
      this.fd = fd;
      this.symlink = symlink;
    }
  }

  private record DevIno(long dev, long ino) {}

  /** An open directory: its fd (-1: lost in a takeover) and where the next getdents64 starts. */
  private static final class DirHandle {
    final int fd;
    long position; // guarded by this

    DirHandle(int fd) {
      this.fd = fd;
    }
  }

  /** An open file when recoverable: its fd (-1: lost in a takeover), node and open flags. */
  private record OpenFile(int fd, long nodeId, int flags) {}

  private final Object table = new Object();
  /**
   * The evictable nodes that have an O_PATH fd, least recently used first (access order).
   * Lock order: {@code table} before a node's lock; {@code lru} before a node's lock; never a
   * node's lock before either.
   */
  private final LinkedHashMap<Inode, Boolean> lru = new LinkedHashMap<>(1024, 0.75f, true);
  /** At most this many evictable O_PATH fds are kept (the root and pinned nodes come on top). */
  private final int maxPathFds;
  /** A real (not O_PATH) fd of SOURCE's root: open_by_handle_at's mount fd, and syncfs's. */
  private final int mountFd;
  /** SOURCE's mount id: nodes on other mounts keep their fd (their handles need their mount). */
  private final int rootMountId;
  private final AtomicLong evictions = new AtomicLong();
  private final AtomicLong reopens = new AtomicLong();
  private final AtomicBoolean handlesWarned = new AtomicBoolean();
  private final Map<Long, Inode> nodes = new ConcurrentHashMap<>();
  private final Map<DevIno, Inode> byKey = new HashMap<>(); // guarded by table
  private long nextId = Request.ROOT_ID + 1; // guarded by table
  private final Map<Long, DirHandle> dirs = new ConcurrentHashMap<>();
  /** Open files answered with a backing id, by fh: their inode, to drop the id at RELEASE. */
  private final Map<Long, Inode> passthroughFiles = new ConcurrentHashMap<>();
  private final ThreadLocal<Boolean> threadReady = ThreadLocal.withInitial(() -> false);

  // The recovery tables, unused without a store (see the class comment).
  /** StateStore spaces (0..15 are the framework's): node id -> node record. */
  static final int SPACE_NODES = 16;
  /** fh -> open file: node id u64, backing open flags u32. */
  static final int SPACE_FILES = 17;
  /** fh -> open directory: node id u64. */
  static final int SPACE_DIRS = 18;
  /** The keys below. */
  private static final int SPACE_META = 19;
  /** Node ids below this (u64) may have been handed out: a successor starts above them. */
  private static final long META_RESERVED_IDS = 0;
  /** SOURCE's root dev and ino (u64, u64): a store is restored only over its own SOURCE. */
  private static final long META_SOURCE = 1;
  /** Node ids reserved per store write. */
  private static final long ID_BLOCK = 4096;
  /** A node record's fixed part; the {@code struct file_handle} follows (see saveNode). */
  private static final int NODE_HEADER = 28;
  private static final byte[] NO_HANDLE = new byte[0];

  /** Where the tables a successor needs are kept; null: not recoverable. */
  private final StateStore state;
  /**
   * Open files by fh when recoverable (fh is an id: a successor has other fd numbers); null
   * otherwise, and fh is the fd itself.
   */
  private final Map<Long, OpenFile> files;
  /** The next fh id when recoverable, for files and directories alike. */
  private final AtomicLong nextFh = new AtomicLong(1);
  /** Node ids below this are reserved in the store; guarded by table. */
  private long reservedIds;

  private final Inode root;
  private final CacheMode cache;
  /**
   * O_APPEND, dropped from backing opens unless {@link CacheMode#NEVER}: the kernel already
   * turns appends into writes at its i_size (under the inode lock), and a backing fd that kept
   * O_APPEND would still append after the caller cleared it with fcntl(F_SETFL), which FUSE
   * never hears of. With NEVER it is kept, so appends land at SOURCE's real end even when SOURCE
   * grew behind the kernel's back; but not when recoverable: a WRITE resent after a crash must
   * land at its offset again, not be appended a second time.
   */
  private final int droppedAppend;
  private final int daemonUid = C.geteuid();
  private final int daemonGid = C.getegid();
  /** The daemon's own supplementary groups, restored after each call made as a caller. */
  private final int[] daemonGroups = groupsOf(Path.of("/proc/thread-self/status"));

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
    this(source, cache, kernelPassthrough, 0);
  }

  /**
   * Like {@link #PassthroughFs(Path, CacheMode, boolean)}, keeping at most {@code maxPathFds}
   * O_PATH fds for the nodes the kernel knows (0: the default, 40% of the open-file limit and at
   * most 8,000); the others are kept as file handles and reopened on demand.
   */
  public PassthroughFs(Path source, CacheMode cache, boolean kernelPassthrough,
      int maxPathFds) {
    this(source, cache, kernelPassthrough, maxPathFds, null);
  }

  /**
   * Like {@link #PassthroughFs(Path, CacheMode, boolean, int)}, recoverable if {@code state} is
   * not null: the nodes and open handles the kernel holds are kept in it (spaces 16 to 19; see
   * the class comment), and the tables a predecessor left there for the same SOURCE are
   * restored first ({@link #restore}).
   *
   * @throws IllegalArgumentException for kernel passthrough with a store, a store whose values
   *     are too small for a node, or a store of another SOURCE
   */
  public PassthroughFs(Path source, CacheMode cache, boolean kernelPassthrough, int maxPathFds,
      StateStore state) {
    if (state != null && kernelPassthrough) {
      throw new IllegalArgumentException("--passthrough cannot be combined with --recoverable "
          + "yet: the kernel's backing ids would have to be saved per inode and taken over by "
          + "the next worker; choose one");
    }
    if (state != null && state.maxValueSize() < NODE_HEADER + newHandle().length) {
      throw new IllegalArgumentException("the state store takes values of at most "
          + state.maxValueSize() + " bytes; a node needs " + (NODE_HEADER + newHandle().length));
    }
    this.state = state;
    this.files = state == null ? null : new ConcurrentHashMap<>();
    this.cache = cache;
    this.droppedAppend = cache == CacheMode.NEVER && state == null ? 0 : PassthroughSys.O_APPEND;
    this.kernelPassthrough = kernelPassthrough;
    long limit = PassthroughSys.raiseOpenFileLimit();
    this.maxPathFds = maxPathFds > 0 ? maxPathFds
        : (int) Math.max(64, Math.min(8_000, limit > 0 ? limit * 2 / 5 : 400));
    int fd = check(C.openat(AT_FDCWD, nameBytes(source.toAbsolutePath().toString()),
        O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    byte[] st = fstat(fd);
    mountFd = C.openat(fd, nameBytes("."), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (mountFd < 0) {
      int e = errno();
      closeQuietly(fd);
      throw Errno.of(e).exception();
    }
    int[] mountId = {-1};
    byte[] h = newHandle();
    rootMountId = C.name_to_handle_at(fd, EMPTY, h, mountId, AT_EMPTY_PATH) == 0
        ? mountId[0] : -1;
    if (rootMountId < 0) {
      log.warn("SOURCE {} has no file handles (name_to_handle_at: {}): one O_PATH fd per known "
          + "node, so trees bigger than the open-file limit fail with EMFILE", source,
          Errno.of(errno()));
      handlesWarned.set(true);
    }
    root = new Inode(Request.ROOT_ID, Stat.dev(st), Stat.ino(st), fd, false);
    root.keepFd = true;
    root.lookups = 1;
    nodes.put(root.id, root);
    byKey.put(new DevIno(root.dev, root.ino), root);
    if (state != null) {
      try {
        restore();
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }
  }

  /**
   * Closes every fd still held (nodes the kernel never forgot, open directories, and open files
   * when recoverable). The store is left as it is: a successor restores from it.
   */
  @Override
  public void close() {
    synchronized (table) {
      for (Inode i : nodes.values()) {
        synchronized (i) {
          closeQuietly(i.fd);
          i.fd = -1;
          i.dead = true;
        }
      }
      nodes.clear();
      byKey.clear();
    }
    synchronized (lru) {
      lru.clear();
    }
    closeQuietly(mountFd);
    for (DirHandle d : dirs.values()) {
      closeQuietly(d.fd);
    }
    dirs.clear();
    if (files != null) {
      for (OpenFile f : files.values()) {
        closeQuietly(f.fd());
      }
      files.clear();
    }
  }

  /** How many nodes the kernel holds lookups on, the root included. */
  public int nodeCount() {
    return nodes.size();
  }

  /** How many of the nodes hold an O_PATH fd right now (the others are file handles). */
  public int pathFdCount() {
    int n = 0;
    for (Inode i : nodes.values()) {
      synchronized (i) {
        n += i.fd >= 0 ? 1 : 0;
      }
    }
    return n;
  }

  /** The most evictable O_PATH fds kept. */
  public int maxPathFds() {
    return maxPathFds;
  }

  /** How many times a node's O_PATH fd was closed for its file handle. */
  public long evictionCount() {
    return evictions.get();
  }

  /** How many times a node was reopened from its file handle. */
  public long reopenCount() {
    return reopens.get();
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
   * {@code fd} with {@code flags}: with the inode's backing id when passthrough is on,
   * registering it on the inode's first open (never when recoverable: see the constructor). An
   * inode that already has one keeps using it even after passthrough was turned off (the
   * kernel refuses a cached open next to a passthrough one).
   */
  private OpenReply openReply(Inode node, int fd, boolean regular, int flags) {
    if (!kernelPassthrough || !regular) {
      return OpenReply.of(handOut(node, fd, flags), cache.openFlags);
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
    boolean adopted = false;
    synchronized (table) {
      found = byKey.get(key);
      if (found == null) {
        found = new Inode(newId(), key.dev(), key.ino(), fd,
            (Stat.mode(st) & Attr.S_IFMT) == Attr.S_IFLNK);
        found.lookups = 1;
        byKey.put(key, found);
        nodes.put(found.id, found);
        adopted = true;
      } else {
        found.lookups++;
        synchronized (found) {
          if (found.fd < 0) {
            // Evicted: the fresh fd names the inode as it is now (also if its number was reused
            // since the handle was taken), so it replaces the handle.
            found.fd = fd;
            found.handle = null;
            adopted = true;
          }
        }
      }
      if (state != null) {
        if (adopted) {
          found.savedHandle = savedHandle(fd); // of the inode as it is now (see above)
        }
        saveNode(found);
      }
    }
    if (adopted) {
      cached(found);
    } else {
      closeQuietly(fd);
    }
    return found;
  }

  private void unref(long nodeId, long n) {
    Inode gone = null;
    synchronized (table) {
      Inode i = nodes.get(nodeId);
      if (i == null || i == root) {
        return;
      }
      i.lookups -= n;
      saveNode(i);
      if (i.lookups <= 0) {
        nodes.remove(nodeId);
        byKey.remove(new DevIno(i.dev, i.ino));
        gone = i;
      }
    }
    if (gone != null) {
      synchronized (gone) {
        gone.dead = true;
        if (gone.pins == 0) {
          closeQuietly(gone.fd);
          gone.fd = -1;
        }
      }
      synchronized (lru) {
        lru.remove(gone);
      }
    }
  }

  private static byte[] newHandle() {
    byte[] h = new byte[8 + PassthroughSys.MAX_HANDLE_SZ];
    ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putInt(0, PassthroughSys.MAX_HANDLE_SZ);
    return h;
  }

  /**
   * Pins {@code i}'s O_PATH fd for one call, reopening it from its file handle if it was evicted;
   * {@link #unpin} gives it back.
   */
  private int pin(Inode i) {
    int fd;
    boolean reopened = false;
    synchronized (i) {
      if (i.dead) {
        throw Errno.ESTALE.exception();
      }
      if (i.fd < 0) {
        // CAP_DAC_READ_SEARCH (root): ESTALE if the inode is gone from SOURCE.
        i.fd = check(C.open_by_handle_at(mountFd, i.handle, O_PATH | O_CLOEXEC));
        reopens.incrementAndGet();
        reopened = true;
      }
      i.pins++;
      fd = i.fd;
    }
    if (reopened || i != root) {
      cached(i);
    }
    return fd;
  }

  private void unpin(Inode i) {
    synchronized (i) {
      if (--i.pins == 0 && i.dead && i.fd >= 0) {
        closeQuietly(i.fd);
        i.fd = -1;
      }
    }
  }

  /** Runs {@code op} with {@code i}'s O_PATH fd pinned. */
  private <T> T withFd(Inode i, IntFunction<T> op) {
    int fd = pin(i);
    try {
      return op.apply(fd);
    } finally {
      unpin(i);
    }
  }

  /** {@link #withFd} for calls without a result. */
  private void useFd(Inode i, java.util.function.IntConsumer op) {
    int fd = pin(i);
    try {
      op.accept(fd);
    } finally {
      unpin(i);
    }
  }

  /**
   * Notes that {@code i} has an O_PATH fd (most recently used), and evicts the least recently
   * used unpinned fds beyond {@link #maxPathFds}: each is closed after its file handle is taken.
   */
  private void cached(Inode i) {
    if (i.keepFd) {
      return;
    }
    synchronized (lru) {
      if (i.keepFd) {
        return;
      }
      lru.put(i, Boolean.TRUE);
      int budget = 32; // pinned ones at the head are skipped; a short overshoot is harmless
      Iterator<Inode> it = lru.keySet().iterator();
      while (lru.size() > maxPathFds && budget-- > 0 && it.hasNext()) {
        Inode e = it.next();
        synchronized (e) {
          if (e.dead || e.fd < 0) {
            it.remove(); // stale entry
            continue;
          }
          if (e.pins > 0) {
            continue;
          }
          byte[] h = evictable(e);
          if (h == null) {
            e.keepFd = true; // keeps its fd for good, outside the count
            it.remove();
            continue;
          }
          e.handle = h;
          closeQuietly(e.fd);
          e.fd = -1;
          it.remove();
          evictions.incrementAndGet();
        }
      }
    }
  }

  /**
   * The file handle of {@code e}'s inode if its fd may be closed, else null: no handles on the
   * backing filesystem (EOPNOTSUPP), another mount than SOURCE's root, or an unlinked inode
   * (with no name left, open_by_handle_at could not find it again).
   */
  private byte[] evictable(Inode e) {
    if (rootMountId < 0) {
      return null;
    }
    byte[] h = newHandle();
    int[] mountId = {-1};
    if (C.name_to_handle_at(e.fd, EMPTY, h, mountId, AT_EMPTY_PATH) != 0) {
      if (handlesWarned.compareAndSet(false, true)) {
        log.warn("name_to_handle_at failed ({}): such nodes keep their O_PATH fd",
            Errno.of(errno()));
      }
      return null;
    }
    if (mountId[0] != rootMountId) {
      return null;
    }
    try {
      byte[] st = fstat(e.fd);
      if (ByteBuffer.wrap(st).order(ByteOrder.LITTLE_ENDIAN).getLong(16) == 0) {
        return null;
      }
    } catch (ErrnoException ex) {
      return null;
    }
    return h;
  }

  private EntryReply entry(Inode i, byte[] st) {
    return new EntryReply(i.id, 0, Stat.attr(st), cache.timeout, cache.timeout);
  }

  /** Looks {@code name} up in {@code parent} and counts the lookup. */
  private EntryReply lookupIn(Inode parent, String name) {
    if (name.equals(".") || (name.equals("..") && parent == root)) {
      // ".." at the root stays at the root: SOURCE's parent is not part of the mount.
      byte[] st = withFd(parent, PassthroughSys::fstat);
      synchronized (table) {
        parent.lookups++;
        saveNode(parent);
      }
      return entry(parent, st);
    }
    int fd = withFd(parent, pfd -> check(C.openat(pfd, nameBytes(name),
        O_PATH | O_NOFOLLOW | O_CLOEXEC, 0)));
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
    // Supplementary groups too, for this thread only (the raw system call: glibc's setgroups
    // changes every thread of the process). Best effort: the caller's groups as /proc shows
    // them now; none if they cannot be read (the caller exited, another pid namespace).
    boolean groupsSet = ctx.uid() != daemonUid
        && C.syscall(PassthroughSys.SYS_SETGROUPS, 0, null) == 0;
    if (groupsSet) {
      int[] groups = callerGroups(ctx.pid());
      if (groups.length > 0) {
        C.syscall(PassthroughSys.SYS_SETGROUPS, groups.length, groups);
      }
    }
    C.setfsgid(ctx.gid());
    C.setfsuid(ctx.uid());
    try {
      return action.get();
    } finally {
      C.setfsuid(daemonUid);
      C.setfsgid(daemonGid);
      if (groupsSet) {
        C.syscall(PassthroughSys.SYS_SETGROUPS, daemonGroups.length,
            daemonGroups.length > 0 ? daemonGroups : null);
      }
    }
  }

  /** The supplementary groups of process {@code pid} ("Groups:" of /proc/PID/status). */
  private static int[] callerGroups(int pid) {
    if (pid <= 0) {
      return new int[0];
    }
    return groupsOf(Path.of("/proc/" + pid + "/status"));
  }

  private static int[] groupsOf(Path status) {
    try {
      for (String line : java.nio.file.Files.readAllLines(status)) {
        if (line.startsWith("Groups:")) {
          String g = line.substring(7).trim();
          return g.isEmpty() ? new int[0]
              : java.util.Arrays.stream(g.split("\\s+")).mapToInt(Integer::parseInt).toArray();
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // gone or unreadable: no supplementary groups
    }
    return new int[0];
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

  // ---- recovery: the tables in the store ------------------------------------------------------

  /**
   * Takes over the tables a predecessor left in {@link #state}: reopens every node from its
   * file handle, then every open file and directory through its node. What cannot be reopened
   * is dropped with one warning each; the kernel's later requests on it get ESTALE.
   */
  private void restore() {
    byte[] source = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(root.dev)
        .putLong(root.ino).array();
    byte[] saved = state.get(SPACE_META, META_SOURCE);
    if (saved == null) {
      state.put(SPACE_META, META_SOURCE, source);
    } else if (!Arrays.equals(saved, source)) {
      throw new IllegalArgumentException("the state store holds the tables of another SOURCE "
          + "(root dev/ino differ): give each SOURCE its own store");
    }
    byte[] reserved = state.get(SPACE_META, META_RESERVED_IDS);
    long next = Math.max(nextId, reserved == null ? 0 : le(reserved).getLong(0));
    // Collected first: the store is not changed while forEach walks it.
    Map<Long, byte[]> records = new HashMap<>();
    state.forEach(SPACE_NODES, records::put);
    int lost = 0;
    for (Map.Entry<Long, byte[]> r : records.entrySet()) {
      next = Math.max(next, r.getKey() + 1);
      Inode node = reopenNode(r.getKey(), r.getValue());
      if (node == null) {
        state.remove(SPACE_NODES, r.getKey());
        lost++;
        continue;
      }
      nodes.put(node.id, node);
      byKey.putIfAbsent(new DevIno(node.dev, node.ino), node);
      cached(node); // evicts beyond maxPathFds, as for any node
    }
    nextId = next;
    reservedIds = next; // the first new node reserves the next block
    long maxFh = 0;
    records.clear();
    state.forEach(SPACE_FILES, records::put);
    for (Map.Entry<Long, byte[]> r : records.entrySet()) {
      long nodeId = le(r.getValue()).getLong(0);
      int flags = le(r.getValue()).getInt(8);
      // Created already, and maybe written since: never create, fail or truncate again.
      int again = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_TMPFILE);
      int fd = reopenHandle("file", r.getKey(), nodeId,
          pfd -> check(C.openat(AT_FDCWD, procPath(pfd), again, 0)));
      files.put(r.getKey(), new OpenFile(fd, nodeId, flags));
      maxFh = Math.max(maxFh, r.getKey());
      lost += fd < 0 ? 1 : 0;
    }
    records.clear();
    state.forEach(SPACE_DIRS, records::put);
    for (Map.Entry<Long, byte[]> r : records.entrySet()) {
      int fd = reopenHandle("directory", r.getKey(), le(r.getValue()).getLong(0),
          pfd -> check(C.openat(pfd, nameBytes("."), O_DIRECTORY | O_CLOEXEC, 0)));
      dirs.put(r.getKey(), new DirHandle(fd));
      maxFh = Math.max(maxFh, r.getKey());
      lost += fd < 0 ? 1 : 0;
    }
    nextFh.set(maxFh + 1);
    if (nodes.size() == 1 && files.isEmpty() && dirs.isEmpty() && lost == 0) {
      return; // a fresh store
    }
    log.info("restored {} nodes, {} open files and {} directories from the state store ({} "
        + "lost)", nodes.size() - 1, files.size(), dirs.size(), lost);
  }

  /** A node from its record (see {@link #saveNode}), reopened; null (logged) if it is gone. */
  private Inode reopenNode(long id, byte[] record) {
    ByteBuffer b = le(record);
    long dev = b.getLong(2);
    long ino = b.getLong(10);
    byte[] handle = Arrays.copyOfRange(record, NODE_HEADER,
        NODE_HEADER + (b.getShort(26) & 0xffff));
    String why;
    int fd = handle.length == 0 ? -1 : C.open_by_handle_at(mountFd, handle, O_PATH | O_CLOEXEC);
    if (handle.length == 0) {
      why = "it had no file handle (another mount, or none on SOURCE's filesystem)";
    } else if (fd < 0) {
      Errno e = Errno.of(errno());
      why = e.equals(Errno.ESTALE) ? "gone from SOURCE (ESTALE: unlinked, its last fd closed)"
          : "open_by_handle_at: " + e;
    } else {
      byte[] st = new byte[PassthroughSys.STAT_SIZE];
      if (C.fstatat(fd, EMPTY, st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0
          && Stat.dev(st) == dev && Stat.ino(st) == ino) {
        Inode node = new Inode(id, dev, ino, fd, (b.get(1) & 1) != 0);
        node.lookups = b.getLong(18);
        node.savedHandle = handle;
        return node;
      }
      closeQuietly(fd);
      why = "its file handle names another inode now";
    }
    log.warn("node {} (dev {} ino {}) cannot be recovered, requests on it get ESTALE: {}", id,
        dev, ino, why);
    return null;
  }

  /**
   * Reopens a predecessor's open file or directory {@code fh} through its node's O_PATH fd;
   * -1 (logged) if the node is lost, so that requests on {@code fh} get ESTALE.
   */
  private int reopenHandle(String what, long fh, long nodeId, IntFunction<Integer> open) {
    try {
      Inode node = nodes.get(nodeId);
      if (node == null) {
        throw Errno.ESTALE.exception();
      }
      return withFd(node, open);
    } catch (ErrnoException e) {
      log.warn("open {} {} (node {}) cannot be recovered, requests on it get ESTALE: {}", what,
          fh, nodeId, e.errno());
      return -1;
    }
  }

  private static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Writes {@code i}'s record when recoverable, or removes it once the kernel holds no lookup;
   * called under {@code table} with every count change, before the reply that hands the node
   * out. The record, little-endian: u8 version 1, u8 flags (1: symlink), u64 dev @2, u64 ino
   * @10, u64 lookups @18, u16 handle length @26, the {@code struct file_handle} @28.
   */
  private void saveNode(Inode i) {
    if (state == null || i == root) {
      return;
    }
    if (i.lookups <= 0) {
      state.remove(SPACE_NODES, i.id);
      return;
    }
    byte[] h = i.savedHandle;
    state.put(SPACE_NODES, i.id, ByteBuffer.allocate(NODE_HEADER + h.length)
        .order(ByteOrder.LITTLE_ENDIAN).put((byte) 1).put((byte) (i.symlink ? 1 : 0))
        .putLong(i.dev).putLong(i.ino).putLong(i.lookups).putShort((short) h.length).put(h)
        .array());
  }

  /**
   * The file handle a successor reopens the inode behind {@code fd} with, trimmed to its size;
   * empty if there is none to save (no handles on SOURCE, another mount than SOURCE's root).
   */
  private byte[] savedHandle(int fd) {
    if (rootMountId < 0) {
      return NO_HANDLE;
    }
    byte[] h = newHandle();
    int[] mountId = {-1};
    if (C.name_to_handle_at(fd, EMPTY, h, mountId, AT_EMPTY_PATH) != 0
        || mountId[0] != rootMountId) {
      return NO_HANDLE;
    }
    return Arrays.copyOf(h, 8 + le(h).getInt(0));
  }

  /**
   * A new node id; under {@code table}. When recoverable, ids are reserved in the store a block
   * at a time, so that a successor never hands out one the kernel may still hold.
   */
  private long newId() {
    long id = nextId++;
    if (state != null && id >= reservedIds) {
      reservedIds = id + ID_BLOCK;
      state.put(SPACE_META, META_RESERVED_IDS,
          ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(reservedIds).array());
    }
    return id;
  }

  /**
   * The fh of {@code fd}, just opened on {@code node} with backing open {@code flags}: the fd
   * itself, or when recoverable an id saved with the node and flags before the reply.
   */
  private long handOut(Inode node, int fd, int flags) {
    if (files == null) {
      return fd;
    }
    long fh = nextFh.getAndIncrement();
    state.put(SPACE_FILES, fh, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(node.id).putInt(flags).array());
    files.put(fh, new OpenFile(fd, node.id, flags));
    return fh;
  }

  /** The fd of an open file's (or directory's) {@code fh}. */
  private int fileFd(long fh) {
    if (files == null) {
      return (int) fh;
    }
    OpenFile f = files.get(fh);
    return f != null ? live(f.fd()) : dirFd(fh); // FSYNCDIR comes with a directory's fh
  }

  /** The fd of an open directory's {@code fh}. */
  private int dirFd(long fh) {
    DirHandle d = dirs.get(fh);
    if (d == null) {
      throw Errno.EBADF.exception();
    }
    return live(d.fd);
  }

  /** {@code fd}, or ESTALE for a handle a takeover could not reopen (-1). */
  private static int live(int fd) {
    if (fd < 0) {
      throw Errno.ESTALE.exception();
    }
    return fd;
  }

  // After a crash, the framework answers a resent request from its journal when the dead worker
  // saved the reply; a request it had started without saving one arrives with
  // ctx.maybeApplied(), and may have been carried out already. Run again, it then fails only
  // because it was done: these helpers turn exactly that failure into the answer the first run
  // would have given, one per shape of request. Without maybeApplied the error stands.

  /**
   * Runs {@code make} (mkdir, mknod, symlink or link of {@code name} in {@code parent}) and
   * looks the name up. After a crash, EEXIST with what is there being what {@code make} makes
   * ({@code same}) is success.
   */
  private EntryReply made(FuseContext ctx, Inode parent, String name, Runnable make,
      Predicate<EntryReply> same) {
    try {
      make.run();
    } catch (ErrnoException e) {
      if (!ctx.maybeApplied() || !e.errno().equals(Errno.EEXIST)) {
        throw e;
      }
      EntryReply there = lookupIn(parent, name);
      boolean done = false;
      try {
        done = same.test(there);
      } finally {
        if (!done) {
          unref(there.nodeId(), 1); // not ours to hand out: give the lookup back
        }
      }
      if (!done) {
        throw e;
      }
      return there;
    }
    return lookupIn(parent, name);
  }

  /**
   * Runs {@code op} (unlink, rmdir, rename, setxattr, removexattr). After a crash, the errno
   * {@code ifDone} (ENOENT: gone already, ...) with {@code done} confirming it is success.
   */
  private void unlessDone(FuseContext ctx, Errno ifDone, Runnable op, BooleanSupplier done) {
    try {
      op.run();
    } catch (ErrnoException e) {
      if (!ctx.maybeApplied() || !e.errno().equals(ifDone) || !done.getAsBoolean()) {
        throw e;
      }
    }
  }

  /**
   * Opens {@code name} in {@code parent} for CREATE as the caller. After a crash, EEXIST from
   * an O_EXCL create whose file is a regular file (the one the dead worker made) opens it
   * instead, without O_TRUNC: it is the caller's new file.
   */
  private int createOrOpen(FuseContext ctx, Inode parent, String name, int flags, int mode) {
    try {
      return withFd(parent, pfd -> asCaller(ctx, () -> check(C.openat(pfd, nameBytes(name),
          flags, mode))));
    } catch (ErrnoException e) {
      if (!ctx.maybeApplied() || !e.errno().equals(Errno.EEXIST) || (flags & O_EXCL) == 0) {
        throw e;
      }
      int again = flags & ~(O_CREAT | O_EXCL | O_TRUNC) | O_NOFOLLOW;
      int fd = withFd(parent, pfd -> asCaller(ctx, () -> C.openat(pfd, nameBytes(name), again,
          0)));
      if (fd < 0 || (Stat.mode(fstat(fd)) & Attr.S_IFMT) != Attr.S_IFREG) {
        closeQuietly(fd);
        throw e;
      }
      return fd;
    }
  }

  private static int type(EntryReply e) {
    return e.attr().mode() & Attr.S_IFMT;
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
      byte[] st = req.hasFh() ? fstat(fileFd(req.fh()))
          : withFd(inode(req.nodeId()), PassthroughSys::fstat);
      return new AttrReply(Stat.attr(st), cache.timeout);
    });
  }

  @Override
  public Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    return run(() -> {
      Inode node = inode(req.nodeId());
      return withFd(node, fd -> setattr(req, node.symlink, fd));
    });
  }

  private AttrReply setattr(Request.Setattr req, boolean symlink, int pathFd) {
    {
      boolean hasFh = req.has(Request.Setattr.FATTR_FH);
      int fh = hasFh ? fileFd(req.fh()) : -1;
      if (req.has(Request.Setattr.FATTR_MODE)) {
        check(hasFh ? C.fchmod(fh, req.mode()) : C.fchmodat(AT_FDCWD, procPath(pathFd),
            req.mode(), 0));
      }
      if (req.has(Request.Setattr.FATTR_UID) || req.has(Request.Setattr.FATTR_GID)) {
        int uid = req.has(Request.Setattr.FATTR_UID) ? req.uid() : -1;
        int gid = req.has(Request.Setattr.FATTR_GID) ? req.gid() : -1;
        check(C.fchownat(pathFd, EMPTY, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
      }
      if (req.has(Request.Setattr.FATTR_SIZE)) {
        check(hasFh ? C.ftruncate(fh, req.size()) : C.truncate(procPath(pathFd), req.size()));
      }
      if (req.has(Request.Setattr.FATTR_ATIME) || req.has(Request.Setattr.FATTR_MTIME)) {
        long[] times = {
            req.atimeSec(), time(req, Request.Setattr.FATTR_ATIME,
                Request.Setattr.FATTR_ATIME_NOW, req.atimeNsec()),
            req.mtimeSec(), time(req, Request.Setattr.FATTR_MTIME,
                Request.Setattr.FATTR_MTIME_NOW, req.mtimeNsec())};
        if (hasFh) {
          check(C.futimens(fh, times));
        } else if (symlink) {
          check(C.utimensat(pathFd, EMPTY, times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
        } else {
          check(C.utimensat(AT_FDCWD, procPath(pathFd), times, 0));
        }
      }
      return new AttrReply(Stat.attr(fstat(hasFh ? fh : pathFd)), cache.timeout);
    }
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
    return run(() -> target(inode(req.nodeId())));
  }

  private String target(Inode link) {
    byte[] buf = new byte[4096];
    int n = withFd(link, fd -> (int) check(C.readlinkat(fd, EMPTY, buf, buf.length)));
    return nameString(buf, 0, n);
  }

  @Override
  public Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      return made(ctx, parent, req.name(),
          () -> useFd(parent, pfd -> asCaller(ctx, () -> check(C.symlinkat(
              nameBytes(req.target()), pfd, nameBytes(req.name()))))),
          e -> type(e) == Attr.S_IFLNK && target(inode(e.nodeId())).equals(req.target()));
    });
  }

  @Override
  public Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      return made(ctx, parent, req.name(),
          () -> useFd(parent, pfd -> asCaller(ctx, () -> check(C.mknodat(pfd,
              nameBytes(req.name()), req.mode(), req.rdev() & 0xffffffffL)))),
          e -> type(e) == (req.mode() & Attr.S_IFMT));
    });
  }

  @Override
  public Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      return made(ctx, parent, req.name(),
          () -> useFd(parent, pfd -> asCaller(ctx, () -> check(C.mkdirat(pfd,
              nameBytes(req.name()), req.mode())))),
          e -> type(e) == Attr.S_IFDIR);
    });
  }

  @Override
  public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return runVoid(() -> unlessDone(ctx, Errno.ENOENT, () -> useFd(inode(req.parent()),
        pfd -> check(C.unlinkat(pfd, nameBytes(req.name()), 0))), () -> true));
  }

  @Override
  public Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return runVoid(() -> unlessDone(ctx, Errno.ENOENT, () -> useFd(inode(req.parent()),
        pfd -> check(C.unlinkat(pfd, nameBytes(req.name()), AT_REMOVEDIR))), () -> true));
  }

  @Override
  public Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return rename2(ctx, req);
  }

  @Override
  public Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    return runVoid(() -> {
      Inode from = inode(req.parent());
      Inode to = inode(req.newParent());
      // After a crash, ENOENT (the source is gone) with the target in place: renamed already.
      unlessDone(ctx, Errno.ENOENT,
          () -> useFd(from, ffd -> useFd(to, tfd -> check(C.renameat2(ffd,
              nameBytes(req.name()), tfd, nameBytes(req.newName()), req.flags())))),
          () -> withFd(to, tfd -> C.fstatat(tfd, nameBytes(req.newName()),
              new byte[PassthroughSys.STAT_SIZE], AT_SYMLINK_NOFOLLOW) == 0));
    });
  }

  @Override
  public Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    return run(() -> {
      Inode node = inode(req.nodeId());
      Inode parent = inode(req.newParent());
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH: done as the daemon, not as the caller.
      return made(ctx, parent, req.newName(),
          () -> useFd(node, nfd -> useFd(parent, pfd -> check(C.linkat(nfd, EMPTY, pfd,
              nameBytes(req.newName()), AT_EMPTY_PATH)))),
          e -> e.nodeId() == node.id);
    });
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    return run(() -> {
      // The kernel resolved the name: reopen the node's own inode, following nothing more.
      int flags = req.flags() & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_DIRECT
          | droppedAppend) | O_CLOEXEC;
      Inode node = inode(req.nodeId());
      int fd = withFd(node, pfd -> check(C.openat(AT_FDCWD, procPath(pfd), flags, 0)));
      try {
        // OPEN comes for regular files only, but a node may have been replaced behind us.
        boolean regular = kernelPassthrough && passthroughActive
            ? (Stat.mode(fstat(fd)) & Attr.S_IFMT) == Attr.S_IFREG : true;
        return openReply(node, fd, regular, flags);
      } catch (RuntimeException e) {
        closeQuietly(fd);
        throw e;
      }
    });
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    int fd;
    try {
      fd = fileFd(req.fh());
    } catch (ErrnoException e) {
      return Mono.error(e);
    }
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(req.size(), 1));
    long n = -1;
    try {
      n = C.pread64(fd, buf.memoryAddress(), req.size(), req.offset());
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
    int fd;
    try {
      fd = fileFd(req.fh());
    } catch (ErrnoException e) {
      return Mono.error(e);
    }
    ByteBuf data = req.data();
    int len = data.readableBytes();
    if (data.hasMemoryAddress()) {
      long n = C.pwrite64(fd, data.memoryAddress() + data.readerIndex(), len, req.offset());
      return n < 0 ? Mono.error(fail()) : Mono.just((int) n);
    }
    ByteBuf copy = PooledByteBufAllocator.DEFAULT.directBuffer(Math.max(len, 1));
    try {
      copy.writeBytes(data, data.readerIndex(), len);
      long n = C.pwrite64(fd, copy.memoryAddress(), len, req.offset());
      return n < 0 ? Mono.error(fail()) : Mono.just((int) n);
    } finally {
      copy.release();
    }
  }

  @Override
  public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    return run(() -> {
      byte[] b = new byte[STATFS_SIZE];
      useFd(inode(req.nodeId()), fd -> check(C.fstatfs(fd, b)));
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
    if (files == null) {
      closeQuietly((int) req.fh());
      return Mono.empty();
    }
    OpenFile f = files.remove(req.fh());
    state.remove(SPACE_FILES, req.fh());
    if (f != null) {
      closeQuietly(f.fd());
    }
    return Mono.empty();
  }

  @Override
  public Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return runVoid(() -> check(req.datasync() ? C.fdatasync(fileFd(req.fh()))
        : C.fsync(fileFd(req.fh()))));
  }

  @Override
  public Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    return runVoid(() -> {
      Inode node = inode(req.nodeId());
      // After a crash, EEXIST from XATTR_CREATE with our value in place: set already.
      unlessDone(ctx, Errno.EEXIST, () -> useFd(node, fd -> check(C.setxattr(procPath(fd),
          nameBytes(req.name()), req.value(), req.value().length, req.flags()))),
          () -> Arrays.equals(xattr(node, req.name()), req.value()));
    });
  }

  @Override
  public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
    return run(() -> xattr(inode(req.nodeId()), req.name()));
  }

  private byte[] xattr(Inode node, String name) {
    byte[] buf = new byte[XATTR_MAX];
    int n = withFd(node, fd -> (int) check(C.getxattr(procPath(fd), nameBytes(name), buf,
        buf.length)));
    return Arrays.copyOf(buf, n);
  }

  @Override
  public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
    return run(() -> {
      byte[] buf = new byte[XATTR_MAX];
      int n = withFd(inode(req.nodeId()),
          fd -> (int) check(C.listxattr(procPath(fd), buf, buf.length)));
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
    return runVoid(() -> unlessDone(ctx, Errno.ENODATA, () -> useFd(inode(req.nodeId()),
        fd -> check(C.removexattr(procPath(fd), nameBytes(req.name())))), () -> true));
  }

  @Override
  public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    // close(dup(fd)) like libfuse: the backing filesystem sees a close (NFS flushes on it) and
    // POSIX locks of this owner are dropped, while our fd stays open until RELEASE.
    return runVoid(() -> check(C.close(check(C.dup(fileFd(req.fh()))))));
  }

  @Override
  public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return run(() -> {
      Inode node = inode(req.nodeId());
      int fd = withFd(node, pfd -> check(C.openat(pfd, nameBytes("."),
          O_DIRECTORY | O_CLOEXEC, 0)));
      long fh = fd;
      if (state != null) {
        fh = nextFh.getAndIncrement();
        state.put(SPACE_DIRS, fh, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
            .putLong(node.id).array());
      }
      dirs.put(fh, new DirHandle(fd));
      return OpenReply.of(fh, cache == CacheMode.ALWAYS ? OpenReply.FOPEN_KEEP_CACHE
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
    live(d.fd);
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
    if (state != null) {
      state.remove(SPACE_DIRS, req.fh());
    }
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
      int flags = (req.flags() | O_CREAT | O_CLOEXEC) & ~(O_NOCTTY | O_DIRECT | droppedAppend);
      return created(createOrOpen(ctx, parent, req.name(), flags, req.mode()), flags);
    });
  }

  /**
   * TMPFILE: an unnamed file in the directory (O_TMPFILE), open, made as the caller; a later
   * linkat gives it a name (LINK on its node).
   */
  @Override
  public Mono<CreateReply> tmpfile(FuseContext ctx, Request.Create req) {
    return run(() -> {
      Inode parent = inode(req.parent());
      int flags = (req.flags() | O_TMPFILE | O_CLOEXEC)
          & ~(O_CREAT | O_NOCTTY | O_DIRECT | droppedAppend);
      int fd = withFd(parent, pfd -> asCaller(ctx, () -> check(C.openat(pfd, nameBytes("."),
          flags, req.mode()))));
      return created(fd, flags);
    });
  }

  /**
   * The CREATE/TMPFILE reply for {@code fd}, just created and opened with {@code flags}; closes
   * it on failure.
   */
  private CreateReply created(int fd, int flags) {
    {
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
            (Stat.mode(st) & Attr.S_IFMT) == Attr.S_IFREG, flags));
      } catch (RuntimeException e) {
        closeQuietly(fd);
        throw e;
      }
    }
  }

  /**
   * ACCESS, sent only without {@code default_permissions}: faccessat with AT_EACCESS as the
   * caller (fsuid, fsgid, groups; a non-root fsuid drops the daemon's DAC capabilities), so the
   * backing filesystem decides as it would for the caller.
   */
  @Override
  public Mono<Void> access(FuseContext ctx, Request.Access req) {
    return runVoid(() -> useFd(inode(req.nodeId()), fd -> asCaller(ctx, () -> check(
        C.faccessat(fd, EMPTY, req.mask(), PassthroughSys.AT_EACCESS | AT_EMPTY_PATH)))));
  }

  /** SYNCFS (the kernel sends it for virtiofs only): syncfs(2) on SOURCE's filesystem. */
  @Override
  public Mono<Void> syncfs(FuseContext ctx, Request.Syncfs req) {
    return runVoid(() -> check(C.syncfs(mountFd)));
  }

  /**
   * STATX: statx(2) of the real inode, so the birth time (STATX_BTIME) and attributes are the
   * backing filesystem's own; the fields it did not fill are left out of the mask.
   */
  @Override
  public Mono<StatxReply> statx(FuseContext ctx, Request.Statx req) {
    return run(() -> {
      byte[] b = new byte[PassthroughSys.STATX_SIZE];
      int flags = (req.sxFlags() & PassthroughSys.AT_STATX_SYNC_TYPE) | AT_EMPTY_PATH
          | AT_SYMLINK_NOFOLLOW;
      int mask = req.sxMask() | STATX_BASIC_STATS | STATX_BTIME;
      if ((req.getattrFlags() & Request.Getattr.FUSE_GETATTR_FH) != 0) {
        check(C.statx(fileFd(req.fh()), EMPTY, flags, mask, b));
      } else {
        useFd(inode(req.nodeId()), fd -> check(C.statx(fd, EMPTY, flags, mask, b)));
      }
      ByteBuffer x = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
      // struct statx: mask u32@0 blksize u32@4 attributes u64@8 nlink u32@16 uid u32@20
      // gid u32@24 mode u16@28 ino u64@32 size u64@40 blocks u64@48 attributes_mask u64@56
      // atime@64 btime@80 ctime@96 mtime@112 (i64 sec, u32 nsec) rdev maj/min u32@128/@132
      // dev maj/min u32@136/@140
      return new StatxReply(cache.timeout, x.getInt(0) & (STATX_BASIC_STATS | STATX_BTIME),
          x.getInt(4), x.getLong(8), x.getInt(16), x.getInt(20), x.getInt(24),
          x.getShort(28) & 0xffff, x.getLong(32), x.getLong(40), x.getLong(48), x.getLong(56),
          x.getLong(64), x.getInt(72), x.getLong(80), x.getInt(88), x.getLong(96), x.getInt(104),
          x.getLong(112), x.getInt(120), x.getInt(128), x.getInt(132), x.getInt(136),
          x.getInt(140));
    });
  }

  private static final int STATX_BASIC_STATS = 0x7ff;
  private static final int STATX_BTIME = 0x800;

  @Override
  public Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    return runVoid(() -> check(C.fallocate(fileFd(req.fh()), req.mode(), req.offset(),
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
    return run(() -> check(C.lseek(fileFd(req.fh()), req.offset(), req.whence())));
  }

  @Override
  public Mono<Long> copyFileRange(FuseContext ctx, Request.CopyFileRange req) {
    return run(() -> check(C.copy_file_range(fileFd(req.fhIn()), new long[] {req.offIn()},
        fileFd(req.fhOut()), new long[] {req.offOut()}, req.len(), (int) req.flags())));
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
