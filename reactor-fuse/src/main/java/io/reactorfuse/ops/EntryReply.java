package io.reactorfuse.ops;

import java.time.Duration;
import java.util.Objects;

/**
 * The answer to LOOKUP, MKNOD, MKDIR, SYMLINK, LINK (and part of CREATE and READDIRPLUS).
 *
 * <p>Every entry with a non-zero {@code nodeId} that reaches the kernel adds one to that node's
 * lookup count; the kernel gives the counts back with FORGET. An entry with node id 0 is a
 * <em>negative</em> entry: the kernel caches "no such name" for {@code entryTimeout} and the
 * caller gets ENOENT.
 *
 * @param nodeId the node id the kernel will use for this name (0: negative entry)
 * @param generation distinguishes reuses of one node id (for NFS export)
 * @param attr the node's attributes
 * @param entryTimeout how long the kernel may cache the name
 * @param attrTimeout how long the kernel may cache the attributes
 */
public record EntryReply(
    long nodeId, long generation, Attr attr, Duration entryTimeout, Duration attrTimeout) {

  private static final Attr NO_ATTR = Attr.builder().nlink(0).build();

  public EntryReply {
    Objects.requireNonNull(attr, "attr");
    Objects.requireNonNull(entryTimeout, "entryTimeout");
    Objects.requireNonNull(attrTimeout, "attrTimeout");
  }

  /** An entry for {@code attr.ino()} with generation 0. */
  public static EntryReply of(Attr attr, Duration entryTimeout, Duration attrTimeout) {
    return new EntryReply(attr.ino(), 0, attr, entryTimeout, attrTimeout);
  }

  /** A negative entry: the kernel remembers for {@code timeout} that the name does not exist. */
  public static EntryReply negative(Duration timeout) {
    return new EntryReply(0, 0, NO_ATTR, timeout, Duration.ZERO);
  }
}
