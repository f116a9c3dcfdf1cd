package io.reactorfuse.samples;

import java.nio.file.Path;
import picocli.CommandLine.Parameters;

/** What every sample takes: the mount point, and the {@link MountSettings} options. */
final class MountOptions extends MountSettings {
  @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "An existing directory.")
  Path mountPoint;

  @Override
  Path mountPoint() {
    return mountPoint;
  }
}
