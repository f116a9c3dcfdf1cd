package io.reactorfuse.internal.codec;

import io.reactorfuse.ops.FuseNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.reactorfuse.ops.FileLock;
import io.reactorfuse.ops.Request;
import java.util.ArrayList;
import java.util.List;

/**
 * Kernel bytes to {@link Request} records: a pure function of the body, without /dev/fuse.
 *
 * <p>Only WRITE and NOTIFY_REPLY keep a reference into the body ({@link #keepsBody}): their payload
 * is sliced, not copied, so the caller must keep the buffer alive until the request is answered.
 * Every other record owns copies and the buffer may be reused at once.
 */
public final class RequestDecoder {
  private RequestDecoder() {}

  /** Whether the decoded request of this opcode holds a slice of the body. */
  public static boolean keepsBody(Opcode op) {
    return op == Opcode.WRITE || op == Opcode.NOTIFY_REPLY;
  }

  /**
   * Decodes a request body.
   *
   * @param op the opcode
   * @param unique the header's unique (kept by the records that need it: NOTIFY_REPLY)
   * @param nodeId the header's node id
   * @param body exactly the body (header and extensions excluded), read from index 0
   * @param setxattrExt whether FUSE_SETXATTR_EXT was negotiated (a 16-byte setxattr_in)
   * @throws MalformedRequestException if the body is shorter than the opcode needs
   */
  public static Request decode(Opcode op, long unique, long nodeId, ByteBuf body,
      boolean setxattrExt) {
    int n = body.readableBytes();
    if (n < op.fixedSize()) {
      throw new MalformedRequestException(op + " body is " + n + " bytes, needs " + op.fixedSize());
    }
    int b = body.readerIndex();
    switch (op) {
      case LOOKUP:
        return new Request.Lookup(nodeId, string(body, b, b + n));
      case FORGET:
        return new Request.Forget(nodeId, body.getLongLE(b));
      case BATCH_FORGET: {
        int count = body.getIntLE(b);
        if (n < 8 + 16L * count) {
          throw new MalformedRequestException("BATCH_FORGET of " + count + " in " + n + " bytes");
        }
        List<Request.Forget> forgets = new ArrayList<>(count);
        for (int i = 0, at = b + 8; i < count; i++, at += 16) {
          forgets.add(new Request.Forget(body.getLongLE(at), body.getLongLE(at + 8)));
        }
        return new Request.BatchForget(List.copyOf(forgets));
      }
      case GETATTR:
        return new Request.Getattr(nodeId, body.getIntLE(b), body.getLongLE(b + 8));
      case SETATTR:
        return new Request.Setattr(
            nodeId,
            body.getIntLE(b), // valid
            body.getLongLE(b + 8), // fh
            body.getLongLE(b + 16), // size
            body.getLongLE(b + 24), // lock_owner
            body.getLongLE(b + 32), // atime
            body.getIntLE(b + 56), // atimensec
            body.getLongLE(b + 40), // mtime
            body.getIntLE(b + 60), // mtimensec
            body.getLongLE(b + 48), // ctime
            body.getIntLE(b + 64), // ctimensec
            body.getIntLE(b + 68), // mode
            body.getIntLE(b + 76), // uid (after unused4)
            body.getIntLE(b + 80)); // gid
      case READLINK:
        return new Request.Readlink(nodeId);
      case SYMLINK: {
        int end = nul(body, b, b + n);
        return new Request.Symlink(nodeId, string(body, b, end), string(body, end + 1, b + n));
      }
      case MKNOD:
        return new Request.Mknod(nodeId, string(body, b + 16, b + n),
            body.getIntLE(b), body.getIntLE(b + 4), body.getIntLE(b + 8));
      case MKDIR:
        return new Request.Mkdir(nodeId, string(body, b + 8, b + n),
            body.getIntLE(b), body.getIntLE(b + 4));
      case UNLINK:
        return new Request.Unlink(nodeId, string(body, b, b + n));
      case RMDIR:
        return new Request.Rmdir(nodeId, string(body, b, b + n));
      case RENAME:
        return rename(nodeId, body, b, n, 8, body.getLongLE(b), 0);
      case RENAME2:
        return rename(nodeId, body, b, n, 16, body.getLongLE(b), body.getIntLE(b + 8));
      case LINK:
        return new Request.Link(body.getLongLE(b), nodeId, string(body, b + 8, b + n));
      case OPEN:
      case OPENDIR:
        return new Request.Open(nodeId, body.getIntLE(b), body.getIntLE(b + 4));
      case READ:
        return new Request.Read(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 16), body.getIntLE(b + 20), body.getLongLE(b + 24),
            body.getIntLE(b + 32));
      case WRITE: {
        int size = body.getIntLE(b + 16);
        if (size > n - 40 || size < 0) {
          throw new MalformedRequestException("WRITE of " + size + " bytes in a body of " + n);
        }
        return new Request.Write(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 20), body.getLongLE(b + 24), body.getIntLE(b + 32),
            body.slice(b + 40, size));
      }
      case STATFS:
        return new Request.Statfs(nodeId);
      case RELEASE:
      case RELEASEDIR:
        return new Request.Release(nodeId, body.getLongLE(b), body.getIntLE(b + 8),
            body.getIntLE(b + 12), body.getLongLE(b + 16));
      case FSYNC:
      case FSYNCDIR:
        return new Request.Fsync(nodeId, body.getLongLE(b), body.getIntLE(b + 8));
      case SETXATTR: {
        int fixed = setxattrExt ? 16 : 8;
        int size = body.getIntLE(b);
        int nameEnd = nul(body, b + fixed, b + n);
        if (nameEnd + 1 + size > b + n || size < 0) {
          throw new MalformedRequestException("SETXATTR value of " + size + " bytes overflows");
        }
        byte[] value = ByteBufUtil.getBytes(body, nameEnd + 1, size);
        return new Request.Setxattr(nodeId, string(body, b + fixed, nameEnd), value,
            body.getIntLE(b + 4), setxattrExt ? body.getIntLE(b + 8) : 0);
      }
      case GETXATTR:
        return new Request.Getxattr(nodeId, string(body, b + 8, b + n), body.getIntLE(b));
      case LISTXATTR:
        return new Request.Listxattr(nodeId, body.getIntLE(b));
      case REMOVEXATTR:
        return new Request.Removexattr(nodeId, string(body, b, b + n));
      case FLUSH:
        return new Request.Flush(nodeId, body.getLongLE(b), body.getLongLE(b + 16));
      case INIT: {
        long flags = body.getUnsignedIntLE(b + 12);
        // flags2 exists from 7.36 on, in a 64-byte init_in; it counts only with FUSE_INIT_EXT.
        if (n >= 20 && (flags & (1L << 30)) != 0) {
          flags |= body.getUnsignedIntLE(b + 16) << 32;
        }
        return new Request.Init(body.getIntLE(b), body.getIntLE(b + 4), body.getIntLE(b + 8),
            flags);
      }
      case READDIR:
      case READDIRPLUS:
        return new Request.Readdir(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 16));
      case GETLK:
      case SETLK:
      case SETLKW:
        return new Request.Lock(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            new FileLock(body.getLongLE(b + 16), body.getLongLE(b + 24), body.getIntLE(b + 32),
                body.getIntLE(b + 36)),
            body.getIntLE(b + 40));
      case ACCESS:
        return new Request.Access(nodeId, body.getIntLE(b));
      case CREATE:
      case TMPFILE:
        return new Request.Create(nodeId, n > 16 ? string(body, b + 16, b + n) : "",
            body.getIntLE(b), body.getIntLE(b + 4), body.getIntLE(b + 8), body.getIntLE(b + 12));
      case INTERRUPT:
        return new Request.Interrupt(body.getLongLE(b));
      case BMAP:
        return new Request.Bmap(nodeId, body.getLongLE(b), body.getIntLE(b + 8));
      case DESTROY:
        return new Request.Destroy();
      case IOCTL: {
        int inSize = body.getIntLE(b + 24);
        int have = Math.min(Math.max(inSize, 0), n - 32);
        return new Request.Ioctl(nodeId, body.getLongLE(b), body.getIntLE(b + 8),
            body.getIntLE(b + 12), body.getLongLE(b + 16), inSize, body.getIntLE(b + 28),
            ByteBufUtil.getBytes(body, b + 32, have));
      }
      case POLL:
        return new Request.Poll(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 16), body.getIntLE(b + 20));
      case NOTIFY_REPLY: {
        int size = body.getIntLE(b + 16);
        if (size > n - 40 || size < 0) {
          throw new MalformedRequestException("NOTIFY_REPLY of " + size + " bytes in " + n);
        }
        // fuse_notify_retrieve_in: dummy1, offset, size, dummy2, dummy3, dummy4; then the data
        return new Request.NotifyReply(unique, nodeId, body.getLongLE(b + 8),
            body.slice(b + 40, size));
      }
      case FALLOCATE:
        return new Request.Fallocate(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getLongLE(b + 16), body.getIntLE(b + 24));
      case LSEEK:
        return new Request.Lseek(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 16));
      case COPY_FILE_RANGE:
      case COPY_FILE_RANGE_64:
        return new Request.CopyFileRange(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getLongLE(b + 16), body.getLongLE(b + 24), body.getLongLE(b + 32),
            body.getLongLE(b + 40), body.getLongLE(b + 48));
      case SETUPMAPPING:
        return new Request.Setupmapping(nodeId, body.getLongLE(b), body.getLongLE(b + 8),
            body.getLongLE(b + 16), body.getLongLE(b + 24), body.getLongLE(b + 32));
      case REMOVEMAPPING: {
        int count = body.getIntLE(b);
        if (n < 4 + 16L * count) {
          throw new MalformedRequestException("REMOVEMAPPING of " + count + " in " + n + " bytes");
        }
        List<Request.Removemapping.Mapping> maps = new ArrayList<>(count);
        for (int i = 0, at = b + 4; i < count; i++, at += 16) {
          maps.add(new Request.Removemapping.Mapping(body.getLongLE(at), body.getLongLE(at + 8)));
        }
        return new Request.Removemapping(nodeId, List.copyOf(maps));
      }
      case SYNCFS:
        return new Request.Syncfs(nodeId);
      case STATX:
        return new Request.Statx(nodeId, body.getIntLE(b), body.getLongLE(b + 8),
            body.getIntLE(b + 16), body.getIntLE(b + 20));
      default:
        throw new MalformedRequestException("no decoder for " + op);
    }
  }

  private static Request rename(long nodeId, ByteBuf body, int b, int n, int fixed, long newDir,
      int flags) {
    int end = nul(body, b + fixed, b + n);
    return new Request.Rename(nodeId, string(body, b + fixed, end), newDir,
        string(body, end + 1, b + n), flags);
  }

  /** The index of the first NUL in [from, to), or {@code to} if none. */
  private static int nul(ByteBuf buf, int from, int to) {
    int i = buf.indexOf(from, to, (byte) 0);
    return i < 0 ? to : i;
  }

  /** The NUL-terminated UTF-8 string starting at {@code from}, within [from, to). */
  private static String string(ByteBuf buf, int from, int to) {
    if (from >= to) {
      return "";
    }
    int end = nul(buf, from, to);
    return FuseNames.decode(buf, from, end - from);
  }
}
