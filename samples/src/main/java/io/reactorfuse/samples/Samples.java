package io.reactorfuse.samples;

import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.samples.hello.HelloFs;
import io.reactorfuse.samples.memfs.MemFs;
import io.reactorfuse.samples.passthrough.PassthroughFs;
import java.time.Duration;
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
    subcommands = {Samples.Hello.class, Samples.Memfs.class, Samples.Passthrough.class})
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
      try (PassthroughFs fs = new PassthroughFs(mount.source, mode, passthrough)) {
        return serve(mount, fs, s -> s.fsName(mount.source.toAbsolutePath().toString()
            .replace(',', '_').replace('=', '_').replace(' ', '_'))
            .subtype("passthrough").defaultPermissions(true)
            .passthrough(passthrough).writebackCache(writeback));
      }
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
