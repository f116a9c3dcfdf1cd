package io.reactorfuse.internal.sys;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * Every native call of reactor-fuse, and nowhere else. Failures come back as {@link NativeError}
 * with the errno; callers turn them into messages that say what to do.
 */
public final class Native {
  public static final int O_RDWR = 02;
  public static final int O_NONBLOCK = 04000;
  public static final int O_CLOEXEC = 02000000;

  public static final long MS_RDONLY = 1;
  public static final long MS_NOSUID = 2;
  public static final long MS_NODEV = 4;
  public static final long MS_NOEXEC = 8;
  public static final long MS_SYNCHRONOUS = 16;
  public static final long MS_NOATIME = 1024;
  public static final long MS_NODIRATIME = 2048;
  public static final long MS_DIRSYNC = 128;

  public static final int MNT_DETACH = 2;

  private static volatile Holder holder;

  private Native() {}

  private static final class Holder {
    final LibC libc;
    final Runtime runtime;

    Holder() {
      libc = LibraryLoader.create(LibC.class).load("c");
      runtime = Runtime.getRuntime(libc);
    }
  }

  private static Holder holder() {
    Holder h = holder;
    if (h == null) {
      synchronized (Native.class) {
        h = holder;
        if (h == null) {
          try {
            holder = h = new Holder();
          } catch (Throwable t) {
            throw new FuseException(
                "cannot load the C library through jnr-ffi: " + t + ". reactor-fuse runs on Linux "
                    + "x86-64 with glibc", null, t);
          }
        }
      }
    }
    return h;
  }

  /** Loads the C library (if not yet done), failing with a clear message. */
  public static void ensureLoaded() {
    holder();
  }

  private static NativeError error(String call) {
    Holder h = holder();
    return new NativeError(call, Errno.of(Math.max(1, h.runtime.getLastError())));
  }

  /** open(2); returns the fd. */
  public static int open(String path, int flags) throws NativeError {
    int fd = holder().libc.open(path, flags);
    if (fd < 0) {
      throw error("open(" + path + ")");
    }
    return fd;
  }

  /** close(2), ignoring errors (there is nothing to do about them). */
  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      holder().libc.close(fd);
    }
  }

  /** mount(2). */
  public static void mount(String source, String target, String fstype, long flags, String data)
      throws NativeError {
    if (holder().libc.mount(source, target, fstype, flags, data) != 0) {
      throw error("mount(" + target + ")");
    }
  }

  /** umount2(2). */
  public static void umount2(String target, int flags) throws NativeError {
    if (holder().libc.umount2(target, flags) != 0) {
      throw error("umount2(" + target + ")");
    }
  }

  /** {@code FUSE_DEV_IOC_CLONE}: attaches a fresh /dev/fuse fd to the connection of another. */
  private static final long FUSE_DEV_IOC_CLONE = 0x8004e500L;

  /**
   * Opens a new /dev/fuse fd on the same connection as {@code sessionFd}: it gets its own
   * processing list, so replies must go to the fd that read the request.
   */
  public static int cloneDevice(int sessionFd) throws NativeError {
    int fd = open("/dev/fuse", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    Holder h = holder();
    jnr.ffi.Pointer arg = jnr.ffi.Memory.allocateDirect(h.runtime, 4);
    arg.putInt(0, sessionFd);
    if (h.libc.ioctl(fd, FUSE_DEV_IOC_CLONE, arg) != 0) {
      NativeError e = error("ioctl(FUSE_DEV_IOC_CLONE)");
      closeQuietly(fd);
      throw e;
    }
    return fd;
  }

  /** access(2): whether the calling process may use {@code path} with {@code mode}. */
  public static boolean access(String path, int mode) {
    return holder().libc.access(path, mode) == 0;
  }

  public static int getuid() {
    return holder().libc.getuid();
  }

  public static int getgid() {
    return holder().libc.getgid();
  }

  public static int geteuid() {
    return holder().libc.geteuid();
  }
}
