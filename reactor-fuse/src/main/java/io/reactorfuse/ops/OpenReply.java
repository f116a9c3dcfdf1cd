package io.reactorfuse.ops;

/**
 * The answer to OPEN, OPENDIR (and part of CREATE): a file handle of the filesystem's choosing,
 * echoed back in later requests on that open file, and {@code FOPEN_*} flags.
 *
 * @param fh the file handle
 * @param openFlags a combination of the {@code FOPEN_*} constants
 * @param backingId a kernel passthrough backing id (with {@link #FOPEN_PASSTHROUGH}), else 0
 */
public record OpenReply(long fh, int openFlags, int backingId) {
  /** Bypass the page cache for this open file. */
  public static final int FOPEN_DIRECT_IO = 1;
  /** Keep the page cache from earlier opens (the data did not change). */
  public static final int FOPEN_KEEP_CACHE = 1 << 1;
  /** The file is not seekable. */
  public static final int FOPEN_NONSEEKABLE = 1 << 2;
  /** Cache this directory's entries (OPENDIR only). */
  public static final int FOPEN_CACHE_DIR = 1 << 3;
  /** The file is a stream: no file position. */
  public static final int FOPEN_STREAM = 1 << 4;
  /** Do not send FLUSH for this open file. */
  public static final int FOPEN_NOFLUSH = 1 << 5;
  /** Allow concurrent direct writes to this file. */
  public static final int FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;
  /** Kernel passthrough I/O to {@link #backingId()}. */
  public static final int FOPEN_PASSTHROUGH = 1 << 7;

  private static final OpenReply ZERO = new OpenReply(0, 0, 0);

  /** Handle {@code fh}, no flags. */
  public static OpenReply of(long fh) {
    return fh == 0 ? ZERO : new OpenReply(fh, 0, 0);
  }

  /** Handle {@code fh} with {@code FOPEN_*} flags. */
  public static OpenReply of(long fh, int openFlags) {
    return new OpenReply(fh, openFlags, 0);
  }

  /**
   * Handle {@code fh}, served by the kernel from a backing file ({@code FuseSession.openBacking}):
   * no READ or WRITE requests for this open file.
   */
  public static OpenReply passthrough(long fh, int backingId, int openFlags) {
    return new OpenReply(fh, openFlags | FOPEN_PASSTHROUGH, backingId);
  }
}
