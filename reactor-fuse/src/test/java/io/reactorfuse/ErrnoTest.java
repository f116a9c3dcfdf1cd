package io.reactorfuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

class ErrnoTest {

  @Test
  void from_mapsNioExceptions() {
    assertEquals(Errno.ENOENT, Errno.from(new NoSuchFileException("x")));
    assertEquals(Errno.ENOTEMPTY, Errno.from(new DirectoryNotEmptyException("x")));
    assertEquals(Errno.EACCES, Errno.from(new AccessDeniedException("x")));
    assertEquals(Errno.EROFS,
        Errno.from(new FileSystemException("x", null, "Read-only file system")));
    assertEquals(Errno.ETIMEDOUT, Errno.from(new TimeoutException()));
  }

  @Test
  void from_findsTheErrnoInTheCauseChain() {
    assertEquals(Errno.EEXIST,
        Errno.from(new RuntimeException(new IOException(Errno.EEXIST.exception()))));
  }

  @Test
  void from_unknown_isEioNeverEnosys() {
    assertEquals(Errno.EIO, Errno.from(new IllegalStateException("bug")));
    assertEquals(Errno.EIO, Errno.from(new IOException("disk on fire")));
  }

  @Test
  void of_unknownCode_stillCarriesTheCode() {
    assertEquals(200, Errno.of(200).code());
    assertEquals(Errno.ENOSPC, Errno.of(28));
  }
}
