package io.reactorfuse;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FileLock;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.IoctlReply;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.ops.StatfsReply;
import io.reactorfuse.ops.StatxReply;
import java.util.List;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A filesystem, in the kernel's own terms: one method per FUSE opcode, addressed by node id.
 *
 * <h2>Replies</h2>
 * Each method returns the reply the opcode allows. A Mono that errors becomes an errno reply
 * ({@link Errno#from(Throwable)}); a {@code Mono<Void>} that completes empty is success; a value
 * Mono that completes empty is a bug in the filesystem and is answered EIO (logged once per
 * operation). An exception thrown by the method itself is treated like an error Mono.
 *
 * <h2>Threading</h2>
 * Methods are called on the event loop that read the request. They must not block: a blocking
 * implementation wraps its work in {@code Mono.fromCallable(..).subscribeOn(scheduler)}. The
 * reply is written from whichever thread completes the Mono.
 *
 * <h2>Interrupts</h2>
 * When the caller is interrupted (a signal), the framework cancels the Mono's subscription and
 * answers EINTR. Cancellation must therefore undo nothing the caller can see, or the operation
 * must be made to finish regardless.
 *
 * <h2>Defaults and what the kernel remembers</h2>
 * Every method has a default. Most answer ENOSYS, and for some opcodes the kernel remembers that
 * answer for the life of the mount: each method's documentation says what an ENOSYS answer does.
 *
 * <h2>Lookup counts</h2>
 * Every successful LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE (and READDIRPLUS entry) adds one
 * to the node's lookup count; FORGET and BATCH_FORGET take counts away. A node whose count is
 * zero may be forgotten; until then its node id must stay valid, even after unlink.
 */
public interface FuseOps {

  /**
   * Called once the kernel and the server have agreed on the protocol, before any other request
   * is answered. Default: nothing.
   */
  default Mono<Void> init(FuseInit init) {
    return Mono.empty();
  }

  /**
   * Like {@link #init(FuseInit)}, with the session: for filesystems that register backing files
   * for kernel passthrough or send notifications. Default: {@code init(session.init())}.
   */
  default Mono<Void> init(FuseSession session) {
    return init(session.init());
  }

  /** DESTROY: the session ends cleanly (only fuseblk and virtiofs send it). Default: nothing. */
  default Mono<Void> destroy(FuseContext ctx) {
    return Mono.empty();
  }

  /**
   * LOOKUP: the entry for a name in a directory. Return {@link EntryReply#negative} to let the
   * kernel cache a miss, or ENOENT to not cache it. Default: ENOSYS (each lookup fails).
   */
  default Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    return Errno.ENOSYS.mono();
  }

  /** FORGET: drop {@code nlookup} lookups of a node. No reply is sent. Default: nothing. */
  default Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    return Mono.empty();
  }

  /** BATCH_FORGET: many forgets. No reply is sent. Default: {@link #forget} for each. */
  default Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
    return Flux.fromIterable(req.forgets()).concatMap(f -> forget(ctx, f)).then();
  }

  /** GETATTR. Default: ENOSYS (stat fails). */
  default Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    return Errno.ENOSYS.mono();
  }

  /** SETATTR: chmod, chown, truncate, utimens. Default: ENOSYS (each call fails). */
  default Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    return Errno.ENOSYS.mono();
  }

  /** READLINK: the symlink's target. Default: ENOSYS. */
  default Mono<String> readlink(FuseContext ctx, Request.Readlink req) {
    return Errno.ENOSYS.mono();
  }

  /** SYMLINK. Default: ENOSYS. */
  default Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    return Errno.ENOSYS.mono();
  }

  /** MKNOD (also used for regular files when CREATE answers ENOSYS). Default: ENOSYS. */
  default Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    return Errno.ENOSYS.mono();
  }

  /** MKDIR. Default: ENOSYS. */
  default Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return Errno.ENOSYS.mono();
  }

  /** UNLINK. Default: ENOSYS. */
  default Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return Errno.ENOSYS.mono();
  }

  /** RMDIR. Default: ENOSYS. */
  default Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return Errno.ENOSYS.mono();
  }

  /** RENAME without flags. Default: ENOSYS. */
  default Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * RENAME2: rename with RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT. Default: ENOSYS,
   * which the kernel remembers: every later rename with flags fails with EINVAL without asking.
   */
  default Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    return Errno.ENOSYS.mono();
  }

  /** LINK: a hard link. Default: ENOSYS. */
  default Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * OPEN. Default: success with handle 0. With {@code noOpenSupport} negotiated, an ENOSYS answer
   * is remembered as "open always succeeds" and OPEN is not sent again.
   */
  default Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    return Mono.just(OpenReply.of(0));
  }

  /**
   * READ: at most {@code size} bytes at {@code offset}. The returned buffer's ownership passes to
   * the framework, which releases it once written. Default: ENOSYS.
   */
  default Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    return Errno.ENOSYS.mono();
  }

  /** WRITE: returns the number of bytes written. Default: ENOSYS. */
  default Mono<Integer> write(FuseContext ctx, Request.Write req) {
    return Errno.ENOSYS.mono();
  }

  /** STATFS. Default: {@link StatfsReply#EMPTY}. */
  default Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    return Mono.just(StatfsReply.EMPTY);
  }

  /** RELEASE: the last close of an open file; the answer is ignored by callers. Default: ok. */
  default Mono<Void> release(FuseContext ctx, Request.Release req) {
    return Mono.empty();
  }

  /**
   * FSYNC. Default: ENOSYS, which the kernel remembers: every later fsync succeeds without
   * asking.
   */
  default Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * SETXATTR. Default: ENOSYS, which the kernel remembers: every later setxattr fails with
   * EOPNOTSUPP without asking.
   */
  default Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * GETXATTR: the whole value (the framework answers size probes and ERANGE). Return ENODATA for
   * a missing attribute. Default: ENOSYS, remembered: later calls fail with EOPNOTSUPP.
   */
  default Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * LISTXATTR: all names (the framework encodes them and answers size probes and ERANGE).
   * Default: ENOSYS, remembered: later calls fail with EOPNOTSUPP.
   */
  default Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
    return Errno.ENOSYS.mono();
  }

  /** REMOVEXATTR. Default: ENOSYS, remembered: later calls fail with EOPNOTSUPP. */
  default Mono<Void> removexattr(FuseContext ctx, Request.Removexattr req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * FLUSH: on every close(2). Default: ENOSYS, which the kernel remembers: later flushes succeed
   * without asking.
   */
  default Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * OPENDIR. Default: success with handle 0. With {@code noOpendirSupport} negotiated, ENOSYS is
   * remembered as "opendir always succeeds".
   */
  default Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return Mono.just(OpenReply.of(0));
  }

  /**
   * READDIR: the entries after {@code req.offset()}. The framework takes what fits the kernel's
   * buffer and cancels the rest; each entry's {@link DirEntry#offset()} is where the next listing
   * resumes. Default: ENOSYS.
   */
  default Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    return Flux.error(Errno.ENOSYS.exception());
  }

  /** RELEASEDIR. Default: ok. */
  default Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
    return Mono.empty();
  }

  /** FSYNCDIR. Default: ENOSYS, remembered: later calls succeed without asking. */
  default Mono<Void> fsyncdir(FuseContext ctx, Request.Fsync req) {
    return Errno.ENOSYS.mono();
  }

  /** GETLK (sent only with {@code posixLocks}): the lock that would conflict. Default: ENOSYS. */
  default Mono<FileLock> getlk(FuseContext ctx, Request.Lock req) {
    return Errno.ENOSYS.mono();
  }

  /** SETLK (sent only with {@code posixLocks} / {@code flockLocks}). Default: ENOSYS. */
  default Mono<Void> setlk(FuseContext ctx, Request.Lock req) {
    return Errno.ENOSYS.mono();
  }

  /** SETLKW: like SETLK, but waits for the lock (interrupts cancel the wait). Default: ENOSYS. */
  default Mono<Void> setlkw(FuseContext ctx, Request.Lock req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * ACCESS (not sent with {@code defaultPermissions}). Default: ENOSYS, which the kernel
   * remembers: later access checks succeed without asking.
   */
  default Mono<Void> access(FuseContext ctx, Request.Access req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * CREATE: create and open a regular file. Default: ENOSYS, which the kernel remembers: it then
   * uses MKNOD followed by OPEN.
   */
  default Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    return Errno.ENOSYS.mono();
  }

  /** BMAP (block-device filesystems). Default: ENOSYS, remembered. */
  default Mono<Long> bmap(FuseContext ctx, Request.Bmap req) {
    return Errno.ENOSYS.mono();
  }

  /** IOCTL (restricted ioctls only). Default: ENOSYS, remembered: later ioctls get ENOTTY. */
  default Mono<IoctlReply> ioctl(FuseContext ctx, Request.Ioctl req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * POLL: the ready events. Default: ENOSYS, which the kernel remembers: files then poll as always
   * readable and writable.
   */
  default Mono<Integer> poll(FuseContext ctx, Request.Poll req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * FALLOCATE. Default: ENOSYS, which the kernel remembers: later calls fail with EOPNOTSUPP.
   */
  default Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * READDIRPLUS: entries with their lookup results (see {@link DirEntryPlus} for lookup counts).
   * Default: {@link #readdir} with a {@link #lookup} for each entry but "." and "..".
   */
  default Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    return readdir(ctx, req).concatMap(d -> {
      if (d.name().equals(".") || d.name().equals("..")) {
        return Mono.just(new DirEntryPlus(d, EntryReply.negative(java.time.Duration.ZERO)));
      }
      return lookup(ctx, new Request.Lookup(req.nodeId(), d.name()))
          .map(e -> new DirEntryPlus(d, e));
    });
  }

  /** LSEEK (SEEK_DATA / SEEK_HOLE). Default: ENOSYS, remembered: the kernel seeks by itself. */
  default Mono<Long> lseek(FuseContext ctx, Request.Lseek req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * COPY_FILE_RANGE and COPY_FILE_RANGE_64: bytes copied. Default: ENOSYS, remembered: the kernel
   * copies through READ and WRITE.
   */
  default Mono<Long> copyFileRange(FuseContext ctx, Request.CopyFileRange req) {
    return Errno.ENOSYS.mono();
  }

  /** SETUPMAPPING (DAX, virtiofs only). Default: ENOSYS. */
  default Mono<Void> setupmapping(FuseContext ctx, Request.Setupmapping req) {
    return Errno.ENOSYS.mono();
  }

  /** REMOVEMAPPING (DAX, virtiofs only). Default: ENOSYS. */
  default Mono<Void> removemapping(FuseContext ctx, Request.Removemapping req) {
    return Errno.ENOSYS.mono();
  }

  /** SYNCFS. Default: ENOSYS, remembered: syncfs succeeds without asking. */
  default Mono<Void> syncfs(FuseContext ctx, Request.Syncfs req) {
    return Errno.ENOSYS.mono();
  }

  /** TMPFILE (O_TMPFILE). Default: ENOSYS, remembered: later calls fail with EOPNOTSUPP. */
  default Mono<CreateReply> tmpfile(FuseContext ctx, Request.Create req) {
    return Errno.ENOSYS.mono();
  }

  /**
   * STATX. Default: ENOSYS, which the kernel remembers: it then answers statx(2) from GETATTR.
   */
  default Mono<StatxReply> statx(FuseContext ctx, Request.Statx req) {
    return Errno.ENOSYS.mono();
  }
}
