package io.reactorfuse.internal.dispatch;

/**
 * What the server asks for in INIT (the builder's settings). The negotiation grants each wish
 * only where the kernel offered it.
 */
public record InitOptions(
    int maxWrite,
    int maxReadahead,
    int maxBackground,
    int congestionThreshold,
    int timeGran,
    long wantedFlags) {

  /** The protocol minor version this framework implements. */
  public static final int MINOR = 45;
  /** The oldest kernel protocol minor version it accepts. */
  public static final int OLDEST_MINOR = 31;

  /** The read buffer a session needs: a whole WRITE plus headers, at least the kernel's 8 KiB. */
  public int readBufferSize() {
    return Math.max(8192, maxWrite + 4096);
  }
}
