package io.reactorfuse;

import io.reactorfuse.ops.FuseInit;
import java.nio.file.Path;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * A mounted filesystem being served. It ends when it is unmounted, by {@link #unmount()} or by
 * anyone else ({@code umount MNT}); {@link #onDispose()} then completes. A JVM that exits with
 * mounts still up detaches them (lazy unmount) so that no mount is left dangling.
 */
public interface FuseMount extends FuseSession {

  /** The directory this filesystem is mounted on. */
  Path mountPoint();

  /**
   * What INIT negotiated with the kernel. A server that takes the session over after a crash
   * needs it again: INIT is not sent twice.
   */
  @Override
  FuseInit init();

  /** How many /dev/fuse fds (the session fd and its clones) serve this mount. */
  int threads();

  /**
   * Unmounts (umount2 without flags) and completes once the session has ended. Fails with EBUSY
   * while files on the mount are open: close them, or use {@link #unmountLazy()}.
   */
  Mono<Void> unmount();

  /**
   * Detaches the mount at once (MNT_DETACH); the session ends when the last open file on it is
   * closed. Completes once the mount is detached.
   */
  Mono<Void> unmountLazy();

  /** Completes when the session has ended and its resources are released. */
  Mono<Void> onDispose();

  /** Whether the session has ended. */
  boolean isDisposed();

  /** Unmounts lazily without waiting. */
  default void dispose() {
    unmountLazy().subscribe(null, e -> { });
  }

  /** Unmounts (lazily if the mount is busy) and waits up to {@code timeout} for the end. */
  default void disposeNow(Duration timeout) {
    unmount().onErrorResume(e -> unmountLazy()).then(onDispose()).block(timeout);
  }
}
