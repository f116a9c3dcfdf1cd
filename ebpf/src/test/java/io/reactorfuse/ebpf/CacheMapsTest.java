package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The maps hold what the cache holds after every listener call: each test drives CacheMaps as a
 * cache would and compares the kernel's map content (read back with get_next_key) with a model
 * updated by hand, step by step.
 */
class CacheMapsTest {
  /** The cache's clock, under the test's control (ns). */
  private final AtomicLong clock = new AtomicLong(1_000_000_000_000L);
  private CacheMaps maps;
  private final Map<CacheMaps.EntryKey, CacheMaps.EntryValue> entries = new HashMap<>();
  private final Map<Long, CacheMaps.AttrValue> attrs = new HashMap<>();

  @BeforeEach
  void open() {
    BpfTestSupport.requireBpf();
    maps = CacheMaps.open(CacheMaps.DEFAULT_MAX_ENTRIES, clock::get);
  }

  @AfterEach
  void close() {
    if (maps != null) {
      maps.close();
    }
  }

  @Test
  void listenerCalls_mapsEqualModelAfterEveryStep() {
    EntryReply a2 = file(2, 100, Duration.ofSeconds(5));
    maps.entryCached(1, bytes("a"), a2);
    expectEntry(1, "a", 1, a2);

    AttrReply attr2 = new AttrReply(a2.attr(), Duration.ofMillis(1500));
    maps.attrCached(2, attr2);
    expectAttr(2, attr2);

    // Later, the same name refilled with the same node: one more lookup the kernel holds, and
    // the expiry counts from the refill.
    clock.addAndGet(1_000_000_007L);
    EntryReply a2bigger = file(2, 200, Duration.ofSeconds(7));
    maps.entryCached(1, bytes("a"), a2bigger);
    expectEntry(1, "a", 2, a2bigger);
    AttrReply attr2bigger = new AttrReply(a2bigger.attr(), Duration.ofSeconds(2, 5));
    maps.attrCached(2, attr2bigger);
    expectAttr(2, attr2bigger);

    EntryReply negative = EntryReply.negative(Duration.ofSeconds(3));
    maps.entryCached(1, bytes("missing"), negative);
    expectEntry(1, "missing", 0, negative);

    // A hard link: node 3 under two names; FORGET takes from the oldest first.
    EntryReply b3 = file(3, 1, Duration.ofSeconds(1));
    maps.entryCached(1, bytes("b"), b3);
    expectEntry(1, "b", 1, b3);
    clock.addAndGet(1);
    maps.entryCached(4, bytes("b-link"), b3);
    expectEntry(4, "b-link", 1, b3);
    maps.forgotten(3, 1);
    expectNlookup(1, "b", 0);
    expectNlookup(4, "b-link", 1);
    maps.forgotten(3, 5);
    expectNlookup(4, "b-link", 0);

    maps.forgotten(2, 1);
    expectNlookup(1, "a", 1);
    // Never below 0, and the entry stays: when it leaves is the cache's decision.
    maps.forgotten(2, 10);
    expectNlookup(1, "a", 0);
    maps.forgotten(99, 1);
    check();

    // The name now means another node: the count starts over.
    EntryReply a7 = file(7, 0, Duration.ofSeconds(2));
    maps.entryCached(1, bytes("a"), a7);
    expectEntry(1, "a", 1, a7);
    maps.forgotten(2, 1);
    check();

    maps.entryRemoved(1, bytes("missing"));
    entries.remove(key(1, "missing"));
    check();
    maps.entryRemoved(1, bytes("never-cached"));
    check();
    maps.attrRemoved(2);
    attrs.remove(2L);
    check();
    maps.attrRemoved(2);
    check();

    // A positive entry replaced by a negative one: no lookups, and FORGET finds nothing there.
    maps.entryCached(1, bytes("b"), negative);
    expectEntry(1, "b", 0, negative);
    maps.forgotten(3, 1);
    check();

    maps.entryRemoved(1, bytes("a"));
    maps.entryRemoved(1, bytes("b"));
    maps.entryRemoved(4, bytes("b-link"));
    entries.clear();
    check();
  }

  @Test
  void entryCached_expiryAsTheCacheComputesIt() {
    // LookupCache caps timeouts at 3650 days so that now + timeout cannot overflow.
    EntryReply forever = file(2, 1, Duration.ofSeconds(Long.MAX_VALUE));
    maps.entryCached(1, bytes("f"), forever);
    expectEntry(1, "f", 1, forever, clock.get() + Duration.ofDays(3650).toNanos());
    AttrReply attr = new AttrReply(forever.attr(), Duration.ofDays(10_000));
    maps.attrCached(2, attr);
    attrs.put(2L, new CacheMaps.AttrValue(0, attr, clock.get()
        + Duration.ofDays(3650).toNanos()));
    check();
  }

  @Test
  void entryCached_nameLimits() {
    EntryReply e = file(5, 1, Duration.ofSeconds(1));
    String max = "x".repeat(255);
    maps.entryCached(1, bytes(max), e);
    expectEntry(1, max, 1, e);

    // Longer than NAME_MAX: not mirrored (a miss in BPF, user space answers).
    maps.entryCached(1, bytes("y".repeat(256)), e);
    check();
    maps.entryRemoved(1, bytes("y".repeat(256)));
    check();

    String utf8 = "grüße-日本";
    maps.entryCached(1, bytes(utf8), e);
    expectEntry(1, utf8, 1, e);
    // Names that are prefixes of each other are different keys.
    maps.entryCached(1, bytes("x"), e);
    expectEntry(1, "x", 1, e);
  }

  @Test
  void attrCached_fieldsRoundTrip() {
    Attr attr = new Attr(Long.MAX_VALUE, -1L, 12345, 1_700_000_000L, 999_999_999, -5, 1,
        Long.MIN_VALUE, 0, Attr.S_IFLNK | 0777, Integer.MAX_VALUE, -2, 65534, 0x0801, 4096,
        0x2000);
    AttrReply reply = new AttrReply(attr, Duration.ofSeconds(86_400, 123));
    maps.attrCached(Long.MAX_VALUE, reply);
    expectAttr(Long.MAX_VALUE, reply);
    clock.addAndGet(5);
    maps.attrCached(0, reply);
    expectAttr(0, reply);
  }

  @Test
  void entryCached_negativeTimeoutIsStoredAsZero() {
    // ReplyEncoder sends a negative timeout as 0; the mirror must hold what the kernel would get.
    Attr attr = Attr.builder().ino(9).mode(Attr.S_IFREG | 0600).build();
    maps.entryCached(1, bytes("n"), new EntryReply(9, 3, attr, Duration.ofSeconds(-1),
        Duration.ofMillis(-5)));
    // Expired at once: the cache never keeps such an entry, and the handler never serves it.
    expectEntry(1, "n", 1, new EntryReply(9, 3, attr, Duration.ZERO, Duration.ZERO));
  }

  @Test
  void full_keyLeftOutRatherThanStale() {
    maps.close();
    maps = CacheMaps.open(2, clock::get);
    EntryReply e = file(2, 1, Duration.ofSeconds(1));
    maps.entryCached(1, bytes("a"), e);
    expectEntry(1, "a", 1, e);
    maps.entryCached(1, bytes("b"), e);
    expectEntry(1, "b", 1, e);
    // The third key does not fit (E2BIG): left out, logged, no exception into the cache.
    maps.entryCached(1, bytes("c"), e);
    check();
    // Replacing an existing key still works when full.
    EntryReply e2 = file(2, 2, Duration.ofSeconds(1));
    maps.entryCached(1, bytes("a"), e2);
    expectEntry(1, "a", 2, e2);
  }

  @Test
  void close_laterCallsIgnored() {
    maps.close();
    maps.entryCached(1, bytes("a"), file(2, 1, Duration.ZERO));
    maps.entryRemoved(1, bytes("a"));
    maps.attrCached(2, new AttrReply(Attr.builder().ino(2).build(), Duration.ZERO));
    maps.attrRemoved(2);
    maps.forgotten(2, 1);
    assertThrows(IllegalStateException.class, () -> maps.entries());
    maps.close();
  }

  @Test
  void openIfAvailable_presentWhereBpfWorks() {
    try (CacheMaps other = CacheMaps.openIfAvailable().orElseThrow()) {
      assertTrue(other.entries().isEmpty());
    }
  }

  @Test
  void entryKey_equalByContent() {
    assertEquals(key(1, "a"), new CacheMaps.EntryKey(1, new byte[] {'a'}));
    assertEquals(key(1, "a").hashCode(), new CacheMaps.EntryKey(1, new byte[] {'a'}).hashCode());
    assertNotEquals(key(1, "a"), key(2, "a"));
    assertNotEquals(key(1, "a"), key(1, "ab"));
  }

  // --- helpers ---

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static CacheMaps.EntryKey key(long parent, String name) {
    return new CacheMaps.EntryKey(parent, bytes(name));
  }

  static EntryReply file(long ino, long size, Duration timeout) {
    Attr attr = Attr.builder().ino(ino).mode(Attr.S_IFREG | 0644).size(size).uid(1000)
        .gid(1000).blksize(4096).times(Instant.ofEpochSecond(1_700_000_000L, 123_456_789))
        .build();
    return new EntryReply(ino, ino * 10, attr, timeout, timeout.plusMillis(250));
  }

  /** The entry as filled now. */
  private void expectEntry(long parent, String name, long nlookup, EntryReply reply) {
    expectEntry(parent, name, nlookup, reply, clock.get() + reply.entryTimeout().toNanos());
  }

  private void expectEntry(long parent, String name, long nlookup, EntryReply reply,
      long expiresAt) {
    entries.put(key(parent, name), new CacheMaps.EntryValue(0, nlookup, reply.nodeId(),
        reply.generation(), reply.entryTimeout(), expiresAt));
    check();
  }

  /** A count changed, nothing else. */
  private void expectNlookup(long parent, String name, long nlookup) {
    CacheMaps.EntryValue v = entries.get(key(parent, name));
    entries.put(key(parent, name), new CacheMaps.EntryValue(0, nlookup, v.nodeId(),
        v.generation(), v.entryTimeout(), v.expiresAtNanos()));
    check();
  }

  private void expectAttr(long nodeId, AttrReply reply) {
    attrs.put(nodeId, new CacheMaps.AttrValue(0, reply,
        clock.get() + reply.timeout().toNanos()));
    check();
  }

  private void check() {
    assertEquals(entries, maps.entries(), "entry_map");
    assertEquals(attrs, maps.attrs(), "attr_map");
  }
}
