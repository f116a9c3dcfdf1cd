package io.reactorfuse.internal.transport;

import io.netty.buffer.ByteBuf;

/**
 * Where the replies to the requests read from one fd go. Safe to call from any thread: each call
 * is one write(2), which the kernel takes whole.
 */
public interface ReplyChannel {
  /** Writes one complete reply and releases it. */
  void send(ByteBuf reply);

  /** Writes a reply made of a header and a payload in one writev(2), and releases both. */
  void send(ByteBuf header, ByteBuf payload);
}
