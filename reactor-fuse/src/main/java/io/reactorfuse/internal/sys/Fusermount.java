package io.reactorfuse.internal.sys;

import io.reactorfuse.FuseException;
import java.nio.file.Path;

/** Mounting and unmounting through the setuid helper fusermount3, for users without root. */
public final class Fusermount {
  private Fusermount() {}

  /**
   * Runs {@code fusermount3 -o OPTIONS -- MOUNTPOINT} and returns the /dev/fuse fd it opened and
   * mounted (received over {@code _FUSE_COMMFD} with SCM_RIGHTS).
   *
   * @param options the mount options, comma-separated, without fd=, rootmode=, user_id=, group_id=
   */
  public static int mount(Path mountPoint, String fsName, String subtype, String options) {
    throw new FuseException("mounting with fusermount3 is not implemented yet");
  }

  /** {@code fusermount3 -u [-z] MOUNTPOINT}. */
  public static void unmount(Path mountPoint, boolean lazy) {
    throw new FuseException("unmounting with fusermount3 is not implemented yet");
  }
}
