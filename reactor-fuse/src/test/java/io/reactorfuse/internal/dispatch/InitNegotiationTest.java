package io.reactorfuse.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.reactorfuse.FuseException;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** INIT negotiation as a pure function (see KERNEL-FACTS.md, "Session basics"). */
class InitNegotiationTest {
  /** What this project's 7.45 kernel offers: flags 0x73fffffb, flags2 0x5fd. */
  private static final long OFFERED_745 = 0x73fffffbL | 0x5fdL << 32;
  /** A 7.31 kernel (Linux 5.4): no INIT_EXT, so no flags2. */
  private static final long OFFERED_731 = 0x01fffffbL;

  private static InitOptions wanting(long flags, int maxWrite) {
    return new InitOptions(maxWrite, 1 << 20, 64, 48, 1, flags);
  }

  @ParameterizedTest(name = "offered {0}")
  @ValueSource(longs = {OFFERED_745, OFFERED_731, 0L, FuseInit.INIT_EXT, 0x5fdL << 32,
      FuseInit.PASSTHROUGH | FuseInit.WRITEBACK_CACHE | FuseInit.INIT_EXT})
  void negotiate_neverEnablesAFlagNotOffered(long offered) {
    for (long wanted : new long[] {-1L, 0L, FuseInit.PASSTHROUGH, FuseInit.MAX_PAGES}) {
      for (int maxWrite : new int[] {4096, 128 * 1024, 1 << 20}) {
        FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, offered),
            wanting(wanted, maxWrite));
        assertEquals(0, r.flags() & ~offered,
            () -> "enabled but not offered: 0x" + Long.toHexString(r.flags() & ~offered));
        assertEquals(offered, r.kernelFlags());
      }
    }
  }

  @Test
  void negotiate_kernel745_usesInitExtForFlags2() {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, OFFERED_745),
        wanting(FuseInit.PASSTHROUGH | FuseInit.ASYNC_READ, 1 << 20));
    assertEquals(45, r.minor());
    assertTrue(r.has(FuseInit.INIT_EXT));
    assertTrue(r.has(FuseInit.PASSTHROUGH));
    assertEquals(1, r.maxStackDepth(), "passthrough needs a stack depth (0 gives EPERM)");
  }

  @Test
  void negotiate_kernel731WithoutFlags2_getsNoInitExt() {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 31, 131072, OFFERED_731),
        wanting(-1L, 1 << 20));
    assertEquals(31, r.minor());
    assertFalse(r.has(FuseInit.INIT_EXT));
    assertEquals(0, r.flags() >>> 32, "no flag above bit 31 without INIT_EXT");
    assertEquals(0, r.maxStackDepth());

    ByteBuf out = new ReplyEncoder(PooledByteBufAllocator.DEFAULT).init(2, r);
    try {
      assertEquals(0, out.getIntLE(ReplyEncoder.OUT_HEADER + 32), "flags2 on the wire");
      assertEquals(0, out.getIntLE(ReplyEncoder.OUT_HEADER + 12) & (int) FuseInit.INIT_EXT);
    } finally {
      out.release();
    }
  }

  @Test
  void negotiate_initExtOfferedButNothingHighWanted_stillSetsInitExt() {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, OFFERED_745),
        wanting(0, 1 << 17));
    assertTrue(r.has(FuseInit.INIT_EXT));
    assertEquals(0, r.flags() >>> 32);
  }

  @Test
  void negotiate_maxWriteAbove128KiBWithMaxPages_setsMaxPages() {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, OFFERED_745),
        wanting(0, 1 << 20));
    assertTrue(r.has(FuseInit.MAX_PAGES));
    assertEquals(1 << 20, r.maxWrite());
    assertEquals(256, r.maxPages());
  }

  @Test
  void negotiate_maxWriteAbove128KiBWithoutMaxPages_isCappedAt128KiB() {
    long offered = OFFERED_731 & ~FuseInit.MAX_PAGES;
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 31, 131072, offered),
        wanting(FuseInit.MAX_PAGES, 1 << 20));
    assertFalse(r.has(FuseInit.MAX_PAGES));
    assertEquals(128 * 1024, r.maxWrite());
    assertEquals(32, r.maxPages());
  }

  @Test
  void negotiate_maxWriteOf128KiB_doesNotNeedMaxPages() {
    long offered = OFFERED_745 & ~FuseInit.MAX_PAGES;
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, offered),
        wanting(0, 128 * 1024));
    assertFalse(r.has(FuseInit.MAX_PAGES));
    assertEquals(128 * 1024, r.maxWrite());
    assertTrue(r.has(FuseInit.BIG_WRITES));
  }

  @Test
  void negotiate_passthroughAndWritebackCache_dropsWritebackCache() {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, 45, 131072, OFFERED_745),
        wanting(FuseInit.PASSTHROUGH | FuseInit.WRITEBACK_CACHE, 1 << 20));
    assertTrue(r.has(FuseInit.PASSTHROUGH));
    assertFalse(r.has(FuseInit.WRITEBACK_CACHE));
  }

  @Test
  void negotiate_maxReadahead_isTheSmallerOfBoth() {
    assertEquals(65536, InitNegotiation.negotiate(new Request.Init(7, 45, 65536, OFFERED_745),
        wanting(0, 1 << 20)).maxReadahead());
    assertEquals(1 << 20, InitNegotiation.negotiate(new Request.Init(7, 45, 1 << 24, OFFERED_745),
        wanting(0, 1 << 20)).maxReadahead());
  }

  @ParameterizedTest(name = "kernel 7.{0} -> 7.{1}")
  @CsvSource({"31, 31", "40, 40", "45, 45", "99, 45"})
  void negotiate_minor_isTheSmallerOfBoth(int kernelMinor, int expected) {
    FuseInit r = InitNegotiation.negotiate(new Request.Init(7, kernelMinor, 131072, OFFERED_731),
        wanting(0, 1 << 20));
    assertEquals(expected, r.minor());
    assertEquals(kernelMinor, r.kernelMinor());
  }

  @ParameterizedTest(name = "kernel {0}.{1}")
  @CsvSource({"7, 30", "7, 0", "6, 45", "8, 0"})
  void negotiate_kernelOlderThan731OrNotMajor7_isRefused(int major, int minor) {
    FuseException e = assertThrows(FuseException.class, () -> InitNegotiation.negotiate(
        new Request.Init(major, minor, 131072, OFFERED_731), wanting(0, 1 << 20)));
    assertTrue(e.getMessage().contains("7.31"), e.getMessage());
  }
}
