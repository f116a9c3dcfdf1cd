package io.reactorfuse.recovery;

import io.reactorfuse.FuseServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Keeps a FUSE mount alive across crashes of the process that serves it. Immutable: every setter
 * returns a new builder, and checks its value at once.
 *
 * <pre>{@code
 * SupervisedMount mount = Supervisor.create()
 *     .server(FuseServer.create().mountPoint(Path.of("/mnt/x")).threads(2))
 *     .workerJava(List.of("-Xmx256m"), "com.example.MyFsWorker")
 *     .stateDir(Path.of("/var/lib/myfs"))
 *     .hotStandby(true)
 *     .start();
 * mount.termination().join(); // until someone runs umount /mnt/x
 * }</pre>
 *
 * <p><b>How.</b> The supervisor mounts ({@link FuseServer#mountDevice()}) without serving, and
 * keeps a copy of every /dev/fuse fd (the session fd and its clones) for the life of the mount:
 * as long as one process holds them, the kernel keeps the connection, and the requests a dead
 * worker had read stay on its processing lists. It starts the worker command with posix_spawn
 * (the worker's stdout and stderr go to the supervisor's stderr; fd 3 is a socket to the
 * supervisor) and sends it the fds with SCM_RIGHTS. The worker ({@link RecoverableWorker})
 * serves them; after a crash the next worker gets the same fds, resumes the session with the
 * INIT result saved in the state file, and asks the kernel to resend what was in flight
 * (FUSE_NOTIFY_RESEND), answering the non-idempotent requests the dead worker had finished from
 * its journal ({@link StoreJournal}). A caller of the mount sees a delay, not an error.
 *
 * <p>A worker that exits with status 0 ends the supervision: the mount was unmounted. Any other
 * end (a signal, a non-zero status) is a crash, answered per the {@link RestartPolicy}. With
 * {@link #hotStandby}, a second worker JVM is started in advance, initialises, and waits: it
 * takes over at once, which saves the JVM's start-up from the restart time.
 *
 * <p>The supervisor's threads are daemons: a program whose main has nothing else to do waits on
 * {@link SupervisedMount#termination()}. If the JVM exits first, a shutdown hook stops the
 * supervision (unmounts, kills the workers).
 *
 * <p>The state directory holds the state file (a {@link RecoveryStore}, made new for each
 * mount: a new session must not resume an old one), a lock file (one supervisor per directory)
 * and, with {@link #workerJava}, the JVM's crash logs ({@code hs_err_PID.log}).
 */
public final class Supervisor {
  private final Config config;

  private Supervisor(Config config) {
    this.config = config;
  }

  /** A builder with the {@linkplain RestartPolicy#defaults() default restart policy}. */
  public static Supervisor create() {
    return new Supervisor(new Config());
  }

  private Supervisor with(Consumer<Config> change) {
    Config copy = config.copy();
    change.accept(copy);
    return new Supervisor(copy);
  }

  /**
   * What to mount: the mount point, the mount options and {@link FuseServer#threads} (how many
   * fds: the session fd and its clones). The filesystem itself ({@link FuseServer#handle}) is
   * the worker's business and not used here.
   */
  public Supervisor server(FuseServer server) {
    Objects.requireNonNull(server, "server");
    return with(c -> c.server = server);
  }

  /**
   * The command that starts a worker: a program (a path, or a name looked up on PATH) and its
   * arguments. Its main must call {@link RecoverableWorker#serve}. It gets this process's
   * environment.
   */
  public Supervisor workerCommand(List<String> command) {
    Objects.requireNonNull(command, "command");
    if (command.isEmpty() || command.stream().anyMatch(a -> a == null || a.indexOf('\0') >= 0)) {
      throw new IllegalArgumentException("workerCommand needs a program and its arguments, "
          + "none null or holding NUL, got " + command);
    }
    List<String> copy = List.copyOf(command);
    return with(c -> {
      c.command = copy;
      c.javaMain = null;
    });
  }

  /**
   * The worker is {@code mainClass} run by this JVM's java with this JVM's class path, the
   * {@code jvmOptions} (system properties, heap size) and {@code args}. The JVM is told to write
   * no core file and its crash log ({@code hs_err_PID.log}) to the state directory.
   */
  public Supervisor workerJava(List<String> jvmOptions, String mainClass, String... args) {
    Objects.requireNonNull(jvmOptions, "jvmOptions");
    Objects.requireNonNull(mainClass, "mainClass");
    if (mainClass.isBlank()) {
      throw new IllegalArgumentException("workerJava needs a main class name, got \"\"");
    }
    List<String> options = List.copyOf(jvmOptions);
    List<String> arguments = List.of(args);
    return with(c -> {
      c.javaMain = new JavaMain(options, mainClass, arguments);
      c.command = null;
    });
  }

  /**
   * Where the state file lives; created (mode 0700) if missing. One supervisor at a time per
   * directory.
   */
  public Supervisor stateDir(Path dir) {
    Objects.requireNonNull(dir, "dir");
    return with(c -> c.stateDir = dir.toAbsolutePath().normalize());
  }

  /** Keep a second worker started and initialised, to take over at once (default off). */
  public Supervisor hotStandby(boolean on) {
    return with(c -> c.hotStandby = on);
  }

  /** When to restart and when to give up (default {@link RestartPolicy#defaults()}). */
  public Supervisor restartPolicy(RestartPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    return with(c -> c.policy = policy);
  }

  /**
   * How long {@link SupervisedMount#stop()} waits for the worker to exit after the unmount
   * before it SIGKILLs it (default 10 s).
   */
  public Supervisor stopTimeout(Duration timeout) {
    checkPositive("stopTimeout", timeout);
    return with(c -> c.stopTimeout = timeout);
  }

  /**
   * How long {@link #start()} waits for the first worker to serve (default 60 s); then it stops
   * and fails.
   */
  public Supervisor startTimeout(Duration timeout) {
    checkPositive("startTimeout", timeout);
    return with(c -> c.startTimeout = timeout);
  }

  private static void checkPositive(String name, Duration d) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + d);
    }
  }

  /**
   * Mounts, starts the first worker (and the standby), and returns once the first worker
   * serves.
   *
   * @throws io.reactorfuse.FuseException if the mount, the state directory or the first worker
   *     fails (the message names the cause and the fix); nothing is left mounted then
   */
  public SupervisedMount start() {
    Config c = config.copy();
    if (c.server == null) {
      throw new IllegalStateException("no server: call server(FuseServer) with the mount point "
          + "before start()");
    }
    if (c.command == null && c.javaMain == null) {
      throw new IllegalStateException("no worker: call workerCommand(List) or workerJava(...) "
          + "before start()");
    }
    if (c.stateDir == null) {
      throw new IllegalStateException("no state directory: call stateDir(Path) before start()");
    }
    List<String> command = c.command != null ? c.command : c.javaMain.command(c.stateDir);
    return SupervisorRun.start(new SupervisorRun.Settings(c.server, command, c.stateDir,
        c.hotStandby, c.policy, c.stopTimeout, c.startTimeout));
  }

  /** {@link #workerJava}'s parts, made into a command once the state directory is known. */
  private record JavaMain(List<String> options, String mainClass, List<String> args) {
    List<String> command(Path stateDir) {
      List<String> cmd = new ArrayList<>();
      cmd.add(ProcessHandle.current().info().command()
          .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
      // A crash of the JVM itself leaves its log where the operator looks, and no core file.
      cmd.add("-XX:-CreateCoredumpOnCrash");
      cmd.add("-XX:ErrorFile=" + stateDir.resolve("hs_err_%p.log"));
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.addAll(options);
      cmd.add(mainClass);
      cmd.addAll(args);
      return cmd;
    }
  }

  private static final class Config {
    FuseServer server;
    List<String> command;
    JavaMain javaMain;
    Path stateDir;
    boolean hotStandby;
    RestartPolicy policy = RestartPolicy.defaults();
    Duration stopTimeout = Duration.ofSeconds(10);
    Duration startTimeout = Duration.ofSeconds(60);

    Config copy() {
      Config c = new Config();
      c.server = server;
      c.command = command;
      c.javaMain = javaMain;
      c.stateDir = stateDir;
      c.hotStandby = hotStandby;
      c.policy = policy;
      c.stopTimeout = stopTimeout;
      c.startTimeout = startTimeout;
      return c;
    }
  }
}
