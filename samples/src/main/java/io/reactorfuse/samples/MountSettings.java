package io.reactorfuse.samples;

import io.reactorfuse.FuseServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;
import reactor.core.scheduler.Schedulers;

/**
 * What every sample takes: -o mount options, --threads, --scheduler, --debug. The positional
 * parameters come from the subclass: {@link MountOptions} (MOUNTPOINT) or
 * {@link SourceMountOptions} (SOURCE MOUNTPOINT).
 */
abstract class MountSettings {
  /** The directory to mount on. */
  abstract Path mountPoint();

  @Option(names = "-o", paramLabel = "OPT[,OPT...]", split = ",",
      description = "Mount options: allow_other, default_permissions, ro, nosuid, nodev, "
          + "fsname=NAME, subtype=NAME, max_read=N, max_write=N, uid=N (user_id), gid=N.")
  List<String> options = new ArrayList<>();

  @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
      description = "Serve the mount from N /dev/fuse fds, each on its own event loop "
          + "(default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--scheduler", paramLabel = "NAME", defaultValue = "none",
      description = "Where handlers run: none (on the event loop, the default), parallel or "
          + "boundedElastic (Reactor's schedulers, for handlers that block).")
  String scheduler;

  @Option(names = {"-d", "--debug"},
      description = "Log every request and reply (opcode, unique, node, result, time).")
  boolean debug;

  /** Applies the options to a server builder; unknown options fail with the list of known ones. */
  FuseServer apply(FuseServer server) {
    FuseServer s = server.mountPoint(mountPoint()).debug(debug).threads(threads);
    switch (scheduler) {
      case "none": break;
      case "parallel": s = s.handlerScheduler(Schedulers.parallel()); break;
      case "boundedElastic": s = s.handlerScheduler(Schedulers.boundedElastic()); break;
      default:
        throw new IllegalArgumentException("unknown --scheduler \"" + scheduler
            + "\"; known: none, parallel, boundedElastic");
    }
    for (String option : options) {
      String name = option.contains("=") ? option.substring(0, option.indexOf('=')) : option;
      String value = option.contains("=") ? option.substring(option.indexOf('=') + 1) : null;
      switch (name) {
        case "allow_other": s = s.allowOther(true); break;
        case "default_permissions": s = s.defaultPermissions(true); break;
        case "ro": s = s.readOnly(true); break;
        case "nosuid": s = s.noSuid(true); break;
        case "nodev": s = s.noDev(true); break;
        case "fsname": s = s.fsName(required(name, value)); break;
        case "subtype": s = s.subtype(required(name, value)); break;
        case "max_read": s = s.maxRead(number(name, value)); break;
        case "max_write": s = s.maxWrite(number(name, value)); break;
        case "uid": case "user_id": s = s.userId(number(name, value)); break;
        case "gid": case "group_id": s = s.groupId(number(name, value)); break;
        default:
          throw new IllegalArgumentException("unknown mount option \"" + option + "\"; known: "
              + "allow_other, default_permissions, ro, nosuid, nodev, fsname=, subtype=, "
              + "max_read=, max_write=, uid=, gid=");
      }
    }
    return s;
  }

  private static String required(String name, String value) {
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("mount option " + name + " needs a value: -o " + name
          + "=VALUE");
    }
    return value;
  }

  private static int number(String name, String value) {
    try {
      return Integer.parseInt(required(name, value));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("mount option " + name + " needs a number, got \""
          + value + "\"");
    }
  }
}
