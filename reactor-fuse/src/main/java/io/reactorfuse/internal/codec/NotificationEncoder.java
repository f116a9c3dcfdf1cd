package io.reactorfuse.internal.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Kernel notifications to bytes. A notification is a {@code fuse_out_header} whose {@code unique}
 * is 0 and whose {@code error} holds the (positive) notify code, followed by the code's
 * {@code fuse_notify_*_out} struct. Each method returns one direct buffer, ready for a single
 * write(2); the caller owns it.
 *
 * <p>Layouts checked against the BTF of the project's 6.18 kernel (protocol 7.45):
 * {@code bpftool btf dump file /sys/kernel/btf/vmlinux format c | grep -A8 'struct fuse_notify_'}.
 */
public final class NotificationEncoder {
  /** fuse_notify_code: the value written in the out header's error field. */
  public static final int POLL = 1;
  public static final int INVAL_INODE = 2;
  public static final int INVAL_ENTRY = 3;
  public static final int STORE = 4;
  public static final int RETRIEVE = 5;
  public static final int DELETE = 6;
  /** Protocol 7.40. */
  public static final int RESEND = 7;
  /** Protocol 7.44. */
  public static final int INC_EPOCH = 8;
  /** Protocol 7.45. */
  public static final int PRUNE = 9;

  /** fuse_notify_inval_entry_out.flags: only expire the entry, keep it (protocol 7.38). */
  public static final int FUSE_EXPIRE_ONLY = 1;

  static final int POLL_WAKEUP_OUT = 8;
  static final int INVAL_INODE_OUT = 24;
  static final int INVAL_ENTRY_OUT = 16;
  static final int DELETE_OUT = 24;
  static final int STORE_OUT = 24;
  static final int RETRIEVE_OUT = 32;
  static final int PRUNE_OUT = 16;

  private final ByteBufAllocator alloc;

  public NotificationEncoder(ByteBufAllocator alloc) {
    this.alloc = alloc;
  }

  /** The out header of a notification with {@code bodyLength} bytes after it. */
  private ByteBuf begin(int code, int bodyLength) {
    ByteBuf buf = alloc.directBuffer(ReplyEncoder.OUT_HEADER + bodyLength);
    return buf.writeIntLE(ReplyEncoder.OUT_HEADER + bodyLength) // len
        .writeIntLE(code)                                       // error = the notify code
        .writeLongLE(0);                                        // unique = 0: a notification
  }

  /** POLL: {@code fuse_notify_poll_wakeup_out {u64 kh}}. */
  public ByteBuf pollWakeup(long kh) {
    return begin(POLL, POLL_WAKEUP_OUT).writeLongLE(kh);
  }

  /** INVAL_INODE: {@code fuse_notify_inval_inode_out {u64 ino; s64 off; s64 len}}. */
  public ByteBuf invalInode(long nodeId, long offset, long length) {
    return begin(INVAL_INODE, INVAL_INODE_OUT)
        .writeLongLE(nodeId).writeLongLE(offset).writeLongLE(length);
  }

  /**
   * INVAL_ENTRY: {@code fuse_notify_inval_entry_out {u64 parent; u32 namelen; u32 flags}}, the
   * name and a NUL (the kernel checks both the length and the NUL).
   */
  public ByteBuf invalEntry(long parent, byte[] name, int flags) {
    return begin(INVAL_ENTRY, INVAL_ENTRY_OUT + name.length + 1)
        .writeLongLE(parent).writeIntLE(name.length).writeIntLE(flags)
        .writeBytes(name).writeByte(0);
  }

  /**
   * DELETE: {@code fuse_notify_delete_out {u64 parent; u64 child; u32 namelen; u32 padding}},
   * the name and a NUL.
   */
  public ByteBuf delete(long parent, long child, byte[] name) {
    return begin(DELETE, DELETE_OUT + name.length + 1)
        .writeLongLE(parent).writeLongLE(child).writeIntLE(name.length).writeIntLE(0)
        .writeBytes(name).writeByte(0);
  }

  /**
   * STORE: {@code fuse_notify_store_out {u64 nodeid; u64 offset; u32 size; u32 padding}} then the
   * data, copied: one buffer makes one write(2). Does not release {@code data}.
   */
  public ByteBuf store(long nodeId, long offset, ByteBuf data) {
    int size = data.readableBytes();
    return begin(STORE, STORE_OUT + size)
        .writeLongLE(nodeId).writeLongLE(offset).writeIntLE(size).writeIntLE(0)
        .writeBytes(data, data.readerIndex(), size);
  }

  /**
   * RETRIEVE: {@code fuse_notify_retrieve_out {u64 notify_unique; u64 nodeid; u64 offset;
   * u32 size; u32 padding}}. The kernel answers with a NOTIFY_REPLY request whose header unique
   * is {@code notifyUnique}.
   */
  public ByteBuf retrieve(long notifyUnique, long nodeId, long offset, int size) {
    return begin(RETRIEVE, RETRIEVE_OUT)
        .writeLongLE(notifyUnique).writeLongLE(nodeId).writeLongLE(offset)
        .writeIntLE(size).writeIntLE(0);
  }

  /** RESEND: the header alone. */
  public ByteBuf resend() {
    return begin(RESEND, 0);
  }

  /** INC_EPOCH: the header alone. */
  public ByteBuf incEpoch() {
    return begin(INC_EPOCH, 0);
  }

  /**
   * PRUNE: {@code fuse_notify_prune_out {u32 count; u32 padding; u64 spare}} then {@code count}
   * u64 node ids (the kernel checks that the length matches the count exactly).
   */
  public ByteBuf prune(long[] nodeIds) {
    ByteBuf buf = begin(PRUNE, PRUNE_OUT + 8 * nodeIds.length)
        .writeIntLE(nodeIds.length).writeIntLE(0).writeLongLE(0);
    for (long id : nodeIds) {
      buf.writeLongLE(id);
    }
    return buf;
  }
}
