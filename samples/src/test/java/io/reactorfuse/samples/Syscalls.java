package io.reactorfuse.samples;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;

/**
 * System calls the tests need and Java does not offer (renameat2 flags, raw getxattr), called
 * directly so that the tests depend on no extra packages.
 */
final class Syscalls {
  static final int AT_FDCWD = -100;
  static final int RENAME_EXCHANGE = 2;

  /** The C library functions used. */
  public interface LibC {
    @SaveError
    int renameat2(int olddirfd, String oldpath, int newdirfd, String newpath, int flags);

    @SaveError
    long getxattr(String path, String name, byte[] value, long size);
  }

  private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");

  private Syscalls() {}

  /** renameat2(2) with flags; returns 0 or the errno. */
  static int renameat2(String from, String to, int flags) {
    return LIBC.renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0 ? 0 : errno();
  }

  /** getxattr(2) of a missing attribute; returns 0 on success or the errno. */
  static int getxattr(String path, String name) {
    return LIBC.getxattr(path, name, new byte[256], 256) >= 0 ? 0 : errno();
  }

  private static int errno() {
    return Runtime.getRuntime(LIBC).getLastError();
  }
}
