package io.reactorfuse.internal.codec;

import static io.reactorfuse.internal.codec.Golden.assertBytes;
import static io.reactorfuse.internal.codec.Golden.bytes;
import static io.reactorfuse.internal.codec.Golden.drain;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Golden-byte tests of {@link NotificationEncoder}: each notification as the kernel reads it
 * ({@code fuse_out_header} with unique 0 and the notify code in {@code error}, then the
 * {@code fuse_notify_*_out} struct; layouts from the 6.18 kernel's BTF), one field group per row.
 */
class NotificationEncoderTest {
  private static final NotificationEncoder ENCODER =
      new NotificationEncoder(PooledByteBufAllocator.DEFAULT);

  @Test
  void pollWakeup() {
    assertBytes(bytes(
        0x18, 0x00, 0x00, 0x00,                         // len = 24
        0x01, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_POLL
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11), // kh
        drain(ENCODER.pollWakeup(0x1122334455667788L)));
  }

  @Test
  void invalInode() {
    assertBytes(bytes(
        0x28, 0x00, 0x00, 0x00,                         // len = 40
        0x02, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_INVAL_INODE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 5
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // off = 4096
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // len = -1
        drain(ENCODER.invalInode(5, 4096, -1)));
  }

  @Test
  void invalEntry_nameAndNulFollowTheStruct() {
    assertBytes(bytes(
        0x23, 0x00, 0x00, 0x00,                         // len = 35
        0x03, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_INVAL_ENTRY
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // parent = 1
        0x02, 0x00, 0x00, 0x00,                         // namelen = 2
        0x01, 0x00, 0x00, 0x00,                         // flags = FUSE_EXPIRE_ONLY
        'a', 'b', 0x00),                                // "ab\0"
        drain(ENCODER.invalEntry(1, "ab".getBytes(StandardCharsets.UTF_8),
            NotificationEncoder.FUSE_EXPIRE_ONLY)));
  }

  @Test
  void delete_nameAndNulFollowTheStruct() {
    assertBytes(bytes(
        0x2b, 0x00, 0x00, 0x00,                         // len = 43
        0x06, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_DELETE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // parent = 1
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // child = 7
        0x02, 0x00, 0x00, 0x00,                         // namelen = 2
        0x00, 0x00, 0x00, 0x00,                         // padding
        'x', 'y', 0x00),                                // "xy\0"
        drain(ENCODER.delete(1, 7, "xy".getBytes(StandardCharsets.UTF_8))));
  }

  @Test
  void store_copiesTheReadableBytesAndLeavesTheDataAlone() {
    ByteBuf data = Unpooled.copiedBuffer("_abc", StandardCharsets.US_ASCII);
    data.readByte(); // only the readable bytes count
    assertBytes(bytes(
        0x2b, 0x00, 0x00, 0x00,                         // len = 43
        0x04, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_STORE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 9
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // offset = 1 << 32
        0x03, 0x00, 0x00, 0x00,                         // size = 3
        0x00, 0x00, 0x00, 0x00,                         // padding
        'a', 'b', 'c'),                                 // the data
        drain(ENCODER.store(9, 1L << 32, data)));
    assertEquals(1, data.refCnt(), "the caller releases the data");
    assertEquals(3, data.readableBytes(), "reader index untouched");
    data.release();
  }

  @Test
  void retrieve() {
    assertBytes(bytes(
        0x30, 0x00, 0x00, 0x00,                         // len = 48
        0x05, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_RETRIEVE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, // notify_unique = 1 << 62 | 3
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 9
        0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 8192
        0x00, 0x00, 0x01, 0x00,                         // size = 65536
        0x00, 0x00, 0x00, 0x00),                        // padding
        drain(ENCODER.retrieve(1L << 62 | 3, 9, 8192, 65536)));
  }

  @Test
  void resend_isTheHeaderAlone() {
    assertBytes(bytes(
        0x10, 0x00, 0x00, 0x00,                         // len = 16
        0x07, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_RESEND
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique = 0
        drain(ENCODER.resend()));
  }

  @Test
  void incEpoch_isTheHeaderAlone() {
    assertBytes(bytes(
        0x10, 0x00, 0x00, 0x00,                         // len = 16
        0x08, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_INC_EPOCH
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // unique = 0
        drain(ENCODER.incEpoch()));
  }

  @Test
  void prune_countThenNodeIds() {
    assertBytes(bytes(
        0x30, 0x00, 0x00, 0x00,                         // len = 48
        0x09, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_PRUNE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x02, 0x00, 0x00, 0x00,                         // count = 2
        0x00, 0x00, 0x00, 0x00,                         // padding
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // spare
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeids[0] = 5
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00), // nodeids[1] = 1 << 32
        drain(ENCODER.prune(new long[] {5, 1L << 32})));
  }

  @Test
  void prune_nothing_isTheStructAlone() {
    assertBytes(bytes(
        0x20, 0x00, 0x00, 0x00,                         // len = 32
        0x09, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_PRUNE
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
        0x00, 0x00, 0x00, 0x00,                         // count = 0
        0x00, 0x00, 0x00, 0x00,                         // padding
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // spare
        drain(ENCODER.prune(new long[0])));
  }
}
