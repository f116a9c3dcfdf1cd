package io.reactorfuse.internal.codec;

import io.netty.buffer.ByteBuf;

/**
 * {@code struct fuse_in_header} (40 bytes): the part of every request that says what it is.
 *
 * @param len the request's total length, header included
 * @param opcodeCode the raw opcode
 * @param unique the id to echo in the reply
 * @param totalExtlen extension bytes after the body, in units of 8 bytes
 */
public record InHeader(
    int len, int opcodeCode, long unique, long nodeId, int uid, int gid, int pid, int totalExtlen) {

  public static final int SIZE = 40;

  /** Decodes the header at the reader index of {@code buf} without moving it. */
  public static InHeader decode(ByteBuf buf) {
    int i = buf.readerIndex();
    return new InHeader(
        buf.getIntLE(i),
        buf.getIntLE(i + 4),
        buf.getLongLE(i + 8),
        buf.getLongLE(i + 16),
        buf.getIntLE(i + 24),
        buf.getIntLE(i + 28),
        buf.getIntLE(i + 32),
        buf.getUnsignedShortLE(i + 36));
  }

  /** The body length: what follows the header, less the extensions. */
  public int bodyLength() {
    return len - SIZE - totalExtlen * 8;
  }
}
