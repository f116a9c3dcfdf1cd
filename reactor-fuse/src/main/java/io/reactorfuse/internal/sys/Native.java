package io.reactorfuse.internal.sys;


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

  private static final LibcBinding<LibC> LIBC = new LibcBinding<>(LibC.class);

  private Native() {}

  private static LibC libc() {
    return LIBC.lib();
  }

  /** Loads the C library (if not yet done), failing with a clear message. */
  public static void ensureLoaded() {
    LIBC.lib();
  }

  private static NativeError error(String call) {
    return LIBC.error(call);
  }

  /** open(2); returns the fd. */
  public static int open(String path, int flags) throws NativeError {
    int fd = libc().open(path, flags);
    if (fd < 0) {
      throw error("open(" + path + ")");
    }
    return fd;
  }

  /** close(2), ignoring errors (there is nothing to do about them). */
  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      libc().close(fd);
    }
  }

  /** mount(2). */
  public static void mount(String source, String target, String fstype, long flags, String data)
      throws NativeError {
    if (libc().mount(source, target, fstype, flags, data) != 0) {
      throw error("mount(" + target + ")");
    }
  }

  /** umount2(2). */
  public static void umount2(String target, int flags) throws NativeError {
    if (libc().umount2(target, flags) != 0) {
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
    jnr.ffi.Pointer arg = jnr.ffi.Memory.allocateDirect(LIBC.runtime(), 4);
    arg.putInt(0, sessionFd);
    if (libc().ioctl(fd, FUSE_DEV_IOC_CLONE, arg) != 0) {
      NativeError e = error("ioctl(FUSE_DEV_IOC_CLONE)");
      closeQuietly(fd);
      throw e;
    }
    return fd;
  }

  private static final long FUSE_DEV_IOC_BACKING_OPEN = 0x4010e501L;
  private static final long FUSE_DEV_IOC_BACKING_CLOSE = 0x4004e502L;

  /**
   * Registers {@code fd} as a kernel-passthrough backing file on the connection of
   * {@code devFd} ({@code struct fuse_backing_map {s32 fd; u32 flags; u64 padding}}).
   *
   * @return the backing id
   */
  public static int backingOpen(int devFd, int fd) throws NativeError {
    jnr.ffi.Pointer map = jnr.ffi.Memory.allocateDirect(LIBC.runtime(), 16);
    map.putInt(0, fd);
    map.putInt(4, 0);
    map.putLong(8, 0);
    int id = libc().ioctl(devFd, FUSE_DEV_IOC_BACKING_OPEN, map);
    if (id < 0) {
      throw error("ioctl(FUSE_DEV_IOC_BACKING_OPEN)");
    }
    return id;
  }

  /** Releases a backing id. */
  public static void backingClose(int devFd, int backingId) throws NativeError {
    jnr.ffi.Pointer id = jnr.ffi.Memory.allocateDirect(LIBC.runtime(), 4);
    id.putInt(0, backingId);
    if (libc().ioctl(devFd, FUSE_DEV_IOC_BACKING_CLOSE, id) != 0) {
      throw error("ioctl(FUSE_DEV_IOC_BACKING_CLOSE)");
    }
  }

  /** write(2) of all of {@code bytes} in one call (a /dev/fuse message is taken whole). */
  public static void write(int fd, byte[] bytes, String what) throws NativeError {
    if (libc().write(fd, bytes, bytes.length) != bytes.length) {
      throw error("write(" + what + ")");
    }
  }

  /** access(2): whether the calling process may use {@code path} with {@code mode}. */
  public static boolean access(String path, int mode) {
    return libc().access(path, mode) == 0;
  }

  public static int getuid() {
    return libc().getuid();
  }

  public static int getgid() {
    return libc().getgid();
  }

  public static int geteuid() {
    return libc().geteuid();
  }
}
