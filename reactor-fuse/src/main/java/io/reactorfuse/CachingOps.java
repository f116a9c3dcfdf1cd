package io.reactorfuse;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.CacheCore.Key;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The {@link FuseOps} {@link LookupCache#wrap} returns. Every method delegates to the backend
 * (so the backend's defaults, and what the kernel remembers of them, stay as they were); LOOKUP
 * and GETATTR are answered from the cache when they can be, the mutations are bracketed by
 * {@link CacheCore.Op}, FORGET is split between the cache's share and the backend's. Handlers in
 * opcode order, as in {@link FuseOps}.
 */
final class CachingOps implements FuseOps {
  private static final Logger log = LoggerFactory.getLogger(CachingOps.class);
  /** open(2)'s O_TRUNC: with atomic_o_trunc, OPEN truncates. */
  private static final int O_TRUNC = 01000;

  private final FuseOps backend;

  /** The wrapped filesystem: what the server inspects to choose INIT defaults. */
  FuseOps backend() {
    return backend;
  }
  private final CacheCore core;
  private final LookupCache owner;
  private final AtomicBoolean giveBackFailed = new AtomicBoolean();

  CachingOps(FuseOps backend, CacheCore core, LookupCache owner) {
    this.backend = backend;
    this.core = core;
    this.owner = owner;
    core.giveBack(this::giveBack);
  }

  /**
   * Gives the backend back the lookup of {@code n} the cache kept (see {@link CacheCore#forget}):
   * a FORGET with unique 0, as the framework sends for a READDIRPLUS entry that did not fit, so
   * that a mirror is not told of it either. Nobody waits for it: failures are logged once.
   */
  private void giveBack(long n) {
    Mono<Void> m = call(() -> backend.forget(new FuseContext(0, n, 0, 0, 0, -1),
        new Request.Forget(n, 1)));
    m.subscribe(null, e -> {
      if (giveBackFailed.compareAndSet(false, true)) {
        log.warn("giving back the cache's lookup of node {} failed (logged once)", n, e);
      }
    });
  }

  @Override
  public Mono<Void> init(FuseInit init) {
    return backend.init(init);
  }

  @Override
  public Mono<Void> init(FuseSession session) {
    owner.session(session);
    return backend.init(session);
  }

  @Override
  public Mono<Void> destroy(FuseContext ctx) {
    // Emptied before too, so that the retained lookups go back while the backend still runs.
    return Mono.defer(() -> {
      core.clear();
      return call(() -> backend.destroy(ctx));
    }).doOnTerminate(core::clear);
  }

  @Override
  public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    // Deferred, like everything here: a hit counts a lookup, which only a subscriber may do.
    return Mono.defer(() -> {
      Key key = new Key(req.parent(), req.name());
      if (!CacheCore.isDots(req.name())) {
        EntryReply hit = core.lookupHit(key);
        if (hit != null) {
          return Mono.just(hit);
        }
      }
      core.entryMisses.increment();
      long start = core.start();
      return call(() -> backend.lookup(ctx, req))
          .doOnNext(reply -> core.lookedUp(key, reply, start))
          .doOnError(e -> {
            if (Errno.from(e) == Errno.ENOENT) {
              core.lookupFailedNoent(key, start);
            }
          });
    });
  }

  @Override
  public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
    return Mono.defer(() -> {
      long forward = core.forget(req.nodeId(), req.nlookup());
      if (fromKernel(ctx)) {
        core.tellForgotten(req.nodeId(), req.nlookup());
      }
      return forward == 0 ? Mono.empty()
          : call(() -> backend.forget(ctx, new Request.Forget(req.nodeId(), forward)));
    });
  }

  @Override
  public Mono<Void> batchForget(FuseContext ctx, Request.BatchForget req) {
    return Mono.defer(() -> {
      List<Request.Forget> forward = new ArrayList<>(req.forgets().size());
      for (Request.Forget f : req.forgets()) {
        long n = core.forget(f.nodeId(), f.nlookup());
        if (fromKernel(ctx)) {
          core.tellForgotten(f.nodeId(), f.nlookup());
        }
        if (n != 0) {
          forward.add(n == f.nlookup() ? f : new Request.Forget(f.nodeId(), n));
        }
      }
      return forward.isEmpty() ? Mono.empty()
          : call(() -> backend.batchForget(ctx, new Request.BatchForget(forward)));
    });
  }

  /**
   * Whether a FORGET came from the kernel. The framework gives back the lookup of a READDIRPLUS
   * entry that did not fit the kernel's buffer as a FORGET with unique 0: that lookup never
   * reached the kernel, so a mirror counting the kernel's lookups must not hear of it.
   */
  private static boolean fromKernel(FuseContext ctx) {
    return ctx.unique() != 0;
  }

  @Override
  public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    return Mono.defer(() -> {
      long n = req.nodeId();
      AttrReply hit = core.attrHit(n);
      if (hit != null) {
        return Mono.just(hit);
      }
      core.attrMisses.increment();
      long start = core.start();
      return call(() -> backend.getattr(ctx, req))
          .doOnNext(reply -> core.gotAttrs(n, reply, start));
    });
  }

  @Override
  public Mono<AttrReply> setattr(FuseContext ctx, Request.Setattr req) {
    long n = req.nodeId();
    return mutate(List.of(), () -> nodes(n), () -> backend.setattr(ctx, req),
        (op, reply) -> op.attrs(n, reply));
  }

  @Override
  public Mono<String> readlink(FuseContext ctx, Request.Readlink req) {
    return backend.readlink(ctx, req);
  }

  @Override
  public Mono<EntryReply> symlink(FuseContext ctx, Request.Symlink req) {
    return creation(req.parent(), req.name(), () -> backend.symlink(ctx, req));
  }

  @Override
  public Mono<EntryReply> mknod(FuseContext ctx, Request.Mknod req) {
    return creation(req.parent(), req.name(), () -> backend.mknod(ctx, req));
  }

  @Override
  public Mono<EntryReply> mkdir(FuseContext ctx, Request.Mkdir req) {
    return creation(req.parent(), req.name(), () -> backend.mkdir(ctx, req));
  }

  @Override
  public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
    return removal(req.parent(), req.name(), () -> backend.unlink(ctx, req));
  }

  @Override
  public Mono<Void> rmdir(FuseContext ctx, Request.Rmdir req) {
    return removal(req.parent(), req.name(), () -> backend.rmdir(ctx, req));
  }

  @Override
  public Mono<Void> rename(FuseContext ctx, Request.Rename req) {
    return renaming(req, () -> backend.rename(ctx, req));
  }

  @Override
  public Mono<Void> rename2(FuseContext ctx, Request.Rename req) {
    return renaming(req, () -> backend.rename2(ctx, req));
  }

  @Override
  public Mono<EntryReply> link(FuseContext ctx, Request.Link req) {
    Key key = new Key(req.newParent(), req.newName());
    Supplier<long[]> nodes = () -> nodes(nodes(req.newParent(), req.nodeId()),
        core.candidates(key));
    return mutate(List.of(key), nodes, () -> backend.link(ctx, req),
        (op, reply) -> op.created(key, reply));
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    if ((req.flags() & O_TRUNC) == 0) {
      return backend.open(ctx, req);
    }
    return mutate(List.of(), () -> nodes(req.nodeId()), () -> backend.open(ctx, req), null);
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    return backend.read(ctx, req);
  }

  @Override
  public Mono<Integer> write(FuseContext ctx, Request.Write req) {
    return mutate(List.of(), () -> nodes(req.nodeId()), () -> backend.write(ctx, req), null);
  }

  @Override
  public Mono<StatfsReply> statfs(FuseContext ctx, Request.Statfs req) {
    return backend.statfs(ctx, req);
  }

  @Override
  public Mono<Void> release(FuseContext ctx, Request.Release req) {
    return backend.release(ctx, req);
  }

  @Override
  public Mono<Void> fsync(FuseContext ctx, Request.Fsync req) {
    return backend.fsync(ctx, req);
  }

  @Override
  public Mono<Void> setxattr(FuseContext ctx, Request.Setxattr req) {
    return mutateVoid(List.of(), () -> nodes(req.nodeId()), () -> backend.setxattr(ctx, req),
        op -> { });
  }

  @Override
  public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
    return backend.getxattr(ctx, req);
  }

  @Override
  public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
    return backend.listxattr(ctx, req);
  }

  @Override
  public Mono<Void> removexattr(FuseContext ctx, Request.Removexattr req) {
    return mutateVoid(List.of(), () -> nodes(req.nodeId()), () -> backend.removexattr(ctx, req),
        op -> { });
  }

  @Override
  public Mono<Void> flush(FuseContext ctx, Request.Flush req) {
    return backend.flush(ctx, req);
  }

  @Override
  public Mono<OpenReply> opendir(FuseContext ctx, Request.Open req) {
    return backend.opendir(ctx, req);
  }

  @Override
  public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    return backend.readdir(ctx, req);
  }

  @Override
  public Mono<Void> releasedir(FuseContext ctx, Request.Release req) {
    return backend.releasedir(ctx, req);
  }

  @Override
  public Mono<Void> fsyncdir(FuseContext ctx, Request.Fsync req) {
    return backend.fsyncdir(ctx, req);
  }

  @Override
  public Mono<FileLock> getlk(FuseContext ctx, Request.Lock req) {
    return backend.getlk(ctx, req);
  }

  @Override
  public Mono<Void> setlk(FuseContext ctx, Request.Lock req) {
    return backend.setlk(ctx, req);
  }

  @Override
  public Mono<Void> setlkw(FuseContext ctx, Request.Lock req) {
    return backend.setlkw(ctx, req);
  }

  @Override
  public Mono<Void> access(FuseContext ctx, Request.Access req) {
    return backend.access(ctx, req);
  }

  @Override
  public Mono<CreateReply> create(FuseContext ctx, Request.Create req) {
    Key key = new Key(req.parent(), req.name());
    // CREATE may open a file that exists (and truncate it): its attributes change too.
    Supplier<long[]> nodes = () -> nodes(nodes(req.parent()), core.candidates(key));
    return mutate(List.of(key), nodes, () -> backend.create(ctx, req),
        (op, reply) -> op.created(key, reply.entry()));
  }

  @Override
  public Mono<Long> bmap(FuseContext ctx, Request.Bmap req) {
    return backend.bmap(ctx, req);
  }

  @Override
  public Mono<IoctlReply> ioctl(FuseContext ctx, Request.Ioctl req) {
    // An ioctl can change anything about the file (FS_IOC_SETFLAGS, ...).
    return mutate(List.of(), () -> nodes(req.nodeId()), () -> backend.ioctl(ctx, req), null);
  }

  @Override
  public Mono<Integer> poll(FuseContext ctx, Request.Poll req) {
    return backend.poll(ctx, req);
  }

  @Override
  public Mono<Void> fallocate(FuseContext ctx, Request.Fallocate req) {
    return mutateVoid(List.of(), () -> nodes(req.nodeId()), () -> backend.fallocate(ctx, req),
        op -> { });
  }

  @Override
  public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
    // Counted, not cached: the framework drops entries that do not fit (giving their lookups
    // back with a FORGET), and a listing has no single start to check fills against.
    return backend.readdirplus(ctx, req).doOnNext(p ->
        core.readdirplusEntry(req.nodeId(), p.dirEntry().name(), p.entry().nodeId()));
  }

  @Override
  public Mono<Long> lseek(FuseContext ctx, Request.Lseek req) {
    return backend.lseek(ctx, req);
  }

  @Override
  public Mono<Long> copyFileRange(FuseContext ctx, Request.CopyFileRange req) {
    return mutate(List.of(), () -> nodes(req.nodeIdOut()), () -> backend.copyFileRange(ctx, req),
        null);
  }

  @Override
  public Mono<Void> setupmapping(FuseContext ctx, Request.Setupmapping req) {
    return backend.setupmapping(ctx, req);
  }

  @Override
  public Mono<Void> removemapping(FuseContext ctx, Request.Removemapping req) {
    return backend.removemapping(ctx, req);
  }

  @Override
  public Mono<Void> syncfs(FuseContext ctx, Request.Syncfs req) {
    return backend.syncfs(ctx, req);
  }

  @Override
  public Mono<CreateReply> tmpfile(FuseContext ctx, Request.Create req) {
    return mutate(List.of(), () -> nodes(req.parent()), () -> backend.tmpfile(ctx, req),
        (op, reply) -> {
          if (reply.entry().nodeId() != 0) {
            core.countBackend(reply.entry().nodeId());
          }
        });
  }

  @Override
  public Mono<StatxReply> statx(FuseContext ctx, Request.Statx req) {
    return backend.statx(ctx, req);
  }

  // ---------------------------------------------------------------------------------------------

  /** MKNOD, MKDIR, SYMLINK: a new name; the directory's mtime and nlink change. */
  private Mono<EntryReply> creation(long parent, String name, Supplier<Mono<EntryReply>> call) {
    Key key = new Key(parent, name);
    return mutate(List.of(key), () -> nodes(parent), call, (op, reply) -> op.created(key, reply));
  }

  /** UNLINK, RMDIR: the name goes; the directory's and the victim's attributes change. */
  private Mono<Void> removal(long parent, String name, Supplier<Mono<Void>> call) {
    Key key = new Key(parent, name);
    return mutateVoid(List.of(key), () -> nodes(nodes(parent), core.candidates(key)), call,
        op -> op.unlinked(key));
  }

  /** RENAME, RENAME2: both names, both directories, the moved node and the one replaced. */
  private Mono<Void> renaming(Request.Rename req, Supplier<Mono<Void>> call) {
    Key from = new Key(req.parent(), req.name());
    Key to = new Key(req.newParent(), req.newName());
    Supplier<long[]> nodes = () -> nodes(nodes(req.parent(), req.newParent()),
        core.candidates(from), core.candidates(to));
    boolean exchange = (req.flags() & Request.Rename.RENAME_EXCHANGE) != 0;
    return mutateVoid(List.of(from, to), nodes, call, op -> op.renamed(from, to, exchange));
  }

  /**
   * Calls the backend between {@link CacheCore#begin} and {@link CacheCore.Op#succeeded} (or
   * {@link CacheCore.Op#abort} on error or cancel). Both happen before the reply or the error
   * goes on to the kernel, so when the caller sees the result, the cache is already right.
   * {@code onValue} (may be null) sees the reply; it is not called when a value Mono completes
   * empty (a backend bug the dispatcher answers EIO): the keys are then only dropped.
   */
  private <T> Mono<T> mutate(List<Key> keys, Supplier<long[]> nodes, Supplier<Mono<T>> call,
      BiConsumer<CacheCore.Op, T> onValue) {
    return bracket(keys, nodes, call, (op, v) -> {
      if (v != null && onValue != null) {
        onValue.accept(op, v);
      }
    });
  }

  /** Like {@link #mutate} for a {@code Mono<Void>}: {@code onDone} runs on completion. */
  private Mono<Void> mutateVoid(List<Key> keys, Supplier<long[]> nodes,
      Supplier<Mono<Void>> call,
      Consumer<CacheCore.Op> onDone) {
    return bracket(keys, nodes, call, (op, v) -> onDone.accept(op));
  }

  private <T> Mono<T> bracket(List<Key> keys, Supplier<long[]> nodes, Supplier<Mono<T>> call,
      BiConsumer<CacheCore.Op, T> onSuccess) {
    return Mono.defer(() -> {
      CacheCore.Op op = core.begin(keys, nodes.get());
      Mono<T> mono;
      try {
        mono = call.get();
      } catch (Throwable t) {
        op.abort();
        return Mono.error(t);
      }
      if (mono == null) {
        op.abort();
        return Mono.error(new IllegalStateException("the backend returned a null Mono"));
      }
      return mono
          .doOnSuccess(v -> op.succeeded(o -> onSuccess.accept(o, v)))
          .doOnError(e -> op.abort())
          .doOnCancel(op::abort);
    });
  }

  /** A lookup or getattr call: the backend's Mono, or its throw as an error. */
  private static <T> Mono<T> call(Supplier<Mono<T>> call) {
    Mono<T> mono;
    try {
      mono = call.get();
    } catch (Throwable t) {
      return Mono.error(t);
    }
    return mono == null
        ? Mono.error(new IllegalStateException("the backend returned a null Mono")) : mono;
  }

  private static long[] nodes(long... ids) {
    return ids;
  }

  private static long[] nodes(long[] ids, long[]... more) {
    long[] r = ids;
    for (long[] m : more) {
      int at = r.length;
      r = Arrays.copyOf(r, at + m.length);
      System.arraycopy(m, 0, r, at, m.length);
    }
    return r;
  }
}
