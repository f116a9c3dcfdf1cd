package io.reactorfuse.internal.sys;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * The C library calls behind {@link Spawn}: a socket pair, a child process started with
 * posix_spawn (so that it can inherit the socket, which ProcessBuilder cannot do), sendmsg and
 * recvmsg for SCM_RIGHTS messages, waiting for and signalling children. Public only because
 * jnr-ffi implements it from another class loader.
 */
public interface LibSpawn {
  @SaveError
  int socketpair(int domain, int type, int protocol, @Out int[] sv);

  @SaveError
  int pipe2(@Out int[] fds, int flags);

  @SaveError
  long recvmsg(int fd, Pointer msg, int flags);

  @SaveError
  long sendmsg(int fd, Pointer msg, int flags);

  @SaveError
  int shutdown(int fd, int how);

  /** {@code newLimit} and {@code oldLimit} point to {@code struct rlimit} or are null. */
  @SaveError
  int prlimit(int pid, int resource, Pointer newLimit, Pointer oldLimit);

  @SaveError
  long read(int fd, @Out byte[] buf, long count);

  @SaveError
  int fcntl(int fd, int cmd, int arg);

  @SaveError
  int close(int fd);

  @SaveError
  int waitpid(int pid, @Out int[] status, int options);

  @SaveError
  int kill(int pid, int sig);

  /** {@code info} points to a 128-byte siginfo_t. */
  @SaveError
  int waitid(int idType, int id, Pointer info, int options);

  /** Returns an error number itself (0 on success); errno is not used. */
  int posix_spawn(@Out int[] pid, String path, Pointer fileActions, Pointer attr, Pointer argv,
      Pointer envp);

  int posix_spawn_file_actions_init(Pointer fileActions);

  int posix_spawn_file_actions_destroy(Pointer fileActions);

  int posix_spawn_file_actions_adddup2(Pointer fileActions, int fd, int newFd);

  int posix_spawn_file_actions_addopen(Pointer fileActions, int fd, String path, int flags,
      int mode);

  /** glibc 2.34 and later. */
  int posix_spawn_file_actions_addclosefrom_np(Pointer fileActions, int from);

  int posix_spawnattr_init(Pointer attr);

  int posix_spawnattr_destroy(Pointer attr);

  int posix_spawnattr_setflags(Pointer attr, short flags);

  int posix_spawnattr_setsigmask(Pointer attr, Pointer sigset);

  int posix_spawnattr_setsigdefault(Pointer attr, Pointer sigset);

  int posix_spawnattr_setpgroup(Pointer attr, int pgroup);

  int sigemptyset(Pointer sigset);

  int sigfillset(Pointer sigset);
}
