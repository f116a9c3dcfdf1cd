package io.reactorfuse;

/** When the kernel should use READDIRPLUS (entries with their attributes) instead of READDIR. */
public enum ReaddirplusMode {
  /** Never: READDIR only. */
  NEVER,
  /** The kernel chooses: READDIRPLUS for the first listing of a directory and after lookups. */
  AUTO,
  /** Always READDIRPLUS. */
  ALWAYS
}
