package io.reactorfuse.ops;

import java.util.Objects;

/**
 * One entry of READDIRPLUS: the directory entry and the lookup result for it.
 *
 * <p>Every entry sent to the kernel with a non-zero node id, except "." and "..", counts as a
 * lookup. The framework takes entries one at a time; when an entry does not fit the kernel's
 * buffer it is not sent, and the framework gives its lookup back through
 * {@code FuseOps.forget(ctx, new Forget(nodeId, 1))}, so counts stay exact.
 */
public record DirEntryPlus(DirEntry dirEntry, EntryReply entry) {
  public DirEntryPlus {
    Objects.requireNonNull(dirEntry, "dirEntry");
    Objects.requireNonNull(entry, "entry");
  }
}
