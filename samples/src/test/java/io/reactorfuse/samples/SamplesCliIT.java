package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.testing.FuseTestSupport;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The launcher as a user runs it: mount, use, {@code umount}, exit code 0. */
class SamplesCliIT {
  private Path dir;

  @BeforeEach
  void setUp() throws Exception {
    dir = Files.createTempDirectory("samples-cli-");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (FuseTestSupport.isMounted(dir)) {
      FuseTestSupport.run(WAIT, "umount", "-l", dir.toString());
    }
    Files.deleteIfExists(dir);
  }

  @Test
  void memfs_runsUntilUnmountedAndExitsZero() throws Exception {
    CompletableFuture<Integer> exit = launch("memfs");
    Files.writeString(dir.resolve("f"), "cli");
    assertEquals("cli", Files.readString(dir.resolve("f")));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
  }

  @Test
  void hello_servesItsFile() throws Exception {
    CompletableFuture<Integer> exit = launch("hello");
    assertEquals("Hello, World!\n", Files.readString(dir.resolve("hello")));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
  }

  /** Runs a sample's command line in this JVM on {@link #dir}; returns its exit code to be. */
  private CompletableFuture<Integer> launch(String sample) throws Exception {
    FuseTestSupport.requireFuse();
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
        () -> Samples.commandLine().execute(sample, dir.toString()));
    FuseTestSupport.awaitMount(dir, () -> exit.isDone() ? "exited with " + exit.join() : null);
    return exit;
  }

  @Test
  void sigterm_detachesTheMountOnTheWayOut() throws Exception {
    FuseTestSupport.requireFuse();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        Samples.class.getName(), "memfs", dir.toString()).redirectErrorStream(true).start();
    try {
      FuseTestSupport.awaitMount(dir, () -> p.isAlive() ? null : "exited with " + p.exitValue());
      Files.writeString(dir.resolve("f"), "x");
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "still running after SIGTERM");
      assertTrue(!FuseTestSupport.isMounted(dir), "mount left behind after SIGTERM");
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void missingMountPoint_oneLineErrorAndExitCode1() {
    StringWriter err = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setErr(new PrintWriter(err));
    int code = cli.execute("memfs", dir.resolve("missing").toString());
    assertEquals(1, code);
    assertTrue(err.toString().contains("does not exist: create it first"), err.toString());
    assertTrue(!err.toString().contains("\tat "), "no stack trace: " + err);
  }

  @Test
  void unknownMountOption_namesTheKnownOnes() {
    StringWriter err = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setErr(new PrintWriter(err));
    assertEquals(1, cli.execute("memfs", "-o", "bogus", dir.toString()));
    assertTrue(err.toString().contains("unknown mount option \"bogus\"; known:"), err.toString());
  }
}
