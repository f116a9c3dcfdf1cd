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
 */
public record FuseContext(long unique, long nodeId, int uid, int gid, int pid, int umask) {}
