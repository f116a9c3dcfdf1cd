package io.reactorfuse;

/**
 * A mount or session could not be set up or went wrong. The message names the cause and, where
 * there is one, the fix.
 */
public class FuseException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final transient Errno errno;

  public FuseException(String message) {
    this(message, null, null);
  }

  public FuseException(String message, Errno errno, Throwable cause) {
    super(message, cause);
    this.errno = errno;
  }

  /** The system error behind this failure, or null if none. */
  public Errno errno() {
    return errno;
  }
}
