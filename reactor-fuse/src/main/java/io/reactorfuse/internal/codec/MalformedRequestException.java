package io.reactorfuse.internal.codec;

/** A request whose bytes do not match its opcode's layout: answered EIO, never fatal. */
public final class MalformedRequestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MalformedRequestException(String message) {
    super(message, null, false, false);
  }
}
