package io.reactorfuse.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.reactorfuse.Fuse;
import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Real mounts for tests: each under its own temp directory, every wait bounded, always unmounted
 * (lazily as a fallback). Tests that need /dev/fuse skip where it is missing, and fail instead when
 * {@code REACTOR_FUSE_REQUIRE=1} (as on CI).
 */
public final class FuseTestSupport implements AutoCloseable {
  /** Upper bound for any single wait on a mount: a hung daemon fails the test. */
  public static final Duration WAIT = Duration.ofSeconds(30);

  private final List<FuseMount> mounts = new ArrayList<>();
  private final List<Path> dirs = new ArrayList<>();

  /** Skips the calling test unless FUSE can be served here; fails instead on CI. */
  public static void requireFuse() {
    FuseException cause = Fuse.unavailabilityCause();
    if (cause != null && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
      throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but FUSE is unavailable: "
          + cause.getMessage(), cause);
    }
    assumeTrue(cause == null, () -> "FUSE unavailable: " + cause.getMessage());
    boolean root = "0".equals(id("-u"));
    if (!root && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
      throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but tests do not run as root");
    }
    assumeTrue(root, "these tests mount with mount(2), which needs root (FusermountIT covers "
        + "mounting as another user)");
  }

  /**
   * Skips the calling test when one of these commands is not installed (naming it and its
   * package); fails instead under {@code REACTOR_FUSE_REQUIRE=1}, where .ci/run installs them.
   */
  public static void requireTools(String... commands) {
    for (String command : commands) {
      boolean found;
      try {
        found = run(WAIT, "bash", "-c", "command -v " + command).exitCode() == 0;
      } catch (Exception e) {
        found = false;
      }
      if (!found && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
        throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but " + command + " is not installed");
      }
      assumeTrue(found, () -> command + " is not installed (see .ci/run for the package)");
    }
  }

  /** A fresh empty directory to mount on. */
  public Path newMountPoint() throws IOException {
    Path dir = Files.createTempDirectory("reactor-fuse-it-");
    dirs.add(dir);
    return dir;
  }

  /** Mounts {@code ops} on a fresh directory; unmounted by {@link #close()}. */
  public FuseMount mount(FuseOps ops) throws IOException {
    return mount(ops, s -> s);
  }

  /** Mounts with extra builder settings. */
  public FuseMount mount(FuseOps ops, UnaryOperator<FuseServer> settings) throws IOException {
    FuseServer server = settings.apply(FuseServer.create().mountPoint(newMountPoint()).debug(Boolean.getBoolean("reactorfuse.it.debug"))).handle(ops);
    FuseMount m = server.mount().block(WAIT);
    mounts.add(m);
    return m;
  }

  /** Runs a command with a time bound; returns its exit code and output. */
  public static Result run(Duration timeout, String... command) throws IOException,
      InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out after " + timeout + ": " + String.join(" ", command));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Result(p.exitValue(), out);
  }

  /** Runs a shell command that must succeed; returns its output. */
  public static String sh(String script) throws IOException, InterruptedException {
    Result r = run(WAIT, "bash", "-c", "set -euo pipefail; " + script);
    if (r.exitCode() != 0) {
      throw new AssertionError("`" + script + "` exited " + r.exitCode() + ":\n" + r.output());
    }
    return r.output();
  }

  /** A finished command. */
  public record Result(int exitCode, String output) {}

  /** Whether {@code dir} is a mount point right now (per /proc/mounts). */
  public static boolean isMounted(Path dir) throws IOException {
    String target = " " + dir.toAbsolutePath() + " ";
    return Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.contains(target));
  }

  /**
   * Waits until {@code dir} is mounted by someone else (a command line, a child process),
   * polling /proc/mounts, at most {@link #WAIT}. {@code ended} says why the mount will never
   * come (the command exited, and how), or null while it may still: then the wait fails at once
   * with that reason instead of running out the clock.
   */
  public static void awaitMount(Path dir, java.util.function.Supplier<String> ended)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!isMounted(dir)) {
      String why = ended.get();
      if (why != null) {
        throw new AssertionError(dir + " will not be mounted: " + why);
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not mounted within " + WAIT);
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  private static String id(String flag) {
    try {
      return run(Duration.ofSeconds(10), "id", flag).output().trim();
    } catch (Exception e) {
      return "";
    }
  }

  /** Unmounts everything this test mounted (lazily if busy) and removes the directories. */
  @Override
  public void close() throws Exception {
    for (FuseMount m : mounts) {
      if (!m.isDisposed()) {
        try {
          m.unmount().block(WAIT);
        } catch (RuntimeException e) {
          m.unmountLazy().block(WAIT);
        }
      }
    }
    for (Path dir : dirs) {
      if (isMounted(dir)) {
        run(WAIT, "umount", "-l", dir.toString());
      }
      Files.deleteIfExists(dir);
    }
  }
}
