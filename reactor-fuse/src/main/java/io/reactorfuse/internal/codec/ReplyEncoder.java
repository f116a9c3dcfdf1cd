package io.reactorfuse.internal.codec;

import io.reactorfuse.ops.FuseNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FileLock;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.IoctlReply;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.StatfsReply;
import io.reactorfuse.ops.StatxReply;
import java.time.Duration;
import java.util.List;

/**
 * Reply shapes to kernel bytes. Each method returns one buffer holding {@code fuse_out_header}
 * and the body, ready for a single write(2); the caller owns it. Errors are negated here and only
 * here.
 */
public final class ReplyEncoder {
  public static final int OUT_HEADER = 16;
  public static final int ATTR = 88;
  public static final int ENTRY_OUT = 128;
  public static final int ATTR_OUT = 104;
  public static final int OPEN_OUT = 16;
  public static final int INIT_OUT = 64;
  public static final int STATFS_OUT = 80;
  public static final int STATX_OUT = 288;
  public static final int DIRENT_HEADER = 24;

  private final ByteBufAllocator alloc;

  public ReplyEncoder(ByteBufAllocator alloc) {
    this.alloc = alloc;
  }

  /** A buffer with room for {@code bodyLength} bytes after a filled-in success header. */
  public ByteBuf begin(long unique, int bodyLength) {
    ByteBuf buf = alloc.directBuffer(OUT_HEADER + bodyLength);
    buf.writeIntLE(OUT_HEADER + bodyLength).writeIntLE(0).writeLongLE(unique);
    return buf;
  }

  /** Fixes the length field after a body of unknown size was written. */
  public static ByteBuf finish(ByteBuf buf) {
    buf.setIntLE(buf.readerIndex(), buf.readableBytes());
    return buf;
  }

  /** An error reply: the header alone, with {@code -errno}. */
  public ByteBuf error(long unique, int errno) {
    ByteBuf buf = alloc.directBuffer(OUT_HEADER);
    return buf.writeIntLE(OUT_HEADER).writeIntLE(-errno).writeLongLE(unique);
  }

  /** Success without a body (UNLINK, RELEASE, SETXATTR...). */
  public ByteBuf empty(long unique) {
    return begin(unique, 0);
  }

  /** The header of a data reply whose payload goes out in a second iovec (READ). */
  public ByteBuf dataHeader(long unique, int dataLength) {
    ByteBuf buf = alloc.directBuffer(OUT_HEADER);
    return buf.writeIntLE(OUT_HEADER + dataLength).writeIntLE(0).writeLongLE(unique);
  }

  /** A reply whose body is raw bytes (READLINK, GETXATTR value, LISTXATTR names). */
  public ByteBuf bytes(long unique, byte[] body, int length) {
    return begin(unique, length).writeBytes(body, 0, length);
  }

  public ByteBuf entry(long unique, EntryReply e) {
    return writeEntry(begin(unique, ENTRY_OUT), e);
  }

  public ByteBuf attr(long unique, AttrReply a) {
    ByteBuf buf = begin(unique, ATTR_OUT);
    writeTimeout(buf, a.timeout());
    buf.writeIntLE(0); // dummy
    return writeAttr(buf, a.attr());
  }

  public ByteBuf open(long unique, OpenReply o) {
    return writeOpen(begin(unique, OPEN_OUT), o);
  }

  public ByteBuf create(long unique, EntryReply e, OpenReply o) {
    return writeOpen(writeEntry(begin(unique, ENTRY_OUT + OPEN_OUT), e), o);
  }

  /** {@code fuse_write_out}: WRITE, and COPY_FILE_RANGE before the 64-bit variant. */
  public ByteBuf write(long unique, int size) {
    return begin(unique, 8).writeIntLE(size).writeIntLE(0);
  }

  /** A single u64 body: BMAP, LSEEK, COPY_FILE_RANGE_64. */
  public ByteBuf u64(long unique, long value) {
    return begin(unique, 8).writeLongLE(value);
  }

  /** {@code fuse_getxattr_out}: the size a GETXATTR/LISTXATTR probe asked for. */
  public ByteBuf xattrSize(long unique, int size) {
    return begin(unique, 8).writeIntLE(size).writeIntLE(0);
  }

  /** {@code fuse_poll_out}. */
  public ByteBuf poll(long unique, int revents) {
    return begin(unique, 8).writeIntLE(revents).writeIntLE(0);
  }

  public ByteBuf statfs(long unique, StatfsReply s) {
    ByteBuf buf = begin(unique, STATFS_OUT);
    buf.writeLongLE(s.blocks()).writeLongLE(s.bfree()).writeLongLE(s.bavail())
        .writeLongLE(s.files()).writeLongLE(s.ffree())
        .writeIntLE(s.bsize()).writeIntLE(s.namelen()).writeIntLE(s.frsize()).writeIntLE(0);
    return buf.writeZero(24); // spare[6]
  }

  /** {@code fuse_lk_out}. */
  public ByteBuf lock(long unique, FileLock l) {
    return begin(unique, 24).writeLongLE(l.start()).writeLongLE(l.end()).writeIntLE(l.type())
        .writeIntLE(l.pid());
  }

  /** {@code fuse_ioctl_out} followed by the output bytes (restricted ioctl: no retry). */
  public ByteBuf ioctl(long unique, IoctlReply r, int maxOut) {
    int n = Math.min(r.out().length, Math.max(maxOut, 0));
    ByteBuf buf = begin(unique, 16 + n);
    buf.writeIntLE(r.result()).writeIntLE(0).writeIntLE(0).writeIntLE(0);
    return buf.writeBytes(r.out(), 0, n);
  }

  /** {@code fuse_init_out} (64 bytes, whatever the minor: older kernels ignore the tail). */
  public ByteBuf init(long unique, FuseInit i) {
    ByteBuf buf = begin(unique, INIT_OUT);
    boolean ext = (i.flags() & FuseInit.INIT_EXT) != 0;
    buf.writeIntLE(7).writeIntLE(i.minor()).writeIntLE(i.maxReadahead())
        .writeIntLE((int) i.flags())
        .writeShortLE(i.maxBackground()).writeShortLE(i.congestionThreshold())
        .writeIntLE(i.maxWrite()).writeIntLE(i.timeGran())
        .writeShortLE(i.maxPages()).writeShortLE(0) // map_alignment
        .writeIntLE(ext ? (int) (i.flags() >>> 32) : 0)
        .writeIntLE(i.maxStackDepth())
        .writeShortLE(0); // request_timeout
    return buf.writeZero(22); // unused[11]
  }

  public ByteBuf statx(long unique, StatxReply s) {
    ByteBuf buf = begin(unique, STATX_OUT);
    writeTimeout(buf, s.timeout());
    buf.writeIntLE(0).writeZero(16); // flags, spare[2]
    buf.writeIntLE(s.mask()).writeIntLE(s.blksize()).writeLongLE(s.attributes())
        .writeIntLE(s.nlink()).writeIntLE(s.uid()).writeIntLE(s.gid())
        .writeShortLE(s.mode()).writeShortLE(0)
        .writeLongLE(s.ino()).writeLongLE(s.size()).writeLongLE(s.blocks())
        .writeLongLE(s.attributesMask());
    writeSxTime(buf, s.atimeSec(), s.atimeNsec());
    writeSxTime(buf, s.btimeSec(), s.btimeNsec());
    writeSxTime(buf, s.ctimeSec(), s.ctimeNsec());
    writeSxTime(buf, s.mtimeSec(), s.mtimeNsec());
    buf.writeIntLE(s.rdevMajor()).writeIntLE(s.rdevMinor())
        .writeIntLE(s.devMajor()).writeIntLE(s.devMinor());
    return buf.writeZero(14 * 8);
  }

  /** NUL-separated names, as LISTXATTR returns them. */
  public static byte[] xattrNames(List<String> names) {
    int len = 0;
    byte[][] encoded = new byte[names.size()][];
    for (int i = 0; i < encoded.length; i++) {
      encoded[i] = FuseNames.encode(names.get(i));
      len += encoded[i].length + 1;
    }
    byte[] out = new byte[len];
    int at = 0;
    for (byte[] name : encoded) {
      System.arraycopy(name, 0, out, at, name.length);
      at += name.length + 1;
    }
    return out;
  }

  /** Bytes a {@code fuse_dirent} for a name of this many bytes takes, padding included. */
  public static int direntSize(int nameBytes) {
    return align8(DIRENT_HEADER + nameBytes);
  }

  /** Bytes a {@code fuse_direntplus} takes, padding included. */
  public static int direntPlusSize(int nameBytes) {
    return align8(ENTRY_OUT + DIRENT_HEADER + nameBytes);
  }

  /** Appends a {@code fuse_dirent}, padded to 8 bytes with zeros. */
  public static void writeDirent(ByteBuf buf, DirEntry d, byte[] name) {
    buf.writeLongLE(d.ino()).writeLongLE(d.offset()).writeIntLE(name.length).writeIntLE(d.type());
    buf.writeBytes(name);
    buf.writeZero(align8(DIRENT_HEADER + name.length) - DIRENT_HEADER - name.length);
  }

  /** Appends a {@code fuse_direntplus}. */
  public static void writeDirentPlus(ByteBuf buf, EntryReply e, DirEntry d, byte[] name) {
    writeEntry(buf, e);
    writeDirent(buf, d, name);
  }

  static int align8(int n) {
    return (n + 7) & ~7;
  }

  private static ByteBuf writeEntry(ByteBuf buf, EntryReply e) {
    buf.writeLongLE(e.nodeId()).writeLongLE(e.generation());
    buf.writeLongLE(seconds(e.entryTimeout())).writeLongLE(seconds(e.attrTimeout()));
    buf.writeIntLE(nanos(e.entryTimeout())).writeIntLE(nanos(e.attrTimeout()));
    return writeAttr(buf, e.attr());
  }

  private static ByteBuf writeOpen(ByteBuf buf, OpenReply o) {
    return buf.writeLongLE(o.fh()).writeIntLE(o.openFlags()).writeIntLE(o.backingId());
  }

  private static ByteBuf writeAttr(ByteBuf buf, Attr a) {
    return buf.writeLongLE(a.ino()).writeLongLE(a.size()).writeLongLE(a.blocks())
        .writeLongLE(a.atimeSec()).writeLongLE(a.mtimeSec()).writeLongLE(a.ctimeSec())
        .writeIntLE(a.atimeNsec()).writeIntLE(a.mtimeNsec()).writeIntLE(a.ctimeNsec())
        .writeIntLE(a.mode()).writeIntLE(a.nlink()).writeIntLE(a.uid()).writeIntLE(a.gid())
        .writeIntLE(a.rdev()).writeIntLE(a.blksize()).writeIntLE(a.flags());
  }

  private static void writeTimeout(ByteBuf buf, Duration d) {
    buf.writeLongLE(seconds(d)).writeIntLE(nanos(d));
  }

  private static void writeSxTime(ByteBuf buf, long sec, int nsec) {
    buf.writeLongLE(sec).writeIntLE(nsec).writeIntLE(0);
  }

  private static long seconds(Duration d) {
    return d.isNegative() ? 0 : d.getSeconds();
  }

  private static int nanos(Duration d) {
    return d.isNegative() ? 0 : d.getNano();
  }
}
