package io.reactorfuse.recovery;

import io.netty.buffer.ByteBuf;
import io.reactorfuse.FuseServer;
import io.reactorfuse.ops.Request;
import io.reactorfuse.testing.OneFileFs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import reactor.core.publisher.Mono;

/**
 * The worker the supervisor tests start: serves {@link OneFileFs}'s file {@code f} holding
 * {@link #CONTENT}, through {@link RecoverableWorker}. System properties:
 *
 * <ul>
 *   <li>{@value #HANG_MARKER}: a path. In generation 0 a READ of {@code f} never completes, and
 *       creates that file when it arrives (so the test knows the request is in flight); later
 *       generations answer it.
 *   <li>{@value #EXIT_AFTER_SERVING}{@code =true}: exit with status 1 right after serving (a
 *       worker that crashes on every start).
 * </ul>
 */
public final class TestWorker {
  static final String HANG_MARKER = "test.hangMarker";
  static final String EXIT_AFTER_SERVING = "test.exitAfterServing";
  static final byte[] CONTENT = "served by a recoverable worker\n".repeat(3)
      .getBytes(StandardCharsets.US_ASCII);

  private TestWorker() {}

  public static void main(String[] args) {
    String marker = System.getProperty(HANG_MARKER);
    boolean exitAfterServing = Boolean.getBoolean(EXIT_AFTER_SERVING);
    RecoverableWorker.serve(FuseServer.create().fsName("recovery-it"),
        recovery -> OneFileFs.of(CONTENT.length, req -> read(recovery, marker, req)),
        mount -> {
          if (exitAfterServing) {
            System.exit(1);
          }
        });
  }

  private static Mono<ByteBuf> read(Recovery recovery, String marker, Request.Read req) {
    if (marker != null && recovery.generation() == 0) {
      try {
        Files.createFile(Path.of(marker));
      } catch (FileAlreadyExistsException e) {
        // a second READ (readahead) of the same file
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return Mono.never(); // the worker dies with this request unanswered
    }
    return Mono.just(OneFileFs.slice(CONTENT, req));
  }
}
