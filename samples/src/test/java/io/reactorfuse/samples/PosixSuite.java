package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * POSIX behaviour every read-write sample must show on a real mount, checked through java.nio and
 * real tools. A subclass mounts its filesystem and returns the directory to test in.
 */
public abstract class PosixSuite {

  /** An empty directory on the filesystem under test. */
  protected abstract Path root();

  private static String q(Path p) {
    return "'" + p.toString().replace("'", "'\\''") + "'";
  }

  @Test
  void files_writeAndReadBack() throws Exception {
    Path f = root().resolve("a.txt");
    Files.writeString(f, "hello");
    assertEquals("hello", Files.readString(f));
    Files.writeString(f, " world", StandardOpenOption.APPEND);
    assertEquals("hello world", Files.readString(f));
    assertEquals(11, Files.size(f));
  }

  @Test
  void files_largeRandomWritesReadBackExactly() throws Exception {
    byte[] data = new byte[5 * 1024 * 1024 + 123];
    new Random(42).nextBytes(data);
    Path f = root().resolve("big.bin");
    Files.write(f, data);
    assertArrayEquals(data, Files.readAllBytes(f));
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap("PATCH".getBytes(StandardCharsets.UTF_8)), 3_000_000);
    }
    System.arraycopy("PATCH".getBytes(StandardCharsets.UTF_8), 0, data, 3_000_000, 5);
    assertArrayEquals(data, Files.readAllBytes(f));
  }

  @Test
  void truncate_shrinksAndGrowsWithZeros() throws Exception {
    Path f = root().resolve("t");
    Files.writeString(f, "0123456789");
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
      ch.truncate(4);
    }
    assertEquals("0123", Files.readString(f));
    sh("truncate -s 8 " + q(f));
    assertArrayEquals(new byte[] {'0', '1', '2', '3', 0, 0, 0, 0}, Files.readAllBytes(f));
  }

  @Test
  void directories_createListAndRemove() throws Exception {
    Path d = Files.createDirectories(root().resolve("x/y/z"));
    for (int i = 0; i < 300; i++) {
      Files.createFile(d.resolve("f" + i));
    }
    try (Stream<Path> s = Files.list(d)) {
      assertEquals(300, s.count());
    }
    assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(d));
    sh("rm -r " + q(root().resolve("x")));
    assertFalse(Files.exists(root().resolve("x")));
  }

  @Test
  void rename_replacesAndKeepsContent() throws Exception {
    Path a = Files.writeString(root().resolve("a"), "A");
    Path b = Files.writeString(root().resolve("b"), "B");
    Files.move(a, b, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    assertFalse(Files.exists(a));
    assertEquals("A", Files.readString(b));
    Path d = Files.createDirectory(root().resolve("d"));
    Files.move(b, d.resolve("b"));
    assertEquals("A", Files.readString(d.resolve("b")));
  }

  @Test
  void rename_noreplaceRefusesAnExistingTarget() throws Exception {
    Files.writeString(root().resolve("src"), "S");
    Files.writeString(root().resolve("dst"), "D");
    // mv -n uses renameat2(RENAME_NOREPLACE): the target must survive.
    sh("cd " + q(root()) + " && mv -n src dst");
    assertEquals("D", Files.readString(root().resolve("dst")));
    assertEquals("S", Files.readString(root().resolve("src")));
    assertThrows(FileAlreadyExistsException.class,
        () -> Files.move(root().resolve("src"), root().resolve("dst")));
  }

  @Test
  void rename_exchangeSwapsTwoNames() throws Exception {
    Files.writeString(root().resolve("left"), "L");
    Files.createDirectory(root().resolve("right"));
    // RENAME_EXCHANGE through renameat2(2); coreutils 9.1 has no mv --exchange.
    assertEquals(0, Syscalls.renameat2(root().resolve("left").toString(),
        root().resolve("right").toString(), Syscalls.RENAME_EXCHANGE));
    assertTrue(Files.isDirectory(root().resolve("left")));
    assertEquals("L", Files.readString(root().resolve("right")));
  }

  @Test
  void links_symbolicAndHard() throws Exception {
    Path target = Files.writeString(root().resolve("target"), "T");
    Path sym = Files.createSymbolicLink(root().resolve("sym"), Path.of("target"));
    assertEquals(Path.of("target"), Files.readSymbolicLink(sym));
    assertEquals("T", Files.readString(sym));
    Path hard = Files.createLink(root().resolve("hard"), target);
    assertEquals(2, Files.getAttribute(target, "unix:nlink"));
    Files.writeString(hard, "H");
    assertEquals("H", Files.readString(target));
    Files.delete(target);
    assertEquals("H", Files.readString(hard));
    assertEquals(1, Files.getAttribute(hard, "unix:nlink"));
    assertEquals("target", sh("readlink " + q(sym)).trim());
  }

  @Test
  void unlinkedFile_staysReadableWhileOpen() throws Exception {
    Path f = Files.writeString(root().resolve("ghost"), "boo");
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      Files.delete(f);
      ByteBuffer buf = ByteBuffer.allocate(3);
      ch.read(buf, 0);
      assertEquals("boo", new String(buf.array(), StandardCharsets.UTF_8));
    }
    assertThrows(NoSuchFileException.class, () -> Files.readString(f));
  }

  @Test
  void attributes_chmodChownUtimens() throws Exception {
    Path f = Files.writeString(root().resolve("attrs"), "x");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
    assertEquals("rw-r-----",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    Instant when = Instant.parse("2001-02-03T04:05:06.123456789Z");
    Files.setLastModifiedTime(f, FileTime.from(when));
    assertEquals(FileTime.from(when), Files.getLastModifiedTime(f));
    sh("chown 1234:5678 " + q(f));
    assertEquals("1234 5678", sh("stat -c '%u %g' " + q(f)).trim());
    sh("touch -a -d '2010-01-01 00:00:00 UTC' " + q(f));
    assertEquals("2010-01-01", sh("stat -c %x " + q(f)).substring(0, 10));
  }

  @Test
  void xattrs_setGetListRemove() throws Exception {
    Path f = Files.writeString(root().resolve("x"), "x");
    UserDefinedFileAttributeView view =
        Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
    view.write("color", ByteBuffer.wrap("blue".getBytes(StandardCharsets.UTF_8)));
    view.write("empty", ByteBuffer.allocate(0));
    assertEquals(List.of("color", "empty"), view.list().stream().sorted().collect(
        Collectors.toList()));
    ByteBuffer buf = ByteBuffer.allocate(view.size("color"));
    view.read("color", buf);
    assertEquals("blue", new String(buf.array(), StandardCharsets.UTF_8));
    view.delete("color");
    assertEquals(List.of("empty"), view.list());
    assertEquals(61, Syscalls.getxattr(f.toString(), "user.color"), "ENODATA once removed");
  }

  @Test
  void names_withBytesThatAreNotUtf8_roundTripExactly() throws Exception {
    String dir = q(root());
    // bash's $'..' gives raw bytes: a Latin-1 name, a stray continuation byte, a lone lead byte.
    String names = "$'caf\\xe9' $'x\\x80y' $'end\\xc3'";
    sh("cd " + dir + " && for n in " + names + "; do printf %s \"$n\" > \"$n\"; done");
    String listed = sh("cd " + dir + " && LC_ALL=C ls | od -An -tx1 | tr -s ' \\n' ' '").trim();
    assertEquals("63 61 66 e9 0a 65 6e 64 c3 0a 78 80 79 0a", listed);
    for (String n : List.of("$'caf\\xe9'", "$'x\\x80y'", "$'end\\xc3'")) {
      assertEquals(sh("printf %s " + n + " | od -An -tx1"),
          sh("cd " + dir + " && od -An -tx1 " + n), "content of " + n);
    }
    sh("cd " + dir + " && mv $'caf\\xe9' $'caf\\xe9.moved' && rm $'caf\\xe9.moved' $'x\\x80y'"
        + " $'end\\xc3'");
  }

  @Test
  void statfs_reportsSpace() throws Exception {
    String out = sh("stat -f -c '%S %b %l' " + q(root())).trim();
    String[] parts = out.split(" ");
    assertTrue(Long.parseLong(parts[1]) > 0, out);
    assertEquals("255", parts[2]);
  }

  @Test
  void tools_cpTarFindDdDiffBehaveAsOnANativeDirectory() throws Exception {
    Path src = Files.createTempDirectory("posix-src-");
    try {
      // A tree with the shapes tools care about: nesting, empty dirs, symlinks, hard links,
      // sizes around page and write-buffer boundaries, modes and times.
      sh("cd " + q(src) + " && mkdir -p a/b/c empty && echo hi > a/b/c/small"
          + " && dd if=/dev/urandom of=a/big bs=1M count=3 status=none"
          + " && dd if=/dev/urandom of=a/b/page bs=4097 count=1 status=none"
          + " && ln -s b/c/small a/link && ln a/big a/big.hard && chmod 600 a/b/c/small"
          + " && touch -d '2020-01-02 03:04:05' a/b/page");
      Path dst = root().resolve("copy");
      sh("cp -a " + q(src) + " " + q(dst) + " && diff -r --no-dereference " + q(src) + " "
          + q(dst));
      assertEquals(sh("cd " + q(src) + " && find . -printf '%p %y %m %s %T@\\n' | sort"),
          sh("cd " + q(dst) + " && find . -printf '%p %y %m %s %T@\\n' | sort"));
      Files.createDirectory(root().resolve("untar"));
      sh("tar -C " + q(src) + " -cf - . | tar -C " + q(root().resolve("untar")) + " -xf -"
          + " && diff -r --no-dereference " + q(src) + " " + q(root().resolve("untar")));
      assertEquals("2", sh("stat -c %h " + q(dst.resolve("a/big"))).trim());
      sh("dd if=" + q(src.resolve("a/big")) + " of=" + q(root().resolve("dd.out"))
          + " bs=64k status=none && cmp " + q(src.resolve("a/big")) + " "
          + q(root().resolve("dd.out")));
      sh("mv " + q(dst) + " " + q(root().resolve("moved")) + " && rm -r "
          + q(root().resolve("moved")) + " " + q(root().resolve("untar")));
      assertFalse(Files.exists(root().resolve("moved")));
    } finally {
      sh("rm -rf " + q(src));
    }
  }
}
