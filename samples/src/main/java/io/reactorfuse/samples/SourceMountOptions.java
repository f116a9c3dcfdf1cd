package io.reactorfuse.samples;

import java.nio.file.Path;
import picocli.CommandLine.Parameters;

/** For samples that mirror a directory: SOURCE MOUNTPOINT, and the {@link MountSettings}. */
final class SourceMountOptions extends MountSettings {
  @Parameters(index = "0", paramLabel = "SOURCE", description = "The directory to mirror.")
  Path source;

  @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "An existing directory.")
  Path mountPoint;

  @Override
  Path mountPoint() {
    return mountPoint;
  }
}
