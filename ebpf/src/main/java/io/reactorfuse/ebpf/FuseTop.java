package io.reactorfuse.ebpf;

import io.reactorfuse.FuseException;
import io.reactorfuse.internal.codec.Opcode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code fusetop MOUNTPOINT [INTERVAL_SECONDS [ROUNDS]]}: prints a mount's requests per opcode,
 * as the kernel sees them, every interval (default 1 s, until Ctrl-C). Run it next to a daemon
 * with and without its cache to see how many lookups still reach user space. Needs root.
 *
 * <pre>
 * java -cp reactor-fuse-ebpf.jar:reactor-fuse.jar:... io.reactorfuse.ebpf.FuseTop /mnt/fs
 * </pre>
 */
public final class FuseTop {
  private FuseTop() {}

  /** Attaches to {@code args[0]} and prints until Ctrl-C (or for ROUNDS tables); needs root. */
  public static void main(String[] args) throws InterruptedException {
    if (args.length < 1 || args.length > 3) {
      System.err.println("usage: fusetop MOUNTPOINT [INTERVAL_SECONDS [ROUNDS]]");
      System.exit(2);
    }
    Path mount = Path.of(args[0]);
    long intervalMs = args.length > 1 ? (long) (Double.parseDouble(args[1]) * 1000) : 1000;
    long rounds = args.length > 2 ? Long.parseLong(args[2]) : Long.MAX_VALUE;
    FuseObserver observer;
    try {
      observer = FuseObserver.attach(mount);
    } catch (FuseException e) {
      System.err.println("fusetop: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(observer::close, "fusetop-detach"));
    Map<Integer, FuseObserver.OpStats> last = new HashMap<>();
    for (long round = 0; round < rounds; round++) {
      Thread.sleep(intervalMs);
      Map<Integer, FuseObserver.OpStats> now = observer.snapshot();
      print(System.out, mount, now, last);
      last = now;
    }
  }

  /** One table: totals since attach, the change since the last table, latencies in µs. */
  static void print(PrintStream out, Path mount, Map<Integer, FuseObserver.OpStats> now,
      Map<Integer, FuseObserver.OpStats> last) {
    out.printf("%n%s%n%-20s %10s %10s %10s %10s%n", mount, "OPCODE", "COUNT", "+DELTA",
        "MEAN_us", "MAX_us");
    now.forEach((op, s) -> {
      FuseObserver.OpStats before = last.get(op);
      long delta = s.count() - (before == null ? 0 : before.count());
      out.printf("%-20s %10d %+10d %10.1f %10.1f%n", name(op), s.count(), delta,
          s.meanNanos() / 1000.0, s.maxNanos() / 1000.0);
    });
  }

  static String name(int opcode) {
    Opcode op = Opcode.of(opcode);
    return op != null ? op.name() : opcode == 0 ? "OTHER" : "OP_" + opcode;
  }
}
