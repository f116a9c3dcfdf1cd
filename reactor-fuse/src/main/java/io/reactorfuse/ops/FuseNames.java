package io.reactorfuse.ops;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * File names and symlink targets between the kernel's bytes and Java strings, losslessly.
 *
 * <p>Linux names are bytes, usually but not always UTF-8. Valid UTF-8 decodes as usual; each
 * byte of an invalid sequence becomes the lone surrogate {@code U+DC00 + byte} (the scheme of
 * Python's "surrogateescape", PEP 383). {@link #encode} reverses it, so a name the kernel sent
 * goes back to it byte for byte: a filesystem that stores or forwards names as strings never
 * corrupts the odd ones. A passthrough gives {@link #encode}'s bytes to the system calls.
 */
public final class FuseNames {
  private static final char ESCAPE_BASE = 0xDC00;

  private FuseNames() {}

  /** Decodes {@code length} bytes of {@code buf} at {@code index}. */
  public static String decode(ByteBuf buf, int index, int length) {
    boolean ascii = true;
    for (int i = index, end = index + length; i < end; i++) {
      if (buf.getByte(i) < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return buf.toString(index, length, StandardCharsets.US_ASCII);
    }
    byte[] bytes = new byte[length];
    buf.getBytes(index, bytes);
    return decode(bytes);
  }

  /** Decodes a whole byte array. */
  public static String decode(byte[] bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length);
    while (true) {
      CoderResult r = decoder.decode(in, out, true);
      if (r.isUnderflow()) {
        decoder.flush(out);
        break;
      }
      // Malformed (or, for UTF-8, never unmappable): escape each offending byte.
      for (int i = 0; i < r.length(); i++) {
        out.put((char) (ESCAPE_BASE + (in.get() & 0xff)));
      }
    }
    out.flip();
    return out.toString();
  }

  /** The bytes {@code name} was decoded from (plain UTF-8 for a name without escapes). */
  public static byte[] encode(String name) {
    int firstEscape = -1;
    for (int i = 0; i < name.length(); i++) {
      if (isEscape(name.charAt(i))) {
        firstEscape = i;
        break;
      }
    }
    if (firstEscape < 0) {
      return name.getBytes(StandardCharsets.UTF_8);
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(name.length() + 8);
    int runStart = 0;
    for (int i = firstEscape; i <= name.length(); i++) {
      if (i == name.length() || isEscape(name.charAt(i))) {
        byte[] run = name.substring(runStart, i).getBytes(StandardCharsets.UTF_8);
        out.write(run, 0, run.length);
        if (i < name.length()) {
          out.write(name.charAt(i) - ESCAPE_BASE);
        }
        runStart = i + 1;
      }
    }
    return out.toByteArray();
  }

  /** A lone surrogate standing for one raw byte 0x80..0xFF. */
  private static boolean isEscape(char c) {
    return c >= ESCAPE_BASE + 0x80 && c <= ESCAPE_BASE + 0xff;
  }
}
