package io.reactorfuse.ebpf;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;

/**
 * Can this process use BPF? A probe in the style of Netty's {@code Epoll} (and core's
 * {@code Fuse}): libbpf through jnr-ffi, and the right to create a BPF map (root, or
 * CAP_BPF/CAP_SYS_ADMIN). Where it says no, run without the eBPF parts: the Caffeine cache in
 * core works on its own.
 */
public final class Bpf {
  private static volatile FuseException cause;
  private static volatile boolean probed;

  private Bpf() {}

  /** Whether BPF maps and programs can be used here (see {@link #unavailabilityCause()}). */
  public static boolean isAvailable() {
    return unavailabilityCause() == null;
  }

  /** Throws the reason BPF cannot be used here, if there is one. */
  public static void ensureAvailability() {
    FuseException c = unavailabilityCause();
    if (c != null) {
      throw c;
    }
  }

  /** Why BPF cannot be used here, with what to do about it; null when it can. Probed once. */
  public static FuseException unavailabilityCause() {
    if (!probed) {
      synchronized (Bpf.class) {
        if (!probed) {
          cause = probe();
          probed = true;
        }
      }
    }
    return cause;
  }

  private static FuseException probe() {
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      return new FuseException("BPF needs Linux; this is " + System.getProperty("os.name"));
    }
    LibBpf lib;
    try {
      lib = LibBpf.get();
    } catch (FuseException e) {
      return e;
    }
    // The cheapest privileged call: a one-entry map, closed at once. EPERM here means not root
    // (or a kernel with kernel.unprivileged_bpf_disabled and no CAP_BPF), ENOSYS no bpf(2).
    try {
      lib.close(lib.createHashMap("rf_probe", 8, 8, 1));
      return null;
    } catch (FuseException e) {
      String hint = e.errno() == Errno.ENOSYS
          ? ": the kernel was built without CONFIG_BPF_SYSCALL" : "";
      return new FuseException("BPF is unavailable: " + e.getMessage() + hint, e.errno(), e);
    }
  }
}
