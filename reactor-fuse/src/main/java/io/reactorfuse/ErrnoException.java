package io.reactorfuse;

/**
 * Fails a FUSE request with a given errno. Stackless: expected errors (ENOENT on a lookup) are the
 * common case and must cost nothing. Obtain one from {@link Errno#exception()}.
 */
public final class ErrnoException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final transient Errno errno;

  ErrnoException(Errno errno) {
    super(errno.name() + ": " + errno.description(), null, false, false);
    this.errno = errno;
  }

  /** The errno the kernel will be told. */
  public Errno errno() {
    return errno;
  }
}
