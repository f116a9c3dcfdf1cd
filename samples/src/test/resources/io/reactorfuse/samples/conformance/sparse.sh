#@ user
t truncate -s 100M s
stat -c '%n size=%s blocks=%b' s
du --apparent-size -B1 s
du -B1 s
printf x | dd of=s bs=1 seek=52428800 conv=notrunc status=none
stat -c '%n size=%s blocks=%b' s
du -B1 s
od -An -tx1 -j 52428799 -N 3 s
head -c 1048576 s | cmp - <(head -c 1048576 /dev/zero) && echo first MiB is zeros
py <<'PY'
fd = os.open('s', os.O_RDONLY)
t('SEEK_DATA 0', lambda: os.lseek(fd, 0, os.SEEK_DATA))
t('SEEK_HOLE 0', lambda: os.lseek(fd, 0, os.SEEK_HOLE))
t('SEEK_HOLE at data', lambda: os.lseek(fd, 52428800, os.SEEK_HOLE))
t('SEEK_DATA after data', lambda: os.lseek(fd, 52428800 + 4096, os.SEEK_DATA))
t('SEEK_HOLE after data', lambda: os.lseek(fd, 52428800 + 4096, os.SEEK_HOLE))
t('SEEK_DATA beyond EOF', lambda: os.lseek(fd, 200 * 1024 * 1024, os.SEEK_DATA))
t('SEEK_END', lambda: os.lseek(fd, 0, os.SEEK_END))
t('pread in hole', lambda: os.pread(fd, 4, 1000))
t('pread at EOF', lambda: os.pread(fd, 4, 100 * 1024 * 1024))
PY
t fallocate -l 1M fa
stat -c '%n size=%s blocks=%b' fa
t fallocate -p -o 0 -l 512K fa
stat -c '%n size=%s blocks=%b' fa
t fallocate -n -o 2M -l 1M fa
stat -c '%n size=%s blocks=%b' fa
t fallocate -o 1536K -l 1M fa
stat -c '%n size=%s blocks=%b' fa
printf yyyy > z; t fallocate -z -o 0 -l 2 z
od -An -c z
# Not compared: collapse and insert range (fallocate -c/-i), which the kernel's FUSE refuses
# with EOPNOTSUPP before any daemon sees them (fuse_file_fallocate allows KEEP_SIZE,
# PUNCH_HOLE and ZERO_RANGE only).
t cp --sparse=always s s2
stat -c '%n size=%s blocks=%b' s2
cmp s s2 && echo copies equal
