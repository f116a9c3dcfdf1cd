#@ root
printf rootdata > root644; chmod 644 root644
#@ user
printf 0123456789 > f
t truncate -s 4 f; od -An -c f
t truncate -s 8 f; od -An -tx1 f
t truncate -s -2 f; stat -c '%n %s' f
t truncate -s +3 f; stat -c '%n %s' f
t truncate -s 0 f; stat -c '%n %s %b' f
t truncate -s 4 nonexistent-created; stat -c '%n %s' nonexistent-created
t truncate -c -s 4 nonexistent-not-created
t truncate -s 1 root644
py <<'PY'
fd = os.open('g', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'hello world')
t('ftruncate 5', lambda: os.ftruncate(fd, 5))
t('read', lambda: os.pread(fd, 100, 0))
t('ftruncate 3MiB', lambda: os.ftruncate(fd, 3 * 1024 * 1024))
t('fstat size', lambda: os.fstat(fd).st_size)
t('tail zeros', lambda: os.pread(fd, 8, 3 * 1024 * 1024 - 8))
t('offset unchanged', lambda: os.lseek(fd, 0, os.SEEK_CUR))
t('write past a shrink', lambda: (os.ftruncate(fd, 2), os.write(fd, b'!'))[1])
t('content', lambda: os.pread(fd, 20, 0))
fdr = os.open('g', os.O_RDONLY)
t('ftruncate read-only fd', lambda: os.ftruncate(fdr, 1))
t('truncate dir', lambda: os.truncate('.', 0))
t('truncate negative', lambda: os.truncate('g', -1))
t('truncate huge', lambda: os.truncate('g', 1 << 62))
t('truncate root644', lambda: os.truncate('root644', 1))
w('h', 'x' * 8192)
t('cached read', lambda: len(r('h')))
subprocess.run(['truncate', '-s', '100', 'h'])
t('read after external shrink', lambda: len(r('h')))
fh = os.open('h', os.O_RDWR)
subprocess.run(['truncate', '-s', '10', 'h'])
t('fstat after another process shrank it', lambda: os.fstat(fh).st_size)
t('pread after another process shrank it', lambda: os.pread(fh, 100, 0))
w('o', 'abc')
t('O_TRUNC', lambda: os.close(os.open('o', os.O_WRONLY | os.O_TRUNC)))
t('size after O_TRUNC', lambda: os.stat('o').st_size)
t('O_TRUNC|O_RDONLY', lambda: (w('o', 'abc'), os.close(os.open('o', os.O_RDONLY | os.O_TRUNC)))[1])
t('size after O_RDONLY|O_TRUNC', lambda: os.stat('o').st_size)
PY
stat -c '%n %s' root644
