package io.reactorfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.benmanes.caffeine.cache.Ticker;
import io.netty.buffer.ByteBuf;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.FuseNames;
import io.reactorfuse.spi.CacheListener;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** Test fixtures for the lookup cache: a clock, a mirror, a session, held backend replies. */
final class CacheTesting {
  private CacheTesting() {}

  /** A request from the kernel (unique is not 0). */
  static FuseContext ctx() {
    return new FuseContext(7, 0, 0, 0, 1, -1);
  }

  /** A clock that moves only when told to. */
  static final class FakeTicker implements Ticker {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    @Override
    public long read() {
      return nanos.get();
    }

    void advance(Duration d) {
      nanos.addAndGet(d.toNanos());
    }
  }

  /**
   * A listener that keeps its own copy of the cache, as the eBPF maps do, and records calls that
   * would make no sense for a mirror (removing what it does not hold).
   */
  static final class Mirror implements CacheListener {
    final Map<String, EntryReply> entries = new ConcurrentHashMap<>();
    final Map<Long, AttrReply> attrs = new ConcurrentHashMap<>();
    /** When each entry and attribute expires, by the mirror's own clock, as a BPF map would. */
    private final Map<String, Long> entryExpiry = new ConcurrentHashMap<>();
    private final Map<Long, Long> attrExpiry = new ConcurrentHashMap<>();
    private final Ticker ticker;
    final Map<Long, Long> forgotten = new ConcurrentHashMap<>();
    final List<String> violations = Collections.synchronizedList(new ArrayList<>());

    Mirror(Ticker ticker) {
      this.ticker = ticker;
    }

    static String key(long parent, byte[] name) {
      return parent + "/" + FuseNames.decode(name);
    }

    @Override
    public void entryCached(long parent, byte[] name, EntryReply entry) {
      entries.put(key(parent, name), entry);
      entryExpiry.put(key(parent, name), ticker.read() + entry.entryTimeout().toNanos());
    }

    @Override
    public void entryRemoved(long parent, byte[] name) {
      if (entries.remove(key(parent, name)) == null) {
        violations.add("entryRemoved of an entry not held: " + key(parent, name));
      }
    }

    @Override
    public void attrCached(long nodeId, AttrReply attr) {
      attrs.put(nodeId, attr);
      attrExpiry.put(nodeId, ticker.read() + attr.timeout().toNanos());
    }

    @Override
    public void attrRemoved(long nodeId) {
      if (attrs.remove(nodeId) == null) {
        violations.add("attrRemoved of attributes not held: " + nodeId);
      }
    }

    @Override
    public void forgotten(long nodeId, long nlookup) {
      forgotten.merge(nodeId, nlookup, Long::sum);
    }

    /**
     * Asserts that this mirror holds what {@code cache} holds, expired items aside: Caffeine
     * reports an expiry when its timer wheel gets to it (within about a second), so a mirror
     * honours the timeouts itself, as the cache does.
     */
    void assertMirrors(LookupCache cache, String where) {
      CacheCore.Snapshot s = cache.core().snapshot();
      assertEquals(List.of(), violations, where);
      assertEquals(List.of(), cache.core().invariantViolations(), where);
      long now = ticker.read();
      Map<String, String> expected = new HashMap<>();
      s.entries().forEach((k, e) -> expected.put(k.parent() + "/" + k.name(),
          e.nodeId() + ":" + e.generation()));
      Map<String, String> actual = new HashMap<>();
      entries.forEach((k, e) -> {
        if (now - entryExpiry.get(k) < 0) {
          actual.put(k, e.nodeId() + ":" + e.generation());
        }
      });
      assertEquals(expected, actual, where + ": entries");
      Map<Long, Object> actualAttrs = new HashMap<>();
      attrs.forEach((n, a) -> {
        if (now - attrExpiry.get(n) < 0) {
          actualAttrs.put(n, a.attr());
        }
      });
      assertEquals(new HashMap<>(s.attrs()), actualAttrs, where + ": attrs");
    }
  }

  /** A session whose notifier records what it is told and answers {@code answer}. */
  static final class FakeSession implements FuseSession {
    final List<String> told = Collections.synchronizedList(new ArrayList<>());
    volatile Errno answer;

    @Override
    public FuseInit init() {
      return null;
    }

    @Override
    public FuseNotifier notifier() {
      return new FuseNotifier() {
        private Mono<Void> tell(String what) {
          return Mono.defer(() -> {
            told.add(what);
            Errno a = answer;
            return a == null ? Mono.empty() : a.mono();
          });
        }

        @Override
        public Mono<Void> invalInode(long nodeId, long offset, long length) {
          return tell("invalInode " + nodeId + " " + offset + " " + length);
        }

        @Override
        public Mono<Void> invalEntry(long parent, String name, boolean expireOnly) {
          return tell("invalEntry " + parent + " " + name + " " + expireOnly);
        }

        @Override
        public Mono<Void> delete(long parent, long child, String name) {
          return tell("delete");
        }

        @Override
        public Mono<Void> store(long nodeId, long offset, ByteBuf data) {
          data.release();
          return tell("store");
        }

        @Override
        public Mono<ByteBuf> retrieve(long nodeId, long offset, int size) {
          return Errno.ENOSYS.mono();
        }

        @Override
        public Mono<Void> pollWakeup(long kh) {
          return tell("pollWakeup");
        }

        @Override
        public Mono<Void> resend() {
          return tell("resend");
        }

        @Override
        public Mono<Void> incEpoch() {
          return tell("incEpoch");
        }

        @Override
        public Mono<Void> prune(long... nodeIds) {
          return tell("prune");
        }
      };
    }

    @Override
    public int openBacking(int fd) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void closeBacking(int backingId) {
      throw new UnsupportedOperationException();
    }
  }

  /**
   * A backend whose replies to the named methods are held until released: a slow backend whose
   * answers come back later, in any order. With {@code readLate}, the call itself is made at
   * release (the backend reads its state then); otherwise at once, and only the answer waits.
   */
  static final class Held {
    private final FuseOps target;
    private final List<Release> held = new ArrayList<>();
    /** Decides, per call, whether a held call reads its state late. */
    Function<Method, Boolean> readLate = m -> false;
    /** Which methods are held (by name); the others answer at once. */
    volatile Set<String> methods;
    /** While set, nothing is held. */
    boolean immediate;

    Held(FuseOps target, Set<String> methods) {
      this.target = target;
      this.methods = methods;
    }

    /** One held reply. */
    static final class Release {
      final String method;
      final Object[] args;
      private final Sinks.Empty<Void> gate = Sinks.empty();

      Release(String method, Object[] args) {
        this.method = method;
        this.args = args;
      }

      void release() {
        gate.tryEmitEmpty().orThrow();
      }
    }

    FuseOps ops() {
      return (FuseOps) Proxy.newProxyInstance(FuseOps.class.getClassLoader(),
          new Class<?>[] {FuseOps.class}, (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
              return m.invoke(this, args);
            }
            if (immediate || !methods.contains(m.getName())
                || !Mono.class.isAssignableFrom(m.getReturnType())) {
              return invoke(m, args);
            }
            Release r = new Release(m.getName(), args);
            held.add(r);
            if (readLate.apply(m)) {
              return r.gate.asMono().then(Mono.defer(() -> {
                try {
                  return (Mono<?>) invoke(m, args);
                } catch (Throwable t) {
                  return Mono.error(t);
                }
              }));
            }
            Mono<?> now = (Mono<?>) invoke(m, args);
            return r.gate.asMono().then(now);
          });
    }

    private Object invoke(Method m, Object[] args) throws Throwable {
      try {
        return m.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }

    List<Release> held() {
      return held;
    }

    /** Releases the held reply at {@code index}. */
    void release(int index) {
      held.remove(index).release();
    }

    /** Releases the oldest held reply of {@code method}. */
    void release(String method) {
      for (int i = 0; i < held.size(); i++) {
        if (held.get(i).method.equals(method)) {
          release(i);
          return;
        }
      }
      throw new AssertionError("no held " + method);
    }
  }
}
