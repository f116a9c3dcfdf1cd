package io.reactorfuse.samples.objectstore;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.LookupCache;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.function.Tuples;

/**
 * An S3 bucket as a filesystem: keys with {@code /} are paths, every request a Mono of the AWS
 * SDK's async client, so a request waiting for the network holds no thread.
 *
 * <h2>Layout</h2>
 * A key {@code a/b/c.txt} is the file {@code c.txt} in the directory {@code a/b}. A directory
 * exists when some key starts with its path and {@code /} (a common prefix of a delimited
 * listing) or when its zero-byte marker {@code a/b/} does; {@code mkdir} writes the marker. A
 * name that is both a key and a prefix is shown as the file (the keys under it cannot be reached
 * through the mount, as with s3fs). Keys that are no valid name
 * (empty components, {@code .}, {@code ..}, longer than 255 bytes) are not shown.
 *
 * <h2>Trade-offs</h2>
 * <ul>
 *   <li>S3 stores no mode, owner or times: every file is {@code 0644}, every directory
 *       {@code 0755}, owned by the mounting user; a file's times are its Last-Modified. chmod,
 *       chown and utimes succeed and change nothing (so that {@code cp -p} and {@code tar -x}
 *       work).</li>
 *   <li>Writes go to a local spool file and the whole object is uploaded at flush (every
 *       close(2)) and fsync, as one PUT or, above the multipart threshold, in parts. close()
 *       returns success only once S3 has the bytes; when the upload fails close() returns EIO,
 *       the next flush or the release tries again, and bytes that still cannot be uploaded are
 *       kept in the spool directory and logged, never dropped. Opening an existing object for
 *       writing without O_TRUNC downloads it first.</li>
 *   <li>Rename is copy then delete (S3 has no rename): a directory is renamed key by key, so
 *       another client may see it half-moved, and a failure in the middle leaves some keys at
 *       each name (run the rename again to finish it). Objects over 5 GiB cannot be copied.</li>
 *   <li>Reads are ranged GETs. A handle read sequentially has the bytes ahead of it fetched
 *       in chunks that double from 1 MiB to 8 MiB, several GETs at once, as far as the
 *       read-ahead limit; a random read fetches just what was asked. Chunks are pooled direct
 *       buffers, handed to the kernel without a copy; all handles together hold at most 16
 *       times the read-ahead, beyond which only what is asked for is fetched.</li>
 *   <li>Lookups ask HEAD for the key and for the directory marker, both at once, and list
 *       one key only for a name that is neither (a directory without marker, or nothing);
 *       READDIRPLUS gives the kernel every entry's attributes from the listing itself, so
 *       {@code ls -l} of a directory costs one LIST per 1,000 keys. A {@link LookupCache} in
 *       front ({@link #ops()}) answers repeated lookups and getattrs.</li>
 *   <li>Changes made by other clients are seen when the kernel's and the cache's timeouts
 *       expire, or at once after {@link #pollChanges()} (the CLI's {@code --poll}), which lists
 *       the directories the kernel knows and invalidates what changed.</li>
 * </ul>
 */
public final class ObjectStoreFs implements FuseOps, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ObjectStoreFs.class);
  private static final int NAME_MAX = 255;
  private static final int O_ACCMODE = 03;
  private static final int O_TRUNC = 01000;
  private static final int O_EXCL = 0200;
  private static final long FIRST_CHUNK = 1 << 20;
  /** The largest single GET of a sequential reader; more of them run at once within read-ahead. */
  private static final long MAX_CHUNK = 8 << 20;
  /** readdir offsets 1 and 2 are "." and ".."; listed entry i has offset i + 3. */
  private static final int DOTS = 2;
  /** How many directories a poll lists at once. */
  private static final int POLL_CONCURRENCY = 4;

  /** Settings that are not the bucket's. */
  public record Options(Duration cacheTimeout, Path spoolDir, long readAhead, int uid, int gid) {
    public Options {
      if (cacheTimeout.isNegative()) {
        throw new IllegalArgumentException("cache timeout must be >= 0, got " + cacheTimeout);
      }
      if (readAhead < FIRST_CHUNK) {
        throw new IllegalArgumentException("read-ahead must be at least 1 MiB, got "
            + readAhead);
      }
    }
  }

  private final Bucket bucket;
  private final Options options;
  /**
   * Bytes held in read chunks, fetched or on their way, over all handles; read-ahead stops at
   * {@code chunkBudget} (16 times a handle's read-ahead), so that a thousand sequential readers
   * cannot take a thousand times the read-ahead in direct memory. What a read asks for is
   * fetched regardless.
   */
  private final AtomicLong chunkBytes = new AtomicLong();
  private final long chunkBudget;
  private final LookupCache cache = LookupCache.builder().build();
  private final Instant mounted = Instant.now();

  // ---- state, guarded by this ----------------------------------------------------------------

  /** A file or directory the kernel knows, or one being written. */
  private static final class Node {
    final long id;
    final boolean dir;
    /** The key of a file; the prefix without its trailing slash for a directory; "" at root. */
    String path;
    long size;
    Instant modified;
    String etag;
    long lookups;
    int openCount;
    /** When size and etag were last read from S3 (System.nanoTime). */
    long fetchedAt;
    /** The local copy while the file is written (or was, and its upload failed). */
    Spool spool;
    Mono<Void> uploading;
    /** A multipart upload of the spool started while it is written (large files only). */
    Multipart multipart;
    /** Removed (unlink, rmdir, rename over it): nothing of it may be uploaded any more. */
    boolean removed;
    /** The etag whose pages the kernel may keep (FOPEN_KEEP_CACHE) at the next open. */
    String cachedEtag;
    /** Directories: names looked up and not found since the last poll (bounded). */
    Set<String> misses;

    Node(long id, boolean dir, String path) {
      this.id = id;
      this.dir = dir;
      this.path = path;
    }
  }

  private final Map<Long, Node> nodes = new HashMap<>();
  private final Map<String, Node> byPath = new HashMap<>();
  private long nextId = Request.ROOT_ID + 1;

  /** An open file: the node and, for reads, where the sequential read-ahead stands. */
  private static final class Handle {
    final Node node;
    // guarded by the handle
    /** Where a sequential reader reads next. */
    long nextOffset;
    /** How far beyond a read to fetch: doubles with each sequential read, to the limit. */
    long ahead = FIRST_CHUNK;
    /** The size of the next chunk fetched: doubles up to MAX_CHUNK. */
    long chunkSize = FIRST_CHUNK;
    /** Chunks fetched or being fetched, by start; contiguous, up to {@code fetchedTo}. */
    final TreeMap<Long, Chunk> chunks = new TreeMap<>();
    long fetchedTo;

    Handle(Node node) {
      this.node = node;
    }
  }

  /**
   * Bytes [start, start + length) of an object, fetched once however many reads wait, in a
   * pooled buffer that the handle releases when the chunk is dropped.
   */
  private static final class Chunk {
    final long start;
    final long length;
    /** The filesystem's count of bytes in chunks: this one is in it until dropped. */
    final AtomicLong held;
    /** Completes when the GET has: {@code buf} is set then, unless the chunk was dropped. */
    Mono<Void> ready;
    // guarded by the handle
    ByteBuf buf;
    boolean dropped;

    Chunk(long start, long length, AtomicLong held) {
      this.start = start;
      this.length = length;
      this.held = held;
      held.addAndGet(length);
    }

    long end() {
      return start + length;
    }

    /** Call with the handle's lock held. */
    void drop() {
      if (!dropped) {
        held.addAndGet(-length);
      }
      dropped = true;
      if (buf != null) {
        buf.release();
        buf = null;
      }
    }
  }

  /** An open directory: the entries listed so far, and where the listing goes on. */
  private static final class DirHandle {
    final Node dir;
    final String prefix;
    // guarded by the handle
    final List<Listed> entries = new ArrayList<>();
    final Set<String> names = new HashSet<>();
    String token;
    boolean done;
    Mono<Void> fetching;

    DirHandle(Node dir, String prefix) {
      this.dir = dir;
      this.prefix = prefix;
    }
  }

  /** One name of a listing: a directory, or a file with its metadata. */
  private record Listed(String name, boolean dir, Bucket.Info info) {}

  private final Map<Long, Handle> handles = new HashMap<>();
  private final Map<Long, DirHandle> dirHandles = new HashMap<>();
  private final AtomicLong nextFh = new AtomicLong(1);

  ObjectStoreFs(Bucket bucket, Options options) {
    this.bucket = bucket;
    this.options = options;
    this.chunkBudget = 16 * options.readAhead();
    Node root = new Node(Request.ROOT_ID, true, "");
    root.modified = mounted;
    root.lookups = 1; // the kernel holds the root without looking it up
    nodes.put(root.id, root);
    byPath.put("", root);
  }

  /**
   * Connects to the bucket and checks that it can be listed.
   *
   * @throws IllegalArgumentException saying what is wrong (server unreachable, no such bucket,
   *     credentials refused) and how to fix it
   */
  public static ObjectStoreFs connect(S3Settings s3, Options options) {
    Bucket bucket = new Bucket(s3);
    try {
      bucket.check().block(s3.timeout().plusSeconds(5));
      return new ObjectStoreFs(bucket, options);
    } catch (RuntimeException e) {
      bucket.close();
      throw e;
    }
  }

  /** What to mount: this filesystem behind its lookup cache. Call once. */
  public FuseOps ops() {
    return cache.wrap(this);
  }

  /**
   * The mount settings this filesystem wants: every READ is a network round trip, so the kernel
   * may keep many in flight (1,024 background requests instead of 12), and open(O_TRUNC) comes
   * as one OPEN instead of a truncate that would upload an empty object first.
   */
  public static io.reactorfuse.FuseServer tune(io.reactorfuse.FuseServer server) {
    return server.maxBackground(1024).congestionThreshold(768).atomicOTrunc(true);
  }

  @Override
  public void close() {
    bucket.close();
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * Runs {@code op} under the lock when subscribed (so that {@code .then(locked(..))} runs after
   * what precedes it); an {@link Errno} failure becomes an error Mono.
   */
  private <T> Mono<T> locked(Callable<T> op) {
    return Mono.defer(() -> {
      synchronized (this) {
        try {
          T value = op.call();
          return value == null ? Mono.empty() : Mono.just(value);
        } catch (Exception e) {
          return Mono.error(e);
        }
      }
    });
  }

  private Node node(long id) {
    Node n = nodes.get(id);
    if (n == null) {
      throw Errno.ENOENT.exception();
    }
    return n;
  }

  private Node dir(long id) {
    Node n = node(id);
    if (!n.dir) {
      throw Errno.ENOTDIR.exception();
    }
    return n;
  }

  private static String child(Node dir, String name) {
    if (FuseNames.encode(name).length > NAME_MAX) {
      throw Errno.ENAMETOOLONG.exception();
    }
    return dir.path.isEmpty() ? name : dir.path + "/" + name;
  }

  /** The listing prefix of a directory path. */
  private static String prefix(String dirPath) {
    return dirPath.isEmpty() ? "" : dirPath + "/";
  }

  private static String parentOf(String path) {
    int slash = path.lastIndexOf('/');
    return slash < 0 ? "" : path.substring(0, slash);
  }

  private static String nameOf(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  private static boolean validName(String name) {
    return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0
        && FuseNames.encode(name).length <= NAME_MAX;
  }

  /** The node at {@code path}, made or updated from what S3 said (call under the lock). */
  private Node known(String path, boolean dir, Bucket.Info info) {
    Node n = byPath.get(path);
    if (n == null || n.dir != dir) {
      n = new Node(nextId++, dir, path);
      n.modified = mounted;
      nodes.put(n.id, n);
      byPath.put(path, n);
    }
    if (info != null && n.spool == null) {
      fetched(n, info);
    }
    return n;
  }

  /** {@code n} is as S3 just described it (call under the lock). */
  private static void fetched(Node n, Bucket.Info info) {
    n.size = info.size();
    n.modified = info.modified();
    n.etag = info.etag();
    n.fetchedAt = System.nanoTime();
  }

  private void unmap(Node n) {
    if (byPath.get(n.path) == n) {
      byPath.remove(n.path);
    }
  }

  private void dropIfUnused(Node n) {
    if (n.lookups <= 0 && n.openCount == 0 && n.id != Request.ROOT_ID
        && (n.spool == null || n.removed)) {
      nodes.remove(n.id);
      unmap(n);
      if (n.spool != null) {
        n.spool.close();
        n.spool = null;
      }
    }
  }

  private long size(Node n) {
    return n.spool != null ? n.spool.size() : n.size;
  }

  private Attr attr(Node n) {
    long size = n.dir ? 4096 : size(n);
    return Attr.builder().ino(n.id).size(size).blocks((size + 511) / 512)
        .mode(n.dir ? Attr.S_IFDIR | 0755 : Attr.S_IFREG | 0644).nlink(n.dir ? 2 : 1)
        .uid(options.uid()).gid(options.gid()).blksize(1 << 20)
        .times(n.modified != null ? n.modified : mounted).build();
  }

  private EntryReply entry(Node n) {
    n.lookups++;
    return new EntryReply(n.id, 0, attr(n), options.cacheTimeout(), options.cacheTimeout());
  }

  private void remember(Node dir, String missing) {
    if (dir.misses == null) {
      dir.misses = new LinkedHashSet<>();
    }
    if (dir.misses.size() >= 10_000) { // keep the newest; a poll then misses the oldest names
      dir.misses.remove(dir.misses.iterator().next());
    }
    dir.misses.add(missing);
  }

  // ---- handlers, in opcode order --------------------------------------------------------------

  @Override
  public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    return locked(() -> child(dir(req.parent()), req.name())).flatMap(path -> locked(() -> {
      Node local = byPath.get(path);
      return local != null && local.spool != null ? entry(local) : null; // newer than S3
    }).switchIfEmpty(Mono.defer(() -> {
      // The key and the directory marker at once (two HEADs cost the server little); only a
      // name that is neither needs a listing, to find a directory that has no marker.
      return Mono.zip(bucket.head(path).map(Optional::of).defaultIfEmpty(Optional.empty()),
              bucket.head(path + "/").hasElement())
          .flatMap(found -> found.getT1().isPresent() || found.getT2()
              ? Mono.just(found)
              : bucket.anyUnder(path + "/").map(dir -> Tuples.of(found.getT1(), dir)))
          .flatMap(found -> locked(() -> {
            Bucket.Info file = found.getT1().orElse(null);
            boolean isDir = file == null && found.getT2();
            if (!isDir && file == null) {
              Node parent = nodes.get(req.parent());
              if (parent != null) {
                remember(parent, req.name());
              }
              return EntryReply.negative(options.cacheTimeout());
            }
            return entry(known(path, isDir, file));
          }));
    })));
  }

  @Override
  public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    return locked(() -> {
      Node n = nodes.get(req.nodeId());
      if (n != null) {
        n.lookups -= req.nlookup();
        dropIfUnused(n);
      }
      return null;
    });
  }

  @Override
  public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    return locked(() -> {
      Node n = node(req.nodeId());
      boolean fresh = n.dir || n.spool != null || n.etag == null
          || System.nanoTime() - n.fetchedAt < options.cacheTimeout().toNanos();
      return fresh ? new AttrReply(attr(n), options.cacheTimeout()) : null;
    }).switchIfEmpty(Mono.defer(() -> {
      String path;
      synchronized (this) {
        path = node(req.nodeId()).path;
      }
      return bucket.head(path)
          .switchIfEmpty(Mono.error(Errno.ENOENT.exception()))
          .flatMap(info -> locked(() -> {
            Node n = node(req.nodeId());
            if (n.spool == null && n.path.equals(path)) {
              fetched(n, info);
            }
            return new AttrReply(attr(n), options.cacheTimeout());
          }));
    }));
  }

  @Override
  public Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    if (!req.has(Request.Setattr.FATTR_SIZE)) {
      // mode, owner and times: S3 keeps none of them (see the class comment)
      return locked(() -> new AttrReply(attr(node(req.nodeId())), options.cacheTimeout()));
    }
    return locked(() -> node(req.nodeId()))
        .flatMap(n -> writable(n, req.size() == 0))
        .then(locked(() -> {
          Node n = node(req.nodeId());
          n.spool.truncate(req.size());
          n.modified = Instant.now();
          return n;
        }))
        // a truncate(2) by path has no flush to wait for
        .flatMap(n -> uploadIfClosed(n)
            .then(locked(() -> new AttrReply(attr(n), options.cacheTimeout()))));
  }

  /**
   * Uploads a node nobody has open and gives up its spool; an open one is uploaded at its
   * flush.
   */
  private Mono<Void> uploadIfClosed(Node n) {
    return Mono.defer(() -> {
      synchronized (this) {
        if (n.openCount > 0) {
          return Mono.empty();
        }
      }
      return upload(n).then(release(n));
    });
  }

  /** Gives up the spool of a node nobody has open, once it is uploaded. */
  private Mono<Void> release(Node n) {
    return locked(() -> {
      if (n.openCount == 0 && n.spool != null && (!n.spool.dirty() || n.removed)) {
        n.spool.close();
        n.spool = null;
        n.fetchedAt = System.nanoTime();
      }
      dropIfUnused(n);
      return null;
    });
  }

  @Override
  public Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return locked(() -> child(dir(req.parent()), req.name()))
        .flatMap(path -> bucket.put(path + "/", new byte[0])
            .then(locked(() -> {
              Node n = known(path, true, null);
              n.modified = Instant.now();
              return entry(n);
            })));
  }

  @Override
  public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return locked(() -> {
      String path = child(dir(req.parent()), req.name());
      Node n = byPath.get(path);
      if (n != null && n.dir) {
        throw Errno.EISDIR.exception();
      }
      return path;
    }).flatMap(path -> bucket.delete(path).then(removed(path)));
  }

  /** Drops the node's multipart upload, if it has one (call with the lock held). */
  private static void abortMultipart(Node n) {
    if (n.multipart != null) {
      n.multipart.abort().subscribe();
      n.multipart = null;
    }
  }

  /** The name {@code path} is gone: its node may not be uploaded again, nor found by name. */
  private Mono<Void> removed(String path) {
    return locked(() -> {
      Node n = byPath.get(path);
      if (n != null) {
        abortMultipart(n);
        n.removed = true;
        unmap(n);
        dropIfUnused(n);
      }
      return null;
    });
  }

  /** Fails with ENOTEMPTY unless no key but the marker {@code prefix} starts with it. */
  private Mono<Void> requireEmpty(String prefix) {
    return bucket.list(prefix, "/").take(1)
        .flatMap(page -> page.prefixes().isEmpty() && page.objects().stream()
            .allMatch(o -> o.key().equals(prefix)) ? Mono.empty() : Errno.ENOTEMPTY.mono())
        .then();
  }

  @Override
  public Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return locked(() -> {
      String path = child(dir(req.parent()), req.name());
      String prefix = prefix(path);
      for (Node n : byPath.values()) { // files created here and not uploaded yet
        if (n.path.startsWith(prefix) && n.spool != null && !n.removed) {
          throw Errno.ENOTEMPTY.exception();
        }
      }
      return path;
    }).flatMap(path -> requireEmpty(prefix(path))
        .then(bucket.delete(prefix(path)))
        .then(removed(path)));
  }

  @Override
  public Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return rename2(ctx, req);
  }

  @Override
  public Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    if ((req.flags() & ~Request.Rename.RENAME_NOREPLACE) != 0) {
      return Errno.EINVAL.mono(); // EXCHANGE and WHITEOUT cannot be done with copies
    }
    String[] paths = new String[2];
    Node moved;
    synchronized (this) {
      try {
        paths[0] = child(dir(req.parent()), req.name());
        paths[1] = child(dir(req.newParent()), req.newName());
      } catch (RuntimeException e) {
        return Mono.error(e);
      }
      moved = byPath.get(paths[0]);
    }
    String from = paths[0];
    String to = paths[1];
    if (from.equals(to)) {
      return Mono.empty();
    }
    // The kernel looked both names up before asking, so the node moved is known.
    if (moved == null) {
      return Errno.ENOENT.mono();
    }
    Mono<Void> check = (req.flags() & Request.Rename.RENAME_NOREPLACE) == 0 ? Mono.empty()
        : Mono.zip(bucket.head(to).hasElement(), bucket.anyUnder(to + "/"))
            .flatMap(t -> t.getT1() || t.getT2() ? Errno.EEXIST.mono() : Mono.<Void>empty());
    return check.then(moved.dir ? renameDir(moved, from, to) : renameFile(moved, from, to));
  }

  private Mono<Void> renameFile(Node moved, String from, String to) {
    Mono<Void> copy;
    synchronized (this) {
      // a file with unsent writes goes up under its new name at its flush; otherwise S3
      // copies what it has
      copy = moved.spool != null && moved.spool.dirty() ? Mono.empty() : bucket.copy(from, to);
    }
    return copy
        .then(locked(() -> {
          Node replaced = byPath.get(to);
          if (replaced != null && replaced != moved) {
            replaced.removed = true;
            unmap(replaced);
            dropIfUnused(replaced);
          }
          unmap(moved);
          moved.path = to;
          byPath.put(to, moved);
          return moved.spool != null; // uploaded at its flush, or now if nobody has it open
        }))
        .flatMap(spooled -> spooled ? uploadIfClosed(moved) : Mono.<Void>empty())
        .then(bucket.delete(from).onErrorResume(e -> Mono.empty()));
  }

  /** Every key under the directory, copied then deleted; not atomic (see the class comment). */
  private Mono<Void> renameDir(Node moved, String from, String to) {
    String fromPrefix = prefix(from);
    String toPrefix = prefix(to);
    return requireEmpty(toPrefix)
        .thenMany(bucket.list(fromPrefix, null))
        .concatMapIterable(Bucket.Page::objects)
        .flatMap(o -> bucket.copy(o.key(), toPrefix + o.key().substring(fromPrefix.length()))
            .thenReturn(o.key()), 8)
        .collectList()
        .flatMap(copied -> locked(() -> {
          // the nodes inside follow: they keep their ids, so open files stay open
          for (Node n : new ArrayList<>(byPath.values())) {
            if (n.path.startsWith(fromPrefix) || n == moved) {
              unmap(n);
              n.path = to + n.path.substring(from.length());
              byPath.put(n.path, n);
            }
          }
          return copied;
        }))
        .flatMap(keys -> deleteTree(keys, fromPrefix));
  }

  /**
   * Deletes keys, the objects first and then the directory markers, deepest first: a server that
   * keeps objects as files (s3proxy's filesystem store) refuses to drop a marker above objects.
   */
  private Mono<Void> deleteTree(List<String> keys, String marker) {
    List<String> markers = new ArrayList<>();
    List<String> objects = new ArrayList<>();
    for (String k : keys) {
      (k.endsWith("/") ? markers : objects).add(k);
    }
    markers.sort(java.util.Comparator.comparingInt(String::length).reversed());
    if (!markers.contains(marker)) {
      markers.add(marker);
    }
    return Flux.fromIterable(objects).flatMap(bucket::delete, 8)
        .thenMany(Flux.fromIterable(markers)
            .concatMap(k -> bucket.delete(k).onErrorResume(e -> Mono.empty())))
        .then();
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    boolean write = (req.flags() & O_ACCMODE) != 0;
    boolean trunc = (req.flags() & O_TRUNC) != 0;
    Node n;
    synchronized (this) {
      n = nodes.get(req.nodeId());
      if (n == null) {
        return Errno.ENOENT.mono();
      }
      n.openCount++; // before any wait, so that the node cannot be dropped meanwhile
    }
    Mono<Void> ready = write ? writable(n, trunc) : Mono.empty();
    return ready
        .then(locked(() -> {
          if (write && trunc && n.spool.size() > 0) {
            n.spool.truncate(0);
          }
          long fh = nextFh.getAndIncrement();
          handles.put(fh, new Handle(n));
          int flags = 0;
          if (n.spool == null && n.etag != null && n.etag.equals(n.cachedEtag)) {
            flags |= OpenReply.FOPEN_KEEP_CACHE; // unchanged since the pages were read
          }
          n.cachedEtag = n.spool == null ? n.etag : null;
          return OpenReply.of(fh, flags);
        }))
        .doOnError(e -> closed(n))
        .doOnCancel(() -> closed(n));
  }

  private void closed(Node n) {
    synchronized (this) {
      n.openCount--;
      dropIfUnused(n);
    }
  }

  /**
   * Makes sure {@code n} has a spool holding its content ({@code empty}: its content is about
   * to be cut to nothing, no need to download it).
   */
  private Mono<Void> writable(Node n, boolean empty) {
    String path;
    synchronized (this) {
      if (n.dir) {
        return Errno.EISDIR.mono();
      }
      if (n.spool != null) {
        return Mono.empty();
      }
      if (empty || n.size == 0) {
        n.spool = Spool.create(options.spoolDir(), bucket.partSize());
        if (n.size == 0 && n.etag != null) {
          n.spool.uploaded(n.spool.version()); // S3 has this (empty) content already
        }
        return Mono.empty();
      }
      path = n.path;
    }
    Path file = options.spoolDir().resolve("download-" + n.id + "-" + nextFh.getAndIncrement());
    return Mono.fromCallable(() -> Files.createDirectories(options.spoolDir()))
        .then(bucket.download(path, file))
        .then(locked(() -> {
          if (n.spool != null) { // another open won the race
            Files.deleteIfExists(file);
          } else {
            n.spool = Spool.adopt(file, bucket.partSize());
          }
          return null;
        }));
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    Handle h;
    long size;
    String path;
    synchronized (this) {
      h = handles.get(req.fh());
      if (h == null) {
        return Errno.EBADF.mono();
      }
      if (h.node.spool != null) {
        try {
          return Mono.just(h.node.spool.read(req.offset(), req.size()));
        } catch (RuntimeException e) {
          return Mono.error(e);
        }
      }
      size = h.node.size;
      path = h.node.path;
    }
    long end = Math.min(size, req.offset() + req.size());
    if (req.offset() >= end) {
      return Mono.just(Unpooled.EMPTY_BUFFER);
    }
    return readAhead(h, path, size, req.offset(), (int) (end - req.offset()));
  }

  /**
   * Serves [offset, offset + length) from the handle's chunks. A sequential reader has chunks
   * fetched ahead of it, several GETs at once, up to the read-ahead limit; a random read is one
   * GET of just what was asked.
   */
  private Mono<ByteBuf> readAhead(Handle h, String path, long size, long offset, int length) {
    List<Chunk> parts = new ArrayList<>(2);
    long stop = offset + length;
    synchronized (h) {
      // chunks wholly behind the reader are done with
      while (!h.chunks.isEmpty() && h.chunks.firstEntry().getValue().end() <= offset) {
        h.chunks.pollFirstEntry().getValue().drop();
      }
      boolean sequential = offset == h.nextOffset
          || !h.chunks.isEmpty() && h.chunks.firstKey() <= offset && offset < h.fetchedTo;
      h.nextOffset = stop;
      if (!sequential) {
        dropChunks(h);
        h.ahead = FIRST_CHUNK;
        h.chunkSize = FIRST_CHUNK;
        h.fetchedTo = stop;
        return bucket.get(path, offset, length);
      }
      if (h.chunks.isEmpty()) {
        h.fetchedTo = offset;
      }
      long target = Math.min(size, stop + h.ahead);
      while (h.fetchedTo < target) {
        long len = Math.min(h.chunkSize, size - h.fetchedTo);
        if (h.fetchedTo >= stop && chunkBytes.get() + len > chunkBudget) {
          break; // the budget is spent: this reader waits for what it asks, no more, for now
        }
        h.chunks.put(h.fetchedTo, fetch(h, path, h.fetchedTo, len));
        h.fetchedTo += len;
        h.chunkSize = Math.min(MAX_CHUNK, h.chunkSize * 2);
      }
      h.ahead = Math.min(options.readAhead(), h.ahead * 2);
      parts.addAll(h.chunks.subMap(h.chunks.floorKey(offset), true, stop, false).values());
    }
    return Flux.fromIterable(parts)
        .concatMap(c -> c.ready.then(Mono.defer(() -> {
          long from = Math.max(offset, c.start);
          synchronized (h) {
            if (c.buf != null) {
              int to = (int) Math.min(stop - c.start, c.buf.writerIndex());
              int at = (int) (from - c.start);
              return Mono.just(c.buf.retainedSlice(at, Math.max(0, to - at)));
            }
          }
          // dropped before this read got to it (a random read in between): ask again
          return bucket.get(path, from, Math.min(stop, c.end()) - from);
        })))
        .collectList()
        .map(bufs -> bufs.size() == 1 ? bufs.get(0)
            : Unpooled.wrappedBuffer(bufs.toArray(ByteBuf[]::new)))
        .doOnDiscard(ByteBuf.class, ByteBuf::release);
  }

  private static void dropChunks(Handle h) {
    for (Chunk c : h.chunks.values()) {
      c.drop();
    }
    h.chunks.clear();
  }

  /** A chunk whose GET starts now; a failed one is dropped so that the next read retries. */
  private Chunk fetch(Handle h, String path, long start, long length) {
    Chunk c = new Chunk(start, length, chunkBytes);
    c.ready = bucket.get(path, start, length)
        .doOnNext(buf -> {
          synchronized (h) {
            if (c.dropped) {
              buf.release();
            } else {
              c.buf = buf;
            }
          }
        })
        .doOnError(e -> {
          synchronized (h) {
            dropChunks(h); // and everything after it: the chunks must stay contiguous
          }
        })
        .then()
        .cache(v -> Duration.ofDays(365), e -> Duration.ZERO, () -> Duration.ofDays(365));
    c.ready.subscribe(v -> { }, e -> { }); // start now: this is the read-ahead
    return c;
  }

  @Override
  public Mono<Integer> write(FuseContext ctx, Request.Write req) {
    return locked(() -> {
      Handle h = handles.get(req.fh());
      if (h == null || h.node.spool == null) {
        throw Errno.EBADF.exception();
      }
      Node n = h.node;
      n.modified = Instant.now();
      int written = n.spool.write(req.data(), req.offset());
      if (n.spool.size() > bucket.multipartThreshold() && !n.removed) {
        if (n.multipart == null || !n.multipart.key.equals(n.path)) {
          abortMultipart(n);
          n.multipart = new Multipart(bucket, n.path);
        }
        n.multipart.wroteInto((int) (req.offset() / bucket.partSize()), n.spool);
      }
      return written;
    });
  }

  @Override
  public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    // S3 has no capacity; report plenty so that df and installers do not refuse to write.
    long blocks = 1L << 40;
    return Mono.just(new StatfsReply(blocks, blocks, blocks, 1L << 32, 1L << 32, 4096,
        NAME_MAX, 4096));
  }

  @Override
  public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    Node n;
    synchronized (this) {
      Handle h = handles.get(req.fh());
      if (h == null) {
        return Errno.EBADF.mono();
      }
      n = h.node;
    }
    return upload(n);
  }

  @Override
  public Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return flush(ctx, new Request.Flush(req.nodeId(), req.fh(), 0));
  }

  @Override
  public Mono<Void> release(FuseContext ctx, Request.Release req) {
    Node n;
    synchronized (this) {
      Handle h = handles.remove(req.fh());
      if (h == null) {
        return Mono.empty();
      }
      synchronized (h) {
        dropChunks(h);
      }
      n = h.node;
      n.openCount--;
    }
    // A flush that failed is tried once more; what still fails is kept, never dropped.
    return upload(n)
        .onErrorResume(e -> locked(() -> {
          if (n.openCount == 0 && n.spool != null) {
            abortMultipart(n);
            Path kept = n.spool.keep();
            LOG.error("could not upload {} to bucket {}: its bytes are kept in {}; copy them "
                + "back once the S3 server answers", n.path, bucket.name(), kept);
            n.spool = null;
            n.removed = true; // the object in S3 is older than what the writer wrote
          }
          return null;
        }))
        .then(release(n));
  }

  /** Uploads the node's spool if it holds bytes S3 does not have; one upload at a time. */
  private Mono<Void> upload(Node n) {
    return Mono.defer(() -> {
      Mono<Void> running;
      synchronized (this) {
        if (n.spool == null || !n.spool.dirty() || n.removed) {
          return Mono.empty();
        }
        if (n.uploading != null) {
          running = n.uploading; // then look again: writes may have come in meanwhile
        } else {
          long version = n.spool.version();
          long size = n.spool.size();
          String path = n.path;
          Spool spool = n.spool;
          Mono<String> send;
          if (size > bucket.multipartThreshold()) {
            if (n.multipart == null || !n.multipart.key.equals(path)) {
              abortMultipart(n);
              n.multipart = new Multipart(bucket, path);
            }
            send = n.multipart.finish(spool, size);
          } else {
            abortMultipart(n);
            send = Mono.fromCallable(() -> spool.copy(0, (int) size))
                .flatMap(body -> bucket.put(path, body));
          }
          n.multipart = null; // finished or aborted either way; later writes start another
          n.uploading = send
              .flatMap(etag -> locked(() -> {
                if (!path.equals(n.path)) {
                  return path; // renamed meanwhile: still to be sent, under the new name
                }
                spool.uploaded(version);
                if (n.spool == spool) {
                  n.etag = etag;
                  n.size = size;
                  n.modified = Instant.now();
                  n.fetchedAt = System.nanoTime();
                }
                return null;
              }))
              .flatMap(stray -> bucket.delete(stray)) // the copy left under the old name
              .then()
              // before the waiters hear of the end: they look again, and must not find this one
              .doOnTerminate(() -> {
                synchronized (this) {
                  n.uploading = null;
                }
              })
              .cache();
          return n.uploading;
        }
      }
      return running.onErrorResume(e -> Mono.empty()).then(Mono.defer(() -> upload(n)));
    });
  }

  @Override
  public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return locked(() -> {
      Node d = dir(req.nodeId());
      long fh = nextFh.getAndIncrement();
      dirHandles.put(fh, new DirHandle(d, prefix(d.path)));
      return OpenReply.of(fh);
    });
  }

  @Override
  public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    return listing(req).map(l -> l.dirEntry);
  }

  @Override
  public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    // The lookup is counted as each entry is taken; the framework hands back the one entry
    // that does not fit the kernel's buffer through forget().
    return listing(req).concatMap(l -> locked(() -> {
      if (l.listed == null) {
        return new DirEntryPlus(l.dirEntry, EntryReply.negative(Duration.ZERO));
      }
      Node dir = nodes.get(req.nodeId());
      if (dir == null) {
        throw Errno.ENOENT.exception();
      }
      Node n = known(child(dir, l.listed.name()), l.listed.dir(), l.listed.info());
      return new DirEntryPlus(new DirEntry(n.id, l.dirEntry.offset(), l.dirEntry.type(),
          l.dirEntry.name()), entry(n));
    }));
  }

  /** An entry to send: "." and ".." have no {@code listed}. */
  private record Sent(DirEntry dirEntry, Listed listed) {}

  private Flux<Sent> listing(Request.Readdir req) {
    DirHandle dh;
    synchronized (this) {
      dh = dirHandles.get(req.fh());
      if (dh == null) {
        return Flux.error(Errno.EBADF.exception());
      }
    }
    List<Sent> dots = new ArrayList<>(2);
    if (req.offset() < 1) {
      dots.add(new Sent(new DirEntry(dh.dir.id, 1, Attr.S_IFDIR >>> 12, "."), null));
    }
    if (req.offset() < 2) {
      dots.add(new Sent(new DirEntry(Request.ROOT_ID, 2, Attr.S_IFDIR >>> 12, ".."), null));
    }
    int from = (int) Math.max(0, req.offset() - DOTS);
    return Flux.concat(Flux.fromIterable(dots), listed(dh, from));
  }

  /** The listing from entry {@code index} on, fetching further pages as they are consumed. */
  private Flux<Sent> listed(DirHandle dh, int index) {
    return Flux.defer(() -> {
      List<Listed> have;
      boolean done;
      synchronized (dh) {
        have = index < dh.entries.size()
            ? new ArrayList<>(dh.entries.subList(index, dh.entries.size())) : List.of();
        done = dh.done;
      }
      Flux<Sent> now = Flux.range(0, have.size()).map(i -> {
        Listed l = have.get(i);
        int type = l.dir() ? Attr.S_IFDIR >>> 12 : Attr.S_IFREG >>> 12;
        long ino = (l.name().hashCode() & 0x7fffffffL) + 2; // readdir(3) only wants non-zero
        return new Sent(new DirEntry(ino, index + i + DOTS + 1, type, l.name()), l);
      });
      if (done) {
        return now;
      }
      int next = index + have.size();
      return Flux.concat(now, fetchPage(dh).thenMany(listed(dh, next)));
    });
  }

  /** Fetches the directory's next page of keys (one fetch at a time per handle). */
  private Mono<Void> fetchPage(DirHandle dh) {
    synchronized (dh) {
      if (dh.done) {
        return Mono.empty();
      }
      if (dh.fetching == null) {
        dh.fetching = bucket.listPage(dh.prefix, dh.token)
            .doOnNext(page -> addPage(dh, page))
            .then()
            .doFinally(s -> {
              synchronized (dh) {
                dh.fetching = null;
              }
            })
            .cache();
      }
      return dh.fetching;
    }
  }

  private void addPage(DirHandle dh, Bucket.Page page) {
    TreeMap<String, Listed> sorted = new TreeMap<>();
    for (String p : page.prefixes()) {
      String name = p.substring(dh.prefix.length(), p.length() - 1);
      if (validName(name)) {
        sorted.put(name, new Listed(name, true, null));
      }
    }
    for (Bucket.Info o : page.objects()) {
      String name = o.key().substring(dh.prefix.length());
      if (validName(name)) {
        sorted.put(name, new Listed(name, false, o)); // a key wins over a prefix, as in lookup
      }
    }
    List<Listed> pending = new ArrayList<>();
    if (page.nextToken() == null) {
      // files created here whose first upload has not happened yet are shown as well
      synchronized (this) {
        for (Node n : byPath.values()) {
          if (n.spool != null && !n.removed && !n.dir && parentOf(n.path).equals(dh.dir.path)
              && !n.path.equals(dh.dir.path)) {
            pending.add(new Listed(nameOf(n.path), false, null));
          }
        }
      }
    }
    synchronized (dh) {
      for (Listed l : sorted.values()) {
        if (dh.names.add(l.name())) {
          dh.entries.add(l);
        }
      }
      for (Listed l : pending) {
        if (dh.names.add(l.name())) {
          dh.entries.add(l);
        }
      }
      dh.token = page.nextToken();
      dh.done = page.nextToken() == null;
    }
  }

  @Override
  public Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
    return locked(() -> {
      dirHandles.remove(req.fh());
      return null;
    });
  }

  @Override
  public Mono<Void> fsyncdir(FuseContext ctx, Request.Fsync req) {
    return Mono.empty();
  }

  @Override
  public Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    boolean exclusive = (req.flags() & O_EXCL) != 0;
    String path;
    synchronized (this) {
      try {
        path = child(dir(req.parent()), req.name());
      } catch (RuntimeException e) {
        return Mono.error(e);
      }
    }
    // The kernel creates only names it found missing, but another client may have been faster.
    Mono<Void> check = exclusive
        ? bucket.head(path).hasElement().flatMap(exists -> exists
            ? Errno.EEXIST.mono() : Mono.<Void>empty())
        : Mono.empty();
    return check.then(locked(() -> {
      Node n = byPath.get(path);
      if (n != null && n.dir) {
        throw Errno.EISDIR.exception();
      }
      if (n == null || n.removed) {
        n = known(path, false, null);
      }
      if (n.spool == null) {
        n.spool = Spool.create(options.spoolDir(), bucket.partSize()); // dirty: even an empty file is uploaded
      } else if (n.spool.size() > 0) {
        n.spool.truncate(0);
      }
      n.size = 0;
      n.etag = null;
      n.modified = Instant.now();
      n.openCount++;
      long fh = nextFh.getAndIncrement();
      handles.put(fh, new Handle(n));
      return new CreateReply(entry(n), OpenReply.of(fh));
    }));
  }

  // ---- changes made by other clients -----------------------------------------------------------

  /**
   * Lists every directory the kernel knows and tells the cache and the kernel what changed since
   * they were told: keys that appeared under names they had found missing, objects whose etag
   * changed, names that went away. Completes when all is sent.
   */
  public Mono<Void> pollChanges() {
    List<Node> dirs;
    synchronized (this) {
      Set<Node> set = new LinkedHashSet<>();
      for (Node n : byPath.values()) {
        Node parent = n.dir ? n : byPath.get(parentOf(n.path));
        if (parent != null && parent.dir) {
          set.add(parent);
        }
      }
      dirs = new ArrayList<>(set);
    }
    return Flux.fromIterable(dirs)
        .flatMap(d -> bucket.list(prefix(d.path), "/").collectList()
            .flatMap(pages -> changes(d, pages))
            .onErrorResume(e -> {
              LOG.warn("poll of {}/ failed: {}", d.path, e.toString());
              return Mono.empty();
            }), POLL_CONCURRENCY)
        .then();
  }

  /** Compares one directory's listing with what is known and sends the invalidations. */
  private Mono<Void> changes(Node dir, List<Bucket.Page> pages) {
    List<Mono<Void>> notes = new ArrayList<>();
    synchronized (this) {
      if (nodes.get(dir.id) != dir) {
        return Mono.empty();
      }
      String prefix = prefix(dir.path);
      Map<String, Bucket.Info> files = new HashMap<>();
      Set<String> dirs = new HashSet<>();
      for (Bucket.Page p : pages) {
        for (String s : p.prefixes()) {
          dirs.add(s.substring(prefix.length(), s.length() - 1));
        }
        for (Bucket.Info o : p.objects()) {
          files.put(o.key().substring(prefix.length()), o);
        }
      }
      if (dir.misses != null) {
        for (String name : new ArrayList<>(dir.misses)) {
          if (files.containsKey(name) || dirs.contains(name)) {
            dir.misses.remove(name);
            notes.add(cache.invalidateEntry(dir.id, name));
          }
        }
      }
      for (Node n : new ArrayList<>(byPath.values())) {
        if (n == dir || !parentOf(n.path).equals(dir.path) || n.id == Request.ROOT_ID
            || n.spool != null || n.uploading != null) {
          continue;
        }
        String name = nameOf(n.path);
        Bucket.Info info = files.get(name);
        boolean gone = n.dir ? !dirs.contains(name) && info == null : info == null
            || dirs.contains(name);
        if (gone) {
          unmap(n);
          notes.add(cache.invalidateEntry(dir.id, name));
        } else if (!n.dir && !info.etag().equals(n.etag)) {
          fetched(n, info);
          notes.add(cache.invalidateNode(n.id));
        }
      }
    }
    // outside the lock: a notification may wait for the kernel
    return Flux.fromIterable(notes).flatMap(m -> m.onErrorResume(e -> Mono.empty())).then();
  }
}
