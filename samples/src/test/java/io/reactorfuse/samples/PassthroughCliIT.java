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

/**
 * {@code passthrough [--cache MODE] [--passthrough | --writeback] SOURCE MOUNTPOINT} as a user
 * runs it.
 */
class PassthroughCliIT {
  private Path source;
  private Path dir;

  @BeforeEach
  void setUp() throws Exception {
    source = Files.createTempDirectory("passthrough-cli-src-");
    dir = Files.createTempDirectory("passthrough-cli-");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (FuseTestSupport.isMounted(dir)) {
      FuseTestSupport.run(WAIT, "umount", "-l", dir.toString());
    }
    Files.deleteIfExists(dir);
    FuseTestSupport.sh("rm -rf '" + source + "'");
  }

  @Test
  void passthrough_mirrorsSourceUntilUnmounted() throws Exception {
    FuseTestSupport.requireFuse();
    Files.writeString(source.resolve("from-source"), "s");
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
        () -> Samples.commandLine().execute("passthrough", "--cache", "never",
            source.toString(), dir.toString()));
    FuseTestSupport.awaitMount(dir, () -> exit.isDone() ? "exited with " + exit.join() : null);
    assertEquals("s", Files.readString(dir.resolve("from-source")));
    Files.writeString(dir.resolve("from-mount"), "m");
    assertEquals("m", Files.readString(source.resolve("from-mount")));
    assertTrue(FuseTestSupport.sh("grep ' " + dir + " ' /proc/mounts")
        .contains("default_permissions"));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
  }

  @Test
  void recoverable_aKilledWorkerIsReplacedAndUmountEndsEverything() throws Exception {
    FuseTestSupport.requireFuse();
    Files.writeString(source.resolve("from-source"), "s");
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
        () -> Samples.commandLine().execute("passthrough", "--recoverable", "--cache", "never",
            source.toString(), dir.toString()));
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!FuseTestSupport.isMounted(dir) || workers().isEmpty()) {
      assertTrue(System.nanoTime() < deadline, "not mounted within " + WAIT);
      assertTrue(!exit.isDone(), () -> "exited early: " + exit.join());
      TimeUnit.MILLISECONDS.sleep(20); // bounded poll of /proc/mounts
    }
    assertEquals("s", Files.readString(dir.resolve("from-source")));
    ProcessHandle first = workers().get(0);
    first.destroyForcibly(); // SIGKILL
    assertTrue(first.onExit().get(WAIT.toSeconds(), TimeUnit.SECONDS) != null);
    // The mount never went away: the supervisor holds the fds and starts the next worker.
    Files.writeString(dir.resolve("after-crash"), "m");
    assertEquals("m", Files.readString(source.resolve("after-crash")));
    assertEquals("s", Files.readString(dir.resolve("from-source")));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertEquals(java.util.List.of(), workers(), "a worker outlived the mount");
  }

  /** The worker JVMs the supervisor (running in this JVM) started. */
  private static java.util.List<ProcessHandle> workers() {
    return ProcessHandle.current().children()
        .filter(p -> p.isAlive() && commandLine(p).contains("\0--recovery-worker\0"))
        .collect(java.util.stream.Collectors.toList());
  }

  /**
   * The process's arguments, NUL-separated, from /proc: ProcessHandle.Info gives none for a
   * command line longer than a page (this test's class path is).
   */
  private static String commandLine(ProcessHandle p) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
    } catch (java.io.IOException e) {
      return ""; // exited meanwhile
    }
  }

  @Test
  void passthroughAndWriteback_areRefusedTogether() throws Exception {
    StringWriter err = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setErr(new PrintWriter(err));
    assertEquals(1, cli.execute("passthrough", "--passthrough", "--writeback",
        source.toString(), dir.toString()));
    assertTrue(err.toString().contains("--passthrough and --writeback exclude each other"),
        err.toString());
    assertTrue(!FuseTestSupport.isMounted(dir));
  }

  @Test
  void help_explainsPassthroughAndWriteback() {
    StringWriter out = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setOut(new PrintWriter(out));
    assertEquals(0, cli.execute("passthrough", "--help"));
    String help = out.toString().replaceAll("\\s+", " ");
    assertTrue(help.contains("--passthrough") && help.contains("Excludes --writeback")
        && help.contains("Excludes --passthrough") && help.contains("CAP_SYS_ADMIN"), help);
  }

  @Test
  void passthroughFlag_mountsAndServesFiles() throws Exception {
    FuseTestSupport.requireFuse();
    Files.writeString(source.resolve("from-source"), "s");
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
        () -> Samples.commandLine().execute("passthrough", "--passthrough",
            source.toString(), dir.toString()));
    FuseTestSupport.awaitMount(dir, () -> exit.isDone() ? "exited with " + exit.join() : null);
    assertEquals("s", Files.readString(dir.resolve("from-source")));
    Files.writeString(dir.resolve("from-mount"), "m");
    assertEquals("m", Files.readString(source.resolve("from-mount")));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
  }

  @Test
  void unknownCacheMode_namesTheKnownOnes() {
    StringWriter err = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setErr(new PrintWriter(err));
    assertEquals(1, cli.execute("passthrough", "--cache", "sometimes", source.toString(),
        dir.toString()));
    assertTrue(err.toString().contains("known: never, auto, always"), err.toString());
  }
}
