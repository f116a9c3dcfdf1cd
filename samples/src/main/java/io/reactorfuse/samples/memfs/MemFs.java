package io.reactorfuse.samples.memfs;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseNames;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.ops.StatfsReply;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * An in-memory read-write filesystem: regular files, directories, symlinks, hard links, device
 * nodes and fifos, extended attributes, rename flags, truncate, utimens, statfs.
 *
 * <h2>Trade-offs</h2>
 * <ul>
 *   <li>Everything lives on the heap; a file is one growable byte array (at most 2 GiB).</li>
 *   <li>One lock guards the whole tree. Handlers never wait for I/O, so they answer on the event
 *       loop within microseconds; the lock only matters once several loops serve one mount.</li>
 *   <li>Permissions are the kernel's job: mount with {@code default_permissions}.</li>
 *   <li>Directory offsets are per-directory insertion cookies, not positions, so that entries
 *       removed during a listing ({@code rm -r}) never make the listing skip others.</li>
 * </ul>
 *
 * <h2>Lifetime of a node</h2>
 * A node is dropped when it has no name left (nlink 0), the kernel has forgotten all its lookups
 * and no file handle is open on it; until then unlinked files stay readable.
 */
public final class MemFs implements FuseOps {
  private static final int NAME_MAX = 255;
  private static final int MAX_FILE = Integer.MAX_VALUE - 64;
  private static final int BLOCK = 4096;
  /** readdir offsets 1 and 2 are "." and ".."; children's cookies start after them. */
  private static final long FIRST_COOKIE = 3;

  private final Duration timeout;
  private final Map<Long, Node> nodes = new HashMap<>();
  private long nextId = Request.ROOT_ID + 1;
  private long bytesUsed;

  // ---- state ----------------------------------------------------------------------------------

  /** One inode. Directories keep their children by name and by readdir cookie. */
  private static final class Node {
    final long id;
    int mode;
    int uid;
    int gid;
    int rdev;
    int nlink;
    long lookups;
    int openCount;
    Instant atime;
    Instant mtime;
    Instant ctime;
    byte[] data = new byte[0]; // regular files
    int size;
    String target; // symlinks
    Map<String, byte[]> xattrs; // created on first use
    long parent; // directories: for ".."
    Map<String, Child> children; // directories
    TreeMap<Long, String> byCookie; // directories
    long nextCookie = FIRST_COOKIE;

    Node(long id, int mode, int uid, int gid, Instant now) {
      this.id = id;
      this.mode = mode;
      this.uid = uid;
      this.gid = gid;
      this.atime = now;
      this.mtime = now;
      this.ctime = now;
      if (isDir()) {
        children = new HashMap<>();
        byCookie = new TreeMap<>();
        nlink = 2;
      } else {
        nlink = 1;
      }
    }

    boolean isDir() {
      return (mode & Attr.S_IFMT) == Attr.S_IFDIR;
    }

    boolean isFile() {
      return (mode & Attr.S_IFMT) == Attr.S_IFREG;
    }

    long length() {
      return isFile() ? size : target != null ? FuseNames.encode(target).length
          : isDir() ? BLOCK : 0;
    }

    Attr attr() {
      long len = length();
      return new Attr(id, len, isFile() ? ((long) size + 511) / 512 : 0,
          atime.getEpochSecond(), atime.getNano(), mtime.getEpochSecond(), mtime.getNano(),
          ctime.getEpochSecond(), ctime.getNano(), mode, nlink, uid, gid, rdev, BLOCK, 0);
    }
  }

  /** A directory entry: the child's node and the cookie readdir resumes after. */
  private record Child(long nodeId, long cookie) {}

  public MemFs() {
    this(Duration.ofSeconds(1), 0, 0);
  }

  /**
   * @param timeout how long the kernel may cache names and attributes (0: ask every time)
   * @param uid owner of the root directory
   * @param gid group of the root directory
   */
  public MemFs(Duration timeout, int uid, int gid) {
    this.timeout = timeout;
    Node root = new Node(Request.ROOT_ID, Attr.S_IFDIR | 0755, uid, gid, Instant.now());
    root.parent = Request.ROOT_ID;
    root.lookups = 1; // the kernel holds the root without ever looking it up
    nodes.put(root.id, root);
  }

  // ---- helpers (call with the lock held) ------------------------------------------------------

  /** Runs {@code op} under the tree lock; an {@link Errno} failure becomes an error Mono. */
  private <T> Mono<T> locked(Callable<T> op) {
    synchronized (this) {
      try {
        T value = op.call();
        return value == null ? Mono.empty() : Mono.just(value);
      } catch (Exception e) {
        return Mono.error(e);
      }
    }
  }

  private Node node(long id) {
    Node n = nodes.get(id);
    if (n == null) {
      throw Errno.ENOENT.exception(); // only after a bug or a stale handle
    }
    return n;
  }

  private Node dir(long id) {
    Node n = node(id);
    if (!n.isDir()) {
      throw Errno.ENOTDIR.exception();
    }
    return n;
  }

  private static void checkName(String name) {
    if (FuseNames.encode(name).length > NAME_MAX) {
      throw Errno.ENAMETOOLONG.exception();
    }
  }

  private EntryReply entry(Node n) {
    n.lookups++;
    return new EntryReply(n.id, 0, n.attr(), timeout, timeout);
  }

  private Node newNode(FuseContext ctx, Node parent, String name, int mode) {
    checkName(name);
    if (parent.children.containsKey(name)) {
      throw Errno.EEXIST.exception();
    }
    Instant now = Instant.now();
    // A set-group-id directory hands its group down (and its bit, to subdirectories).
    boolean sgid = (parent.mode & 02000) != 0;
    Node n = new Node(nextId++, mode, ctx.uid(), sgid ? parent.gid : ctx.gid(), now);
    if (sgid && n.isDir()) {
      n.mode |= 02000;
    }
    nodes.put(n.id, n);
    addChild(parent, name, n);
    return n;
  }

  private static void addChild(Node dir, String name, Node child) {
    long cookie = dir.nextCookie++;
    dir.children.put(name, new Child(child.id, cookie));
    dir.byCookie.put(cookie, name);
    if (child.isDir()) {
      child.parent = dir.id;
      dir.nlink++;
    }
    touch(dir);
  }

  private Node removeChild(Node dir, String name) {
    Child c = dir.children.remove(name);
    dir.byCookie.remove(c.cookie());
    Node child = node(c.nodeId());
    if (child.isDir()) {
      dir.nlink--;
    }
    touch(dir);
    return child;
  }

  private static void touch(Node n) {
    Instant now = Instant.now();
    n.mtime = now;
    n.ctime = now;
  }

  /** One name of {@code n} is gone. */
  private void unlinked(Node n) {
    n.nlink = n.isDir() ? 0 : n.nlink - 1;
    n.ctime = Instant.now();
    dropIfUnused(n);
  }

  private void dropIfUnused(Node n) {
    if (n.nlink == 0 && n.lookups == 0 && n.openCount == 0 && n.id != Request.ROOT_ID) {
      nodes.remove(n.id);
      bytesUsed -= n.data.length;
    }
  }

  private Node lookupChild(Node dir, String name) {
    Child c = dir.children.get(name);
    if (c == null) {
      throw Errno.ENOENT.exception();
    }
    return node(c.nodeId());
  }

  private void resize(Node n, long newSize) {
    if (newSize > MAX_FILE) {
      throw Errno.EFBIG.exception();
    }
    int size = (int) newSize;
    if (size > n.data.length) {
      int capacity = (int) Math.min(MAX_FILE, Math.max(size, (long) n.data.length * 3 / 2));
      byte[] grown = new byte[capacity];
      System.arraycopy(n.data, 0, grown, 0, n.size);
      bytesUsed += grown.length - n.data.length;
      n.data = grown;
    } else if (size < n.size) {
      java.util.Arrays.fill(n.data, size, n.size, (byte) 0); // a later extension reads zeros
    }
    n.size = size;
  }

  // ---- handlers, in opcode order --------------------------------------------------------------

  @Override
  public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    return locked(() -> {
      checkName(req.name());
      return entry(lookupChild(dir(req.parent()), req.name()));
    });
  }

  @Override
  public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    return locked(() -> {
      Node n = nodes.get(req.nodeId());
      if (n != null) {
        n.lookups = Math.max(0, n.lookups - req.nlookup());
        dropIfUnused(n);
      }
      return null;
    });
  }

  @Override
  public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    return locked(() -> new AttrReply(node(req.nodeId()).attr(), timeout));
  }

  @Override
  public Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      Instant now = Instant.now();
      if (req.has(Request.Setattr.FATTR_SIZE)) {
        if (n.isDir()) {
          throw Errno.EISDIR.exception();
        }
        if (!n.isFile()) {
          throw Errno.EINVAL.exception();
        }
        resize(n, req.size());
        n.mtime = now;
      }
      if (req.has(Request.Setattr.FATTR_MODE)) {
        n.mode = (n.mode & Attr.S_IFMT) | (req.mode() & 07777);
      }
      if (req.has(Request.Setattr.FATTR_UID)) {
        n.uid = req.uid();
      }
      if (req.has(Request.Setattr.FATTR_GID)) {
        n.gid = req.gid();
      }
      if (req.has(Request.Setattr.FATTR_ATIME_NOW)) {
        n.atime = now;
      } else if (req.has(Request.Setattr.FATTR_ATIME)) {
        n.atime = Instant.ofEpochSecond(req.atimeSec(), req.atimeNsec());
      }
      if (req.has(Request.Setattr.FATTR_MTIME_NOW)) {
        n.mtime = now;
      } else if (req.has(Request.Setattr.FATTR_MTIME)) {
        n.mtime = Instant.ofEpochSecond(req.mtimeSec(), req.mtimeNsec());
      }
      n.ctime = req.has(Request.Setattr.FATTR_CTIME)
          ? Instant.ofEpochSecond(req.ctimeSec(), req.ctimeNsec()) : now;
      return new AttrReply(n.attr(), timeout);
    });
  }

  @Override
  public Mono<String> readlink(FuseContext ctx, Request.Readlink req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      if (n.target == null) {
        throw Errno.EINVAL.exception();
      }
      return n.target;
    });
  }

  @Override
  public Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    return locked(() -> {
      Node n = newNode(ctx, dir(req.parent()), req.name(), Attr.S_IFLNK | 0777);
      n.target = req.target();
      return entry(n);
    });
  }

  @Override
  public Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    return locked(() -> {
      Node n = newNode(ctx, dir(req.parent()), req.name(), req.mode());
      n.rdev = req.rdev();
      return entry(n);
    });
  }

  @Override
  public Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return locked(() ->
        entry(newNode(ctx, dir(req.parent()), req.name(), Attr.S_IFDIR | (req.mode() & 07777))));
  }

  @Override
  public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return locked(() -> {
      Node parent = dir(req.parent());
      if (lookupChild(parent, req.name()).isDir()) {
        throw Errno.EISDIR.exception();
      }
      unlinked(removeChild(parent, req.name()));
      return null;
    });
  }

  @Override
  public Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return locked(() -> {
      Node parent = dir(req.parent());
      Node victim = lookupChild(parent, req.name());
      if (!victim.isDir()) {
        throw Errno.ENOTDIR.exception();
      }
      if (!victim.children.isEmpty()) {
        throw Errno.ENOTEMPTY.exception();
      }
      unlinked(removeChild(parent, req.name()));
      return null;
    });
  }

  @Override
  public Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return rename2(ctx, req);
  }

  @Override
  public Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    return locked(() -> {
      int flags = req.flags();
      if ((flags & ~(Request.Rename.RENAME_NOREPLACE | Request.Rename.RENAME_EXCHANGE)) != 0
          || flags == (Request.Rename.RENAME_NOREPLACE | Request.Rename.RENAME_EXCHANGE)) {
        throw Errno.EINVAL.exception(); // RENAME_WHITEOUT is for overlay filesystems
      }
      checkName(req.newName());
      Node from = dir(req.parent());
      Node to = dir(req.newParent());
      Node moving = lookupChild(from, req.name());
      Child existing = to.children.get(req.newName());
      if ((flags & Request.Rename.RENAME_EXCHANGE) != 0) {
        if (existing == null) {
          throw Errno.ENOENT.exception();
        }
        exchange(from, req.name(), to, req.newName());
        return null;
      }
      if (existing != null) {
        if ((flags & Request.Rename.RENAME_NOREPLACE) != 0) {
          throw Errno.EEXIST.exception();
        }
        Node victim = node(existing.nodeId());
        if (victim == moving) {
          return null; // two names of one file: rename(2) does nothing
        }
        if (moving.isDir() && !victim.isDir()) {
          throw Errno.ENOTDIR.exception();
        }
        if (!moving.isDir() && victim.isDir()) {
          throw Errno.EISDIR.exception();
        }
        if (victim.isDir() && !victim.children.isEmpty()) {
          throw Errno.ENOTEMPTY.exception();
        }
        unlinked(removeChild(to, req.newName()));
      }
      removeChild(from, req.name());
      addChild(to, req.newName(), moving);
      moving.ctime = Instant.now();
      return null;
    });
  }

  private void exchange(Node from, String name, Node to, String newName) {
    Node a = lookupChild(from, name);
    Node b = lookupChild(to, newName);
    removeChild(from, name);
    removeChild(to, newName);
    addChild(from, name, b);
    addChild(to, newName, a);
    Instant now = Instant.now();
    a.ctime = now;
    b.ctime = now;
  }

  @Override
  public Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    return locked(() -> {
      Node target = node(req.nodeId());
      if (target.isDir()) {
        throw Errno.EPERM.exception();
      }
      Node parent = dir(req.newParent());
      checkName(req.newName());
      if (parent.children.containsKey(req.newName())) {
        throw Errno.EEXIST.exception();
      }
      addChild(parent, req.newName(), target);
      target.nlink++;
      target.ctime = Instant.now();
      return entry(target);
    });
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      if (n.isDir()) {
        throw Errno.EISDIR.exception();
      }
      n.openCount++;
      return OpenReply.of(n.id, OpenReply.FOPEN_KEEP_CACHE);
    });
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      int from = (int) Math.min(req.offset(), n.size);
      int count = Math.min(req.size(), n.size - from);
      // Copied under the lock: a concurrent write must not tear what this read returns.
      return PooledByteBufAllocator.DEFAULT.directBuffer(count).writeBytes(n.data, from, count);
    });
  }

  @Override
  public Mono<Integer> write(FuseContext ctx, Request.Write req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      int count = req.data().readableBytes();
      long end = req.offset() + count;
      if (end > n.size) {
        resize(n, end);
      }
      req.data().getBytes(req.data().readerIndex(), n.data, (int) req.offset(), count);
      touch(n);
      return count;
    });
  }

  @Override
  public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    return locked(() -> {
      long total = Runtime.getRuntime().maxMemory() / BLOCK;
      long free = Math.max(0, total - bytesUsed / BLOCK);
      long files = 1L << 24;
      return new StatfsReply(total, free, free, files, files - nodes.size(), BLOCK, NAME_MAX,
          BLOCK);
    });
  }

  @Override
  public Mono<Void> release(FuseContext ctx, Request.Release req) {
    return locked(() -> {
      Node n = nodes.get(req.nodeId());
      if (n != null) {
        n.openCount--;
        dropIfUnused(n);
      }
      return null;
    });
  }

  @Override
  public Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return Mono.empty(); // memory is as durable as it gets
  }

  @Override
  public Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    if (req.name().startsWith("system.")) {
      // POSIX ACLs live here. memfs keeps none: storing them as plain bytes would make cp -a
      // believe the permission bits were set through the ACL and skip its chmod.
      return Errno.EOPNOTSUPP.mono();
    }
    return locked(() -> {
      Node n = node(req.nodeId());
      Map<String, byte[]> x = n.xattrs == null ? new HashMap<>() : n.xattrs;
      boolean exists = x.containsKey(req.name());
      if ((req.flags() & Request.Setxattr.XATTR_CREATE) != 0 && exists) {
        throw Errno.EEXIST.exception();
      }
      if ((req.flags() & Request.Setxattr.XATTR_REPLACE) != 0 && !exists) {
        throw Errno.ENODATA.exception();
      }
      x.put(req.name(), req.value().clone());
      n.xattrs = x;
      n.ctime = Instant.now();
      return null;
    });
  }

  @Override
  public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      byte[] v = n.xattrs == null ? null : n.xattrs.get(req.name());
      if (v == null) {
        throw Errno.ENODATA.exception();
      }
      return v;
    });
  }

  @Override
  public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      return n.xattrs == null ? List.<String>of() : List.copyOf(n.xattrs.keySet());
    });
  }

  @Override
  public Mono<Void> removexattr(FuseContext ctx, Request.Removexattr req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      if (n.xattrs == null || n.xattrs.remove(req.name()) == null) {
        throw Errno.ENODATA.exception();
      }
      n.ctime = Instant.now();
      return null;
    });
  }

  @Override
  public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    return Mono.empty();
  }

  @Override
  public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return locked(() -> {
      dir(req.nodeId());
      return OpenReply.of(0);
    });
  }

  @Override
  public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    return locked(() -> listing(req.nodeId(), req.offset()))
        .flatMapMany(Flux::fromIterable)
        .map(Listed::dirEntry);
  }

  @Override
  public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    return locked(() -> listing(req.nodeId(), req.offset()))
        .flatMapMany(Flux::fromIterable)
        // The lookup is counted as each entry is taken; the framework hands back the one entry
        // that does not fit the kernel's buffer through forget().
        .concatMap(l -> locked(() -> plus(l)));
  }

  private DirEntryPlus plus(Listed l) {
    if (l.isDot()) {
      return new DirEntryPlus(l.dirEntry(), EntryReply.negative(Duration.ZERO));
    }
    Node n = nodes.get(l.dirEntry().ino());
    if (n == null) {
      // Removed since the listing was taken: a negative entry keeps the listing going.
      return new DirEntryPlus(l.dirEntry(), EntryReply.negative(Duration.ZERO));
    }
    return new DirEntryPlus(l.dirEntry(), entry(n));
  }

  /** One listed entry; "." and ".." carry no lookup. */
  private record Listed(DirEntry dirEntry, boolean isDot) {}

  /** A snapshot of the entries after {@code offset}, taken under the lock. */
  private List<Listed> listing(long dirId, long offset) {
    Node d = dir(dirId);
    List<Listed> out = new ArrayList<>();
    if (offset < 1) {
      out.add(new Listed(new DirEntry(d.id, 1, Attr.S_IFDIR >>> 12, "."), true));
    }
    if (offset < 2) {
      out.add(new Listed(new DirEntry(d.parent, 2, Attr.S_IFDIR >>> 12, ".."), true));
    }
    for (Map.Entry<Long, String> e : d.byCookie.tailMap(offset, false).entrySet()) {
      Node child = node(d.children.get(e.getValue()).nodeId());
      out.add(new Listed(
          new DirEntry(child.id, e.getKey(), child.attr().direntType(), e.getValue()), false));
    }
    return out;
  }

  @Override
  public Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
    return Mono.empty();
  }

  @Override
  public Mono<Void> fsyncdir(FuseContext ctx, Request.Fsync req) {
    return Mono.empty();
  }

  @Override
  public Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    return locked(() -> {
      Node parent = dir(req.parent());
      Child existing = parent.children.get(req.name());
      Node n;
      if (existing != null) {
        if ((req.flags() & 0200) != 0) { // O_EXCL
          throw Errno.EEXIST.exception();
        }
        n = node(existing.nodeId());
      } else {
        n = newNode(ctx, parent, req.name(), Attr.S_IFREG | (req.mode() & 07777));
      }
      if ((req.flags() & 01000) != 0 && n.isFile()) { // O_TRUNC
        resize(n, 0);
      }
      n.openCount++;
      return new CreateReply(entry(n), OpenReply.of(n.id, OpenReply.FOPEN_KEEP_CACHE));
    });
  }

  @Override
  public Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    return locked(() -> {
      if (req.mode() != 0) {
        throw Errno.EOPNOTSUPP.exception(); // punch-hole and friends: not for a byte array
      }
      Node n = node(req.nodeId());
      long end = req.offset() + req.length();
      if (end > n.size) {
        resize(n, end);
      }
      n.ctime = Instant.now();
      return null;
    });
  }
}
