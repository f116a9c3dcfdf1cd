package io.reactorfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.reactorfuse.ebpf.Bpf;
import io.reactorfuse.ebpf.CacheMaps;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The BPF maps equal the Caffeine cache after every step of a random sequence of lookups,
 * getattrs, creations, unlinks, renames and FORGETs going through a {@link LookupCache} whose
 * listener is {@link CacheMaps}: every cached entry is in entry_map with its node id, every
 * cached attribute in attr_map with the same attributes, and nothing else is in either map.
 * (In package io.reactorfuse to read the cache's content and use the core tests' model
 * filesystem.)
 */
class CacheMirrorTest {
  private static final Duration LONG = Duration.ofHours(1); // nothing expires during the test
  private static final String[] NAMES = {"a", "b", "c", "d", "e", "f"};

  private CacheMaps maps;

  @BeforeEach
  void open() {
    if (!Bpf.isAvailable() && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
      throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but BPF is unavailable: "
          + Bpf.unavailabilityCause().getMessage());
    }
    assumeTrue(Bpf.isAvailable(), () -> "BPF unavailable: " + Bpf.unavailabilityCause());
    maps = CacheMaps.open();
  }

  @AfterEach
  void close() {
    if (maps != null) {
      maps.close();
    }
  }

  @Test
  void randomOps_theMapsEqualTheCacheAfterEveryStep() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    LookupCache cache = LookupCache.builder().listener(maps).build();
    FuseOps ops = cache.wrap(new ModelFs(LONG, LONG, LONG));
    Map<Long, Long> kernelLookups = new HashMap<>(); // what the "kernel" holds, to FORGET
    FuseContext ctx = new FuseContext(2, 1, 0, 0, 1, 0);
    int busiest = 0;
    for (int step = 0; step < 800; step++) {
      String name = NAMES[random.nextInt(NAMES.length)];
      String what;
      switch (random.nextInt(6)) {
        case 0: {
          what = "lookup " + name;
          EntryReply e = ops.lookup(ctx, new Request.Lookup(1, name)).onErrorResume(t -> reactor.core.publisher.Mono.empty())
              .block();
          counted(kernelLookups, e == null ? 0 : e.attr().ino());
          break;
        }
        case 1: {
          what = "create " + name;
          CreateReply c = ops.create(ctx, new Request.Create(1, name, 0301, 0100644, 0, 0))
              .onErrorResume(t -> reactor.core.publisher.Mono.empty()).block();
          counted(kernelLookups, c == null ? 0 : c.entry().attr().ino());
          break;
        }
        case 2:
          what = "unlink " + name;
          ops.unlink(ctx, new Request.Unlink(1, name)).onErrorResume(t -> reactor.core.publisher.Mono.empty()).block();
          break;
        case 3: {
          String to = NAMES[random.nextInt(NAMES.length)];
          what = "rename " + name + " " + to;
          ops.rename(ctx, new Request.Rename(1, name, 1, to, 0)).onErrorResume(t -> reactor.core.publisher.Mono.empty())
              .block();
          break;
        }
        case 4: {
          long n = kernelLookups.isEmpty() ? 1
              : kernelLookups.keySet().stream().skip(random.nextInt(kernelLookups.size()))
                  .findFirst().orElse(1L);
          what = "getattr " + n;
          ops.getattr(ctx, new Request.Getattr(n, 0, 0)).onErrorResume(t -> reactor.core.publisher.Mono.empty()).block();
          break;
        }
        default: {
          if (kernelLookups.isEmpty()) {
            continue;
          }
          long n = kernelLookups.keySet().stream().skip(random.nextInt(kernelLookups.size()))
              .findFirst().orElseThrow();
          long k = 1 + random.nextInt((int) (long) kernelLookups.get(n));
          what = "forget " + n + " x" + k;
          ops.forget(ctx, new Request.Forget(n, k)).block();
          kernelLookups.merge(n, -k, Long::sum);
          kernelLookups.remove(n, 0L);
        }
      }
      busiest = Math.max(busiest, assertMirrorEqualsCache(cache,
          "seed " + seed + ", step " + step + " (" + what + ")"));
    }
    // Not a vacuous comparison: the cache (and so the maps) held several entries at some point.
    org.junit.jupiter.api.Assertions.assertTrue(busiest >= 3, "the cache held at most "
        + busiest + " entries");
  }

  private static void counted(Map<Long, Long> lookups, long node) {
    if (node != 0) {
      lookups.merge(node, 1L, Long::sum);
    }
  }

  /** Returns how many entries the cache holds. */
  private int assertMirrorEqualsCache(LookupCache cache, String where) {
    CacheCore.Snapshot s = cache.core().snapshot();
    Map<String, Long> cached = new TreeMap<>();
    s.entries().forEach((k, e) -> cached.put(k.parent() + "/" + k.name(), e.nodeId()));
    Map<String, Long> mirrored = new TreeMap<>();
    maps.entries().forEach((k, v) -> mirrored.put(
        k.parent() + "/" + new String(k.name(), StandardCharsets.UTF_8), v.nodeId()));
    assertEquals(cached, mirrored, "entries differ at " + where);
    Map<Long, Attr> cachedAttrs = new TreeMap<>(s.attrs());
    Map<Long, Attr> mirroredAttrs = new TreeMap<>();
    maps.attrs().forEach((n, v) -> mirroredAttrs.put(n, v.reply().attr()));
    assertEquals(cachedAttrs.keySet(), mirroredAttrs.keySet(), "attrs differ at " + where);
    cachedAttrs.forEach((n, a) -> assertEquals(a.ino(), mirroredAttrs.get(n).ino(),
        "attrs of " + n + " at " + where));
    cachedAttrs.forEach((n, a) -> assertEquals(a.size(), mirroredAttrs.get(n).size(),
        "size of " + n + " at " + where));
    return cached.size();
  }
}
