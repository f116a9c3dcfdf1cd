package io.reactorfuse.perf;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.recovery.RecoverableWorker;
import io.reactorfuse.recovery.RecoveryEvent;
import io.reactorfuse.recovery.RestartPolicy;
import io.reactorfuse.recovery.SupervisedMount;
import io.reactorfuse.recovery.Supervisor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Mono;

/**
 * How long a caller waits when the worker serving its request dies: from the worker's death (the
 * supervisor's waitpid) to the first resent request answered by the next worker, over N kills,
 * with the next worker started cold and as a hot standby.
 *
 * <p>Each round: {@code cat MOUNT/slow} sends a READ that the worker never answers (it drops a
 * marker file so the bench knows the READ is in flight); the worker is SIGKILLed; the next
 * worker gets the READ again (bit 63) and answers it; cat prints the content and exits 0.
 *
 * <p>{@code java -cp perf/target/benchmarks.jar io.reactorfuse.perf.RecoveryBench [KILLS]}, as
 * root. Prints one line per kill and the median and max per mode.
 */
public final class RecoveryBench {
  static final String MARKERS = "recoverybench.markers";
  static final byte[] CONTENT = "answered after the crash\n".getBytes(StandardCharsets.US_ASCII);

  private RecoveryBench() {}

  public static void main(String[] args) throws Exception {
    int kills = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    for (boolean hot : new boolean[] {false, true}) {
      List<Double> ms = run(kills, hot);
      Collections.sort(ms);
      System.out.printf("%s: kills %d, death to first resent reply: median %.1f ms, max %.1f ms%n",
          hot ? "hot standby" : "cold restart", ms.size(), ms.get(ms.size() / 2),
          ms.get(ms.size() - 1));
    }
  }

  private static List<Double> run(int kills, boolean hot) throws Exception {
    Path work = Files.createTempDirectory("reactor-fuse-recovery-bench-");
    Path mnt = Files.createDirectory(work.resolve("mnt"));
    Path markers = Files.createDirectory(work.resolve("markers"));
    SupervisedMount mount = Supervisor.create()
        .server(FuseServer.create().mountPoint(mnt))
        .stateDir(work.resolve("state")).hotStandby(hot)
        .restartPolicy(RestartPolicy.defaults().backoff(Duration.ZERO, Duration.ZERO)
            .giveUpAfter(kills + 1, Duration.ofHours(1)))
        .workerJava(List.of("-D" + MARKERS + "=" + markers), RecoveryBench.Worker.class.getName())
        .start();
    List<Double> times = new ArrayList<>();
    try {
      for (int k = 0; k < kills; k++) {
        if (hot) {
          await("a hot standby", () -> mount.standbyPid().isPresent());
        }
        int before = count(markers);
        Process cat = new ProcessBuilder("cat", mnt.resolve("slow").toString()).start();
        await("the READ in flight", () -> count(markers) > before);
        int pid = mount.workerPid();
        new ProcessBuilder("kill", "-KILL", String.valueOf(pid)).start().waitFor();
        if (!cat.waitFor(30, TimeUnit.SECONDS) || cat.exitValue() != 0) {
          throw new IllegalStateException("cat did not get its bytes after the crash");
        }
        int restarts = k + 1;
        await("the recovery event", () -> mount.events().size() >= restarts
            && mount.events().get(restarts - 1).recoveryTime().isPresent());
        RecoveryEvent e = mount.events().get(restarts - 1);
        double t = e.recoveryTime().orElseThrow().toNanos() / 1e6;
        times.add(t);
        System.out.printf("%s kill %d: pid %d -> %d, hand-off %.1f ms, first resent reply "
            + "%.1f ms%n", hot ? "hot" : "cold", restarts, e.deadPid(), e.newPid(),
            e.handOffDelay().toNanos() / 1e6, t);
      }
    } finally {
      mount.stop();
      try (var paths = Files.walk(work)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    return times;
  }

  private static int count(Path dir) {
    try (var s = Files.list(dir)) {
      return (int) s.count();
    } catch (IOException e) {
      return 0;
    }
  }

  private static void await(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out waiting for " + what);
      }
      Thread.sleep(5);
    }
  }

  /** The worker: one file, {@code slow}, whose READs are answered only when resent. */
  public static final class Worker {
    private Worker() {}

    public static void main(String[] args) {
      Path markers = Path.of(System.getProperty(MARKERS));
      Attr root = Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(2).build();
      Attr file = Attr.builder().ino(2).mode(Attr.S_IFREG | 0644).size(CONTENT.length).build();
      FuseOps fs = new FuseOps() {
        @Override
        public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
          return req.name().equals("slow")
              ? Mono.just(EntryReply.of(file, Duration.ZERO, Duration.ZERO))
              : Errno.ENOENT.mono();
        }

        @Override
        public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
          return Mono.just(new AttrReply(req.nodeId() == 1 ? root : file, Duration.ZERO));
        }

        @Override
        public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
          return Mono.just(OpenReply.of(0, OpenReply.FOPEN_DIRECT_IO)); // READ waits for us
        }

        @Override
        public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
          if (ctx.resent() || req.offset() >= CONTENT.length) { // end of file: at once
            int from = (int) Math.min(req.offset(), CONTENT.length);
            return Mono.just(Unpooled.wrappedBuffer(CONTENT, from,
                Math.min(req.size(), CONTENT.length - from)));
          }
          try {
            Files.createFile(markers.resolve(Long.toString(ctx.unique())));
          } catch (IOException e) {
            return Mono.error(e);
          }
          return Mono.never(); // answered by the next worker, after the kill
        }
      };
      RecoverableWorker.serve(FuseServer.create().fsName("recovery-bench"), recovery -> fs);
    }
  }
}
