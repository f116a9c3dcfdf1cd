#@ user
line=$(printf 'x%.0s' $(seq 60))
wr() { for i in $(seq 1 500); do echo "$1-$i-$line" >> log; done; }
wr A & wr B & wr C & wait
wc -l < log
grep -c '^A-' log; grep -c '^B-' log; grep -c '^C-' log
grep -cvE "^[ABC]-[0-9]+-x{60}$" log
stat -c '%n %s' log
py <<'PY'
def writer(tag):
    return subprocess.Popen(['/usr/bin/python3', '-c', '''
import os, sys
fd = os.open('plog', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for i in range(2000):
    os.write(fd, (sys.argv[1] + '-%05d-' % i + 'y' * 90 + '\\n').encode())
''', tag])
ps = [writer(x) for x in 'PQ']
for p in ps: p.wait(timeout=60)
lines = r('plog').split('\n')
print('python appenders: lines', len(lines) - 1, 'P', sum(l.startswith('P-') for l in lines),
      'Q', sum(l.startswith('Q-') for l in lines), 'size', os.stat('plog').st_size,
      'whole', all(len(l) == 98 for l in lines[:-1]))
fd = os.open('ap', os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
t('write', lambda: os.write(fd, b'abc'))
t('seek 0', lambda: os.lseek(fd, 0, os.SEEK_SET))
t('write after seek', lambda: os.write(fd, b'D'))
t('offset', lambda: os.lseek(fd, 0, os.SEEK_CUR))
t('pwrite at 0', lambda: os.pwrite(fd, b'P', 0))
t('content', lambda: r('ap'))
fd2 = os.open('ap', os.O_WRONLY)
t('plain fd overwrites at 0', lambda: os.write(fd2, b'__'))
t('append fd', lambda: os.write(fd, b'E'))
t('content', lambda: r('ap'))
fdr = os.open('ap', os.O_RDONLY | os.O_APPEND)
t('read on O_RDONLY|O_APPEND', lambda: os.read(fdr, 3))
t('clear O_APPEND via fcntl', lambda: fcntl.fcntl(fd, fcntl.F_SETFL, 0))
t('write at offset now', lambda: (os.lseek(fd, 0, os.SEEK_SET), os.write(fd, b'#'))[1])
t('content', lambda: r('ap'))
PY
t sh -c 'printf 123 >> ap'
cat ap; echo
