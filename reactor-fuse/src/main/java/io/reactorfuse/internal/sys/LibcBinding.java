package io.reactorfuse.internal.sys;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * A jnr-ffi interface bound to the C library on first use. Loading fails with one clear message,
 * and failed calls become {@link NativeError}s carrying the errno.
 */
final class LibcBinding<T> {
  private final Class<T> type;
  private volatile T library;
  private volatile Runtime runtime;

  LibcBinding(Class<T> type) {
    this.type = type;
  }

  T lib() {
    T lib = library;
    if (lib == null) {
      synchronized (this) {
        lib = library;
        if (lib == null) {
          try {
            lib = LibraryLoader.create(type).load("c");
          } catch (Throwable t) {
            throw new FuseException("cannot load the C library through jnr-ffi: " + t
                + ". reactor-fuse runs on Linux x86-64 with glibc", null, t);
          }
          runtime = Runtime.getRuntime(lib);
          library = lib;
        }
      }
    }
    return lib;
  }

  Runtime runtime() {
    lib();
    return runtime;
  }

  /** The errno of the last failed call on this thread. */
  int lastError() {
    return runtime().getLastError();
  }

  NativeError error(String call) {
    return new NativeError(call, Errno.of(Math.max(1, lastError())));
  }
}
