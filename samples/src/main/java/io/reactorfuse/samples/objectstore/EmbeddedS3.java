package io.reactorfuse.samples.objectstore;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobProviderMetadata;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * An S3-compatible server on loopback (s3proxy), keeping its buckets as directories of
 * {@code dataDir}: what {@code objectstore} mounts when no endpoint is given, and what the
 * benchmarks point every S3 client at. It speaks AWS signature v2 and v4 with one key pair.
 */
public final class EmbeddedS3 implements AutoCloseable {
  private final BlobStoreContext context;
  private final S3Proxy proxy;
  private final Path dataDir;
  private final String accessKey;
  private final String secretKey;

  private EmbeddedS3(Path dataDir, int port, String accessKey, String secretKey,
      java.util.function.UnaryOperator<BlobStore> wrapper) throws Exception {
    this.dataDir = dataDir;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", dataDir.toString());
    context = ContextBuilder.newBuilder(new FilesystemNio2BlobProviderMetadata())
        .overrides(props).credentials("local", "local").build(BlobStoreContext.class);
    proxy = S3Proxy.builder()
        .blobStore(wrapper.apply(context.getBlobStore()))
        .endpoint(URI.create("http://127.0.0.1:" + port))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
        // Jetty blocks a thread per request; enough of them that the clients, not the
        // server, decide how many requests are in flight.
        .jettyMaxThreads(1200)
        .build();
    try {
      proxy.start();
      // start() returns before Jetty is listening
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (!"STARTED".equals(proxy.getState())) {
        if ("FAILED".equals(proxy.getState()) || System.nanoTime() > deadline) {
          throw new IOException("the embedded S3 server did not start (state "
              + proxy.getState() + ") on 127.0.0.1:" + port
              + (port != 0 ? "; is the port free?" : ""));
        }
        Thread.onSpinWait();
        Thread.sleep(1);
      }
    } catch (Exception e) {
      context.close();
      throw e;
    }
  }

  /**
   * Starts a server on {@code 127.0.0.1:port} (0: any free port) keeping its data in
   * {@code dataDir} (created if missing).
   *
   * @throws IOException if the directory cannot be created or the server does not start
   */
  public static EmbeddedS3 start(Path dataDir, int port, String accessKey, String secretKey)
      throws IOException {
    return start(dataDir, port, accessKey, secretKey, b -> b);
  }

  /** As {@link #start(Path, int, String, String)}, serving {@code wrapper} of the store (tests). */
  static EmbeddedS3 start(Path dataDir, int port, String accessKey, String secretKey,
      java.util.function.UnaryOperator<BlobStore> wrapper) throws IOException {
    Files.createDirectories(dataDir);
    try {
      return new EmbeddedS3(dataDir, port, accessKey, secretKey, wrapper);
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("the embedded S3 server did not start on 127.0.0.1:" + port + ": "
          + e, e);
    }
  }

  /** A random key, for a server nobody else should reach. */
  public static String randomKey() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /**
   * Where data goes by default: {@code $XDG_DATA_HOME/reactor-fuse/objectstore}, else
   * {@code ~/.local/share/reactor-fuse/objectstore}.
   */
  public static Path defaultDataDir() {
    String xdg = System.getenv("XDG_DATA_HOME");
    Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg)
        : Path.of(System.getProperty("user.home"), ".local", "share");
    return base.resolve("reactor-fuse").resolve("objectstore");
  }

  /** Creates {@code bucket} unless it exists. */
  public void createBucket(String bucket) {
    context.getBlobStore().createContainerInLocation(null, bucket);
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  public int port() {
    return proxy.getPort();
  }

  public Path dataDir() {
    return dataDir;
  }

  public String accessKey() {
    return accessKey;
  }

  public String secretKey() {
    return secretKey;
  }

  /** Stops serving; the data stays in {@link #dataDir()}. */
  @Override
  public void close() {
    try {
      proxy.stop();
    } catch (Exception e) {
      throw new IllegalStateException("stopping the embedded S3 server: " + e, e);
    } finally {
      context.close();
    }
  }
}
