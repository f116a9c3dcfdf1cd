package io.reactorfuse.ops;

/**
 * The answer to a restricted IOCTL: the ioctl's return value and the bytes to copy out to the
 * caller (at most the request's {@code outSize}).
 */
public record IoctlReply(int result, byte[] out) {
  public IoctlReply {
    out = out == null ? new byte[0] : out;
  }
}
