package io.reactorfuse.internal.codec;

import static io.reactorfuse.internal.codec.Golden.bytes;
import static io.reactorfuse.internal.codec.Golden.concat;
import static io.reactorfuse.internal.codec.Golden.zeros;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Golden-byte tests of {@link InHeader} and {@link RequestDecoder}: each request is written out
 * as the kernel sends it (x86-64, little-endian), one field group per row.
 */
class RequestDecoderTest {

  /** FUSE 7.45 INIT as this project's kernel sends it: a 64-byte fuse_init_in with flags2. */
  private static final byte[] INIT_745 = concat(
      bytes(
          // fuse_in_header
          0x68, 0x00, 0x00, 0x00,                         // len = 104
          0x1a, 0x00, 0x00, 0x00,                         // opcode = 26 (INIT)
          0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 2
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0
          0x00, 0x00, 0x00, 0x00,                         // uid = 0
          0x00, 0x00, 0x00, 0x00,                         // gid = 0
          0x00, 0x00, 0x00, 0x00,                         // pid = 0
          0x00, 0x00, 0x00, 0x00,                         // total_extlen = 0, padding
          // fuse_init_in
          0x07, 0x00, 0x00, 0x00,                         // major = 7
          0x2d, 0x00, 0x00, 0x00,                         // minor = 45
          0x00, 0x00, 0x02, 0x00,                         // max_readahead = 131072
          0xfb, 0xff, 0xff, 0x73,                         // flags = 0x73fffffb (INIT_EXT set)
          0xfd, 0x05, 0x00, 0x00),                        // flags2 = 0x5fd
      zeros(44));                                         // unused[11]

  /** FUSE 7.31 INIT (Linux 5.4): a 16-byte fuse_init_in, no flags2. */
  private static final byte[] INIT_731 = bytes(
      // fuse_in_header
      0x38, 0x00, 0x00, 0x00,                         // len = 56
      0x1a, 0x00, 0x00, 0x00,                         // opcode = 26 (INIT)
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0
      0x00, 0x00, 0x00, 0x00,                         // uid
      0x00, 0x00, 0x00, 0x00,                         // gid
      0x00, 0x00, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_init_in (7.31)
      0x07, 0x00, 0x00, 0x00,                         // major = 7
      0x1f, 0x00, 0x00, 0x00,                         // minor = 31
      0x00, 0x00, 0x02, 0x00,                         // max_readahead = 131072
      0xfb, 0xff, 0xff, 0x01);                        // flags = 0x01fffffb (no INIT_EXT)

  private static final byte[] LOOKUP = bytes(
      // fuse_in_header
      0x2e, 0x00, 0x00, 0x00,                         // len = 46
      0x01, 0x00, 0x00, 0x00,                         // opcode = 1 (LOOKUP)
      0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 4
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 1 (the parent: root)
      0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
      0xe9, 0x03, 0x00, 0x00,                         // gid = 1001
      0x92, 0x10, 0x00, 0x00,                         // pid = 4242
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // name
      'h', 'e', 'l', 'l', 'o', 0x00);                 // "hello\0"

  private static final byte[] READ = bytes(
      // fuse_in_header
      0x50, 0x00, 0x00, 0x00,                         // len = 80
      0x0f, 0x00, 0x00, 0x00,                         // opcode = 15 (READ)
      0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 6
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0xe8, 0x03, 0x00, 0x00,                         // uid
      0xe9, 0x03, 0x00, 0x00,                         // gid
      0x92, 0x10, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_read_in
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 3
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 4 GiB
      0x00, 0x00, 0x02, 0x00,                         // size = 131072
      0x02, 0x00, 0x00, 0x00,                         // read_flags = FUSE_READ_LOCKOWNER
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // lock_owner = 0x0102030405060708
      0x00, 0x80, 0x00, 0x00,                         // flags = O_LARGEFILE
      0x00, 0x00, 0x00, 0x00);                        // padding

  private static final byte[] WRITE = bytes(
      // fuse_in_header
      0x55, 0x00, 0x00, 0x00,                         // len = 85
      0x10, 0x00, 0x00, 0x00,                         // opcode = 16 (WRITE)
      0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 8
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0xe8, 0x03, 0x00, 0x00,                         // uid
      0xe9, 0x03, 0x00, 0x00,                         // gid
      0x92, 0x10, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_write_in
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 3
      0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 10
      0x05, 0x00, 0x00, 0x00,                         // size = 5
      0x02, 0x00, 0x00, 0x00,                         // write_flags = FUSE_WRITE_LOCKOWNER
      0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 0x99
      0x01, 0x80, 0x00, 0x00,                         // flags = O_WRONLY | O_LARGEFILE
      0x00, 0x00, 0x00, 0x00,                         // padding
      // payload
      'h', 'e', 'l', 'l', 'o');

  private static final byte[] SETATTR = bytes(
      // fuse_in_header
      0x80, 0x00, 0x00, 0x00,                         // len = 128
      0x04, 0x00, 0x00, 0x00,                         // opcode = 4 (SETATTR)
      0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 10
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0xe8, 0x03, 0x00, 0x00,                         // uid
      0xe9, 0x03, 0x00, 0x00,                         // gid
      0x92, 0x10, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_setattr_in
      0x69, 0x00, 0x00, 0x00,                         // valid = MODE|SIZE|MTIME|FH
      0x00, 0x00, 0x00, 0x00,                         // padding
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fh = 3
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size = 4096
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // lock_owner = 7
      0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // atime = 1700000000
      0x01, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // mtime = 1700000001
      0x02, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // ctime = 1700000002
      0x01, 0x00, 0x00, 0x00,                         // atimensec = 1
      0x15, 0xcd, 0x5b, 0x07,                         // mtimensec = 123456789
      0x03, 0x00, 0x00, 0x00,                         // ctimensec = 3
      0x80, 0x81, 0x00, 0x00,                         // mode = 0100600
      0x00, 0x00, 0x00, 0x00,                         // unused4
      0xe8, 0x03, 0x00, 0x00,                         // uid = 1000
      0xe9, 0x03, 0x00, 0x00,                         // gid = 1001
      0x00, 0x00, 0x00, 0x00);                        // unused5

  private static final byte[] RENAME2 = bytes(
      // fuse_in_header
      0x40, 0x00, 0x00, 0x00,                         // len = 64
      0x2d, 0x00, 0x00, 0x00,                         // opcode = 45 (RENAME2)
      0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 12
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 1 (old parent)
      0xe8, 0x03, 0x00, 0x00,                         // uid
      0xe9, 0x03, 0x00, 0x00,                         // gid
      0x92, 0x10, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_rename2_in
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // newdir = 7
      0x02, 0x00, 0x00, 0x00,                         // flags = RENAME_EXCHANGE
      0x00, 0x00, 0x00, 0x00,                         // padding
      // names
      'o', 'l', 'd', 0x00,                            // "old\0"
      'n', 'e', 'w', 0x00);                           // "new\0"

  private static final byte[] BATCH_FORGET = bytes(
      // fuse_in_header
      0x50, 0x00, 0x00, 0x00,                         // len = 80
      0x2a, 0x00, 0x00, 0x00,                         // opcode = 42 (BATCH_FORGET)
      0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 14
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0
      0x00, 0x00, 0x00, 0x00,                         // uid
      0x00, 0x00, 0x00, 0x00,                         // gid
      0x00, 0x00, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_batch_forget_in
      0x02, 0x00, 0x00, 0x00,                         // count = 2
      0x00, 0x00, 0x00, 0x00,                         // dummy
      // fuse_forget_one[0]
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nlookup = 3
      // fuse_forget_one[1]
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // nodeid = 1 << 32
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00); // nlookup = 1

  /** The kernel's answer to a RETRIEVE with notify_unique (1 << 62) | 1: 3 cached bytes. */
  private static final byte[] NOTIFY_REPLY = bytes(
      // fuse_in_header
      0x53, 0x00, 0x00, 0x00,                         // len = 83
      0x29, 0x00, 0x00, 0x00,                         // opcode = 41 (NOTIFY_REPLY)
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, // unique = notify_unique
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 5
      0x00, 0x00, 0x00, 0x00,                         // uid
      0x00, 0x00, 0x00, 0x00,                         // gid
      0x00, 0x00, 0x00, 0x00,                         // pid
      0x00, 0x00, 0x00, 0x00,                         // total_extlen, padding
      // fuse_notify_retrieve_in
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dummy1
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 4096
      0x03, 0x00, 0x00, 0x00,                         // size = 3
      0x00, 0x00, 0x00, 0x00,                         // dummy2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dummy3
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dummy4
      // the cached bytes
      'a', 'b', 'c');

  @Test
  void inHeader_lookup_decodesEveryField() {
    ByteBuf buf = Unpooled.wrappedBuffer(LOOKUP);
    assertEquals(new InHeader(46, 1, 4, 1, 1000, 1001, 4242, 0), InHeader.decode(buf));
    assertEquals(6, InHeader.decode(buf).bodyLength());
    assertEquals(0, buf.readerIndex(), "decode must not move the reader index");
  }

  @Test
  void inHeader_withExtensions_bodyExcludesThem() {
    byte[] withExt = LOOKUP.clone();
    withExt[0] = 0x3e; // len = 62: the 6-byte body plus 16 bytes of extensions
    withExt[36] = 0x02; // total_extlen = 2 (units of 8 bytes)
    InHeader h = InHeader.decode(Unpooled.wrappedBuffer(withExt));
    assertEquals(2, h.totalExtlen());
    assertEquals(6, h.bodyLength());
  }

  @Test
  void decode_init745_readsFlags2IntoHighBits() {
    Request.Init init = (Request.Init) decode(INIT_745);
    assertEquals(new Request.Init(7, 45, 131072, 0x73fffffbL | 0x5fdL << 32), init);
    assertEquals(FuseInit.INIT_EXT, init.flags() & FuseInit.INIT_EXT);
  }

  @Test
  void decode_init731_16ByteBodyHasNoFlags2() {
    assertEquals(new Request.Init(7, 31, 131072, 0x01fffffbL), decode(INIT_731));
  }

  @Test
  void decode_init16ByteBodyClaimingInitExt_readsNothingBeyondTheBody() {
    byte[] odd = INIT_731.clone();
    odd[55] = 0x41; // flags = 0x41fffffb: INIT_EXT, but no room for flags2
    assertEquals(new Request.Init(7, 31, 131072, 0x41fffffbL), decode(odd));
  }

  @Test
  void decode_lookup_readsNulTerminatedName() {
    assertEquals(new Request.Lookup(1, "hello"), decode(LOOKUP));
  }

  @Test
  void decode_read_readsEveryField() {
    assertEquals(new Request.Read(5, 3, 1L << 32, 131072, 2, 0x0102030405060708L, 0x8000),
        decode(READ));
  }

  @Test
  void decode_write_slicesPayloadWithoutCopying() {
    ByteBuf buf = Unpooled.wrappedBuffer(WRITE.clone());
    Request.Write w = (Request.Write) decode(buf);
    assertEquals(5, w.nodeId());
    assertEquals(3, w.fh());
    assertEquals(10, w.offset());
    assertEquals(Request.Write.FUSE_WRITE_LOCKOWNER, w.writeFlags());
    assertEquals(0x99, w.lockOwner());
    assertEquals(0x8001, w.flags());
    assertEquals("hello", w.data().toString(StandardCharsets.US_ASCII));

    buf.setByte(80, 'J'); // the payload's first byte in the read buffer
    assertEquals("Jello", w.data().toString(StandardCharsets.US_ASCII), "a copy, not a slice");
    buf.release();
    assertEquals(0, w.data().refCnt(), "the slice shares the read buffer's reference count");
  }

  @Test
  void decode_writeSizeBeyondBody_isMalformed() {
    byte[] bad = WRITE.clone();
    bad[56] = 0x06; // size = 6, one more than the payload
    assertThrows(MalformedRequestException.class, () -> decode(bad));
  }

  @Test
  void decode_setattr_readsEveryFieldAtItsOffset() {
    assertEquals(
        new Request.Setattr(5, 0x69, 3, 4096, 7, 1700000000L, 1, 1700000001L, 123456789,
            1700000002L, 3, 0100600, 1000, 1001),
        decode(SETATTR));
  }

  @Test
  void decode_rename2_readsFlagsAndBothNames() {
    assertEquals(new Request.Rename(1, "old", 7, "new", Request.Rename.RENAME_EXCHANGE),
        decode(RENAME2));
  }

  @Test
  void decode_batchForget_readsEachForgetOne() {
    assertEquals(
        new Request.BatchForget(List.of(new Request.Forget(5, 3), new Request.Forget(1L << 32, 1))),
        decode(BATCH_FORGET));
  }

  @Test
  void decode_batchForgetCountBeyondBody_isMalformed() {
    byte[] bad = BATCH_FORGET.clone();
    bad[40] = 0x03; // count = 3, room for 2
    assertThrows(MalformedRequestException.class, () -> decode(bad));
  }

  @Test
  void decode_notifyReply_keepsTheHeadersUniqueAndSlicesTheData() {
    ByteBuf buf = Unpooled.wrappedBuffer(NOTIFY_REPLY.clone());
    Request.NotifyReply r = (Request.NotifyReply) decode(buf);
    assertEquals(1L << 62 | 1, r.unique(), "the notify_unique of the retrieve it answers");
    assertEquals(5, r.nodeId());
    assertEquals(4096, r.offset());
    assertEquals("abc", r.data().toString(StandardCharsets.US_ASCII));
    buf.setByte(80, 'x');
    assertEquals("xbc", r.data().toString(StandardCharsets.US_ASCII), "a slice, not a copy");
    buf.release();
  }

  @Test
  void decode_notifyReplySizeBeyondBody_isMalformed() {
    byte[] bad = NOTIFY_REPLY.clone();
    bad[56] = 0x04; // size = 4, one more than the data
    assertThrows(MalformedRequestException.class, () -> decode(bad));
  }

  @Test
  void decode_bodyShorterThanFixedPart_isMalformed() {
    // a READ whose fuse_read_in is cut to 8 bytes
    ByteBuf body = Unpooled.wrappedBuffer(READ, InHeader.SIZE, 8);
    MalformedRequestException e = assertThrows(MalformedRequestException.class,
        () -> RequestDecoder.decode(Opcode.READ, 2, 5, body, false));
    assertTrue(e.getMessage().contains("needs 40"), e.getMessage());
  }

  @Test
  void keepsBody_onlyForSlicedPayloads() {
    for (Opcode op : Opcode.values()) {
      assertEquals(op == Opcode.WRITE || op == Opcode.NOTIFY_REPLY, RequestDecoder.keepsBody(op),
          op.name());
    }
  }

  private static Request decode(byte[] request) {
    ByteBuf buf = Unpooled.wrappedBuffer(request);
    try {
      return decode(buf);
    } finally {
      buf.release();
    }
  }

  /** Decodes as the dispatcher does: header, then exactly the body. */
  private static Request decode(ByteBuf buf) {
    InHeader h = InHeader.decode(buf);
    assertEquals(buf.readableBytes(), h.len(), "len must match the bytes read");
    Opcode op = Opcode.of(h.opcodeCode());
    return RequestDecoder.decode(op, h.unique(), h.nodeId(),
        buf.slice(InHeader.SIZE, h.bodyLength()), false);
  }
}
