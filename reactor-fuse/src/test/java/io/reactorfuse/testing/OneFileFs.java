package io.reactorfuse.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.reactorfuse.Errno;
import io.reactorfuse.FuseOps;
import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.EntryReply;
import io.reactorfuse.ops.FuseContext;
import io.reactorfuse.ops.Request;
import java.time.Duration;
import java.util.function.Function;
import reactor.core.publisher.Mono;

/**
 * The smallest filesystem the mount tests need: a root directory holding one file, {@code f}.
 * Timeouts are 0, so every access reaches the daemon.
 */
public final class OneFileFs {
  private OneFileFs() {}

  /** {@code f} holds {@code content}. */
  public static FuseOps of(byte[] content) {
    return of(content.length, req -> Mono.just(slice(content, req)));
  }

  /** {@code f} is {@code size} bytes long; {@code reader} answers its READs. */
  public static FuseOps of(long size, Function<Request.Read, Mono<ByteBuf>> reader) {
    Attr root = Attr.builder().ino(1).mode(Attr.S_IFDIR | 0755).nlink(2).build();
    Attr file = Attr.builder().ino(2).mode(Attr.S_IFREG | 0644).size(size).build();
    return new FuseOps() {
      @Override
      public Mono<EntryReply> lookup(FuseContext ctx, Request.Lookup req) {
        return req.name().equals("f")
            ? Mono.just(EntryReply.of(file, Duration.ZERO, Duration.ZERO))
            : Errno.ENOENT.mono();
      }

      @Override
      public Mono<AttrReply> getattr(FuseContext ctx, Request.Getattr req) {
        return Mono.just(new AttrReply(req.nodeId() == 1 ? root : file, Duration.ZERO));
      }

      @Override
      public Mono<ByteBuf> read(FuseContext ctx, Request.Read req) {
        return reader.apply(req);
      }
    };
  }

  /** The part of {@code content} a READ asks for (empty past the end). */
  public static ByteBuf slice(byte[] content, Request.Read req) {
    int from = (int) Math.min(req.offset(), content.length);
    return Unpooled.wrappedBuffer(content, from, Math.min(req.size(), content.length - from));
  }
}
