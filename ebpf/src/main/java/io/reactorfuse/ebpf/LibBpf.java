package io.reactorfuse.ebpf;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * Every native call of this module, and nowhere else: libbpf 1.x ({@code libbpf.so.1}, Debian
 * package libbpf1) and close(2), bound by jnr-ffi on first use.
 *
 * <p>libbpf 1.x reports errors as negative errno return values (and NULL plus errno for pointer
 * results); the wrappers here turn both into {@link FuseException}s naming the call and the errno,
 * with the remedy for EPERM. Pointers to libbpf objects stay inside this package.
 */
final class LibBpf {
  /** The libbpf functions used, as declared in {@code <bpf/libbpf.h>} and {@code <bpf/bpf.h>}. */
  public interface Api {
    @SaveError
    Pointer bpf_object__open_file(String path, Pointer opts);

    int bpf_object__load(Pointer obj);

    void bpf_object__close(Pointer obj);

    Pointer bpf_object__find_map_by_name(Pointer obj, String name);

    Pointer bpf_object__find_program_by_name(Pointer obj, String name);

    int bpf_map__fd(Pointer map);

    int bpf_map__reuse_fd(Pointer map, int fd);

    int bpf_program__fd(Pointer prog);

    @SaveError
    Pointer bpf_program__attach(Pointer prog);

    int bpf_link__destroy(Pointer link);

    int bpf_map_create(int mapType, String name, int keySize, int valueSize, int maxEntries,
        Pointer opts);

    int bpf_map_update_elem(int fd, @In byte[] key, @In byte[] value, long flags);

    int bpf_map_lookup_elem(int fd, @In byte[] key, @Out byte[] value);

    int bpf_map_delete_elem(int fd, @In byte[] key);

    int bpf_map_get_next_key(int fd, @In byte[] key, @Out byte[] nextKey);

    int bpf_prog_test_run_opts(int progFd, Pointer opts);

    int libbpf_num_possible_cpus();
  }

  /** The C library, for close(2) of map fds libbpf handed over. */
  public interface Libc {
    int close(int fd);
  }

  static final int BPF_MAP_TYPE_HASH = 1;
  static final int BPF_F_NO_PREALLOC = 1;
  static final long BPF_ANY = 0;

  /** {@code struct bpf_map_create_opts} (libbpf 1.1): sz, ..., map_flags at 28; 48 bytes. */
  private static final int MAP_CREATE_OPTS_SIZE = 48;
  private static final int MAP_CREATE_OPTS_FLAGS = 28;

  /**
   * {@code struct bpf_test_run_opts} (libbpf 1.1, 80 bytes): {@code size_t sz} at 0, ctx_in at
   * 32, ctx_size_in at 48, retval at 56. libbpf checks sz against the fields it knows, so it must
   * be the size of the struct this layout describes.
   */
  private static final int TEST_RUN_OPTS_SIZE = 80;
  private static final int TEST_RUN_CTX_IN = 32;
  private static final int TEST_RUN_CTX_SIZE_IN = 48;
  private static final int TEST_RUN_RETVAL = 56;

  private static volatile LibBpf instance;
  private static volatile FuseException loadFailure;

  private final Api api;
  private final Libc libc;
  private final Runtime runtime;

  private LibBpf(Api api, Libc libc) {
    this.api = api;
    this.libc = libc;
    this.runtime = Runtime.getRuntime(api);
  }

  /** The bound library; throws the (remembered) reason it cannot be loaded. */
  static LibBpf get() {
    LibBpf lib = instance;
    if (lib != null) {
      return lib;
    }
    synchronized (LibBpf.class) {
      if (instance == null && loadFailure == null) {
        try {
          // "bpf" finds the versioned libbpf.so.1 too: the unversioned link is in libbpf-dev only.
          Api api = LibraryLoader.create(Api.class).failImmediately().load("bpf");
          Libc libc = LibraryLoader.create(Libc.class).failImmediately().load("c");
          instance = new LibBpf(api, libc);
        } catch (Throwable t) {
          loadFailure = new FuseException("cannot load libbpf (libbpf.so.1) through jnr-ffi: " + t
              + ". Install the Debian package libbpf1 (or libbpf-dev)", null, t);
        }
      }
      if (loadFailure != null) {
        throw loadFailure;
      }
      return instance;
    }
  }

  // --- objects and programs ---

  Pointer openObject(String path) {
    Pointer obj = api.bpf_object__open_file(path, null);
    if (obj == null) {
      throw error("bpf_object__open_file(" + path + ")", runtime.getLastError());
    }
    return obj;
  }

  void loadObject(Pointer obj, String what) {
    check(api.bpf_object__load(obj), "bpf_object__load(" + what + ")");
  }

  void closeObject(Pointer obj) {
    api.bpf_object__close(obj);
  }

  Pointer findMap(Pointer obj, String name) {
    Pointer map = api.bpf_object__find_map_by_name(obj, name);
    if (map == null) {
      throw new FuseException("no map " + name + " in the BPF object (stale build?)");
    }
    return map;
  }

  int mapFd(Pointer map) {
    return check(api.bpf_map__fd(map), "bpf_map__fd");
  }

  void reuseMapFd(Pointer map, int fd) {
    check(api.bpf_map__reuse_fd(map, fd), "bpf_map__reuse_fd");
  }

  Pointer findProgram(Pointer obj, String name) {
    Pointer prog = api.bpf_object__find_program_by_name(obj, name);
    if (prog == null) {
      throw new FuseException("no program " + name + " in the BPF object (stale build?)");
    }
    return prog;
  }

  int programFd(Pointer prog) {
    return check(api.bpf_program__fd(prog), "bpf_program__fd");
  }

  Pointer attach(Pointer prog, String what) {
    Pointer link = api.bpf_program__attach(prog);
    if (link == null) {
      throw error("bpf_program__attach(" + what + ")", runtime.getLastError());
    }
    return link;
  }

  void destroyLink(Pointer link) {
    api.bpf_link__destroy(link);
  }

  /**
   * Runs a BPF_PROG_TYPE_SYSCALL program once over {@code ctx}: the kernel copies the context in,
   * runs the program and copies the context back over the same buffer (syscall programs take no
   * data_in/ctx_out). Returns the program's return value.
   */
  int testRun(int progFd, byte[] ctx) {
    Pointer opts = Memory.allocateDirect(runtime, TEST_RUN_OPTS_SIZE, true);
    Pointer buf = Memory.allocateDirect(runtime, ctx.length, true);
    buf.put(0, ctx, 0, ctx.length);
    opts.putLong(0, TEST_RUN_OPTS_SIZE);
    opts.putAddress(TEST_RUN_CTX_IN, buf.address());
    opts.putInt(TEST_RUN_CTX_SIZE_IN, ctx.length);
    check(api.bpf_prog_test_run_opts(progFd, opts), "bpf_prog_test_run_opts");
    buf.get(0, ctx, 0, ctx.length);
    return opts.getInt(TEST_RUN_RETVAL);
  }

  // --- maps ---

  int createHashMap(String name, int keySize, int valueSize, int maxEntries) {
    Pointer opts = Memory.allocateDirect(runtime, MAP_CREATE_OPTS_SIZE, true);
    opts.putLong(0, MAP_CREATE_OPTS_SIZE);
    // Allocate entries on insert: the mirror follows a cache that is mostly smaller than its cap.
    opts.putInt(MAP_CREATE_OPTS_FLAGS, BPF_F_NO_PREALLOC);
    return check(api.bpf_map_create(BPF_MAP_TYPE_HASH, name, keySize, valueSize, maxEntries,
        opts), "bpf_map_create(" + name + ")");
  }

  void update(int fd, byte[] key, byte[] value) {
    check(api.bpf_map_update_elem(fd, key, value, BPF_ANY), "bpf_map_update_elem");
  }

  /** Whether the key was there. */
  boolean delete(int fd, byte[] key) {
    int rc = api.bpf_map_delete_elem(fd, key);
    if (rc == -Errno.ENOENT.code()) {
      return false;
    }
    check(rc, "bpf_map_delete_elem");
    return true;
  }

  /** Fills {@code value}; false when the key is absent. */
  boolean lookup(int fd, byte[] key, byte[] value) {
    int rc = api.bpf_map_lookup_elem(fd, key, value);
    if (rc == -Errno.ENOENT.code()) {
      return false;
    }
    check(rc, "bpf_map_lookup_elem");
    return true;
  }

  /** The key after {@code key} (the first when null) into {@code next}; false at the end. */
  boolean nextKey(int fd, byte[] key, byte[] next) {
    int rc = api.bpf_map_get_next_key(fd, key, next);
    if (rc == -Errno.ENOENT.code()) {
      return false;
    }
    check(rc, "bpf_map_get_next_key");
    return true;
  }

  int possibleCpus() {
    return check(api.libbpf_num_possible_cpus(), "libbpf_num_possible_cpus");
  }

  void close(int fd) {
    if (fd >= 0) {
      libc.close(fd);
    }
  }

  // --- errors ---

  private static int check(int rc, String call) {
    if (rc < 0) {
      throw error(call, -rc);
    }
    return rc;
  }

  static FuseException error(String call, int errno) {
    Errno e = Errno.of(Math.min(4095, Math.max(1, errno)));
    String message = call + " failed: " + e.name() + " (" + e.description() + ")";
    if (errno == Errno.EPERM.code() || errno == Errno.EACCES.code()) {
      message += ": BPF needs root (CAP_BPF/CAP_SYS_ADMIN)";
    }
    return new FuseException(message, e, null);
  }
}
