package io.reactorfuse.internal.sys;

import io.reactorfuse.Errno;

/** A failed system call and its errno. */
public final class NativeError extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient Errno errno;

  NativeError(String call, Errno errno) {
    super(call + " failed: " + errno.name() + " (" + errno.description() + ")");
    this.errno = errno;
  }

  public Errno errno() {
    return errno;
  }
}
