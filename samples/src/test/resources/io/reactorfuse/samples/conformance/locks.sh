#@ user
printf 0123456789012345678901234567890123456789 > f
# flock(1) against a flock(1) held by another process
( flock -x f -c 'touch held; sleep 1.5' ) &
n=0; while [ ! -e held ] && [ $n -lt 300 ]; do sleep 0.05; n=$((n+1)); done
t flock -n f true
t flock -n -s f true
t flock -w 0.2 f true
wait
t flock -n f true
py <<'PY'
CHILD = r'''
import os, sys, fcntl, errno, struct
fd = os.open('f', os.O_RDWR)
def t(label, f):
    try:
        r = f()
        print('  child:', label, '=>', 'ok' if r is None else repr(r), flush=True)
    except OSError as e:
        n = errno.errorcode.get(e.errno, e.errno)
        print('  child:', label, '=>', 'EAGAIN|EACCES' if n in ('EAGAIN', 'EACCES') else n, flush=True)
def getlk(fd, typ, start, ln, cmd=fcntl.F_GETLK):
    b = fcntl.fcntl(fd, cmd, struct.pack('hhqqi4x', typ, 0, start, ln, 0))
    ty, wh, st, l, pid = struct.unpack('hhqqi4x', b)
    return ({fcntl.F_RDLCK: 'RD', fcntl.F_WRLCK: 'WR', fcntl.F_UNLCK: 'UN'}[ty], st, l,
            'parent' if pid == int(sys.argv[1]) else ('none' if pid == 0 else 'pid ' + ('-1' if pid == -1 else 'other')))
'''
def child(code):
    out = subprocess.run(['/usr/bin/python3', '-c', CHILD + code, str(os.getpid())],
                         capture_output=True, text=True, timeout=60)
    sys.stdout.write(out.stdout + out.stderr); sys.stdout.flush()
EX, SH, NB, UN = fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_NB, fcntl.LOCK_UN
fd = os.open('f', os.O_RDWR)
t('flock EX', lambda: fcntl.flock(fd, EX))
child("t('flock EX|NB', lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
child("t('flock SH|NB', lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))")
child("t('posix lock while flock held', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
t('flock UN', lambda: fcntl.flock(fd, UN))
child("t('flock EX|NB after release', lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
t('flock SH', lambda: fcntl.flock(fd, SH))
child("t('flock SH|NB while shared', lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))")
child("t('flock EX|NB while shared', lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
t('flock UN', lambda: fcntl.flock(fd, UN))

t('posix EX bytes 0-9', lambda: fcntl.lockf(fd, EX, 10, 0))
child("t('posix EX|NB bytes 10-19', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10))")
child("t('posix EX|NB bytes 5-14', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 5))")
child("t('posix SH|NB byte 0', lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 0))")
child("t('F_GETLK WR 0-39', lambda: getlk(fd, fcntl.F_WRLCK, 0, 40))")
child("t('F_GETLK WR 20-29', lambda: getlk(fd, fcntl.F_WRLCK, 20, 10))")
child("t('flock while posix held', lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
t('posix UN bytes 0-9', lambda: fcntl.lockf(fd, UN, 10, 0))
child("t('posix EX|NB whole after release', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")

t('posix SH whole', lambda: fcntl.lockf(fd, SH))
child("t('posix SH|NB while shared', lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))")
child("t('posix EX|NB while shared', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
t('posix upgrade to EX', lambda: fcntl.lockf(fd, EX))
t('posix split: unlock 10-19', lambda: fcntl.lockf(fd, UN, 10, 10))
child("t('posix EX|NB 10-19 in the gap', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10))")
child("t('posix EX|NB 0-9', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0))")
child("t('posix EX|NB 20-', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 20))")
t('posix UN whole', lambda: fcntl.lockf(fd, UN))

t('posix EX whole', lambda: fcntl.lockf(fd, EX))
fd2 = os.open('f', os.O_RDONLY); os.close(fd2)
child("t('after closing another fd of the holder', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")

child("t('child locks and exits', lambda: fcntl.lockf(fd, fcntl.LOCK_EX))")
t('lock after the holder exited', lambda: fcntl.lockf(fd, EX | NB))
t('unlock', lambda: fcntl.lockf(fd, UN))

# a blocking waiter gets the lock once it is released
t('posix EX whole', lambda: fcntl.lockf(fd, EX))
p = subprocess.Popen(['/usr/bin/python3', '-c', CHILD + "import time; s = time.time(); fcntl.lockf(fd, fcntl.LOCK_EX); print('  child: blocking lock acquired, waited', time.time() - s > 0.3, flush=True)", str(os.getpid())], stdout=subprocess.PIPE, text=True)
time.sleep(0.6)
t('unlock for the waiter', lambda: fcntl.lockf(fd, UN))
print(p.communicate(timeout=60)[0], end='', flush=True)

fdr = os.open('f', os.O_RDONLY)
t('write lock on read-only fd', lambda: fcntl.lockf(fdr, EX | NB))
t('read lock on read-only fd', lambda: fcntl.lockf(fdr, SH | NB))
t('unlock read-only fd', lambda: fcntl.lockf(fdr, UN))
fdw = os.open('f', os.O_WRONLY)
t('read lock on write-only fd', lambda: fcntl.lockf(fdw, SH | NB))

F_OFD_GETLK, F_OFD_SETLK = 36, 37
def ofd(fd, typ, start=0, ln=0):
    fcntl.fcntl(fd, F_OFD_SETLK, struct.pack('hhqqi4x', typ, 0, start, ln, 0))
fo = os.open('f', os.O_RDWR)
t('OFD WR lock', lambda: ofd(fo, fcntl.F_WRLCK))
fo2 = os.open('f', os.O_RDWR)
t('OFD WR on another description, same process', lambda: ofd(fo2, fcntl.F_WRLCK))
t('posix on same process, other description', lambda: fcntl.lockf(fo2, EX | NB))
child("t('OFD F_GETLK from child', lambda: getlk(fd, fcntl.F_WRLCK, 0, 0, 36))")
child("t('posix from child while OFD held', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
os.close(fo)
child("t('posix from child after OFD closed', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))")
PY
