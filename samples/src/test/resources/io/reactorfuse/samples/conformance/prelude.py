import os, sys, errno, fcntl, ctypes, stat, struct, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
def t(label, f):
    """Prints label => the result (ok for None) or the errno name."""
    try:
        r = f()
        print(label, '=>', 'ok' if r is None else repr(r), flush=True)
    except OSError as e:
        print(label, '=>', errno.errorcode.get(e.errno, e.errno), flush=True)
def c(rc):
    """Raises the C call's errno when rc < 0, else returns rc."""
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc
def w(p, s):
    with open(p, 'w') as f:
        f.write(s)
def r(p):
    with open(p) as f:
        return f.read()
