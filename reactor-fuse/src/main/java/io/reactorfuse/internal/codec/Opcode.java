package io.reactorfuse.internal.codec;

/**
 * The FUSE opcodes as data: the code on the wire, the size of the fixed part of the request body
 * (before any names or payload), and whether the kernel waits for a reply. Checked at class load.
 */
public enum Opcode {
  LOOKUP(1, 0),
  FORGET(2, 8, false),
  GETATTR(3, 16),
  SETATTR(4, 88),
  READLINK(5, 0),
  SYMLINK(6, 0),
  MKNOD(8, 16),
  MKDIR(9, 8),
  UNLINK(10, 0),
  RMDIR(11, 0),
  RENAME(12, 8),
  LINK(13, 8),
  OPEN(14, 8),
  READ(15, 40),
  WRITE(16, 40),
  STATFS(17, 0),
  RELEASE(18, 24),
  FSYNC(20, 16),
  SETXATTR(21, 8),
  GETXATTR(22, 8),
  LISTXATTR(23, 8),
  REMOVEXATTR(24, 0),
  FLUSH(25, 24),
  /** 16 bytes up to protocol 7.35, 64 from 7.36. */
  INIT(26, 16),
  OPENDIR(27, 8),
  READDIR(28, 40),
  RELEASEDIR(29, 24),
  FSYNCDIR(30, 16),
  GETLK(31, 48),
  SETLK(32, 48),
  SETLKW(33, 48),
  ACCESS(34, 8),
  CREATE(35, 16),
  /** Answered only to say "not found yet" (EAGAIN) or "never send these" (ENOSYS). */
  INTERRUPT(36, 8, false),
  BMAP(37, 16),
  DESTROY(38, 0),
  IOCTL(39, 32),
  POLL(40, 24),
  NOTIFY_REPLY(41, 40, false),
  BATCH_FORGET(42, 8, false),
  FALLOCATE(43, 32),
  READDIRPLUS(44, 40),
  RENAME2(45, 16),
  LSEEK(46, 24),
  COPY_FILE_RANGE(47, 56),
  SETUPMAPPING(48, 40),
  REMOVEMAPPING(49, 4),
  SYNCFS(50, 8),
  TMPFILE(51, 16),
  STATX(52, 24),
  COPY_FILE_RANGE_64(53, 56);

  /** The highest opcode this table knows. */
  public static final int MAX_CODE = 53;

  private static final Opcode[] BY_CODE = new Opcode[MAX_CODE + 1];

  static {
    for (Opcode op : values()) {
      if (op.code <= 0 || op.code > MAX_CODE || BY_CODE[op.code] != null) {
        throw new ExceptionInInitializerError("opcode table: bad or duplicate code " + op.code);
      }
      BY_CODE[op.code] = op;
    }
    // 7 and 19 were never assigned by the kernel; every other code up to MAX_CODE must be known.
    for (int code = 1; code <= MAX_CODE; code++) {
      if (BY_CODE[code] == null && code != 7 && code != 19) {
        throw new ExceptionInInitializerError("opcode table: code " + code + " is missing");
      }
    }
  }

  private final int code;
  private final int fixedSize;
  private final boolean replies;

  Opcode(int code, int fixedSize) {
    this(code, fixedSize, true);
  }

  Opcode(int code, int fixedSize, boolean replies) {
    this.code = code;
    this.fixedSize = fixedSize;
    this.replies = replies;
  }

  /** The opcode for a wire code, or null if unknown. */
  public static Opcode of(int code) {
    return code > 0 && code <= MAX_CODE ? BY_CODE[code] : null;
  }

  public int code() {
    return code;
  }

  /** Bytes of fixed-size body the kernel sends before names or data. */
  public int fixedSize() {
    return fixedSize;
  }

  /** Whether the kernel waits for a reply to this opcode. */
  public boolean replies() {
    return replies;
  }
}
