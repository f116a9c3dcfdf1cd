package io.reactorfuse.ops;

/**
 * The answer to STATFS ({@code struct fuse_kstatfs}); sizes count blocks of {@code frsize} bytes.
 */
public record StatfsReply(
    long blocks, long bfree, long bavail, long files, long ffree, int bsize, int namelen,
    int frsize) {

  /** What a filesystem that keeps no statistics reports: names up to 255 bytes, 512-byte blocks. */
  public static final StatfsReply EMPTY = new StatfsReply(0, 0, 0, 0, 0, 512, 255, 512);
}
