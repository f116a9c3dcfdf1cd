package io.reactorfuse.samples;

import io.reactorfuse.testing.FuseTestSupport;
import java.nio.file.Path;

/** The end of every passthrough test: unmount, close the daemon's fds, remove the temp tree. */
final class PassthroughTeardown {
  private PassthroughTeardown() {}

  /**
   * In that order, each step even if the one before failed: the mount goes first (its files
   * keep the tree busy), the filesystem's O_PATH fds next, the tree last. Null parts are skipped.
   */
  static void release(FuseTestSupport fuse, AutoCloseable fs, Path tree) throws Exception {
    try {
      if (fuse != null) {
        fuse.close();
      }
    } finally {
      try {
        if (fs != null) {
          fs.close();
        }
      } finally {
        if (tree != null) {
          FuseTestSupport.sh("rm -rf '" + tree.toString().replace("'", "'\\''") + "'");
        }
      }
    }
  }
}
