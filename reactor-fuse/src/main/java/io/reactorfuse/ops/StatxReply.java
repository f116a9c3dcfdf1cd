package io.reactorfuse.ops;

import java.time.Duration;
import java.util.Objects;

/**
 * The answer to STATX ({@code struct fuse_statx_out}). Times are seconds and nanoseconds.
 *
 * @param mask which {@code STATX_*} fields are valid
 */
public record StatxReply(
    Duration timeout,
    int mask,
    int blksize,
    long attributes,
    int nlink,
    int uid,
    int gid,
    int mode,
    long ino,
    long size,
    long blocks,
    long attributesMask,
    long atimeSec,
    int atimeNsec,
    long btimeSec,
    int btimeNsec,
    long ctimeSec,
    int ctimeNsec,
    long mtimeSec,
    int mtimeNsec,
    int rdevMajor,
    int rdevMinor,
    int devMajor,
    int devMinor) {

  public StatxReply {
    Objects.requireNonNull(timeout, "timeout");
  }
}
