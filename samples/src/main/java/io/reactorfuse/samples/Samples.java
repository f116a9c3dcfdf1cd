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
        Samples.Objectstore.class, Samples.S3server.class, Samples.Fusetop.class})
public final class Samples implements Runnable {

  public static void main(String[] args) {
    // the embedded S3 server's start-up chatter (CORS, Jetty banners) is not the user's business
    quietByDefault("org.gaul", "warn");
    // The AWS SDK's HTTP client cancels the rest of a 404 answer to HEAD, and Netty reports
    // that "Request cancelled" as an unhandled exception: a stack trace per missing name.
    quietByDefault("io.netty.channel.DefaultChannelPipeline", "error");
    System.exit(commandLine().execute(args));
  }

  private static void quietByDefault(String logger, String level) {
    String property = "org.slf4j.simpleLogger.log." + logger;
    if (System.getProperty(property) == null) {
      System.setProperty(property, level);
    }
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
      Duration timeout = seconds("--timeout", timeoutSeconds);
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

  @Command(name = "objectstore", mixinStandardHelpOptions = true,
      description = "Mounts an S3 bucket: keys with / are directories, reads are ranged GETs, "
          + "files are uploaded when closed. Without --endpoint it starts an S3 server on "
          + "loopback keeping its data under --data-dir, and mounts its bucket.")
  static final class Objectstore implements Callable<Integer> {
    @Mixin MountOptions mount;

    @Option(names = "--endpoint", paramLabel = "URL",
        description = "An S3-compatible server, e.g. http://127.0.0.1:9000 (MinIO, Ceph), or "
            + "https://s3.REGION.amazonaws.com. Default: an embedded server on loopback.")
    java.net.URI endpoint;

    @Option(names = "--bucket", paramLabel = "NAME", defaultValue = "reactor-fuse",
        description = "The bucket to mount (default: ${DEFAULT-VALUE}; created on the embedded "
            + "server).")
    String bucket;

    @Option(names = "--region", paramLabel = "REGION", defaultValue = "us-east-1",
        description = "The signing region (default: ${DEFAULT-VALUE}).")
    String region;

    @Option(names = "--access-key", paramLabel = "KEY",
        description = "With --secret-key: the credentials. Default: the AWS default chain "
            + "(AWS_ACCESS_KEY_ID, ~/.aws, instance role); the embedded server's own keys.")
    String accessKey;

    @Option(names = "--secret-key", paramLabel = "SECRET", description = "See --access-key.")
    String secretKey;

    @Option(names = "--data-dir", paramLabel = "DIR",
        description = "Where the embedded server keeps buckets (default: "
            + "$XDG_DATA_HOME/reactor-fuse/objectstore or ~/.local/share/reactor-fuse/objectstore).")
    java.nio.file.Path dataDir;

    @Option(names = "--spool-dir", paramLabel = "DIR",
        description = "Where files being written are kept until uploaded, and bytes that "
            + "could not be uploaded are left (default: the data dir's sibling spool/).")
    java.nio.file.Path spoolDir;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
        description = "The longest one S3 request may take, retries included; then the system "
            + "call fails with EIO (default: ${DEFAULT-VALUE}).")
    double timeoutSeconds;

    @Option(names = "--retries", paramLabel = "N", defaultValue = "3",
        description = "How often a failed S3 request is retried (default: ${DEFAULT-VALUE}).")
    int retries;

    @Option(names = "--cache-timeout", paramLabel = "SECONDS", defaultValue = "1",
        description = "How long names and attributes are cached, by the kernel and the lookup "
            + "cache (default: ${DEFAULT-VALUE}).")
    double cacheSeconds;

    @Option(names = "--poll", paramLabel = "SECONDS", defaultValue = "0",
        description = "Every SECONDS, list the directories in use and invalidate what other "
            + "clients changed (default: 0, never).")
    double pollSeconds;

    @Option(names = "--read-ahead", paramLabel = "MIB", defaultValue = "32",
        description = "How far ahead of a sequential reader to fetch, in chunks of up to 8 MiB "
            + "fetched at once (default: ${DEFAULT-VALUE}).")
    int readAheadMiB;

    @Option(names = "--multipart-threshold", paramLabel = "MIB", defaultValue = "16",
        description = "Files larger than this are uploaded in parts (default: ${DEFAULT-VALUE}).")
    int multipartMiB;

    @Option(names = "--part-size", paramLabel = "MIB", defaultValue = "8",
        description = "The size of each part, at least 5 (default: ${DEFAULT-VALUE}).")
    int partMiB;

    @Option(names = "--max-connections", paramLabel = "N", defaultValue = "1024",
        description = "HTTP connections to the server at most (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Override
    public Integer call() throws Exception {
      Duration timeout = seconds("--timeout", timeoutSeconds);
      Duration cacheTimeout = seconds("--cache-timeout", cacheSeconds);
      java.nio.file.Path data = dataDir != null ? dataDir
          : io.reactorfuse.samples.objectstore.EmbeddedS3.defaultDataDir();
      java.nio.file.Path spool = spoolDir != null ? spoolDir : data.resolveSibling("spool");
      io.reactorfuse.samples.objectstore.EmbeddedS3 server = null;
      try {
        java.net.URI url = endpoint;
        String key = accessKey;
        String secret = secretKey;
        if (url == null) {
          if (key == null) {
            key = io.reactorfuse.samples.objectstore.EmbeddedS3.randomKey();
            secret = io.reactorfuse.samples.objectstore.EmbeddedS3.randomKey();
          }
          server = io.reactorfuse.samples.objectstore.EmbeddedS3.start(data, 0, key, secret);
          server.createBucket(bucket);
          url = server.endpoint();
          System.err.println("embedded S3 server at " + url + ", bucket " + bucket
              + ", data in " + data);
        }
        var s3 = new io.reactorfuse.samples.objectstore.S3Settings(url, region, bucket, key,
            secret, timeout, retries, maxConnections, (long) multipartMiB << 20,
            (long) partMiB << 20);
        var options = new io.reactorfuse.samples.objectstore.ObjectStoreFs.Options(cacheTimeout,
            spool, (long) readAheadMiB << 20, currentUid(), currentGid());
        try (var fs = io.reactorfuse.samples.objectstore.ObjectStoreFs.connect(s3, options)) {
          reactor.core.Disposable poll = pollSeconds <= 0 ? () -> { }
              : reactor.core.publisher.Flux.interval(seconds("--poll", pollSeconds))
                  .onBackpressureDrop()
                  .concatMap(t -> fs.pollChanges(), 1)
                  .subscribe();
          try {
            return serve(mount, fs.ops(), s -> io.reactorfuse.samples.objectstore.ObjectStoreFs
                .tune(s.fsName("s3:" + bucket).subtype("objectstore")));
          } finally {
            poll.dispose();
          }
        }
      } finally {
        if (server != null) {
          server.close();
        }
      }
    }

  }

  @Command(name = "s3server", mixinStandardHelpOptions = true,
      description = "Runs the embedded S3 server alone (s3proxy, data kept in a directory), "
          + "for other S3 clients: s3fs, rclone, the aws CLI, or objectstore --endpoint.")
  static final class S3server implements Callable<Integer> {
    @Option(names = "--data-dir", paramLabel = "DIR", required = true,
        description = "Where buckets are kept, one directory each.")
    java.nio.file.Path dataDir;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "0",
        description = "The port on 127.0.0.1 (default: any free one).")
    int port;

    @Option(names = "--bucket", paramLabel = "NAME", defaultValue = "reactor-fuse",
        description = "A bucket to create (default: ${DEFAULT-VALUE}).")
    String bucket;

    @Option(names = "--access-key", paramLabel = "KEY", description = "Default: random.")
    String accessKey;

    @Option(names = "--secret-key", paramLabel = "SECRET", description = "Default: random.")
    String secretKey;

    @Override
    public Integer call() throws Exception {
      String key = accessKey != null ? accessKey
          : io.reactorfuse.samples.objectstore.EmbeddedS3.randomKey();
      String secret = secretKey != null ? secretKey
          : io.reactorfuse.samples.objectstore.EmbeddedS3.randomKey();
      try (var server = io.reactorfuse.samples.objectstore.EmbeddedS3.start(dataDir, port, key,
          secret)) {
        server.createBucket(bucket);
        // one line a script can read
        System.out.println("endpoint " + server.endpoint() + " bucket " + bucket
            + " access-key " + key + " secret-key " + secret);
        System.out.flush();
        new java.util.concurrent.CountDownLatch(1).await(); // until killed
        return 0;
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

  /** A number of seconds given to {@code option}, checked. */
  private static Duration seconds(String option, double value) {
    if (!(value >= 0) || value > 1e9) {
      throw new IllegalArgumentException(option + " must be >= 0 seconds, got " + value);
    }
    return Duration.ofNanos((long) (value * 1e9));
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
