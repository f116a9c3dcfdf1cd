package io.reactorfuse.recovery;

import java.time.Duration;
import java.util.Objects;

/**
 * When a {@link Supervisor} restarts a crashed worker, and when it gives up. Immutable.
 *
 * <p>The first crash is answered at once: a caller is blocked on the mount meanwhile. Each
 * further crash within the {@linkplain #giveUpAfter window} waits longer before the restart
 * (the first backoff delay, then twice that, and so on up to the cap), so that a worker that
 * crashes on every start does not burn the machine. The {@code crashes}-th crash within the
 * window makes the supervisor give up: it unmounts and closes the fds, so that callers get
 * errors instead of waiting for a worker that will never serve.
 */
public final class RestartPolicy {
  private static final RestartPolicy DEFAULTS =
      new RestartPolicy(Duration.ofMillis(100), Duration.ofSeconds(5), 5, Duration.ofSeconds(60));

  private final Duration firstDelay;
  private final Duration maxDelay;
  private final int crashes;
  private final Duration window;

  private RestartPolicy(Duration firstDelay, Duration maxDelay, int crashes, Duration window) {
    this.firstDelay = firstDelay;
    this.maxDelay = maxDelay;
    this.crashes = crashes;
    this.window = window;
  }

  /**
   * Restart at once, then after 100 ms, 200 ms, ... up to 5 s; give up at the 5th crash within
   * 60 s.
   */
  public static RestartPolicy defaults() {
    return DEFAULTS;
  }

  /**
   * The delay before the second restart within the window ({@code first}, doubling with each
   * further crash) and its cap ({@code max}). {@code Duration.ZERO} for both: always at once.
   */
  public RestartPolicy backoff(Duration first, Duration max) {
    Objects.requireNonNull(first, "first");
    Objects.requireNonNull(max, "max");
    if (first.isNegative() || max.compareTo(first) < 0) {
      throw new IllegalArgumentException("backoff needs 0 <= first <= max, got first " + first
          + " and max " + max);
    }
    return new RestartPolicy(first, max, crashes, window);
  }

  /**
   * Give up at the {@code crashes}-th crash within {@code window} (1: never restart). Crashes
   * older than the window are forgotten, and the backoff starts over.
   */
  public RestartPolicy giveUpAfter(int crashes, Duration window) {
    Objects.requireNonNull(window, "window");
    if (crashes < 1) {
      throw new IllegalArgumentException("giveUpAfter needs at least 1 crash, got " + crashes);
    }
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("giveUpAfter needs a positive window, got " + window);
    }
    return new RestartPolicy(firstDelay, maxDelay, crashes, window);
  }

  /** How many crashes within {@link #window()} end the supervision. */
  public int maxCrashes() {
    return crashes;
  }

  /** The window in which {@link #maxCrashes()} crashes end the supervision. */
  public Duration window() {
    return window;
  }

  /** The delay before restarting after the {@code recentCrashes}-th crash within the window. */
  Duration delayAfter(int recentCrashes) {
    if (recentCrashes <= 1 || firstDelay.isZero()) {
      return Duration.ZERO;
    }
    Duration d = firstDelay;
    for (int i = 2; i < recentCrashes && d.compareTo(maxDelay) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(maxDelay) > 0 ? maxDelay : d;
  }

  @Override
  public String toString() {
    return "RestartPolicy[backoff " + firstDelay + ".." + maxDelay + ", give up after "
        + crashes + " crashes within " + window + "]";
  }
}
