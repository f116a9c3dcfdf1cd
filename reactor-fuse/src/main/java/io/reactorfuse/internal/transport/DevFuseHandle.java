package io.reactorfuse.internal.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.IovArray;
import io.reactorfuse.Errno;
import io.reactorfuse.internal.dispatch.Dispatcher;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One /dev/fuse fd on a Netty epoll event loop. Reads requests (one per read(2), until EAGAIN) and
 * hands them to the {@link Dispatcher}; writes replies from any thread.
 *
 * <p>Closing: a reply may be written from another thread at any time, and a closed fd number can
 * be reused at once by an unrelated open(2). So the fd is closed only when no write is running:
 * {@link #state} counts running writers and carries a CLOSING bit; whoever brings the count to
 * zero with the bit set closes the fd.
 */
public final class DevFuseHandle implements EpollIoHandle, ReplyChannel, NotificationSink {
  private static final Logger log = LoggerFactory.getLogger(DevFuseHandle.class);
  /** Reads per wake-up before yielding to the loop's other work (measured: 64 beat 1). */
  private static final int READS_PER_WAKEUP = 64;
  private static final int CLOSING = 1 << 30;
  private static final int ENODEV = 19;
  private static final int EINVAL = 22;
  private static final ThreadLocal<IovArray> IOV = ThreadLocal.withInitial(IovArray::new);

  private final FileDescriptor fd;
  private final Dispatcher dispatcher;
  private final ByteBufAllocator alloc;
  private final int bufferSize;
  private final Consumer<Throwable> onEnd;
  private final AtomicInteger state = new AtomicInteger();
  private ByteBuf readBuf;
  private IoRegistration registration;
  private volatile IoEventLoop loop;
  private volatile boolean ended;

  /**
   * @param fd an open, non-blocking /dev/fuse fd; this handle closes it
   * @param onEnd told once when the session ends: null for an unmount, else the fatal error
   */
  public DevFuseHandle(int fd, Dispatcher dispatcher, ByteBufAllocator alloc, int bufferSize,
      Consumer<Throwable> onEnd) {
    this.fd = new FileDescriptor(fd);
    this.dispatcher = dispatcher;
    this.alloc = alloc;
    this.bufferSize = bufferSize;
    this.onEnd = onEnd;
  }

  @Override
  public FileDescriptor fd() {
    return fd;
  }

  /** Called on the event loop once registered: start listening. */
  public void start(IoEventLoop loop, IoRegistration registration) {
    this.loop = loop;
    this.registration = registration;
    registration.submit(EpollIoOps.EPOLLIN);
  }

  @Override
  public void handle(IoRegistration registration, IoEvent event) {
    // Nothing may escape into Netty's loop: it would log and sleep a second.
    try {
      EpollIoOps ops = ((EpollIoEvent) event).ops();
      int served = readRequests();
      if (served == 0 && ops.contains(EpollIoOps.EPOLLERR) && !ended) {
        end(null); // the kernel aborted or unmounted the connection
      }
    } catch (Throwable t) {
      log.error("unexpected failure on the /dev/fuse loop; ending the session", t);
      end(t);
    }
  }

  private int readRequests() {
    int served = 0;
    while (served < READS_PER_WAKEUP && !ended) {
      if (readBuf == null) {
        readBuf = alloc.directBuffer(bufferSize, bufferSize);
      }
      readBuf.clear();
      int n;
      try {
        if (readBuf.hasMemoryAddress()) {
          n = fd.readAddress(readBuf.memoryAddress(), 0, bufferSize);
        } else {
          ByteBuffer nio = readBuf.internalNioBuffer(0, bufferSize);
          n = fd.read(nio, nio.position(), nio.limit());
        }
      } catch (Errors.NativeIoException e) {
        if (e.expectedErr() == -ENODEV) {
          end(null); // unmounted
        } else if (e.expectedErr() == -EINVAL) {
          end(new IllegalStateException("read(/dev/fuse) failed with EINVAL: the read buffer ("
              + bufferSize + " bytes) is smaller than the kernel requires", e));
        } else {
          end(e);
        }
        return served;
      } catch (IOException e) {
        end(e);
        return served;
      }
      if (n <= 0) {
        return served; // EAGAIN: the queue is empty
      }
      readBuf.writerIndex(n);
      served++;
      if (dispatcher.onRequest(this, readBuf)) {
        readBuf = null; // kept by the request (a WRITE payload): read into a new buffer
      }
    }
    return served;
  }

  @Override
  public void send(ByteBuf reply) {
    try {
      if (!acquireWrite()) {
        return;
      }
      try {
        if (reply.hasMemoryAddress()) {
          fd.writeAddress(reply.memoryAddress(), reply.readerIndex(), reply.writerIndex());
        } else {
          writeNio(reply);
        }
      } finally {
        releaseWrite();
      }
    } catch (FileNotFoundException e) {
      // ENOENT: the kernel no longer waits for this request (interrupted or aborted).
    } catch (IOException e) {
      writeFailed(e);
    } finally {
      reply.release();
    }
  }

  @Override
  public Errno notify(ByteBuf notification) {
    try {
      if (!acquireWrite()) {
        return Errno.ENODEV; // the session is over
      }
      try {
        if (notification.hasMemoryAddress()) {
          fd.writeAddress(notification.memoryAddress(), notification.readerIndex(),
              notification.writerIndex());
        } else {
          writeNio(notification);
        }
        return null;
      } finally {
        releaseWrite();
      }
    } catch (FileNotFoundException e) {
      return Errno.ENOENT;
    } catch (Errors.NativeIoException e) {
      return Errno.of(Math.max(1, -e.expectedErr()));
    } catch (IOException e) {
      return Errno.from(e);
    } finally {
      notification.release();
    }
  }

  @Override
  public void send(ByteBuf header, ByteBuf payload) {
    try {
      if (!acquireWrite()) {
        return;
      }
      try {
        if (payload.isDirect() && header.isDirect()) {
          IovArray iov = IOV.get();
          iov.clear();
          iov.add(header, header.readerIndex(), header.readableBytes());
          iov.add(payload, payload.readerIndex(), payload.readableBytes());
          fd.writevAddresses(iov.memoryAddress(0), iov.count());
        } else {
          // A heap or composite payload: copy once into a direct buffer, one write.
          ByteBuf whole = alloc.directBuffer(header.readableBytes() + payload.readableBytes());
          try {
            whole.writeBytes(header, header.readerIndex(), header.readableBytes());
            whole.writeBytes(payload, payload.readerIndex(), payload.readableBytes());
            writeNio(whole);
          } finally {
            whole.release();
          }
        }
      } finally {
        releaseWrite();
      }
    } catch (FileNotFoundException e) {
      // ENOENT: the request is gone.
    } catch (IOException e) {
      writeFailed(e);
    } finally {
      header.release();
      payload.release();
    }
  }

  /** write(2) of a buffer without a memory address. Pooled NIO views start mid-chunk. */
  private void writeNio(ByteBuf buf) throws IOException {
    ByteBuffer nio = buf.internalNioBuffer(buf.readerIndex(), buf.readableBytes());
    fd.write(nio, nio.position(), nio.limit());
  }

  private void writeFailed(IOException e) {
    if (e instanceof Errors.NativeIoException
        && ((Errors.NativeIoException) e).expectedErr() == -ENODEV) {
      return; // unmounted while the reply was on its way
    }
    log.warn("writing a reply to /dev/fuse failed", e);
  }

  private boolean acquireWrite() {
    for (;;) {
      int s = state.get();
      if ((s & CLOSING) != 0) {
        return false; // the session is over: nobody can receive this reply
      }
      if (state.compareAndSet(s, s + 1)) {
        return true;
      }
    }
  }

  private void releaseWrite() {
    if (state.decrementAndGet() == CLOSING) {
      closeFd();
    }
  }

  /** Ends the session once: stop reading, drop requests in flight, close the fd when idle. */
  private void end(Throwable error) {
    if (ended) {
      return;
    }
    ended = true;
    if (registration != null) {
      registration.cancel();
    }
    dispatcher.abandonAll();
    if (readBuf != null) {
      readBuf.release();
      readBuf = null;
    }
    if (state.getAndAdd(CLOSING) == 0) {
      closeFd();
    }
    try {
      onEnd.accept(error);
    } catch (Throwable t) {
      log.warn("session end listener failed", t);
    }
  }

  private void closeFd() {
    try {
      fd.close();
    } catch (IOException e) {
      log.debug("closing /dev/fuse", e);
    }
  }

  /** Ends the session from the loop (the event loop shuts down, or the owner disposes). */
  @Override
  public void close() {
    end(null);
  }

  /** Ends this fd's part of the session from any thread: the work is done on its loop. */
  public void closeFromAnyThread() {
    IoEventLoop l = loop;
    if (l == null || l.inEventLoop()) {
      end(null);
    } else {
      l.execute(() -> end(null));
    }
  }

  /** Whether the session has ended. */
  public boolean isEnded() {
    return ended;
  }
}
