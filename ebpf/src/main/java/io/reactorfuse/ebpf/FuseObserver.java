package io.reactorfuse.ebpf;

import io.reactorfuse.FuseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts one mount's FUSE requests in the kernel, per opcode, with their latency from send to
 * end ({@code observer.bpf.c} on the BTF tracepoints {@code fuse_request_send} and
 * {@code fuse_request_end}). It sees what reaches user space whatever the daemon is, so with and
 * without a cache the LOOKUP counts show how many lookups the cache saved.
 *
 * <p>Counted: requests sent after {@link #attach} that have ended. Never counted: FORGET,
 * BATCH_FORGET and INTERRUPT (they bypass the traced send path) and INIT (over before a mount
 * point exists). The connection is chosen by its device number: every FUSE mount has its own
 * anonymous device, the {@code st_dev} of its files, which the kernel stores in the connection
 * ({@code fc->dev}).
 *
 * <p>Needs root and a kernel with BTF ({@code /sys/kernel/btf/vmlinux}); fentry and kprobes are
 * not used (often forbidden by lockdown or not built).
 */
public final class FuseObserver implements AutoCloseable {
  private static final int MAX_OPCODES = 64;
  private static final int STATS_SIZE = 24;

  private final BpfObject object;
  private final int statsFd;
  private final int cpus;
  private final Path mountPoint;
  private volatile boolean closed;

  private FuseObserver(BpfObject object, Path mountPoint) {
    this.object = object;
    this.statsFd = object.mapFd("stats");
    this.cpus = object.lib().possibleCpus();
    this.mountPoint = mountPoint;
  }

  /**
   * Starts counting the requests of the FUSE mount at {@code mountPoint} (or any path on it).
   *
   * @throws FuseException when BPF is unavailable, the path is not on a FUSE mount, or the kernel
   *     refuses the tracepoints (no BTF)
   */
  public static FuseObserver attach(Path mountPoint) {
    Bpf.ensureAvailability();
    long stDev;
    try {
      stDev = ((Number) Files.getAttribute(mountPoint, "unix:dev")).longValue();
    } catch (IOException | UnsupportedOperationException e) {
      throw new FuseException("cannot stat " + mountPoint + ": " + e, null, e);
    }
    requireFuse(mountPoint, stDev);
    BpfObject object = BpfObject.load("observer.bpf.o", Map.of());
    try {
      byte[] config = new byte[8];
      ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN)
          .putInt(0, kernelDev(stDev)).putInt(4, 1);
      object.lib().update(object.mapFd("conn_filter"), new byte[4], config);
      // End first: a request whose send is seen must not miss its end.
      object.attach("fuse_end");
      object.attach("fuse_send");
      return new FuseObserver(object, mountPoint);
    } catch (RuntimeException e) {
      object.close();
      throw e;
    }
  }

  /**
   * The kernel's dev_t (MKDEV: major << 20 | minor) from user space's st_dev (glibc's encoding:
   * minor low 8 bits, major 12 bits, then the high minor and major bits). They differ once a
   * minor passes 255, which anonymous devices do on a busy machine.
   */
  static int kernelDev(long stDev) {
    return (int) ((major(stDev) << 20) | (minor(stDev) & 0xfffff));
  }

  private static long major(long stDev) {
    return ((stDev >>> 8) & 0xfff) | ((stDev >>> 32) & ~0xfffL);
  }

  private static long minor(long stDev) {
    return (stDev & 0xff) | ((stDev >>> 12) & ~0xffL);
  }

  /** A clear error for a path that is not on a FUSE mount (else the observer would see 0s). */
  private static void requireFuse(Path path, long stDev) {
    String devField = major(stDev) + ":" + minor(stDev);
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
      for (String line : lines) {
        // mountinfo: id parent major:minor root mountpoint options ... - fstype source super
        String[] f = line.split(" ");
        int dash = line.indexOf(" - ");
        if (f.length > 3 && f[2].equals(devField) && dash > 0) {
          String fsType = line.substring(dash + 3).split(" ")[0];
          if (fsType.equals("fuse") || fsType.startsWith("fuse.")) {
            return;
          }
          throw new FuseException(path + " is on a " + fsType + " mount, not FUSE");
        }
      }
    } catch (IOException e) {
      return; // no mountinfo to check against: trust the caller
    }
    throw new FuseException(path + " is not on a mounted filesystem this process can see");
  }

  /** The mount point this observer watches. */
  public Path mountPoint() {
    return mountPoint;
  }

  /**
   * Totals so far, per opcode (only opcodes seen; opcode 0 collects any code of 64 or more),
   * summed over CPUs.
   */
  public Map<Integer, OpStats> snapshot() {
    if (closed) {
      throw new IllegalStateException("the observer of " + mountPoint + " is closed");
    }
    Map<Integer, OpStats> out = new TreeMap<>();
    byte[] value = new byte[STATS_SIZE * cpus];
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    byte[] key = new byte[4];
    for (int op = 0; op < MAX_OPCODES; op++) {
      ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN).putInt(0, op);
      // A per-CPU array lookup returns one 8-byte-aligned value per possible CPU.
      if (!object.lib().lookup(statsFd, key, value)) {
        continue;
      }
      long count = 0;
      long total = 0;
      long max = 0;
      for (int cpu = 0; cpu < cpus; cpu++) {
        int at = cpu * STATS_SIZE;
        count += b.getLong(at);
        total += b.getLong(at + 8);
        max = Math.max(max, b.getLong(at + 16));
      }
      if (count > 0) {
        out.put(op, new OpStats(count, total, max));
      }
    }
    return Collections.unmodifiableMap(out);
  }

  /** Detaches from the tracepoints and frees the maps. */
  @Override
  public void close() {
    closed = true;
    object.close();
  }

  /**
   * One opcode's totals.
   *
   * @param count requests that ended
   * @param totalNanos their summed latency, send to end
   * @param maxNanos the longest one
   */
  public record OpStats(long count, long totalNanos, long maxNanos) {
    /** Mean latency in nanoseconds (0 when nothing was counted). */
    public long meanNanos() {
      return count == 0 ? 0 : totalNanos / count;
    }
  }
}
