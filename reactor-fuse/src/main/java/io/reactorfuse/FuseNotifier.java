package io.reactorfuse;

import io.netty.buffer.ByteBuf;
import reactor.core.publisher.Mono;

/**
 * Tells the kernel that data changed behind its back. Each call writes one notification to the
 * mount's /dev/fuse fd; the Mono fails with the kernel's errno ({@link ErrnoException}), for
 * example ENOENT for a node the kernel does not know, ENOSYS where the kernel is too old.
 *
 * <p>Do not wait for a notification's Mono inside a handler of the same node: the kernel may hold
 * a lock that the notification needs (inval_entry and delete lock the parent directory).
 */
public interface FuseNotifier {
  /** INVAL_INODE: drop cached attributes and the data in [offset, offset+length) (length 0: all). */
  Mono<Void> invalInode(long nodeId, long offset, long length);

  /** INVAL_ENTRY: forget the name (or, with {@code expireOnly}, only expire it). */
  Mono<Void> invalEntry(long parent, String name, boolean expireOnly);

  /** DELETE: the name is gone, and it pointed to {@code child}. */
  Mono<Void> delete(long parent, long child, String name);

  /** STORE: put {@code data} into the page cache at {@code offset}. Releases {@code data}. */
  Mono<Void> store(long nodeId, long offset, ByteBuf data);

  /** RETRIEVE: what the page cache holds at [offset, offset+size). The caller owns the buffer. */
  Mono<ByteBuf> retrieve(long nodeId, long offset, int size);

  /** POLL: wake up pollers waiting on the poll handle {@code kh}. */
  Mono<Void> pollWakeup(long kh);

  /** RESEND: the kernel re-queues every request read but not answered (protocol 7.40). */
  Mono<Void> resend();

  /** INC_EPOCH: every cached entry becomes stale (protocol 7.44). */
  Mono<Void> incEpoch();

  /** PRUNE: ask the kernel to forget these nodes if unused (protocol 7.45). */
  Mono<Void> prune(long... nodeIds);
}
