package io.reactorfuse.recovery;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecoveryStoreTest {

  private static final int SPACE = RecoveryStore.FIRST_USER_SPACE;

  @TempDir Path dir;

  private Path file() {
    return dir.resolve("state");
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void put_thenGetReturnsValue() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 42, bytes("hello"));
      assertArrayEquals(bytes("hello"), store.get(SPACE, 42));
      assertNull(store.get(SPACE, 43));
      assertNull(store.get(SPACE + 1, 42), "spaces are separate");
      assertEquals(1, store.size());
    }
  }

  @Test
  void get_returnsACopy() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("abc"));
      store.get(SPACE, 1)[0] = 'x';
      assertArrayEquals(bytes("abc"), store.get(SPACE, 1));
    }
  }

  @Test
  void put_overwriteReplacesValue() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 7, bytes("one"));
      long v1 = store.version();
      store.put(SPACE, 7, bytes("two, longer"));
      assertArrayEquals(bytes("two, longer"), store.get(SPACE, 7));
      assertEquals(1, store.size());
      assertTrue(store.version() > v1);
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(bytes("two, longer"), store.get(SPACE, 7));
      assertEquals(1, store.size());
    }
  }

  @Test
  void remove_deletesEntryAndStaysRemovedAfterReopen() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("a"));
      store.put(SPACE, 2, bytes("b"));
      store.put(SPACE, 2, bytes("b2"));
      store.remove(SPACE, 2);
      store.remove(SPACE, 99);
      store.remove(SPACE + 5, 1);
      assertNull(store.get(SPACE, 2));
      assertArrayEquals(bytes("a"), store.get(SPACE, 1));
      assertEquals(1, store.size());
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertNull(store.get(SPACE, 2));
      assertArrayEquals(bytes("a"), store.get(SPACE, 1));
      assertEquals(1, store.size());
    }
  }

  @Test
  void forEach_visitsEveryEntryOfItsSpaceOnly() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      for (long k = 0; k < 100; k++) {
        store.put(SPACE, k, bytes("v" + k));
        store.put(SPACE + 1, k, bytes("other"));
      }
      store.remove(SPACE, 50);
      Map<Long, String> seen = new HashMap<>();
      store.forEach(SPACE, (k, v) -> seen.put(k, new String(v, StandardCharsets.UTF_8)));
      assertEquals(99, seen.size());
      for (long k = 0; k < 100; k++) {
        assertEquals(k == 50 ? null : "v" + k, seen.get(k));
      }
      store.forEach(SPACE + 2, (k, v) -> {
        throw new AssertionError("empty space visited");
      });
    }
  }

  @Test
  void forEach_actionMayChangeTheStore() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      for (long k = 0; k < 10; k++) {
        store.put(SPACE, k, bytes("v"));
      }
      store.forEach(SPACE, (k, v) -> store.remove(SPACE, k));
      assertEquals(0, store.size());
    }
  }

  @Test
  void put_emptyAndMaxSizeValuesSurviveReopen() throws IOException {
    byte[] max = new byte[RecoveryStore.SLOT_SIZE - RecoveryStore.HEADER_SIZE];
    for (int i = 0; i < max.length; i++) {
      max[i] = (byte) (i * 31 + 7);
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertEquals(max.length, store.maxValueSize());
      store.put(SPACE, 0, new byte[0]);
      store.put(SPACE, 1, max);
      assertArrayEquals(new byte[0], store.get(SPACE, 0));
      assertArrayEquals(max, store.get(SPACE, 1));
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(new byte[0], store.get(SPACE, 0));
      assertArrayEquals(max, store.get(SPACE, 1));
    }
  }

  @Test
  void put_tooBigValueThrowsAndChangesNothing() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("kept"));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> store.put(SPACE, 1, new byte[store.maxValueSize() + 1]));
      assertTrue(e.getMessage().contains("481 bytes"), e.getMessage());
      assertTrue(e.getMessage().contains("maxValueSize() = 480"), e.getMessage());
      assertArrayEquals(bytes("kept"), store.get(SPACE, 1));
    }
  }

  @Test
  void put_growsPastOneSegmentAndReopenKeepsEverything() throws IOException {
    int n = 50_000;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertEquals(RecoveryStore.SEGMENT_SIZE, Files.size(file()));
      for (int k = 0; k < n; k++) {
        store.put(SPACE + (k & 1), k, bytes("value " + k));
      }
      assertEquals(n, store.size());
      assertTrue(Files.size(file()) >= 4L * RecoveryStore.SEGMENT_SIZE, "grew");
      assertEquals(0, Files.size(file()) % RecoveryStore.SEGMENT_SIZE);
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertEquals(n, store.size());
      for (int k = 0; k < n; k++) {
        assertArrayEquals(bytes("value " + k), store.get(SPACE + (k & 1), k), "key " + k);
      }
      int[] count = new int[1];
      store.forEach(SPACE, (k, v) -> count[0]++);
      assertEquals(n / 2, count[0]);
    }
  }

  @Test
  void put_reusesFreedSlotsInsteadOfGrowing() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 10_000; k++) {
          store.put(SPACE, k, bytes("r" + round));
        }
      }
      assertEquals(RecoveryStore.SEGMENT_SIZE, Files.size(file()));
    }
  }

  @Test
  void version_keepsGrowingAcrossReopen() throws IOException {
    long before;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertEquals(0, store.version());
      store.put(SPACE, 1, bytes("a"));
      store.put(SPACE, 2, bytes("b"));
      before = store.version();
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertEquals(before, store.version());
      store.put(SPACE, 1, bytes("c"));
      assertTrue(store.version() > before);
    }
  }

  @Test
  void open_ignoresSlotWithDamagedValue() throws IOException {
    int slot;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("damaged soon"));
      store.put(SPACE, 2, bytes("intact"));
      slot = store.slotOf(SPACE, 1);
    }
    // as if the process died while the value's bytes were being written
    writeAt(RecoveryStore.fileOffset(slot) + RecoveryStore.HEADER_SIZE + 3, new byte[] {'X'});
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertNull(store.get(SPACE, 1));
      assertArrayEquals(bytes("intact"), store.get(SPACE, 2));
      assertEquals(1, store.size());
      // the damaged slot is free again and is reused
      store.put(SPACE, 3, bytes("new"));
      assertEquals(slot, store.slotOf(SPACE, 3));
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(bytes("new"), store.get(SPACE, 3));
      assertNull(store.get(SPACE, 1));
    }
  }

  @Test
  void open_ignoresCompleteSlotWithoutMagic() throws IOException {
    int slot;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("would be new"));
      slot = store.slotOf(SPACE, 1);
    }
    // a put killed just before its magic store: everything written but the magic
    writeAt(RecoveryStore.fileOffset(slot), new byte[4]);
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertNull(store.get(SPACE, 1));
      assertEquals(0, store.size());
    }
  }

  @Test
  void open_ignoresSlotWithWrongMagic() throws IOException {
    int slot;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("x"));
      slot = store.slotOf(SPACE, 1);
    }
    writeAt(RecoveryStore.fileOffset(slot), new byte[] {1, 2, 3, 4});
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertNull(store.get(SPACE, 1));
    }
  }

  @Test
  void open_twoVersionsOfOneKey_newerWins_whenNewerIsInLowerSlot() throws IOException {
    int older;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("v1"));
      store.put(SPACE, 1, bytes("v2"));
      older = store.slotOf(SPACE, 1);
      store.put(SPACE, 1, bytes("v3"));
      assertTrue(store.slotOf(SPACE, 1) < older, "the test wants v3 below v2");
    }
    revive(older);
    assertNewerWinsAndStays("v3");
  }

  @Test
  void open_twoVersionsOfOneKey_newerWins_whenNewerIsInHigherSlot() throws IOException {
    int older;
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("v1"));
      older = store.slotOf(SPACE, 1);
      store.put(SPACE, 1, bytes("v2"));
      assertTrue(store.slotOf(SPACE, 1) > older, "the test wants v2 above v1");
    }
    revive(older);
    assertNewerWinsAndStays("v2");
  }

  /** Sets the magic of a freed slot back: a put killed between its two magic stores. */
  private void revive(int slot) throws IOException {
    writeAt(RecoveryStore.fileOffset(slot), ByteBuffer.allocate(4)
        .order(ByteOrder.LITTLE_ENDIAN).putInt(RecoveryStore.SLOT_MAGIC).array());
  }

  private void assertNewerWinsAndStays(String newer) throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(bytes(newer), store.get(SPACE, 1));
      assertEquals(1, store.size());
      // and a remove now must not bring the older one back
      store.remove(SPACE, 1);
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertNull(store.get(SPACE, 1));
      assertEquals(0, store.size());
    }
  }

  @Test
  void open_completesFileLeftShortByACrashWhileGrowing() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("a"));
    }
    try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.allocate(1), RecoveryStore.SEGMENT_SIZE + 4096L);
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(bytes("a"), store.get(SPACE, 1));
    }
    assertEquals(2L * RecoveryStore.SEGMENT_SIZE, Files.size(file()));
  }

  @Test
  void open_rejectsFileThatIsNotAStore() throws IOException {
    Files.write(file(), bytes("#!/bin/sh\necho this is not a store\n"));
    IOException e = assertThrows(IOException.class, () -> RecoveryStore.open(file()));
    assertTrue(e.getMessage().contains("not a RecoveryStore"), e.getMessage());
    assertEquals(35, Files.size(file()), "left as it was");
  }

  @Test
  void open_refusesASecondOpenWhileTheFirstIsOpen() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      IOException e = assertThrows(IOException.class, () -> RecoveryStore.open(file()));
      assertTrue(e.getMessage().contains("already open"), e.getMessage());
      store.put(SPACE, 1, bytes("still usable"));
    }
    try (RecoveryStore store = RecoveryStore.open(file())) {
      assertArrayEquals(bytes("still usable"), store.get(SPACE, 1));
    }
  }

  @Test
  void close_makesFurtherUseFail() throws IOException {
    RecoveryStore store = RecoveryStore.open(file());
    store.close();
    store.close();
    assertThrows(IllegalStateException.class, () -> store.get(SPACE, 1));
    assertThrows(IllegalStateException.class, () -> store.put(SPACE, 1, new byte[1]));
  }

  @Test
  void slotsAreIndependentOfEachOther() throws IOException {
    try (RecoveryStore store = RecoveryStore.open(file())) {
      store.put(SPACE, 1, bytes("a"));
      store.put(SPACE, 2, bytes("b"));
      assertNotEquals(store.slotOf(SPACE, 1), store.slotOf(SPACE, 2));
      assertTrue(store.slotOf(SPACE, 1) >= 1, "slot 0 is the file header");
    }
  }

  private void writeAt(long position, byte[] data) throws IOException {
    try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b, position + b.position());
      }
    }
  }
}
