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
  /** The size of a multipart upload's parts: changes are tracked per part. */
  private final long partSize;
  /** The version of each part's last change (parts never changed: 0). */
  private final java.util.Map<Integer, Long> partVersions = new java.util.HashMap<>();
  private long size;
  /** Bumped by every change, so that an upload knows whether it sent the latest bytes. */
  private long version;
  private long uploadedVersion = -1;

  private Spool(Path file, long partSize) throws IOException {
    this.file = file;
    this.partSize = partSize;
    this.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** A new empty spool file in {@code dir}; it is dirty (an empty object is still a new one). */
  static Spool create(Path dir, long partSize) {
    try {
      Files.createDirectories(dir);
      return new Spool(Files.createTempFile(dir, "spool-", ".data"), partSize);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a spool file in " + dir
          + " (set --spool-dir to a writable directory)", e);
    }
  }

  /** Takes over {@code file} (downloaded content), clean. */
  static Spool adopt(Path file, long partSize) {
    try {
      Spool s = new Spool(file, partSize);
      s.size = s.channel.size();
      s.uploadedVersion = s.version;
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the spool file " + file, e);
    }
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
    changed(offset, offset + n);
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

  /**
   * A copy of [offset, offset + length), in a pooled direct buffer the caller releases: the
   * body of an upload, taken at once so that later writes cannot change it under the upload.
   * Thread-safe (positional reads).
   */
  ByteBuf copy(long offset, int length) {
    ByteBuf out = io.netty.buffer.PooledByteBufAllocator.DEFAULT.directBuffer(length);
    try {
      ByteBuffer b = out.nioBuffer(0, length);
      long pos = offset;
      while (b.hasRemaining()) {
        int r = channel.read(b, pos);
        if (r < 0) {
          throw Errno.EIO.exception(); // the spool shrank: the upload is stale, try again
        }
        pos += r;
      }
      out.writerIndex(length);
      return out;
    } catch (IOException e) {
      out.release();
      throw Errno.from(e).exception();
    } catch (RuntimeException e) {
      out.release();
      throw e;
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
    changed(Math.min(size, newSize), Math.max(size, newSize));
    size = newSize;
  }

  /** A new version, in which the bytes [from, to) changed. */
  private void changed(long from, long to) {
    version++;
    for (long p = from / partSize; p <= Math.max(from, to - 1) / partSize; p++) {
      partVersions.put((int) p, version);
    }
  }

  /** The version in which part {@code index} (from 0) last changed. */
  long partVersion(int index) {
    return partVersions.getOrDefault(index, 0L);
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
