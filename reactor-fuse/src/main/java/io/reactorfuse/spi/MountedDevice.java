package io.reactorfuse.spi;

import java.nio.file.Path;
import java.util.List;

/**
 * A mount made without serving it ({@code FuseServer.mountDevice()}): the connected /dev/fuse fd
 * and its clones, for a supervisor that hands them to worker processes
 * ({@code FuseServer.fromFds}). The kernel's INIT is still pending: the first worker answers it.
 * Closing the last copy of the fds aborts the connection.
 */
public interface MountedDevice {

  /** The mount point. */
  Path mountPoint();

  /** The session fd first, then its clones; non-blocking and close-on-exec (send them). */
  List<Integer> fds();

  /** Unmounts ({@code lazy}: detach at once even while files are open). */
  void unmount(boolean lazy);

  /** Closes this process's copies of the fds. */
  void closeFds();
}
