package io.reactorfuse.internal.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.reactorfuse.Errno;
import io.reactorfuse.FuseException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of {@link Fusermount} that need no mount: lookup, options, reading its messages. */
class FusermountTest {
  private static final Path BIN = Path.of("/usr/bin/fusermount3");
  private static final Path MNT = Path.of("/mnt/x");

  @Test
  void locate_missing_saysToInstallFuse3() {
    FuseException e = assertThrows(FuseException.class,
        () -> Fusermount.locate("/nonexistent/a:/nonexistent/b", List.of()));
    assertEquals(Errno.ENOENT, e.errno());
    assertTrue(e.getMessage().contains("install fuse3 (apt-get install fuse3)"), e.getMessage());
  }

  @Test
  void options_addFsnameAndSubtype_escapingCommasAndBackslashes() {
    assertEquals("rw,nosuid,fsname=a\\,b\\\\c,subtype=t",
        Fusermount.options("rw,nosuid", "a,b\\c", "t"));
    assertEquals("fsname=f", Fusermount.options("", "f", null));
  }

  @Test
  void mountFailure_deviceDenied_namesThePermissionFix() {
    FuseException e = Fusermount.mountFailure(BIN, MNT, 1,
        "fusermount3: failed to open /dev/fuse: Permission denied");
    assertEquals(Errno.EACCES, e.errno());
    assertEquals("/usr/bin/fusermount3 could not mount /mnt/x (exit code 1): \"fusermount3: "
        + "failed to open /dev/fuse: Permission denied\": give the user access to /dev/fuse "
        + "(e.g. chmod 0666 /dev/fuse or add the user to a group that owns it)", e.getMessage());
  }

  @Test
  void mountFailure_allowOther_namesFuseConf() {
    FuseException e = Fusermount.mountFailure(BIN, MNT, 1, "fusermount3: option allow_other "
        + "only allowed if 'user_allow_other' is set in /etc/fuse.conf");
    assertEquals(Errno.EPERM, e.errno());
    assertTrue(e.getMessage().endsWith("needs the line user_allow_other in /etc/fuse.conf (as "
        + "root: echo user_allow_other >> /etc/fuse.conf); or mount without allowOther"),
        e.getMessage());
  }

  @Test
  void mountFailure_mountPointNotWritable_saysSo() {
    FuseException e = Fusermount.mountFailure(BIN, MNT, 1,
        "fusermount3: user has no write access to mountpoint /mnt/x");
    assertEquals(Errno.EACCES, e.errno());
    assertTrue(e.getMessage().contains("a directory the user owns or may write to"));
  }

  @Test
  void mountFailure_unknownMessage_isQuotedAsIs() {
    FuseException e = Fusermount.mountFailure(BIN, MNT, 3, "fusermount3: something new");
    assertNull(e.errno());
    assertEquals("/usr/bin/fusermount3 could not mount /mnt/x (exit code 3): \"fusermount3: "
        + "something new\"", e.getMessage());
  }

  @Test
  void mountFailure_exitZeroWithoutFd_isNotFusermount3() {
    FuseException e = Fusermount.mountFailure(BIN, MNT, 0, "");
    assertEquals(Errno.EIO, e.errno());
    assertTrue(e.getMessage().contains("passed no /dev/fuse fd"), e.getMessage());
  }

  @Test
  void unmountFailure_busy_isEbusyAndMentionsLazy() {
    FuseException e = Fusermount.unmountFailure(MNT, 1,
        "fusermount3: failed to unmount /mnt/x: Device or resource busy", true);
    assertEquals(Errno.EBUSY, e.errno());
    assertTrue(e.getMessage().contains("unmount lazily"), e.getMessage());
  }

  @Test
  void unmountFailure_notMounted_isNoError_unlessSomeoneElsesMountIsThere() {
    String out = "fusermount3: entry for /mnt/x not found in /etc/mtab";
    assertNull(Fusermount.unmountFailure(MNT, 1, out, false));
    assertEquals(Errno.EPERM, Fusermount.unmountFailure(MNT, 1, out, true).errno());
  }

  @Test
  void exitCode_decodesWaitStatus() {
    assertEquals(0, Spawn.exitCode(0));
    assertEquals(1, Spawn.exitCode(1 << 8));
    assertEquals(128 + 9, Spawn.exitCode(9));
  }
}
