package io.reactorfuse.ops;

import java.util.Objects;

/**
 * One directory entry of READDIR.
 *
 * @param ino the inode number shown to readdir(3) callers (not a node id: no lookup is counted)
 * @param offset the cookie of the <em>next</em> entry: the kernel resumes a listing by sending
 *     the offset of the last entry it received
 * @param type the file type, {@code mode >>> 12} (a {@code DT_*} value), 0 if unknown
 * @param name the entry's name
 */
public record DirEntry(long ino, long offset, int type, String name) {
  public DirEntry {
    Objects.requireNonNull(name, "name");
  }
}
