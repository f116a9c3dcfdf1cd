package io.reactorfuse.internal.sys;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/** The C library calls reactor-fuse needs; bound by jnr-ffi in {@link Native}. */
public interface LibC {
  @SaveError
  int open(String path, int flags);

  @SaveError
  int close(int fd);

  long write(int fd, byte[] buf, long count);

  @SaveError
  int mount(String source, String target, String fstype, long flags, String data);

  @SaveError
  int umount2(String target, int flags);

  @SaveError
  int ioctl(int fd, long request, Pointer arg);

  @SaveError
  int access(String path, int mode);

  int getuid();

  int getgid();

  int geteuid();

  String strerror(int errnum);
}
