package io.reactorfuse;

import java.nio.file.Path;
import java.time.Duration;

/** The builder's state; copied on every setter so that {@link FuseServer} stays immutable. */
final class ServerConfig implements Cloneable {
  Path mountPoint;
  FuseOps ops;
  String fsName = "reactor-fuse";
  String subtype;
  boolean allowOther;
  boolean defaultPermissions;
  boolean readOnly;
  boolean noSuid;
  boolean noDev;
  int maxRead;
  int userId = -1;
  int groupId = -1;
  int maxWrite = 1 << 20;
  int maxReadahead = Integer.MAX_VALUE;
  int maxBackground = 64;
  int congestionThreshold = 48;
  int timeGranularity = 1;
  boolean asyncRead = true;
  boolean parallelDirops = true;
  ReaddirplusMode readdirplus;
  boolean writebackCache;
  boolean exportSupport;
  boolean posixAcl;
  boolean atomicOTrunc;
  boolean handleKillprivV2;
  boolean cacheSymlinks;
  boolean noOpenSupport;
  boolean noOpendirSupport;
  boolean explicitInvalData;
  boolean posixLocks;
  boolean flockLocks;
  boolean passthrough;
  boolean debug;
  Duration initTimeout = Duration.ofSeconds(30);
  int threads = 1;
  io.netty.channel.IoEventLoopGroup eventLoopGroup;
  reactor.core.scheduler.Scheduler handlerScheduler;
  MountMethod mountMethod = MountMethod.AUTO;
  /** fds already mounted (session fd first, then clones), for a restarted server; else null. */
  int[] existingFds;
  /** With existingFds: ask the kernel to resend a dead predecessor's requests before reading. */
  boolean resendOnStart;
  /** Where replies of non-idempotent requests are saved for a successor; null: nowhere. */
  io.reactorfuse.spi.RequestJournal journal;
  /** The INIT result of an earlier server of this session, when INIT will not come again. */
  io.reactorfuse.ops.FuseInit resumeInit;

  ServerConfig copy() {
    try {
      return (ServerConfig) clone();
    } catch (CloneNotSupportedException e) {
      throw new AssertionError(e);
    }
  }
}
