package io.reactorfuse;

import io.reactorfuse.ops.FuseInit;

/**
 * What a filesystem may ask of the session serving it. Handed to {@link FuseOps#init(FuseSession)}
 * before any other request is answered; the {@link FuseMount} is the same object.
 */
public interface FuseSession {

  /** What INIT negotiated with the kernel (null before INIT). */
  FuseInit init();

  /** Notifications to the kernel about this session's files. */
  FuseNotifier notifier();

  /**
   * Registers an open regular file for kernel passthrough ({@code FUSE_DEV_IOC_BACKING_OPEN}):
   * answer OPEN or CREATE with {@link io.reactorfuse.ops.OpenReply#passthrough} and the kernel
   * reads, writes and maps the file itself, without READ or WRITE requests. Close the id with
   * {@link #closeBacking} at RELEASE, not earlier (the opener may still be setting up).
   *
   * @param fd an open file descriptor of a regular file; the kernel takes its own reference
   * @return the backing id
   * @throws ErrnoException with the kernel's errno: EPERM without CAP_SYS_ADMIN or when
   *     passthrough was not negotiated ({@code FuseServer.passthrough(true)}), EINVAL for a file
   *     that is not regular
   */
  int openBacking(int fd);

  /** Releases a backing id ({@code FUSE_DEV_IOC_BACKING_CLOSE}). */
  void closeBacking(int backingId);
}
