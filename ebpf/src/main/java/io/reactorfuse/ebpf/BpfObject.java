package io.reactorfuse.ebpf;

import io.reactorfuse.FuseException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import jnr.ffi.Pointer;

/**
 * One compiled BPF object ({@code X.bpf.o}, built into the jar by the Maven build) opened and
 * loaded through libbpf: its maps and programs, and the links of attached programs. Closing it
 * detaches the links, unloads the programs and closes the maps it created (maps whose fds were
 * reused belong to their owner).
 */
final class BpfObject implements AutoCloseable {
  private final LibBpf lib;
  private final String name;
  private final List<Pointer> links = new ArrayList<>();
  private Pointer obj;

  private BpfObject(LibBpf lib, String name, Pointer obj) {
    this.lib = lib;
    this.name = name;
    this.obj = obj;
  }

  /**
   * Opens {@code resource} (next to this class), lets {@code reuse} map names to existing map
   * fds (the program then works on those maps instead of creating its own), and loads it into
   * the kernel: the verifier runs here.
   */
  static BpfObject load(String resource, Map<String, Integer> reuse) {
    LibBpf lib = LibBpf.get();
    // libbpf opens objects by path (or from memory, which needs the whole ELF in native memory
    // anyway): copy the resource out of the jar and remove it once loaded.
    Path file = copyOut(resource);
    Pointer obj = null;
    try {
      obj = lib.openObject(file.toString());
      for (Map.Entry<String, Integer> e : reuse.entrySet()) {
        lib.reuseMapFd(lib.findMap(obj, e.getKey()), e.getValue());
      }
      lib.loadObject(obj, resource);
      BpfObject loaded = new BpfObject(lib, resource, obj);
      obj = null;
      return loaded;
    } finally {
      if (obj != null) {
        lib.closeObject(obj);
      }
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // a temp file left behind is harmless
      }
    }
  }

  private static Path copyOut(String resource) {
    try (InputStream in = BpfObject.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new FuseException(resource + " is not on the class path: the ebpf module's build "
            + "compiles it (clang -target bpf); rebuild with mvn -pl ebpf package");
      }
      Path file = Files.createTempFile("reactor-fuse-", "-" + resource);
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      return file;
    } catch (IOException e) {
      throw new FuseException("cannot extract " + resource + ": " + e, null, e);
    }
  }

  int mapFd(String map) {
    return lib.mapFd(lib.findMap(live(), map));
  }

  int programFd(String program) {
    return lib.programFd(lib.findProgram(live(), program));
  }

  /** Attaches a tracing program where its SEC() says; detached by {@link #close()}. */
  synchronized void attach(String program) {
    links.add(lib.attach(lib.findProgram(live(), program), name + ":" + program));
  }

  LibBpf lib() {
    return lib;
  }

  private synchronized Pointer live() {
    if (obj == null) {
      throw new IllegalStateException(name + " is closed");
    }
    return obj;
  }

  @Override
  public synchronized void close() {
    if (obj == null) {
      return;
    }
    // Links first: a program must stop running before its maps go away.
    for (Pointer link : links) {
      lib.destroyLink(link);
    }
    links.clear();
    lib.closeObject(obj);
    obj = null;
  }
}
