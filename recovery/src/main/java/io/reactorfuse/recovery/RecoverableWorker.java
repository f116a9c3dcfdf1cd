package io.reactorfuse.recovery;

import io.reactorfuse.Fuse;
import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.sys.Spawn;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.recovery.SupervisorProtocol.HandOff;
import io.reactorfuse.recovery.SupervisorProtocol.Message;
import io.reactorfuse.recovery.SupervisorProtocol.Ready;
import io.reactorfuse.recovery.SupervisorProtocol.Resent;
import io.reactorfuse.recovery.SupervisorProtocol.Serving;
import io.reactorfuse.spi.RequestJournal;
import io.reactorfuse.spi.StateStore;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker side of a {@link Supervisor}: what a worker process's {@code main} calls.
 *
 * <pre>{@code
 * public static void main(String[] args) {
 *   RecoverableWorker.serve(FuseServer.create().fsName("myfs"),
 *       recovery -> new MyFs(recovery.state(), recovery.restarted()));
 * }
 * }</pre>
 *
 * <p>The worker initialises what it can (Netty's epoll transport, the C library, the classes a
 * mount runs through), tells the supervisor it is ready, and waits on fd 3 for the hand-off:
 * the /dev/fuse fds, its generation, the mount point and the state file. A hot standby waits
 * there until the worker before it dies. Then it opens the state file ({@link RecoveryStore})
 * and its {@link StoreJournal}, builds the filesystem (which restores its tables from the store
 * after a restart), serves the fds, and, if an earlier worker served them, resumes with the INIT
 * result that worker saved and asks the kernel to resend what that worker left unanswered
 * (FUSE_NOTIFY_RESEND). It exits 0 when the mount ends, 1 if the session fails.
 *
 * <p>If the supervisor goes away, the worker serves on (with a warning): the mount stays up,
 * only a crash can no longer be recovered from.
 *
 * <p><b>Test hook.</b> With the system property {@value #EXIT_ON_SIGNAL_PROPERTY} set to a signal
 * name ({@code HUP}, {@code USR2}; {@code HUP} is the safe choice: HotSpot can use SIGUSR2 for
 * thread suspension), that signal makes the worker call {@code System.exit(1)}, so that tests can
 * exercise an orderly exit with an error status.
 */
public final class RecoverableWorker {
  /** Test hook: a signal name (e.g. "HUP") that makes the worker exit with status 1. */
  public static final String EXIT_ON_SIGNAL_PROPERTY = "reactorfuse.recovery.exitOnSignal";

  /** Where the supervisor's socket is in a worker. */
  static final int SUPERVISOR_FD = 3;
  private static final Logger log = LoggerFactory.getLogger(RecoverableWorker.class);

  private RecoverableWorker() {}

  /**
   * Waits for the supervisor's hand-off on fd 3, serves the mount with the filesystem
   * {@code filesystem} makes, and exits the JVM when the session ends: 0 when it was unmounted,
   * 1 when it failed (or the worker could not start; the cause is logged), 2 when the supervisor
   * went away before the hand-off. Never returns.
   *
   * @param server the server settings (INIT options, handler scheduler, debug...); the mount
   *     point and fds come from the supervisor
   * @param filesystem makes the filesystem, given what it needs to restore its state
   */
  public static void serve(FuseServer server, Function<Recovery, FuseOps> filesystem) {
    serve(server, filesystem, mount -> {});
  }

  /** {@link #serve(FuseServer, Function)}, calling {@code onServing} once it serves (tests). */
  static void serve(FuseServer server, Function<Recovery, FuseOps> filesystem,
      Consumer<FuseMount> onServing) {
    int status;
    try {
      status = run(server, filesystem, SUPERVISOR_FD, onServing);
    } catch (Throwable t) { // even an Error: the supervisor learns of it by the status
      log.error("The worker failed: {}", t.toString(), t);
      status = 1;
    }
    System.exit(status);
  }

  /** The worker's life; returns its exit status. */
  static int run(FuseServer server, Function<Recovery, FuseOps> filesystem, int socket,
      Consumer<FuseMount> onServing) throws Exception {
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(filesystem, "filesystem");
    installExitOnSignal();
    preInitialise();
    long pid = ProcessHandle.current().pid();
    try {
      send(socket, new Ready(pid));
    } catch (NativeError e) {
      throw new FuseException("fd " + socket + " is not a supervisor's socket (" + e.getMessage()
          + "): RecoverableWorker.serve runs in a worker started by a Supervisor", e.errno(), e);
    }
    Spawn.Message packet = Spawn.receive(socket, SupervisorProtocol.MAX_MESSAGE, Spawn.MAX_FDS);
    if (packet == null) {
      log.warn("The supervisor went away before handing the mount over: nothing to serve");
      return 2;
    }
    long handOffNanos = System.nanoTime();
    HandOff handOff = handOff(packet);
    int[] fds = packet.fds();
    try (RecoveryStore store = RecoveryStore.open(handOff.stateFile())) {
      StoreJournal journal = StoreJournal.open(store);
      Reporter reporter = new Reporter(socket, journal);
      long storeNanos = System.nanoTime();
      FuseOps ops = filesystem.apply(new Context(store, handOff.generation()));
      long opsNanos = System.nanoTime();
      FuseInit saved = journal.savedInit();
      FuseServer s = server.mountPoint(handOff.mountPoint()).fromFds(fds)
          .journal(new ReportingJournal(journal, reporter)).handle(ops);
      if (saved != null) {
        s = s.resume(saved);
      }
      // What the dead worker had read and not answered (its INIT too, if it died before saving
      // it) sits on the fds' processing lists: ask for it again before reading anything, or a
      // request this worker were serving already would come back a second time.
      s = s.resendOnStart(handOff.generation() > 0 || saved != null);
      FuseMount mount = s.mountNow();
      long servingNanos = System.nanoTime();
      log.info("Worker pid {} serves {} (generation {}, {} fd(s)); since the hand-off: store "
          + "{} ms, filesystem {} ms, mount {} ms", pid, handOff.mountPoint(),
          handOff.generation(), fds.length, millis(storeNanos - handOffNanos),
          millis(opsNanos - storeNanos), millis(servingNanos - opsNanos));
      sendQuietly(socket, new Serving(pid, handOff.generation(), System.nanoTime()));
      watchSupervisor(socket);
      onServing.accept(mount);
      try {
        mount.onDispose().block();
        log.info("The mount {} ended: worker pid {} exits", handOff.mountPoint(), pid);
        return 0;
      } catch (RuntimeException e) {
        log.error("The FUSE session on {} failed: {}", handOff.mountPoint(), e.toString());
        return 1;
      } finally {
        reporter.close();
      }
    }
  }

  private static String millis(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.1f", nanos / 1e6);
  }

  private static HandOff handOff(Spawn.Message packet) {
    Message m;
    try {
      m = SupervisorProtocol.decode(packet.payload());
    } catch (IllegalArgumentException e) {
      Arrays.stream(packet.fds()).forEach(Spawn::close);
      throw e;
    }
    if (!(m instanceof HandOff h) || h.fdCount() != packet.fds().length || h.fdCount() == 0) {
      Arrays.stream(packet.fds()).forEach(Spawn::close);
      throw new FuseException("expected the supervisor's hand-off with its fds, got " + m
          + " with " + packet.fds().length + " fd(s): start the supervisor and the worker from "
          + "the same reactor-fuse build");
    }
    return h;
  }

  /**
   * Does before the hand-off what would otherwise delay the first reply after it: loads Netty's
   * epoll transport and the C library (the availability probe), and in a hot standby runs a
   * session without a mount ({@link WorkerWarmUp}). A worker started cold skips that: its
   * hand-off is waiting already, and the real session loads the same code.
   */
  private static void preInitialise() {
    Fuse.ensureAvailability();
    if ("1".equals(System.getenv(SupervisorProtocol.STANDBY_ENV))) {
      WorkerWarmUp.run();
    }
  }

  /**
   * The {@value #EXIT_ON_SIGNAL_PROPERTY} test hook. sun.misc.Signal is reached by reflection:
   * javac warns about every direct use of it, and no annotation silences that.
   */
  private static void installExitOnSignal() {
    String name = System.getProperty(EXIT_ON_SIGNAL_PROPERTY);
    if (name == null || name.isBlank()) {
      return;
    }
    String signal = name.startsWith("SIG") ? name.substring(3) : name;
    try {
      Class<?> signalClass = Class.forName("sun.misc.Signal");
      Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
      Object handler = java.lang.reflect.Proxy.newProxyInstance(
          RecoverableWorker.class.getClassLoader(), new Class<?>[] {handlerClass},
          (proxy, method, args) -> {
            if (!method.getName().equals("handle")) {
              return method.invoke(name, args); // toString, hashCode, equals
            }
            log.warn("SIG{} with {}={}: exiting with status 1 (test hook)", signal,
                EXIT_ON_SIGNAL_PROPERTY, name);
            System.exit(1);
            return null;
          });
      Object sig = signalClass.getConstructor(String.class).newInstance(signal);
      signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, sig, handler);
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw new IllegalArgumentException(EXIT_ON_SIGNAL_PROPERTY + "=" + name + ": "
          + e.getCause().getMessage() + "; name a signal HotSpot lets an application handle, "
          + "such as HUP", e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(EXIT_ON_SIGNAL_PROPERTY + " needs sun.misc.Signal (module "
          + "jdk.unsupported), which this JVM lacks: " + e, e);
    }
  }

  /** Warns once the supervisor's socket closes: the mount is served on, without a safety net. */
  private static void watchSupervisor(int socket) {
    Thread t = new Thread(() -> {
      try {
        while (true) {
          Spawn.Message m = Spawn.receive(socket, SupervisorProtocol.MAX_MESSAGE, Spawn.MAX_FDS);
          if (m == null) {
            break;
          }
          Arrays.stream(m.fds()).forEach(Spawn::close); // nothing more is expected
        }
      } catch (NativeError e) {
        log.debug("Reading the supervisor's socket: {}", e.getMessage());
      }
      log.warn("The supervisor went away: serving on without it; if this worker dies now, "
          + "nothing restarts it and the mount fails (ENOTCONN)");
    }, "reactor-fuse-supervisor-watch");
    t.setDaemon(true);
    t.start();
  }

  private static void send(int socket, Message m) throws NativeError {
    Spawn.send(socket, SupervisorProtocol.encode(m));
  }

  private static void sendQuietly(int socket, Message m) {
    try {
      send(socket, m);
    } catch (NativeError e) {
      log.debug("Cannot report {} to the supervisor: {}", m, e.getMessage()); // it went away
    }
  }

  /** What the filesystem factory gets. */
  private record Context(StateStore state, int generation) implements Recovery {}

  /**
   * Tells the supervisor how resent requests were answered: at once after the first, then at
   * most one report per burst (a report that is queued picks up every answer before it runs).
   * Sent from a thread of its own: the answers come from the event loops.
   */
  private static final class Reporter implements AutoCloseable {
    private final int socket;
    private final StoreJournal journal;
    private final AtomicBoolean queued = new AtomicBoolean();
    private final ThreadPoolExecutor executor;

    Reporter(int socket, StoreJournal journal) {
      this.socket = socket;
      this.journal = journal;
      this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "reactor-fuse-recovery-report");
            t.setDaemon(true);
            return t;
          });
      executor.prestartAllCoreThreads(); // not on the first answer's path
    }

    void answered() {
      if (queued.compareAndSet(false, true)) {
        executor.execute(this::report);
      }
    }

    private void report() {
      queued.set(false);
      OptionalLong first = journal.firstResentAnsweredNanos();
      if (first.isPresent()) {
        sendQuietly(socket, new Resent(first.getAsLong(), journal.resentFromJournal(),
            journal.resentExecuted()));
      }
    }

    @Override
    public void close() {
      executor.shutdown();
    }
  }

  /** The store's journal, telling the {@link Reporter} of each resent request answered. */
  private record ReportingJournal(StoreJournal journal, Reporter reporter)
      implements RequestJournal {
    @Override
    public void initNegotiated(FuseInit init) {
      journal.initNegotiated(init);
    }

    @Override
    public ByteBuffer savedReply(long unique) {
      return journal.savedReply(unique);
    }

    @Override
    public boolean wasStarted(long unique) {
      return journal.wasStarted(unique);
    }

    @Override
    public void started(long unique, int opcode) {
      journal.started(unique, opcode);
    }

    @Override
    public void replying(long unique, ByteBuffer reply) {
      journal.replying(unique, reply);
    }

    @Override
    public void replied(long unique) {
      journal.replied(unique);
    }

    @Override
    public void resentAnswered(long unique, int opcode, boolean fromJournal) {
      journal.resentAnswered(unique, opcode, fromJournal);
      reporter.answered();
    }
  }
}
