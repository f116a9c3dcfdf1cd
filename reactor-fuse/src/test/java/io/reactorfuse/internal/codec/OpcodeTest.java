package io.reactorfuse.internal.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The opcode table against the kernel's numbers and struct sizes (see KERNEL-FACTS.md). */
class OpcodeTest {

  @ParameterizedTest(name = "{0} = {1}, fixed body {2} bytes")
  @CsvSource({
      // name, code, sizeof the fixed *_in struct
      "LOOKUP,              1,  0",
      "FORGET,              2,  8",  // fuse_forget_in
      "GETATTR,             3, 16",  // fuse_getattr_in
      "SETATTR,             4, 88",  // fuse_setattr_in
      "READLINK,            5,  0",
      "SYMLINK,             6,  0",
      "MKNOD,               8, 16",  // fuse_mknod_in
      "MKDIR,               9,  8",  // fuse_mkdir_in
      "UNLINK,             10,  0",
      "RMDIR,              11,  0",
      "RENAME,             12,  8",  // fuse_rename_in
      "LINK,               13,  8",  // fuse_link_in
      "OPEN,               14,  8",  // fuse_open_in
      "READ,               15, 40",  // fuse_read_in
      "WRITE,              16, 40",  // fuse_write_in
      "STATFS,             17,  0",
      "RELEASE,            18, 24",  // fuse_release_in
      "FSYNC,              20, 16",  // fuse_fsync_in
      "SETXATTR,           21,  8",  // fuse_setxattr_in without SETXATTR_EXT
      "GETXATTR,           22,  8",  // fuse_getxattr_in
      "LISTXATTR,          23,  8",  // fuse_getxattr_in
      "REMOVEXATTR,        24,  0",
      "FLUSH,              25, 24",  // fuse_flush_in
      "INIT,               26, 16",  // fuse_init_in up to flags (7.35 and older)
      "OPENDIR,            27,  8",
      "READDIR,            28, 40",  // fuse_read_in
      "RELEASEDIR,         29, 24",
      "FSYNCDIR,           30, 16",
      "GETLK,              31, 48",  // fuse_lk_in
      "SETLK,              32, 48",
      "SETLKW,             33, 48",
      "ACCESS,             34,  8",  // fuse_access_in
      "CREATE,             35, 16",  // fuse_create_in
      "INTERRUPT,          36,  8",  // fuse_interrupt_in
      "BMAP,               37, 16",  // fuse_bmap_in
      "DESTROY,            38,  0",
      "IOCTL,              39, 32",  // fuse_ioctl_in
      "POLL,               40, 24",  // fuse_poll_in
      "NOTIFY_REPLY,       41, 40",  // fuse_notify_retrieve_in
      "BATCH_FORGET,       42,  8",  // fuse_batch_forget_in
      "FALLOCATE,          43, 32",  // fuse_fallocate_in
      "READDIRPLUS,        44, 40",  // fuse_read_in
      "RENAME2,            45, 16",  // fuse_rename2_in
      "LSEEK,              46, 24",  // fuse_lseek_in
      "COPY_FILE_RANGE,    47, 56",  // fuse_copy_file_range_in
      "SETUPMAPPING,       48, 40",  // fuse_setupmapping_in
      "REMOVEMAPPING,      49,  4",  // fuse_removemapping_in
      "SYNCFS,             50,  8",  // fuse_syncfs_in
      "TMPFILE,            51, 16",  // fuse_create_in
      "STATX,              52, 24",  // fuse_statx_in
      "COPY_FILE_RANGE_64, 53, 56",
  })
  void of_kernelCode_matchesTable(String name, int code, int fixedSize) {
    Opcode op = Opcode.valueOf(name);
    assertEquals(code, op.code());
    assertSame(op, Opcode.of(code));
    assertEquals(fixedSize, op.fixedSize());
  }

  @ParameterizedTest
  @ValueSource(ints = {Integer.MIN_VALUE, -1, 0, 7, 19, 54, 4096, Integer.MAX_VALUE})
  void of_unassignedCode_isNull(int code) {
    assertNull(Opcode.of(code));
  }

  @Test
  void values_coverEveryAssignedCode() {
    assertEquals(Opcode.MAX_CODE - 2, Opcode.values().length); // 1..53 less 7 and 19
  }

  @Test
  void replies_falseOnlyForForgetsInterruptAndNotifyReply() {
    Set<Opcode> silent =
        EnumSet.of(Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT, Opcode.NOTIFY_REPLY);
    for (Opcode op : Opcode.values()) {
      assertEquals(!silent.contains(op), op.replies(), op.name());
    }
  }
}
