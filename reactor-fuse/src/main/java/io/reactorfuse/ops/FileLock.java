package io.reactorfuse.ops;

/**
 * A POSIX byte-range lock ({@code struct fuse_file_lock}).
 *
 * @param start first byte
 * @param end last byte, inclusive ({@code Long.MAX_VALUE}: to the end of the file)
 * @param type F_RDLCK (0), F_WRLCK (1) or F_UNLCK (2)
 * @param pid the owner's process id
 */
public record FileLock(long start, long end, int type, int pid) {
  public static final int F_RDLCK = 0;
  public static final int F_WRLCK = 1;
  public static final int F_UNLCK = 2;
}
