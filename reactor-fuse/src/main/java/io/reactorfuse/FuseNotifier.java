package io.reactorfuse;

import io.netty.buffer.ByteBuf;
import reactor.core.publisher.Mono;

/**
 * Tells the kernel that data changed behind its back. Each call returns a lazy Mono: on subscribe
 * it writes one notification to the mount's /dev/fuse fd, on the subscriber's thread, and
 * completes with the kernel's answer to that write. It fails with the kernel's errno
 * ({@link ErrnoException}): ENOENT for a node (or, for inval_entry and delete, a name) the kernel
 * does not have cached, which usually means there is nothing to invalidate; ENOSYS for a
 * notification newer than the kernel's protocol version (it is then not written); ENODEV once
 * the session is over.
 *
 * <p>Do not wait for a notification's Mono inside a handler of the same node: the kernel may hold
 * a lock that the notification needs (inval_entry and delete lock the parent directory, store and
 * inval_inode the file's pages). Subscribing from a handler without waiting is fine.
 */
public interface FuseNotifier {
  /**
   * INVAL_INODE: drop the node's cached attributes, and its cached data in
   * [offset, offset+length). A length of 0 or less means up to the end of the file; a negative
   * offset invalidates the attributes only. ENOENT if the kernel does not know the node.
   */
  Mono<Void> invalInode(long nodeId, long offset, long length);

  /**
   * INVAL_ENTRY: forget the name in {@code parent} (the next path walk looks it up again), or with
   * {@code expireOnly} only expire it (it stays usable until then, e.g. as a mount point;
   * protocol 7.38). Also invalidates the parent's attributes. ENOENT if the name is not cached.
   */
  Mono<Void> invalEntry(long parent, String name, boolean expireOnly);

  /**
   * DELETE: the name is gone from {@code parent}, and it pointed to {@code child}: like
   * {@link #invalEntry}, and if the cached name still points to {@code child}, that inode is
   * unlinked too (its link count drops to 0; a directory must be empty: ENOTEMPTY otherwise).
   * With {@code child} 0 it is a plain inval_entry. ENOENT if the name is not cached, or if it
   * points to another node (the kernel has dropped the name all the same).
   */
  Mono<Void> delete(long parent, long child, String name);

  /**
   * STORE: put {@code data} (its readable bytes) into the node's page cache at {@code offset},
   * extending the cached file size if it ends beyond it. The kernel serves later reads of those
   * pages without a READ request (for as long as it keeps the cache: see
   * {@code FOPEN_KEEP_CACHE}). Takes ownership of {@code data}: it is released when the Mono is
   * subscribed; the Mono writes once, a second subscription fails with IllegalStateException.
   * ENOENT if the kernel does not know the node.
   */
  Mono<Void> store(long nodeId, long offset, ByteBuf data);

  /**
   * RETRIEVE: what the node's page cache holds from {@code offset}, at most {@code size} bytes
   * (the kernel caps this at max_write, stops at the end of the file and at the first page not
   * cached: the result may be shorter, or empty). The kernel answers with a NOTIFY_REPLY; the
   * Mono completes with a copy, on the event loop that read it (publish elsewhere before
   * blocking). The caller owns the buffer and must release it. ENOENT if the kernel does not know
   * the node; ETIMEDOUT if no answer came within 30 s (the session ended).
   */
  Mono<ByteBuf> retrieve(long nodeId, long offset, int size);

  /**
   * POLL: wake up pollers waiting on the poll handle {@code kh} (from a POLL request with
   * {@code FUSE_POLL_SCHEDULE_NOTIFY}). An unknown handle is not an error.
   */
  Mono<Void> pollWakeup(long kh);

  /**
   * RESEND: the kernel re-queues every request read but not answered, on every fd of the
   * connection, with bit 63 set in their unique (protocol 7.40). With none in flight it does
   * nothing. Requests this server is serving now come again too: to take over from a dead
   * server, use {@code FuseServer.resendOnStart(true)}, which asks before reading anything.
   */
  Mono<Void> resend();

  /**
   * INC_EPOCH: every cached name looked up before this call becomes stale and is looked up again
   * when next used (protocol 7.44).
   */
  Mono<Void> incEpoch();

  /**
   * PRUNE: ask the kernel to drop these nodes from its caches if nothing uses them, which makes it
   * send their FORGETs (protocol 7.45). Unknown or busy nodes are skipped silently.
   */
  Mono<Void> prune(long... nodeIds);
}
