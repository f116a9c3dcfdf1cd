package io.reactorfuse.samples.passthrough;

import io.reactorfuse.Errno;
import io.reactorfuse.ErrnoException;
import io.reactorfuse.ops.FuseNames;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * The system calls {@link PassthroughFs} makes, bound with jnr-ffi, and the few helpers around
 * them. x86-64 Linux only (struct layouts and flag values below are that ABI's).
 *
 * <p>Paths and names are passed as NUL-terminated byte arrays, never through a charset: see
 * {@link #nameBytes(String)}.
 */
final class PassthroughSys {
  // open(2) flags, x86-64
  static final int O_WRONLY = 01;
  static final int O_RDWR = 02;
  static final int O_ACCMODE = 03;
  static final int O_CREAT = 0100;
  static final int O_EXCL = 0200;
  static final int O_TRUNC = 01000;
  static final int O_NOCTTY = 0400;
  static final int O_DIRECTORY = 0200000;
  static final int O_NOFOLLOW = 0400000;
  static final int O_CLOEXEC = 02000000;
  static final int O_PATH = 010000000;
  static final int O_DIRECT = 040000;
  static final int O_APPEND = 02000;
  /** O_TMPFILE includes O_DIRECTORY. */
  static final int O_TMPFILE = 020000000 | O_DIRECTORY;
  static final int O_RDONLY = 0;

  // *at(2) flags
  static final int AT_FDCWD = -100;
  static final int AT_SYMLINK_NOFOLLOW = 0x100;
  static final int AT_REMOVEDIR = 0x200;
  static final int AT_EMPTY_PATH = 0x1000;
  static final int AT_EACCESS = 0x200;
  /** AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC: the statx sync bits callers may pass. */
  static final int AT_STATX_SYNC_TYPE = 0x6000;

  /** {@code struct statx}. */
  static final int STATX_SIZE = 256;
  static final int RLIMIT_NOFILE = 7;
  /** MAX_HANDLE_SZ: the biggest {@code f_handle} name_to_handle_at gives. */
  static final int MAX_HANDLE_SZ = 128;
  static final long SYS_SETGROUPS = 116;

  static final long UTIME_NOW = (1L << 30) - 1;
  static final long UTIME_OMIT = (1L << 30) - 2;
  static final int SEEK_SET = 0;
  static final int CLONE_FS = 0x200;

  /** {@code struct stat} on x86-64. */
  static final int STAT_SIZE = 144;
  /** {@code struct statfs} on x86-64. */
  static final int STATFS_SIZE = 120;
  /** XATTR_SIZE_MAX and XATTR_LIST_MAX. */
  static final int XATTR_MAX = 65536;

  static final byte[] EMPTY = {0};

  /** The C library functions used (glibc 2.33+ for fstatat and mknodat as symbols). */
  public interface LibC {
    @SaveError int openat(int dirfd, @In byte[] path, int flags, int mode);

    @SaveError int close(int fd);

    @SaveError int dup(int fd);

    @SaveError int fstatat(int dirfd, @In byte[] path, @Out byte[] statbuf, int flags);

    @SaveError int mkdirat(int dirfd, @In byte[] path, int mode);

    @SaveError int mknodat(int dirfd, @In byte[] path, int mode, long dev);

    @SaveError int unlinkat(int dirfd, @In byte[] path, int flags);

    @SaveError int renameat2(int olddirfd, @In byte[] oldpath, int newdirfd, @In byte[] newpath,
        int flags);

    @SaveError int linkat(int olddirfd, @In byte[] oldpath, int newdirfd, @In byte[] newpath,
        int flags);

    @SaveError int symlinkat(@In byte[] target, int newdirfd, @In byte[] linkpath);

    @SaveError long readlinkat(int dirfd, @In byte[] path, @Out byte[] buf, long size);

    @SaveError int fchmodat(int dirfd, @In byte[] path, int mode, int flags);

    @SaveError int fchmod(int fd, int mode);

    @SaveError int fchownat(int dirfd, @In byte[] path, int owner, int group, int flags);

    @SaveError int utimensat(int dirfd, @In byte[] path, @In long[] times, int flags);

    @SaveError int futimens(int fd, @In long[] times);

    /** {@code buf} is a native address. */
    @SaveError long pread64(int fd, long buf, long count, long offset);

    /** {@code buf} is a native address. */
    @SaveError long pwrite64(int fd, long buf, long count, long offset);

    @SaveError int ftruncate(int fd, long length);

    @SaveError int truncate(@In byte[] path, long length);

    @SaveError int fsync(int fd);

    @SaveError int fdatasync(int fd);

    @SaveError int fstatfs(int fd, @Out byte[] buf);

    @SaveError long getxattr(@In byte[] path, @In byte[] name, @Out byte[] value, long size);

    @SaveError long listxattr(@In byte[] path, @Out byte[] list, long size);

    @SaveError int setxattr(@In byte[] path, @In byte[] name, @In byte[] value, long size,
        int flags);

    @SaveError int removexattr(@In byte[] path, @In byte[] name);

    @SaveError int fallocate(int fd, int mode, long offset, long len);

    @SaveError long lseek(int fd, long offset, int whence);

    @SaveError long copy_file_range(int fdIn, @In @Out long[] offIn, int fdOut,
        @In @Out long[] offOut, long len, int flags);

    @SaveError long getdents64(int fd, @Out byte[] buf, long count);

    /** Per thread (a raw system call in glibc, unlike setuid). Returns the previous fsuid. */
    int setfsuid(int uid);

    int setfsgid(int gid);

    @SaveError int unshare(int flags);

    /** {@code handle} is a {@code struct file_handle} with {@code handle_bytes} set. */
    @SaveError int name_to_handle_at(int dirfd, @In byte[] path, @In @Out byte[] handle,
        @Out int[] mountId, int flags);

    @SaveError int open_by_handle_at(int mountFd, @In byte[] handle, int flags);

    @SaveError int statx(int dirfd, @In byte[] path, int flags, int mask, @Out byte[] buf);

    @SaveError int faccessat(int dirfd, @In byte[] path, int mode, int flags);

    @SaveError int syncfs(int fd);

    /** {@code rlim} is {@code {rlim_cur, rlim_max}}. */
    @SaveError int getrlimit(int resource, @Out long[] rlim);

    @SaveError int setrlimit(int resource, @In long[] rlim);

    /** The raw system call (for per-thread setgroups: glibc's changes every thread). */
    @SaveError long syscall(long number, long a1, @In int[] a2);

    int umask(int mask);

    int geteuid();

    int getegid();
  }

  static final LibC C = LibraryLoader.create(LibC.class).load("c");
  private static final Runtime RUNTIME = Runtime.getRuntime(C);

  private PassthroughSys() {}

  /** The errno of this thread's last failed call. */
  static int errno() {
    return RUNTIME.getLastError();
  }

  /** The exception that fails a request with this thread's errno. */
  static ErrnoException fail() {
    int e = errno();
    return Errno.of(e > 0 ? e : Errno.EIO.code()).exception();
  }

  /** Checks a call's int result: returns it, or throws the errno when it is -1. */
  static int check(int result) {
    if (result < 0) {
      throw fail();
    }
    return result;
  }

  /** Checks a call's long result. */
  static long check(long result) {
    if (result < 0) {
      throw fail();
    }
    return result;
  }

  /**
   * A name or path as the kernel wants it: NUL-terminated bytes. The ONE place names are
   * encoded: {@link FuseNames#encode} gives back the exact bytes the kernel sent, also for
   * names that are not valid UTF-8.
   */
  static byte[] nameBytes(String name) {
    byte[] b = FuseNames.encode(name);
    byte[] z = new byte[b.length + 1];
    System.arraycopy(b, 0, z, 0, b.length);
    return z;
  }

  /** The inverse of {@link #nameBytes}: bytes from the kernel (no NUL) to a String. */
  static String nameString(byte[] bytes, int offset, int length) {
    return FuseNames.decode(Arrays.copyOfRange(bytes, offset, offset + length));
  }

  /** {@code /proc/self/fd/N}: reopens an O_PATH fd, or reaches its inode by a path. */
  static byte[] procPath(int fd) {
    return nameBytes("/proc/self/fd/" + fd);
  }

  /** Closes an fd, ignoring errors (cleanup paths). */
  static void closeQuietly(int fd) {
    if (fd >= 0) {
      C.close(fd);
    }
  }

  /**
   * Raises the soft open-file limit to the hard one (as far as allowed) and returns the soft
   * limit in force afterwards, or -1 if it cannot be read.
   */
  static long raiseOpenFileLimit() {
    long[] rl = new long[2];
    if (C.getrlimit(RLIMIT_NOFILE, rl) != 0) {
      return -1;
    }
    if (rl[0] != rl[1] && C.setrlimit(RLIMIT_NOFILE, new long[] {rl[1], rl[1]}) == 0) {
      return rl[1];
    }
    return rl[0];
  }

  /** fstat of any fd, O_PATH included. */
  static byte[] fstat(int fd) {
    byte[] st = new byte[STAT_SIZE];
    check(C.fstatat(fd, EMPTY, st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
    return st;
  }
}
