package io.reactorfuse.samples.passthrough;

import static io.reactorfuse.samples.passthrough.PassthroughSys.O_APPEND;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_CREAT;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_DIRECTORY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_EXCL;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_RDONLY;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_RDWR;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_TRUNC;
import static io.reactorfuse.samples.passthrough.PassthroughSys.O_WRONLY;
import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.ErrnoException;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.samples.passthrough.PassthroughFs.CacheMode;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Recovery without a mount: the ops called directly, as the dispatcher would after a takeover.
 * A request resent with {@code maybeApplied} that finds its own effect already done succeeds;
 * the same request served for the first time still fails. And a filesystem built over a
 * predecessor's store serves that predecessor's node ids and handles.
 */
class PassthroughRecoveryTest {
  private static final long ROOT = Request.ROOT_ID;
  private static final int FILE = Attr.S_IFREG | 0644;

  /**
   * Every call runs here, never on JUnit's thread: calls made as the caller give their thread a
   * private umask of 0 (unshare(CLONE_FS)), which must not leak into later tests.
   */
  private ExecutorService thread;
  private Path source;
  private final List<PassthroughFs> filesystems = new ArrayList<>();
  private PassthroughFs fs;
  private long unique;

  @BeforeEach
  void setUp() throws Exception {
    // Root, as the daemon runs: open_by_handle_at and linkat(AT_EMPTY_PATH) need it.
    FuseTestSupport.requireFuse();
    thread = Executors.newSingleThreadExecutor();
    source = Files.createTempDirectory("passthrough-recovery-");
    fs = open(null);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      for (PassthroughFs f : filesystems) {
        f.close();
      }
    } finally {
      if (thread != null) {
        thread.shutdownNow();
      }
      if (source != null) {
        sh("rm -rf '" + source + "'");
      }
    }
  }

  private PassthroughFs open(MemoryStateStore store) {
    PassthroughFs f = new PassthroughFs(source, CacheMode.AUTO, false, 0, store);
    filesystems.add(f);
    return f;
  }

  /** A request from root (pid 1, umask 022), resent with {@code maybeApplied} or not. */
  private FuseContext ctx(boolean maybeApplied) {
    unique += 2;
    return new FuseContext(unique, ROOT, 0, 0, 1, 022, maybeApplied);
  }

  private <T> T call(Supplier<Mono<T>> op) throws Exception {
    try {
      return thread.submit(() -> op.get().block()).get(FuseTestSupport.WAIT.toSeconds(),
          TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }

  private Errno fails(Supplier<Mono<?>> op) {
    return assertThrows(ErrnoException.class, () -> call(op::get)).errno();
  }

  private EntryReply lookup(PassthroughFs f, long parent, String name) throws Exception {
    return call(() -> f.lookup(ctx(false), new Request.Lookup(parent, name)));
  }

  private long ino(String name) throws Exception {
    return (long) Files.getAttribute(source.resolve(name), "unix:ino",
        java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }

  private String read(PassthroughFs f, long node, long fh) throws Exception {
    ByteBuf b = call(() -> f.read(ctx(false), new Request.Read(node, fh, 0, 4096, 0, 0, 0)));
    try {
      return b.toString(StandardCharsets.UTF_8);
    } finally {
      b.release();
    }
  }

  private int write(PassthroughFs f, long node, long fh, long offset, String s)
      throws Exception {
    ByteBuf data = Unpooled.directBuffer().writeBytes(s.getBytes(StandardCharsets.UTF_8));
    try {
      return call(() -> f.write(ctx(false), new Request.Write(node, fh, offset, 0, 0, 0, data)));
    } finally {
      data.release();
    }
  }

  @Test
  void maybeApplied_madeAlready_answersWithTheEntry() throws Exception {
    Files.createDirectory(source.resolve("d"));
    sh("mkfifo '" + source.resolve("p") + "'");
    Files.createSymbolicLink(source.resolve("s"), Path.of("target"));
    Files.writeString(source.resolve("f"), "f");
    Files.createLink(source.resolve("h"), source.resolve("f"));
    long f = lookup(fs, ROOT, "f").nodeId();

    EntryReply d = call(() -> fs.mkdir(ctx(true), new Request.Mkdir(ROOT, "d", 0755, 022)));
    assertEquals(ino("d"), d.attr().ino());
    EntryReply p = call(() -> fs.mknod(ctx(true),
        new Request.Mknod(ROOT, "p", Attr.S_IFIFO | 0644, 0, 022)));
    assertEquals(ino("p"), p.attr().ino());
    EntryReply s = call(() -> fs.symlink(ctx(true), new Request.Symlink(ROOT, "s", "target")));
    assertEquals(ino("s"), s.attr().ino());
    EntryReply h = call(() -> fs.link(ctx(true), new Request.Link(f, ROOT, "h")));
    assertEquals(f, h.nodeId());

    // Served for the first time, the same requests fail as they always did.
    assertEquals(Errno.EEXIST, fails(() -> fs.mkdir(ctx(false),
        new Request.Mkdir(ROOT, "d", 0755, 022))));
    assertEquals(Errno.EEXIST, fails(() -> fs.mknod(ctx(false),
        new Request.Mknod(ROOT, "p", Attr.S_IFIFO | 0644, 0, 022))));
    assertEquals(Errno.EEXIST, fails(() -> fs.symlink(ctx(false),
        new Request.Symlink(ROOT, "s", "target"))));
    assertEquals(Errno.EEXIST, fails(() -> fs.link(ctx(false), new Request.Link(f, ROOT, "h"))));
  }

  @Test
  void maybeApplied_somethingElseThere_isStillEEXIST() throws Exception {
    Files.writeString(source.resolve("file"), "x");
    Files.createDirectory(source.resolve("dir"));
    Files.createSymbolicLink(source.resolve("s"), Path.of("elsewhere"));
    Files.writeString(source.resolve("other"), "y");
    long file = lookup(fs, ROOT, "file").nodeId();
    int nodes = fs.nodeCount();

    assertEquals(Errno.EEXIST, fails(() -> fs.mkdir(ctx(true),
        new Request.Mkdir(ROOT, "file", 0755, 022))));
    assertEquals(Errno.EEXIST, fails(() -> fs.mknod(ctx(true),
        new Request.Mknod(ROOT, "dir", Attr.S_IFIFO | 0644, 0, 022))));
    assertEquals(Errno.EEXIST, fails(() -> fs.symlink(ctx(true),
        new Request.Symlink(ROOT, "s", "target"))));
    assertEquals(Errno.EEXIST, fails(() -> fs.link(ctx(true),
        new Request.Link(file, ROOT, "other"))));
    assertEquals(Errno.EEXIST, fails(() -> fs.create(ctx(true),
        new Request.Create(ROOT, "dir", O_CREAT | O_EXCL | O_RDWR, FILE, 022, 0))));
    assertEquals(nodes, fs.nodeCount(), "the lookups made to compare were given back");
  }

  @Test
  void maybeApplied_createExcl_opensTheFileItMade() throws Exception {
    Files.writeString(source.resolve("c"), "made");
    int flags = O_CREAT | O_EXCL | O_RDWR;
    assertEquals(Errno.EEXIST, fails(() -> fs.create(ctx(false),
        new Request.Create(ROOT, "c", flags, FILE, 022, 0))));

    CreateReply r = call(() -> fs.create(ctx(true),
        new Request.Create(ROOT, "c", flags | O_TRUNC, FILE, 022, 0)));
    assertEquals(ino("c"), r.entry().attr().ino());
    assertEquals("made", read(fs, r.entry().nodeId(), r.open().fh()), "not truncated again");
    call(() -> fs.release(ctx(false),
        new Request.Release(r.entry().nodeId(), r.open().fh(), flags, 0, 0)));
  }

  @Test
  void maybeApplied_removedOrSetAlready_succeeds() throws Exception {
    Files.writeString(source.resolve("there"), "t");
    assertEquals(Errno.ENOENT, fails(() -> fs.unlink(ctx(false),
        new Request.Unlink(ROOT, "gone"))));
    call(() -> fs.unlink(ctx(true), new Request.Unlink(ROOT, "gone")));
    assertEquals(Errno.ENOENT, fails(() -> fs.rmdir(ctx(false), new Request.Rmdir(ROOT, "gone"))));
    call(() -> fs.rmdir(ctx(true), new Request.Rmdir(ROOT, "gone")));

    // Renamed already: the source is gone and the target there.
    assertEquals(Errno.ENOENT, fails(() -> fs.rename(ctx(false),
        new Request.Rename(ROOT, "gone", ROOT, "there", 0))));
    call(() -> fs.rename(ctx(true), new Request.Rename(ROOT, "gone", ROOT, "there", 0)));
    call(() -> fs.rename2(ctx(true), new Request.Rename(ROOT, "gone", ROOT, "there",
        Request.Rename.RENAME_NOREPLACE)));
    assertEquals(Errno.ENOENT, fails(() -> fs.rename(ctx(true),
        new Request.Rename(ROOT, "gone", ROOT, "absent", 0))), "no target: not renamed");

    long there = lookup(fs, ROOT, "there").nodeId();
    byte[] v = "v".getBytes(StandardCharsets.UTF_8);
    int create = Request.Setxattr.XATTR_CREATE;
    call(() -> fs.setxattr(ctx(false), new Request.Setxattr(there, "user.k", v, create, 0)));
    assertEquals(Errno.EEXIST, fails(() -> fs.setxattr(ctx(false),
        new Request.Setxattr(there, "user.k", v, create, 0))));
    call(() -> fs.setxattr(ctx(true), new Request.Setxattr(there, "user.k", v, create, 0)));
    assertEquals(Errno.EEXIST, fails(() -> fs.setxattr(ctx(true), new Request.Setxattr(there,
        "user.k", "w".getBytes(StandardCharsets.UTF_8), create, 0))), "another value");

    assertEquals(Errno.ENODATA, fails(() -> fs.removexattr(ctx(false),
        new Request.Removexattr(there, "user.none"))));
    call(() -> fs.removexattr(ctx(true), new Request.Removexattr(there, "user.none")));
  }

  @Test
  void restore_servesThePredecessorsNodesAndHandles() throws Exception {
    MemoryStateStore store = new MemoryStateStore();
    Files.writeString(source.resolve("a"), "alpha");
    Files.createDirectory(source.resolve("dir"));
    Files.writeString(source.resolve("dir/x"), "x");
    PassthroughFs fs1 = open(store);
    EntryReply a = lookup(fs1, ROOT, "a");
    lookup(fs1, ROOT, "a");
    EntryReply dir = lookup(fs1, ROOT, "dir");
    OpenReply ra = call(() -> fs1.open(ctx(false), new Request.Open(a.nodeId(), O_RDONLY, 0)));
    OpenReply rd = call(() -> fs1.opendir(ctx(false),
        new Request.Open(dir.nodeId(), O_RDONLY | O_DIRECTORY, 0)));
    CreateReply c = call(() -> fs1.create(ctx(false), new Request.Create(dir.nodeId(), "new",
        O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, FILE, 022, 0)));
    long cn = c.entry().nodeId();
    assertEquals(3, store.size(PassthroughFs.SPACE_NODES));
    assertEquals(2, store.size(PassthroughFs.SPACE_FILES));
    assertEquals(1, store.size(PassthroughFs.SPACE_DIRS));
    fs1.close(); // as if its process had died: every fd gone, the store kept

    PassthroughFs fs2 = open(store);
    assertEquals(4, fs2.nodeCount());
    assertEquals("alpha", read(fs2, a.nodeId(), ra.fh()));
    assertEquals(ino("a"), call(() -> fs2.getattr(ctx(false),
        new Request.Getattr(a.nodeId(), 0, 0))).attr().ino());
    // Reopened without O_TRUNC; and without O_APPEND: a WRITE resent after a crash lands at
    // its offset again instead of appending twice.
    write(fs2, cn, c.open().fh(), 0, "abcd");
    write(fs2, cn, c.open().fh(), 1, "XY");
    assertEquals("aXYd", Files.readString(source.resolve("dir/new")));
    List<String> names = new ArrayList<>();
    for (DirEntry e : call(() -> fs2.readdir(ctx(false),
        new Request.Readdir(dir.nodeId(), rd.fh(), 0, 4096)).collectList())) {
      names.add(e.name());
    }
    assertTrue(names.containsAll(List.of("x", "new")), names.toString());

    // New node ids never reuse one the kernel may hold.
    Files.writeString(source.resolve("b"), "b");
    long b = lookup(fs2, ROOT, "b").nodeId();
    assertTrue(b > Math.max(a.nodeId(), Math.max(dir.nodeId(), cn)), "new id " + b);

    // Counts go on from the saved ones: "a" was looked up twice.
    call(() -> fs2.forget(ctx(false), new Request.Forget(a.nodeId(), 1)));
    assertEquals(ino("a"), call(() -> fs2.getattr(ctx(false),
        new Request.Getattr(a.nodeId(), 0, 0))).attr().ino());
    call(() -> fs2.forget(ctx(false), new Request.Forget(a.nodeId(), 1)));
    assertEquals(Errno.ESTALE, fails(() -> fs2.getattr(ctx(false),
        new Request.Getattr(a.nodeId(), 0, 0))));
    assertNull(store.get(PassthroughFs.SPACE_NODES, a.nodeId()));

    call(() -> fs2.release(ctx(false), new Request.Release(a.nodeId(), ra.fh(), 0, 0, 0)));
    call(() -> fs2.release(ctx(false), new Request.Release(cn, c.open().fh(), 0, 0, 0)));
    call(() -> fs2.releasedir(ctx(false), new Request.Release(dir.nodeId(), rd.fh(), 0, 0, 0)));
    assertEquals(0, store.size(PassthroughFs.SPACE_FILES));
    assertEquals(0, store.size(PassthroughFs.SPACE_DIRS));
  }

  @Test
  void restore_whatIsGoneFromSource_answersESTALE() throws Exception {
    MemoryStateStore store = new MemoryStateStore();
    Files.writeString(source.resolve("doomed"), "d");
    Files.writeString(source.resolve("kept"), "k");
    PassthroughFs fs1 = open(store);
    long doomed = lookup(fs1, ROOT, "doomed").nodeId();
    long kept = lookup(fs1, ROOT, "kept").nodeId();
    long fh = call(() -> fs1.open(ctx(false), new Request.Open(doomed, O_RDWR, 0))).fh();
    // Unlinked while open: the inode lives on through fs1's fds only.
    Files.delete(source.resolve("doomed"));
    fs1.close();

    PassthroughFs fs2 = open(store);
    assertEquals(2, fs2.nodeCount(), "the root and kept");
    assertEquals(Errno.ESTALE, fails(() -> fs2.getattr(ctx(false),
        new Request.Getattr(doomed, 0, 0))));
    assertEquals(Errno.ESTALE, fails(() -> fs2.read(ctx(false),
        new Request.Read(doomed, fh, 0, 10, 0, 0, 0))));
    assertNull(store.get(PassthroughFs.SPACE_NODES, doomed));
    call(() -> fs2.release(ctx(false), new Request.Release(doomed, fh, 0, 0, 0)));
    assertEquals(0, store.size(PassthroughFs.SPACE_FILES));
    assertEquals(ino("kept"), call(() -> fs2.getattr(ctx(false),
        new Request.Getattr(kept, 0, 0))).attr().ino());
  }

  @Test
  void recoverable_refusesKernelPassthroughAndAnotherSourcesStore() throws Exception {
    MemoryStateStore store = new MemoryStateStore();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new PassthroughFs(source, CacheMode.AUTO, true, 0, store));
    assertTrue(e.getMessage().startsWith(
        "--passthrough cannot be combined with --recoverable yet"), e.getMessage());

    open(store).close();
    Path other = Files.createDirectory(source.resolve("other"));
    e = assertThrows(IllegalArgumentException.class,
        () -> new PassthroughFs(other, CacheMode.AUTO, false, 0, store));
    assertTrue(e.getMessage().contains("another SOURCE"), e.getMessage());

    assertThrows(IllegalArgumentException.class,
        () -> new PassthroughFs(source, CacheMode.AUTO, false, 0, new MemoryStateStore(64)));
  }
}
