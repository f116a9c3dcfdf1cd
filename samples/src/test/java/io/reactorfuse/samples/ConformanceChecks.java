package io.reactorfuse.samples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * POSIX conformance checks that run the same way on any filesystem, so that two filesystems can
 * be compared by their transcripts. Each check is a shell script (a resource next to this class,
 * {@code conformance/NAME.sh}) made of steps: lines {@code #@ root} and {@code #@ user} start a
 * step run as root or as the user under test (root, or uid/gid 65534 without supplementary groups
 * through {@code setpriv}). Every step runs in the check's own directory, with relative paths, after
 * {@code conformance/prelude.sh} (the {@code t} and {@code py} helpers), so that what it prints
 * (exit codes, error messages, stat fields, listings) depends on the filesystem only.
 */
final class ConformanceChecks {
  /** The checks, in the order they run. */
  static final List<String> NAMES = List.of("permissions", "ownership", "sticky", "rename",
      "hardlinks", "timestamps", "xattrs", "locks", "sparse", "append", "truncate", "unlinked",
      "tmpfile", "oddnames");

  /** Upper bound for one step. */
  static final Duration STEP_TIMEOUT = Duration.ofSeconds(120);

  private static final String PRELUDE_SH = resource("prelude.sh");
  private static final String PRELUDE_PY = resource("prelude.py");

  private ConformanceChecks() {}

  /** Who runs the {@code #@ user} steps. */
  enum User {
    ROOT("root", List.of()),
    NOBODY("uid65534", List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));

    final String tag;
    final List<String> prefix;

    User(String tag, List<String> prefix) {
      this.tag = tag;
      this.prefix = prefix;
    }
  }

  /** One part of a check, run as root or as the user under test. */
  record Step(boolean asRoot, String script) {}

  /** A named list of steps. */
  record Check(String name, List<Step> steps) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<Check> all() {
    List<Check> checks = new ArrayList<>();
    for (String name : NAMES) {
      checks.add(parse(name, resource(name + ".sh")));
    }
    return checks;
  }

  static Check parse(String name, String text) {
    List<Step> steps = new ArrayList<>();
    Boolean asRoot = null;
    StringBuilder body = new StringBuilder();
    for (String line : text.split("\n", -1)) {
      String marker = line.strip();
      if (marker.equals("#@ root") || marker.equals("#@ user")) {
        if (asRoot != null) {
          steps.add(new Step(asRoot, body.toString()));
        }
        asRoot = marker.equals("#@ root");
        body.setLength(0);
      } else {
        body.append(line).append('\n');
      }
    }
    if (asRoot == null) {
      throw new IllegalStateException(name + ".sh has no #@ root or #@ user step");
    }
    steps.add(new Step(asRoot, body.toString()));
    return new Check(name, List.copyOf(steps));
  }

  /**
   * Runs every step of {@code check} in {@code dir} and returns the transcript: per step who ran
   * it, its output (stdout and stderr together, bytes kept as ISO-8859-1 characters) and its exit
   * code, with {@code dir} written as {@code $D}.
   */
  static String run(Check check, Path dir, User user) throws IOException, InterruptedException {
    StringBuilder transcript = new StringBuilder();
    for (Step step : check.steps()) {
      List<String> command = new ArrayList<>(step.asRoot() ? List.of() : user.prefix);
      command.addAll(List.of("/bin/bash", "-c", PRELUDE_SH + "\n" + step.script()));
      ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
          .redirectErrorStream(true);
      Map<String, String> env = pb.environment();
      env.clear();
      env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
      env.put("LC_ALL", "C");
      env.put("TZ", "UTC");
      env.put("HOME", "/");
      env.put("PYPRE", PRELUDE_PY);
      Process p = pb.start();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      Thread reader = new Thread(() -> copy(p.getInputStream(), out), "conformance-output");
      reader.setDaemon(true);
      reader.start();
      if (!p.waitFor(STEP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new AssertionError(check.name() + " as " + user.tag + ": a step timed out after "
            + STEP_TIMEOUT + " in " + dir + "\n" + transcript + out.toString(
                StandardCharsets.ISO_8859_1));
      }
      reader.join(STEP_TIMEOUT.toMillis());
      String output;
      synchronized (out) {
        output = out.toString(StandardCharsets.ISO_8859_1);
      }
      transcript.append("#@ ").append(step.asRoot() ? "root" : "user").append('\n')
          .append(output.replace(dir.toString(), "$D"))
          .append("#@ exit ").append(p.exitValue()).append('\n');
    }
    return transcript.toString();
  }

  private static void copy(InputStream in, ByteArrayOutputStream out) {
    byte[] buf = new byte[8192];
    try (in) {
      for (int n; (n = in.read(buf)) >= 0; ) {
        synchronized (out) {
          out.write(buf, 0, n);
        }
      }
    } catch (IOException e) {
      // the process is gone; what was read is the output
    }
  }

  private static String resource(String name) {
    try (InputStream in = ConformanceChecks.class.getResourceAsStream("conformance/" + name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource conformance/" + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
