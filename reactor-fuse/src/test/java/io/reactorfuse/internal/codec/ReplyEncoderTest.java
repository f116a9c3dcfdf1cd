package io.reactorfuse.internal.codec;

import static io.reactorfuse.internal.codec.Golden.assertBytes;
import static io.reactorfuse.internal.codec.Golden.bytes;
import static io.reactorfuse.internal.codec.Golden.concat;
import static io.reactorfuse.internal.codec.Golden.drain;
import static io.reactorfuse.internal.codec.Golden.zeros;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FileLock;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.StatfsReply;
import io.reactorfuse.ops.StatxReply;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Golden-byte tests of {@link ReplyEncoder}: each reply written out as the kernel expects it
 * (x86-64, little-endian), one field group per row. Field values are distinct so that two
 * swapped fields cannot pass.
 */
class ReplyEncoderTest {
  private static final long UNIQUE = 0x1234;
  private static final ReplyEncoder ENCODER = new ReplyEncoder(PooledByteBufAllocator.DEFAULT);

  private static final Attr ATTR = Attr.builder()
      .ino(0x1122334455667788L)
      .size(4097)
      .blocks(9)
      .atime(Instant.ofEpochSecond(1700000000L, 123456789))
      .mtime(Instant.ofEpochSecond(1700000001L, 2))
      .ctime(Instant.ofEpochSecond(1700000002L, 3))
      .mode(0100644)
      .nlink(2)
      .uid(1000)
      .gid(1001)
      .rdev(0x12)
      .blksize(4096)
      .flags(1)
      .build();

  /** {@link #ATTR} as {@code struct fuse_attr} (88 bytes). */
  private static final byte[] ATTR_BYTES = bytes(
      0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // ino = 0x1122334455667788
      0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size = 4097
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // blocks = 9
      0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // atime = 1700000000
      0x01, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // mtime = 1700000001
      0x02, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // ctime = 1700000002
      0x15, 0xcd, 0x5b, 0x07,                         // atimensec = 123456789
      0x02, 0x00, 0x00, 0x00,                         // mtimensec = 2
      0x03, 0x00, 0x00, 0x00,                         // ctimensec = 3
      0xa4, 0x81, 0x00, 0x00,                         // mode = 0100644
      0x02, 0x00, 0x00, 0x00,                         // nlink = 2
      0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
      0xe9, 0x03, 0x00, 0x00,                         // gid = 1001
      0x12, 0x00, 0x00, 0x00,                         // rdev = 0x12
      0x00, 0x10, 0x00, 0x00,                         // blksize = 4096
      0x01, 0x00, 0x00, 0x00);                        // flags = FUSE_ATTR_SUBMOUNT

  /** Node 5, generation 7, entry valid 1.5 s, attributes valid 2 s. */
  private static final EntryReply ENTRY =
      new EntryReply(5, 7, ATTR, Duration.ofMillis(1500), Duration.ofSeconds(2));

  /** {@link #ENTRY} as {@code struct fuse_entry_out} up to its attr. */
  private static final byte[] ENTRY_HEAD = bytes(
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // generation = 7
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // entry_valid = 1 s
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attr_valid = 2 s
      0x00, 0x65, 0xcd, 0x1d,                         // entry_valid_nsec = 500000000
      0x00, 0x00, 0x00, 0x00);                        // attr_valid_nsec = 0

  @Test
  void sizes_matchTheKernelAbi() {
    assertEquals(88, ATTR_BYTES.length);
    assertEquals(ReplyEncoder.ENTRY_OUT, ENTRY_HEAD.length + ATTR_BYTES.length);
    assertEquals(16, ReplyEncoder.OUT_HEADER);
    assertEquals(128, ReplyEncoder.ENTRY_OUT);
    assertEquals(104, ReplyEncoder.ATTR_OUT);
    assertEquals(16, ReplyEncoder.OPEN_OUT);
    assertEquals(64, ReplyEncoder.INIT_OUT);
    assertEquals(80, ReplyEncoder.STATFS_OUT);
    assertEquals(288, ReplyEncoder.STATX_OUT);
  }

  @Test
  void error_negatesErrnoAndEchoesUniqueExactly() {
    assertBytes(bytes(
            0x10, 0x00, 0x00, 0x00,                          // len = 16
            0xfe, 0xff, 0xff, 0xff,                          // error = -2 (-ENOENT)
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80), // unique, FUSE_UNIQUE_RESEND bit kept
        drain(ENCODER.error(0x8000000000001234L, 2)));
  }

  @Test
  void empty_isHeaderOnly() {
    assertBytes(bytes(
            0x10, 0x00, 0x00, 0x00,                          // len = 16
            0x00, 0x00, 0x00, 0x00,                          // error = 0
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique
        drain(ENCODER.empty(UNIQUE)));
  }

  @Test
  void init_withInitExt_writes64BytesAndFlags2() {
    FuseInit init = new FuseInit(7, 45, 45, 0x73fffffbL | 0x5fdL << 32,
        FuseInit.ASYNC_READ | FuseInit.BIG_WRITES | FuseInit.MAX_PAGES | FuseInit.INIT_EXT
            | FuseInit.PASSTHROUGH,
        131072, 1 << 20, 256, 64, 48, 1, 1);
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0x50, 0x00, 0x00, 0x00,                         // len = 80
                0x00, 0x00, 0x00, 0x00,                         // error = 0
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
                // fuse_init_out
                0x07, 0x00, 0x00, 0x00,                         // major = 7
                0x2d, 0x00, 0x00, 0x00,                         // minor = 45
                0x00, 0x00, 0x02, 0x00,                         // max_readahead = 131072
                0x21, 0x00, 0x40, 0x40,                         // flags = ASYNC_READ|BIG_WRITES|MAX_PAGES|INIT_EXT
                0x40, 0x00,                                     // max_background = 64
                0x30, 0x00,                                     // congestion_threshold = 48
                0x00, 0x00, 0x10, 0x00,                         // max_write = 1 MiB
                0x01, 0x00, 0x00, 0x00,                         // time_gran = 1
                0x00, 0x01,                                     // max_pages = 256
                0x00, 0x00,                                     // map_alignment
                0x20, 0x00, 0x00, 0x00,                         // flags2 = PASSTHROUGH (bit 37)
                0x01, 0x00, 0x00, 0x00,                         // max_stack_depth = 1
                0x00, 0x00),                                    // request_timeout
            zeros(22)),                                         // unused[11]
        drain(ENCODER.init(UNIQUE, init)));
  }

  @Test
  void init_withoutInitExt_writesNoFlags2() {
    // Not something negotiation produces, but the encoder must not leak high bits regardless.
    FuseInit init = new FuseInit(7, 45, 45, 0, FuseInit.ASYNC_READ | FuseInit.PASSTHROUGH,
        131072, 1 << 17, 32, 64, 48, 1, 0);
    byte[] out = drain(ENCODER.init(UNIQUE, init));
    assertEquals(80, out.length);
    assertBytes(bytes(0x01, 0x00, 0x00, 0x00), slice(out, 16 + 12, 4)); // flags
    assertBytes(bytes(0x00, 0x00, 0x00, 0x00), slice(out, 16 + 32, 4)); // flags2
  }

  @Test
  void entry_writes128ByteEntryOut() {
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0x90, 0x00, 0x00, 0x00,                         // len = 144
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique
            ENTRY_HEAD,                                         // fuse_entry_out
            ATTR_BYTES),                                        //   .attr
        drain(ENCODER.entry(UNIQUE, ENTRY)));
  }

  @Test
  void entry_negative_hasNodeIdZero() {
    byte[] out = drain(ENCODER.entry(UNIQUE, EntryReply.negative(Duration.ofSeconds(3))));
    assertEquals(16 + 128, out.length);
    assertBytes(bytes(
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0: a negative entry
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // generation
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // entry_valid = 3 s
        slice(out, 16, 24));
  }

  @Test
  void attr_writes104ByteAttrOut() {
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0x78, 0x00, 0x00, 0x00,                         // len = 120
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
                // fuse_attr_out
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attr_valid = 1 s
                0x00, 0x65, 0xcd, 0x1d,                         // attr_valid_nsec = 500000000
                0x00, 0x00, 0x00, 0x00),                        // dummy
            ATTR_BYTES),                                        // attr
        drain(ENCODER.attr(UNIQUE, new AttrReply(ATTR, Duration.ofMillis(1500)))));
  }

  @Test
  void open_writesOpenOutWithBackingId() {
    assertBytes(bytes(
            // fuse_out_header
            0x20, 0x00, 0x00, 0x00,                         // len = 32
            0x00, 0x00, 0x00, 0x00,                         // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            // fuse_open_out
            0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 42
            0x81, 0x00, 0x00, 0x00,                         // open_flags = PASSTHROUGH|DIRECT_IO
            0x07, 0x00, 0x00, 0x00),                        // backing_id = 7
        drain(ENCODER.open(UNIQUE, new OpenReply(42,
            OpenReply.FOPEN_PASSTHROUGH | OpenReply.FOPEN_DIRECT_IO, 7))));
  }

  @Test
  void create_writesEntryOutThenOpenOut() {
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0xa0, 0x00, 0x00, 0x00,                         // len = 160
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique
            ENTRY_HEAD,                                         // fuse_entry_out
            ATTR_BYTES,                                         //   .attr
            bytes(
                // fuse_open_out
                0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 42
                0x02, 0x00, 0x00, 0x00,                         // open_flags = KEEP_CACHE
                0x00, 0x00, 0x00, 0x00)),                       // backing_id = 0
        drain(ENCODER.create(UNIQUE, ENTRY, OpenReply.of(42, OpenReply.FOPEN_KEEP_CACHE))));
  }

  @Test
  void write_writesWriteOut() {
    assertBytes(bytes(
            0x18, 0x00, 0x00, 0x00,                         // len = 24
            0x00, 0x00, 0x00, 0x00,                         // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            // fuse_write_out
            0x00, 0x10, 0x00, 0x00,                         // size = 4096
            0x00, 0x00, 0x00, 0x00),                        // padding
        drain(ENCODER.write(UNIQUE, 4096)));
  }

  @Test
  void statfs_writes80ByteStatfsOut() {
    assertBytes(concat(
            bytes(
                0x60, 0x00, 0x00, 0x00,                         // len = 96
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
                // fuse_kstatfs
                0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // blocks = 1000
                0xf4, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // bfree = 500
                0x90, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // bavail = 400
                0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // files = 100
                0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ffree = 50
                0x00, 0x10, 0x00, 0x00,                         // bsize = 4096
                0xff, 0x00, 0x00, 0x00,                         // namelen = 255
                0x00, 0x02, 0x00, 0x00,                         // frsize = 512
                0x00, 0x00, 0x00, 0x00),                        // padding
            zeros(24)),                                         // spare[6]
        drain(ENCODER.statfs(UNIQUE, new StatfsReply(1000, 500, 400, 100, 50, 4096, 255, 512))));
  }

  @Test
  void readdir_packsDirentsAlignedTo8Bytes() {
    ByteBuf buf = ENCODER.begin(UNIQUE, 0);
    writeDirent(buf, new DirEntry(10, 1, 8, "a"));
    writeDirent(buf, new DirEntry(11, 2, 4, "abcdefg"));
    writeDirent(buf, new DirEntry(12, 3, 10, "abcdefgh"));
    assertBytes(bytes(
            // fuse_out_header
            0x70, 0x00, 0x00, 0x00,                         // len = 112
            0x00, 0x00, 0x00, 0x00,                         // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            // fuse_dirent "a": 24 + 1 bytes, 7 of padding
            0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 10
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 1
            0x01, 0x00, 0x00, 0x00,                         // namelen = 1
            0x08, 0x00, 0x00, 0x00,                         // type = DT_REG
            'a', 0, 0, 0, 0, 0, 0, 0,                       // name, padding
            // fuse_dirent "abcdefg": 24 + 7 bytes, 1 of padding
            0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 11
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 2
            0x07, 0x00, 0x00, 0x00,                         // namelen = 7
            0x04, 0x00, 0x00, 0x00,                         // type = DT_DIR
            'a', 'b', 'c', 'd', 'e', 'f', 'g', 0,           // name, padding
            // fuse_dirent "abcdefgh": 24 + 8 bytes, no padding
            0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 12
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 3
            0x08, 0x00, 0x00, 0x00,                         // namelen = 8
            0x0a, 0x00, 0x00, 0x00,                         // type = DT_LNK
            'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),        // name
        drain(ReplyEncoder.finish(buf)));
  }

  @Test
  void direntSize_roundsUpTo8Bytes() {
    assertEquals(32, ReplyEncoder.direntSize(1));
    assertEquals(32, ReplyEncoder.direntSize(7));
    assertEquals(32, ReplyEncoder.direntSize(8));
    assertEquals(40, ReplyEncoder.direntSize(9));
    assertEquals(160, ReplyEncoder.direntPlusSize(3));
    assertEquals(160, ReplyEncoder.direntPlusSize(8));
    assertEquals(168, ReplyEncoder.direntPlusSize(9));
  }

  @Test
  void readdirplus_packsEntryOutThenDirent() {
    ByteBuf buf = ENCODER.begin(UNIQUE, 0);
    writeDirentPlus(buf, ENTRY, new DirEntry(0x1122334455667788L, 1, 8, "abc"));
    writeDirentPlus(buf, ENTRY, new DirEntry(0x1122334455667788L, 2, 8, "abcdefgh"));
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0x50, 0x01, 0x00, 0x00,                         // len = 336
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique
            // fuse_direntplus "abc": 128 + 24 + 3 bytes, 5 of padding
            ENTRY_HEAD,                                         // entry_out
            ATTR_BYTES,                                         //   .attr
            bytes(
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // dirent.ino
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dirent.off = 1
                0x03, 0x00, 0x00, 0x00,                         // dirent.namelen = 3
                0x08, 0x00, 0x00, 0x00,                         // dirent.type = DT_REG
                'a', 'b', 'c', 0, 0, 0, 0, 0),                  // name, padding
            // fuse_direntplus "abcdefgh": 128 + 24 + 8 bytes, no padding
            ENTRY_HEAD,
            ATTR_BYTES,
            bytes(
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // dirent.ino
                0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dirent.off = 2
                0x08, 0x00, 0x00, 0x00,                         // dirent.namelen = 8
                0x08, 0x00, 0x00, 0x00,                         // dirent.type = DT_REG
                'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')),       // name
        drain(ReplyEncoder.finish(buf)));
  }

  @Test
  void xattrSize_writesGetxattrOut() {
    assertBytes(bytes(
            0x18, 0x00, 0x00, 0x00,                         // len = 24
            0x00, 0x00, 0x00, 0x00,                         // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            // fuse_getxattr_out
            0x0b, 0x00, 0x00, 0x00,                         // size = 11
            0x00, 0x00, 0x00, 0x00),                        // padding
        drain(ENCODER.xattrSize(UNIQUE, 11)));
  }

  @Test
  void xattrNames_areNulSeparated() {
    assertBytes(bytes('u', '.', 'a', 0, 'u', '.', 'b', 'c', 0),
        ReplyEncoder.xattrNames(java.util.List.of("u.a", "u.bc")));
  }

  @Test
  void lock_writesLkOut() {
    assertBytes(bytes(
            0x28, 0x00, 0x00, 0x00,                         // len = 40
            0x00, 0x00, 0x00, 0x00,                         // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
            // fuse_lk_out.lk (fuse_file_lock)
            0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // start = 100
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, // end = OFFSET_MAX
            0x01, 0x00, 0x00, 0x00,                         // type = F_WRLCK
            0x92, 0x10, 0x00, 0x00),                        // pid = 4242
        drain(ENCODER.lock(UNIQUE, new FileLock(100, Long.MAX_VALUE, FileLock.F_WRLCK, 4242))));
  }

  @Test
  void statx_writes288ByteStatxOut() {
    StatxReply s = new StatxReply(Duration.ofMillis(1500), 0x7ff, 4096, 0x20, 2, 1000, 1001,
        040755, 0x1122334455667788L, 4096, 8, 0x1020, 1700000000L, 123456789, 1600000000L, 0,
        1700000002L, 3, 1700000001L, 2, 0, 0, 8, 1);
    assertBytes(concat(
            bytes(
                // fuse_out_header
                0x30, 0x01, 0x00, 0x00,                         // len = 304
                0x00, 0x00, 0x00, 0x00,                         // error
                0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique
                // fuse_statx_out
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attr_valid = 1 s
                0x00, 0x65, 0xcd, 0x1d,                         // attr_valid_nsec = 500000000
                0x00, 0x00, 0x00, 0x00),                        // flags
            zeros(16),                                          // spare[2]
            bytes(
                // fuse_statx
                0xff, 0x07, 0x00, 0x00,                         // mask = STATX_BASIC_STATS
                0x00, 0x10, 0x00, 0x00,                         // blksize = 4096
                0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attributes = 0x20
                0x02, 0x00, 0x00, 0x00,                         // nlink = 2
                0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
                0xe9, 0x03, 0x00, 0x00,                         // gid = 1001
                0xed, 0x41,                                     // mode = 040755
                0x00, 0x00,                                     // __spare0
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // ino
                0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size = 4096
                0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // blocks = 8
                0x20, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // attributes_mask = 0x1020
                0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // atime.tv_sec = 1700000000
                0x15, 0xcd, 0x5b, 0x07, 0x00, 0x00, 0x00, 0x00, // atime.tv_nsec, __reserved
                0x00, 0x10, 0x5e, 0x5f, 0x00, 0x00, 0x00, 0x00, // btime.tv_sec = 1600000000
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // btime.tv_nsec, __reserved
                0x02, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // ctime.tv_sec = 1700000002
                0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ctime.tv_nsec, __reserved
                0x01, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // mtime.tv_sec = 1700000001
                0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mtime.tv_nsec, __reserved
                0x00, 0x00, 0x00, 0x00,                         // rdev_major
                0x00, 0x00, 0x00, 0x00,                         // rdev_minor
                0x08, 0x00, 0x00, 0x00,                         // dev_major = 8
                0x01, 0x00, 0x00, 0x00),                        // dev_minor = 1
            zeros(112)),                                        // __spare2[14]
        drain(ENCODER.statx(UNIQUE, s)));
  }

  @Test
  void dataHeader_countsThePayloadInLen() {
    assertBytes(bytes(
            0x10, 0x10, 0x00, 0x00,                          // len = 16 + 4096
            0x00, 0x00, 0x00, 0x00,                          // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique
        drain(ENCODER.dataHeader(UNIQUE, 4096)));
  }

  @Test
  void u64_writesLseekOut() {
    assertBytes(bytes(
            0x18, 0x00, 0x00, 0x00,                          // len = 24
            0x00, 0x00, 0x00, 0x00,                          // error
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00), // offset = 4 GiB
        drain(ENCODER.u64(UNIQUE, 1L << 32)));
  }

  private static void writeDirent(ByteBuf buf, DirEntry d) {
    ReplyEncoder.writeDirent(buf, d, d.name().getBytes(StandardCharsets.UTF_8));
  }

  private static void writeDirentPlus(ByteBuf buf, EntryReply e, DirEntry d) {
    ReplyEncoder.writeDirentPlus(buf, e, d, d.name().getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] slice(byte[] b, int from, int length) {
    return java.util.Arrays.copyOfRange(b, from, from + length);
  }
}
