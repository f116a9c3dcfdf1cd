package io.reactorfuse;

import io.netty.channel.epoll.Epoll;
import io.reactorfuse.internal.sys.Native;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Can this process serve FUSE? A probe in the style of Netty's {@code Epoll}: Linux, Netty's epoll
 * transport, the C library through jnr-ffi, and a /dev/fuse it may open.
 */
public final class Fuse {
  static final String DEVICE = "/dev/fuse";
  private static final int R_OK_W_OK = 4 | 2;

  private Fuse() {}

  /** Whether FUSE can be served here (see {@link #unavailabilityCause()} when not). */
  public static boolean isAvailable() {
    return unavailabilityCause() == null;
  }

  /** Throws the reason FUSE cannot be served here, if there is one. */
  public static void ensureAvailability() {
    FuseException cause = unavailabilityCause();
    if (cause != null) {
      throw cause;
    }
  }

  /** Why FUSE cannot be served here, with what to do about it; null when it can. */
  public static FuseException unavailabilityCause() {
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      return new FuseException("FUSE needs Linux; this is " + System.getProperty("os.name"));
    }
    if (!Epoll.isAvailable()) {
      return new FuseException("Netty's native epoll transport is not available ("
          + Epoll.unavailabilityCause() + "): put netty-transport-native-epoll with classifier "
          + "linux-x86_64 on the class path", null, Epoll.unavailabilityCause());
    }
    try {
      Native.ensureLoaded();
    } catch (FuseException e) {
      return e;
    }
    if (!Files.exists(Path.of(DEVICE))) {
      return new FuseException(DEVICE + " does not exist: load the fuse module (modprobe fuse), "
          + "or in a container pass the device in (docker run --device /dev/fuse)", Errno.ENOENT,
          null);
    }
    if (!Native.access(DEVICE, R_OK_W_OK)) {
      return new FuseException("no permission to open " + DEVICE + " for reading and writing: run "
          + "as root, or give this user access to the device (chmod 0666 /dev/fuse)",
          Errno.EACCES, null);
    }
    return null;
  }
}
