package io.reactorfuse.samples;

import io.reactorfuse.FuseMount;
import io.reactorfuse.samples.memfs.MemFs;
import io.reactorfuse.testing.FuseTestSupport;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** The POSIX suite on memfs, one fresh mount per test. */
class MemFsIT extends PosixSuite {
  private FuseTestSupport fuse;
  private FuseMount mount;

  @BeforeEach
  void mount() throws Exception {
    FuseTestSupport.requireFuse();
    fuse = new FuseTestSupport();
    mount = fuse.mount(new MemFs(Duration.ofSeconds(1), 0, 0),
        s -> s.defaultPermissions(true).fsName("memfs"));
  }

  @AfterEach
  void unmount() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
  }

  @Override
  protected Path root() {
    return mount.mountPoint();
  }
}
