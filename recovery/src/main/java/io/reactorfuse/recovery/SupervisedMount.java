package io.reactorfuse.recovery;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

/**
 * A mount kept alive by a supervisor ({@link Supervisor#start()}): the supervisor holds the
 * /dev/fuse fds and restarts the worker process that serves them. Thread-safe.
 */
public interface SupervisedMount {

  /** The directory the filesystem is mounted on. */
  Path mountPoint();

  /** The process id of the worker serving now, or -1 between a crash and the restart. */
  int workerPid();

  /** The hot standby that has initialised and waits to take over, if there is one. */
  OptionalInt standbyPid();

  /** How many times a crashed worker was replaced. */
  int restarts();

  /** Every restart so far, oldest first (a snapshot). */
  List<RecoveryEvent> events();

  /**
   * Unmounts (lazily: the mount point is detached at once), waits up to the stop timeout for the
   * worker to exit and SIGKILLs it if it has not, kills the standby, closes the fds, and returns
   * when all that is done. Nothing stays mounted and no worker process stays behind. Does
   * nothing if the supervision has ended already. Also run by a JVM shutdown hook, so SIGTERM
   * or SIGINT to the supervisor's process stop it.
   */
  void stop();

  /**
   * Completes when the supervision ends: normally when the mount ended (unmounted by anyone,
   * the worker then exits with status 0) or {@link #stop()} was called; with a
   * {@link io.reactorfuse.FuseException} when the supervisor gave up (too many crashes, see
   * {@link RestartPolicy}) or could not restart the worker. A copy: completing it does nothing.
   */
  CompletableFuture<Void> termination();

  /** Waits up to {@code timeout} for {@link #termination()}; true if the supervision ended. */
  boolean awaitTermination(Duration timeout) throws InterruptedException;
}
