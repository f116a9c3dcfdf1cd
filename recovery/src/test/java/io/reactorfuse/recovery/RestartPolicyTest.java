package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RestartPolicyTest {

  @Test
  void delayAfter_firstAtOnceThenDoublingUpToTheCap() {
    RestartPolicy p = RestartPolicy.defaults().backoff(Duration.ofMillis(100),
        Duration.ofMillis(500));
    assertEquals(Duration.ZERO, p.delayAfter(1));
    assertEquals(Duration.ofMillis(100), p.delayAfter(2));
    assertEquals(Duration.ofMillis(200), p.delayAfter(3));
    assertEquals(Duration.ofMillis(400), p.delayAfter(4));
    assertEquals(Duration.ofMillis(500), p.delayAfter(5));
    assertEquals(Duration.ofMillis(500), p.delayAfter(1000));
  }

  @Test
  void defaults_fiveCrashesInAMinute() {
    assertEquals(5, RestartPolicy.defaults().maxCrashes());
    assertEquals(Duration.ofSeconds(60), RestartPolicy.defaults().window());
  }

  @Test
  void zeroBackoff_alwaysAtOnce() {
    RestartPolicy p = RestartPolicy.defaults().backoff(Duration.ZERO, Duration.ZERO);
    assertEquals(Duration.ZERO, p.delayAfter(4));
  }

  @Test
  void invalidSettings_areRefusedAtOnce() {
    RestartPolicy p = RestartPolicy.defaults();
    assertThrows(IllegalArgumentException.class,
        () -> p.backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class,
        () -> p.backoff(Duration.ofSeconds(-1), Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class, () -> p.giveUpAfter(0, Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class, () -> p.giveUpAfter(3, Duration.ZERO));
  }
}
