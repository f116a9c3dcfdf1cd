package io.reactorfuse.internal.sys;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import java.io.ByteArrayOutputStream;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A child process that inherits one socket as fd 3, and SCM_RIGHTS messages over that socket:
 * what {@link Fusermount} and the recovery module's supervisor need and {@link ProcessBuilder}
 * cannot do (it closes every fd above 2 in the child). Layouts are those of x86-64 glibc.
 *
 * <p>Internal: public for reactor-fuse's own modules (recovery), not an API; it may change in
 * any release.
 */
public final class Spawn {
  static final int AF_UNIX = 1;
  static final int SOCK_STREAM = 1;
  static final int SOCK_SEQPACKET = 5;
  static final int SHUT_RDWR = 2;
  static final int MSG_NOSIGNAL = 0x4000;
  static final int MSG_TRUNC = 0x20;
  static final int RLIMIT_CORE = 4;
  /** The largest number of fds one {@link #send} carries (the kernel's SCM_MAX_FD is 253). */
  public static final int MAX_FDS = 253;
  static final int SOCK_CLOEXEC = 02000000;
  static final int O_RDONLY = 0;
  static final int F_GETFD = 1;
  static final int F_SETFD = 2;
  static final int F_GETFL = 3;
  static final int F_SETFL = 4;
  static final int FD_CLOEXEC = 1;
  static final int F_DUPFD_CLOEXEC = 1030;
  static final int WNOHANG = 1;
  static final int P_PID = 1;
  static final int WEXITED = 4;
  static final int WNOWAIT = 0x01000000;
  private static final int SIGINFO_SIZE = 128;
  static final int SIGKILL = 9;
  static final int MSG_DONTWAIT = 0x40;
  static final int MSG_CTRUNC = 0x08;
  static final int MSG_CMSG_CLOEXEC = 0x40000000;
  static final int SOL_SOCKET = 1;
  static final int SCM_RIGHTS = 1;
  static final short POSIX_SPAWN_SETPGROUP = 0x02;
  static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  static final short POSIX_SPAWN_SETSIGMASK = 0x08;

  // struct msghdr (56 bytes), struct iovec (16), struct cmsghdr (16 + data)
  private static final int MSG_IOV = 16;
  private static final int MSG_IOVLEN = 24;
  private static final int MSG_CONTROL = 32;
  private static final int MSG_CONTROLLEN = 40;
  private static final int MSG_FLAGS = 48;
  private static final int MSGHDR_SIZE = 56;
  private static final int CMSG_HDR = 16;
  /** Room for several cmsghdrs of a few fds each; fusermount3 sends one fd. */
  private static final int CONTROL_SIZE = 256;
  // Opaque glibc types, with room to spare: posix_spawn_file_actions_t is 80 bytes,
  // posix_spawnattr_t 336, sigset_t 128.
  private static final int FILE_ACTIONS_SIZE = 256;
  private static final int ATTR_SIZE = 512;
  private static final int SIGSET_SIZE = 256;

  private static final LibcBinding<LibSpawn> LIBC = new LibcBinding<>(LibSpawn.class);

  private Spawn() {}

  private static LibSpawn libc() {
    return LIBC.lib();
  }

  private static NativeError error(String call) {
    return LIBC.error(call);
  }

  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): both ends close-on-exec. */
  static int[] socketPair() throws NativeError {
    return socketPair(false);
  }

  /**
   * A connected pair of Unix sockets, both ends close-on-exec. {@code seqPacket}: SOCK_SEQPACKET,
   * which keeps message boundaries (one {@link #send} is one {@link #receive}, whole or not at
   * all), else SOCK_STREAM.
   */
  public static int[] socketPair(boolean seqPacket) throws NativeError {
    int[] sv = new int[2];
    int type = seqPacket ? SOCK_SEQPACKET : SOCK_STREAM;
    if (libc().socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) {
      throw error("socketpair");
    }
    return sv;
  }

  /**
   * shutdown(SHUT_RDWR): wakes a thread blocked in {@link #receive} on this socket (it sees end
   * of file), which close(2) does not do on Linux; the peer sees end of file too.
   */
  public static void shutdown(int socket) {
    libc().shutdown(socket, SHUT_RDWR);
  }

  /** pipe2(O_CLOEXEC); the read end is made non-blocking. */
  static int[] pipe() throws NativeError {
    int[] fds = new int[2];
    if (libc().pipe2(fds, Native.O_CLOEXEC) != 0) {
      throw error("pipe2");
    }
    try {
      setNonBlocking(fds[0]);
    } catch (NativeError e) {
      close(fds[0]);
      close(fds[1]);
      throw e;
    }
    return fds;
  }

  /** Closes {@code fd} (if not negative), ignoring errors. */
  public static void close(int fd) {
    if (fd >= 0) {
      libc().close(fd);
    }
  }

  /** Sets O_NONBLOCK on {@code fd} (on its open file description, shared by its copies). */
  public static void setNonBlocking(int fd) throws NativeError {
    int flags = libc().fcntl(fd, F_GETFL, 0);
    if (flags < 0 || libc().fcntl(fd, F_SETFL, flags | Native.O_NONBLOCK) != 0) {
      throw error("fcntl(F_SETFL, O_NONBLOCK)");
    }
  }

  static void setCloseOnExec(int fd) throws NativeError {
    int flags = libc().fcntl(fd, F_GETFD, 0);
    if (flags < 0 || libc().fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
      throw error("fcntl(F_SETFD, FD_CLOEXEC)");
    }
  }

  /**
   * Starts {@code path} with {@code argv} and exactly {@code env}. In the child, stdin is
   * /dev/null, stdout and stderr go to {@code outputFd}, {@code passFd} becomes fd 3 (dup2 clears
   * close-on-exec there), and every other fd is closed. Signals start unblocked and at their
   * defaults. Returns the pid; reap it with {@link #waitFor} or {@link #poll}.
   */
  public static int spawn(String path, List<String> argv, List<String> env, int outputFd,
      int passFd) throws NativeError {
    return spawn(path, argv, env, outputFd, passFd, false);
  }

  /**
   * {@link #spawn(String, List, List, int, int)}; with {@code newProcessGroup} the child leads a
   * process group of its own, so that a terminal's Ctrl-C (SIGINT to the foreground group)
   * reaches only the parent, which then decides what happens to the child.
   */
  public static int spawn(String path, List<String> argv, List<String> env, int outputFd,
      int passFd, boolean newProcessGroup) throws NativeError {
    // dup2(fd, fd) would keep close-on-exec, and dup2(pass, 3) must not clobber the output fd:
    // work on copies above 3 if either is that low (the JVM has those open, but be sure).
    int out = outputFd;
    int pass = passFd;
    try {
      if (out <= 3) {
        out = duplicateAbove3(outputFd);
      }
      if (pass <= 3) {
        pass = duplicateAbove3(passFd);
      }
      return spawnChecked(path, argv, env, out, pass, newProcessGroup);
    } finally {
      if (out != outputFd) {
        close(out);
      }
      if (pass != passFd) {
        close(pass);
      }
    }
  }

  private static int duplicateAbove3(int fd) throws NativeError {
    int copy = libc().fcntl(fd, F_DUPFD_CLOEXEC, 4);
    if (copy < 0) {
      throw error("fcntl(F_DUPFD_CLOEXEC)");
    }
    return copy;
  }

  private static int spawnChecked(String path, List<String> argv, List<String> env, int outputFd,
      int passFd, boolean newProcessGroup) throws NativeError {
    LibSpawn c = libc();
    Runtime rt = LIBC.runtime();
    Pointer actions = Memory.allocateDirect(rt, FILE_ACTIONS_SIZE, true);
    Pointer attr = Memory.allocateDirect(rt, ATTR_SIZE, true);
    check("posix_spawn_file_actions_init", c.posix_spawn_file_actions_init(actions));
    try {
      check("posix_spawnattr_init", c.posix_spawnattr_init(attr));
      try {
        check("posix_spawn_file_actions_addopen",
            c.posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0));
        check("posix_spawn_file_actions_adddup2",
            c.posix_spawn_file_actions_adddup2(actions, outputFd, 1));
        check("posix_spawn_file_actions_adddup2",
            c.posix_spawn_file_actions_adddup2(actions, outputFd, 2));
        check("posix_spawn_file_actions_adddup2",
            c.posix_spawn_file_actions_adddup2(actions, passFd, 3));
        try {
          // The JVM has fds open without close-on-exec; a setuid helper gets none of them.
          check("posix_spawn_file_actions_addclosefrom_np",
              c.posix_spawn_file_actions_addclosefrom_np(actions, 4));
        } catch (UnsatisfiedLinkError olderGlibc) {
          // before glibc 2.34: the child inherits them, and exits soon after
        }
        Pointer empty = Memory.allocateDirect(rt, SIGSET_SIZE, true);
        Pointer all = Memory.allocateDirect(rt, SIGSET_SIZE, true);
        c.sigemptyset(empty);
        c.sigfillset(all);
        check("posix_spawnattr_setsigmask", c.posix_spawnattr_setsigmask(attr, empty));
        check("posix_spawnattr_setsigdefault", c.posix_spawnattr_setsigdefault(attr, all));
        short flags = (short) (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (newProcessGroup) {
          check("posix_spawnattr_setpgroup", c.posix_spawnattr_setpgroup(attr, 0));
          flags |= POSIX_SPAWN_SETPGROUP;
        }
        check("posix_spawnattr_setflags", c.posix_spawnattr_setflags(attr, flags));
        List<Pointer> keep = new ArrayList<>();
        Pointer argvp = stringArray(rt, argv, keep);
        Pointer envp = stringArray(rt, env, keep);
        int[] pid = new int[1];
        check("posix_spawn(" + path + ")", c.posix_spawn(pid, path, actions, attr, argvp, envp));
        Reference.reachabilityFence(keep); // the strings live until posix_spawn has returned
        return pid[0];
      } finally {
        c.posix_spawnattr_destroy(attr);
      }
    } finally {
      c.posix_spawn_file_actions_destroy(actions);
    }
  }

  private static void check(String call, int result) throws NativeError {
    if (result != 0) {
      throw new NativeError(call, Errno.of(result));
    }
  }

  /** A NULL-terminated {@code char *[]}; {@code keep} holds the memory while it is in use. */
  private static Pointer stringArray(Runtime rt, List<String> strings, List<Pointer> keep) {
    int ptr = rt.addressSize();
    Pointer array = Memory.allocateDirect(rt, (strings.size() + 1) * ptr, true);
    keep.add(array);
    for (int i = 0; i < strings.size(); i++) {
      byte[] bytes = strings.get(i).getBytes(StandardCharsets.UTF_8);
      Pointer s = Memory.allocateDirect(rt, bytes.length + 1, true);
      s.put(0, bytes, 0, bytes.length);
      keep.add(s);
      array.putPointer((long) i * ptr, s);
    }
    return array;
  }

  /**
   * waitpid without blocking: the wait status once {@code pid} has ended (and is reaped), or -1
   * while it runs.
   */
  public static int poll(int pid) throws NativeError {
    int[] status = new int[1];
    while (true) {
      int r = libc().waitpid(pid, status, WNOHANG);
      if (r == pid) {
        return status[0];
      }
      if (r == 0) {
        return -1;
      }
      NativeError e = error("waitpid(" + pid + ")");
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
  }

  /**
   * waitpid, blocking until child {@code pid} has ended (and reaping it): its wait status (see
   * {@link #exitCode}, {@link #signalOf}). Only for this process's own children.
   */
  public static int waitFor(int pid) throws NativeError {
    int[] status = new int[1];
    while (true) {
      int r = libc().waitpid(pid, status, 0);
      if (r == pid) {
        return status[0];
      }
      NativeError e = error("waitpid(" + pid + ")");
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
  }

  /**
   * Blocks until child {@code pid} has ended, without reaping it (waitid with WNOWAIT): it stays
   * a zombie, so its pid cannot be reused, until {@link #poll} or {@link #waitFor} reaps it. A
   * thread that may still {@link #kill} it checks, under a lock shared with the reaping, that it
   * has not been reaped yet: no signal can then reach a stranger that got the pid.
   */
  public static void awaitExit(int pid) throws NativeError {
    Pointer info = Memory.allocateDirect(LIBC.runtime(), SIGINFO_SIZE, true);
    while (libc().waitid(P_PID, pid, info, WEXITED | WNOWAIT) != 0) {
      NativeError e = error("waitid(" + pid + ")");
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
  }

  /** kill(2): sends {@code signal} to {@code pid}; ESRCH if it is gone (or a reaped zombie). */
  public static void kill(int pid, int signal) throws NativeError {
    if (pid <= 0) {
      // kill(0) or kill(-1) would signal a whole process group or every process we may
      throw new IllegalArgumentException("kill needs one process id (> 0), got " + pid);
    }
    if (libc().kill(pid, signal) != 0) {
      throw error("kill(" + pid + ", " + signal + ")");
    }
  }

  /**
   * Sets child {@code pid}'s RLIMIT_CORE to 0 (prlimit): a child killed by SIGABRT or SIGSEGV
   * leaves no core file behind. Best effort: false if it could not be set.
   */
  public static boolean disableCoreDumps(int pid) {
    Pointer limit = Memory.allocateDirect(LIBC.runtime(), 16, true); // struct rlimit {cur, max}
    return libc().prlimit(pid, RLIMIT_CORE, limit, null) == 0;
  }

  /** SIGKILL, then a blocking wait (a killed process ends at once). */
  static void killAndReap(int pid) {
    libc().kill(pid, SIGKILL);
    int[] status = new int[1];
    while (libc().waitpid(pid, status, 0) < 0
        && LIBC.lastError() == Errno.EINTR.code()) {
      // retry
    }
  }

  /** The exit code of a wait status, or 128 + signal for a process killed by a signal. */
  public static int exitCode(int status) {
    int signal = status & 0x7f;
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
  }

  /** The signal that killed the process of this wait status, or 0 if it exited. */
  public static int signalOf(int status) {
    return status & 0x7f;
  }

  /** Whether the process of this wait status dumped core. */
  public static boolean coreDumped(int status) {
    return (status & 0x80) != 0;
  }

  /** Reads what is there from a non-blocking fd into {@code out}; true at end of file. */
  static boolean drain(int fd, ByteArrayOutputStream out) throws NativeError {
    byte[] buf = new byte[4096];
    while (true) {
      long n = libc().read(fd, buf, buf.length);
      if (n > 0) {
        out.write(buf, 0, (int) n);
      } else if (n == 0) {
        return true;
      } else {
        NativeError e = error("read");
        if (e.errno().equals(Errno.EAGAIN)) {
          return false;
        }
        if (!e.errno().equals(Errno.EINTR)) {
          throw e;
        }
      }
    }
  }

  /** A message received with {@link #receive}: its bytes and the fds that came with it. */
  public record Message(byte[] payload, int[] fds) {}

  /**
   * sendmsg: {@code payload} (at least one byte) and, with SCM_RIGHTS, copies of {@code fds}
   * (at most {@link #MAX_FDS}) in one message. Blocks while the socket buffer is full. A peer
   * that is gone gives EPIPE (no SIGPIPE).
   */
  public static void send(int socket, byte[] payload, int... fds) throws NativeError {
    if (payload.length == 0) {
      // a zero-length message is indistinguishable from end of file for the receiver
      throw new IllegalArgumentException("send needs a payload of at least one byte");
    }
    if (fds.length > MAX_FDS) {
      throw new IllegalArgumentException("send carries at most " + MAX_FDS + " fds, got "
          + fds.length);
    }
    Runtime rt = LIBC.runtime();
    Pointer msg = Memory.allocateDirect(rt, MSGHDR_SIZE, true);
    Pointer iov = Memory.allocateDirect(rt, 16, true);
    Pointer data = Memory.allocateDirect(rt, payload.length, true);
    data.put(0, payload, 0, payload.length);
    iov.putAddress(0, data.address());
    iov.putLong(8, payload.length);
    msg.putAddress(MSG_IOV, iov.address());
    msg.putLong(MSG_IOVLEN, 1);
    Pointer control = null;
    if (fds.length > 0) {
      int space = cmsgSpace(fds.length);
      control = Memory.allocateDirect(rt, space, true);
      control.putLong(0, CMSG_HDR + 4L * fds.length); // cmsg_len = CMSG_LEN(n * 4)
      control.putInt(8, SOL_SOCKET);
      control.putInt(12, SCM_RIGHTS);
      for (int i = 0; i < fds.length; i++) {
        control.putInt(CMSG_HDR + 4L * i, fds[i]);
      }
      msg.putAddress(MSG_CONTROL, control.address());
      msg.putLong(MSG_CONTROLLEN, space);
    }
    while (true) {
      long n = libc().sendmsg(socket, msg, MSG_NOSIGNAL);
      if (n == payload.length) {
        break;
      }
      if (n >= 0) {
        // only a stream socket sends part of a message, and then the fds went with that part
        throw new NativeError("sendmsg (sent " + n + " of " + payload.length + " bytes)",
            Errno.EIO);
      }
      NativeError e = error("sendmsg");
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
    Reference.reachabilityFence(data);
    Reference.reachabilityFence(iov);
    Reference.reachabilityFence(control);
  }

  /**
   * recvmsg, blocking until a message comes: up to {@code maxPayload} bytes and up to
   * {@code maxFds} fds (close-on-exec), or null at end of file (the peer closed, or
   * {@link #shutdown}). On a SOCK_SEQPACKET socket a longer message, or one with more fds, fails
   * with EIO (its fds are closed): make the limits the protocol's maximum.
   */
  public static Message receive(int socket, int maxPayload, int maxFds) throws NativeError {
    if (maxPayload < 1 || maxFds < 0 || maxFds > MAX_FDS) {
      throw new IllegalArgumentException("receive needs maxPayload >= 1 and 0 <= maxFds <= "
          + MAX_FDS + ", got " + maxPayload + ", " + maxFds);
    }
    Runtime rt = LIBC.runtime();
    Pointer msg = Memory.allocateDirect(rt, MSGHDR_SIZE, true);
    Pointer iov = Memory.allocateDirect(rt, 16, true);
    Pointer data = Memory.allocateDirect(rt, maxPayload, true);
    // room for one more fd than allowed, so that an oversized message shows as such
    int controlSize = cmsgSpace(maxFds + 1);
    Pointer control = Memory.allocateDirect(rt, controlSize, true);
    iov.putAddress(0, data.address());
    iov.putLong(8, maxPayload);
    msg.putAddress(MSG_IOV, iov.address());
    msg.putLong(MSG_IOVLEN, 1);
    msg.putAddress(MSG_CONTROL, control.address());
    msg.putLong(MSG_CONTROLLEN, controlSize);
    long n;
    while (true) {
      n = libc().recvmsg(socket, msg, MSG_CMSG_CLOEXEC);
      if (n >= 0) {
        break;
      }
      NativeError e = error("recvmsg");
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
    int[] fds = rights(control, msg.getLong(MSG_CONTROLLEN));
    int flags = msg.getInt(MSG_FLAGS);
    if ((flags & (MSG_CTRUNC | MSG_TRUNC)) != 0 || fds.length > maxFds) {
      for (int fd : fds) {
        close(fd);
      }
      throw new NativeError("recvmsg (message larger than " + maxPayload + " bytes and "
          + maxFds + " fds)", Errno.EIO);
    }
    if (n == 0 && fds.length == 0) {
      return null;
    }
    byte[] payload = new byte[(int) n];
    data.get(0, payload, 0, payload.length);
    return new Message(payload, fds);
  }

  /** CMSG_SPACE for {@code n} fds. */
  private static int cmsgSpace(int n) {
    return CMSG_HDR + ((4 * n + 7) & ~7);
  }

  /** The fds of every SCM_RIGHTS header in a received control buffer. */
  private static int[] rights(Pointer control, long controlLen) {
    List<Integer> fds = new ArrayList<>();
    long off = 0;
    while (off + CMSG_HDR <= controlLen) {
      long len = control.getLong(off);
      if (len < CMSG_HDR || off + len > controlLen) {
        break;
      }
      int level = control.getInt(off + 8);
      int type = control.getInt(off + 12);
      if (level == SOL_SOCKET && type == SCM_RIGHTS) {
        for (long p = off + CMSG_HDR; p + 4 <= off + len; p += 4) {
          fds.add(control.getInt(p));
        }
      }
      off += (len + 7) & ~7L; // CMSG_ALIGN
    }
    return fds.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Receives one fd sent with SCM_RIGHTS on {@code socket}, without waiting: the sender has
   * already sent it (or ended). Returns -1 if none came. The fd arrives close-on-exec
   * (MSG_CMSG_CLOEXEC); any extra fds in the message are closed.
   */
  static int receiveFd(int socket) throws NativeError {
    Runtime rt = LIBC.runtime();
    Pointer msg = Memory.allocateDirect(rt, MSGHDR_SIZE, true);
    Pointer iov = Memory.allocateDirect(rt, 16, true);
    Pointer data = Memory.allocateDirect(rt, 1, true);
    Pointer control = Memory.allocateDirect(rt, CONTROL_SIZE, true);
    iov.putAddress(0, data.address());
    iov.putLong(8, 1);
    msg.putAddress(MSG_IOV, iov.address());
    msg.putLong(MSG_IOVLEN, 1);
    msg.putAddress(MSG_CONTROL, control.address());
    msg.putLong(MSG_CONTROLLEN, CONTROL_SIZE);
    long n;
    while (true) {
      n = libc().recvmsg(socket, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n >= 0) {
        break;
      }
      NativeError e = error("recvmsg");
      if (e.errno().equals(Errno.EAGAIN)) {
        return -1;
      }
      if (!e.errno().equals(Errno.EINTR)) {
        throw e;
      }
    }
    int fd = -1;
    for (int received : rights(control, msg.getLong(MSG_CONTROLLEN))) {
      if (fd < 0) {
        fd = received;
      } else {
        close(received);
      }
    }
    if (fd >= 0 && (msg.getInt(MSG_FLAGS) & MSG_CTRUNC) != 0) {
      // cannot happen with our buffer; if it did, some fd was lost: not one we trust
      close(fd);
      throw new NativeError("recvmsg (control data truncated)", Errno.EIO);
    }
    return fd;
  }
}
