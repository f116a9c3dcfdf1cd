package io.reactorfuse.ops;

/**
 * Who sent a request: the kernel's header fields, plus the umask where the kernel sends one
 * (MKNOD, MKDIR, CREATE, TMPFILE; -1 elsewhere).
 *
 * @param unique the request's id, unique among the requests in flight (bit 63 set on a resend)
 * @param nodeId the node the request is about (the parent for name operations)
 * @param uid the caller's file-system user id
 * @param gid the caller's file-system group id
 * @param pid the calling thread's process id (0 when the kernel sends on its own behalf)
 * @param umask the caller's umask, or -1 where the request carries none
 * @param maybeApplied true only for a request resent after a worker died
 *     ({@link io.reactorfuse.spi.RequestJournal}) that the dead worker had started and may have
 *     carried out: a filesystem should take "already done" as success (EEXIST from mkdir of a
 *     directory that is there, ENOENT from unlink)
 */
public record FuseContext(long unique, long nodeId, int uid, int gid, int pid, int umask,
    boolean maybeApplied) {

  /** A request served for the first time. */
  public FuseContext(long unique, long nodeId, int uid, int gid, int pid, int umask) {
    this(unique, nodeId, uid, gid, pid, umask, false);
  }

  /** Whether the kernel sent this request again after a worker died (bit 63 of unique). */
  public boolean resent() {
    return unique < 0;
  }
}
