#@ user
py <<'PY'
def tmp(flags=0):
    return os.open('.', os.O_TMPFILE | os.O_RDWR | flags, 0o640)
fd = None
def mk():
    global fd
    fd = tmp()
t('O_TMPFILE', mk)
t('nlink', lambda: os.fstat(fd).st_nlink)
t('mode', lambda: oct(os.fstat(fd).st_mode))
t('owner', lambda: (os.fstat(fd).st_uid, os.fstat(fd).st_gid) == (os.getuid(), os.getgid()))
t('write', lambda: os.write(fd, b'tmp data'))
t('pread', lambda: os.pread(fd, 20, 0))
t('listdir', lambda: os.listdir('.'))
t('link it in', lambda: c(libc.linkat(-100, b'/proc/self/fd/%d' % fd, -100, b'linked', 0x400)))
t('nlink after link', lambda: os.fstat(fd).st_nlink)
t('content by name', lambda: r('linked'))
t('listdir after link', lambda: os.listdir('.'))
fx = None
def mkx():
    global fx
    fx = tmp(os.O_EXCL)
t('O_TMPFILE|O_EXCL', mkx)
t('link O_EXCL one', lambda: c(libc.linkat(-100, b'/proc/self/fd/%d' % fx, -100, b'excl', 0x400)))
t('O_TMPFILE without write access mode', lambda: os.open('.', os.O_TMPFILE | os.O_RDONLY, 0o600))
t('O_TMPFILE on a file', lambda: os.open('linked', os.O_TMPFILE | os.O_RDWR, 0o600))
os.mkdir('ro', 0o555)
t('O_TMPFILE in read-only dir', lambda: os.open('ro', os.O_TMPFILE | os.O_RDWR, 0o600))
PY
