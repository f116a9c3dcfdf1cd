package io.reactorfuse.perf;

import io.reactorfuse.ops.Attr;
import io.reactorfuse.ops.AttrReply;
import io.reactorfuse.ops.DirEntry;
import io.reactorfuse.ops.EntryReply;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The constant replies the benchmarks encode and the trivial filesystem answers. */
final class Fixtures {
  /** A kernel-like unique: large enough that boxing it allocates, as in a real session. */
  static final long UNIQUE = 0x12345L;
  static final long PARENT = 1;
  static final long NODE = 42;
  /** What the kernel asks for in a READDIR: one page. */
  static final int READDIR_SIZE = 4096;
  static final int DIR_ENTRIES = 100;

  static final Attr ATTR = Attr.builder()
      .ino(NODE)
      .size(12345)
      .mode(Attr.S_IFREG | 0644)
      .nlink(1)
      .uid(1000)
      .gid(1000)
      .blksize(4096)
      .times(Instant.parse("2026-01-02T03:04:05.123456789Z"))
      .build();
  static final EntryReply ENTRY = EntryReply.of(ATTR, Duration.ofSeconds(1), Duration.ofSeconds(1));
  static final AttrReply ATTR_REPLY = new AttrReply(ATTR, Duration.ofSeconds(1));

  private Fixtures() {}

  /** {@link #DIR_ENTRIES} regular files {@code file-000}..{@code file-099}: 32 bytes each packed. */
  static List<DirEntry> dirEntries() {
    List<DirEntry> entries = new ArrayList<>(DIR_ENTRIES);
    for (int i = 0; i < DIR_ENTRIES; i++) {
      entries.add(new DirEntry(100 + i, i + 1, ATTR.direntType(), String.format("file-%03d", i)));
    }
    return List.copyOf(entries);
  }
}
