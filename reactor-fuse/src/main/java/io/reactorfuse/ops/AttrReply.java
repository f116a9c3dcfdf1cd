package io.reactorfuse.ops;

import java.time.Duration;
import java.util.Objects;

/** The answer to GETATTR and SETATTR: the attributes and how long the kernel may cache them. */
public record AttrReply(Attr attr, Duration timeout) {
  public AttrReply {
    Objects.requireNonNull(attr, "attr");
    Objects.requireNonNull(timeout, "timeout");
  }
}
