package io.reactorfuse.recovery;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The messages between a supervisor and its workers, over the SOCK_SEQPACKET socket that is fd 3
 * in the worker: one message per packet, big-endian ({@link DataOutputStream}), each starting
 * with {@link #VERSION} and a type byte. Supervisor and worker come from the same class path, so
 * a version mismatch means a stale build: it is refused, not negotiated.
 *
 * <pre>
 *   HAND_OFF  supervisor -> worker  i32 generation, i32 fd count, UTF mount point, UTF state file
 *                                   + the fds (session fd first) with SCM_RIGHTS
 *   READY     worker -> supervisor  i64 pid                      initialised, waiting for HAND_OFF
 *   SERVING   worker -> supervisor  i64 pid, i32 generation, i64 nanoTime   mounted the fds
 *   RESENT    worker -> supervisor  i64 nanoTime of the first resent answer,
 *                                   i64 answered from the journal, i64 answered by running them
 * </pre>
 *
 * Times are {@link System#nanoTime()}, CLOCK_MONOTONIC on Linux: comparable across processes.
 *
 * <p>A hot standby is started with {@link #STANDBY_ENV}{@code =1} in its environment: it has
 * time to warm up before its hand-off, a worker started cold does not.
 */
final class SupervisorProtocol {
  static final byte VERSION = 1;
  /** Set to "1" in a hot standby's environment. */
  static final String STANDBY_ENV = "REACTOR_FUSE_HOT_STANDBY";
  /** Two paths of at most PATH_MAX (4096) bytes and change. */
  static final int MAX_MESSAGE = 16 * 1024;

  private static final byte HAND_OFF = 1;
  private static final byte READY = 2;
  private static final byte SERVING = 3;
  private static final byte RESENT = 4;

  private SupervisorProtocol() {}

  /** A message of this protocol. */
  sealed interface Message permits HandOff, Ready, Serving, Resent {}

  /** The fds (sent alongside) and what the worker needs to serve them. */
  record HandOff(int generation, int fdCount, Path mountPoint, Path stateFile)
      implements Message {}

  /** A worker has initialised and waits for its hand-off. */
  record Ready(long pid) implements Message {}

  /** A worker serves the fds it was handed. */
  record Serving(long pid, int generation, long nanos) implements Message {}

  /** How the requests the kernel resent to a new worker were answered, so far. */
  record Resent(long firstAnswerNanos, long fromJournal, long executed) implements Message {}

  static byte[] encode(Message m) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      if (m instanceof HandOff h) {
        out.writeByte(HAND_OFF);
        out.writeInt(h.generation());
        out.writeInt(h.fdCount());
        out.writeUTF(h.mountPoint().toString());
        out.writeUTF(h.stateFile().toString());
      } else if (m instanceof Ready r) {
        out.writeByte(READY);
        out.writeLong(r.pid());
      } else if (m instanceof Serving s) {
        out.writeByte(SERVING);
        out.writeLong(s.pid());
        out.writeInt(s.generation());
        out.writeLong(s.nanos());
      } else if (m instanceof Resent r) {
        out.writeByte(RESENT);
        out.writeLong(r.firstAnswerNanos());
        out.writeLong(r.fromJournal());
        out.writeLong(r.executed());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    return bytes.toByteArray();
  }

  /**
   * The message in {@code packet}.
   *
   * @throws IllegalArgumentException if it is not one of this protocol version's messages
   */
  static Message decode(byte[] packet) {
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(packet))) {
      byte version = in.readByte();
      if (version != VERSION) {
        throw new IllegalArgumentException("supervisor message of protocol version " + version
            + ", this side speaks " + VERSION + ": start the supervisor and its workers from the "
            + "same reactor-fuse build");
      }
      byte type = in.readByte();
      Message m = switch (type) {
        case HAND_OFF -> new HandOff(in.readInt(), in.readInt(), Path.of(in.readUTF()),
            Path.of(in.readUTF()));
        case READY -> new Ready(in.readLong());
        case SERVING -> new Serving(in.readLong(), in.readInt(), in.readLong());
        case RESENT -> new Resent(in.readLong(), in.readLong(), in.readLong());
        default -> throw new IllegalArgumentException("unknown supervisor message type " + type
            + " (protocol version " + VERSION + ")");
      };
      if (in.available() > 0) {
        throw new IllegalArgumentException("supervisor message of type " + type + " has "
            + in.available() + " bytes too many");
      }
      return m;
    } catch (IOException e) {
      throw new IllegalArgumentException("truncated supervisor message (" + packet.length
          + " bytes)", e);
    }
  }
}
