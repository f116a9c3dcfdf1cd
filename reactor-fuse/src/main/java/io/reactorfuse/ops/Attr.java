package io.reactorfuse.ops;

import java.time.Instant;

/**
 * A node's attributes as the kernel caches them ({@code struct fuse_attr}). Times are seconds and
 * nanoseconds since the epoch; {@link #builder()} takes {@link Instant}s.
 */
public record Attr(
    long ino,
    long size,
    long blocks,
    long atimeSec,
    int atimeNsec,
    long mtimeSec,
    int mtimeNsec,
    long ctimeSec,
    int ctimeNsec,
    int mode,
    int nlink,
    int uid,
    int gid,
    int rdev,
    int blksize,
    int flags) {

  /** {@code S_IFMT} and the file types, as in {@code <sys/stat.h>}. */
  public static final int S_IFMT = 0170000;
  public static final int S_IFSOCK = 0140000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFBLK = 0060000;
  public static final int S_IFDIR = 0040000;
  public static final int S_IFCHR = 0020000;
  public static final int S_IFIFO = 0010000;

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.ino = ino;
    b.size = size;
    b.blocks = blocks;
    b.atimeSec = atimeSec;
    b.atimeNsec = atimeNsec;
    b.mtimeSec = mtimeSec;
    b.mtimeNsec = mtimeNsec;
    b.ctimeSec = ctimeSec;
    b.ctimeNsec = ctimeNsec;
    b.mode = mode;
    b.nlink = nlink;
    b.uid = uid;
    b.gid = gid;
    b.rdev = rdev;
    b.blksize = blksize;
    b.flags = flags;
    return b;
  }

  /** The file type bits of {@link #mode()}, as a {@code DT_*} value for directory entries. */
  public int direntType() {
    return (mode & S_IFMT) >>> 12;
  }

  /** Mutable helper to build an {@link Attr}; unset fields are 0 ({@code nlink} 1). */
  public static final class Builder {
    private long ino;
    private long size;
    private long blocks = -1;
    private long atimeSec;
    private int atimeNsec;
    private long mtimeSec;
    private int mtimeNsec;
    private long ctimeSec;
    private int ctimeNsec;
    private int mode;
    private int nlink = 1;
    private int uid;
    private int gid;
    private int rdev;
    private int blksize;
    private int flags;

    private Builder() {}

    public Builder ino(long ino) {
      this.ino = ino;
      return this;
    }

    public Builder size(long size) {
      this.size = size;
      return this;
    }

    /** 512-byte blocks used; when never set, derived from the size. */
    public Builder blocks(long blocks) {
      this.blocks = blocks;
      return this;
    }

    public Builder mode(int mode) {
      this.mode = mode;
      return this;
    }

    public Builder nlink(int nlink) {
      this.nlink = nlink;
      return this;
    }

    public Builder uid(int uid) {
      this.uid = uid;
      return this;
    }

    public Builder gid(int gid) {
      this.gid = gid;
      return this;
    }

    public Builder rdev(int rdev) {
      this.rdev = rdev;
      return this;
    }

    public Builder blksize(int blksize) {
      this.blksize = blksize;
      return this;
    }

    public Builder flags(int flags) {
      this.flags = flags;
      return this;
    }

    public Builder atime(Instant t) {
      atimeSec = t.getEpochSecond();
      atimeNsec = t.getNano();
      return this;
    }

    public Builder mtime(Instant t) {
      mtimeSec = t.getEpochSecond();
      mtimeNsec = t.getNano();
      return this;
    }

    public Builder ctime(Instant t) {
      ctimeSec = t.getEpochSecond();
      ctimeNsec = t.getNano();
      return this;
    }

    /** Sets atime, mtime and ctime at once. */
    public Builder times(Instant t) {
      return atime(t).mtime(t).ctime(t);
    }

    public Attr build() {
      long blk = blocks >= 0 ? blocks : (size + 511) / 512;
      return new Attr(ino, size, blk, atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec,
          ctimeNsec, mode, nlink, uid, gid, rdev, blksize, flags);
    }
  }
}
