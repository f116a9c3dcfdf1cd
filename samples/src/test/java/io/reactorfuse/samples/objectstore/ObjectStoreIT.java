package io.reactorfuse.samples.objectstore;

import static io.reactorfuse.testing.FuseTestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.FuseMount;
import io.reactorfuse.testing.FuseTestSupport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The objectstore sample on real mounts, against the embedded S3 server. */
class ObjectStoreIT {
  private static final String BUCKET = "it-bucket";
  private static final String KEY = "it-access";
  private static final String SECRET = "it-secret";

  private Path data;
  private Path spool;
  private EmbeddedS3 server;
  private FuseTestSupport fuse;
  private Bucket other; // another S3 client, to check and to change the bucket behind the mount
  private final List<ObjectStoreFs> filesystems = new java.util.ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    FuseTestSupport.requireFuse();
    data = Files.createTempDirectory("objectstore-data-");
    spool = Files.createTempDirectory("objectstore-spool-");
    server = EmbeddedS3.start(data, 0, KEY, SECRET, this::recordParts);
    server.createBucket(BUCKET);
    fuse = new FuseTestSupport();
    other = new Bucket(settings(server.port(), Duration.ofSeconds(30), 3));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
    filesystems.forEach(ObjectStoreFs::close);
    if (other != null) {
      other.close();
    }
    if (server != null) {
      server.close();
    }
    FuseTestSupport.sh("rm -rf '" + data + "' '" + spool + "'");
  }

  /** Parts of each multipart upload the server completed, by key. */
  private final java.util.Map<String, Integer> multipartParts =
      new java.util.concurrent.ConcurrentHashMap<>();

  private org.jclouds.blobstore.BlobStore recordParts(org.jclouds.blobstore.BlobStore store) {
    return new org.jclouds.blobstore.util.ForwardingBlobStore(store) {
      @Override
      public String completeMultipartUpload(org.jclouds.blobstore.domain.MultipartUpload upload,
          List<org.jclouds.blobstore.domain.MultipartPart> parts) {
        multipartParts.put(upload.blobName(), parts.size());
        return super.completeMultipartUpload(upload, parts);
      }
    };
  }

  private S3Settings settings(int port, Duration timeout, int retries) {
    return new S3Settings(java.net.URI.create("http://127.0.0.1:" + port), "us-east-1", BUCKET,
        KEY, SECRET, timeout, retries, 256, 16 << 20, 8 << 20);
  }

  private Path mount(S3Settings s3, Duration cacheTimeout) throws IOException {
    ObjectStoreFs fs = ObjectStoreFs.connect(s3, new ObjectStoreFs.Options(cacheTimeout, spool,
        8 << 20, 0, 0));
    filesystems.add(fs);
    FuseMount m = fuse.mount(fs.ops(), s -> ObjectStoreFs.tune(s.fsName("s3:" + BUCKET)));
    return m.mountPoint();
  }

  private Path mount() throws IOException {
    return mount(settings(server.port(), Duration.ofSeconds(30), 3), Duration.ofSeconds(1));
  }

  private static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private byte[] object(String key) {
    return other.getBytes(key).block(WAIT);
  }

  private List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  @Test
  void writeReadListRenameDelete_smallFiles() throws Exception {
    Path m = mount();
    Files.write(m.resolve("empty"), new byte[0]);
    Files.write(m.resolve("one"), new byte[] {42});
    Files.createDirectories(m.resolve("dir/sub"));
    Files.writeString(m.resolve("dir/sub/note.txt"), "hello s3");

    // what close() returned for is in the bucket
    assertEquals(0, other.head("empty").block(WAIT).size());
    assertArrayEquals(new byte[] {42}, object("one"));
    assertEquals("hello s3", new String(object("dir/sub/note.txt")));
    assertTrue(other.head("dir/").block(WAIT) != null, "mkdir leaves a marker");

    assertEquals(List.of("dir", "empty", "one"), names(m));
    assertEquals(0, Files.size(m.resolve("empty")));
    assertArrayEquals(new byte[] {42}, Files.readAllBytes(m.resolve("one")));
    assertTrue(Files.isDirectory(m.resolve("dir/sub")));

    Files.move(m.resolve("one"), m.resolve("dir/uno"));
    Files.move(m.resolve("dir"), m.resolve("moved"));
    assertEquals(List.of("empty", "moved"), names(m));
    assertEquals(List.of("sub", "uno"), names(m.resolve("moved")));
    assertEquals("hello s3", Files.readString(m.resolve("moved/sub/note.txt")));
    assertArrayEquals(new byte[] {42}, object("moved/uno"));
    assertTrue(other.head("one").blockOptional(WAIT).isEmpty(), "the old key is gone");
    assertTrue(other.head("dir/sub/note.txt").blockOptional(WAIT).isEmpty());

    IOException notEmpty = assertThrows(IOException.class,
        () -> Files.delete(m.resolve("moved/sub")));
    assertTrue(notEmpty.getMessage().contains("not empty")
        || notEmpty instanceof java.nio.file.DirectoryNotEmptyException, notEmpty.toString());
    Files.delete(m.resolve("moved/sub/note.txt"));
    Files.delete(m.resolve("moved/sub"));
    Files.delete(m.resolve("moved/uno"));
    Files.delete(m.resolve("moved"));
    Files.delete(m.resolve("empty"));
    assertEquals(List.of(), names(m));
    assertTrue(other.list("", null).flatMapIterable(Bucket.Page::objects).collectList()
        .block(WAIT).isEmpty(), "the bucket is empty again");
    assertThrows(NoSuchFileException.class, () -> Files.readString(m.resolve("empty")));
  }

  @Test
  void manySmallFiles_writtenByTheShell_allArrive() throws Exception {
    Path m = mount();
    Files.createDirectories(m.resolve("many"));
    // the shell's "> file" closes twice (after dup2, then at the end): two uploads per file
    FuseTestSupport.Result r = FuseTestSupport.run(WAIT.multipliedBy(2), "sh", "-c",
        "cd '" + m.resolve("many") + "' && for i in $(seq 300); do echo line $i > f$i; done");
    assertEquals(0, r.exitCode(), r.output());
    assertEquals(300, names(m.resolve("many")).size());
    for (int i = 1; i <= 300; i += 37) {
      assertEquals("line " + i + "\n", new String(object("many/f" + i)));
    }
  }

  @Test
  void overwriteAppendTruncate_keepTheBytesOfEveryClose() throws Exception {
    Path m = mount();
    Path f = m.resolve("f");
    Files.writeString(f, "0123456789");
    Files.writeString(f, "abc", java.nio.file.StandardOpenOption.APPEND);
    assertEquals("0123456789abc", new String(object("f")));
    try (FileChannel ch = FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap("XY".getBytes()), 2); // in the middle of an existing object
    }
    assertEquals("01XY456789abc", new String(object("f")));
    try (FileChannel ch = FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(4);
    }
    assertEquals("01XY", new String(object("f")));
    FuseTestSupport.sh("truncate -s 2 '" + f + "'"); // by path, no file open
    assertEquals("01", new String(object("f")));
    assertEquals("01", Files.readString(f));
    FuseTestSupport.sh(": > '" + f + "'"); // open(O_TRUNC) and close, nothing written
    assertEquals(0, other.head("f").block(WAIT).size());

    // renamed while open for writing: the bytes end up under the new name, old or new ones
    Files.writeString(m.resolve("r1"), "kept");
    try (FileChannel ch = FileChannel.open(m.resolve("r1"),
        java.nio.file.StandardOpenOption.WRITE)) {
      Files.move(m.resolve("r1"), m.resolve("r2"));
    }
    assertEquals("kept", new String(object("r2")));
    try (FileChannel ch = FileChannel.open(m.resolve("r2"),
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap("K".getBytes()), 0);
      Files.move(m.resolve("r2"), m.resolve("r3"));
    }
    assertEquals("Kept", new String(object("r3")));
    assertTrue(other.head("r1").blockOptional(WAIT).isEmpty());
    assertTrue(other.head("r2").blockOptional(WAIT).isEmpty());
  }

  @Test
  void hundredMebibytes_goUpInPartsAndComeBackIdentical() throws Exception {
    Path m = mount();
    Path local = Files.createTempFile(spool, "big-", ".bin");
    try (var out = Files.newOutputStream(local)) {
      for (int i = 0; i < 100; i++) {
        out.write(random(1 << 20, i));
      }
    }
    Files.copy(local, m.resolve("big.bin"));
    Bucket.Info info = other.head("big.bin").block(WAIT);
    assertEquals(100L << 20, info.size());
    assertEquals(13, multipartParts.get("big.bin"), "100 MiB in 8 MiB parts");
    assertEquals(sha256(local), sha256(m.resolve("big.bin")));
    Files.delete(local);
  }

  @Test
  void partsSentWhileWriting_thenWrittenAgain_endUpAsLastWritten() throws Exception {
    Path m = mount();
    byte[] expected = random(40 << 20, 3);
    try (FileChannel ch = FileChannel.open(m.resolve("rewritten.bin"),
        java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
      for (int off = 0; off < expected.length; off += 1 << 20) {
        ch.write(ByteBuffer.wrap(expected, off, 1 << 20), off); // parts go up behind the writer
      }
      // then bytes in parts that may have gone up already change again
      for (int off : new int[] {10, (8 << 20) + 5, (17 << 20) - 3}) {
        byte[] patch = random(4096, off);
        System.arraycopy(patch, 0, expected, off, patch.length);
        ch.write(ByteBuffer.wrap(patch), off);
      }
    }
    assertEquals(5, multipartParts.get("rewritten.bin"), "40 MiB in 8 MiB parts");
    assertArrayEquals(expected, object("rewritten.bin"));
    assertArrayEquals(expected, Files.readAllBytes(m.resolve("rewritten.bin")));
  }

  @Test
  void sequentialReadersBeyondTheReadAheadBudget_allReadTheirBytes() throws Exception {
    // read-ahead 1 MiB: a budget of 16 MiB of chunks for 8 readers of 24 MiB each
    ObjectStoreFs fs = ObjectStoreFs.connect(settings(server.port(), Duration.ofSeconds(30), 3),
        new ObjectStoreFs.Options(Duration.ofSeconds(1), spool, 1 << 20, 0, 0));
    filesystems.add(fs);
    Path m = fuse.mount(fs.ops(), ObjectStoreFs::tune).mountPoint();
    List<byte[]> contents = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      contents.add(random(24 << 20, 100 + i));
      other.put("seq-" + i, contents.get(i)).block(WAIT);
    }
    List<CompletableFuture<byte[]>> reads = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Path f = m.resolve("seq-" + i);
      reads.add(CompletableFuture.supplyAsync(() -> {
        try {
          return Files.readAllBytes(f);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }));
    }
    for (int i = 0; i < 8; i++) {
      assertArrayEquals(contents.get(i), reads.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
    }
  }

  @Test
  void copyOfTree_inAndBackOut_isByteIdentical() throws Exception {
    FuseTestSupport.requireTools("cp", "diff");
    Path src = Files.createTempDirectory(spool, "tree-");
    Random r = new Random(7);
    for (int d = 0; d < 6; d++) {
      Path dir = Files.createDirectories(src.resolve("d" + d).resolve("sub" + (d % 2)));
      for (int f = 0; f < 12; f++) {
        int size = f == 0 ? 0 : r.nextInt(f % 4 == 0 ? 3 << 20 : 40_000);
        Files.write(dir.resolve("f" + f + (f % 3 == 0 ? " with space" : ".dat")),
            random(size, r.nextLong()));
      }
    }
    Files.createDirectories(src.resolve("empty-dir"));
    Path m = mount();
    assertEquals(0, FuseTestSupport.run(WAIT.multipliedBy(4), "cp", "-r", src.toString(),
        m.resolve("tree").toString()).exitCode());
    // a second mount of the bucket: nothing can come from the first one's page cache
    Path again = mount();
    Path out = spool.resolve("out");
    FuseTestSupport.Result copy = FuseTestSupport.run(WAIT.multipliedBy(4), "cp", "-r",
        again.resolve("tree").toString(), out.toString());
    assertEquals(0, copy.exitCode(), copy.output());
    FuseTestSupport.Result diff = FuseTestSupport.run(WAIT, "diff", "-r", src.toString(),
        out.toString());
    assertEquals(0, diff.exitCode(), diff.output());
  }

  @Test
  void keysWrittenByAnotherClient_appearAfterPoll() throws Exception {
    // long cache timeouts: only the poll's invalidation can show the change
    ObjectStoreFs fs = ObjectStoreFs.connect(settings(server.port(), Duration.ofSeconds(30), 3),
        new ObjectStoreFs.Options(Duration.ofHours(1), spool, 8 << 20, 0, 0));
    filesystems.add(fs);
    Path m = fuse.mount(fs.ops(), ObjectStoreFs::tune).mountPoint();
    Files.writeString(m.resolve("old.txt"), "old content");
    assertEquals("old content", Files.readString(m.resolve("old.txt")));
    assertFalse(Files.exists(m.resolve("new.txt"))); // a cached miss now

    other.put("new.txt", "from elsewhere".getBytes()).block(WAIT);
    other.put("old.txt", "changed elsewhere".getBytes()).block(WAIT);
    assertFalse(Files.exists(m.resolve("new.txt")), "the miss is cached for an hour");
    assertEquals("old content", Files.readString(m.resolve("old.txt")));

    fs.pollChanges().block(WAIT);
    assertEquals("from elsewhere", Files.readString(m.resolve("new.txt")));
    assertEquals("changed elsewhere", Files.readString(m.resolve("old.txt")));

    other.delete("new.txt").block(WAIT);
    fs.pollChanges().block(WAIT);
    assertFalse(Files.exists(m.resolve("new.txt")));
  }

  @Test
  void serverGoneMidRead_givesEioWithinTheTimeout_andTheMountServesWhenItIsBack()
      throws Exception {
    Duration timeout = Duration.ofSeconds(2);
    int port = server.port();
    byte[] big = random(48 << 20, 1);
    other.put("big", big).block(WAIT);
    other.put("later", "still here".getBytes()).block(WAIT);
    Path m = mount(settings(port, timeout, 1), Duration.ofSeconds(1));

    CompletableFuture<Long> failure = new CompletableFuture<>();
    CompletableFuture<Void> started = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      long read = 0;
      try (InputStream in = Files.newInputStream(m.resolve("big"))) {
        byte[] buf = new byte[64 << 10];
        int n;
        while ((n = in.read(buf)) > 0) {
          read += n;
          started.complete(null);
          if (read == big.length) {
            break;
          }
        }
        failure.completeExceptionally(new AssertionError("read all " + read + " bytes"));
      } catch (IOException e) {
        failure.complete(System.nanoTime());
        if (!String.valueOf(e.getMessage()).contains("Input/output error")) {
          failure.obtrudeException(new AssertionError("not EIO: " + e, e));
        }
      }
    });
    reader.start();
    started.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    server.close();
    long stopped = System.nanoTime();
    server = null;
    // A read waits for one GET at most the timeout; the kernel may retry a page once itself.
    long failedAt = failure.get(timeout.multipliedBy(3).plusSeconds(5).toMillis(),
        TimeUnit.MILLISECONDS);
    reader.join(WAIT.toMillis());
    System.out.printf("reader got EIO %.2f s after the server stopped (timeout %s)%n",
        (failedAt - stopped) / 1e9, timeout);

    server = EmbeddedS3.start(data, port, KEY, SECRET);
    assertEquals("still here", Files.readString(m.resolve("later")));
    assertArrayEquals(big, Files.readAllBytes(m.resolve("big")));
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 20];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
