package io.reactorfuse.ops;

import java.util.Objects;

/** The answer to CREATE and TMPFILE: the new entry and the open file. */
public record CreateReply(EntryReply entry, OpenReply open) {
  public CreateReply {
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(open, "open");
  }
}
