package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parts of the observer and fusetop that need no kernel. */
class FuseObserverTest {

  @Test
  void kernelDev_smallMinorIsUnchanged() {
    // 0:52, an anonymous device as FUSE mounts get: st_dev and MKDEV agree below minor 256.
    assertEquals(52, FuseObserver.kernelDev(52));
  }

  @Test
  void kernelDev_largeMinorAndMajorAreReencoded() {
    // glibc makedev(0, 300): minor's high bits move up 12; the kernel wants major << 20 | minor.
    long stDev = (300 & 0xff) | ((300L & ~0xff) << 12);
    assertEquals(300, FuseObserver.kernelDev(stDev));
    // makedev(259, 3) (an NVMe partition): major in bits 8..19.
    assertEquals((259 << 20) | 3, FuseObserver.kernelDev((259L << 8) | 3));
  }

  @Test
  void print_tableWithDeltasAndMicroseconds() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    FuseTop.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), Path.of("/mnt"),
        Map.of(1, new FuseObserver.OpStats(10, 20_000, 5_000)),
        Map.of(1, new FuseObserver.OpStats(4, 8_000, 5_000)));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals("""

        /mnt
        OPCODE                    COUNT     +DELTA    MEAN_us     MAX_us
        LOOKUP                       10         +6        2.0        5.0
        """, out);
  }

  @Test
  void name_knownUnknownAndOther() {
    assertEquals("GETATTR", FuseTop.name(3));
    assertEquals("OTHER", FuseTop.name(0));
    assertEquals("OP_63", FuseTop.name(63));
  }
}
