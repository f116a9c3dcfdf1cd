package io.reactorfuse.samples;

import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.samples.hello.HelloFs;
import io.reactorfuse.samples.memfs.MemFs;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import io.reactorfuse.recovery.RecoverableWorker;
import io.reactorfuse.recovery.SupervisedMount;
import io.reactorfuse.recovery.Supervisor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The samples' command line: {@code java -jar reactor-fuse-samples.jar hello|memfs MOUNTPOINT}
 * or {@code passthrough [--passthrough | --writeback] SOURCE MOUNTPOINT}.
 * Each runs in the foreground until the mount is unmounted ({@code umount MOUNTPOINT}, exit code
 * 0) or the process is signalled (the mount is detached on the way out).
 */
@Command(name = "reactor-fuse-samples", mixinStandardHelpOptions = true,
    version = "reactor-fuse samples 0.1.0",
    description = "Sample FUSE filesystems built on reactor-fuse.",
    subcommands = {Samples.Hello.class, Samples.Memfs.class, Samples.Passthrough.class,
        Samples.Fusetop.class})
public final class Samples implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    return new CommandLine(new Samples())
        .setExecutionExceptionHandler((e, cmd, parsed) -> {
          // Expected failures (a missing mount point, no permission) get one line, no trace.
          boolean expected = e instanceof FuseException || e instanceof IllegalArgumentException
              || e instanceof IllegalStateException;
          cmd.getErr().println(cmd.getCommandName() + ": " + (expected ? e.getMessage() : e));
          if (!expected) {
            e.printStackTrace(cmd.getErr());
          }
          return 1;
        });
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.err);
  }

  /** Mounts, waits for the end of the session, and reports it. */
  static int serve(MountSettings options, FuseOps ops, UnaryOperator<FuseServer> extra) {
    FuseMount mount = extra.apply(options.apply(FuseServer.create())).handle(ops).mountNow();
    System.err.println("mounted on " + mount.mountPoint() + " (" + mount.threads()
        + (mount.threads() == 1 ? " thread" : " threads") + "); unmount with: umount "
        + mount.mountPoint());
    mount.onDispose().block();
    System.err.println("unmounted " + mount.mountPoint());
    return 0;
  }

  @Command(name = "hello", mixinStandardHelpOptions = true,
      description = "One read-only file, hello, in a read-only root directory.")
  static final class Hello implements Callable<Integer> {
    @Mixin MountOptions mount;

    @Override
    public Integer call() {
      return serve(mount, new HelloFs(), s -> s.fsName("hello").subtype("hello"));
    }
  }

  @Command(name = "memfs", mixinStandardHelpOptions = true,
      description = "An in-memory read-write filesystem (files, directories, symlinks, hard "
          + "links, xattrs, rename flags); its content is lost when unmounted.")
  static final class Memfs implements Callable<Integer> {
    @Mixin MountOptions mount;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "1",
        description = "How long the kernel may cache names and attributes; 0 sends every "
            + "lookup and stat to the daemon (default: ${DEFAULT-VALUE}).")
    double timeoutSeconds;

    @Override
    public Integer call() {
      if (timeoutSeconds < 0) {
        throw new IllegalArgumentException("--timeout must be >= 0 seconds, got "
            + timeoutSeconds);
      }
      Duration timeout = Duration.ofNanos((long) (timeoutSeconds * 1e9));
      MemFs fs = new MemFs(timeout, currentUid(), currentGid());
      return serve(mount, fs, s -> s.fsName("memfs").subtype("memfs").defaultPermissions(true));
    }
  }

  @Command(name = "passthrough", mixinStandardHelpOptions = true,
      description = "Mirrors the directory SOURCE, like libfuse's passthrough_hp: every "
          + "operation is the same system call on the real file. Files are created as the "
          + "caller; permissions are checked by the kernel (default_permissions). With "
          + "--passthrough (root, Linux 6.9+) the kernel reads and writes regular files "
          + "itself, at the speed of SOURCE.")
  static final class Passthrough implements Callable<Integer> {
    @Mixin SourceMountOptions mount;

    @Option(names = "--cache", paramLabel = "MODE", defaultValue = "auto",
        description = "never (timeouts 0, direct I/O), auto (names and attributes cached 1 s) "
            + "or always (1 day, page cache kept across opens) (default: ${DEFAULT-VALUE}).")
    String cache;

    @Option(names = "--passthrough",
        description = "Kernel passthrough I/O: regular files are registered with the kernel at "
            + "open, which then reads, writes and maps them without asking the daemon (no READ "
            + "or WRITE requests). Needs root (CAP_SYS_ADMIN) and a kernel offering "
            + "FUSE_PASSTHROUGH (Linux 6.9+); otherwise one warning and ordinary I/O. Direct "
            + "I/O of --cache never is dropped for such files (they see SOURCE's data anyway). "
            + "Excludes --writeback.")
    boolean passthrough;

    @Option(names = "--recoverable",
        description = "Survive the daemon's crash: this process becomes a supervisor that "
            + "mounts, keeps the /dev/fuse fds, and serves them with a worker JVM; a worker "
            + "that dies is replaced, the requests it had in flight are sent again and answered "
            + "exactly once, and processes using the mount do not notice. Excludes "
            + "--passthrough.")
    boolean recoverable;

    @Option(names = "--hot-standby",
        description = "With --recoverable: keep a second worker JVM started and waiting, so a "
            + "crash is recovered without waiting for a JVM to start.")
    boolean hotStandby;

    @Option(names = "--state-dir", paramLabel = "DIR",
        description = "With --recoverable: where the state that outlives a worker is kept "
            + "(default: a new directory under java.io.tmpdir, removed at the end).")
    java.nio.file.Path stateDir;

    /** Set by the supervisor on the worker JVMs it starts: serve the fds it hands over. */
    @Option(names = "--recovery-worker", hidden = true)
    boolean recoveryWorker;

    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--writeback",
        description = "Writeback cache: the kernel gathers writes in the page cache and sends "
            + "them later, in bigger pieces. Excludes --passthrough (the kernel refuses the "
            + "combination).")
    boolean writeback;

    @Override
    public Integer call() {
      if (passthrough && writeback) {
        throw new IllegalArgumentException("--passthrough and --writeback exclude each other: "
            + "the kernel does not combine passthrough I/O with the writeback cache; pick one");
      }
      PassthroughFs.CacheMode mode;
      switch (cache) {
        case "never": mode = PassthroughFs.CacheMode.NEVER; break;
        case "auto": mode = PassthroughFs.CacheMode.AUTO; break;
        case "always": mode = PassthroughFs.CacheMode.ALWAYS; break;
        default:
          throw new IllegalArgumentException("unknown --cache \"" + cache
              + "\"; known: never, auto, always");
      }
      if (!java.nio.file.Files.isDirectory(mount.source)) {
        throw new IllegalArgumentException("SOURCE " + mount.source + " is not a directory");
      }
      if ((hotStandby || stateDir != null) && !recoverable && !recoveryWorker) {
        throw new IllegalArgumentException("--hot-standby and --state-dir only apply with "
            + "--recoverable");
      }
      if (recoverable && passthrough) {
        throw new IllegalArgumentException("--recoverable cannot be combined with --passthrough "
            + "yet: the kernel's backing ids would have to be handed from worker to worker");
      }
      UnaryOperator<FuseServer> settings = s -> s
          .fsName(mount.source.toAbsolutePath().toString()
              .replace(',', '_').replace('=', '_').replace(' ', '_'))
          .subtype("passthrough").defaultPermissions(true)
          .passthrough(passthrough).writebackCache(writeback);
      if (recoveryWorker) {
        RecoverableWorker.serve(settings.apply(mount.apply(FuseServer.create())),
            recovery -> new PassthroughFs(mount.source, mode, false, 0, recovery.state()));
        return 1; // serve() exits the JVM
      }
      if (recoverable) {
        return supervise(settings.apply(mount.apply(FuseServer.create())));
      }
      try (PassthroughFs fs = new PassthroughFs(mount.source, mode, passthrough)) {
        return serve(mount, fs, settings);
      }
    }

    /**
     * Mounts in this process and serves in worker JVMs running this same command with
     * {@code --recovery-worker}, until the mount ends.
     */
    private int supervise(FuseServer server) {
      List<String> workerArgs = new ArrayList<>(List.of("passthrough", "--recovery-worker"));
      List<String> original = spec.commandLine().getParseResult().originalArgs();
      // The whole command line: what follows this subcommand's name is its own.
      for (int i = original.indexOf(spec.name()) + 1; i < original.size(); i++) {
        String a = original.get(i);
        if (a.equals("--state-dir")) {
          i++; // and its value
        } else if (!a.equals("--recoverable") && !a.equals("--hot-standby")
            && !a.startsWith("--state-dir=")) {
          workerArgs.add(a);
        }
      }
      java.nio.file.Path dir = stateDir;
      boolean ownDir = dir == null;
      try {
        if (ownDir) {
          dir = java.nio.file.Files.createTempDirectory("reactor-fuse-recovery-");
        }
        SupervisedMount m = Supervisor.create().server(server).stateDir(dir)
            .hotStandby(hotStandby)
            .workerJava(List.of(), Samples.class.getName(), workerArgs.toArray(String[]::new))
            .start();
        System.err.println("mounted on " + m.mountPoint() + ", served by worker pid "
            + m.workerPid() + (hotStandby ? " with a hot standby" : "")
            + "; unmount with: umount " + m.mountPoint());
        try {
          m.termination().join();
        } catch (java.util.concurrent.CompletionException e) {
          throw e.getCause() instanceof RuntimeException
              ? (RuntimeException) e.getCause() : e;
        }
        System.err.println("unmounted " + m.mountPoint() + " (" + m.restarts()
            + (m.restarts() == 1 ? " worker restart)" : " worker restarts)"));
        return 0;
      } catch (java.io.IOException e) {
        throw new IllegalStateException("cannot create a state directory: " + e.getMessage(), e);
      } finally {
        if (ownDir && dir != null) {
          deleteTree(dir);
        }
      }
    }
  }

  @Command(name = "fusetop", mixinStandardHelpOptions = true,
      description = "Counts the FUSE requests the kernel sends to the daemon of MOUNTPOINT, per "
          + "opcode, with their latency, from inside the kernel (a BPF program on the "
          + "fuse_request_send/fuse_request_end tracepoints). Needs root and BPF.")
  static final class Fusetop implements Callable<Integer> {
    @picocli.CommandLine.Parameters(paramLabel = "MOUNTPOINT",
        description = "A mounted FUSE filesystem (any daemon).")
    java.nio.file.Path mountPoint;

    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "1",
        description = "Seconds between tables (default: ${DEFAULT-VALUE}).")
    double interval;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "" + Long.MAX_VALUE,
        description = "How many tables to print (default: until interrupted).")
    long rounds;

    @Override
    public Integer call() throws Exception {
      io.reactorfuse.ebpf.FuseTop.main(new String[] {mountPoint.toString(),
          Double.toString(interval), Long.toString(rounds)});
      return 0;
    }
  }

  private static void deleteTree(java.nio.file.Path dir) {
    try (java.util.stream.Stream<java.nio.file.Path> paths = java.nio.file.Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      System.err.println("could not remove " + dir + ": " + e.getMessage());
    }
  }

  private static int currentUid() {
    return Integer.parseInt(unixId("uid"));
  }

  private static int currentGid() {
    return Integer.parseInt(unixId("gid"));
  }

  private static String unixId(String attribute) {
    try {
      Object v = java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"),
          "unix:" + attribute);
      return String.valueOf(v);
    } catch (java.io.IOException e) {
      return "0";
    }
  }
}
