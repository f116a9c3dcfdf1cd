package io.reactorfuse;

/** How a mount is made. */
public enum MountMethod {
  /** mount(2) when running as root (euid 0), {@code fusermount3} otherwise. */
  AUTO,
  /** mount(2) directly: needs root (CAP_SYS_ADMIN). */
  SYSCALL,
  /** The setuid helper {@code fusermount3} (Debian package fuse3): for users without root. */
  FUSERMOUNT
}
