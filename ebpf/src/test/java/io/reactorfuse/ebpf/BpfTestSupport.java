package io.reactorfuse.ebpf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.reactorfuse.FuseException;

/** Skips a test where BPF cannot be used, naming why; fails instead on CI. */
final class BpfTestSupport {
  private BpfTestSupport() {}

  static void requireBpf() {
    FuseException cause = Bpf.unavailabilityCause();
    if (cause != null && "1".equals(System.getenv("REACTOR_FUSE_REQUIRE"))) {
      throw new AssertionError("REACTOR_FUSE_REQUIRE=1 but BPF is unavailable: "
          + cause.getMessage(), cause);
    }
    assumeTrue(cause == null, () -> "BPF unavailable: " + cause.getMessage());
  }
}
