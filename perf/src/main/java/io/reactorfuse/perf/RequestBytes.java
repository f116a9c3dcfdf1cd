package io.reactorfuse.perf;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.internal.codec.InHeader;
import io.reactorfuse.internal.codec.Opcode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Request bytes as the kernel writes them, built once per benchmark (reactor-fuse's own builder,
 * {@code Wire}, is a package-private test class). Layouts from {@code <linux/fuse.h>}; the codec's
 * golden tests pin them down, here they only have to be accepted.
 */
final class RequestBytes {
  static final int UID = 1000;
  static final int GID = 1000;
  static final int PID = 4242;

  private RequestBytes() {}

  /** {@code fuse_in_header} (40 bytes, no extensions) then {@code body}. */
  static byte[] request(Opcode op, long unique, long nodeId, byte[] body) {
    return le(InHeader.SIZE + body.length)
        .putInt(InHeader.SIZE + body.length) // len
        .putInt(op.code()) // opcode
        .putLong(unique)
        .putLong(nodeId)
        .putInt(UID).putInt(GID).putInt(PID)
        .putShort((short) 0) // total_extlen
        .putShort((short) 0) // padding
        .put(body)
        .array();
  }

  /** LOOKUP: the name, NUL-terminated. */
  static byte[] lookup(long unique, long parent, String name) {
    byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
    return request(Opcode.LOOKUP, unique, parent, le(utf8.length + 1).put(utf8).put((byte) 0)
        .array());
  }

  /** GETATTR: {@code fuse_getattr_in} (getattr_flags, dummy, fh). */
  static byte[] getattr(long unique, long nodeId) {
    return request(Opcode.GETATTR, unique, nodeId, le(16).putInt(0).putInt(0).putLong(0)
        .array());
  }

  /** READ: {@code fuse_read_in}. */
  static byte[] read(long unique, long nodeId, long fh, long offset, int size) {
    return request(Opcode.READ, unique, nodeId, readIn(fh, offset, size));
  }

  /** READDIR: a {@code fuse_read_in} too; {@code size} is the kernel's buffer. */
  static byte[] readdir(long unique, long nodeId, long fh, long offset, int size) {
    return request(Opcode.READDIR, unique, nodeId, readIn(fh, offset, size));
  }

  /** WRITE: {@code fuse_write_in} then the payload. */
  static byte[] write(long unique, long nodeId, long fh, long offset, byte[] data) {
    return request(Opcode.WRITE, unique, nodeId, le(40 + data.length)
        .putLong(fh)
        .putLong(offset)
        .putInt(data.length) // size
        .putInt(0) // write_flags
        .putLong(0) // lock_owner
        .putInt(0) // flags
        .putInt(0) // padding
        .put(data)
        .array());
  }

  /** A payload of {@code n} non-zero bytes. */
  static byte[] payload(int n) {
    byte[] data = new byte[n];
    for (int i = 0; i < n; i++) {
      data[i] = (byte) (i * 31 + 7);
    }
    return data;
  }

  /** The bytes in a pooled direct buffer, as the transport reads them from /dev/fuse. */
  static ByteBuf direct(byte[] bytes) {
    return PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
  }

  private static byte[] readIn(long fh, long offset, int size) {
    return le(40)
        .putLong(fh)
        .putLong(offset)
        .putInt(size)
        .putInt(0) // read_flags
        .putLong(0) // lock_owner
        .putInt(0) // flags
        .putInt(0) // padding
        .array();
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }
}
