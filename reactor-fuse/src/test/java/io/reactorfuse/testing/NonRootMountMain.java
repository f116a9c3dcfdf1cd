package io.reactorfuse.testing;

import io.reactorfuse.FuseException;
import io.reactorfuse.FuseMount;
import io.reactorfuse.FuseServer;
import io.reactorfuse.internal.sys.Fusermount;
import io.reactorfuse.internal.sys.Native;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A separate JVM that {@code FusermountIT} runs as an unprivileged user: it mounts with the
 * default {@code MountMethod.AUTO} (so fusermount3), and prints one line per fact for the test to
 * check. Modes:
 * <ul>
 *   <li>{@code serve MNT}: serve one file, read it back, try to unmount while it is open (EBUSY),
 *       then unmount;</li>
 *   <li>{@code expect-failure MNT [allow_other]}: a mount that must fail; prints the message;</li>
 *   <li>{@code raw MNT}: {@code Fusermount.mount} itself, past the /dev/fuse probe; must fail.</li>
 * </ul>
 * Exit code 0 when things went as the mode expects.
 */
public final class NonRootMountMain {
  public static final String CONTENT = "served without root\n";
  static final String FS_NAME = "non\\root-fs";
  static final String SUBTYPE = "nonroot";
  private static final Duration WAIT = Duration.ofSeconds(30);

  private NonRootMountMain() {}

  public static void main(String[] args) {
    int code;
    try {
      code = run(args);
    } catch (Throwable t) {
      System.out.println("FAIL " + t);
      t.printStackTrace(System.out);
      code = 1;
    }
    System.out.flush();
    System.exit(code);
  }

  private static int run(String[] args) throws Exception {
    Path mnt = Path.of(args[1]);
    System.out.println("UID " + Native.getuid() + " EUID " + Native.geteuid());
    switch (args[0]) {
      case "serve":
        return serve(mnt);
      case "expect-failure":
        return expectFailure(mnt, args.length > 2 && args[2].equals("allow_other"));
      case "raw":
        return raw(mnt);
      default:
        throw new IllegalArgumentException("unknown mode " + args[0]);
    }
  }

  private static int serve(Path mnt) throws Exception {
    FuseMount m = FuseServer.create().mountPoint(mnt).fsName(FS_NAME).subtype(SUBTYPE)
        .handle(OneFileFs.of(CONTENT.getBytes(StandardCharsets.UTF_8))).mount().block(WAIT);
    try {
      System.out.println("MOUNTLINE " + mountLine(mnt));
      System.out.println("READ " + Files.readString(mnt.resolve("f")).trim());
      try (FileChannel open = FileChannel.open(mnt.resolve("f"))) {
        try {
          m.unmount().block(WAIT);
          System.out.println("BUSY-UNMOUNT succeeded");
        } catch (FuseException e) {
          System.out.println("BUSY-UNMOUNT " + e.errno() + " " + e.getMessage());
        }
      }
      m.unmount().block(WAIT);
      System.out.println("UNMOUNTED mounted=" + (mountLine(mnt) != null) + " disposed="
          + m.isDisposed());
      System.out.println("OK");
      return 0;
    } finally {
      if (!m.isDisposed()) {
        m.disposeNow(WAIT);
      }
    }
  }

  private static int expectFailure(Path mnt, boolean allowOther) throws Exception {
    try {
      FuseMount m = FuseServer.create().mountPoint(mnt).allowOther(allowOther)
          .handle(OneFileFs.of(new byte[0])).mount().block(WAIT);
      System.out.println("MOUNTED-UNEXPECTEDLY " + mountLine(mnt));
      m.disposeNow(WAIT);
      return 2;
    } catch (FuseException e) {
      System.out.println("FUSE-EXCEPTION " + e.errno() + " " + e.getMessage());
      return 0;
    }
  }

  private static int raw(Path mnt) {
    try {
      int fd = Fusermount.mount(mnt, "raw", null, "rw,nosuid,nodev");
      System.out.println("MOUNTED-UNEXPECTEDLY fd " + fd);
      Native.closeQuietly(fd);
      Fusermount.unmount(mnt, true);
      return 2;
    } catch (FuseException e) {
      System.out.println("FUSE-EXCEPTION " + e.errno() + " " + e.getMessage());
      return 0;
    }
  }

  private static String mountLine(Path mnt) throws java.io.IOException {
    return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
        .filter(l -> l.contains(" " + mnt + " ")).findFirst().orElse(null);
  }
}
