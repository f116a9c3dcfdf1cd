package io.reactorfuse.perf;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseServer;
import io.reactorfuse.LookupCache;
import io.reactorfuse.ebpf.FuseObserver;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What the lookup/attribute cache ({@link LookupCache}) saves for a slow backend: a tree of
 * 10,000 entries whose LOOKUP and GETATTR each take 1 ms (a network round trip, waited for
 * without blocking), mounted with and without the cache. For each: a cold {@code ls -lR}, then,
 * after the kernel dropped its dentries and inodes ({@code drop_caches}, which also FORGETs
 * them), {@code find} and {@code ls -lR} again; the time of each, the calls that reached the
 * backend, and the requests the kernel sent (counted in the kernel by {@link FuseObserver}
 * when BPF is available).
 *
 * <p>{@code java -cp perf/target/benchmarks.jar io.reactorfuse.perf.CacheBench}, as root.
 */
public final class CacheBench {
  static final int DIRS = 100;
  static final int FILES_PER_DIR = 99;
  static final Duration LATENCY = Duration.ofMillis(1);
  static final Duration TIMEOUT = Duration.ofMinutes(10);
  private static final int LOOKUP = 1;
  private static final int GETATTR = 3;

  private CacheBench() {}

  public static void main(String[] args) throws Exception {
    List<String> rows = new ArrayList<>();
    rows.add("| backend | step | seconds | backend lookups | backend getattrs "
        + "| kernel LOOKUP | kernel GETATTR |");
    rows.add("|---|---|---:|---:|---:|---:|---:|");
    for (boolean cached : new boolean[] {false, true}) {
      rows.addAll(run(cached));
    }
    rows.forEach(System.out::println);
  }

  private static List<String> run(boolean cached) throws Exception {
    SlowTree tree = new SlowTree();
    LookupCache cache = cached ? LookupCache.builder().build() : null;
    FuseOps ops = cached ? cache.wrap(tree) : tree;
    Path mp = Files.createTempDirectory("reactor-fuse-cache-bench-");
    FuseMount mount = FuseServer.create().mountPoint(mp).fsName("cache-bench").handle(ops)
        .mountNow();
    FuseObserver observer = null;
    List<String> rows = new ArrayList<>();
    String name = cached ? "1 ms + LookupCache" : "1 ms, no cache";
    try {
      if (io.reactorfuse.ebpf.Bpf.isAvailable()) {
        observer = FuseObserver.attach(mp);
      } else {
        System.err.println("no kernel-side counts: " + io.reactorfuse.ebpf.Bpf.unavailabilityCause());
      }
      rows.add(step(name, "ls -lR, cold", tree, observer, "ls -lR " + mp + " > /dev/null"));
      dropCaches();
      rows.add(step(name, "find after drop_caches", tree, observer,
          "find " + mp + " > /dev/null"));
      dropCaches();
      rows.add(step(name, "ls -lR after drop_caches", tree, observer,
          "ls -lR " + mp + " > /dev/null"));
    } finally {
      if (observer != null) {
        observer.close();
      }
      mount.unmount().block(Duration.ofSeconds(30));
      Files.delete(mp);
    }
    if (cache != null) {
      System.err.println("cache: " + cache.stats());
    }
    return rows;
  }

  /** Runs {@code command} in bash, timing it, and reports the calls it caused. */
  private static String step(String backend, String what, SlowTree tree, FuseObserver observer,
      String command) throws Exception {
    long lookups = tree.lookups.get();
    long getattrs = tree.getattrs.get();
    Map<Integer, FuseObserver.OpStats> before = observer == null ? Map.of() : observer.snapshot();
    long start = System.nanoTime();
    Process p = new ProcessBuilder("bash", "-c", command).inheritIO().start();
    if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(command + " failed or took longer than " + TIMEOUT);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<Integer, FuseObserver.OpStats> after = observer == null ? Map.of() : observer.snapshot();
    return String.format("| %s | %s | %.2f | %d | %d | %s | %s |", backend, what, seconds,
        tree.lookups.get() - lookups, tree.getattrs.get() - getattrs,
        delta(before, after, LOOKUP), delta(before, after, GETATTR));
  }

  private static String delta(Map<Integer, FuseObserver.OpStats> before,
      Map<Integer, FuseObserver.OpStats> after, int opcode) {
    if (after.isEmpty()) {
      return "n/a";
    }
    long b = before.containsKey(opcode) ? before.get(opcode).count() : 0;
    long a = after.containsKey(opcode) ? after.get(opcode).count() : 0;
    return Long.toString(a - b);
  }

  /** Makes the kernel drop unused dentries and inodes, FORGETting them. */
  private static void dropCaches() throws Exception {
    Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
  }

  /**
   * {@value #DIRS} directories of {@value #FILES_PER_DIR} empty files under the root: 10,000
   * entries. LOOKUP and GETATTR answer after {@link #LATENCY}, without blocking a thread.
   * Node ids are fixed: directory i is 2 + i, file j of directory i is 1000 + 100 i + j.
   */
  static final class SlowTree implements FuseOps {
    final AtomicLong lookups = new AtomicLong();
    final AtomicLong getattrs = new AtomicLong();

    private static Attr attr(long node) {
      boolean dir = node < 1000;
      return Attr.builder().ino(node).mode(dir ? Attr.S_IFDIR | 0755 : Attr.S_IFREG | 0644)
          .nlink(dir ? 2 : 1).build();
    }

    /** The node id of {@code name} in {@code parent}, or 0. */
    private static long child(long parent, String name) {
      try {
        if (parent == 1 && name.length() == 4 && name.charAt(0) == 'd') {
          int i = Integer.parseInt(name.substring(1));
          return i < DIRS ? 2 + i : 0;
        }
        if (parent >= 2 && parent < 2 + DIRS && name.length() == 4 && name.charAt(0) == 'f') {
          int j = Integer.parseInt(name.substring(1));
          return j < FILES_PER_DIR ? 1000 + 100 * (parent - 2) + j : 0;
        }
      } catch (NumberFormatException e) {
        return 0;
      }
      return 0;
    }

    @Override
    public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
      lookups.incrementAndGet();
      long node = child(req.parent(), req.name());
      return Mono.delay(LATENCY).then(node == 0 ? Errno.ENOENT.mono()
          : Mono.just(EntryReply.of(attr(node), TIMEOUT, TIMEOUT)));
    }

    @Override
    public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
      getattrs.incrementAndGet();
      return Mono.delay(LATENCY).thenReturn(new AttrReply(attr(req.nodeId()), TIMEOUT));
    }

    @Override
    public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
      long dir = req.nodeId();
      int count = dir == 1 ? DIRS : FILES_PER_DIR;
      List<DirEntry> entries = new ArrayList<>();
      for (int k = (int) req.offset(); k < count; k++) {
        String name = String.format("%s%03d", dir == 1 ? "d" : "f", k);
        long node = child(dir, name);
        entries.add(new DirEntry(node, k + 1, dir == 1 ? 4 : 8, name));
      }
      return Flux.fromIterable(entries);
    }
  }
}
