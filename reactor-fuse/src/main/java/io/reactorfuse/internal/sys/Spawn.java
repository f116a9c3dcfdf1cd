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
 * A child process that inherits one socket as fd 3, and the SCM_RIGHTS message it sends back:
 * what {@link Fusermount} needs and {@link ProcessBuilder} cannot do (it closes every fd above 2
 * in the child). Layouts are those of x86-64 glibc.
 */
final class Spawn {
  static final int AF_UNIX = 1;
  static final int SOCK_STREAM = 1;
  static final int SOCK_CLOEXEC = 02000000;
  static final int O_RDONLY = 0;
  static final int F_GETFD = 1;
  static final int F_SETFD = 2;
  static final int F_GETFL = 3;
  static final int F_SETFL = 4;
  static final int FD_CLOEXEC = 1;
  static final int F_DUPFD_CLOEXEC = 1030;
  static final int WNOHANG = 1;
  static final int SIGKILL = 9;
  static final int MSG_DONTWAIT = 0x40;
  static final int MSG_CTRUNC = 0x08;
  static final int MSG_CMSG_CLOEXEC = 0x40000000;
  static final int SOL_SOCKET = 1;
  static final int SCM_RIGHTS = 1;
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
    int[] sv = new int[2];
    if (libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      throw error("socketpair");
    }
    return sv;
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

  static void close(int fd) {
    if (fd >= 0) {
      libc().close(fd);
    }
  }

  static void setNonBlocking(int fd) throws NativeError {
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
   * defaults. Returns the pid.
   */
  static int spawn(String path, List<String> argv, List<String> env, int outputFd, int passFd)
      throws NativeError {
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
      return spawnChecked(path, argv, env, out, pass);
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
      int passFd) throws NativeError {
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
        check("posix_spawnattr_setflags", c.posix_spawnattr_setflags(attr,
            (short) (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)));
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
  static int poll(int pid) throws NativeError {
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
  static int exitCode(int status) {
    int signal = status & 0x7f;
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
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
    long controlLen = msg.getLong(MSG_CONTROLLEN);
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
          int received = control.getInt(p);
          if (fd < 0) {
            fd = received;
          } else {
            close(received);
          }
        }
      }
      off += (len + 7) & ~7L; // CMSG_ALIGN
    }
    if (fd >= 0 && (msg.getInt(MSG_FLAGS) & MSG_CTRUNC) != 0) {
      // cannot happen with our buffer; if it did, some fd was lost: not one we trust
      close(fd);
      throw new NativeError("recvmsg (control data truncated)", Errno.EIO);
    }
    return fd;
  }
}
