package io.reactorfuse.ops;

import io.netty.buffer.ByteBuf;
import java.util.List;

/**
 * The requests the kernel sends, decoded from its bytes: one record per request shape. Node ids
 * are the kernel's names for nodes ({@code 1} is the root, the others come from your
 * {@link EntryReply}s); {@code fh} values are the handles your {@link OpenReply}s chose.
 */
public sealed interface Request {

  /** The node id of the root directory. */
  long ROOT_ID = 1;

  /** LOOKUP: find {@code name} in directory {@code parent}; a success counts one lookup. */
  record Lookup(long parent, String name) implements Request {}

  /** FORGET (and each item of BATCH_FORGET): the kernel drops {@code nlookup} lookups. */
  record Forget(long nodeId, long nlookup) implements Request {}

  /** BATCH_FORGET: many forgets in one message. */
  record BatchForget(List<Forget> forgets) implements Request {}

  /** GETATTR; {@code fh} is valid only when {@link #hasFh()}. */
  record Getattr(long nodeId, int getattrFlags, long fh) implements Request {
    public static final int FUSE_GETATTR_FH = 1;

    public boolean hasFh() {
      return (getattrFlags & FUSE_GETATTR_FH) != 0;
    }
  }

  /**
   * SETATTR: change the attributes whose {@code FATTR_*} bit is set in {@code valid}
   * (chmod, chown, truncate, utimens).
   */
  record Setattr(
      long nodeId,
      int valid,
      long fh,
      long size,
      long lockOwner,
      long atimeSec,
      int atimeNsec,
      long mtimeSec,
      int mtimeNsec,
      long ctimeSec,
      int ctimeNsec,
      int mode,
      int uid,
      int gid)
      implements Request {
    public static final int FATTR_MODE = 1;
    public static final int FATTR_UID = 1 << 1;
    public static final int FATTR_GID = 1 << 2;
    public static final int FATTR_SIZE = 1 << 3;
    public static final int FATTR_ATIME = 1 << 4;
    public static final int FATTR_MTIME = 1 << 5;
    public static final int FATTR_FH = 1 << 6;
    public static final int FATTR_ATIME_NOW = 1 << 7;
    public static final int FATTR_MTIME_NOW = 1 << 8;
    public static final int FATTR_LOCKOWNER = 1 << 9;
    public static final int FATTR_CTIME = 1 << 10;
    public static final int FATTR_KILL_SUIDGID = 1 << 11;

    /** Whether {@code valid} has this {@code FATTR_*} bit. */
    public boolean has(int fattr) {
      return (valid & fattr) != 0;
    }
  }

  /** READLINK. */
  record Readlink(long nodeId) implements Request {}

  /** SYMLINK: create {@code name} in {@code parent} pointing to {@code target}. */
  record Symlink(long parent, String name, String target) implements Request {}

  /** MKNOD: create a regular file, device, fifo or socket. */
  record Mknod(long parent, String name, int mode, int rdev, int umask) implements Request {}

  /** MKDIR. {@code mode} has no file-type bits; add {@code S_IFDIR} yourself. */
  record Mkdir(long parent, String name, int mode, int umask) implements Request {}

  /** UNLINK. */
  record Unlink(long parent, String name) implements Request {}

  /** RMDIR. */
  record Rmdir(long parent, String name) implements Request {}

  /** RENAME (flags 0) and RENAME2. */
  record Rename(long parent, String name, long newParent, String newName, int flags)
      implements Request {
    public static final int RENAME_NOREPLACE = 1;
    public static final int RENAME_EXCHANGE = 1 << 1;
    public static final int RENAME_WHITEOUT = 1 << 2;
  }

  /** LINK: a new name {@code newName} in {@code newParent} for node {@code nodeId}. */
  record Link(long nodeId, long newParent, String newName) implements Request {}

  /** OPEN and OPENDIR; {@code flags} are the open(2) flags. */
  record Open(long nodeId, int flags, int openFlags) implements Request {
    /** {@code openFlags}: the kernel wants suid/sgid cleared (killpriv v2). */
    public static final int FUSE_OPEN_KILL_SUIDGID = 1;
  }

  /** READ. Reply with at most {@code size} bytes; fewer means end of file (unless direct I/O). */
  record Read(long nodeId, long fh, long offset, int size, int readFlags, long lockOwner, int flags)
      implements Request {}

  /**
   * WRITE. {@code data} belongs to the framework and is valid until the handler's Mono
   * terminates; {@code retain()} it to keep it longer (and release it yourself).
   */
  record Write(
      long nodeId, long fh, long offset, int writeFlags, long lockOwner, int flags, ByteBuf data)
      implements Request {
    public static final int FUSE_WRITE_CACHE = 1;
    public static final int FUSE_WRITE_LOCKOWNER = 1 << 1;
    public static final int FUSE_WRITE_KILL_SUIDGID = 1 << 2;
  }

  /** STATFS. */
  record Statfs(long nodeId) implements Request {}

  /** RELEASE and RELEASEDIR: the last close of an open file. */
  record Release(long nodeId, long fh, int flags, int releaseFlags, long lockOwner)
      implements Request {
    public static final int FUSE_RELEASE_FLUSH = 1;
    public static final int FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
  }

  /** FSYNC and FSYNCDIR. */
  record Fsync(long nodeId, long fh, int fsyncFlags) implements Request {
    /** fdatasync: only the data, not the metadata. */
    public boolean datasync() {
      return (fsyncFlags & 1) != 0;
    }
  }

  /** SETXATTR; {@code flags} are XATTR_CREATE (1) / XATTR_REPLACE (2). */
  record Setxattr(long nodeId, String name, byte[] value, int flags, int setxattrFlags)
      implements Request {
    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
  }

  /**
   * GETXATTR. The framework answers size probes ({@code size == 0}) and ERANGE itself: the
   * handler just returns the value.
   */
  record Getxattr(long nodeId, String name, int size) implements Request {}

  /** LISTXATTR; size probes and ERANGE are handled by the framework. */
  record Listxattr(long nodeId, int size) implements Request {}

  /** REMOVEXATTR. */
  record Removexattr(long nodeId, String name) implements Request {}

  /** FLUSH: called on each close(2) of an open file. */
  record Flush(long nodeId, long fh, long lockOwner) implements Request {}

  /** INIT, answered by the framework. {@code flags} holds flags2 in its high 32 bits. */
  record Init(int major, int minor, int maxReadahead, long flags) implements Request {}

  /** READDIR and READDIRPLUS: entries after {@code offset}, packed into {@code size} bytes. */
  record Readdir(long nodeId, long fh, long offset, int size) implements Request {}

  /** GETLK, SETLK and SETLKW. */
  record Lock(long nodeId, long fh, long owner, FileLock lock, int lkFlags) implements Request {
    public static final int FUSE_LK_FLOCK = 1;

    /** A flock(2) lock rather than a POSIX one. */
    public boolean flock() {
      return (lkFlags & FUSE_LK_FLOCK) != 0;
    }
  }

  /** ACCESS; {@code mask} is R_OK (4) | W_OK (2) | X_OK (1), or F_OK (0). */
  record Access(long nodeId, int mask) implements Request {}

  /** CREATE and TMPFILE: create and open. */
  record Create(long parent, String name, int flags, int mode, int umask, int openFlags)
      implements Request {}

  /** INTERRUPT, answered by the framework: {@code unique} is the interrupted request's. */
  record Interrupt(long unique) implements Request {}

  /** BMAP (block devices only). */
  record Bmap(long nodeId, long block, int blocksize) implements Request {}

  /** DESTROY: the session ends (sent for fuseblk mounts and virtiofs). */
  record Destroy() implements Request {}

  /** IOCTL (restricted: {@code in} holds {@code inSize} bytes copied in). */
  record Ioctl(
      long nodeId, long fh, int flags, int cmd, long arg, int inSize, int outSize, byte[] in)
      implements Request {}

  /** POLL. {@code kh} names this poll for a later wake-up notification. */
  record Poll(long nodeId, long fh, long kh, int flags, int events) implements Request {
    public static final int FUSE_POLL_SCHEDULE_NOTIFY = 1;
  }

  /**
   * NOTIFY_REPLY: the data the kernel returns for a retrieve notification. {@code unique} is the
   * header's unique, which the kernel sets to the retrieve's {@code notify_unique}: it names the
   * retrieve this answers. {@code offset} is the retrieve's offset; {@code data} holds what the
   * page cache had from there (possibly fewer bytes than asked, or none), and is a slice of the
   * read buffer, valid only during the call that hands it over: copy it to keep it.
   */
  record NotifyReply(long unique, long nodeId, long offset, ByteBuf data) implements Request {}

  /** FALLOCATE; {@code mode} as in fallocate(2). */
  record Fallocate(long nodeId, long fh, long offset, long length, int mode) implements Request {}

  /** LSEEK: SEEK_DATA (3) and SEEK_HOLE (4) are the interesting whence values. */
  record Lseek(long nodeId, long fh, long offset, int whence) implements Request {}

  /** COPY_FILE_RANGE and COPY_FILE_RANGE_64. */
  record CopyFileRange(
      long nodeId, long fhIn, long offIn, long nodeIdOut, long fhOut, long offOut, long len,
      long flags)
      implements Request {}

  /** SETUPMAPPING (DAX, virtiofs only). */
  record Setupmapping(long nodeId, long fh, long foffset, long len, long flags, long moffset)
      implements Request {}

  /** REMOVEMAPPING (DAX, virtiofs only). */
  record Removemapping(long nodeId, List<Mapping> mappings) implements Request {
    /** One mapping to remove. */
    public record Mapping(long moffset, long len) {}
  }

  /** SYNCFS. */
  record Syncfs(long nodeId) implements Request {}

  /** STATX; {@code sxMask} names the wanted {@code STATX_*} fields. */
  record Statx(long nodeId, int getattrFlags, long fh, int sxFlags, int sxMask)
      implements Request {}
}
