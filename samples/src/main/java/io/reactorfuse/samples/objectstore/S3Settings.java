package io.reactorfuse.samples.objectstore;

import java.net.URI;
import java.time.Duration;

/**
 * Where the bucket is and how to talk to it.
 *
 * @param endpoint an S3-compatible server (path-style requests), or null for AWS itself
 * @param region the signing region (any value for most S3-compatible servers)
 * @param bucket the bucket to mount
 * @param accessKey with {@code secretKey}: the credentials; null: the AWS default chain
 *     (environment, profile, instance role)
 * @param secretKey see {@code accessKey}
 * @param timeout the longest one S3 request may take, retries included; after it the system
 *     call gets EIO
 * @param retries how often a failed request is tried again within {@code timeout}
 * @param maxConnections connections to the server at most; further requests queue (no thread
 *     waits for them)
 * @param multipartThreshold files larger than this are uploaded in parts
 * @param partSize the size of each part (at least 5 MiB, S3's minimum)
 */
public record S3Settings(
    URI endpoint, String region, String bucket, String accessKey, String secretKey,
    Duration timeout, int retries, int maxConnections, long multipartThreshold,
    long partSize) {
  public S3Settings {
    if (bucket == null || bucket.length() < 3 || bucket.length() > 63) {
      throw new IllegalArgumentException("bucket names have 3 to 63 characters (S3's rule), got "
          + (bucket == null ? "none" : "\"" + bucket + "\"") + "; pass --bucket NAME");
    }
    if ((accessKey == null) != (secretKey == null)) {
      throw new IllegalArgumentException("--access-key and --secret-key go together: give both, "
          + "or neither to use the AWS default credential chain");
    }
    if (retries < 0) {
      throw new IllegalArgumentException("retries must be >= 0, got " + retries);
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be > 0, got " + timeout);
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("max connections must be >= 1, got " + maxConnections);
    }
    if (partSize < 5 << 20) {
      throw new IllegalArgumentException("S3 parts are at least 5 MiB, got " + partSize);
    }
  }
}
