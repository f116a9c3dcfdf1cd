package io.reactorfuse.spi;

import io.reactorfuse.ops.FuseInit;
import java.nio.ByteBuffer;

/**
 * What a server records so that another process can take over its session after it dies (see
 * {@code FuseServer.journal}): the negotiated INIT, and the replies of the requests that must not
 * run twice. Implemented by the recovery module on storage that outlives the process.
 *
 * <p><b>Exactly once.</b> When a worker dies, the kernel sends the requests it had not answered
 * again, to the next worker, with bit 63 of {@code unique} set ({@code FUSE_NOTIFY_RESEND}). The
 * dead worker may have carried some of them out already. For the {@linkplain #JOURNALED journaled
 * operations} the dispatcher therefore calls {@link #started} before the handler runs and
 * {@link #replying} with the reply's bytes before writing them; a resent request whose reply was
 * saved is answered from the journal instead of running again. One window is left: a crash after
 * the handler's effect and before {@link #replying}. A request resent from that window runs
 * again with {@code FuseContext.maybeApplied()} true, so the filesystem can take "already done"
 * (EEXIST from mkdir, ENOENT from unlink) as success.
 *
 * <p>Uniques given to this interface never have bit 63 set. Calls come from any thread.
 */
public interface RequestJournal {

  /** Bit 63 of {@code unique}: set by the kernel on a request sent again after RESEND. */
  long RESEND_BIT = 1L << 63;

  /**
   * The operations whose replies are journaled: those that change the filesystem, so running
   * them twice could give a different answer (EEXIST, ENOENT) or a different result (an append
   * done twice). Opcode numbers of the FUSE protocol: SETATTR 4, SYMLINK 6, MKNOD 8, MKDIR 9,
   * UNLINK 10, RMDIR 11, RENAME 12, LINK 13, WRITE 16, SETXATTR 21, REMOVEXATTR 24, CREATE 35,
   * FALLOCATE 43, RENAME2 45, COPY_FILE_RANGE 47, TMPFILE 51, COPY_FILE_RANGE_64 53.
   */
  java.util.Set<Integer> JOURNALED =
      java.util.Set.of(4, 6, 8, 9, 10, 11, 12, 13, 16, 21, 24, 35, 43, 45, 47, 51, 53);

  /** The INIT result, called before the INIT reply is written; a new worker resumes with it. */
  void initNegotiated(FuseInit init);

  /**
   * The reply an earlier worker saved for this request, whole as it was written (16-byte out
   * header first, whose unique the caller replaces), or null if none was saved.
   */
  ByteBuffer savedReply(long unique);

  /** Whether an earlier worker started this request and died before saving its reply. */
  boolean wasStarted(long unique);

  /** A journaled request's handler is about to run. */
  void started(long unique, int opcode);

  /**
   * A journaled request's reply is about to be written: save it before returning. {@code reply}
   * is the whole message; read it without changing its position.
   */
  void replying(long unique, ByteBuffer reply);

  /** The reply was written: the kernel will not send this request again, its entry can go. */
  void replied(long unique);

  /**
   * A resent request was answered (from the journal or by running it): for logs and
   * measurements of how long recovery took.
   */
  default void resentAnswered(long unique, int opcode, boolean fromJournal) {}
}
