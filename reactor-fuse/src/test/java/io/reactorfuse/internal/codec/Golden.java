package io.reactorfuse.internal.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;

/** Helpers for golden byte arrays: literal bytes in, readable hex diffs out. */
final class Golden {
  private Golden() {}

  /** Literal bytes written as ints, so that {@code 0xfb} needs no cast. */
  static byte[] bytes(int... values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      if (values[i] < -128 || values[i] > 255) {
        throw new IllegalArgumentException("not a byte at index " + i + ": " + values[i]);
      }
      out[i] = (byte) values[i];
    }
    return out;
  }

  static byte[] zeros(int n) {
    return new byte[n];
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** Copies the readable bytes and releases the buffer. */
  static byte[] drain(ByteBuf buf) {
    try {
      return ByteBufUtil.getBytes(buf);
    } finally {
      buf.release();
    }
  }

  /** Compares as hex dumps, so that a failure shows the offset and both rows. */
  static void assertBytes(byte[] expected, byte[] actual) {
    assertEquals(ByteBufUtil.prettyHexDump(Unpooled.wrappedBuffer(expected)),
        ByteBufUtil.prettyHexDump(Unpooled.wrappedBuffer(actual)));
  }
}
