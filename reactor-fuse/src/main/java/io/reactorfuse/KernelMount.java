package io.reactorfuse;

import io.reactorfuse.internal.sys.Fusermount;
import io.reactorfuse.internal.sys.Native;
import io.reactorfuse.internal.sys.NativeError;
import java.nio.file.Path;

/**
 * Making and removing the mount itself: mount(2) / umount2(2) as root, fusermount3 otherwise.
 * Each failure says what to do about it.
 */
final class KernelMount {
  private KernelMount() {}

  /** The method {@code AUTO} stands for in this process. */
  static MountMethod resolve(MountMethod method) {
    if (method != MountMethod.AUTO) {
      return method;
    }
    return Native.geteuid() == 0 ? MountMethod.SYSCALL : MountMethod.FUSERMOUNT;
  }

  /** Mounts and returns the connected /dev/fuse fd (non-blocking, close-on-exec). */
  static int mount(ServerConfig c, MountMethod method) {
    if (method == MountMethod.FUSERMOUNT) {
      return Fusermount.mount(c.mountPoint, c.fsName, c.subtype, fusermountOptions(c));
    }
    if (Native.geteuid() != 0) {
      throw new FuseException("mounting with mount(2) needs root (CAP_SYS_ADMIN) and this "
          + "process runs as uid " + Native.geteuid() + ": run it as root, or mount with "
          + "MountMethod.FUSERMOUNT (fusermount3, Debian package fuse3)");
    }
    int fd = openDevice();
    try {
      Native.mount(c.fsName, c.mountPoint.toString(),
          c.subtype == null ? "fuse" : "fuse." + c.subtype, mountFlags(c), mountData(c, fd));
    } catch (NativeError e) {
      Native.closeQuietly(fd);
      throw mountFailure(c, e);
    }
    return fd;
  }

  /** Unmounts; {@code lazy} detaches at once even while files are open. */
  static void unmount(Path mountPoint, MountMethod method, boolean lazy) {
    if (method == MountMethod.FUSERMOUNT) {
      Fusermount.unmount(mountPoint, lazy);
      return;
    }
    try {
      Native.umount2(mountPoint.toString(), lazy ? Native.MNT_DETACH : 0);
    } catch (NativeError e) {
      if (e.errno().equals(Errno.EBUSY)) {
        throw new FuseException("cannot unmount " + mountPoint + ": files on it are still in "
            + "use (EBUSY); close them, or unmount lazily", Errno.EBUSY, e);
      }
      if (!e.errno().equals(Errno.EINVAL)) { // EINVAL: not mounted (any more)
        throw new FuseException("cannot unmount " + mountPoint + ": " + e.getMessage(),
            e.errno(), e);
      }
    }
  }

  /** The options fusermount3 takes: ours minus what it adds itself (fd, rootmode, ids). */
  static String fusermountOptions(ServerConfig c) {
    StringBuilder sb = new StringBuilder(c.readOnly ? "ro" : "rw");
    sb.append(c.noSuid ? ",nosuid" : "").append(c.noDev ? ",nodev" : "");
    sb.append(c.defaultPermissions ? ",default_permissions" : "");
    sb.append(c.allowOther ? ",allow_other" : "");
    if (c.maxRead > 0) {
      sb.append(",max_read=").append(c.maxRead);
    }
    return sb.toString();
  }

  static int openDevice() {
    try {
      return Native.open(Fuse.DEVICE, Native.O_RDWR | Native.O_NONBLOCK | Native.O_CLOEXEC);
    } catch (NativeError e) {
      Errno errno = e.errno();
      if (errno.equals(Errno.ENOENT) || errno.equals(Errno.ENODEV) || errno.equals(Errno.ENXIO)) {
        throw new FuseException(Fuse.DEVICE + " is missing (" + errno.name() + "): load the fuse "
            + "module (modprobe fuse)", errno, e);
      }
      if (errno.equals(Errno.EACCES) || errno.equals(Errno.EPERM)) {
        throw new FuseException("no permission to open " + Fuse.DEVICE + " (" + errno.name()
            + "): run as root or give this user access to the device", errno, e);
      }
      throw new FuseException("cannot open " + Fuse.DEVICE + ": " + e.getMessage(), errno, e);
    }
  }

  static long mountFlags(ServerConfig c) {
    long flags = 0;
    flags |= c.readOnly ? Native.MS_RDONLY : 0;
    flags |= c.noSuid ? Native.MS_NOSUID : 0;
    flags |= c.noDev ? Native.MS_NODEV : 0;
    return flags;
  }

  static String mountData(ServerConfig c, int fd) {
    StringBuilder sb = new StringBuilder();
    sb.append("fd=").append(fd).append(",rootmode=40000");
    sb.append(",user_id=").append(c.userId >= 0 ? c.userId : Native.getuid());
    sb.append(",group_id=").append(c.groupId >= 0 ? c.groupId : Native.getgid());
    if (c.defaultPermissions) {
      sb.append(",default_permissions");
    }
    if (c.allowOther) {
      sb.append(",allow_other");
    }
    if (c.maxRead > 0) {
      sb.append(",max_read=").append(c.maxRead);
    }
    return sb.toString();
  }

  private static FuseException mountFailure(ServerConfig c, NativeError e) {
    Errno errno = e.errno();
    String mp = c.mountPoint.toString();
    String data = mountData(c, -1).replace("fd=-1,", "");
    if (errno.equals(Errno.EINVAL)) {
      return new FuseException("the kernel refused to mount " + mp + " with options \"" + data
          + "\" (EINVAL): check the options (max_read, user_id, group_id) and that the mount "
          + "point is not in use", errno, e);
    }
    if (errno.equals(Errno.EPERM) || errno.equals(Errno.EACCES)) {
      return new FuseException("mount(2) of " + mp + " was not permitted (" + errno.name()
          + "): mounting needs CAP_SYS_ADMIN; run as root", errno, e);
    }
    if (errno.equals(Errno.ENODEV)) {
      return new FuseException("the kernel knows no fuse filesystem type (ENODEV): load the "
          + "module with modprobe fuse", errno, e);
    }
    if (errno.equals(Errno.EBUSY)) {
      return new FuseException("mount point " + mp + " is busy (EBUSY): unmount what is mounted "
          + "there first", errno, e);
    }
    return new FuseException("mounting " + mp + " failed: " + e.getMessage(), errno, e);
  }

}
