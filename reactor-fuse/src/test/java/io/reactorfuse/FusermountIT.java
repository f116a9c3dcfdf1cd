package io.reactorfuse;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.reactorfuse.testing.FuseTestSupport;
import io.reactorfuse.testing.NonRootMountMain;
import io.reactorfuse.testing.OneFileFs;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Mounts without root, through fusermount3. Each test runs {@link NonRootMountMain} in a fresh
 * JVM as user nobody (65534), inside a mount namespace of its own ({@code unshare --mount}) where
 * /dev/fuse is replaced by a world-accessible node and /etc/fuse.conf by the test's own: the host
 * keeps its 0600 /dev/fuse, and whatever is mounted in the namespace dies with it. Needs root (to
 * set the namespace up), unshare, setpriv and fusermount3; skips where they are missing, and fails
 * instead with {@code REACTOR_FUSE_REQUIRE=1}.
 */
class FusermountIT {
  private static final int NOBODY = 65534;
  /** The child JVM's own bound (coreutils timeout); the test waits a little longer. */
  private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(90);
  private static final String MAIN = NonRootMountMain.class.getName();

  /** A copy of the test class path that user nobody may read (/root/.m2 is not). */
  private static Path stage;
  private static String stagedClassPath;

  private final List<Path> workDirs = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse(); // root and /dev/fuse
    for (String tool : List.of("unshare", "setpriv", "timeout", "mknod")) {
      require(onPath(tool), tool + " is not installed (util-linux / coreutils)");
    }
    require(onPath("fusermount3"), "fusermount3 is not installed (apt-get install fuse3)");
    FuseTestSupport.Result ns = FuseTestSupport.run(WAIT, "unshare", "--mount", "--propagation",
        "private", "true");
    require(ns.exitCode() == 0, "cannot make a mount namespace (unshare --mount): "
        + ns.output().trim());
    stageClassPath();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (Path dir : workDirs) {
      // Everything was mounted inside the test's namespace, gone with it; check, and clean up.
      Path mnt = dir.resolve("mnt");
      boolean leaked = FuseTestSupport.isMounted(mnt);
      if (leaked) {
        FuseTestSupport.run(WAIT, "umount", "-l", mnt.toString());
      }
      deleteTree(dir);
      assertFalse(leaked, mnt + " was left mounted in the host namespace");
    }
  }

  @AfterAll
  static void removeStage() throws IOException {
    if (stage != null) {
      deleteTree(stage);
      stage = null;
    }
  }

  @Test
  void mount_asUnprivilegedUser_goesThroughFusermount3_andUnmounts() throws Exception {
    Run r = runAsNobody(true, null, "serve");
    r.assertExit(0);
    r.assertHas("UID 65534 EUID 65534");
    // fusermount3 mounted it: it adds user_id/group_id of the caller, and nosuid,nodev
    String line = r.line("MOUNTLINE ");
    // fsname "non\root-fs" went through fusermount3's escaping; /proc shows '\' as \134
    assertTrue(line.startsWith("non\\134root-fs " + r.mnt + " fuse.nonroot "), line);
    assertTrue(line.contains("nosuid") && line.contains("nodev"), line);
    assertTrue(line.contains("user_id=65534") && line.contains("group_id=65534"), line);
    r.assertHas("READ served without root");
    String busy = r.line("BUSY-UNMOUNT ");
    assertTrue(busy.startsWith("EBUSY ") && busy.contains("lazily"), busy);
    r.assertHas("UNMOUNTED mounted=false disposed=true");
    r.assertHas("OK");
    r.assertHas("LEFT-MOUNTED 0");
  }

  @Test
  void mount_withoutAccessToDevFuse_saysHowToGiveIt() throws Exception {
    // The probe (Fuse.unavailabilityCause) stops a FuseServer before fusermount3 runs.
    Run probe = runAsNobody(false, null, "expect-failure");
    probe.assertExit(0);
    String e = probe.line("FUSE-EXCEPTION ");
    assertTrue(e.startsWith("EACCES "), e);
    assertTrue(e.contains("chmod 0666 /dev/fuse"), e);
    // fusermount3 itself, past the probe: its own words, then the fix.
    Run raw = runAsNobody(false, null, "raw");
    raw.assertExit(0);
    String f = raw.line("FUSE-EXCEPTION ");
    assertTrue(f.startsWith("EACCES "), f);
    assertTrue(f.contains("fusermount3: failed to open /dev/fuse: Permission denied"), f);
    assertTrue(f.contains("give the user access to /dev/fuse (e.g. chmod 0666 /dev/fuse or add "
        + "the user to a group that owns it)"), f);
    raw.assertHas("LEFT-MOUNTED 0");
  }

  @Test
  void mount_allowOtherWithoutUserAllowOther_namesFuseConf() throws Exception {
    Run r = runAsNobody(true, "# no user_allow_other here\n", "expect-failure", "allow_other");
    r.assertExit(0);
    String e = r.line("FUSE-EXCEPTION ");
    assertTrue(e.startsWith("EPERM "), e);
    assertTrue(e.contains("fusermount3: option allow_other only allowed if 'user_allow_other' is "
        + "set in /etc/fuse.conf"), e);
    assertTrue(e.contains("echo user_allow_other >> /etc/fuse.conf"), e);
    r.assertHas("LEFT-MOUNTED 0");
  }

  @Test
  void mount_asRootWhenTold_goesThroughFusermount3_inThisJvm() throws Exception {
    // Root may use fusermount3 too: the fd passing and `fusermount3 -u` in this process.
    try (FuseTestSupport fuse = new FuseTestSupport()) {
      FuseMount m = fuse.mount(
          OneFileFs.of(NonRootMountMain.CONTENT.getBytes(StandardCharsets.UTF_8)),
          s -> s.mountMethod(MountMethod.FUSERMOUNT).subtype("told"));
      assertEquals(NonRootMountMain.CONTENT, Files.readString(m.mountPoint().resolve("f")));
      assertTrue(FuseTestSupport.isMounted(m.mountPoint()));
      m.unmount().block(WAIT);
      assertTrue(m.isDisposed());
      assertFalse(FuseTestSupport.isMounted(m.mountPoint()));
    }
  }

  /** The finished child: its output, and the mount point it used. */
  private record Run(int exitCode, String output, Path mnt) {
    void assertExit(int expected) {
      assertEquals(expected, exitCode, output);
      assertTrue(output.contains("EXIT " + expected + "\n"), output);
    }

    void assertHas(String text) {
      assertTrue(output.lines().anyMatch(l -> l.equals(text)), "no line \"" + text + "\" in:\n"
          + output);
    }

    /** The rest of the first line that starts with {@code prefix}. */
    String line(String prefix) {
      return output.lines().filter(l -> l.startsWith(prefix)).findFirst()
          .map(l -> l.substring(prefix.length())).orElseThrow(() -> new AssertionError("no line " + prefix + "... in:\n" + output));
    }
  }

  /**
   * Runs {@code NonRootMountMain MODE MNT [EXTRA...]} as nobody in a new mount namespace.
   *
   * @param deviceAccess whether /dev/fuse is made accessible (a private 0666 node)
   * @param fuseConf the /etc/fuse.conf fusermount3 reads, or null for the host's
   */
  private Run runAsNobody(boolean deviceAccess, String fuseConf, String mode, String... extra)
      throws Exception {
    Path work = Files.createTempDirectory("reactor-fuse-nonroot-");
    workDirs.add(work);
    Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path mnt = Files.createDirectory(work.resolve("mnt"));
    Files.setAttribute(mnt, "unix:uid", NOBODY);
    Files.setAttribute(mnt, "unix:gid", NOBODY);
    StringBuilder s = new StringBuilder("set -euo pipefail\n");
    s.append("W=").append(q(work.toString())).append('\n');
    if (deviceAccess) {
      s.append("mkdir \"$W/dev\"\n")
          .append("mount -t tmpfs -o mode=755,size=64k tmpfs \"$W/dev\"\n")
          .append("mknod \"$W/dev/fuse\" c 10 229\n")
          .append("chmod 666 \"$W/dev/fuse\"\n")
          .append("mount --bind \"$W/dev/fuse\" /dev/fuse\n");
    }
    if (fuseConf != null) {
      Path conf = work.resolve("fuse.conf");
      Files.writeString(conf, fuseConf);
      Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rw-r--r--"));
      s.append("if [ -e /etc/fuse.conf ]; then mount --bind \"$W/fuse.conf\" /etc/fuse.conf; fi\n");
    }
    List<String> cmd = new ArrayList<>(List.of("timeout", "-k", "5",
        Long.toString(CHILD_TIMEOUT.toSeconds()), "setpriv", "--reuid=" + NOBODY,
        "--regid=" + NOBODY, "--clear-groups", "--inh-caps=-all", "--",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:-UsePerfData",
        "-cp", stagedClassPath, MAIN, mode, mnt.toString()));
    cmd.addAll(List.of(extra));
    s.append("cd \"$W\"\nset +e\n");
    cmd.forEach(c -> s.append(q(c)).append(' '));
    s.append("\nrc=$?\nset -e\n")
        .append("echo \"EXIT $rc\"\n")
        .append("echo \"LEFT-MOUNTED $(grep -c \" $W/mnt \" /proc/self/mounts || true)\"\n");
    Path out = work.resolve("out.txt");
    Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "bash", "-c",
        s.toString()).redirectErrorStream(true).redirectOutput(out.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    try {
      if (!p.waitFor(CHILD_TIMEOUT.plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("the unprivileged JVM did not finish in time:\n"
            + Files.readString(out));
      }
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.onExit().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), mnt);
  }

  private static String q(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  private static void require(boolean ok, String reason) {
    if (!ok && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
      throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but " + reason);
    }
    assumeTrue(ok, reason);
  }

  private static boolean onPath(String tool) {
    String path = System.getenv("PATH");
    for (String dir : (path == null ? "/usr/bin:/bin:/usr/sbin:/sbin" : path).split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Copies the test class path (directories and jars) into a 755/644 tree that user nobody can
   * read, once per class.
   */
  private static synchronized void stageClassPath() throws IOException {
    if (stage != null) {
      return;
    }
    // surefire may put only its booter jar on java.class.path; it names the real one here
    String cp = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    Path dir = Files.createTempDirectory("reactor-fuse-nonroot-cp-");
    List<String> entries = new ArrayList<>();
    int i = 0;
    for (String entry : cp.split(File.pathSeparator)) {
      Path src = Path.of(entry);
      if (entry.isEmpty() || !Files.exists(src)) {
        continue;
      }
      Path dst = dir.resolve(i++ + "-" + src.getFileName());
      copyTree(src, dst);
      entries.add(dst.toString());
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(
            Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    stage = dir;
    stagedClassPath = String.join(File.pathSeparator, entries);
  }

  private static void copyTree(Path src, Path dst) throws IOException {
    try (Stream<Path> all = Files.walk(src)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.copy(p, dst.resolve(src.relativize(p).toString()));
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
