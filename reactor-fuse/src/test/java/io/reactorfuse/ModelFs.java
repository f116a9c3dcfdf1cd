package io.reactorfuse;

import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * An in-memory filesystem for the cache's tests: the truth a cached answer is compared with. Every
 * call takes effect when the method is called (its Mono is already complete), under one lock.
 * Each mutation advances a clock that stamps mtime/ctime, so any change shows in the attributes.
 * It counts the lookups it answers per node as a real backend must, gives a node id up when the
 * file is unlinked and forgotten (or, with {@code idsPerLookup}, as soon as it is forgotten), and
 * reuses freed ids (smallest first) so that a stale id in the cache would name another file. Misuse by the layer above (a FORGET of more than was looked up, of an
 * unknown node) is recorded in {@link #violations}.
 */
final class ModelFs implements FuseOps {
  static final long ROOT = Request.ROOT_ID;
  private static final int O_TRUNC = 01000;

  private final Duration entryTimeout;
  private final Duration attrTimeout;
  private final Duration negativeTimeout;
  /** Whether a node id is given up when its lookups reach 0, even for a file still linked. */
  private final boolean idsPerLookup;
  /** The nodes that have an id now, by id. */
  private final Map<Long, MNode> nodes = new HashMap<>();
  private final TreeSet<Long> freeIds = new TreeSet<>();
  private long nextId = ROOT + 1;
  private long nextIno = ROOT + 1;
  private long clock = 1;

  final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  /** Lookups handed out and forgotten, over the whole run, per node id. */
  final Map<Long, Long> served = new ConcurrentHashMap<>();
  final Map<Long, Long> forgotten = new ConcurrentHashMap<>();

  /** An inode. Its node id is 0 while it has none. */
  private static final class MNode {
    final long ino;
    long id;
    int mode;
    long size;
    int nlink;
    long mtime;
    long ctime;
    long lookups;
    MNode parent;
    final TreeMap<String, MNode> children;

    MNode(long ino, int mode, MNode parent, long now) {
      this.ino = ino;
      this.mode = mode;
      this.parent = parent;
      this.nlink = dir(mode) ? 2 : 1;
      this.mtime = now;
      this.ctime = now;
      this.children = dir(mode) ? new TreeMap<>() : null;
    }

    boolean isDir() {
      return children != null;
    }
  }

  /**
   * @param negativeTimeout how long a missing name may be cached (zero: answer ENOENT)
   */
  ModelFs(Duration entryTimeout, Duration attrTimeout, Duration negativeTimeout) {
    this(entryTimeout, attrTimeout, negativeTimeout, false);
  }

  /**
   * @param idsPerLookup give a node id up when its lookups reach 0 (and hand out the smallest
   *     free one at the next lookup), as a passthrough that keeps ids only for what the kernel
   *     holds; otherwise an id lives as long as its file
   */
  ModelFs(Duration entryTimeout, Duration attrTimeout, Duration negativeTimeout,
      boolean idsPerLookup) {
    this.entryTimeout = entryTimeout;
    this.attrTimeout = attrTimeout;
    this.negativeTimeout = negativeTimeout;
    this.idsPerLookup = idsPerLookup;
    MNode root = new MNode(ROOT, Attr.S_IFDIR | 0755, null, 0);
    root.id = ROOT;
    root.parent = root;
    nodes.put(ROOT, root);
  }

  private static boolean dir(int mode) {
    return (mode & Attr.S_IFMT) == Attr.S_IFDIR;
  }

  int calls(String op) {
    return calls.computeIfAbsent(op, k -> new AtomicInteger()).get();
  }

  private void call(String op) {
    calls.computeIfAbsent(op, k -> new AtomicInteger()).incrementAndGet();
  }

  // --- the truth, without counting anything -----------------------------------------------------

  /** The node id {@code name} in {@code parent} has, 0 if none is there, -1 if it has no id. */
  synchronized long nodeAt(long parent, String name) {
    MNode p = nodes.get(parent);
    if (p == null || !p.isDir()) {
      return 0;
    }
    MNode c = p.children.get(name);
    return c == null ? 0 : c.id == 0 ? -1 : c.id;
  }

  /** The attributes of node {@code n}, or null if no node has that id. */
  synchronized Attr attrOf(long n) {
    MNode node = nodes.get(n);
    return node == null ? null : attr(node);
  }

  synchronized boolean isDir(long n) {
    MNode node = nodes.get(n);
    return node != null && node.isDir();
  }

  /** The backend's outstanding lookups of {@code n}. */
  synchronized long lookups(long n) {
    MNode node = nodes.get(n);
    return node == null ? 0 : node.lookups;
  }

  /** Node ids with lookups outstanding. */
  synchronized List<Long> looked() {
    List<Long> r = new ArrayList<>();
    nodes.values().forEach(x -> {
      if (x.lookups != 0) {
        r.add(x.id);
      }
    });
    return r;
  }

  /** Adds a node behind the cache's back, without counting a lookup; returns its id. */
  synchronized long addOutside(long parent, String name, int mode) {
    EntryReply e = make(parent, name, mode);
    MNode n = nodes.get(e.nodeId());
    n.lookups--;
    served.merge(n.id, -1L, Long::sum);
    return n.id;
  }

  /** Changes a file behind the cache's back (another client): its size and times. */
  synchronized void resizeOutside(long n, long size) {
    MNode node = nodes.get(n);
    node.size = size;
    node.mtime = node.ctime = ++clock;
  }

  /** Removes a name behind the cache's back. */
  synchronized void unlinkOutside(long parent, String name) {
    MNode p = nodes.get(parent);
    MNode child = p.children.remove(name);
    p.mtime = p.ctime = ++clock;
    child.nlink = child.isDir() ? 0 : child.nlink - 1;
    child.ctime = clock;
    maybeFree(child);
  }

  private Attr attr(MNode n) {
    return Attr.builder().ino(n.ino).mode(n.mode).size(n.size).nlink(n.nlink)
        .atime(Instant.ofEpochSecond(n.mtime)).mtime(Instant.ofEpochSecond(n.mtime))
        .ctime(Instant.ofEpochSecond(n.ctime)).build();
  }

  /** An entry for {@code n}: gives it an id if it has none, and counts the lookup. */
  private EntryReply entry(MNode n) {
    if (n.id == 0) {
      Long id = freeIds.pollFirst();
      n.id = id != null ? id : nextId++;
      nodes.put(n.id, n);
    }
    n.lookups++;
    served.merge(n.id, 1L, Long::sum);
    return new EntryReply(n.id, 0, attr(n), entryTimeout, attrTimeout);
  }

  /** Gives the node's id up once nothing holds it (and the node itself once unlinked, too). */
  private void maybeFree(MNode n) {
    if (n.id != ROOT && n.id != 0 && n.lookups == 0 && (n.nlink == 0 || idsPerLookup)) {
      nodes.remove(n.id);
      freeIds.add(n.id);
      n.id = 0;
    }
  }

  private MNode dirNode(long id) {
    MNode d = nodes.get(id);
    if (d == null || d.nlink == 0) { // a removed directory holds nothing, and gets nothing
      throw Errno.ENOENT.exception();
    }
    if (!d.isDir()) {
      throw Errno.ENOTDIR.exception();
    }
    return d;
  }

  private MNode node(long id) {
    MNode n = nodes.get(id);
    if (n == null) {
      throw Errno.ENOENT.exception();
    }
    return n;
  }

  private static <T> Mono<T> run(java.util.function.Supplier<T> body) {
    try {
      return Mono.justOrEmpty(body.get());
    } catch (ErrnoException e) {
      return Mono.error(e);
    }
  }

  // --- FuseOps -----------------------------------------------------------------------------------

  @Override
  public synchronized Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    call("lookup");
    return run(() -> {
      MNode p = dirNode(req.parent());
      MNode c = p.children.get(req.name());
      if (c == null) {
        if (negativeTimeout.isZero()) {
          throw Errno.ENOENT.exception();
        }
        return EntryReply.negative(negativeTimeout);
      }
      return entry(c);
    });
  }

  @Override
  public synchronized Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    call("forget");
    forgetOne(req);
    return Mono.empty();
  }

  @Override
  public synchronized Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
    call("batchForget");
    req.forgets().forEach(this::forgetOne);
    return Mono.empty();
  }

  private void forgetOne(Request.Forget f) {
    MNode n = nodes.get(f.nodeId());
    forgotten.merge(f.nodeId(), f.nlookup(), Long::sum);
    if (n == null) {
      violations.add("FORGET of unknown node " + f);
      return;
    }
    n.lookups -= f.nlookup();
    if (n.lookups < 0) {
      violations.add("FORGET below zero: " + f + " leaves " + n.lookups);
    }
    maybeFree(n);
  }

  @Override
  public synchronized Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    call("getattr");
    return run(() -> new AttrReply(attr(node(req.nodeId())), attrTimeout));
  }

  @Override
  public synchronized Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    call("setattr");
    return run(() -> {
      MNode n = node(req.nodeId());
      n.ctime = ++clock;
      if (req.has(Request.Setattr.FATTR_SIZE)) {
        n.size = req.size();
        n.mtime = clock;
      }
      if (req.has(Request.Setattr.FATTR_MODE)) {
        n.mode = (n.mode & Attr.S_IFMT) | (req.mode() & 07777);
      }
      return new AttrReply(attr(n), attrTimeout);
    });
  }

  private EntryReply make(long parent, String name, int mode) {
    MNode p = dirNode(parent);
    if (p.children.containsKey(name)) {
      throw Errno.EEXIST.exception();
    }
    MNode n = new MNode(nextIno++, mode, p, ++clock);
    p.children.put(name, n);
    p.mtime = p.ctime = clock;
    if (n.isDir()) {
      p.nlink++;
    }
    return entry(n);
  }

  @Override
  public synchronized Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    call("symlink");
    return run(() -> make(req.parent(), req.name(), Attr.S_IFLNK | 0777));
  }

  @Override
  public synchronized Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    call("mknod");
    return run(() -> make(req.parent(), req.name(), req.mode()));
  }

  @Override
  public synchronized Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    call("mkdir");
    return run(() -> make(req.parent(), req.name(), Attr.S_IFDIR | req.mode()));
  }

  @Override
  public synchronized Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    call("create");
    return run(() -> new CreateReply(make(req.parent(), req.name(), Attr.S_IFREG | req.mode()),
        OpenReply.of(0)));
  }

  @Override
  public synchronized Mono<CreateReply> tmpfile(FuseContext ctx, Request.Create req) {
    call("tmpfile");
    return run(() -> {
      MNode p = dirNode(req.parent());
      MNode n = new MNode(nextIno++, Attr.S_IFREG | req.mode(), p, ++clock);
      n.nlink = 0;
      return new CreateReply(entry(n), OpenReply.of(0));
    });
  }

  @Override
  public synchronized Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    call("unlink");
    return run(() -> {
      MNode p = dirNode(req.parent());
      MNode c = child(p, req.name());
      if (c.isDir()) {
        throw Errno.EISDIR.exception();
      }
      p.children.remove(req.name());
      p.mtime = p.ctime = ++clock;
      c.nlink--;
      c.ctime = clock;
      maybeFree(c);
      return null;
    });
  }

  @Override
  public synchronized Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    call("rmdir");
    return run(() -> {
      MNode p = dirNode(req.parent());
      MNode c = child(p, req.name());
      if (!c.isDir()) {
        throw Errno.ENOTDIR.exception();
      }
      if (!c.children.isEmpty()) {
        throw Errno.ENOTEMPTY.exception();
      }
      p.children.remove(req.name());
      p.nlink--;
      p.mtime = p.ctime = ++clock;
      c.nlink = 0;
      c.ctime = clock;
      maybeFree(c);
      return null;
    });
  }

  private static MNode child(MNode p, String name) {
    MNode c = p.children.get(name);
    if (c == null) {
      throw Errno.ENOENT.exception();
    }
    return c;
  }

  @Override
  public synchronized Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    call("rename");
    return run(() -> doRename(req));
  }

  @Override
  public synchronized Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    call("rename2");
    return run(() -> doRename(req));
  }

  private Void doRename(Request.Rename req) {
    MNode p = dirNode(req.parent());
    MNode np = dirNode(req.newParent());
    MNode moved = child(p, req.name());
    MNode victim = np.children.get(req.newName());
    boolean exchange = (req.flags() & Request.Rename.RENAME_EXCHANGE) != 0;
    if ((req.flags() & Request.Rename.RENAME_NOREPLACE) != 0 && victim != null) {
      throw Errno.EEXIST.exception();
    }
    if (exchange && victim == null) {
      throw Errno.ENOENT.exception();
    }
    if (victim == moved) {
      return null; // the same file: nothing happens
    }
    if (moved.isDir() && isAncestor(moved, np)) {
      throw Errno.EINVAL.exception();
    }
    if (exchange) {
      if (victim.isDir() && isAncestor(victim, p)) {
        throw Errno.EINVAL.exception();
      }
      p.children.put(req.name(), victim);
      np.children.put(req.newName(), moved);
      move(moved, p, np);
      move(victim, np, p);
      victim.ctime = ++clock;
    } else {
      if (victim != null) {
        if (victim.isDir() != moved.isDir()) {
          throw victim.isDir() ? Errno.EISDIR.exception() : Errno.ENOTDIR.exception();
        }
        if (victim.isDir() && !victim.children.isEmpty()) {
          throw Errno.ENOTEMPTY.exception();
        }
      }
      p.children.remove(req.name());
      np.children.put(req.newName(), moved);
      move(moved, p, np);
      clock++;
      if (victim != null) {
        if (victim.isDir()) {
          victim.nlink = 0;
          np.nlink--;
        } else {
          victim.nlink--;
        }
        victim.ctime = clock;
        maybeFree(victim);
      }
    }
    moved.ctime = clock;
    p.mtime = p.ctime = clock;
    np.mtime = np.ctime = clock;
    return null;
  }

  private void move(MNode n, MNode from, MNode to) {
    if (n.isDir() && from != to) {
      from.nlink--;
      to.nlink++;
      n.parent = to;
    }
  }

  /** Whether {@code a} is {@code b} or one of its ancestors. */
  private boolean isAncestor(MNode a, MNode b) {
    MNode x = b;
    for (int depth = 0; ; depth++) {
      if (depth > 10_000) {
        violations.add("a cycle in the model's tree above " + b.ino);
        return true;
      }
      if (x == a) {
        return true;
      }
      if (x.parent == x) {
        return false;
      }
      x = x.parent;
    }
  }

  @Override
  public synchronized Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    call("link");
    return run(() -> {
      MNode n = node(req.nodeId());
      if (n.isDir()) {
        throw Errno.EPERM.exception();
      }
      MNode p = dirNode(req.newParent());
      if (p.children.containsKey(req.newName())) {
        throw Errno.EEXIST.exception();
      }
      p.children.put(req.newName(), n);
      p.mtime = p.ctime = ++clock;
      n.nlink++;
      n.ctime = clock;
      return entry(n);
    });
  }

  @Override
  public synchronized Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    call("open");
    return run(() -> {
      MNode n = node(req.nodeId());
      if ((req.flags() & O_TRUNC) != 0) {
        n.size = 0;
        n.mtime = n.ctime = ++clock;
      }
      return OpenReply.of(0);
    });
  }

  @Override
  public synchronized Mono<Integer> write(FuseContext ctx, Request.Write req) {
    call("write");
    return run(() -> {
      MNode n = node(req.nodeId());
      int len = req.data().readableBytes();
      n.size = Math.max(n.size, req.offset() + len);
      n.mtime = n.ctime = ++clock;
      return len;
    });
  }

  @Override
  public synchronized Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    call("fallocate");
    return run(() -> {
      MNode n = node(req.nodeId());
      if ((req.mode() & 1) == 0) { // FALLOC_FL_KEEP_SIZE
        n.size = Math.max(n.size, req.offset() + req.length());
      }
      n.ctime = ++clock;
      return null;
    });
  }

  @Override
  public synchronized Mono<Long> copyFileRange(FuseContext ctx, Request.CopyFileRange req) {
    call("copyFileRange");
    return run(() -> {
      MNode in = node(req.nodeId());
      MNode out = node(req.nodeIdOut());
      long len = Math.max(0, Math.min(req.len(), in.size - req.offIn()));
      out.size = Math.max(out.size, req.offOut() + len);
      out.mtime = out.ctime = ++clock;
      return len;
    });
  }

  @Override
  public synchronized Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    call("setxattr");
    return run(() -> {
      node(req.nodeId()).ctime = ++clock;
      return null;
    });
  }

  @Override
  public synchronized Mono<Void> removexattr(FuseContext ctx, Request.Removexattr req) {
    call("removexattr");
    return run(() -> {
      node(req.nodeId()).ctime = ++clock;
      return null;
    });
  }

  @Override
  public synchronized Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    call("readdir");
    List<DirEntry> out = new ArrayList<>();
    MNode d = nodes.get(req.nodeId());
    if (d == null || !d.isDir()) {
      return Flux.error(Errno.ENOTDIR.exception());
    }
    int i = 0;
    for (Map.Entry<String, MNode> e : d.children.entrySet()) {
      i++;
      if (i > req.offset()) {
        out.add(new DirEntry(e.getValue().ino, i, e.getValue().mode >>> 12, e.getKey()));
      }
    }
    return Flux.fromIterable(out);
  }

  /** Each entry's lookup is counted as it is produced, like a backend that builds them lazily. */
  @Override
  public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    call("readdirplus");
    return readdir(ctx, req).concatMap(d -> Mono.fromCallable(() -> {
      synchronized (this) {
        MNode dir = nodes.get(req.nodeId());
        MNode n = dir == null ? null : dir.children.get(d.name());
        if (n == null) {
          return new DirEntryPlus(d, EntryReply.negative(Duration.ZERO));
        }
        return new DirEntryPlus(d, entry(n));
      }
    }));
  }
}
