package io.reactorfuse.samples.objectstore;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.reactorfuse.Errno;
import java.net.URI;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.client.config.SdkAdvancedAsyncClientOption;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * One bucket, as Monos: the S3 calls the filesystem makes, each failing with an
 * {@link io.reactorfuse.ErrnoException} that says what a system call should return (a missing
 * key ENOENT, access denied EACCES, anything else, timeouts included, EIO). Nothing here blocks:
 * the AWS SDK's async client runs on a few Netty threads of its own, and its futures complete on
 * those threads, so a thousand requests in flight cost a thousand small objects, not threads.
 */
final class Bucket implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Bucket.class);

  /** A key's metadata, from HEAD or a listing. */
  record Info(String key, long size, Instant modified, String etag) {}

  /**
   * One page of a listing: the keys, the common prefixes ("directories") of a delimited one, and
   * the token of the next page (null on the last).
   */
  record Page(List<Info> objects, List<String> prefixes, String nextToken) {}

  private final S3AsyncClient client;
  private final S3Settings settings;

  Bucket(S3Settings settings) {
    this.settings = settings;
    AwsCredentialsProvider credentials = settings.accessKey() != null
        ? StaticCredentialsProvider.create(
            AwsBasicCredentials.create(settings.accessKey(), settings.secretKey()))
        : DefaultCredentialsProvider.builder().build();
    var builder = S3AsyncClient.builder()
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        // No CRC32 trailers on uploads, no checksum work on downloads unless the operation
        // requires it: S3-compatible servers vary in what they accept, and on this machine the
        // extra pass over every byte cost almost half the upload speed (68 against 120 MiB/s).
        // Integrity stays with TLS, or over plain HTTP with SigV4, which signs the payload.
        .requestChecksumCalculation(
            software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(
            software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClientBuilder(NettyNioAsyncHttpClient.builder()
            .maxConcurrency(settings.maxConnections())
            .connectionAcquisitionTimeout(settings.timeout())
            .connectionTimeout(settings.timeout()))
        .overrideConfiguration(o -> o
            .apiCallAttemptTimeout(settings.timeout())
            .apiCallTimeout(settings.timeout())
            .retryStrategy(r -> r.maxAttempts(settings.retries() + 1)))
        // Complete on the SDK's Netty threads: the continuations only encode a reply, and
        // the SDK's default completion pool would add threads under load.
        .asyncConfiguration(a -> a.advancedOption(
            SdkAdvancedAsyncClientOption.FUTURE_COMPLETION_EXECUTOR, Runnable::run));
    if (settings.endpoint() != null) {
      builder.endpointOverride(settings.endpoint()).forcePathStyle(true);
    }
    client = builder.build();
  }

  String name() {
    return settings.bucket();
  }

  /**
   * Checks that the bucket is there and that the credentials may list it; fails with an
   * {@link IllegalArgumentException} saying which it is and what to do.
   */
  Mono<Void> check() {
    String where = settings.endpoint() != null ? settings.endpoint().toString()
        : "AWS region " + settings.region();
    return Mono.fromFuture(() -> client.listObjectsV2(b -> b.bucket(settings.bucket())
            .maxKeys(1)), true)
        .then()
        .onErrorMap(e -> {
          Throwable cause = unwrap(e);
          if (cause instanceof NoSuchBucketException) {
            return new IllegalArgumentException("bucket \"" + settings.bucket()
                + "\" does not exist at " + where + "; create it or pass --bucket", e);
          }
          if (cause instanceof SdkServiceException s
              && (s.statusCode() == 403 || s.statusCode() == 401)) {
            return new IllegalArgumentException("the S3 server at " + where + " refused the "
                + "credentials for bucket \"" + settings.bucket() + "\" (" + s.statusCode()
                + "); check --access-key/--secret-key or the AWS credential chain", e);
          }
          if (cause instanceof SdkClientException) {
            return new IllegalArgumentException("cannot reach the S3 server at " + where + ": "
                + cause.getMessage() + "; check --endpoint (and that the server runs)", e);
          }
          return new IllegalArgumentException("bucket \"" + settings.bucket() + "\" at " + where
              + " cannot be listed: " + cause.getMessage(), e);
        });
  }

  /** The key's metadata, or empty if there is no such key. */
  Mono<Info> head(String key) {
    return call(() -> client.headObject(b -> b.bucket(settings.bucket()).key(key)))
        .map(r -> new Info(key, r.contentLength(), r.lastModified(), r.eTag()))
        .onErrorResume(Bucket::isNotFound, e -> Mono.empty());
  }

  /** Whether any key starts with {@code prefix}. */
  Mono<Boolean> anyUnder(String prefix) {
    return call(() -> client.listObjectsV2(b -> b.bucket(settings.bucket()).prefix(prefix)
        .maxKeys(1))).map(r -> r.keyCount() != null && r.keyCount() > 0);
  }

  /**
   * The keys under {@code prefix}, page by page as the server sends them, requested as they are
   * consumed. With a {@code delimiter} the keys deeper down come as common prefixes.
   */
  Flux<Page> list(String prefix, String delimiter) {
    return Flux.defer(() -> Flux.from(client.listObjectsV2Paginator(b -> {
      b.bucket(settings.bucket()).prefix(prefix);
      if (delimiter != null) {
        b.delimiter(delimiter);
      }
    }))).map(Bucket::page).onErrorMap(Bucket::errno);
  }

  /** One page of the delimited listing of {@code prefix}, from {@code token} (null: the first). */
  Mono<Page> listPage(String prefix, String token) {
    return call(() -> client.listObjectsV2(b -> b.bucket(settings.bucket()).prefix(prefix)
        .delimiter("/").continuationToken(token))).map(Bucket::page);
  }

  private static Page page(ListObjectsV2Response r) {
    List<Info> objects = new ArrayList<>(r.contents().size());
    for (S3Object o : r.contents()) {
      objects.add(new Info(o.key(), o.size(), o.lastModified(), o.eTag()));
    }
    List<String> prefixes = new ArrayList<>(r.commonPrefixes().size());
    for (CommonPrefix p : r.commonPrefixes()) {
      prefixes.add(p.prefix());
    }
    return new Page(objects, prefixes,
        Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null);
  }

  /**
   * {@code length} bytes at {@code offset} (fewer at the end of the object), in a pooled direct
   * buffer that the caller releases: a sequential reader moves hundreds of MiB through these,
   * and as byte arrays they would be garbage for the collector (humongous ones, at 1 MiB and
   * more).
   */
  Mono<ByteBuf> get(String key, long offset, long length) {
    String range = "bytes=" + offset + "-" + (offset + length - 1);
    return call(() -> client.getObject(b -> b.bucket(settings.bucket()).key(key).range(range),
            AsyncResponseTransformer.toPublisher()))
        .flatMap(body -> Mono.using(
            () -> PooledByteBufAllocator.DEFAULT.directBuffer(
                Math.toIntExact(body.response().contentLength())),
            // the SDK's timeouts end with the response's headers: a body that stops coming
            // (a server gone mid-answer) fails after the timeout without a byte
            out -> Flux.from(body).timeout(settings.timeout()).doOnNext(out::writeBytes)
                .then(Mono.fromCallable(out::retain)),
            ByteBuf::release))
        .onErrorMap(Bucket::errno);
  }

  /** The whole object, as bytes on the heap (tests and small objects). */
  Mono<byte[]> getBytes(String key) {
    return call(() -> client.getObject(b -> b.bucket(settings.bucket()).key(key),
        AsyncResponseTransformer.toBytes())).map(r -> r.asByteArray());
  }

  /**
   * The whole object into {@code file} (created or replaced), chunk by chunk as it arrives: the
   * writes go to the page cache, on the SDK's thread.
   */
  Mono<Void> download(String key, Path file) {
    return call(() -> client.getObject(b -> b.bucket(settings.bucket()).key(key),
            AsyncResponseTransformer.toPublisher()))
        .flatMap(body -> Mono.using(
            () -> java.nio.channels.FileChannel.open(file, StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING),
            channel -> Flux.from(body).timeout(settings.timeout()).doOnNext(chunk -> {
              try {
                while (chunk.hasRemaining()) {
                  channel.write(chunk);
                }
              } catch (java.io.IOException e) {
                throw Errno.from(e).exception();
              }
            }).then(),
            channel -> {
              try {
                channel.close();
              } catch (java.io.IOException ignored) {
                // the writes are done or failed already
              }
            }))
        .onErrorMap(Bucket::errno);
  }

  /**
   * {@code body} becomes {@code key}, in one PUT; the body is released at the end. Bodies are
   * copies in memory, not file readers: the SDK's file bodies fail when the file grows while
   * they are sent, and read on a thread pool of their own.
   */
  Mono<String> put(String key, ByteBuf body) {
    return Mono.using(() -> body,
        b -> call(() -> client.putObject(r -> r.bucket(settings.bucket()).key(key),
            AsyncRequestBody.fromByteBufferUnsafe(b.nioBuffer()))).map(r -> r.eTag()),
        ByteBuf::release);
  }

  long multipartThreshold() {
    return settings.multipartThreshold();
  }

  long partSize() {
    return settings.partSize();
  }

  /** Starts a multipart upload of {@code key}: its upload id. */
  Mono<String> startMultipart(String key) {
    return call(() -> client.createMultipartUpload(b -> b.bucket(settings.bucket()).key(key)))
        .map(r -> r.uploadId());
  }

  /** Part {@code number} (from 1) of an upload; the body is released at the end. */
  Mono<CompletedPart> uploadPart(String key, String uploadId, int number, ByteBuf body) {
    return Mono.using(() -> body,
        b -> call(() -> client.uploadPart(r -> r.bucket(settings.bucket()).key(key)
                .uploadId(uploadId).partNumber(number).contentLength((long) b.readableBytes()),
            AsyncRequestBody.fromByteBufferUnsafe(b.nioBuffer())))
            .map(r -> CompletedPart.builder().partNumber(number).eTag(r.eTag()).build()),
        ByteBuf::release);
  }

  /** Puts the parts together into the object: its etag. */
  Mono<String> completeMultipart(String key, String uploadId, List<CompletedPart> parts) {
    return call(() -> client.completeMultipartUpload(b -> b.bucket(settings.bucket()).key(key)
        .uploadId(uploadId).multipartUpload(m -> m.parts(parts)))).map(r -> r.eTag());
  }

  /** Drops an upload and its parts; failures are ignored (the server expires them anyway). */
  Mono<Void> abortMultipart(String key, String uploadId) {
    return call(() -> client.abortMultipartUpload(b -> b.bucket(settings.bucket()).key(key)
        .uploadId(uploadId))).then().onErrorResume(e -> Mono.empty());
  }

  /** Server-side copy (objects up to 5 GiB: S3's limit for one CopyObject). */
  Mono<Void> copy(String from, String to) {
    return call(() -> client.copyObject(b -> b.sourceBucket(settings.bucket()).sourceKey(from)
        .destinationBucket(settings.bucket()).destinationKey(to))).then();
  }

  Mono<Void> delete(String key) {
    return call(() -> client.deleteObject(b -> b.bucket(settings.bucket()).key(key))).then();
  }

  /** Puts an object from memory (directory markers, tests). */
  Mono<Void> put(String key, byte[] data) {
    return call(() -> client.putObject(b -> b.bucket(settings.bucket()).key(key),
        AsyncRequestBody.fromBytes(data))).then();
  }

  @Override
  public void close() {
    client.close();
  }

  // ---- errors ---------------------------------------------------------------------------------

  /** A Mono of the SDK call, its failure mapped to an errno. */
  private static <T> Mono<T> call(Supplier<CompletableFuture<T>> request) {
    return Mono.fromFuture(request, true).onErrorMap(Bucket::errno);
  }

  private static Throwable unwrap(Throwable e) {
    while (e instanceof CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }

  private static boolean isNotFound(Throwable e) {
    return e instanceof io.reactorfuse.ErrnoException x && x.errno() == Errno.ENOENT;
  }

  /** The errno a system call should see. */
  static Throwable errno(Throwable e) {
    if (e instanceof io.reactorfuse.ErrnoException) {
      return e;
    }
    Throwable c = unwrap(e);
    Errno code;
    if (c instanceof NoSuchKeyException || c instanceof NoSuchBucketException) {
      code = Errno.ENOENT;
    } else if (c instanceof SdkServiceException s) {
      code = switch (s.statusCode()) {
        case 404 -> Errno.ENOENT;
        case 401, 403 -> Errno.EACCES;
        case 409, 412 -> Errno.EEXIST;
        case 400 -> Errno.EINVAL;
        default -> Errno.EIO;
      };
    } else {
      code = Errno.EIO; // timeouts, connection refused or reset, anything else
    }
    if (code == Errno.EIO) {
      // the one place the S3 error is seen: the errno goes to the caller without it
      LOG.warn("S3 request failed, answering EIO: {}", c.toString());
    } else {
      LOG.debug("S3 request failed, answering {}: {}", code, c.toString());
    }
    return code.exception();
  }
}
