package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.samples.objectstore.EmbeddedS3;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code objectstore [--endpoint URL ...] MOUNTPOINT} as a user runs it. */
class ObjectStoreCliIT {
  private Path data;
  private Path dir;

  @BeforeEach
  void setUp() throws Exception {
    data = Files.createTempDirectory("objectstore-cli-data-");
    dir = Files.createTempDirectory("objectstore-cli-");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (FuseTestSupport.isMounted(dir)) {
      FuseTestSupport.run(WAIT, "umount", "-l", dir.toString());
    }
    Files.deleteIfExists(dir);
    FuseTestSupport.sh("rm -rf '" + data + "'");
  }

  @Test
  void noEndpoint_mountsTheEmbeddedServersBucket_andKeepsTheDataInTheDataDir()
      throws Exception {
    FuseTestSupport.requireFuse();
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
        () -> Samples.commandLine().execute("objectstore", "--data-dir",
            data.resolve("store").toString(), dir.toString()));
    FuseTestSupport.awaitMount(dir, () -> exit.isDone() ? "exited with " + exit.join() : null);
    Files.createDirectories(dir.resolve("photos/2026"));
    Files.writeString(dir.resolve("photos/2026/list.txt"), "one\ntwo\n");
    assertEquals("one\ntwo\n", Files.readString(dir.resolve("photos/2026/list.txt")));
    FuseTestSupport.sh("umount " + dir);
    assertEquals(0, exit.get(WAIT.toSeconds(), TimeUnit.SECONDS));
    // s3proxy's filesystem store keeps bucket/key as a plain file
    assertEquals("one\ntwo\n", Files.readString(
        data.resolve("store/reactor-fuse/photos/2026/list.txt")));
  }

  private String failure(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cli = Samples.commandLine();
    cli.setErr(new PrintWriter(err));
    assertEquals(1, cli.execute(args), err::toString);
    assertFalse(isMounted(), "a failed start left a mount");
    return err.toString();
  }

  private boolean isMounted() {
    try {
      return FuseTestSupport.isMounted(dir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void wrongEndpoint_missingBucket_badCredentials_eachFailWithWhatToDo() throws Exception {
    int unused;
    try (ServerSocket s = new ServerSocket(0)) {
      unused = s.getLocalPort(); // closed again: nothing listens there
    }
    String unreachable = failure("objectstore", "--endpoint", "http://127.0.0.1:" + unused,
        "--access-key", "a", "--secret-key", "b", "--timeout", "5", dir.toString());
    assertTrue(unreachable.contains("cannot reach the S3 server at http://127.0.0.1:" + unused)
        && unreachable.contains("--endpoint"), unreachable);

    try (EmbeddedS3 server = EmbeddedS3.start(data.resolve("s3"), 0, "key", "secret")) {
      server.createBucket("present");
      String url = server.endpoint().toString();
      String missing = failure("objectstore", "--endpoint", url, "--bucket", "absent",
          "--access-key", "key", "--secret-key", "secret", dir.toString());
      assertTrue(missing.contains("bucket \"absent\" does not exist at " + url), missing);

      String refused = failure("objectstore", "--endpoint", url, "--bucket", "present",
          "--access-key", "key", "--secret-key", "wrong", dir.toString());
      assertTrue(refused.contains("refused the credentials")
          && refused.contains("--access-key/--secret-key"), refused);

      String shortName = failure("objectstore", "--endpoint", url, "--bucket", "b",
          "--access-key", "key", "--secret-key", "secret", dir.toString());
      assertTrue(shortName.contains("bucket names have 3 to 63 characters"), shortName);

      String half = failure("objectstore", "--endpoint", url, "--access-key", "key",
          dir.toString());
      assertTrue(half.contains("--access-key and --secret-key go together"), half);
    }
  }

  @Test
  void missingMountPoint_isNamed() throws Exception {
    Path nowhere = dir.resolve("no-such-dir");
    String err = failure("objectstore", "--data-dir", data.resolve("store").toString(),
        nowhere.toString());
    assertTrue(err.contains(nowhere.toString()), err);
  }
}
