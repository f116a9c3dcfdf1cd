package io.reactorfuse.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.reactorfuse.internal.codec.Opcode;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Request bytes for dispatcher tests, field by field (the codec tests pin the layouts down with
 * golden arrays; here the point is what the dispatcher does with them), and reply parsing.
 */
final class Wire {
  static final int UID = 1000;
  static final int GID = 1001;
  static final int PID = 4242;

  private Wire() {}

  /** A whole request: {@code fuse_in_header} then {@code body}. */
  static byte[] request(int opcode, long unique, long nodeId, byte[] body) {
    return ByteBuffer.allocate(40 + body.length).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(40 + body.length).putInt(opcode).putLong(unique).putLong(nodeId)
        .putInt(UID).putInt(GID).putInt(PID).putShort((short) 0).putShort((short) 0)
        .put(body).array();
  }

  static byte[] request(Opcode op, long unique, long nodeId, byte[] body) {
    return request(op.code(), unique, nodeId, body);
  }

  static Body body() {
    return new Body();
  }

  static byte[] lookup(long unique, long parent, String name) {
    return request(Opcode.LOOKUP, unique, parent, body().cstr(name).bytes());
  }

  static byte[] forget(long unique, long nodeId, long nlookup) {
    return request(Opcode.FORGET, unique, nodeId, body().u64(nlookup).bytes());
  }

  static byte[] batchForget(long unique, long... nodeAndCount) {
    Body b = body().u32(nodeAndCount.length / 2).u32(0);
    for (long v : nodeAndCount) {
      b.u64(v);
    }
    return request(Opcode.BATCH_FORGET, unique, 0, b.bytes());
  }

  /** INTERRUPT: the kernel gives it its own (odd) unique; the body names the victim. */
  static byte[] interrupt(long unique, long interrupted) {
    return request(Opcode.INTERRUPT, unique, 0, body().u64(interrupted).bytes());
  }

  static byte[] statfs(long unique) {
    return request(Opcode.STATFS, unique, 1, new byte[0]);
  }

  static byte[] open(Opcode op, long unique, long nodeId) {
    return request(op, unique, nodeId, body().u32(0).u32(0).bytes());
  }

  static byte[] read(long unique, long nodeId, long fh, long offset, int size) {
    return request(Opcode.READ, unique, nodeId, readIn(fh, offset, size));
  }

  static byte[] readdir(Opcode op, long unique, long nodeId, long offset, int size) {
    return request(op, unique, nodeId, readIn(0, offset, size));
  }

  private static byte[] readIn(long fh, long offset, int size) {
    return body().u64(fh).u64(offset).u32(size).u32(0).u64(0).u32(0).u32(0).bytes();
  }

  static byte[] write(long unique, long nodeId, long fh, long offset, String data) {
    byte[] payload = data.getBytes(StandardCharsets.UTF_8);
    return request(Opcode.WRITE, unique, nodeId,
        body().u64(fh).u64(offset).u32(payload.length).u32(0).u64(0).u32(0).u32(0)
            .raw(payload).bytes());
  }

  static byte[] getxattr(long unique, long nodeId, int size, String name) {
    return request(Opcode.GETXATTR, unique, nodeId, body().u32(size).u32(0).cstr(name).bytes());
  }

  static byte[] listxattr(long unique, long nodeId, int size) {
    return request(Opcode.LISTXATTR, unique, nodeId, body().u32(size).u32(0).bytes());
  }

  static byte[] unlink(long unique, long parent, String name) {
    return request(Opcode.UNLINK, unique, parent, body().cstr(name).bytes());
  }

  /** A 64-byte {@code fuse_init_in}. */
  static byte[] init(long unique, int major, int minor, long flags) {
    return request(Opcode.INIT, unique, 0, body().u32(major).u32(minor).u32(131072)
        .u32((int) flags).u32((int) (flags >>> 32)).raw(new byte[44]).bytes());
  }

  /** A little-endian body writer. */
  static final class Body {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Body u32(int v) {
      return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    Body u64(long v) {
      return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    /** A NUL-terminated UTF-8 string. */
    Body cstr(String s) {
      raw(s.getBytes(StandardCharsets.UTF_8));
      out.write(0);
      return this;
    }

    Body raw(byte[] b) {
      out.writeBytes(b);
      return this;
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }

  /** A parsed reply: {@code fuse_out_header} and the body after it. */
  record Reply(int len, int error, long unique, byte[] body) {
    static Reply parse(byte[] bytes) {
      ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      Reply r = new Reply(b.getInt(0), b.getInt(4), b.getLong(8),
          java.util.Arrays.copyOfRange(bytes, 16, bytes.length));
      assertEquals(bytes.length, r.len, "len must count every byte of the reply");
      return r;
    }

    int u32(int offset) {
      return ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).getInt(offset);
    }

    long u64(int offset) {
      return ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).getLong(offset);
    }

    String string(int offset, int length) {
      return new String(body, offset, length, StandardCharsets.UTF_8);
    }
  }
}
