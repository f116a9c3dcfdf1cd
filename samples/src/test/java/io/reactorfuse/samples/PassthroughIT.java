package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The POSIX suite on passthrough over a fresh SOURCE directory, one mount per test, plus what
 * only a passthrough has to get right: SOURCE and the mount agree, files belong to their
 * creator, nothing escapes SOURCE.
 */
class PassthroughIT extends PosixSuite {
  private FuseTestSupport fuse;
  private FuseMount mount;
  private PassthroughFs fs;
  /** Holds SOURCE and a file next to it that must stay out of reach. */
  private Path outside;
  private Path source;

  @BeforeEach
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    outside = Files.createTempDirectory("passthrough-it-");
    Files.writeString(outside.resolve("secret"), "outside SOURCE");
    source = Files.createDirectory(outside.resolve("source"));
    // Other users must reach the mount's root (the setpriv test); SOURCE's mode is the root's.
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(source, PosixFilePermissions.fromString("rwxr-xr-x"));
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.AUTO);
    fuse = new FuseTestSupport();
    mount = fuse.mount(fs, s -> s.defaultPermissions(true).allowOther(true)
        .fsName("passthrough").subtype("passthrough"));
  }

  @AfterEach
  void unmount() throws Exception {
    PassthroughTeardown.release(fuse, fs, outside);
  }

  @Override
  protected Path root() {
    return mount.mountPoint();
  }

  private static String q(Path p) {
    return "'" + p.toString().replace("'", "'\\''") + "'";
  }

  @Test
  void bytes_writtenThroughTheMountAreInSourceAndBack() throws Exception {
    byte[] data = new byte[3 * 1024 * 1024 + 17];
    new Random(7).nextBytes(data);
    Files.write(root().resolve("through-mount.bin"), data);
    assertArrayEquals(data, Files.readAllBytes(source.resolve("through-mount.bin")));

    new Random(8).nextBytes(data);
    Files.write(source.resolve("in-source.bin"), data);
    assertArrayEquals(data, Files.readAllBytes(root().resolve("in-source.bin")));
    sh("cmp " + q(source.resolve("in-source.bin")) + " " + q(root().resolve("in-source.bin")));
  }

  @Test
  void create_byAnotherUser_belongsToTheCaller() throws Exception {
    Path pub = Files.createDirectory(root().resolve("pub"));
    sh("chmod 1777 " + q(pub));
    String asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    sh(asNobody + "touch " + q(pub.resolve("file")));
    sh(asNobody + "mkdir " + q(pub.resolve("dir")));
    sh(asNobody + "ln -s file " + q(pub.resolve("link")));
    sh(asNobody + "mkfifo " + q(pub.resolve("fifo")));
    for (String name : new String[] {"file", "dir", "link", "fifo"}) {
      assertEquals("65534 65534", sh("stat -c '%u %g' " + q(source.resolve("pub/" + name)))
          .trim(), name + " in SOURCE");
      assertEquals("65534 65534", sh("stat -c '%u %g' " + q(pub.resolve(name))).trim(),
          name + " through the mount");
    }
    // The owner may do what owners do; others may not (the kernel checks, as the owner sees).
    sh(asNobody + "chmod 600 " + q(pub.resolve("file")) + " && " + asNobody + "truncate -s 3 "
        + q(pub.resolve("file")) + " && " + asNobody + "mv " + q(pub.resolve("file")) + " "
        + q(pub.resolve("file2")));
    assertEquals("600 3", sh("stat -c '%a %s' " + q(source.resolve("pub/file2"))).trim());
    FuseTestSupport.Result r = FuseTestSupport.run(FuseTestSupport.WAIT, "setpriv",
        "--reuid=65533", "--regid=65533", "--clear-groups", "cat",
        pub.resolve("file2").toString());
    assertTrue(r.exitCode() != 0 && r.output().contains("Permission denied"), r.output());
  }

  @Test
  void dotdot_atTheRootStaysAtTheRoot() throws Exception {
    // The kernel resolves ".." of the mount's root itself: it leads to the mount point's parent,
    // never to SOURCE's parent.
    assertEquals(root().getParent().toRealPath(), root().resolve("..").toRealPath());
    assertFalse(Files.exists(root().resolve("../secret")));
    assertFalse(Files.exists(root().resolve("../source")));
    // Asked directly (as with export support), ".." of the root is the root.
    FuseContext ctx = new FuseContext(2, Request.ROOT_ID, 0, 0, 0, -1);
    EntryReply dotdot = fs.lookup(ctx, new Request.Lookup(Request.ROOT_ID, "..")).block();
    assertEquals(Request.ROOT_ID, dotdot.nodeId());
    assertEquals(Files.getAttribute(source, "unix:ino"), dotdot.attr().ino());
    fs.forget(ctx, new Request.Forget(Request.ROOT_ID, 1)).block();
  }

  @Test
  void symlinks_areLinksAndResolveOnTheMountSide() throws Exception {
    Path pw = Files.createSymbolicLink(root().resolve("pw"), Path.of("/etc/passwd"));
    assertTrue(Files.isSymbolicLink(pw));
    assertEquals(Path.of("/etc/passwd"), Files.readSymbolicLink(source.resolve("pw")));
    // An absolute link resolves as on any filesystem: that is what symlinks are.
    assertEquals(Files.readString(Path.of("/etc/passwd")), Files.readString(pw));
    // A relative link made in SOURCE resolves against the mount, not SOURCE: ../secret from the
    // mount's root is next to the mount point, where there is none.
    Files.createSymbolicLink(source.resolve("up"), Path.of("../secret"));
    assertEquals(Path.of("../secret"), Files.readSymbolicLink(root().resolve("up")));
    assertThrows(NoSuchFileException.class, () -> Files.readString(root().resolve("up")));
    // Links are never followed by the daemon: the node is the link itself.
    assertEquals("symbolic link", sh("stat -c %F " + q(root().resolve("up"))).trim());
  }

  @Test
  void unlinkedOpenFile_staysReadableAndWritable() throws Exception {
    Path f = Files.writeString(root().resolve("ghost"), "boo");
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      Files.delete(f);
      assertFalse(Files.exists(source.resolve("ghost")));
      ch.write(ByteBuffer.wrap("!!".getBytes(StandardCharsets.UTF_8)), 3);
      ByteBuffer buf = ByteBuffer.allocate(5);
      ch.read(buf, 0);
      assertEquals("boo!!", new String(buf.array(), StandardCharsets.UTF_8));
      assertEquals(5, ch.size());
    }
  }

  @Test
  void renamedOpenFile_staysUsable() throws Exception {
    Path f = Files.writeString(root().resolve("before"), "1");
    Files.createDirectory(root().resolve("sub"));
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND)) {
      Files.move(f, root().resolve("sub/after"));
      ch.write(ByteBuffer.wrap("2".getBytes(StandardCharsets.UTF_8)));
      // Renamed behind the mount's back too: the node follows the inode, not a path.
      Files.move(source.resolve("sub/after"), source.resolve("after2"));
      ch.write(ByteBuffer.wrap("3".getBytes(StandardCharsets.UTF_8)));
    }
    assertEquals("123", Files.readString(source.resolve("after2")));
    assertEquals("123", Files.readString(root().resolve("after2")));
  }

  @Test
  void tree_tarRoundTripIsExact() throws Exception {
    Path tree = Path.of("/usr/share/doc");
    Path archive = outside.resolve("tree.tar");
    Path dst = Files.createDirectory(root().resolve("tree"));
    sh("tar -C " + q(tree) + " -cf " + q(archive) + " .");
    sh("tar -C " + q(dst) + " -xf " + q(archive));
    sh("diff -r --no-dereference " + q(tree) + " " + q(dst));
    sh("tar -C " + q(dst) + " -df " + q(archive));
    // And SOURCE holds the same tree.
    sh("tar -C " + q(source.resolve("tree")) + " -df " + q(archive));
  }

  @Test
  void forget_givesEveryNodeBack() throws Exception {
    Path d = Files.createDirectories(root().resolve("many"));
    for (int i = 0; i < 200; i++) {
      Files.writeString(d.resolve("f" + i), "x");
    }
    sh("ls -l " + q(d) + " > /dev/null");
    assertTrue(fs.nodeCount() > 200, "nodes known: " + fs.nodeCount());
    // Unlinked and unused, the kernel evicts the inodes at once and sends their FORGETs.
    sh("rm -r " + q(d));
    long deadline = System.nanoTime() + FuseTestSupport.WAIT.toNanos();
    while (fs.nodeCount() > 1 && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(5); // bounded poll: FORGETs carry no reply to wait for
    }
    assertEquals(1, fs.nodeCount(), "only the root is left");
  }
}
