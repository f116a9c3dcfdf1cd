package io.reactorfuse.recovery;

/**
 * The framework's spaces in a {@link RecoveryStore}, all below
 * {@link RecoveryStore#FIRST_USER_SPACE}. Numbers are part of the file format: never reuse one.
 * 0 is left unused, 4 to 15 are free for later framework tables.
 */
final class Spaces {

  /** The negotiated INIT, under key 0 ({@link StoreJournal#initNegotiated}). */
  static final int INIT = 1;

  /** A journaled request started, key its unique: {u64 written millis, u32 opcode}. */
  static final int INTENT = 2;

  /** A journaled request's reply, key its unique: {u64 written millis, reply bytes}. */
  static final int REPLY = 3;

  private Spaces() {}
}
