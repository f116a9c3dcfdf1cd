package io.reactorfuse.internal.dispatch;

import io.reactorfuse.ops.FuseNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import io.reactorfuse.Errno;
import io.reactorfuse.ErrnoException;
import io.reactorfuse.FuseException;
import io.reactorfuse.FuseOps;
import io.reactorfuse.FuseSession;
import io.reactorfuse.internal.codec.InHeader;
import io.reactorfuse.internal.codec.MalformedRequestException;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.codec.ReplyEncoder;
import io.reactorfuse.internal.codec.RequestDecoder;
import io.reactorfuse.internal.transport.ReplyChannel;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.CreateReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FileLock;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.IoctlReply;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import io.reactorfuse.ops.StatfsReply;
import io.reactorfuse.ops.StatxReply;
import io.reactorfuse.spi.RequestJournal;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;

/**
 * Turns request bytes into {@link FuseOps} calls and their results into reply bytes. Knows nothing
 * of /dev/fuse: the transport hands it one request at a time with the {@link ReplyChannel} to
 * answer on, so tests drive it with literal bytes.
 *
 * <p>Threading: {@link #onRequest} runs on the thread that read the request (an event loop);
 * replies are written from whichever thread completes the handler's publisher.
 */
public final class Dispatcher {
  private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
  private static final Logger wiretapLog = LoggerFactory.getLogger("io.reactorfuse.wiretap");

  final FuseOps ops;
  final ReplyEncoder encoder;
  final boolean wiretap;
  private final Scheduler handlerScheduler;
  private final RequestJournal journal;
  /** By opcode: whether its replies go through {@link #journal}. */
  private static final boolean[] JOURNALED = new boolean[Opcode.MAX_CODE + 1];

  static {
    for (int code : RequestJournal.JOURNALED) {
      JOURNALED[code] = true;
    }
  }
  private final InitOptions options;
  private final Map<Long, InFlight> inFlight = new ConcurrentHashMap<>();
  /** INTERRUPTs whose request was not found: with clone fds it may still be on its way. */
  private static final int EARLY_INTERRUPTS_KEPT = 256;
  private final Map<Long, Boolean> earlyInterrupts = new ConcurrentHashMap<>();
  private final java.util.Queue<Long> earlyInterruptOrder =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final Set<String> loggedFailures = ConcurrentHashMap.newKeySet();
  private final Sinks.One<FuseInit> initialized = Sinks.one();
  private volatile FuseInit init;
  private volatile FuseSession session;
  private volatile boolean setxattrExt;
  private volatile Consumer<Request.NotifyReply> notifyReplyHandler;

  public Dispatcher(FuseOps ops, InitOptions options, ByteBufAllocator alloc, boolean wiretap) {
    this(ops, options, alloc, wiretap, null);
  }

  /**
   * @param handlerScheduler where handler methods are called, for filesystems that block; null
   *     calls them on the event loop that read the request
   */
  public Dispatcher(FuseOps ops, InitOptions options, ByteBufAllocator alloc, boolean wiretap,
      Scheduler handlerScheduler) {
    this(ops, options, alloc, wiretap, handlerScheduler, null);
  }

  /**
   * @param journal where the replies of non-idempotent requests are saved for a successor, and
   *     resent requests are answered from; null for none
   */
  public Dispatcher(FuseOps ops, InitOptions options, ByteBufAllocator alloc, boolean wiretap,
      Scheduler handlerScheduler, RequestJournal journal) {
    this.journal = journal;
    this.handlerScheduler = handlerScheduler;
    this.ops = ops;
    this.options = options;
    this.encoder = new ReplyEncoder(alloc);
    this.wiretap = wiretap;
  }

  /**
   * For a server that takes over a session whose INIT was answered earlier (by a process that
   * died): serve with that result, without waiting for an INIT that will not come again.
   */
  public void resume(FuseInit negotiated) {
    adopt(negotiated);
    initialized.tryEmitValue(negotiated);
  }

  /** The session handed to {@code FuseOps.init(FuseSession)}; set before the first request. */
  public void setSession(FuseSession session) {
    this.session = session;
  }

  /** Completes with the negotiated INIT once it has been answered, or errors if INIT failed. */
  public Mono<FuseInit> initialized() {
    return initialized.asMono();
  }

  /** The negotiated INIT, or null before it. */
  public FuseInit init() {
    return init;
  }

  /**
   * Who receives NOTIFY_REPLY requests, the kernel's answers to retrieve notifications (there is
   * one per session: the notifier). Called on the thread that read the request, which must not
   * block; the record's data is a slice of the read buffer, valid only during the call. Without
   * a handler they are dropped (the kernel expects no reply).
   */
  public void setNotifyReplyHandler(Consumer<Request.NotifyReply> handler) {
    this.notifyReplyHandler = handler;
  }

  /** How many requests are being served now. */
  public int inFlightCount() {
    return inFlight.size();
  }

  /**
   * Serves one request. {@code buf} holds exactly the bytes of one read.
   *
   * @return true if the request kept {@code buf} (WRITE payloads are sliced, not copied): the
   *     caller must read the next request into a new buffer. False: {@code buf} is free again.
   */
  public boolean onRequest(ReplyChannel channel, ByteBuf buf) {
    if (buf.readableBytes() < InHeader.SIZE) {
      log.warn("ignoring a {}-byte read: shorter than a request header", buf.readableBytes());
      return false;
    }
    InHeader h = InHeader.decode(buf);
    Opcode op = Opcode.of(h.opcodeCode());
    int bodyLength = h.bodyLength();
    if (h.len() != buf.readableBytes() || bodyLength < 0) {
      log.warn("request {} claims {} bytes (extensions {}), read {}: answered EIO",
          h.unique(), h.len(), h.totalExtlen() * 8, buf.readableBytes());
      if (op == null || op.replies()) {
        channel.send(encoder.error(h.unique(), Errno.EIO.code()));
      }
      return false;
    }
    if (op == null) {
      // An opcode newer than this table: ENOSYS is the honest answer.
      if (wiretap) {
        wiretapLog.info("unique {} unknown opcode {} -> ENOSYS", h.unique(), h.opcodeCode());
      }
      channel.send(encoder.error(h.unique(), Errno.ENOSYS.code()));
      return false;
    }
    Request req;
    try {
      req = RequestDecoder.decode(op, h.unique(), h.nodeId(),
          buf.slice(buf.readerIndex() + InHeader.SIZE, bodyLength), setxattrExt);
    } catch (MalformedRequestException | IndexOutOfBoundsException e) {
      logOnce(op, "malformed request", e);
      if (op.replies()) {
        channel.send(encoder.error(h.unique(), Errno.EIO.code()));
      }
      return false;
    }
    if (wiretap) {
      wiretapLog.info("unique {} {} node {} {}", h.unique(), op, h.nodeId(), req);
    }
    boolean maybeApplied = false;
    if (journal != null && JOURNALED[op.code()]) {
      long key = h.unique() & ~RequestJournal.RESEND_BIT;
      if (h.unique() < 0) {
        ByteBuffer saved = journal.savedReply(key);
        if (saved != null) {
          replayFromJournal(channel, h.unique(), op, saved);
          return false;
        }
        maybeApplied = journal.wasStarted(key);
      }
      journal.started(key, op.code());
    }
    FuseContext ctx = new FuseContext(h.unique(), h.nodeId(), h.uid(), h.gid(), h.pid(), umask(req),
        maybeApplied);
    switch (op) {
      case INIT:
        onInit(channel, h.unique(), (Request.Init) req);
        return false;
      case INTERRUPT:
        onInterrupt((Request.Interrupt) req);
        return false;
      case FORGET:
        noReply(op, () -> ops.forget(ctx, (Request.Forget) req));
        return false;
      case BATCH_FORGET:
        noReply(op, () -> ops.batchForget(ctx, (Request.BatchForget) req));
        return false;
      case NOTIFY_REPLY:
        // The answer to a retrieve notification: the kernel expects no reply. The handler copies
        // what it keeps, so the buffer is free again when it returns.
        onNotifyReply((Request.NotifyReply) req);
        return false;
      case READDIR:
      case READDIRPLUS: {
        DirectoryReply reply =
            new DirectoryReply(this, channel, op, h.unique(), (Request.Readdir) req);
        start(reply, invoke(op, ctx, req));
        return false;
      }
      default: {
        boolean keep = RequestDecoder.keepsBody(op);
        MonoReply reply =
            new MonoReply(this, channel, op, h.unique(), req, keep ? buf : null);
        start(reply, invoke(op, ctx, req));
        return keep;
      }
    }
  }

  /**
   * Answers a resent request with the reply an earlier worker saved: it ran already, and must
   * not run twice.
   */
  private void replayFromJournal(ReplyChannel channel, long unique, Opcode op, ByteBuffer saved) {
    ByteBuf reply = Unpooled.buffer(saved.remaining());
    reply.writeBytes(saved.duplicate());
    reply.setLongLE(8, unique); // out header {u32 len; s32 error; u64 unique}: echo bit 63
    if (wiretap) {
      wiretapLog.info("unique {} {} -> answered from the journal", unique, op);
    }
    long key = unique & ~RequestJournal.RESEND_BIT;
    channel.send(reply);
    journal.replied(key);
    journal.resentAnswered(key, op.code(), true);
  }

  /** Ends every request in flight without a reply: the session is gone. */
  public void abandonAll() {
    for (InFlight f : inFlight.values()) {
      f.abandon();
    }
  }

  private static int umask(Request req) {
    if (req instanceof Request.Mknod) {
      return ((Request.Mknod) req).umask();
    }
    if (req instanceof Request.Mkdir) {
      return ((Request.Mkdir) req).umask();
    }
    if (req instanceof Request.Create) {
      return ((Request.Create) req).umask();
    }
    return -1;
  }

  /** Calls the handler; a throw or a null is turned into an error publisher. */
  private Publisher<?> invoke(Opcode op, FuseContext ctx, Request req) {
    if (handlerScheduler != null) {
      // A blocking filesystem: the handler method itself runs on the scheduler, never the loop.
      return Flux.defer(() -> invokeNow(op, ctx, req)).subscribeOn(handlerScheduler);
    }
    return invokeNow(op, ctx, req);
  }

  private Publisher<?> invokeNow(Opcode op, FuseContext ctx, Request req) {
    try {
      Publisher<?> p = call(op, ctx, req);
      if (p == null) {
        return Mono.error(new IllegalStateException("FuseOps." + methodName(op) + " returned null"));
      }
      return p;
    } catch (Throwable t) {
      return Mono.error(t);
    }
  }

  private Publisher<?> call(Opcode op, FuseContext c, Request r) {
    switch (op) {
      case LOOKUP: return ops.lookup(c, (Request.Lookup) r);
      case GETATTR: return ops.getattr(c, (Request.Getattr) r);
      case SETATTR: return ops.setattr(c, (Request.Setattr) r);
      case READLINK: return ops.readlink(c, (Request.Readlink) r);
      case SYMLINK: return ops.symlink(c, (Request.Symlink) r);
      case MKNOD: return ops.mknod(c, (Request.Mknod) r);
      case MKDIR: return ops.mkdir(c, (Request.Mkdir) r);
      case UNLINK: return ops.unlink(c, (Request.Unlink) r);
      case RMDIR: return ops.rmdir(c, (Request.Rmdir) r);
      case RENAME: return ops.rename(c, (Request.Rename) r);
      case LINK: return ops.link(c, (Request.Link) r);
      case OPEN: return ops.open(c, (Request.Open) r);
      case READ: return ops.read(c, (Request.Read) r);
      case WRITE: return ops.write(c, (Request.Write) r);
      case STATFS: return ops.statfs(c, (Request.Statfs) r);
      case RELEASE: return ops.release(c, (Request.Release) r);
      case FSYNC: return ops.fsync(c, (Request.Fsync) r);
      case SETXATTR: return ops.setxattr(c, (Request.Setxattr) r);
      case GETXATTR: return ops.getxattr(c, (Request.Getxattr) r);
      case LISTXATTR: return ops.listxattr(c, (Request.Listxattr) r);
      case REMOVEXATTR: return ops.removexattr(c, (Request.Removexattr) r);
      case FLUSH: return ops.flush(c, (Request.Flush) r);
      case OPENDIR: return ops.opendir(c, (Request.Open) r);
      case READDIR: return ops.readdir(c, (Request.Readdir) r);
      case READDIRPLUS: return ops.readdirplus(c, (Request.Readdir) r);
      case RELEASEDIR: return ops.releasedir(c, (Request.Release) r);
      case FSYNCDIR: return ops.fsyncdir(c, (Request.Fsync) r);
      case GETLK: return ops.getlk(c, (Request.Lock) r);
      case SETLK: return ops.setlk(c, (Request.Lock) r);
      case SETLKW: return ops.setlkw(c, (Request.Lock) r);
      case ACCESS: return ops.access(c, (Request.Access) r);
      case CREATE: return ops.create(c, (Request.Create) r);
      case BMAP: return ops.bmap(c, (Request.Bmap) r);
      case DESTROY: return ops.destroy(c);
      case IOCTL: return ops.ioctl(c, (Request.Ioctl) r);
      case POLL: return ops.poll(c, (Request.Poll) r);
      case FALLOCATE: return ops.fallocate(c, (Request.Fallocate) r);
      case RENAME2: return ops.rename2(c, (Request.Rename) r);
      case LSEEK: return ops.lseek(c, (Request.Lseek) r);
      case COPY_FILE_RANGE:
      case COPY_FILE_RANGE_64: return ops.copyFileRange(c, (Request.CopyFileRange) r);
      case SETUPMAPPING: return ops.setupmapping(c, (Request.Setupmapping) r);
      case REMOVEMAPPING: return ops.removemapping(c, (Request.Removemapping) r);
      case SYNCFS: return ops.syncfs(c, (Request.Syncfs) r);
      case TMPFILE: return ops.tmpfile(c, (Request.Create) r);
      case STATX: return ops.statx(c, (Request.Statx) r);
      default: return Mono.error(Errno.ENOSYS.exception());
    }
  }

  /** The FuseOps method serving {@code op}: BATCH_FORGET is batchForget. */
  private static String methodName(Opcode op) {
    if (op == Opcode.COPY_FILE_RANGE_64) {
      op = Opcode.COPY_FILE_RANGE; // one method serves both
    }
    StringBuilder sb = new StringBuilder();
    for (String word : op.name().toLowerCase(java.util.Locale.ROOT).split("_")) {
      sb.append(sb.length() == 0 ? word
          : Character.toUpperCase(word.charAt(0)) + word.substring(1));
    }
    return sb.toString();
  }

  @SuppressWarnings("unchecked")
  private void start(InFlight reply, Publisher<?> publisher) {
    // Registered before subscribing so an INTERRUPT read next finds it; a reply that completes
    // during subscribe() removes it again (markDone).
    inFlight.put(reply.unique, reply);
    try {
      publisher.subscribe((CoreSubscriber<Object>) reply);
    } catch (Throwable t) {
      ((CoreSubscriber<Object>) reply).onError(t);
    }
    if (!earlyInterrupts.isEmpty() && earlyInterrupts.remove(reply.unique) != null) {
      reply.interrupt(); // its INTERRUPT was read first, on another clone fd
    }
  }

  void forgetInFlight(InFlight f) {
    inFlight.remove(f.unique, f);
  }

  /** Calls a handler that gets no reply; whatever it throws is logged, never propagated. */
  private void noReply(Opcode op, Supplier<Mono<Void>> handler) {
    try {
      Mono<Void> mono = handler.get();
      if (mono != null) {
        mono.subscribe(null, t -> logUnexpected(op, t));
      }
    } catch (Throwable t) {
      logUnexpected(op, t);
    }
  }

  /** READDIRPLUS produced an entry that did not fit: give its lookup back. */
  void forgetUnsent(long nodeId) {
    noReply(Opcode.FORGET, () -> ops.forget(
        new FuseContext(0, nodeId, 0, 0, 0, -1), new Request.Forget(nodeId, 1)));
  }

  private void onNotifyReply(Request.NotifyReply req) {
    Consumer<Request.NotifyReply> handler = notifyReplyHandler;
    if (handler == null) {
      return;
    }
    try {
      handler.accept(req);
    } catch (Throwable t) {
      logOnce(Opcode.NOTIFY_REPLY, "the NOTIFY_REPLY handler failed (logged once per cause)", t);
    }
  }

  private void onInterrupt(Request.Interrupt req) {
    InFlight target = inFlight.get(req.unique());
    if (target != null) {
      target.interrupt();
      return;
    }
    // Not found: already answered (the kernel needs no reply to INTERRUPT), or read by another
    // clone fd and not dispatched yet. Remember it for a while in case it is the latter.
    earlyInterrupts.put(req.unique(), Boolean.TRUE);
    earlyInterruptOrder.add(req.unique());
    while (earlyInterruptOrder.size() > EARLY_INTERRUPTS_KEPT) {
      Long oldest = earlyInterruptOrder.poll();
      if (oldest != null) {
        earlyInterrupts.remove(oldest);
      }
    }
  }

  private void onInit(ReplyChannel channel, long unique, Request.Init req) {
    FuseInit negotiated;
    try {
      negotiated = InitNegotiation.negotiate(req, options);
    } catch (FuseException e) {
      channel.send(encoder.error(unique, 71)); // EPROTO: the kernel fails the mount
      initialized.tryEmitError(e);
      return;
    }
    adopt(negotiated);
    if (journal != null) {
      journal.initNegotiated(negotiated); // before the reply: a successor must never miss it
    }
    Mono<Void> userInit;
    try {
      FuseSession s = session;
      userInit = s != null ? ops.init(s) : ops.init(negotiated);
    } catch (Throwable t) {
      userInit = Mono.error(t);
    }
    (userInit == null ? Mono.<Void>empty() : userInit).subscribe(
        null,
        t -> {
          logUnexpected(Opcode.INIT, t);
          channel.send(encoder.error(unique, Errno.from(t).code()));
          initialized.tryEmitError(new FuseException(
              "FuseOps.init failed, the kernel was told " + Errno.from(t).name(), Errno.from(t), t));
        },
        () -> {
          if (wiretap) {
            wiretapLog.info("unique {} INIT -> {}", unique, negotiated);
          }
          channel.send(encoder.init(unique, negotiated));
          initialized.tryEmitValue(negotiated);
        });
  }

  private void adopt(FuseInit negotiated) {
    init = negotiated;
    setxattrExt = negotiated.has(FuseInit.SETXATTR_EXT);
  }

  /** Encodes and sends the handler's value. */
  void sendValue(InFlight f, Object value) {
    ByteBuf out;
    try {
      out = encode(f, value);
    } catch (Throwable t) {
      ReferenceCountUtil.safeRelease(value);
      sendError(f, null, t);
      return;
    }
    if (out != null) {
      send(f, out, 0);
    }
  }

  void sendPacked(InFlight f, ByteBuf reply) {
    send(f, reply, 0);
  }

  /** Sends an errno reply: {@code errno} if given, else the one {@code cause} maps to. */
  void sendError(InFlight f, Errno errno, Throwable cause) {
    Errno e = errno != null ? errno : Errno.from(cause);
    if (cause != null && !(cause instanceof ErrnoException)) {
      logUnexpected(f.op, cause);
    }
    send(f, encoder.error(f.unique, e.code()), e.code());
  }

  private void send(InFlight f, ByteBuf reply, int errno) {
    if (wiretap) {
      wiretapLog.info("unique {} {} -> {} in {} us", f.unique, f.op,
          errno == 0 ? "ok, " + (reply.readableBytes() - ReplyEncoder.OUT_HEADER) + " bytes"
              : Errno.of(errno).name(),
          (System.nanoTime() - f.startNanos) / 1000);
    }
    if (journal == null) {
      f.channel.send(reply);
      return;
    }
    long key = f.unique & ~RequestJournal.RESEND_BIT;
    boolean journaled = JOURNALED[f.op.code()];
    if (journaled) {
      journal.replying(key, reply.nioBuffer());
    }
    f.channel.send(reply);
    if (journaled) {
      journal.replied(key);
    }
    if (f.unique < 0) {
      journal.resentAnswered(key, f.op.code(), false);
    }
  }

  /** The reply bytes for a successful handler, or null when sent already (READ). */
  private ByteBuf encode(InFlight f, Object v) {
    long u = f.unique;
    Opcode op = f.op;
    if (v == null && !returnsVoid(op)) {
      logOnce(op, "FuseOps." + methodName(op) + " completed without a value (a bug in the "
          + "filesystem): answered EIO", null);
      return encoder.error(u, Errno.EIO.code());
    }
    switch (op) {
      case LOOKUP:
      case MKNOD:
      case MKDIR:
      case SYMLINK:
      case LINK:
        return encoder.entry(u, (EntryReply) v);
      case GETATTR:
      case SETATTR:
        return encoder.attr(u, (AttrReply) v);
      case READLINK: {
        byte[] target = FuseNames.encode((String) v);
        return encoder.bytes(u, target, target.length);
      }
      case OPEN:
      case OPENDIR:
        return encoder.open(u, (OpenReply) v);
      case CREATE:
      case TMPFILE: {
        CreateReply c = (CreateReply) v;
        return encoder.create(u, c.entry(), c.open());
      }
      case READ:
        sendRead(f, (ByteBuf) v, ((Request.Read) f.request).size());
        return null;
      case WRITE:
        return encoder.write(u, (Integer) v);
      case STATFS:
        return encoder.statfs(u, (StatfsReply) v);
      case GETXATTR:
        return xattr(u, (byte[]) v, ((Request.Getxattr) f.request).size());
      case LISTXATTR: {
        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) v;
        return xattr(u, ReplyEncoder.xattrNames(names), ((Request.Listxattr) f.request).size());
      }
      case GETLK:
        return encoder.lock(u, (FileLock) v);
      case BMAP:
      case LSEEK:
      case COPY_FILE_RANGE_64:
        return encoder.u64(u, (Long) v);
      case COPY_FILE_RANGE:
        return encoder.write(u, (int) Math.min((Long) v, Integer.MAX_VALUE));
      case IOCTL:
        return encoder.ioctl(u, (IoctlReply) v, ((Request.Ioctl) f.request).outSize());
      case POLL:
        return encoder.poll(u, (Integer) v);
      case STATX:
        return encoder.statx(u, (StatxReply) v);
      default:
        return encoder.empty(u); // the Mono<Void> operations
    }
  }

  private static boolean returnsVoid(Opcode op) {
    switch (op) {
      case UNLINK: case RMDIR: case RENAME: case RENAME2: case RELEASE: case RELEASEDIR:
      case FSYNC: case FSYNCDIR: case SETXATTR: case REMOVEXATTR: case FLUSH: case SETLK:
      case SETLKW: case ACCESS: case FALLOCATE: case SETUPMAPPING: case REMOVEMAPPING:
      case SYNCFS: case DESTROY:
        return true;
      default:
        return false;
    }
  }

  /** GETXATTR/LISTXATTR: a size probe gets the size; a too-small buffer gets ERANGE. */
  private ByteBuf xattr(long unique, byte[] value, int size) {
    if (size == 0) {
      return encoder.xattrSize(unique, value.length);
    }
    if (value.length > size) {
      return encoder.error(unique, Errno.ERANGE.code());
    }
    return encoder.bytes(unique, value, value.length);
  }

  private void sendRead(InFlight f, ByteBuf data, int max) {
    int n = Math.min(data.readableBytes(), Math.max(max, 0));
    if (wiretap) {
      wiretapLog.info("unique {} READ -> ok, {} bytes in {} us", f.unique, n,
          (System.nanoTime() - f.startNanos) / 1000);
    }
    data.writerIndex(data.readerIndex() + n);
    f.channel.send(encoder.dataHeader(f.unique, n), data);
    if (journal != null && f.unique < 0) {
      journal.resentAnswered(f.unique & ~RequestJournal.RESEND_BIT, f.op.code(), false);
    }
  }

  /** Logs a handler failure that is not an errno, once per operation and cause. */
  void logUnexpected(Opcode op, Throwable t) {
    if (t instanceof ErrnoException) {
      return;
    }
    String outcome = op.replies() ? "answered " + Errno.from(t).name() : "no reply is sent";
    logOnce(op, "FuseOps." + methodName(op) + " failed; " + outcome
        + " (logged once per operation and cause)", t);
  }

  private void logOnce(Opcode op, String message, Throwable t) {
    String key = op + ":" + (t == null ? message : t.getClass().getName());
    if (loggedFailures.add(key)) {
      log.warn(message, t);
    }
  }
}
