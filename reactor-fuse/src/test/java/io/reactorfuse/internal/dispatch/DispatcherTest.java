package io.reactorfuse.internal.dispatch;

import static io.reactorfuse.internal.dispatch.Wire.body;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import io.reactorfuse.FuseOps;
import io.reactorfuse.internal.codec.Opcode;
import io.reactorfuse.internal.dispatch.Wire.Reply;
import io.reactorfuse.internal.transport.InMemoryTransport;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.DirEntryPlus;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.FuseInit;
import io.reactorfuse.ops.Request;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;
import reactor.test.publisher.PublisherProbe;
import reactor.test.publisher.TestPublisher;

/**
 * The dispatcher driven with request bytes through {@link InMemoryTransport}: what is answered,
 * with what, how often, and that every buffer is released ({@link TrackingAllocator} checks each
 * one after every test, deterministically; Netty's paranoid leak detector runs as well).
 */
class DispatcherTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final InitOptions OPTIONS =
      new InitOptions(1 << 20, 1 << 20, 64, 48, 1, FuseInit.ASYNC_READ | FuseInit.PASSTHROUGH);
  /** What this project's 7.45 kernel offers: flags 0x73fffffb, flags2 0x5fd. */
  private static final long OFFERED_745 = 0x73fffffbL | 0x5fdL << 32;
  private static final int DT_REG = 8;

  private final TrackingAllocator alloc = new TrackingAllocator();
  private Dispatcher dispatcher;
  private InMemoryTransport transport;

  @AfterEach
  void everyRequestEndedAndEveryBufferReleased() {
    if (dispatcher != null) {
      assertEquals(0, dispatcher.inFlightCount(), "requests still in flight");
    }
    alloc.assertAllReleased();
  }

  private InMemoryTransport serve(FuseOps ops) {
    dispatcher = new Dispatcher(ops, OPTIONS, alloc, false);
    transport = new InMemoryTransport(dispatcher, alloc);
    return transport;
  }

  private Reply take() throws InterruptedException {
    return Reply.parse(transport.takeReply(WAIT));
  }

  /** The only reply so far, taken. */
  private Reply single() throws InterruptedException {
    Reply r = take();
    assertEquals(1, transport.replies().size(), "more than one reply");
    return r;
  }

  /**
   * Serves a STATFS and takes the next reply, which must be that one: nothing else was pending.
   * Requests here complete synchronously unless a test says otherwise, so this proves that a
   * request before it got no reply (FORGET) or no second one.
   */
  private void assertNextReplyIsSentinel() throws InterruptedException {
    long sentinel = 0x7ffe;
    transport.inject(Wire.statfs(sentinel));
    assertEquals(sentinel, take().unique(), "an unexpected reply came before the sentinel");
  }

  private static EntryReply entry(long nodeId) {
    Attr attr = Attr.builder().ino(nodeId).mode(Attr.S_IFREG | 0644).build();
    return EntryReply.of(attr, Duration.ofSeconds(1), Duration.ofSeconds(1));
  }

  private static DirEntry dirent(int i) {
    return new DirEntry(100 + i, i + 1, DT_REG, "e" + i);
  }

  private static String utf8(ByteBuf buf) {
    return buf.toString(StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- defaults

  static Stream<Arguments> unimplementedByDefault() {
    byte[] fsyncIn = body().u64(0).u32(0).u32(0).bytes();
    return Stream.of(
        arguments("LOOKUP", Wire.lookup(2, 1, "x")),
        arguments("GETATTR",
            Wire.request(Opcode.GETATTR, 2, 1, body().u32(0).u32(0).u64(0).bytes())),
        arguments("READ", Wire.read(2, 5, 0, 0, 4096)),
        arguments("WRITE", Wire.write(2, 5, 0, 0, "x")),
        arguments("FSYNC", Wire.request(Opcode.FSYNC, 2, 5, fsyncIn)),
        arguments("FLUSH",
            Wire.request(Opcode.FLUSH, 2, 5, body().u64(0).u32(0).u32(0).u64(0).bytes())),
        arguments("GETXATTR", Wire.getxattr(2, 5, 0, "user.x")),
        arguments("READDIR", Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096)),
        arguments("READDIRPLUS", Wire.readdir(Opcode.READDIRPLUS, 2, 1, 0, 4096)),
        arguments("RENAME2", Wire.request(Opcode.RENAME2, 2, 1,
            body().u64(1).u32(1).u32(0).cstr("a").cstr("b").bytes())),
        arguments("STATX",
            Wire.request(Opcode.STATX, 2, 5, body().u32(0).u32(0).u64(0).u32(0).u32(0).bytes())));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unimplementedByDefault")
  void defaultOps_unimplemented_replyEnosys(String name, byte[] request) throws Exception {
    serve(new FuseOps() {});
    transport.inject(request);
    Reply r = single();
    assertEquals(2, r.unique());
    assertEquals(-Errno.ENOSYS.code(), r.error());
    assertEquals(16, r.len());
  }

  @ParameterizedTest
  @EnumSource(value = Opcode.class, names = {"OPEN", "OPENDIR"})
  void open_defaultOps_repliesFhZero(Opcode op) throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.open(op, 2, 5));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16 + 16, r.len(), "fuse_open_out");
    assertArrayEquals(new byte[16], r.body(), "fh 0, no open flags, no backing id");
  }

  @Test
  void statfs_defaultOps_repliesEmptyStatfs() throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.statfs(2));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16 + 80, r.len());
    assertEquals(0, r.u64(0), "blocks");
    assertEquals(512, r.u32(40), "bsize");
    assertEquals(255, r.u32(44), "namelen");
    assertEquals(512, r.u32(48), "frsize");
  }

  @ParameterizedTest
  @EnumSource(value = Opcode.class, names = {"RELEASE", "RELEASEDIR"})
  void release_defaultOps_repliesSuccess(Opcode op) throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.request(op, 2, 5, body().u64(0).u32(0).u32(0).u64(0).bytes()));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16, r.len());
  }

  // ---------------------------------------------------------------- interrupts

  @Test
  void interrupt_cancelsHandlerAndRepliesEintr() throws Exception {
    AtomicBoolean cancelled = new AtomicBoolean();
    PublisherProbe<EntryReply> handler =
        PublisherProbe.of(Mono.<EntryReply>never().doOnCancel(() -> cancelled.set(true)));
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return handler.mono();
      }
    });

    transport.inject(Wire.lookup(2, 1, "slow"));
    handler.assertWasSubscribed();
    assertEquals(1, dispatcher.inFlightCount());
    assertTrue(transport.replies().isEmpty());

    transport.inject(Wire.interrupt(3, 2)); // its own odd unique; the body names request 2
    Reply r = single();
    assertEquals(2, r.unique(), "the reply is to the interrupted request");
    assertEquals(-Errno.EINTR.code(), r.error());
    handler.assertWasCancelled();
    assertTrue(cancelled.get());
    assertNextReplyIsSentinel();
  }

  @Test
  void interrupt_unknownUnique_isIgnored() throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.interrupt(3, 2));
    assertTrue(transport.replies().isEmpty());
    assertNextReplyIsSentinel();
  }

  @Test
  void interrupt_afterReply_repliesNothingMore() throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.lookup(2, 1, "x"));
    assertEquals(-Errno.ENOSYS.code(), single().error());
    transport.inject(Wire.interrupt(3, 2));
    assertNextReplyIsSentinel();
    assertEquals(2, transport.replies().size());
  }

  @Test
  void interrupt_pendingWrite_releasesPayloadAndRepliesEintr() throws Exception {
    AtomicReference<ByteBuf> data = new AtomicReference<>();
    serve(new FuseOps() {
      @Override
      public Mono<Integer> write(FuseContext ctx, Request.Write req) {
        data.set(req.data());
        return Mono.never();
      }
    });
    assertTrue(transport.inject(Wire.write(2, 5, 7, 0, "hello")), "the request keeps its buffer");
    assertEquals(1, data.get().refCnt());

    transport.inject(Wire.interrupt(3, 2));
    assertEquals(-Errno.EINTR.code(), single().error());
    assertEquals(0, data.get().refCnt());
  }

  @Test
  void interrupt_readdir_cancelsFluxAndReleasesPackedEntries() throws Exception {
    PublisherProbe<DirEntry> handler =
        PublisherProbe.of(Flux.concat(Flux.just(dirent(0), dirent(1)), Flux.never()));
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return handler.flux();
      }
    });
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096));
    assertTrue(transport.replies().isEmpty());
    transport.inject(Wire.interrupt(3, 2));
    assertEquals(-Errno.EINTR.code(), single().error());
    handler.assertWasCancelled();
  }

  @Test
  void abandonAll_cancelsHandlersWithoutReplying() throws Exception {
    PublisherProbe<EntryReply> handler = PublisherProbe.of(Mono.never());
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return handler.mono();
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    dispatcher.abandonAll();
    handler.assertWasCancelled();
    assertTrue(transport.replies().isEmpty());
  }

  // ---------------------------------------------------------------- errors

  @Test
  void lookup_emptyValueMono_repliesEio() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.empty();
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    assertEquals(-Errno.EIO.code(), single().error());
  }

  @Test
  void unlink_emptyVoidMono_repliesSuccess() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
        return Mono.empty();
      }
    });
    transport.inject(Wire.unlink(2, 1, "x"));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16, r.len());
  }

  @Test
  void lookup_handlerThrows_repliesEio() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        throw new IllegalStateException("a bug in the filesystem");
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    assertEquals(-Errno.EIO.code(), single().error());
  }

  @Test
  void lookup_handlerReturnsNull_repliesEio() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return null;
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    assertEquals(-Errno.EIO.code(), single().error());
  }

  @Test
  void lookup_errnoException_repliesItsErrno() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        if (req.name().equals("thrown")) {
          throw Errno.EACCES.exception();
        }
        return Errno.ENOENT.mono();
      }
    });
    transport.inject(Wire.lookup(2, 1, "missing"));
    assertEquals(-Errno.ENOENT.code(), take().error());
    transport.inject(Wire.lookup(4, 1, "thrown"));
    assertEquals(-Errno.EACCES.code(), take().error());
  }

  @Test
  void lookup_nioException_repliesMappedErrno() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.error(new NoSuchFileException("/backing/x"));
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    assertEquals(-Errno.ENOENT.code(), single().error());
  }

  @ParameterizedTest
  @ValueSource(ints = {7, 19, 54, 4096})
  void onRequest_unknownOpcode_repliesEnosys(int opcode) throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.request(opcode, 2, 1, new byte[8]));
    Reply r = single();
    assertEquals(2, r.unique());
    assertEquals(-Errno.ENOSYS.code(), r.error());
  }

  @Test
  void onRequest_lenDisagreesWithBytesRead_repliesEio() throws Exception {
    serve(new FuseOps() {});
    byte[] request = Wire.lookup(2, 1, "x");
    request[0] += 8; // claims 8 bytes more than were read
    transport.inject(request);
    assertEquals(-Errno.EIO.code(), single().error());
  }

  @Test
  void onRequest_bodyShorterThanFixedPart_repliesEio() throws Exception {
    serve(new FuseOps() {});
    transport.inject(Wire.request(Opcode.READ, 2, 5, new byte[8])); // fuse_read_in is 40
    assertEquals(-Errno.EIO.code(), single().error());
  }

  @Test
  void onRequest_shorterThanHeader_isIgnored() throws Exception {
    serve(new FuseOps() {});
    transport.inject(new byte[12]);
    assertTrue(transport.replies().isEmpty());
    assertNextReplyIsSentinel();
  }

  // ---------------------------------------------------------------- forgets

  @Test
  void forget_noReplyAndReachesOps() throws Exception {
    Queue<Request.Forget> forgets = new ConcurrentLinkedQueue<>();
    serve(new FuseOps() {
      @Override
      public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
        return Mono.fromRunnable(() -> forgets.add(req));
      }
    });
    assertFalse(transport.inject(Wire.forget(2, 5, 3)));
    assertEquals(List.of(new Request.Forget(5, 3)), List.copyOf(forgets));
    assertTrue(transport.replies().isEmpty());
    assertNextReplyIsSentinel();
  }

  @Test
  void batchForget_noReplyAndReachesForgetForEach() throws Exception {
    Queue<Request.Forget> forgets = new ConcurrentLinkedQueue<>();
    serve(new FuseOps() {
      @Override
      public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
        return Mono.fromRunnable(() -> forgets.add(req));
      }
    });
    transport.inject(Wire.batchForget(2, 5, 3, 6, 1));
    assertEquals(List.of(new Request.Forget(5, 3), new Request.Forget(6, 1)),
        List.copyOf(forgets));
    assertTrue(transport.replies().isEmpty());
    assertNextReplyIsSentinel();
  }

  @Test
  void forget_handlerThrows_noReplyAndServingGoesOn() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
        throw new IllegalStateException("a bug in the filesystem");
      }
    });
    transport.inject(Wire.forget(2, 5, 1));
    transport.inject(Wire.batchForget(4, 5, 1));
    assertTrue(transport.replies().isEmpty());
    assertNextReplyIsSentinel();
  }

  // ---------------------------------------------------------------- threads

  @Test
  void lookup_completesOnAnotherThread_repliesOnce() throws Exception {
    AtomicReference<Thread> completedOn = new AtomicReference<>();
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.fromCallable(() -> {
          completedOn.set(Thread.currentThread());
          return entry(7);
        }).subscribeOn(Schedulers.boundedElastic());
      }
    });
    transport.inject(Wire.lookup(2, 1, "x"));
    Reply r = take();
    assertEquals(0, r.error());
    assertEquals(2, r.unique());
    assertEquals(7, r.u64(0), "nodeid");
    assertNotEquals(Thread.currentThread(), completedOn.get());
    assertNextReplyIsSentinel();
    assertEquals(2, transport.replies().size());
  }

  @Test
  void lookup_manyCompletingOnParallel_eachRepliedExactlyOnce() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.fromCallable(() -> entry(ctx.unique())).subscribeOn(Schedulers.parallel());
      }
    });
    int n = 500;
    Set<Long> sent = new HashSet<>();
    for (int i = 0; i < n; i++) {
      long unique = 2 + 2L * i;
      sent.add(unique);
      transport.inject(Wire.lookup(unique, 1, "f" + i));
    }
    Set<Long> answered = new HashSet<>();
    for (int i = 0; i < n; i++) {
      Reply r = take();
      assertEquals(0, r.error());
      assertEquals(r.unique(), r.u64(0), "each reply carries its own request's entry");
      assertTrue(answered.add(r.unique()), "answered twice: " + r.unique());
    }
    assertEquals(sent, answered);
    assertNextReplyIsSentinel();
    assertEquals(n + 1, transport.replies().size());
  }

  @Test
  void interrupt_racingCompletion_repliesExactlyOnce() throws Exception {
    serve(new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return Mono.fromCallable(() -> entry(ctx.unique())).subscribeOn(Schedulers.parallel());
      }
    });
    int n = 500;
    for (int i = 0; i < n; i++) {
      long unique = 2 + 2L * i;
      transport.inject(Wire.lookup(unique, 1, "f" + i));
      transport.inject(Wire.interrupt(unique + 1, unique));
    }
    Set<Long> answered = new HashSet<>();
    for (int i = 0; i < n; i++) {
      Reply r = take();
      assertTrue(r.error() == 0 || r.error() == -Errno.EINTR.code(), "error " + r.error());
      assertTrue(answered.add(r.unique()), "answered twice: " + r.unique());
    }
    assertNextReplyIsSentinel();
    assertEquals(n + 1, transport.replies().size());
  }

  @Test
  void read_racingInterrupt_releasesEveryBuffer() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    Scheduler scheduler = Schedulers.fromExecutorService(pool);
    serve(new FuseOps() {
      @Override
      public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
        // hide(): without it subscribeOn takes the callable shortcut, which drops a value
        // produced after cancellation without discarding it (reactor-core issue #4397, open in
        // 3.8.8), and no subscriber can release that one.
        return Mono.fromCallable(() -> (ByteBuf) alloc.directBuffer(8).writeLong(ctx.unique()))
            .hide()
            .subscribeOn(scheduler);
      }
    });
    int n = 500;
    for (int i = 0; i < n; i++) {
      long unique = 2 + 2L * i;
      transport.inject(Wire.read(unique, 5, 0, 0, 4096));
      transport.inject(Wire.interrupt(unique + 1, unique));
    }
    Set<Long> answered = new HashSet<>();
    for (int i = 0; i < n; i++) {
      Reply r = take();
      assertTrue(r.error() == 0 || r.error() == -Errno.EINTR.code(), "error " + r.error());
      assertTrue(answered.add(r.unique()), "answered twice: " + r.unique());
    }
    // A value produced after the interrupt is dropped on the pool's thread: wait for the pool
    // to finish everything, then let @AfterEach check that every buffer was released.
    pool.shutdown();
    assertTrue(pool.awaitTermination(WAIT.toSeconds(), TimeUnit.SECONDS));
    scheduler.dispose();
  }

  // ---------------------------------------------------------------- read and write

  @Test
  void read_repliesHeaderAndPayloadTruncatedToRequestedSize() throws Exception {
    AtomicReference<ByteBuf> data = new AtomicReference<>();
    serve(new FuseOps() {
      @Override
      public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
        ByteBuf buf = alloc.directBuffer().writeBytes("0123456789".getBytes());
        data.set(buf);
        return Mono.just(buf);
      }
    });
    transport.inject(Wire.read(2, 5, 7, 0, 4));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16 + 4, r.len());
    assertEquals("0123", r.string(0, 4));
    assertEquals(0, data.get().refCnt(), "the framework releases the handler's buffer");
  }

  @Test
  void read_valueArrivingAfterInterrupt_isReleased() throws Exception {
    AtomicReference<MonoSink<ByteBuf>> sink = new AtomicReference<>();
    serve(new FuseOps() {
      @Override
      public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
        return Mono.create(sink::set);
      }
    });
    transport.inject(Wire.read(2, 5, 7, 0, 4096));
    transport.inject(Wire.interrupt(3, 2));
    assertEquals(-Errno.EINTR.code(), single().error());

    ByteBuf late = alloc.directBuffer().writeBytes("late".getBytes());
    sink.get().success(late); // the backend finishes anyway; nobody will send this
    assertEquals(0, late.refCnt());
  }

  @Test
  void read_interruptBetweenValueAndCompletion_releasesValue() throws Exception {
    TestPublisher<ByteBuf> backend = TestPublisher.create();
    serve(new FuseOps() {
      @Override
      public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
        return Mono.fromDirect(backend);
      }
    });
    transport.inject(Wire.read(2, 5, 7, 0, 4096));
    ByteBuf value = alloc.directBuffer().writeBytes("data".getBytes());
    backend.next(value); // the value, but not yet the completion
    transport.inject(Wire.interrupt(3, 2));
    assertEquals(-Errno.EINTR.code(), single().error());
    backend.assertCancelled();
    assertEquals(0, value.refCnt());
  }

  @Test
  void write_payloadReleasedOnlyAfterReply() throws Exception {
    AtomicReference<Request.Write> seen = new AtomicReference<>();
    Sinks.One<Integer> written = Sinks.one();
    serve(new FuseOps() {
      @Override
      public Mono<Integer> write(FuseContext ctx, Request.Write req) {
        seen.set(req);
        return written.asMono();
      }
    });
    assertTrue(transport.inject(Wire.write(2, 5, 7, 10, "hello")), "the request keeps its buffer");
    Request.Write req = seen.get();
    assertEquals(7, req.fh());
    assertEquals(10, req.offset());
    assertEquals(1, req.data().refCnt(), "alive while the handler runs");
    assertEquals("hello", utf8(req.data()));
    assertTrue(transport.replies().isEmpty());

    written.tryEmitValue(req.data().readableBytes()).orThrow();
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16 + 8, r.len(), "fuse_write_out");
    assertEquals(5, r.u32(0));
    assertEquals(0, req.data().refCnt(), "released once answered");
  }

  @Test
  void write_handlerFails_payloadReleased() throws Exception {
    AtomicReference<ByteBuf> data = new AtomicReference<>();
    serve(new FuseOps() {
      @Override
      public Mono<Integer> write(FuseContext ctx, Request.Write req) {
        data.set(req.data());
        return Errno.ENOSPC.mono();
      }
    });
    transport.inject(Wire.write(2, 5, 7, 0, "hello"));
    assertEquals(-Errno.ENOSPC.code(), single().error());
    assertEquals(0, data.get().refCnt());
  }

  // ---------------------------------------------------------------- xattrs

  private void serveXattr(byte[] value) {
    serve(new FuseOps() {
      @Override
      public Mono<byte[]> getxattr(FuseContext ctx, Request.Getxattr req) {
        return Mono.just(value);
      }

      @Override
      public Mono<List<String>> listxattr(FuseContext ctx, Request.Listxattr req) {
        return Mono.just(List.of("user.a", "user.bc"));
      }
    });
  }

  @Test
  void getxattr_sizeProbe_repliesValueLength() throws Exception {
    serveXattr("0123456789a".getBytes());
    transport.inject(Wire.getxattr(2, 5, 0, "user.x"));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16 + 8, r.len(), "fuse_getxattr_out");
    assertEquals(11, r.u32(0));
    assertEquals(0, r.u32(4), "padding");
  }

  @Test
  void getxattr_bufferTooSmall_repliesErange() throws Exception {
    serveXattr("0123456789a".getBytes());
    transport.inject(Wire.getxattr(2, 5, 10, "user.x"));
    assertEquals(-Errno.ERANGE.code(), single().error());
  }

  @Test
  void getxattr_bufferLargeEnough_repliesValue() throws Exception {
    serveXattr("0123456789a".getBytes());
    transport.inject(Wire.getxattr(2, 5, 11, "user.x"));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals("0123456789a", r.string(0, r.body().length));
  }

  @Test
  void listxattr_sizeProbe_countsNulTerminators() throws Exception {
    serveXattr(new byte[0]);
    transport.inject(Wire.listxattr(2, 5, 0));
    assertEquals(7 + 8, single().u32(0));
    transport.inject(Wire.listxattr(4, 5, 100));
    assertEquals("user.a\0user.bc\0", take().string(0, 15));
  }

  // ---------------------------------------------------------------- directories

  @Test
  void readdir_packsOnlyWhatFitsAndCancelsTheRest() throws Exception {
    AtomicInteger produced = new AtomicInteger();
    AtomicReference<Request.Readdir> seen = new AtomicReference<>();
    PublisherProbe<DirEntry> handler =
        PublisherProbe.of(Flux.range(0, 1000).map(DispatcherTest::dirent)
            .doOnNext(d -> produced.incrementAndGet()));
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        seen.set(req);
        return handler.flux();
      }
    });
    // three 32-byte dirents fit, the fourth does not
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 5, 3 * 32 + 31));
    Reply r = single();
    assertEquals(new Request.Readdir(1, 0, 5, 127), seen.get());
    assertEquals(0, r.error());
    assertEquals(96, r.body().length);
    for (int i = 0; i < 3; i++) {
      int at = 32 * i;
      assertEquals(100 + i, r.u64(at), "ino");
      assertEquals(i + 1, r.u64(at + 8), "off");
      assertEquals(2, r.u32(at + 16), "namelen");
      assertEquals(DT_REG, r.u32(at + 20), "type");
      assertEquals("e" + i, r.string(at + 24, 2));
    }
    handler.assertWasCancelled();
    assertEquals(4, produced.get(), "entries are requested one at a time");
  }

  @Test
  void readdir_fewerEntriesThanFit_repliesAllWithoutCancelling() throws Exception {
    PublisherProbe<DirEntry> handler =
        PublisherProbe.of(Flux.just(dirent(0), dirent(1), dirent(2)));
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return handler.flux();
      }
    });
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096));
    assertEquals(96, single().body().length);
    handler.assertWasNotCancelled();
  }

  @Test
  void readdir_emptyFlux_repliesEmptyBody() throws Exception {
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return Flux.empty();
      }
    });
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(16, r.len(), "no entries: end of directory");
  }

  @Test
  void readdir_errorAfterEntries_repliesThoseEntries() throws Exception {
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return Flux.concat(Flux.just(dirent(0), dirent(1)), Flux.error(new IOException("disk")));
      }
    });
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(64, r.body().length);
  }

  @Test
  void readdir_handlerThrows_repliesEio() throws Exception {
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        throw new IllegalStateException("a bug in the filesystem");
      }
    });
    transport.inject(Wire.readdir(Opcode.READDIR, 2, 1, 0, 4096));
    assertEquals(-Errno.EIO.code(), single().error());
    assertNextReplyIsSentinel();
  }

  @Test
  void readdir_racingInterrupt_repliesOnceAndReleasesBuffers() throws Exception {
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return Flux.range(0, 50).map(DispatcherTest::dirent).subscribeOn(Schedulers.parallel());
      }
    });
    int n = 200;
    for (int i = 0; i < n; i++) {
      long unique = 2 + 2L * i;
      transport.inject(Wire.readdir(Opcode.READDIR, unique, 1, 0, 4096));
      transport.inject(Wire.interrupt(unique + 1, unique));
    }
    Set<Long> answered = new HashSet<>();
    for (int i = 0; i < n; i++) {
      Reply r = take();
      assertTrue(r.error() == 0 || r.error() == -Errno.EINTR.code(), "error " + r.error());
      assertTrue(r.error() != 0 || r.body().length == 50 * 32, "a complete listing");
      assertTrue(answered.add(r.unique()), "answered twice: " + r.unique());
    }
    assertNextReplyIsSentinel();
  }

  @Test
  void readdirplus_entryThatDidNotFit_isForgotten() throws Exception {
    Queue<Request.Forget> forgets = new ConcurrentLinkedQueue<>();
    PublisherProbe<DirEntryPlus> handler = PublisherProbe.of(Flux.range(0, 100)
        .map(i -> new DirEntryPlus(new DirEntry(10 + i, i + 1, DT_REG, "f" + i), entry(10 + i))));
    serve(new FuseOps() {
      @Override
      public Flux<DirEntryPlus> readdirplus(FuseContext ctx, Request.Readdir req) {
        return handler.flux();
      }

      @Override
      public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
        return Mono.fromRunnable(() -> forgets.add(req));
      }
    });
    // two 160-byte direntplus fit, the third does not
    transport.inject(Wire.readdir(Opcode.READDIRPLUS, 2, 1, 0, 2 * 160 + 100));
    Reply r = single();
    assertEquals(0, r.error());
    assertEquals(320, r.body().length);
    assertEquals(10, r.u64(0), "entry_out.nodeid");
    assertEquals("f0", r.string(128 + 24, 2));
    assertEquals(11, r.u64(160), "entry_out.nodeid");
    assertEquals("f1", r.string(160 + 128 + 24, 2));
    assertEquals(List.of(new Request.Forget(12, 1)), List.copyOf(forgets),
        "the lookup of the entry the kernel never saw is given back");
    handler.assertWasCancelled();
  }

  @Test
  void readdirplus_defaultOps_looksUpEachEntryButDots() throws Exception {
    Queue<String> lookedUp = new ConcurrentLinkedQueue<>();
    Queue<Request.Forget> forgets = new ConcurrentLinkedQueue<>();
    serve(new FuseOps() {
      @Override
      public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
        return Flux.just(new DirEntry(1, 1, 4, "."), new DirEntry(1, 2, 4, ".."),
            new DirEntry(20, 3, DT_REG, "a"), new DirEntry(21, 4, DT_REG, "b"));
      }

      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        lookedUp.add(req.name());
        return Mono.just(entry(req.name().equals("a") ? 20 : 21));
      }

      @Override
      public Mono<Void> forget(FuseContext ctx, Request.Forget req) {
        return Mono.fromRunnable(() -> forgets.add(req));
      }
    });
    // room for ".", ".." and "a"
    transport.inject(Wire.readdir(Opcode.READDIRPLUS, 2, 1, 0, 3 * 160 + 100));
    Reply r = single();
    assertEquals(480, r.body().length);
    assertEquals(0, r.u64(0), "\".\" carries no lookup");
    assertEquals(0, r.u64(160), "\"..\" carries no lookup");
    assertEquals(20, r.u64(320));
    assertEquals(List.of("a", "b"), List.copyOf(lookedUp));
    assertEquals(List.of(new Request.Forget(21, 1)), List.copyOf(forgets));
  }

  // ---------------------------------------------------------------- init

  @Test
  void init_repliesNegotiatedAndCompletesInitialized() {
    serve(new FuseOps() {});
    StepVerifier.create(dispatcher.initialized())
        .then(() -> transport.inject(Wire.init(2, 7, 45, OFFERED_745)))
        .assertNext(init -> {
          assertEquals(45, init.minor());
          assertTrue(init.has(FuseInit.INIT_EXT));
          assertTrue(init.has(FuseInit.PASSTHROUGH));
        })
        .expectComplete()
        .verify(WAIT);
    Reply r = Reply.parse(transport.replies().get(0));
    assertEquals(0, r.error());
    assertEquals(16 + 64, r.len());
    assertEquals(7, r.u32(0));
    assertEquals(45, r.u32(4));
    assertEquals(1 << 5, r.u32(32), "flags2 = PASSTHROUGH");
    assertEquals(1, r.u32(36), "max_stack_depth");
  }

  @Test
  void init_kernelOlderThan731_repliesEprotoAndFailsInitialized() {
    serve(new FuseOps() {});
    StepVerifier.create(dispatcher.initialized())
        .then(() -> transport.inject(Wire.init(2, 7, 30, 0x01fffffbL)))
        .expectError(FuseException.class)
        .verify(WAIT);
    assertEquals(-71, Reply.parse(transport.replies().get(0)).error(), "EPROTO");
  }

  @Test
  void init_userInitFails_repliesItsErrno() {
    serve(new FuseOps() {
      @Override
      public Mono<Void> init(FuseInit init) {
        return Errno.EACCES.mono();
      }
    });
    StepVerifier.create(dispatcher.initialized())
        .then(() -> transport.inject(Wire.init(2, 7, 45, OFFERED_745)))
        .expectErrorSatisfies(e -> assertEquals(Errno.EACCES, ((FuseException) e).errno()))
        .verify(WAIT);
    assertEquals(-Errno.EACCES.code(), Reply.parse(transport.replies().get(0)).error());
  }

  @Test
  void request_carriesCallerInContext() throws Exception {
    List<FuseContext> seen = new ArrayList<>();
    serve(new FuseOps() {
      @Override
      public Mono<Void> unlink(FuseContext ctx, Request.Unlink req) {
        seen.add(ctx);
        return Mono.empty();
      }
    });
    transport.inject(Wire.unlink(6, 1, "x"));
    assertEquals(List.of(new FuseContext(6, 1, Wire.UID, Wire.GID, Wire.PID, -1)), seen);
    assertEquals(0, single().error());
  }
}
