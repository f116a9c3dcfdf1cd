package io.reactorfuse;

import io.netty.channel.unix.Errors;
import java.io.FileNotFoundException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeoutException;
import reactor.core.publisher.Mono;

/**
 * A Linux error number, as a value. The API speaks positive codes ({@code Errno.ENOENT.code() == 2});
 * only the wire encoder negates them.
 *
 * <p>A handler fails a request with {@code return Errno.ENOENT.mono();} or by erroring its Mono with
 * {@link #exception()}. Any other throwable is mapped by {@link #from(Throwable)}.
 */
public final class Errno {
  private static final Errno[] BY_CODE = new Errno[134];

  public static final Errno EPERM = define(1, "EPERM", "Operation not permitted");
  public static final Errno ENOENT = define(2, "ENOENT", "No such file or directory");
  public static final Errno EINTR = define(4, "EINTR", "Interrupted system call");
  public static final Errno EIO = define(5, "EIO", "Input/output error");
  public static final Errno ENXIO = define(6, "ENXIO", "No such device or address");
  public static final Errno E2BIG = define(7, "E2BIG", "Argument list too long");
  public static final Errno EBADF = define(9, "EBADF", "Bad file descriptor");
  public static final Errno EAGAIN = define(11, "EAGAIN", "Resource temporarily unavailable");
  public static final Errno ENOMEM = define(12, "ENOMEM", "Cannot allocate memory");
  public static final Errno EACCES = define(13, "EACCES", "Permission denied");
  public static final Errno EFAULT = define(14, "EFAULT", "Bad address");
  public static final Errno EBUSY = define(16, "EBUSY", "Device or resource busy");
  public static final Errno EEXIST = define(17, "EEXIST", "File exists");
  public static final Errno EXDEV = define(18, "EXDEV", "Invalid cross-device link");
  public static final Errno ENODEV = define(19, "ENODEV", "No such device");
  public static final Errno ENOTDIR = define(20, "ENOTDIR", "Not a directory");
  public static final Errno EISDIR = define(21, "EISDIR", "Is a directory");
  public static final Errno EINVAL = define(22, "EINVAL", "Invalid argument");
  public static final Errno ENFILE = define(23, "ENFILE", "Too many open files in system");
  public static final Errno EMFILE = define(24, "EMFILE", "Too many open files");
  public static final Errno ENOTTY = define(25, "ENOTTY", "Inappropriate ioctl for device");
  public static final Errno ETXTBSY = define(26, "ETXTBSY", "Text file busy");
  public static final Errno EFBIG = define(27, "EFBIG", "File too large");
  public static final Errno ENOSPC = define(28, "ENOSPC", "No space left on device");
  public static final Errno ESPIPE = define(29, "ESPIPE", "Illegal seek");
  public static final Errno EROFS = define(30, "EROFS", "Read-only file system");
  public static final Errno EMLINK = define(31, "EMLINK", "Too many links");
  public static final Errno EPIPE = define(32, "EPIPE", "Broken pipe");
  public static final Errno ERANGE = define(34, "ERANGE", "Numerical result out of range");
  public static final Errno EDEADLK = define(35, "EDEADLK", "Resource deadlock avoided");
  public static final Errno ENAMETOOLONG = define(36, "ENAMETOOLONG", "File name too long");
  public static final Errno ENOLCK = define(37, "ENOLCK", "No locks available");
  public static final Errno ENOSYS = define(38, "ENOSYS", "Function not implemented");
  public static final Errno ENOTEMPTY = define(39, "ENOTEMPTY", "Directory not empty");
  public static final Errno ELOOP = define(40, "ELOOP", "Too many levels of symbolic links");
  public static final Errno ENODATA = define(61, "ENODATA", "No data available");
  public static final Errno EOVERFLOW = define(75, "EOVERFLOW", "Value too large for defined data type");
  public static final Errno EOPNOTSUPP = define(95, "EOPNOTSUPP", "Operation not supported");
  public static final Errno ECONNABORTED = define(103, "ECONNABORTED", "Software caused connection abort");
  public static final Errno ENOTCONN = define(107, "ENOTCONN", "Transport endpoint is not connected");
  public static final Errno ETIMEDOUT = define(110, "ETIMEDOUT", "Connection timed out");
  public static final Errno ESTALE = define(116, "ESTALE", "Stale file handle");
  public static final Errno EDQUOT = define(122, "EDQUOT", "Disk quota exceeded");
  public static final Errno ECANCELED = define(125, "ECANCELED", "Operation canceled");

  /** Java's NIO reports the C library's strerror text; map those texts back to the code. */
  private static final Map<String, Errno> BY_MESSAGE = byMessage();

  private final int code;
  private final String name;
  private final String description;
  private final ErrnoException exception;

  private Errno(int code, String name, String description) {
    this.code = code;
    this.name = name;
    this.description = description;
    this.exception = new ErrnoException(this);
  }

  private static Errno define(int code, String name, String description) {
    Errno errno = new Errno(code, name, description);
    BY_CODE[code] = errno;
    return errno;
  }

  private static Map<String, Errno> byMessage() {
    Map<String, Errno> map = new java.util.HashMap<>();
    for (Errno e : BY_CODE) {
      if (e != null) {
        map.put(e.description, e);
      }
    }
    return Map.copyOf(map);
  }

  /**
   * The errno with this positive code. Codes without a constant here still work: they get a
   * value named {@code E<code>}.
   *
   * @throws IllegalArgumentException for zero or a negative code
   */
  public static Errno of(int code) {
    if (code <= 0 || code > 4095) {
      throw new IllegalArgumentException("errno must be a positive code (1..4095), got " + code);
    }
    Errno known = code < BY_CODE.length ? BY_CODE[code] : null;
    return known != null ? known : new Errno(code, "E" + code, "Error " + code);
  }

  /**
   * The errno that best describes {@code error}: the code an {@link ErrnoException} carries, the
   * code behind NIO's exceptions, EINTR for cancellation, ETIMEDOUT for time-outs, ENOMEM for
   * out-of-memory. Anything unknown is {@link #EIO}, never {@link #ENOSYS}: the kernel remembers
   * ENOSYS for some operations and would stop sending them for good.
   */
  public static Errno from(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      Errno found = direct(t);
      if (found != null) {
        return found;
      }
    }
    return EIO;
  }

  private static Errno direct(Throwable t) {
    if (t instanceof ErrnoException) {
      return ((ErrnoException) t).errno();
    }
    if (t instanceof Errors.NativeIoException) {
      int err = -((Errors.NativeIoException) t).expectedErr();
      return err > 0 ? of(err) : null;
    }
    if (t instanceof NoSuchFileException || t instanceof FileNotFoundException) {
      return ENOENT;
    }
    if (t instanceof FileAlreadyExistsException) {
      return EEXIST;
    }
    if (t instanceof DirectoryNotEmptyException) {
      return ENOTEMPTY;
    }
    if (t instanceof NotDirectoryException) {
      return ENOTDIR;
    }
    if (t instanceof AccessDeniedException) {
      return EACCES;
    }
    if (t instanceof NotLinkException) {
      return EINVAL;
    }
    if (t instanceof FileSystemLoopException) {
      return ELOOP;
    }
    if (t instanceof FileSystemException) {
      String reason = ((FileSystemException) t).getReason();
      Errno byReason = reason == null ? null : BY_MESSAGE.get(reason);
      if (byReason != null) {
        return byReason;
      }
    }
    if (t instanceof ClosedChannelException) {
      return EBADF;
    }
    if (t instanceof CancellationException || t instanceof InterruptedException
        || t instanceof InterruptedIOException) {
      return EINTR;
    }
    if (t instanceof TimeoutException) {
      return ETIMEDOUT;
    }
    if (t instanceof OutOfMemoryError) {
      return ENOMEM;
    }
    if (t instanceof UnsupportedOperationException) {
      return EOPNOTSUPP;
    }
    return null;
  }

  /** The positive error code, as in {@code <errno.h>}. */
  public int code() {
    return code;
  }

  /** The symbolic name, such as {@code "ENOENT"}. */
  public String name() {
    return name;
  }

  /** The C library's text for this code. */
  public String description() {
    return description;
  }

  /**
   * A shared, stackless exception carrying this errno: cheap enough for hot paths. Do not add
   * suppressed exceptions to it.
   */
  public ErrnoException exception() {
    return exception;
  }

  /** A Mono that fails with this errno: {@code return Errno.ENOENT.mono();}. */
  public <T> Mono<T> mono() {
    return Mono.error(exception);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Errno && ((Errno) o).code == code;
  }

  @Override
  public int hashCode() {
    return code;
  }

  @Override
  public String toString() {
    return name + " (" + description + ")";
  }
}
