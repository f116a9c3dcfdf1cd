package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WaitStatusTest {

  @Test
  void describe_exitsAndSignals() {
    assertEquals("exit status 0", WaitStatus.describe(0));
    assertEquals("exit status 1", WaitStatus.describe(1 << 8));
    assertEquals("killed by SIGKILL (9)", WaitStatus.describe(9));
    assertEquals("killed by SIGABRT (6), core dumped", WaitStatus.describe(6 | 0x80));
    assertEquals("killed by signal 40 (40)", WaitStatus.describe(40));
  }

  @Test
  void isCleanExit_onlyStatusZero() {
    assertTrue(WaitStatus.isCleanExit(0));
    assertFalse(WaitStatus.isCleanExit(1 << 8));
    assertFalse(WaitStatus.isCleanExit(15));
  }
}
