package io.reactorfuse.internal.sys;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Mounting and unmounting through the setuid helper fusermount3, for users without root.
 *
 * <p>The protocol (libfuse's {@code fuse_mount_fusermount}): we make a socket pair and start
 * {@code fusermount3 -o OPTIONS -- MOUNTPOINT} with one end as fd 3 and {@code _FUSE_COMMFD=3}.
 * It opens /dev/fuse as the calling user, mounts as root, sends the fd with one byte in an
 * SCM_RIGHTS message and exits 0. ProcessBuilder cannot start it (it closes every fd above 2 in
 * the child), so the child is started with posix_spawn ({@link Spawn}). Its output is captured;
 * on failure it is quoted in the exception, followed by the fix.
 */
public final class Fusermount {
  static final String PROGRAM = "fusermount3";
  /** Where fusermount3 lives when PATH does not say (Debian: /usr/bin, /bin is a link to it). */
  static final List<Path> FALLBACK_DIRS = List.of(Path.of("/usr/bin"), Path.of("/bin"),
      Path.of("/usr/local/bin"));
  /** Bound on one fusermount3 run; it normally takes milliseconds. */
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  static final String FIX_INSTALL = "install fuse3 (apt-get install fuse3)";
  static final String FIX_DEVICE = "give the user access to /dev/fuse (e.g. chmod 0666 /dev/fuse "
      + "or add the user to a group that owns it)";
  static final String FIX_ALLOW_OTHER = "allow_other for users other than root needs the line "
      + "user_allow_other in /etc/fuse.conf (as root: echo user_allow_other >> /etc/fuse.conf); "
      + "or mount without allowOther";

  private Fusermount() {}

  /**
   * Runs {@code fusermount3 -o OPTIONS -- MOUNTPOINT} and returns the /dev/fuse fd it opened and
   * mounted (received over {@code _FUSE_COMMFD} with SCM_RIGHTS), non-blocking and close-on-exec.
   *
   * @param options the mount options, comma-separated, without fd=, rootmode=, user_id=, group_id=
   */
  public static int mount(Path mountPoint, String fsName, String subtype, String options) {
    Path program = locate(System.getenv("PATH"), FALLBACK_DIRS);
    String opts = options(options, fsName, subtype);
    // argv[0] "fusermount3": it starts its messages with it
    List<String> argv = List.of(PROGRAM, "-o", opts, "--", mountPoint.toString());
    int[] socket = null;
    int[] output = null;
    try {
      socket = Spawn.socketPair();
      output = Spawn.pipe();
      int pid;
      try {
        pid = Spawn.spawn(program.toString(), argv, environment(), output[1], socket[1]);
      } finally {
        // Only the child holds the write ends now: EOF and a closed socket when it ends.
        Spawn.close(socket[1]);
        Spawn.close(output[1]);
        socket[1] = -1;
        output[1] = -1;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int status = waitFor(pid, output[0], out);
      String text = out.toString(StandardCharsets.UTF_8).trim();
      int fd = Spawn.receiveFd(socket[0]);
      if (status < 0) { // timed out and killed
        if (fd >= 0) {
          Spawn.close(fd);
          unmountQuietly(mountPoint);
        }
        throw new FuseException(PROGRAM + " did not finish mounting " + mountPoint + " within "
            + TIMEOUT.toSeconds() + " s and was killed" + (text.isEmpty() ? "" : ": \"" + text
            + "\"") + "; check that the mount point's file system responds", Errno.ETIMEDOUT,
            null);
      }
      int exit = Spawn.exitCode(status);
      if (exit != 0 || fd < 0) {
        if (fd >= 0) {
          Spawn.close(fd);
        }
        throw mountFailure(program, mountPoint, exit, text);
      }
      try {
        Spawn.setNonBlocking(fd);
        Spawn.setCloseOnExec(fd); // MSG_CMSG_CLOEXEC did it already; say it once more
      } catch (NativeError e) {
        Spawn.close(fd);
        unmountQuietly(mountPoint);
        throw new FuseException("cannot set up the /dev/fuse fd from " + PROGRAM + ": "
            + e.getMessage(), e.errno(), e);
      }
      return fd;
    } catch (NativeError e) {
      throw new FuseException("cannot run " + program + " to mount " + mountPoint + ": "
          + e.getMessage(), e.errno(), e);
    } finally {
      if (socket != null) {
        Spawn.close(socket[0]);
        Spawn.close(socket[1]);
      }
      if (output != null) {
        Spawn.close(output[0]);
        Spawn.close(output[1]);
      }
    }
  }

  /**
   * Waits (bounded by {@link #TIMEOUT}) for the child, draining its output meanwhile so that it
   * never blocks on a full pipe. Returns the wait status, or -1 if it had to be killed.
   */
  private static int waitFor(int pid, int outputFd, ByteArrayOutputStream out)
      throws NativeError {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    long sleepMicros = 200;
    boolean interrupted = false;
    try {
      while (true) {
        Spawn.drain(outputFd, out);
        int status = Spawn.poll(pid);
        if (status >= 0) {
          Spawn.drain(outputFd, out); // the rest, up to EOF (or what a leftover child holds)
          return status;
        }
        if (System.nanoTime() - deadline > 0) {
          Spawn.killAndReap(pid);
          Spawn.drain(outputFd, out);
          return -1;
        }
        try {
          TimeUnit.MICROSECONDS.sleep(sleepMicros);
        } catch (InterruptedException e) {
          interrupted = true; // finish the mount protocol; the caller sees the flag
        }
        sleepMicros = Math.min(sleepMicros * 2, 20_000);
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The child's environment: ours, plus {@code _FUSE_COMMFD=3}, and C messages. */
  private static List<String> environment() {
    List<String> env = new ArrayList<>();
    for (Map.Entry<String, String> e : System.getenv().entrySet()) {
      String k = e.getKey();
      if (!k.equals("_FUSE_COMMFD") && !k.equals("LC_ALL")) {
        env.add(k + "=" + e.getValue());
      }
    }
    env.add("_FUSE_COMMFD=3");
    env.add("LC_ALL=C"); // its messages are matched below
    return env;
  }

  /** {@code options} plus fsname= and subtype=, with ',' and '\' escaped as fusermount3 reads. */
  static String options(String options, String fsName, String subtype) {
    StringBuilder sb = new StringBuilder(options == null ? "" : options);
    if (fsName != null && !fsName.isEmpty()) {
      sb.append(sb.length() == 0 ? "" : ",").append("fsname=").append(escape(fsName));
    }
    if (subtype != null && !subtype.isEmpty()) {
      sb.append(sb.length() == 0 ? "" : ",").append("subtype=").append(escape(subtype));
    }
    return sb.toString();
  }

  private static String escape(String value) {
    return value.replace("\\", "\\\\").replace(",", "\\,");
  }

  /** The fusermount3 binary: the first in {@code path}, else in {@code fallbackDirs}. */
  static Path locate(String path, List<Path> fallbackDirs) {
    List<Path> dirs = new ArrayList<>();
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        if (!dir.isEmpty()) {
          dirs.add(Path.of(dir));
        }
      }
    }
    dirs.addAll(fallbackDirs);
    for (Path dir : dirs) {
      Path p = dir.resolve(PROGRAM);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return p;
      }
    }
    throw new FuseException(PROGRAM + " was not found (looked in PATH=" + path + " and "
        + fallbackDirs + "); it is needed to mount without root: " + FIX_INSTALL
        + ", or run as root to mount with mount(2)", Errno.ENOENT, null);
  }

  /** What fusermount3's output says went wrong, and what to do about it. */
  static FuseException mountFailure(Path program, Path mountPoint, int exit, String output) {
    String said = output.isEmpty() ? "it printed nothing" : "\"" + output + "\"";
    String head = program + " could not mount " + mountPoint + " (exit code " + exit + "): " + said;
    String o = output.toLowerCase(Locale.ROOT);
    if (exit == 0) {
      return new FuseException(PROGRAM + " exited 0 but passed no /dev/fuse fd for " + mountPoint
          + ": is " + program + " really fusermount3 (Debian package fuse3)?", Errno.EIO, null);
    }
    if (o.contains("failed to open /dev/fuse")
        && (o.contains("permission denied") || o.contains("operation not permitted"))) {
      return new FuseException(head + ": " + FIX_DEVICE, Errno.EACCES, null);
    }
    if (o.contains("fuse device not found")) {
      return new FuseException(head + ": load the fuse module (modprobe fuse), or in a container "
          + "pass the device in (docker run --device /dev/fuse)", Errno.ENODEV, null);
    }
    if (o.contains("user_allow_other")) {
      return new FuseException(head + ": " + FIX_ALLOW_OTHER, Errno.EPERM, null);
    }
    if (o.contains("not owned by user") || o.contains("no write access to mountpoint")) {
      return new FuseException(head + ": the mount point must be a directory the user owns or "
          + "may write to", Errno.EACCES, null);
    }
    if (o.contains("failed to access mountpoint") || o.contains("bad mount point")) {
      return new FuseException(head + ": check that the mount point exists and is a directory",
          Errno.ENOENT, null);
    }
    if (o.contains("too many fuse filesystems mounted")) {
      return new FuseException(head + ": unmount some, or raise mount_max in /etc/fuse.conf",
          Errno.EBUSY, null);
    }
    if (o.contains("mount failed: operation not permitted")) {
      return new FuseException(head + ": " + setuidAdvice(program), Errno.EPERM, null);
    }
    if (o.contains("mount failed: device or resource busy")) {
      return new FuseException(head + ": unmount what is mounted there first", Errno.EBUSY, null);
    }
    return new FuseException(head, null, null);
  }

  /** Why a setuid helper could not mount: no setuid bit, or no_new_privs. */
  private static String setuidAdvice(Path program) {
    boolean setuid;
    try {
      setuid = ((Integer) Files.getAttribute(program, "unix:mode") & 04000) != 0;
    } catch (IOException | RuntimeException e) {
      setuid = true; // unknown: give the other advice
    }
    if (!setuid) {
      return program + " is not setuid root; as root: chown root " + program + " && chmod u+s "
          + program;
    }
    return program + " is setuid, yet mounting was not permitted: this process probably runs "
        + "with no_new_privs (see NoNewPrivs in /proc/self/status; set by container runtimes and "
        + "systemd's NoNewPrivileges=), which disables setuid; run without it, or as root";
  }

  /** {@code fusermount3 -u [-z] -- MOUNTPOINT}. */
  public static void unmount(Path mountPoint, boolean lazy) {
    Path program = locate(System.getenv("PATH"), FALLBACK_DIRS);
    List<String> cmd = new ArrayList<>(List.of(program.toString(), "-u"));
    if (lazy) {
      cmd.add("-z");
    }
    cmd.add("--");
    cmd.add(mountPoint.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().put("LC_ALL", "C");
    String out;
    int exit;
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new FuseException("cannot run " + program + " to unmount " + mountPoint + ": " + e
          + "; " + FIX_INSTALL, Errno.ENOENT, e);
    }
    try {
      // Its output is a line or two: it fits the pipe, so reading after the exit cannot block.
      if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new FuseException(PROGRAM + " -u " + mountPoint + " did not finish within "
            + TIMEOUT.toSeconds() + " s and was killed", Errno.ETIMEDOUT, null);
      }
      exit = p.exitValue();
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new FuseException("interrupted while unmounting " + mountPoint, Errno.EINTR, e);
    } catch (IOException e) {
      throw new FuseException("cannot read the output of " + PROGRAM + " -u " + mountPoint + ": "
          + e, Errno.EIO, e);
    } finally {
      p.destroyForcibly(); // a no-op once it has ended; closes the streams
    }
    if (exit != 0) {
      FuseException failure = unmountFailure(mountPoint, exit, out, isMounted(mountPoint));
      if (failure != null) {
        throw failure;
      }
    }
  }

  /**
   * What {@code fusermount3 -u} failing means: null when the mount is gone already (as umount2's
   * EINVAL, not an error), else the exception to throw.
   */
  static FuseException unmountFailure(Path mountPoint, int exit, String output, boolean mounted) {
    String o = output.toLowerCase(Locale.ROOT);
    String head = "cannot unmount " + mountPoint + " with " + PROGRAM + " (exit code " + exit
        + "): \"" + output + "\"";
    if (o.contains("device or resource busy")) {
      return new FuseException("cannot unmount " + mountPoint + ": files on it are still in use "
          + "(EBUSY); close them, or unmount lazily", Errno.EBUSY, null);
    }
    if (o.contains("not found in") || o.contains("not mounted")) {
      if (!mounted) {
        return null;
      }
      return new FuseException(head + ": it is mounted, but not by this user; unmount it as the "
          + "user who mounted it, or as root", Errno.EPERM, null);
    }
    return new FuseException(head, null, null);
  }

  private static void unmountQuietly(Path mountPoint) {
    try {
      unmount(mountPoint, true);
    } catch (RuntimeException e) {
      // best effort, after a failure that is being reported already
    }
  }

  /** Whether {@code dir} appears as a mount point in /proc/self/mounts. */
  static boolean isMounted(Path dir) {
    // /proc/mounts escapes space, tab, newline and backslash as octal
    String target = " " + dir.toAbsolutePath().toString().replace("\\", "\\134")
        .replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012") + " ";
    try {
      return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
          .anyMatch(l -> l.contains(target));
    } catch (IOException e) {
      return true; // unknown: report the failure rather than hide it
    }
  }
}
