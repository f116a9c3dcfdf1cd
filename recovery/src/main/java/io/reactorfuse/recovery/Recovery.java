package io.reactorfuse.recovery;

import io.reactorfuse.spi.StateStore;

/**
 * What a filesystem served by {@link RecoverableWorker} learns about the worker it runs in: its
 * place in the line of workers that served this mount, and the store where it keeps what its
 * successor needs.
 */
public interface Recovery {

  /**
   * The store that outlives this worker, shared by every worker of the mount: restore the
   * filesystem's tables from it when {@link #restarted()}, and keep them in it while serving.
   * Use spaces from {@link RecoveryStore#FIRST_USER_SPACE} up.
   */
  StateStore state();

  /** 0 for the worker that answered the kernel's INIT, then 1, 2, ... after each crash. */
  int generation();

  /** Whether an earlier worker of this mount died ({@code generation() > 0}). */
  default boolean restarted() {
    return generation() > 0;
  }
}
