package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseServer;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a passthrough must get right beyond the POSIX suite: locks between processes, sparse and
 * large files, hole punching, O_DIRECT and O_APPEND, copy_file_range, statx birth times,
 * O_TMPFILE, supplementary groups, ACCESS without default_permissions, syncfs.
 */
class PassthroughFeaturesIT {
  private FuseTestSupport fuse;
  private PassthroughFs fs;
  private Path outside;
  private Path source;
  private Path mnt;

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    FuseTestSupport.requireTools("python3", "setpriv", "fallocate");
    outside = Files.createTempDirectory("passthrough-features-");
    source = Files.createDirectory(outside.resolve("source"));
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(source, PosixFilePermissions.fromString("rwxr-xr-x"));
    fuse = new FuseTestSupport();
  }

  private Path mount(UnaryOperator<FuseServer> settings) throws Exception {
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.AUTO);
    FuseMount m = fuse.mount(fs, s -> settings.apply(s.allowOther(true).fsName("passthrough")
        .subtype("passthrough")));
    mnt = m.mountPoint();
    return mnt;
  }

  private Path mount() throws Exception {
    return mount(s -> s.defaultPermissions(true));
  }

  @AfterEach
  void tearDown() throws Exception {
    PassthroughTeardown.release(fuse, fs, outside);
  }

  private static String q(Path p) {
    return "'" + p.toString().replace("'", "'\\''") + "'";
  }

  private static String py(String script, String... args) throws Exception {
    String[] cmd = new String[args.length + 3];
    cmd[0] = "python3";
    cmd[1] = "-c";
    cmd[2] = script;
    System.arraycopy(args, 0, cmd, 3, args.length);
    FuseTestSupport.Result r = FuseTestSupport.run(FuseTestSupport.WAIT, cmd);
    if (r.exitCode() != 0) {
      throw new AssertionError("python3 exited " + r.exitCode() + ":\n" + r.output());
    }
    return r.output().trim();
  }

  /**
   * Locks are the kernel's (the sample negotiates neither POSIX_LOCKS nor FLOCK_LOCKS): it keeps
   * fcntl and flock locks on the FUSE inode itself, so they work between all processes using
   * the mount.
   */
  @Test
  void locks_heldByOneProcess_refuseAnotherUntilReleased() throws Exception {
    mount();
    Path f = Files.writeString(mnt.resolve("locked"), "x");
    Process a = new ProcessBuilder("python3", "-c", String.join("\n",
        "import fcntl, os, sys",
        "fd = os.open(sys.argv[1], os.O_RDWR)",
        "fcntl.flock(fd, fcntl.LOCK_EX)",
        "fcntl.lockf(fd, fcntl.LOCK_EX)",
        "print('locked', flush=True)",
        "sys.stdin.readline()",
        "fcntl.lockf(fd, fcntl.LOCK_UN)",
        "fcntl.flock(fd, fcntl.LOCK_UN)",
        "print('released', flush=True)"), f.toString()).redirectErrorStream(true).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(a.getInputStream(),
        StandardCharsets.UTF_8)); OutputStream in = a.getOutputStream()) {
      assertEquals("locked", CompletableFuture.supplyAsync(() -> readLine(out))
          .get(FuseTestSupport.WAIT.toMillis(), TimeUnit.MILLISECONDS));
      String tryBoth = String.join("\n",
          "import errno, fcntl, os, sys",
          "fd = os.open(sys.argv[1], os.O_RDWR)",
          "res = []",
          "for f in (lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB),",
          "          lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)):",
          "  try:",
          "    f(); res.append('ok')",
          "  except OSError as e:",
          "    res.append(errno.errorcode[e.errno])",
          "print(' '.join(res))");
      assertEquals("EWOULDBLOCK EAGAIN".replace("EWOULDBLOCK", errnoName(11)),
          py(tryBoth, f.toString()));
      assertNotEquals(0, FuseTestSupport.run(FuseTestSupport.WAIT, "flock", "-n", f.toString(),
          "true").exitCode(), "flock(1) -n must fail while A holds the lock");
      in.write('\n');
      in.flush();
      assertEquals("released", CompletableFuture.supplyAsync(() -> readLine(out))
          .get(FuseTestSupport.WAIT.toMillis(), TimeUnit.MILLISECONDS));
      assertTrue(a.waitFor(FuseTestSupport.WAIT.toMillis(), TimeUnit.MILLISECONDS));
      assertEquals("ok ok", py(tryBoth, f.toString()));
      assertEquals(0, FuseTestSupport.run(FuseTestSupport.WAIT, "flock", "-n", f.toString(),
          "true").exitCode());
    } finally {
      a.destroyForcibly();
    }
  }

  private static String errnoName(int errno) {
    return errno == 11 ? "EAGAIN" : String.valueOf(errno); // EWOULDBLOCK == EAGAIN on Linux
  }

  private static String readLine(BufferedReader r) {
    try {
      return r.readLine();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static final String SEEKS = String.join("\n",
      "import os, sys",
      "fd = os.open(sys.argv[1], os.O_RDONLY)",
      "out = []",
      "for off in (0, 4096, 100000, 1 << 20, (1 << 20) + 8192, 5 << 30):",
      "  for how in (os.SEEK_DATA, os.SEEK_HOLE):",
      "    try:",
      "      out.append(str(os.lseek(fd, off, how)))",
      "    except OSError as e:",
      "      out.append('E%d' % e.errno)",
      "print(os.fstat(fd).st_size, ' '.join(out))");

  @Test
  void sparseLargeFile_seekDataAndHoleMatchSource() throws Exception {
    mount();
    Path f = mnt.resolve("sparse");
    py(String.join("\n",
        "import os, sys",
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)",
        "os.pwrite(fd, b'a' * 4096, 0)",
        "os.pwrite(fd, b'b' * 4096, 1 << 20)",
        "os.pwrite(fd, b'beyond 4 GiB', 5 << 30)",
        "os.close(fd)"), f.toString());
    String viaMount = py(SEEKS, f.toString());
    assertEquals(py(SEEKS, source.resolve("sparse").toString()), viaMount);
    assertTrue(viaMount.startsWith(String.valueOf((5L << 30) + 12)), viaMount);
    assertTrue(viaMount.contains(" 4096 "), "a hole after the first block: " + viaMount);
    assertEquals("beyond 4 GiB", py("import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
        + "print(os.pread(fd, 12, 5 << 30).decode())", f.toString()));
    assertTrue(Long.parseLong(sh("stat -c %b " + q(source.resolve("sparse"))).trim()) < 1000,
        "still sparse in SOURCE");
  }

  @Test
  void fallocate_punchHoleKeepsSizeAndZeroes() throws Exception {
    mount();
    Path f = mnt.resolve("punched");
    byte[] data = new byte[16384];
    java.util.Arrays.fill(data, (byte) 'z');
    Files.write(f, data);
    sh("fallocate -p -o 4096 -l 8192 " + q(f));
    java.util.Arrays.fill(data, 4096, 12288, (byte) 0);
    assertArrayEquals(data, Files.readAllBytes(f));
    assertArrayEquals(data, Files.readAllBytes(source.resolve("punched")));
    assertEquals(py(SEEKS, source.resolve("punched").toString()), py(SEEKS, f.toString()));
    assertTrue(py(SEEKS, f.toString()).startsWith("16384 0 4096 12288 4096 E6"),
        py(SEEKS, f.toString()));
  }

  @Test
  void directIo_andAppendFromTwoWriters() throws Exception {
    mount();
    Path src = outside.resolve("random");
    sh("dd if=/dev/urandom of=" + q(src) + " bs=4096 count=64 status=none");
    sh("dd if=" + q(src) + " of=" + q(mnt.resolve("direct")) + " bs=4096 oflag=direct"
        + " status=none && cmp " + q(src) + " " + q(source.resolve("direct")));
    sh("dd if=" + q(mnt.resolve("direct")) + " of=" + q(outside.resolve("back"))
        + " bs=8192 iflag=direct status=none && cmp " + q(src) + " " + q(outside.resolve("back")));

    Path log = mnt.resolve("log");
    sh("( exec 3>>" + q(log) + "; for i in $(seq 500); do echo A$i >&3; done ) & "
        + "( exec 3>>" + q(log) + "; for i in $(seq 500); do echo B$i >&3; done ) & "
        + "for i in $(seq 200); do echo C$i >> " + q(log) + "; done; wait");
    List<String> lines = Files.readAllLines(source.resolve("log"));
    assertEquals(1200, lines.size());
    assertEquals(1200, lines.stream().distinct().count(), "no line overwritten or torn");
    assertTrue(lines.stream().allMatch(l -> l.matches("[ABC][0-9]+")));
    // O_APPEND cleared with fcntl(F_SETFL), which FUSE never hears of: writes go where asked.
    assertEquals("#bcd", py(String.join("\n",
        "import fcntl, os, sys",
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)",
        "os.write(fd, b'abc'); os.lseek(fd, 0, os.SEEK_SET); os.write(fd, b'd')",
        "fcntl.fcntl(fd, fcntl.F_SETFL, 0); os.lseek(fd, 0, os.SEEK_SET); os.write(fd, b'#')",
        "os.close(fd)",
        "print(open(sys.argv[1]).read())"), mnt.resolve("ap").toString()));
  }

  @Test
  void copyFileRange_copiesExactly() throws Exception {
    mount();
    Path a = mnt.resolve("a");
    sh("dd if=/dev/urandom of=" + q(a) + " bs=1M count=3 status=none");
    sh("cp --reflink=never " + q(a) + " " + q(mnt.resolve("b")) + " && cmp " + q(a) + " "
        + q(mnt.resolve("b")) + " && cmp " + q(a) + " " + q(source.resolve("b")));
    assertEquals("1000", py(String.join("\n",
        "import os, sys",
        "i = os.open(sys.argv[1], os.O_RDONLY)",
        "o = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)",
        "print(os.copy_file_range(i, o, 1000, 5000, 70))"), a.toString(),
        mnt.resolve("c").toString()));
    byte[] all = Files.readAllBytes(a);
    byte[] c = Files.readAllBytes(source.resolve("c"));
    assertEquals(1070, c.length);
    assertArrayEquals(java.util.Arrays.copyOfRange(all, 5000, 6000),
        java.util.Arrays.copyOfRange(c, 70, 1070));
  }

  @Test
  void statx_birthTimeAndAttributesAreSources() throws Exception {
    mount();
    Path f = Files.writeString(mnt.resolve("born"), "x");
    String fmt = "'%W %w %s %i %h %u %g %a %X %Y'";
    String viaMount = sh("stat -c " + fmt + " " + q(f)).trim();
    assertEquals(sh("stat -c " + fmt + " " + q(source.resolve("born"))).trim(), viaMount);
    assertNotEquals("0", viaMount.split(" ")[0], "ext4 knows birth times: " + viaMount);
  }

  @Test
  void tmpfile_isCreatedUnnamedAndLinkedLater() throws Exception {
    mount();
    assertEquals("tmp", py(String.join("\n",
        "import ctypes, os, sys",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o640)",
        "os.write(fd, b'tmp')",
        "assert os.listdir(sys.argv[1]) == [], os.listdir(sys.argv[1])",
        // linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH): the /proc/self/fd route gives EXDEV
        // here even natively (this machine's /proc is another mount's view).
        "r = libc.linkat(fd, b'', -100, os.path.join(sys.argv[1], 'named').encode(), 0x1000)",
        "assert r == 0, os.strerror(ctypes.get_errno())",
        "print(open(os.path.join(sys.argv[1], 'named')).read())"), mnt.toString()));
    assertEquals("tmp", Files.readString(source.resolve("named")));
    assertEquals("640", sh("stat -c %a " + q(source.resolve("named"))).trim());
  }

  @Test
  void create_asCallerWithSupplementaryGroup() throws Exception {
    mount();
    Path shared = Files.createDirectory(mnt.resolve("shared"));
    sh("chown 0:4242 " + q(shared) + " && chmod 2770 " + q(shared));
    String asMember = "setpriv --reuid=65534 --regid=65534 --groups=4242 ";
    sh(asMember + "touch " + q(shared.resolve("file")) + " && " + asMember + "mkdir "
        + q(shared.resolve("dir")));
    assertEquals("65534 4242", sh("stat -c '%u %g' " + q(source.resolve("shared/file"))).trim());
    assertEquals("65534 4242", sh("stat -c '%u %g' " + q(source.resolve("shared/dir"))).trim());
    FuseTestSupport.Result r = FuseTestSupport.run(FuseTestSupport.WAIT, "setpriv",
        "--reuid=65534", "--regid=65534", "--clear-groups", "touch",
        shared.resolve("nope").toString());
    assertNotEquals(0, r.exitCode(), r.output());
  }

  @Test
  void access_withoutDefaultPermissions_isTheCallersView() throws Exception {
    mount(s -> s.defaultPermissions(false));
    Path secret = Files.writeString(mnt.resolve("secret"), "s");
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    Path open = Files.writeString(mnt.resolve("open"), "o");
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
    String nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    assertEquals("no yes no", sh("for t in '-r " + q(secret) + "' '-r " + q(open) + "' '-w "
        + q(open) + "'; do if " + nobody + "test $t; then echo -n 'yes '; else echo -n 'no ';"
        + " fi; done").trim());
    assertEquals("yes", sh("test -r " + q(secret) + " && echo yes").trim());
  }

  @Test
  void syncfs_syncsSource() throws Exception {
    mount();
    Files.writeString(mnt.resolve("s"), "s");
    sh("sync -f " + q(mnt.resolve("s")));
    fs.syncfs(new FuseContext(2, Request.ROOT_ID, 0, 0, 0, 0), new Request.Syncfs(
        Request.ROOT_ID)).block(FuseTestSupport.WAIT);
  }
}
