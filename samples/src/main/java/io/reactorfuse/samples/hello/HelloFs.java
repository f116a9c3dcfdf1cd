package io.reactorfuse.samples.hello;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.OpenReply;
import io.reactorfuse.ops.Request;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The smallest useful filesystem: a root directory holding one read-only file, {@code hello},
 * whose content is fixed. Every handler answers at once, on the event loop.
 */
public final class HelloFs implements FuseOps {
  /** The one file's name and node id. */
  public static final String NAME = "hello";
  static final long HELLO_ID = 2;

  private static final Duration TIMEOUT = Duration.ofSeconds(1);
  private final byte[] content;
  private final Attr rootAttr;
  private final Attr helloAttr;

  public HelloFs() {
    this("Hello, World!\n");
  }

  public HelloFs(String text) {
    content = text.getBytes(StandardCharsets.UTF_8);
    Instant now = Instant.now();
    rootAttr = Attr.builder().ino(Request.ROOT_ID).mode(Attr.S_IFDIR | 0755).nlink(2)
        .times(now).build();
    helloAttr = Attr.builder().ino(HELLO_ID).mode(Attr.S_IFREG | 0444).nlink(1)
        .size(content.length).times(now).build();
  }

  @Override
  public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
    if (req.parent() != Request.ROOT_ID || !req.name().equals(NAME)) {
      return Errno.ENOENT.mono();
    }
    return Mono.just(EntryReply.of(helloAttr, TIMEOUT, TIMEOUT));
  }

  @Override
  public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
    if (req.nodeId() == Request.ROOT_ID) {
      return Mono.just(new AttrReply(rootAttr, TIMEOUT));
    }
    if (req.nodeId() == HELLO_ID) {
      return Mono.just(new AttrReply(helloAttr, TIMEOUT));
    }
    return Errno.ENOENT.mono();
  }

  @Override
  public Mono<OpenReply> open(FuseContext ctx, Request.Open req) {
    if (req.nodeId() != HELLO_ID) {
      return Errno.EISDIR.mono();
    }
    if ((req.flags() & 3) != 0) { // O_WRONLY or O_RDWR
      return Errno.EACCES.mono();
    }
    return Mono.just(OpenReply.of(0, OpenReply.FOPEN_KEEP_CACHE));
  }

  @Override
  public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
    long from = Math.min(req.offset(), content.length);
    int n = (int) Math.min(req.size(), content.length - from);
    return Mono.just(Unpooled.wrappedBuffer(content, (int) from, n));
  }

  @Override
  public Flux<DirEntry> readdir(FuseContext ctx, Request.Readdir req) {
    if (req.nodeId() != Request.ROOT_ID) {
      return Flux.error(Errno.ENOTDIR.exception());
    }
    return Flux.just(
            new DirEntry(Request.ROOT_ID, 1, Attr.S_IFDIR >>> 12, "."),
            new DirEntry(Request.ROOT_ID, 2, Attr.S_IFDIR >>> 12, ".."),
            new DirEntry(HELLO_ID, 3, Attr.S_IFREG >>> 12, NAME))
        .skip(req.offset());
  }
}
