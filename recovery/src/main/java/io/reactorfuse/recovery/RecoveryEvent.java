package io.reactorfuse.recovery;

import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One restart of a supervised mount's worker. Times are {@link System#nanoTime()} values
 * (CLOCK_MONOTONIC, comparable across the supervisor's and the workers' processes).
 *
 * @param generation the new worker's generation (1 for the first restart)
 * @param deadPid the process id of the worker that died
 * @param cause how it died: "killed by SIGKILL (9)", "exit status 1"
 * @param newPid the process id of the worker that took over
 * @param fromStandby whether the new worker was a hot standby (else it was started cold)
 * @param deathNanos when the supervisor saw the death (waitpid returned)
 * @param handOffNanos when the supervisor sent the fds to the new worker
 * @param firstResentAnswerNanos when the new worker answered the first request the kernel resent
 *     (reported by the worker); empty if none was resent (no request was in flight) or not yet
 * @param resentAnswered how many resent requests the new worker has answered so far
 */
public record RecoveryEvent(int generation, int deadPid, String cause, int newPid,
    boolean fromStandby, long deathNanos, long handOffNanos, OptionalLong firstResentAnswerNanos,
    long resentAnswered) {

  /** From the death to the hand-off: the time spent in the supervisor (and backoff). */
  public Duration handOffDelay() {
    return Duration.ofNanos(handOffNanos - deathNanos);
  }

  /**
   * From the death to the first resent request answered: how long the caller whose request
   * survived the crash waited for the restart.
   */
  public Optional<Duration> recoveryTime() {
    return firstResentAnswerNanos.isPresent()
        ? Optional.of(Duration.ofNanos(firstResentAnswerNanos.getAsLong() - deathNanos))
        : Optional.empty();
  }
}
