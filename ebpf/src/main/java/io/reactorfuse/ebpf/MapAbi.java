package io.reactorfuse.ebpf;

import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * The bytes of entry_map and attr_map, as {@code lookup.bpf.c} declares them (keep both in
 * step; the C file asserts every size). All little-endian, C alignment:
 *
 * <pre>
 * entry_map key   (264)  u64 parent | char name[255], zero-filled | 1 pad byte, 0
 * entry_map value (56)   u32 stale | pad 4 | u64 nlookup | u64 nodeid | u64 generation
 *                        | u64 entry_valid | u32 entry_valid_nsec | pad 4   (ExtFUSE, 0..48)
 *                        | u64 expires_ns                                  (extension, 48..56)
 * attr_map key    (8)    u64 nodeid
 * attr_map value  (120)  u32 stale | pad 4 | fuse_attr_out (u64 attr_valid, u32 attr_valid_nsec,
 *                        u32 dummy, fuse_attr)                             (ExtFUSE, 0..112)
 *                        | u64 expires_ns                                  (extension, 112..120)
 * fuse_attr       (88)   u64 ino, size, blocks, atime, mtime, ctime | u32 atimensec, mtimensec,
 *                        ctimensec, mode, nlink, uid, gid, rdev, blksize, flags
 * </pre>
 *
 * {@code entry_valid}/{@code attr_valid} hold the original timeout (as ExtFUSE); the handler
 * answers with the time left until {@code expires_ns} (CLOCK_MONOTONIC), as the user-space cache
 * does.
 */
final class MapAbi {
  static final int NAME_MAX = 255;
  static final int ENTRY_KEY = 264;
  static final int ENTRY_VALUE = 56;
  static final int ATTR_KEY = 8;
  static final int ATTR_VALUE = 120;

  private static final int ENTRY_NLOOKUP = 8;
  private static final int ENTRY_NODEID = 16;
  private static final int ENTRY_EXPIRES = 48;
  private static final int ATTR_EXPIRES = 112;

  private MapAbi() {}

  static ByteBuffer le(byte[] bytes) {
    return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  static byte[] entryKey(long parent, byte[] name) {
    byte[] key = new byte[ENTRY_KEY];
    le(key).putLong(0, parent);
    System.arraycopy(name, 0, key, 8, name.length);
    return key;
  }

  static CacheMaps.EntryKey decodeEntryKey(byte[] key) {
    int len = 0;
    while (len < NAME_MAX && key[8 + len] != 0) {
      len++;
    }
    byte[] name = new byte[len];
    System.arraycopy(key, 8, name, 0, len);
    return new CacheMaps.EntryKey(le(key).getLong(0), name);
  }

  static byte[] entryValue(EntryReply e, long nlookup, long expiresAt) {
    byte[] v = new byte[ENTRY_VALUE];
    ByteBuffer b = le(v);
    b.putInt(0, 0); // stale: never set, removals delete
    b.putLong(ENTRY_NLOOKUP, nlookup);
    b.putLong(ENTRY_NODEID, e.nodeId());
    b.putLong(24, e.generation());
    b.putLong(32, seconds(e.entryTimeout()));
    b.putInt(40, nanos(e.entryTimeout()));
    b.putLong(ENTRY_EXPIRES, expiresAt);
    return v;
  }

  static CacheMaps.EntryValue decodeEntryValue(byte[] v) {
    ByteBuffer b = le(v);
    Duration timeout = Duration.ofSeconds(b.getLong(32), Integer.toUnsignedLong(b.getInt(40)));
    return new CacheMaps.EntryValue(b.getInt(0), b.getLong(ENTRY_NLOOKUP),
        b.getLong(ENTRY_NODEID), b.getLong(24), timeout, b.getLong(ENTRY_EXPIRES));
  }

  static long nlookup(byte[] entryValue) {
    return le(entryValue).getLong(ENTRY_NLOOKUP);
  }

  static long nodeId(byte[] entryValue) {
    return le(entryValue).getLong(ENTRY_NODEID);
  }

  static void setNlookup(byte[] entryValue, long nlookup) {
    le(entryValue).putLong(ENTRY_NLOOKUP, nlookup);
  }

  static byte[] attrKey(long nodeId) {
    byte[] key = new byte[ATTR_KEY];
    le(key).putLong(0, nodeId);
    return key;
  }

  static byte[] attrValue(AttrReply a, long expiresAt) {
    byte[] v = new byte[ATTR_VALUE];
    ByteBuffer b = le(v);
    b.putLong(8, seconds(a.timeout()));
    b.putInt(16, nanos(a.timeout()));
    b.position(24);
    putAttr(b, a.attr());
    b.putLong(ATTR_EXPIRES, expiresAt);
    return v;
  }

  static CacheMaps.AttrValue decodeAttrValue(byte[] v) {
    ByteBuffer b = le(v);
    Duration timeout = Duration.ofSeconds(b.getLong(8), Integer.toUnsignedLong(b.getInt(16)));
    b.position(24);
    return new CacheMaps.AttrValue(b.getInt(0), new AttrReply(getAttr(b), timeout),
        b.getLong(ATTR_EXPIRES));
  }

  /** {@code struct fuse_attr}, field for field as core's ReplyEncoder writes it. */
  private static void putAttr(ByteBuffer b, Attr a) {
    b.putLong(a.ino()).putLong(a.size()).putLong(a.blocks())
        .putLong(a.atimeSec()).putLong(a.mtimeSec()).putLong(a.ctimeSec())
        .putInt(a.atimeNsec()).putInt(a.mtimeNsec()).putInt(a.ctimeNsec())
        .putInt(a.mode()).putInt(a.nlink()).putInt(a.uid()).putInt(a.gid())
        .putInt(a.rdev()).putInt(a.blksize()).putInt(a.flags());
  }

  private static Attr getAttr(ByteBuffer b) {
    long ino = b.getLong();
    long size = b.getLong();
    long blocks = b.getLong();
    long atime = b.getLong();
    long mtime = b.getLong();
    long ctime = b.getLong();
    int atimeNsec = b.getInt();
    int mtimeNsec = b.getInt();
    int ctimeNsec = b.getInt();
    return new Attr(ino, size, blocks, atime, atimeNsec, mtime, mtimeNsec, ctime, ctimeNsec,
        b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt());
  }

  /** As ReplyEncoder: a negative timeout is sent as 0. */
  private static long seconds(Duration d) {
    return d.isNegative() ? 0 : d.getSeconds();
  }

  private static int nanos(Duration d) {
    return d.isNegative() ? 0 : d.getNano();
  }
}
