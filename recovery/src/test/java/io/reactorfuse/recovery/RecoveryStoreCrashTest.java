package io.reactorfuse.recovery;

import static io.reactorfuse.recovery.CrashWriterMain.CHURN_SPACE;
import static io.reactorfuse.recovery.CrashWriterMain.KEPT_SPACE;
import static io.reactorfuse.recovery.CrashWriterMain.REMOVED_SPACE;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A writer process killed with SIGKILL in the middle of its puts loses nothing it finished. */
class RecoveryStoreCrashTest {

  private static final int KEPT = 20_000;
  private static final int REMOVED = 1_000;
  private static final long SEQ_PER_ROUND = 1_000_000_000L;

  @TempDir Path dir;

  @Test
  void childKilledWhileWriting_keepsEveryCompletedPut() throws Exception {
    Path file = dir.resolve("state");
    // Each round reopens what the previous child left, killed mid-write, and writes over it.
    for (int round = 0; round < 3; round++) {
      long firstSeq = round * SEQ_PER_ROUND;
      Process child = start(file, firstSeq, dir.resolve("child-" + round + ".err"));
      try {
        String line = firstLine(child, dir.resolve("child-" + round + ".err"));
        assertEquals("ready", line);
      } finally {
        // SIGKILL, while the child overwrites keys as fast as it can
        child.destroyForcibly();
        assertTrue(child.waitFor(30, SECONDS), "child did not die");
      }
      check(file, firstSeq);
    }
  }

  private static void check(Path file, long firstSeq) throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file)) {
      for (long k = 0; k < KEPT; k++) {
        byte[] value = store.get(KEPT_SPACE, k);
        assertNotNull(value, "key " + k + " of the first batch is gone");
        long seq = CrashWriterMain.checkedSeq(k, value);
        assertTrue(seq >= firstSeq, "key " + k + ": torn value or one from an earlier child");
      }
      List<Long> removed = new ArrayList<>();
      store.forEach(REMOVED_SPACE, (k, v) -> removed.add(k));
      assertEquals(List.of(), removed, "removed keys came back");
      // the churn loop puts one key and removes it: at most the one being worked on is left
      List<Long> churn = new ArrayList<>();
      store.forEach(CHURN_SPACE, (k, v) -> {
        assertTrue(CrashWriterMain.checkedSeq(k, v) >= firstSeq, "torn churn value");
        churn.add(k);
      });
      assertTrue(churn.size() <= 1, "churn keys left: " + churn);
      assertEquals(KEPT + churn.size(), store.size());
    }
  }

  private static Process start(Path file, long firstSeq, Path stderr) throws IOException {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        CrashWriterMain.class.getName(), file.toString(), String.valueOf(KEPT),
        String.valueOf(REMOVED), String.valueOf(firstSeq))
        // not inherited: the surefire fork's own streams carry its protocol
        .redirectError(stderr.toFile())
        .start();
  }

  /** The child's first line of output, waiting at most 30 s for it. */
  private static String firstLine(Process child, Path stderr) throws Exception {
    CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
      try {
        return new BufferedReader(new InputStreamReader(child.getInputStream(),
            StandardCharsets.UTF_8)).readLine();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    try {
      String first = line.get(30, SECONDS);
      if (first == null) {
        Object status = child.waitFor(30, SECONDS) ? child.exitValue() : "still running";
        throw new AssertionError("child closed its output (" + status + "): "
            + Files.readString(stderr));
      }
      return first;
    } catch (TimeoutException e) {
      throw new AssertionError("child not ready in 30 s: " + Files.readString(stderr), e);
    }
  }
}
