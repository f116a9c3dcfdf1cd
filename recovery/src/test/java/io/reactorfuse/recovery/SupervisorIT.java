package io.reactorfuse.recovery;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseException;
import io.reactorfuse.FuseServer;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A supervisor and real worker JVMs ({@link TestWorker}) on real mounts: workers killed in
 * several ways are replaced, a request in flight survives, a crash loop ends in a clean give-up,
 * and stopping leaves neither a mount nor a process.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SupervisorIT {
  private static final Logger log = LoggerFactory.getLogger(SupervisorIT.class);
  /**
   * Measured on the 2-core test machines: worker JVMs start ~20% sooner and a cold restart
   * answered its resent READ in ~450-520 ms instead of ~520-590 ms (hot standby ~20-30 ms
   * instead of ~25-40 ms), because C2 compiler threads no longer compete with the start-up and
   * with the other JVMs. Not in Supervisor's default command: C2 matters to a worker that serves
   * for hours. -Xshare:auto made no difference (it is the default).
   */
  static final String C1_ONLY = "-XX:TieredStopAtLevel=1";
  private static final String CONTENT = new String(TestWorker.CONTENT, StandardCharsets.US_ASCII);
  /** Recovery times measured by the in-flight tests, printed at the end. */
  private static final List<String> TIMINGS = Collections.synchronizedList(new ArrayList<>());

  private Path dir;
  private Path mountPoint;
  private Path stateDir;
  private Path marker;
  private SupervisedMount supervised;
  private final List<Process> children = new ArrayList<>();
  private final Set<Integer> workerPids = new HashSet<>();

  @BeforeEach
  void setUp() throws IOException {
    FuseTestSupport.requireFuse();
    dir = Files.createTempDirectory("reactor-fuse-recovery-it-");
    mountPoint = Files.createDirectory(dir.resolve("mnt"));
    stateDir = dir.resolve("state");
    marker = dir.resolve("read-pending");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (supervised != null) {
      supervised.stop();
    }
    for (Process p : children) {
      p.destroyForcibly();
      p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    if (mountPoint != null && isMounted(mountPoint)) {
      FuseTestSupport.run(WAIT, "umount", "-l", mountPoint.toString());
    }
    for (int pid : workerPids) { // only if the supervisor failed to: these are ours
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    if (dir != null) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @AfterAll
  static void printTimings() {
    TIMINGS.forEach(t -> log.info("Recovery time: {}", t));
  }

  @Test
  void sigkill_nextWorkerServes() throws Exception {
    SupervisedMount m = start(supervisor(1, false));
    assertEquals(CONTENT, readFile());
    int first = m.workerPid();

    kill(first, "KILL");
    awaitRestarts(m, 1);

    assertEquals(CONTENT, readFile());
    RecoveryEvent e = m.events().get(0);
    assertEquals(1, e.generation());
    assertEquals(first, e.deadPid());
    assertEquals("killed by SIGKILL (9)", e.cause());
    assertEquals(m.workerPid(), e.newPid());
    assertFalse(e.fromStandby());
    assertTrue(e.handOffNanos() >= e.deathNanos());
    assertFalse(isAlive(first));
  }

  @ParameterizedTest(name = "{0} fd(s), hot standby {1}")
  @CsvSource({"1, false", "2, false", "1, true", "2, true"})
  void readInFlight_isAnsweredByTheNextWorker(int fds, boolean standby) throws Exception {
    SupervisedMount m = start(supervisor(fds, standby, "-D" + TestWorker.HANG_MARKER + "="
        + marker));
    if (standby) {
      awaitCondition("the hot standby to be ready", () -> m.standbyPid().isPresent());
      workerPids.add(m.standbyPid().getAsInt());
    }
    Process cat = startCat();
    awaitCondition("generation 0 to receive the READ", () -> Files.exists(marker));
    int dead = m.workerPid();

    kill(dead, "KILL");

    assertTrue(cat.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "cat still waits");
    assertEquals(0, cat.exitValue(), "cat failed");
    assertEquals(CONTENT, new String(cat.getInputStream().readAllBytes(),
        StandardCharsets.US_ASCII));
    RecoveryEvent e = awaitEvent(m, ev -> ev.firstResentAnswerNanos().isPresent());
    workerPids.add(e.newPid());
    assertEquals(dead, e.deadPid());
    assertEquals(standby, e.fromStandby());
    assertTrue(e.resentAnswered() >= 1, "resent requests answered: " + e.resentAnswered());
    String timing = String.format(Locale.ROOT, "%d fd(s), %s: death -> hand-off %.1f ms, "
        + "death -> first resent answer %.1f ms", fds, standby ? "hot standby" : "cold start",
        e.handOffDelay().toNanos() / 1e6, e.recoveryTime().orElseThrow().toNanos() / 1e6);
    TIMINGS.add(timing);
    log.info("Recovery time: {}", timing);
  }

  @Test
  void exitStatus1_viaTheSignalHook_restarts() throws Exception {
    SupervisedMount m = start(supervisor(1, false,
        "-D" + RecoverableWorker.EXIT_ON_SIGNAL_PROPERTY + "=HUP"));
    int first = m.workerPid();

    kill(first, "HUP");
    awaitRestarts(m, 1);

    assertEquals("exit status 1", m.events().get(0).cause());
    assertEquals(CONTENT, readFile());
  }

  @Test
  void sigabrt_restartsWithoutACoreDump() throws Exception {
    SupervisedMount m = start(supervisor(1, false));
    int first = m.workerPid();

    kill(first, "ABRT");
    awaitRestarts(m, 1);

    assertEquals("killed by SIGABRT (6)", m.events().get(0).cause());
    assertEquals(CONTENT, readFile());
  }

  @Test
  void crashLoop_givesUpAndLeavesNoMount() throws Exception {
    Supervisor s = supervisor(1, false, "-D" + TestWorker.EXIT_AFTER_SERVING + "=true")
        .restartPolicy(RestartPolicy.defaults()
            .backoff(Duration.ofMillis(10), Duration.ofMillis(50))
            .giveUpAfter(3, Duration.ofSeconds(60)));
    CompletableFuture<Void> end;
    try {
      supervised = s.start();
      end = supervised.termination();
    } catch (FuseException gaveUpAlready) { // all three crashed before start() looked
      end = CompletableFuture.failedFuture(gaveUpAlready);
    }

    ExecutionException failure = assertThrows(ExecutionException.class,
        end::get, "the supervisor did not give up");
    String message = failure.getCause().getMessage();
    assertTrue(message.contains("giving up") && message.contains("3 times")
        && message.contains("exit status 1") && message.contains("stderr"), message);
    assertFalse(isMounted(mountPoint), "left mounted after giving up");
    if (supervised != null) {
      assertEquals(2, supervised.restarts());
    }
    assertNoWorkerLeft();
    assertFalse(Files.exists(stateDir.resolve(SupervisorRun.STATE_FILE)));
  }

  @Test
  void stop_leavesNoMountAndNoProcess() throws Exception {
    SupervisedMount m = start(supervisor(2, true));
    awaitCondition("the hot standby to be ready", () -> m.standbyPid().isPresent());
    int worker = m.workerPid();
    int standby = m.standbyPid().getAsInt();
    workerPids.add(standby);
    assertEquals(CONTENT, readFile());

    m.stop();

    assertTrue(m.termination().isDone());
    assertFalse(m.termination().isCompletedExceptionally());
    assertFalse(isMounted(mountPoint));
    assertFalse(isAlive(worker));
    assertFalse(isAlive(standby));
    assertNoWorkerLeft();
    assertEquals(-1, m.workerPid());
  }

  @Test
  void stop_withACallerBlockedInside_killsTheWorkerAndFailsTheCaller() throws Exception {
    SupervisedMount m = start(supervisor(1, false, "-D" + TestWorker.HANG_MARKER + "=" + marker)
        .stopTimeout(Duration.ofSeconds(1)));
    Process cat = startCat();
    awaitCondition("the READ to arrive", () -> Files.exists(marker));
    int worker = m.workerPid();

    m.stop(); // the lazily detached mount lives on while cat holds f open: SIGKILL after 1 s

    assertTrue(cat.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "cat still hangs");
    assertNotEquals(0, cat.exitValue(), "cat got an error, not data");
    assertFalse(isMounted(mountPoint));
    assertFalse(isAlive(worker));
    assertNoWorkerLeft();
  }

  @Test
  void unmountedByAnyone_workerExits0_andTheSupervisionEnds() throws Exception {
    SupervisedMount m = start(supervisor(1, false));

    FuseTestSupport.sh("umount " + mountPoint);

    assertTrue(m.awaitTermination(WAIT), "the supervision did not end");
    assertFalse(m.termination().isCompletedExceptionally());
    assertEquals(0, m.restarts());
    assertNoWorkerLeft();
  }

  @Test
  void sigtermToTheSupervisorProcess_stopsItWithoutLeftovers() throws Exception {
    Process supervisor = startSupervisorProcess();
    int[] pids = awaitSupervisorProcessReady(supervisor);
    int worker = pids[0];
    int standby = pids[1];
    assertEquals(CONTENT, readFile());

    kill((int) supervisor.pid(), "TERM");

    assertTrue(supervisor.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "supervisor still runs");
    assertFalse(isMounted(mountPoint), "left mounted");
    assertFalse(isAlive(worker), "worker left running");
    assertFalse(isAlive(standby), "standby left running");
  }

  @Test
  void supervisorKilled_workerServesOn_andExits0WhenUnmounted() throws Exception {
    Process supervisor = startSupervisorProcess();
    int[] pids = awaitSupervisorProcessReady(supervisor);
    int worker = pids[0];
    int standby = pids[1];

    kill((int) supervisor.pid(), "KILL");
    assertTrue(supervisor.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));

    assertEquals(CONTENT, readFile()); // the worker holds the fds now: the mount lives on
    awaitCondition("the orphaned standby to exit", () -> !isAlive(standby));
    FuseTestSupport.sh("umount " + mountPoint);
    awaitCondition("the worker to exit after the unmount", () -> !isAlive(worker));
  }

  @Test
  void secondSupervisorOnTheSameStateDir_isRefused() throws Exception {
    start(supervisor(1, false));
    Path other = Files.createDirectory(dir.resolve("mnt2"));

    FuseException e = assertThrows(FuseException.class, () -> Supervisor.create()
        .server(FuseServer.create().mountPoint(other))
        .workerJava(List.of(), TestWorker.class.getName())
        .stateDir(stateDir)
        .start());

    assertTrue(e.getMessage().contains("another supervisor"), e.getMessage());
    assertFalse(isMounted(other));
  }

  // ---- helpers ------------------------------------------------------------------------------

  private Supervisor supervisor(int threads, boolean standby, String... jvmOptions) {
    List<String> options = new ArrayList<>(List.of(jvmOptions));
    options.add(C1_ONLY);
    // e.g. RECOVERY_IT_WORKER_OPTIONS=-XX:TieredStopAtLevel=1 to compare start-up times (an
    // environment variable: surefire's argLine is fixed in the parent pom)
    String extra = System.getenv().getOrDefault("RECOVERY_IT_WORKER_OPTIONS", "").trim();
    if (!extra.isEmpty()) {
      options.addAll(List.of(extra.split("\\s+")));
    }
    return Supervisor.create()
        .server(FuseServer.create().mountPoint(mountPoint).threads(threads))
        .workerJava(options, TestWorker.class.getName())
        .stateDir(stateDir)
        .hotStandby(standby);
  }

  private SupervisedMount start(Supervisor s) {
    supervised = s.start();
    workerPids.add(supervised.workerPid());
    return supervised;
  }

  /** Reads f in a child process (a hung mount fails the test instead of hanging it). */
  private String readFile() throws Exception {
    FuseTestSupport.Result r = FuseTestSupport.run(WAIT, "cat", mountPoint.resolve("f").toString());
    assertEquals(0, r.exitCode(), "cat failed: " + r.output());
    return r.output();
  }

  private Process startCat() throws IOException {
    Process p = new ProcessBuilder("cat", mountPoint.resolve("f").toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    children.add(p);
    return p;
  }

  /** {@link SupervisorMain} in a JVM of its own, on this test's mount point. */
  private Process startSupervisorProcess() throws IOException {
    Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
        "-cp", System.getProperty("java.class.path"), C1_ONLY, SupervisorMain.class.getName(),
        mountPoint.toString(), stateDir.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    children.add(p);
    return p;
  }

  /** Waits for {@link SupervisorMain}'s line; returns the worker's and the standby's pids. */
  private int[] awaitSupervisorProcessReady(Process supervisor) throws Exception {
    java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
        supervisor.getInputStream(), StandardCharsets.US_ASCII));
    String line = CompletableFuture.supplyAsync(() -> {
      try {
        return out.readLine();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertTrue(line != null && line.startsWith("worker "), "supervisor said: " + line);
    String[] words = line.split(" ");
    int[] pids = {Integer.parseInt(words[1]), Integer.parseInt(words[3])};
    workerPids.add(pids[0]);
    workerPids.add(pids[1]);
    return pids;
  }

  private static void kill(int pid, String signal) throws Exception {
    FuseTestSupport.sh("kill -" + signal + " " + pid);
  }

  private void awaitRestarts(SupervisedMount m, int n) throws InterruptedException {
    awaitCondition(n + " restart(s)", () -> m.restarts() >= n && m.workerPid() > 0);
    workerPids.add(m.workerPid());
  }

  private static RecoveryEvent awaitEvent(SupervisedMount m, Predicate<RecoveryEvent> test)
      throws InterruptedException {
    awaitCondition("a recovery event", () -> m.events().stream().anyMatch(test));
    return m.events().stream().filter(test).findFirst().orElseThrow();
  }

  /** Polls {@code condition} until it holds, failing after {@link FuseTestSupport#WAIT}. */
  private static void awaitCondition(String what, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + WAIT + " waiting for " + what);
      }
      Thread.sleep(5);
    }
  }

  private static boolean isAlive(int pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  /** No process of this JVM runs the test worker (the supervisor reaped all it started). */
  private static void assertNoWorkerLeft() {
    List<Long> left = ProcessHandle.current().children()
        .filter(p -> p.info().commandLine().orElse("").contains(TestWorker.class.getName()))
        .map(ProcessHandle::pid).toList();
    assertTrue(left.isEmpty(), "worker processes left: " + left);
  }

  /** Whether {@code dir} is a mount point, per /proc/self/mountinfo (field 5). */
  static boolean isMounted(Path dir) throws IOException {
    String target = dir.toAbsolutePath().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] fields = line.split(" ");
      if (fields.length > 4 && fields[4].equals(target)) {
        return true;
      }
    }
    return false;
  }
}
