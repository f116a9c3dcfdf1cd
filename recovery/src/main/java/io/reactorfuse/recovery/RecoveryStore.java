package io.reactorfuse.recovery;

import io.reactorfuse.spi.StateStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link StateStore} in a memory-mapped file, so that what a worker wrote is there for the
 * worker started after it died.
 *
 * <p><b>Why a shared mapping and no msync.</b> Stores into a {@code MAP_SHARED} mapping land in
 * the page cache, which belongs to the kernel: they survive the death of the writing process at
 * any instant (SIGKILL included) without a system call. A machine crash loses them, but it loses
 * the FUSE mount and the kernel's state too, so nothing would ask for them. Hence no
 * {@code force()} anywhere: a put costs a CRC and a copy of a few hundred bytes (measured by
 * {@code StoreLatencyMain} in the tests, against one {@code pwrite} or {@code fdatasync} per
 * put).
 *
 * <p><b>Layout.</b> The file is a sequence of {@value #SEGMENT_SIZE}-byte segments, each mapped
 * separately; the store grows by one segment when no slot is free (the new segment is written
 * with zeros through the channel first, so that a full disk shows up as an {@link IOException}
 * here and not as a SIGBUS on a later store into a sparse page). A segment is an array of
 * {@value #SLOT_SIZE}-byte slots; slot 0 of the file holds the file header {u32 "RFSH", u32
 * format, u32 slot size, u32 segment size}. Every other slot holds one entry or nothing, all
 * integers little-endian:
 *
 * <pre>
 *   0 u32 magic     SLOT_MAGIC when the slot holds an entry, 0 when it is free
 *   4 u32 crc32c    of bytes 8 .. 32+length
 *   8 u64 version   store-wide counter: greater than that of every entry written before
 *  16 u64 key
 *  24 u32 space
 *  28 u32 length    of the value, at most {@link #maxValueSize()} = 480
 *  32 ...           the value
 * </pre>
 *
 * A slot is an entry iff its magic is {@code SLOT_MAGIC} and its CRC matches; anything else is
 * free (and is zeroed when the store is opened).
 *
 * <p><b>Writing.</b> {@link #put} writes the whole new entry into a free slot (whose magic is 0),
 * then sets its magic with a release store, so that no byte of the entry can become visible
 * after the magic, then zeroes the magic of the slot that held the old value. {@link #remove}
 * zeroes the magic. An aligned 4-byte store is atomic, so the magic is either the old or the new
 * word. Crash points:
 *
 * <ul>
 *   <li>put, before the new magic is set: the new slot is free (magic 0, or a wrong CRC); the
 *       old value stays. The put did not happen.
 *   <li>put, after the new magic, before the old one is zeroed: two entries for (space, key).
 *       {@link #open} keeps the one with the higher version, the new one, and frees the other
 *       before anything else runs. The put happened.
 *   <li>put, after the old magic is zeroed: one entry, the new one.
 *   <li>remove, before or after its single store: the entry is there, or it is not.
 * </ul>
 *
 * A removed entry cannot come back: outside a put there is at most one entry per (space, key)
 * (the duplicate a crash inside a put leaves is resolved by the next open, before any remove can
 * run), so zeroing that one magic leaves none; and a freed slot only becomes an entry again by
 * being rewritten whole and its magic set last. Versions only compare entries of one key, and
 * the counter restarts at open above every entry present, so a new put always wins.
 *
 * <p><b>Spaces.</b> Spaces below {@link #FIRST_USER_SPACE} are reserved for the framework
 * ({@link StoreJournal} uses some); filesystems keep their tables in spaces from
 * {@code FIRST_USER_SPACE} up.
 *
 * <p>One process at a time: {@link #open} takes an exclusive lock on the file, which the kernel
 * drops when the holder dies. Thread-safe; every operation takes the store's monitor for a few
 * microseconds.
 */
public final class RecoveryStore implements StateStore, AutoCloseable {

  /** The size of a slot in bytes: one entry, its 32-byte header and its value. */
  public static final int SLOT_SIZE = 512;

  /** The size of a segment in bytes: the unit in which the file grows and is mapped. */
  public static final int SEGMENT_SIZE = 8 << 20;

  /** The first space for filesystems; spaces 0 to 15 are reserved for the framework. */
  public static final int FIRST_USER_SPACE = 16;

  static final int HEADER_SIZE = 32;
  static final int MAX_VALUE = SLOT_SIZE - HEADER_SIZE;
  static final int SLOTS_PER_SEGMENT = SEGMENT_SIZE / SLOT_SIZE;
  /** "RFS1" read little-endian: a slot holding an entry. */
  static final int SLOT_MAGIC = 0x31534652;
  /** "RFSH" read little-endian: the file header in slot 0. */
  static final int FILE_MAGIC = 0x48534652;
  static final int FORMAT = 1;

  static final int OFF_CRC = 4;
  static final int OFF_VERSION = 8;
  static final int OFF_KEY = 16;
  static final int OFF_SPACE = 24;
  static final int OFF_LENGTH = 28;

  private static final Logger log = LoggerFactory.getLogger(RecoveryStore.class);

  /** Ordered stores of the magic word (and atomic: slots are 512-aligned in page-aligned maps). */
  private static final VarHandle INT =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  /** The files open in this JVM, by {@link #openKey}. */
  private static final Set<Path> OPEN_FILES = new HashSet<>();

  private final Path file;
  /** The file's real path, in {@link #OPEN_FILES} while open. */
  private final Path openKey;
  private final FileChannel channel;
  private final FileLock lock;
  private final List<ByteBuffer> segments = new ArrayList<>();
  /** space -> key -> slot. */
  private final Map<Integer, Map<Long, Integer>> index = new HashMap<>();
  private final IntStack free = new IntStack();
  /** A put's entry is assembled here, so that its CRC is taken from the heap. */
  private final byte[] scratch = new byte[SLOT_SIZE];
  private final ByteBuffer scratchView = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
  private final CRC32C crc = new CRC32C();
  private long nextVersion = 1;
  private int size;
  private boolean closed;

  private RecoveryStore(Path file, Path openKey, FileChannel channel, FileLock lock) {
    this.file = file;
    this.openKey = openKey;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Opens the store in {@code file}, creating it if it does not exist, with every entry put and
   * not removed before (by this process or one that died).
   *
   * @throws IOException if the file cannot be read or grown, is not a store of this format, or
   *     is open in another store (of this or another process)
   */
  public static RecoveryStore open(Path file) throws IOException {
    // Checked before opening a channel: closing a second channel of a file would drop the
    // process's lock on it (POSIX record locks belong to the process, not the channel).
    Path openKey = Files.exists(file) ? file.toRealPath() : file.toAbsolutePath().normalize();
    synchronized (OPEN_FILES) {
      if (!OPEN_FILES.add(openKey)) {
        throw alreadyOpen(file);
      }
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
          StandardOpenOption.CREATE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // open in this JVM under another name (a link)
      }
      if (lock == null) {
        throw alreadyOpen(file);
      }
      RecoveryStore store = new RecoveryStore(file, openKey, channel, lock);
      store.load();
      return store;
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      synchronized (OPEN_FILES) {
        OPEN_FILES.remove(openKey);
      }
      throw e;
    }
  }

  private static IOException alreadyOpen(Path file) {
    return new IOException(file + " is already open in a RecoveryStore (of this or another "
        + "process); one at a time");
  }

  /** {@inheritDoc} Here {@value #SLOT_SIZE} minus the 32-byte header: 480. */
  @Override
  public int maxValueSize() {
    return MAX_VALUE;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code value} is longer than {@link #maxValueSize()}
   * @throws UncheckedIOException if the store had to grow and could not
   */
  @Override
  public synchronized void put(int space, long key, byte[] value) {
    Objects.requireNonNull(value, "value");
    if (value.length > MAX_VALUE) {
      throw new IllegalArgumentException("value of " + value.length + " bytes for (" + space
          + ", " + key + ") is larger than maxValueSize() = " + MAX_VALUE + " bytes");
    }
    ensureOpen();
    Map<Long, Integer> keys = index.computeIfAbsent(space, s -> new HashMap<>());
    Integer old = keys.get(key);
    int slot = allocate();

    scratchView.putLong(OFF_VERSION, nextVersion++);
    scratchView.putLong(OFF_KEY, key);
    scratchView.putInt(OFF_SPACE, space);
    scratchView.putInt(OFF_LENGTH, value.length);
    System.arraycopy(value, 0, scratch, HEADER_SIZE, value.length);
    crc.reset();
    crc.update(scratch, OFF_VERSION, HEADER_SIZE - OFF_VERSION + value.length);
    scratchView.putInt(OFF_CRC, (int) crc.getValue());

    ByteBuffer segment = segment(slot);
    int offset = offsetInSegment(slot);
    segment.put(offset + OFF_CRC, scratch, OFF_CRC, HEADER_SIZE - OFF_CRC + value.length);
    // The entry exists from this store on; release: none of the bytes above may follow it.
    INT.setRelease(segment, offset, SLOT_MAGIC);
    if (old != null) {
      // Release again: the new magic must be visible before the old entry goes.
      freeSlot(old);
    } else {
      size++;
    }
    keys.put(key, slot);
  }

  @Override
  public synchronized byte[] get(int space, long key) {
    ensureOpen();
    Map<Long, Integer> keys = index.get(space);
    Integer slot = keys == null ? null : keys.get(key);
    return slot == null ? null : value(slot);
  }

  @Override
  public synchronized void remove(int space, long key) {
    ensureOpen();
    Map<Long, Integer> keys = index.get(space);
    Integer slot = keys == null ? null : keys.remove(key);
    if (slot == null) {
      return;
    }
    if (keys.isEmpty()) {
      index.remove(space);
    }
    freeSlot(slot);
    size--;
  }

  /**
   * {@inheritDoc} The entries are copied first and {@code action} runs without the store's lock,
   * so it may put and remove.
   */
  @Override
  public void forEach(int space, BiConsumer<Long, byte[]> action) {
    long[] keys;
    byte[][] values;
    synchronized (this) {
      ensureOpen();
      Map<Long, Integer> entries = index.getOrDefault(space, Map.of());
      keys = new long[entries.size()];
      values = new byte[entries.size()][];
      int i = 0;
      for (Map.Entry<Long, Integer> e : entries.entrySet()) {
        keys[i] = e.getKey();
        values[i++] = value(e.getValue());
      }
    }
    for (int i = 0; i < keys.length; i++) {
      action.accept(keys[i], values[i]);
    }
  }

  /** The number of entries, over all spaces. */
  public synchronized int size() {
    return size;
  }

  /**
   * The version of the latest put, or right after {@link #open}, of the newest entry present (0
   * if none). Versions only order the entries of one key: after reopening, those of removed
   * entries may be given again.
   */
  public synchronized long version() {
    return nextVersion - 1;
  }

  /**
   * Releases the file and its lock. Nothing is flushed: every put is in the page cache already.
   * The store cannot be used afterwards.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    // The mappings stay valid until collected; they are only dropped here.
    segments.clear();
    index.clear();
    try {
      lock.release();
    } finally {
      try {
        channel.close();
      } finally {
        synchronized (OPEN_FILES) {
          OPEN_FILES.remove(openKey);
        }
      }
    }
  }

  @Override
  public String toString() {
    return "RecoveryStore[" + file + "]";
  }

  /** The slot holding (space, key), or -1: for tests that damage the file. */
  synchronized int slotOf(int space, long key) {
    Map<Long, Integer> keys = index.get(space);
    Integer slot = keys == null ? null : keys.get(key);
    return slot == null ? -1 : slot;
  }

  /** Where {@code slot} starts in the file. */
  static long fileOffset(int slot) {
    return (long) slot * SLOT_SIZE;
  }

  private void load() throws IOException {
    long length = channel.size();
    checkFileHeader();
    long segmentCount = Math.max(1, (length + SEGMENT_SIZE - 1) / SEGMENT_SIZE);
    if (segmentCount > Integer.MAX_VALUE / SLOTS_PER_SEGMENT) {
      throw new IOException(file + " is too large for a RecoveryStore: " + length + " bytes");
    }
    // A crash while growing can leave a partial segment: complete it (zeros are free slots).
    zeroFill(length, segmentCount * SEGMENT_SIZE);
    for (int i = 0; i < segmentCount; i++) {
      segments.add(map(i));
    }
    ByteBuffer first = segments.get(0);
    if (first.getInt(0) == 0) {
      first.putInt(4, FORMAT).putInt(8, SLOT_SIZE).putInt(12, SEGMENT_SIZE);
      INT.setRelease(first, 0, FILE_MAGIC);
    }
    scan();
  }

  /** Refuses a file that is not empty and not a store of this format, before changing it. */
  private void checkFileHeader() throws IOException {
    ByteBuffer header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    while (header.hasRemaining() && channel.read(header, header.position()) > 0) {
      // read what there is, up to 16 bytes
    }
    if (header.getLong(0) == 0 && header.getLong(8) == 0) {
      // new, or killed after creating or growing the file and before writing the header (and
      // so before any slot)
      return;
    }
    if (header.getInt(0) != FILE_MAGIC || header.getInt(4) != FORMAT
        || header.getInt(8) != SLOT_SIZE || header.getInt(12) != SEGMENT_SIZE) {
      throw new IOException(file + " is not a RecoveryStore file of format " + FORMAT
          + " (slot " + SLOT_SIZE + ", segment " + SEGMENT_SIZE + ")");
    }
  }

  /**
   * Reads every slot: builds the index and the free list, drops damaged slots and the older of
   * two entries for one key (a put interrupted between its two magic stores), and restarts the
   * version counter above every entry.
   */
  private void scan() {
    int slots = segments.size() * SLOTS_PER_SEGMENT;
    long maxVersion = 0;
    int damaged = 0;
    int duplicates = 0;
    // Downwards, so that the free list hands out the lowest slots first.
    for (int slot = slots - 1; slot >= 1; slot--) {
      ByteBuffer segment = segment(slot);
      int offset = offsetInSegment(slot);
      int magic = segment.getInt(offset);
      if (magic == 0) {
        free.push(slot);
        continue;
      }
      if (magic != SLOT_MAGIC || !crcMatches(segment, offset)) {
        damaged++;
        INT.setRelease(segment, offset, 0);
        free.push(slot);
        continue;
      }
      long version = segment.getLong(offset + OFF_VERSION);
      maxVersion = Math.max(maxVersion, version);
      Map<Long, Integer> keys =
          index.computeIfAbsent(segment.getInt(offset + OFF_SPACE), s -> new HashMap<>());
      Integer other = keys.putIfAbsent(segment.getLong(offset + OFF_KEY), slot);
      if (other == null) {
        size++;
        continue;
      }
      duplicates++;
      long otherVersion = segment(other).getLong(offsetInSegment(other) + OFF_VERSION);
      if (version > otherVersion) {
        keys.put(segment.getLong(offset + OFF_KEY), slot);
        freeSlot(other);
      } else {
        freeSlot(slot);
      }
    }
    nextVersion = maxVersion + 1;
    if (damaged + duplicates > 0) {
      log.warn("{}: dropped {} damaged slot(s) and {} superseded duplicate(s) (interrupted "
          + "writes)", file, damaged, duplicates);
    }
    log.info("Opened {}: {} entries in {} segment(s), next version {}", file, size,
        segments.size(), nextVersion);
  }

  private boolean crcMatches(ByteBuffer segment, int offset) {
    int length = segment.getInt(offset + OFF_LENGTH);
    if (length < 0 || length > MAX_VALUE) {
      return false;
    }
    crc.reset();
    crc.update(segment.slice(offset + OFF_VERSION, HEADER_SIZE - OFF_VERSION + length));
    return (int) crc.getValue() == segment.getInt(offset + OFF_CRC);
  }

  private byte[] value(int slot) {
    ByteBuffer segment = segment(slot);
    int offset = offsetInSegment(slot);
    byte[] value = new byte[segment.getInt(offset + OFF_LENGTH)];
    segment.get(offset + HEADER_SIZE, value);
    return value;
  }

  private void freeSlot(int slot) {
    INT.setRelease(segment(slot), offsetInSegment(slot), 0);
    free.push(slot);
  }

  private int allocate() {
    if (free.isEmpty()) {
      try {
        grow();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot grow " + file, e);
      }
    }
    return free.pop();
  }

  private void grow() throws IOException {
    int n = segments.size();
    if (n >= Integer.MAX_VALUE / SLOTS_PER_SEGMENT) {
      throw new IOException("store is full: " + n + " segments");
    }
    long start = (long) n * SEGMENT_SIZE;
    zeroFill(start, start + SEGMENT_SIZE);
    segments.add(map(n));
    for (int slot = (n + 1) * SLOTS_PER_SEGMENT - 1; slot >= n * SLOTS_PER_SEGMENT; slot--) {
      free.push(slot);
    }
    log.debug("{} grew to {} segments", file, n + 1);
  }

  /** Writes zeros from {@code from} to {@code to}: allocates the blocks the mapping will use. */
  private void zeroFill(long from, long to) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
    for (long position = from; position < to; ) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), to - position));
      while (zeros.hasRemaining()) {
        position += channel.write(zeros, position);
      }
    }
  }

  private ByteBuffer map(int segment) throws IOException {
    return channel.map(FileChannel.MapMode.READ_WRITE, (long) segment * SEGMENT_SIZE, SEGMENT_SIZE)
        .order(ByteOrder.LITTLE_ENDIAN);
  }

  private ByteBuffer segment(int slot) {
    return segments.get(slot / SLOTS_PER_SEGMENT);
  }

  private static int offsetInSegment(int slot) {
    return (slot % SLOTS_PER_SEGMENT) * SLOT_SIZE;
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  /** The free slots, without boxing. */
  private static final class IntStack {
    private int[] items = new int[1024];
    private int count;

    void push(int value) {
      if (count == items.length) {
        items = Arrays.copyOf(items, count * 2);
      }
      items[count++] = value;
    }

    int pop() {
      return items[--count];
    }

    boolean isEmpty() {
      return count == 0;
    }
  }
}
