package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import io.reactorfuse.FuseMount;
import io.reactorfuse.samples.ConformanceChecks.Check;
import io.reactorfuse.samples.ConformanceChecks.User;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * The conformance checks of {@link ConformanceChecks}, each run as root and as uid 65534 on ext4
 * and on a passthrough mount of a directory on that same ext4 (mounted as the sample does, with
 * default_permissions, plus allow_other so that uid 65534 may enter it): every transcript must be
 * the same on both. A difference names the check and shows both transcripts; they are also
 * written to {@code target/conformance/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PassthroughConformanceIT {
  private static final Path REPORTS = Path.of("target", "conformance");

  private FuseTestSupport fuse;
  private PassthroughFs fs;
  private FuseMount mount;
  /** Holds the ext4 side and SOURCE: on the root filesystem, which must be ext4. */
  private Path base;
  private Path ext4;

  @BeforeAll
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    FuseTestSupport.requireTools("python3", "setpriv", "flock", "fallocate");
    base = Files.createTempDirectory(Path.of("/var/tmp"), "conformance-");
    ext4 = Files.createDirectory(base.resolve("ext4"));
    Path source = Files.createDirectory(base.resolve("source"));
    for (Path p : List.of(base, ext4, source)) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    assertEquals("ext2/ext3", sh("stat -f -c %T " + q(base)).trim(),
        "the reference side must be ext4");
    fs = new PassthroughFs(source, PassthroughFs.CacheMode.AUTO);
    fuse = new FuseTestSupport();
    mount = fuse.mount(fs, s -> s.defaultPermissions(true).allowOther(true)
        .fsName("passthrough").subtype("passthrough"));
    Files.createDirectories(REPORTS);
  }

  @AfterAll
  void unmount() throws Exception {
    PassthroughTeardown.release(fuse, fs, base);
  }

  @TestFactory
  Stream<DynamicTest> conformance() {
    List<DynamicTest> tests = new ArrayList<>();
    for (Check check : ConformanceChecks.all()) {
      for (User user : User.values()) {
        tests.add(DynamicTest.dynamicTest(check.name() + " as " + user.tag,
            () -> compare(check, user)));
      }
    }
    return tests.stream();
  }

  private void compare(Check check, User user) throws Exception {
    String name = check.name() + "-" + user.tag;
    String onExt4 = ConformanceChecks.run(check, freshDir(ext4, name), user);
    String onMount = ConformanceChecks.run(check, freshDir(mount.mountPoint(), name), user);
    Files.writeString(REPORTS.resolve(name + ".ext4.txt"), onExt4, StandardCharsets.ISO_8859_1);
    Files.writeString(REPORTS.resolve(name + ".passthrough.txt"), onMount,
        StandardCharsets.ISO_8859_1);
    // A check that breaks itself (a Python error, a shell syntax error) proves nothing.
    for (String broken : List.of("Traceback", "syntax error", "command not found")) {
      assertFalse(onExt4.contains(broken), () -> name + " is broken on ext4:\n" + onExt4);
    }
    if (!onExt4.equals(onMount)) {
      fail(check.name() + " as " + user.tag + " differs between ext4 and passthrough; first "
          + "difference:\n" + firstDifference(onExt4, onMount)
          + "\n===== ext4 =====\n" + onExt4 + "===== passthrough =====\n" + onMount);
    }
  }

  private static Path freshDir(Path parent, String name) throws Exception {
    Path dir = Files.createDirectory(parent.resolve(name));
    // Explicitly: the umask must not decide whether uid 65534 may work here.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    return dir;
  }

  private static String firstDifference(String expected, String actual) {
    String[] a = expected.split("\n", -1);
    String[] b = actual.split("\n", -1);
    for (int i = 0; i < Math.max(a.length, b.length); i++) {
      String x = i < a.length ? a[i] : "<end>";
      String y = i < b.length ? b[i] : "<end>";
      if (!x.equals(y)) {
        return "line " + (i + 1) + "\n  ext4:        " + x + "\n  passthrough: " + y;
      }
    }
    return "none";
  }

  private static String q(Path p) {
    return "'" + p.toString().replace("'", "'\\''") + "'";
  }
}
