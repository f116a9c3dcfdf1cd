package io.reactorfuse.samples;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseServer;
import io.reactorfuse.recovery.RecoverableWorker;
import io.reactorfuse.recovery.RecoveryEvent;
import io.reactorfuse.recovery.RestartPolicy;
import io.reactorfuse.recovery.SupervisedMount;
import io.reactorfuse.recovery.Supervisor;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The acceptance test for crash recovery, on the passthrough sample run as the user runs
 * it ({@code passthrough --recoverable}, here with the supervisor in the test's JVM so the test
 * can see the worker's pid): while clients read a large file, extract a tarball and create,
 * rename, link and delete files in a loop, the worker is killed five times, by SIGKILL, SIGFPE,
 * SIGABRT and {@code System.exit(1)}. Every client must finish with status 0, every checksum
 * and extracted tree must match, and no operation may have been applied twice: the churn loop
 * runs under {@code set -e} (a replayed mkdir would fail with EEXIST, a replayed unlink with
 * ENOENT), and its log, appended to once per round, must hold each round exactly once.
 *
 * <p>The kill moments are random on purpose; the seed is printed so a failure can be replayed.
 * Recovery times (death to the first resent request answered) are appended to
 * {@code target/recovery-times.txt} for the closing note.
 */
class PassthroughRecoveryIT {
  private static final int KILLS = 5;
  private static final String[] CAUSES = {"KILL", "FPE", "ABRT", "HUP"};
  /** The worker JVMs exit(1) on SIGHUP: the test hook of {@link RecoverableWorker}. */
  private static final String EXIT_SIGNAL = "HUP";
  private static final int BIG_FILE_MIB = 96;
  private static final Duration CLIENTS_WAIT = Duration.ofMinutes(3);

  private Path work;
  private Path source;
  private Path mountPoint;
  private SupervisedMount mount;
  private final List<Process> clients = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    FuseTestSupport.requireTools("tar", "diff", "sha256sum");
    work = Files.createTempDirectory("reactor-fuse-recovery-it-");
    source = Files.createDirectory(work.resolve("source"));
    mountPoint = Files.createDirectory(work.resolve("mnt"));
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      for (Process p : clients) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      if (mount != null) {
        mount.stop();
      }
      if (FuseTestSupport.isMounted(mountPoint)) {
        FuseTestSupport.run(WAIT, "umount", "-l", mountPoint.toString());
      }
    } finally {
      FuseTestSupport.sh("rm -rf '" + work + "'");
    }
  }

  @ParameterizedTest(name = "{0} fd(s), hot standby {1}")
  @CsvSource({"1, false", "2, false", "1, true", "2, true"})
  void workerKilledRepeatedly_clientsNeverNotice(int fds, boolean hotStandby) throws Exception {
    long seed = System.nanoTime();
    System.out.println("PassthroughRecoveryIT seed " + seed);
    Random random = new Random(seed);
    String bigSum = writeBigFile(source.resolve("big"), random);
    Path tree = work.resolve("tree");
    writeTree(tree, random);
    FuseTestSupport.sh("tar -C '" + work + "' -cf '" + work.resolve("tree.tar") + "' tree");

    mount = Supervisor.create()
        .server(FuseServer.create().mountPoint(mountPoint).threads(fds))
        .stateDir(work.resolve("state"))
        .hotStandby(hotStandby)
        .restartPolicy(RestartPolicy.defaults().backoff(Duration.ZERO, Duration.ZERO)
            .giveUpAfter(KILLS + 2, Duration.ofMinutes(5)))
        .workerJava(List.of("-D" + RecoverableWorker.EXIT_ON_SIGNAL_PROPERTY + "=" + EXIT_SIGNAL),
            Samples.class.getName(), "passthrough", "--recovery-worker", "--cache", "auto",
            source.toString(), mountPoint.toString())
        .start();

    Path stop = work.resolve("stop");
    Path mnt = mountPoint;
    // Reads the big file again and again; each checksum must be the file's.
    start("reader", "while [ ! -e '" + stop + "' ]; do "
        + "s=$(sha256sum '" + mnt + "/big' | cut -d' ' -f1); "
        + "[ \"$s\" = " + bigSum + " ] || { echo \"checksum $s\"; exit 1; }; done");
    // Extracts the tarball, compares, removes it; again and again.
    start("extractor", "n=0; while [ ! -e '" + stop + "' ]; do n=$((n+1)); "
        + "mkdir '" + mnt + "'/x$n; tar -xf '" + work + "/tree.tar' -C '" + mnt + "'/x$n; "
        + "diff -r '" + tree + "' '" + mnt + "'/x$n/tree; "
        + "tar -df '" + work + "/tree.tar' -C '" + mnt + "'/x$n; "
        + "rm -rf '" + mnt + "'/x$n; done");
    // Every non-idempotent operation in a loop: a replay would break `set -e` or the log.
    Path churn = mnt.resolve("churn");
    start("churn", "mkdir '" + churn + "'; cd '" + churn + "'; i=0; "
        + "while [ ! -e '" + stop + "' ]; do i=$((i+1)); "
        + "mkdir d$i; echo $i > d$i/f; mv d$i/f d$i/g; ln d$i/g h$i; echo $i >> log; "
        + "ln -s d$i/g s$i; rm s$i h$i d$i/g; rmdir d$i; done; echo $i > ../churn-rounds");

    awaitCondition("the churn loop got going", () -> lines(churn.resolve("log")) >= 3);
    List<Integer> killed = new ArrayList<>();
    for (int k = 0; k < KILLS; k++) {
      Thread.sleep(100 + random.nextInt(600)); // a random moment, not a synchronisation
      int pid = mount.workerPid();
      String cause = CAUSES[k % CAUSES.length];
      FuseTestSupport.sh("kill -s " + cause + " " + pid);
      killed.add(pid);
      int restarts = k + 1;
      awaitCondition("worker " + pid + " replaced after SIG" + cause,
          () -> mount.restarts() >= restarts && mount.workerPid() > 0
              && mount.workerPid() != pid);
      for (Process p : clients) {
        assertTrue(p.isAlive() || p.exitValue() == 0, "a client failed: " + output(p));
      }
    }
    Files.createFile(stop);
    for (Process p : clients) {
      assertTrue(p.waitFor(CLIENTS_WAIT.toMillis(), TimeUnit.MILLISECONDS),
          "a client did not finish: " + output(p));
      assertEquals(0, p.exitValue(), "a client failed: " + output(p));
    }

    // The churn loop's log holds every round once, in order: nothing was appended twice.
    int rounds = Integer.parseInt(Files.readString(mnt.resolve("churn-rounds")).trim());
    List<String> log = Files.readAllLines(churn.resolve("log"));
    assertEquals(rounds, log.size(), "rounds vs log lines");
    for (int i = 0; i < rounds; i++) {
      assertEquals(String.valueOf(i + 1), log.get(i), "log line " + (i + 1));
    }
    // The final tree is the expected one, through the mount and in SOURCE.
    assertEquals(List.of("big", "churn", "churn-rounds"), list(mnt));
    assertEquals(List.of("log"), list(churn));
    assertEquals(List.of("big", "churn", "churn-rounds"), list(source));
    assertEquals(bigSum, sha256(source.resolve("big")));

    assertEquals(KILLS, mount.restarts());
    record(fds, hotStandby, mount.events());
    int lastWorker = mount.workerPid();
    mount.stop();
    assertFalse(FuseTestSupport.isMounted(mountPoint), "stop() left the mount");
    for (int pid : killed) {
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    }
    assertFalse(ProcessHandle.of(lastWorker).map(ProcessHandle::isAlive).orElse(false),
        "stop() left the worker running");
  }

  private void start(String name, String script) throws IOException {
    Process p = new ProcessBuilder("bash", "-c", "set -euo pipefail; " + script)
        .redirectErrorStream(true)
        .redirectOutput(work.resolve(name + ".out").toFile())
        .start();
    clients.add(p);
  }

  private String output(Process p) {
    int i = clients.indexOf(p);
    String name = new String[] {"reader", "extractor", "churn"}[i];
    try {
      return name + ": " + Files.readString(work.resolve(name + ".out"));
    } catch (IOException e) {
      return name + ": (no output: " + e + ")";
    }
  }

  /** Polls {@code condition} until it holds, failing after {@link FuseTestSupport#WAIT}. */
  private void awaitCondition(String what, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        StringBuilder clientsSaid = new StringBuilder();
        for (Process p : clients) {
          clientsSaid.append("\n").append(output(p));
        }
        throw new AssertionError("timed out waiting until " + what + clientsSaid);
      }
      for (Process p : clients) {
        if (!p.isAlive() && p.exitValue() != 0) {
          throw new AssertionError("a client failed while waiting until " + what + ": "
              + output(p));
        }
      }
      Thread.sleep(20);
    }
  }

  private static int lines(Path file) {
    try {
      return Files.exists(file) ? Files.readAllLines(file).size() : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  private static List<String> list(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  private static String writeBigFile(Path file, Random random) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    byte[] block = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (int i = 0; i < BIG_FILE_MIB; i++) {
        random.nextBytes(block);
        sha.update(block);
        out.write(block);
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] b = new byte[1 << 20];
      for (int n; (n = in.read(b)) > 0; ) {
        sha.update(b, 0, n);
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /** 20 directories of 40 files of 0..24 KiB: a tarball of about 800 entries. */
  private static void writeTree(Path tree, Random random) throws IOException {
    for (int d = 0; d < 20; d++) {
      Path dir = Files.createDirectories(tree.resolve("d" + d));
      for (int f = 0; f < 40; f++) {
        byte[] content = new byte[random.nextInt(24 << 10)];
        random.nextBytes(content);
        Files.write(dir.resolve("f" + f), content);
      }
    }
  }

  /** Appends one line per restart to target/recovery-times.txt (for the closing note). */
  private static void record(int fds, boolean hotStandby, List<RecoveryEvent> events)
      throws IOException {
    StringBuilder sb = new StringBuilder();
    for (RecoveryEvent e : events) {
      sb.append(String.format("fds=%d standby=%s cause=%s fromStandby=%s handOffMs=%.1f "
              + "recoveryMs=%s resent=%d%n", fds, hotStandby, e.cause().replace(' ', '_'),
          e.fromStandby(), e.handOffDelay().toNanos() / 1e6,
          e.recoveryTime().map(t -> String.format("%.1f", t.toNanos() / 1e6)).orElse("-"),
          e.resentAnswered()));
    }
    System.out.print(sb);
    Files.writeString(Path.of("target", "recovery-times.txt"), sb.toString(),
        StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }
}
