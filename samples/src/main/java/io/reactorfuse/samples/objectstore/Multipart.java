package io.reactorfuse.samples.objectstore;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * The multipart upload of one spool to one key, started while the file is still being written:
 * each part the writer has moved past goes up at once, so that close() only waits for the last
 * ones. A part written again after it was sent goes up again at the end (its version in the
 * spool changed).
 *
 * <p>Not thread-safe: {@link ObjectStoreFs} calls it under its lock.
 */
final class Multipart {
  /** Parts sent ahead of the flush at once, per file. */
  private static final int AHEAD = 4;
  /** Parts sent at once when the file is closed. */
  private static final int AT_END = 4;

  /** A part sent (or being sent) with the spool's bytes of {@code version}. */
  private record Part(long version, Mono<CompletedPart> done) {}

  private final Bucket bucket;
  final String key;
  private final Mono<String> uploadId;
  private final Map<Integer, Part> sent = new HashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger inFlight =
      new java.util.concurrent.atomic.AtomicInteger();

  Multipart(Bucket bucket, String key) {
    this.bucket = bucket;
    this.key = key;
    this.uploadId = bucket.startMultipart(key).cache();
  }

  /**
   * The writer is now in part {@code current} (from 0): sends the part before it, unless it
   * went up already with these bytes or enough parts are on their way.
   */
  void wroteInto(int current, Spool spool) {
    int index = current - 1;
    if (index < 0 || inFlight.get() >= AHEAD) {
      return;
    }
    long version = spool.partVersion(index);
    Part p = sent.get(index);
    if (p != null && p.version() == version) {
      return;
    }
    inFlight.incrementAndGet();
    Mono<CompletedPart> done = after(p, send(spool, index))
        .doFinally(s -> inFlight.decrementAndGet())
        .cache();
    done.subscribe(x -> { }, e -> { }); // now: that is the point
    sent.put(index, new Part(version, done));
  }

  /**
   * {@code next}, once the part sent before under the same number has finished: two uploads of
   * one part number at once would leave the server with whichever ended last, and the etag kept
   * might be the other one's.
   */
  private static Mono<CompletedPart> after(Part previous, Mono<CompletedPart> next) {
    return previous == null ? next
        : previous.done().onErrorResume(e -> Mono.empty()).then(next);
  }

  private Mono<CompletedPart> send(Spool spool, int index) {
    long size = bucket.partSize();
    long offset = index * size;
    long length = Math.min(size, spool.size() - offset);
    return uploadId.flatMap(id -> Mono.fromCallable(() -> spool.copy(offset, (int) length))
        .flatMap(body -> bucket.uploadPart(key, id, index + 1, body)));
  }

  /**
   * Sends what is missing of the first {@code size} bytes and completes the upload: the etag.
   * Parts sent ahead are kept when their bytes did not change since; a part that failed is sent
   * again. On failure the upload is aborted.
   */
  Mono<String> finish(Spool spool, long size) {
    int count = (int) ((size + bucket.partSize() - 1) / bucket.partSize());
    List<Mono<CompletedPart>> parts = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int index = i;
      Part p = sent.get(i);
      boolean full = (i + 1) * bucket.partSize() <= size;
      parts.add(p != null && full && p.version() == spool.partVersion(i)
          ? p.done().onErrorResume(e -> send(spool, index))
          : after(p, Mono.defer(() -> send(spool, index))));
    }
    return Flux.fromIterable(parts).flatMapSequential(m -> m, AT_END)
        .collectList()
        .flatMap(done -> uploadId.flatMap(id -> bucket.completeMultipart(key, id, done)))
        .onErrorResume(e -> abort().then(Mono.error(e)));
  }

  /** Drops the upload and whatever parts it has. */
  Mono<Void> abort() {
    return uploadId.flatMap(id -> bucket.abortMultipart(key, id)).onErrorResume(e -> Mono.empty());
  }
}
