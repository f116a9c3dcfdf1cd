package io.reactorfuse.recovery;

import io.reactorfuse.FuseException;
import io.reactorfuse.FuseServer;
import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.sys.Spawn;
import io.reactorfuse.recovery.SupervisorProtocol.Message;
import io.reactorfuse.recovery.SupervisorProtocol.Ready;
import io.reactorfuse.recovery.SupervisorProtocol.Resent;
import io.reactorfuse.recovery.SupervisorProtocol.Serving;
import io.reactorfuse.spi.MountedDevice;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running supervision ({@link Supervisor#start()}).
 *
 * <p><b>Threads.</b> Every decision is taken on one control thread (a single-threaded scheduled
 * executor), so the fields below that are not volatile or final need no lock. Each worker has a
 * thread blocked in waitid and one reading its socket ({@link WorkerProcess}); they post what
 * they see to the control thread. A death is acted on in this order: hand the fds to the next
 * worker (what a blocked caller waits for), then tidy up after the dead one, then start a new
 * standby.
 */
final class SupervisorRun implements SupervisedMount, WorkerProcess.Listener {
  private static final Logger log = LoggerFactory.getLogger(Supervisor.class);
  static final String STATE_FILE = "session.store";
  static final String LOCK_FILE = "supervisor.lock";
  /** How long the end waits for a killed worker to be reaped (SIGKILL acts at once). */
  private static final long REAP_MILLIS = 5000;

  record Settings(FuseServer server, List<String> command, Path stateDir, boolean hotStandby,
      RestartPolicy policy, Duration stopTimeout, Duration startTimeout) {}

  private enum State { RUNNING, STOPPING, ENDED }

  private final Settings settings;
  private final String program;
  private final List<String> environment;
  private final Path stateFile;
  private final StateDirLock lock;
  private final MountedDevice device;
  private final Path mountPoint;
  private final int[] fds;
  private final ScheduledExecutorService control;
  private final CompletableFuture<Void> termination = new CompletableFuture<>();
  private final CompletableFuture<Void> firstServing = new CompletableFuture<>();
  private final Thread shutdownHook;
  /** Guarded by itself. */
  private final List<EventRecord> events = new ArrayList<>();
  private final AtomicInteger restarts = new AtomicInteger();
  private volatile int activePid = -1;
  private volatile int readyStandbyPid = -1;

  // Confined to the control thread.
  private State state = State.RUNNING;
  private WorkerProcess active;
  private WorkerProcess standby;
  private final Set<WorkerProcess> alive = new HashSet<>();
  private int generation = -1;
  private final ArrayDeque<Long> crashes = new ArrayDeque<>();
  private final ArrayDeque<Long> standbyCrashes = new ArrayDeque<>();
  private boolean standbyDisabled;
  private ScheduledFuture<?> pendingRestart;
  private ScheduledFuture<?> pendingStandby;

  private SupervisorRun(Settings settings, String program, List<String> environment,
      Path stateFile, StateDirLock lock, MountedDevice device) {
    this.settings = settings;
    this.program = program;
    this.environment = environment;
    this.stateFile = stateFile;
    this.lock = lock;
    this.device = device;
    this.mountPoint = device.mountPoint();
    this.fds = device.fds().stream().mapToInt(Integer::intValue).toArray();
    this.control = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "reactor-fuse-supervisor");
      t.setDaemon(true);
      return t;
    });
    this.shutdownHook = new Thread(this::stop, "reactor-fuse-supervisor-exit");
  }

  static SupervisedMount start(Settings s) {
    String program = resolveProgram(s.command().get(0));
    StateDirLock lock = StateDirLock.acquire(s.stateDir());
    Path stateFile = s.stateDir().resolve(STATE_FILE);
    MountedDevice device;
    try {
      createStateFile(stateFile);
      device = s.server().mountDevice();
    } catch (RuntimeException e) {
      lock.release();
      throw e;
    }
    if (device.fds().size() > Spawn.MAX_FDS) {
      device.closeFds(); // aborts the connection: nobody ever served it
      try {
        device.unmount(true);
      } catch (RuntimeException ignored) {
        // aborted already
      }
      lock.release();
      throw new FuseException(device.fds().size() + " fds cannot be handed over in one SCM_RIGHTS "
          + "message (the kernel's limit is " + Spawn.MAX_FDS + "): use threads(n) with n <= "
          + Spawn.MAX_FDS);
    }
    SupervisorRun run = new SupervisorRun(s, program, environment(), stateFile, lock, device);
    Runtime.getRuntime().addShutdownHook(run.shutdownHook);
    run.post(run::startFirst);
    run.awaitFirstWorker();
    return run;
  }

  /** Returns once a worker serves; fails (after stopping) if the supervision ends first. */
  private void awaitFirstWorker() {
    Duration timeout = settings.startTimeout();
    try {
      CompletableFuture.anyOf(firstServing, termination)
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r
          : new FuseException("supervision of " + mountPoint + " failed: " + e.getCause(), null,
              e.getCause());
    } catch (TimeoutException e) {
      stop();
      throw new FuseException("no worker served " + mountPoint + " within " + timeout
          + " (command: " + settings.command() + "); see the worker's output above, on this "
          + "process's stderr, or allow more time with startTimeout(Duration)", null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop();
      throw new FuseException("interrupted while waiting for the first worker of " + mountPoint);
    }
  }

  // ---- control thread ------------------------------------------------------------------------

  private void startFirst() {
    WorkerProcess w = null;
    try {
      w = spawn(false);
      w.handOff(0, mountPoint, stateFile, fds);
    } catch (NativeError e) {
      if (w != null) {
        w.signal(WaitStatus.SIGKILL);
      }
      finish(new FuseException("cannot start the worker " + settings.command() + ": "
          + e.getMessage() + "; check the command", e.errno(), e));
      return;
    }
    generation = 0;
    active = w;
    activePid = w.pid;
    log.info("Started worker pid {} (generation 0, cold) for {} with {} fd(s)", w.pid,
        mountPoint, fds.length);
    startStandby();
  }

  private WorkerProcess spawn(boolean asStandby) throws NativeError {
    WorkerProcess w = WorkerProcess.start(program, settings.command(), environment, asStandby,
        this);
    alive.add(w);
    return w;
  }

  private void startStandby() {
    pendingStandby = null;
    if (!settings.hotStandby() || standbyDisabled || state != State.RUNNING || standby != null) {
      return;
    }
    try {
      standby = spawn(true);
      log.info("Started hot standby pid {}", standby.pid);
    } catch (NativeError e) {
      standbyDisabled = true;
      log.error("Cannot start a hot standby ({}): going on without one, restarts start the "
          + "worker cold", e.getMessage());
    }
  }

  private void onDeath(WorkerProcess w, int status, long nanos) {
    alive.remove(w);
    String cause = WaitStatus.describe(status);
    if (w == active) {
      active = null;
      activePid = -1;
      if (state == State.RUNNING && !WaitStatus.isCleanExit(status)) {
        onCrash(w, cause, nanos); // first: a caller may be waiting for the next worker
        w.closeSocket();
        return;
      }
      w.closeSocket();
      if (state == State.RUNNING) {
        log.info("{} exited with status 0: the mount {} ended", w, mountPoint);
        finish(null);
      } else if (state == State.STOPPING) {
        log.info("{} ended ({}) after the unmount", w, cause);
        finish(null);
      }
      return;
    }
    w.closeSocket();
    if (w == standby) {
      standby = null;
      readyStandbyPid = -1;
      if (state == State.RUNNING) {
        onStandbyCrash(w, cause, nanos);
      }
      return;
    }
    log.debug("{} ended ({})", w, cause); // one killed or abandoned on purpose
  }

  private void onCrash(WorkerProcess dead, String cause, long nanos) {
    RestartPolicy policy = settings.policy();
    recordCrash(crashes, nanos);
    log.warn("{} died: {} ({} crash(es) within {} s)", dead, cause, crashes.size(),
        policy.window().toSeconds());
    if (crashes.size() >= policy.maxCrashes()) {
      giveUp(dead, cause);
      return;
    }
    Duration delay = policy.delayAfter(crashes.size());
    if (delay.isZero()) {
      restart(dead, cause, nanos);
    } else {
      log.info("Restarting in {} ms (backoff after {} crashes)", delay.toMillis(), crashes.size());
      pendingRestart = control.schedule(guarded(() -> restart(dead, cause, nanos)),
          delay.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private void recordCrash(ArrayDeque<Long> history, long nanos) {
    history.addLast(nanos);
    long windowNanos = settings.policy().window().toNanos();
    while (!history.isEmpty() && nanos - history.peekFirst() > windowNanos) {
      history.removeFirst();
    }
  }

  private void restart(WorkerProcess dead, String cause, long deathNanos) {
    pendingRestart = null;
    if (state != State.RUNNING) {
      return;
    }
    int gen = generation + 1;
    WorkerProcess next = standby;
    standby = null;
    readyStandbyPid = -1;
    boolean hot = false;
    if (next != null) {
      try {
        next.handOff(gen, mountPoint, stateFile, fds);
        hot = true;
      } catch (NativeError e) {
        log.warn("Hot standby pid {} cannot take over ({}); starting a worker cold", next.pid,
            e.getMessage());
        next.signal(WaitStatus.SIGKILL);
        next = null;
      }
    }
    if (next == null) {
      try {
        next = spawn(false);
        next.handOff(gen, mountPoint, stateFile, fds);
      } catch (NativeError e) {
        if (next != null) {
          next.signal(WaitStatus.SIGKILL);
        }
        String message = "cannot restart the worker of " + mountPoint + " after pid " + dead.pid
            + " died (" + cause + "): " + e.getMessage() + "; check the worker command "
            + settings.command();
        log.error(message);
        finish(new FuseException(message, e.errno(), e));
        return;
      }
    }
    long handOffNanos = System.nanoTime();
    generation = gen;
    active = next;
    activePid = next.pid;
    restarts.incrementAndGet();
    EventRecord event = new EventRecord(gen, dead.pid, cause, next.pid, hot, deathNanos,
        handOffNanos);
    next.event = event;
    synchronized (events) {
      events.add(event);
    }
    log.info("Generation {}: {} pid {} took over from pid {} ({}) {} ms after its death", gen,
        hot ? "hot standby" : "cold-started worker", next.pid, dead.pid, cause,
        millis(handOffNanos - deathNanos));
    startStandby();
  }

  private void onStandbyCrash(WorkerProcess w, String cause, long nanos) {
    RestartPolicy policy = settings.policy();
    recordCrash(standbyCrashes, nanos);
    if (standbyCrashes.size() >= policy.maxCrashes()) {
      standbyDisabled = true;
      log.error("Hot standby pid {} died: {}; {} standbys died within {} s: going on without "
          + "one (restarts start the worker cold). The worker's output is on this process's "
          + "stderr", w.pid, cause, standbyCrashes.size(), policy.window().toSeconds());
      return;
    }
    Duration delay = policy.delayAfter(standbyCrashes.size());
    log.warn("Hot standby pid {} died: {}; starting another in {} ms", w.pid, cause,
        delay.toMillis());
    pendingStandby = control.schedule(guarded(this::startStandby), delay.toNanos(),
        TimeUnit.NANOSECONDS);
  }

  private void onMessage(WorkerProcess w, Message m) {
    if (m instanceof Ready) {
      w.ready = true;
      if (w == standby) {
        readyStandbyPid = w.pid;
        log.info("Hot standby pid {} is ready, {} ms after its start", w.pid,
            millis(System.nanoTime() - w.startNanos));
      }
    } else if (m instanceof Serving s) {
      w.serving = true;
      long since = w.event != null ? w.event.handOffNanos : w.startNanos;
      log.info("{} serves {}, {} ms after its {}", w, mountPoint, millis(s.nanos() - since),
          w.event != null ? "hand-off" : "start");
      firstServing.complete(null); // even from one that died since: start() has seen a worker
    } else if (m instanceof Resent r) {
      EventRecord event = w.event;
      if (event == null) {
        log.info("{} answered {} resent request(s)", w, r.fromJournal() + r.executed());
        return;
      }
      boolean first = event.update(r);
      if (first) {
        log.info("Generation {} answered its first resent request {} ms after pid {} died "
            + "({} resent so far: {} from the journal, {} run)", event.generation,
            millis(r.firstAnswerNanos() - event.deathNanos), event.deadPid,
            r.fromJournal() + r.executed(), r.fromJournal(), r.executed());
      } else {
        log.info("Generation {}: {} resent request(s) answered ({} from the journal, {} run)",
            event.generation, r.fromJournal() + r.executed(), r.fromJournal(), r.executed());
      }
    }
  }

  private void giveUp(WorkerProcess dead, String cause) {
    RestartPolicy policy = settings.policy();
    String message = "giving up on " + mountPoint + ": the worker crashed " + crashes.size()
        + " times within " + policy.window().toSeconds() + " s (the last, pid " + dead.pid + ", "
        + cause + "). The mount was detached and its fds closed: callers get ENOTCONN or "
        + "ECONNABORTED. The workers' output is on the supervisor's stderr (Java workers also "
        + "write JVM crash logs to " + settings.stateDir().resolve("hs_err_PID.log")
        + "); fix the worker and start the supervisor again";
    log.error(message);
    finish(new FuseException(message));
  }

  private void beginStop() {
    if (state != State.RUNNING) {
      return;
    }
    state = State.STOPPING;
    cancelPending();
    log.info("Stopping: detaching {}", mountPoint);
    unmountQuietly();
    if (standby != null) {
      standby.signal(WaitStatus.SIGKILL);
    }
    WorkerProcess w = active;
    if (w == null) {
      finish(null);
      return;
    }
    control.schedule(guarded(() -> {
      if (state == State.STOPPING && active == w) {
        log.warn("{} did not exit within {} s of the unmount: SIGKILL", w,
            settings.stopTimeout().toSeconds());
        w.signal(WaitStatus.SIGKILL);
      }
    }), settings.stopTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Ends the supervision: detach the mount first (no new caller gets in), kill what is left of
   * the workers, then close the fds, which aborts the connection for callers still inside.
   */
  private void finish(Throwable error) {
    if (state == State.ENDED) {
      return;
    }
    state = State.ENDED;
    cancelPending();
    active = null;
    standby = null;
    activePid = -1;
    readyStandbyPid = -1;
    unmountQuietly();
    List<WorkerProcess> left = new ArrayList<>(alive);
    for (WorkerProcess w : left) {
      w.signal(WaitStatus.SIGKILL);
    }
    for (WorkerProcess w : left) {
      try {
        if (!w.awaitReaped(REAP_MILLIS)) {
          log.error("{} was not reaped within {} ms of SIGKILL", w, REAP_MILLIS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      w.closeSocket();
    }
    device.closeFds();
    try {
      Files.deleteIfExists(stateFile); // the session is over: nothing may resume it
    } catch (IOException e) {
      log.warn("Cannot delete the state file {}: {}", stateFile, e.toString());
    }
    lock.release();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // this is the hook, or another one runs: the JVM is exiting anyway
    }
    log.info("Supervision of {} ended after {} restart(s)", mountPoint, restarts.get());
    if (error == null) {
      termination.complete(null);
    } else {
      termination.completeExceptionally(error);
    }
    control.shutdown();
  }

  private void cancelPending() {
    if (pendingRestart != null) {
      pendingRestart.cancel(false);
      pendingRestart = null;
    }
    if (pendingStandby != null) {
      pendingStandby.cancel(false);
      pendingStandby = null;
    }
  }

  private void unmountQuietly() {
    try {
      device.unmount(true);
    } catch (RuntimeException e) {
      log.debug("Lazy unmount of {}: {}", mountPoint, e.toString()); // not mounted any more
    }
  }

  // ---- from the workers' threads and the API ---------------------------------------------------

  @Override
  public void died(WorkerProcess worker, int status, long nanos) {
    post(() -> onDeath(worker, status, nanos));
  }

  @Override
  public void message(WorkerProcess worker, Message message) {
    post(() -> onMessage(worker, message));
  }

  private void post(Runnable task) {
    try {
      control.execute(guarded(task));
    } catch (RejectedExecutionException ended) {
      // the supervision has ended: nothing is left to decide
    }
  }

  /** A task that logs what it throws: an executor would swallow it silently. */
  private static Runnable guarded(Runnable task) {
    return () -> {
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        log.error("Supervisor bug: a control task failed", e);
      }
    };
  }

  @Override
  public Path mountPoint() {
    return mountPoint;
  }

  @Override
  public int workerPid() {
    return activePid;
  }

  @Override
  public OptionalInt standbyPid() {
    int pid = readyStandbyPid;
    return pid > 0 ? OptionalInt.of(pid) : OptionalInt.empty();
  }

  @Override
  public int restarts() {
    return restarts.get();
  }

  @Override
  public List<RecoveryEvent> events() {
    synchronized (events) {
      return events.stream().map(EventRecord::toEvent).toList();
    }
  }

  @Override
  public void stop() {
    post(this::beginStop);
    Duration bound = settings.stopTimeout().plusMillis(REAP_MILLIS).plusSeconds(5);
    try {
      termination.get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException endedWithError) {
      // reported by termination(); stopping is done all the same
    } catch (TimeoutException e) {
      log.error("Stopping the supervision of {} did not finish within {} s", mountPoint,
          bound.toSeconds());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public CompletableFuture<Void> termination() {
    return termination.copy();
  }

  @Override
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    try {
      termination.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException endedWithError) {
      // ended all the same
    } catch (TimeoutException e) {
      return false;
    }
    return true;
  }

  @Override
  public String toString() {
    return "SupervisedMount[" + mountPoint + ", worker pid " + activePid + ", restarts "
        + restarts.get() + "]";
  }

  // ---- helpers ------------------------------------------------------------------------------

  private static String millis(long nanos) {
    return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
  }

  private static List<String> environment() {
    List<String> env = new ArrayList<>();
    for (Map.Entry<String, String> e : System.getenv().entrySet()) {
      if (!e.getKey().equals(SupervisorProtocol.STANDBY_ENV)) { // set only for a standby
        env.add(e.getKey() + "=" + e.getValue());
      }
    }
    return env;
  }

  /** argv[0] as posix_spawn needs it: a path (posix_spawn does not search PATH). */
  static String resolveProgram(String name) {
    if (name.contains("/")) {
      Path p = Path.of(name);
      if (!Files.isExecutable(p)) {
        throw new IllegalArgumentException("the worker program " + name + " does not exist or "
            + "is not executable: fix the worker command");
      }
      return name;
    }
    String path = System.getenv("PATH");
    for (String dir : (path == null ? "/usr/bin:/bin" : path).split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, name);
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        return p.toString();
      }
    }
    throw new IllegalArgumentException("the worker program " + name + " is not on PATH ("
        + path + "): give its full path in the worker command");
  }

  /** An empty state file, readable by this user only, that a RecoveryStore accepts. */
  private static void createStateFile(Path file) {
    try {
      Files.deleteIfExists(file); // an earlier session's: a new mount must not resume it
      Files.createFile(file, PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rw-------")));
      RecoveryStore.open(file).close(); // formats it, and fails now if it cannot be a store
    } catch (IOException e) {
      throw new FuseException("cannot create the state file " + file + ": " + e
          + "; the state directory must be writable by this user", null, e);
    }
  }

  /** One restart, completed by the new worker's reports. */
  static final class EventRecord {
    final int generation;
    final int deadPid;
    final String cause;
    final int newPid;
    final boolean fromStandby;
    final long deathNanos;
    final long handOffNanos;
    private long firstResentNanos;
    private boolean resentSeen;
    private long resent;

    EventRecord(int generation, int deadPid, String cause, int newPid, boolean fromStandby,
        long deathNanos, long handOffNanos) {
      this.generation = generation;
      this.deadPid = deadPid;
      this.cause = cause;
      this.newPid = newPid;
      this.fromStandby = fromStandby;
      this.deathNanos = deathNanos;
      this.handOffNanos = handOffNanos;
    }

    /** Takes a report in; true if it was the first. */
    synchronized boolean update(Resent r) {
      boolean first = !resentSeen;
      if (first) {
        firstResentNanos = r.firstAnswerNanos();
        resentSeen = true;
      }
      resent = Math.max(resent, r.fromJournal() + r.executed());
      return first;
    }

    synchronized RecoveryEvent toEvent() {
      return new RecoveryEvent(generation, deadPid, cause, newPid, fromStandby, deathNanos,
          handOffNanos, resentSeen ? OptionalLong.of(firstResentNanos) : OptionalLong.empty(),
          resent);
    }
  }

  /** The state directory, and the lock that keeps a second supervisor out of it. */
  private record StateDirLock(FileChannel channel, FileLock lock) {
    static StateDirLock acquire(Path dir) {
      try {
        if (!Files.isDirectory(dir)) {
          Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
              PosixFilePermissions.fromString("rwx------")));
        } else if (!Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_EXECUTE).containsAll(Files.getPosixFilePermissions(dir))) {
          log.warn("The state directory {} is open to other users ({}): its files hold what "
              + "the filesystem stores; chmod 0700 it", dir,
              PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        }
      } catch (IOException e) {
        throw new FuseException("cannot create the state directory " + dir + ": " + e
            + "; give a directory this user may create and write", null, e);
      }
      Path file = dir.resolve(LOCK_FILE);
      FileChannel channel = null;
      try {
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.tryLock();
        if (lock == null) {
          throw new OverlappingFileLockException();
        }
        return new StateDirLock(channel, lock);
      } catch (OverlappingFileLockException e) {
        closeQuietly(channel);
        throw new FuseException("another supervisor uses the state directory " + dir + " (it "
            + "holds " + file + "): give each mount its own state directory", null, null);
      } catch (IOException e) {
        closeQuietly(channel);
        throw new FuseException("cannot lock " + file + ": " + e + "; the state directory must "
            + "be writable by this user", null, e);
      }
    }

    void release() {
      try {
        lock.release();
      } catch (IOException ignored) {
        // closing the channel drops it too
      }
      closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // nothing to do about it
        }
      }
    }
  }
}
