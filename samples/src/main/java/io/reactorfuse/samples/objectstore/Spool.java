package io.reactorfuse.samples.objectstore;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The local copy of a file being written: writes land here and the whole file is uploaded at
 * flush, since S3 cannot change part of an object. A local file, not memory, so that files
 * larger than the heap can be written; its writes go to the page cache and take microseconds,
 * so they run on the thread that got the request.
 *
 * <p>Not thread-safe: its owner ({@link ObjectStoreFs}) calls it under its lock.
 */
final class Spool implements AutoCloseable {
  private final Path file;
  private final FileChannel channel;
  private long size;
  /** Bumped by every change, so that an upload knows whether it sent the latest bytes. */
  private long version;
  private long uploadedVersion = -1;

  private Spool(Path file) throws IOException {
    this.file = file;
    this.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** A new empty spool file in {@code dir}; it is dirty (an empty object is still a new one). */
  static Spool create(Path dir) {
    try {
      Files.createDirectories(dir);
      return new Spool(Files.createTempFile(dir, "spool-", ".data"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a spool file in " + dir
          + " (set --spool-dir to a writable directory)", e);
    }
  }

  /** Takes over {@code file} (downloaded content), clean. */
  static Spool adopt(Path file) {
    try {
      Spool s = new Spool(file);
      s.size = s.channel.size();
      s.uploadedVersion = s.version;
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the spool file " + file, e);
    }
  }

  Path file() {
    return file;
  }

  long size() {
    return size;
  }

  long version() {
    return version;
  }

  boolean dirty() {
    return uploadedVersion != version;
  }

  /** The bytes of {@code version} are in the object store. */
  void uploaded(long version) {
    uploadedVersion = Math.max(uploadedVersion, version);
  }

  int write(ByteBuf data, long offset) {
    int n = data.readableBytes();
    try {
      long pos = offset;
      for (ByteBuffer b : data.nioBuffers()) {
        while (b.hasRemaining()) {
          pos += channel.write(b, pos);
        }
      }
    } catch (IOException e) {
      throw Errno.from(e).exception();
    }
    size = Math.max(size, offset + n);
    version++;
    return n;
  }

  ByteBuf read(long offset, int length) {
    int n = (int) Math.max(0, Math.min(length, size - offset));
    ByteBuf out = Unpooled.buffer(n);
    try {
      ByteBuffer b = out.nioBuffer(0, n);
      long pos = offset;
      while (b.hasRemaining()) {
        int r = channel.read(b, pos);
        if (r < 0) {
          break;
        }
        pos += r;
      }
      out.writerIndex(n - b.remaining());
      return out;
    } catch (IOException e) {
      out.release();
      throw Errno.from(e).exception();
    }
  }

  void truncate(long newSize) {
    try {
      if (newSize < size) {
        channel.truncate(newSize);
      } else if (newSize > size) {
        channel.write(ByteBuffer.allocate(1), newSize - 1); // a hole up to the new end
      }
    } catch (IOException e) {
      throw Errno.from(e).exception();
    }
    size = newSize;
    version++;
  }

  /** Closes and deletes the file. */
  @Override
  public void close() {
    try {
      channel.close();
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Closes the file and keeps it, for bytes that could not be uploaded. */
  Path keep() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // the bytes are already in the file
    }
    return file;
  }
}
