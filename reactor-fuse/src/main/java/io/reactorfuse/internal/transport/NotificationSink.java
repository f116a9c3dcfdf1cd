package io.reactorfuse.internal.transport;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.Errno;

/** Writes kernel notifications: unlike replies, their errors matter to the sender. */
public interface NotificationSink {
  /**
   * Writes one complete notification (out header with the notify code, then its body) and
   * releases it.
   *
   * @return null on success, else the errno the kernel answered the write with
   */
  Errno notify(ByteBuf notification);
}
