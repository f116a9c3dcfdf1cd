#@ user
py <<'PY'
w('a', 'A'); w('b', 'B')
t('file over file', lambda: os.rename('a', 'b'))
t('content', lambda: r('b'))
t('source gone', lambda: os.path.exists('a'))
os.mkdir('d1'); w('d1/x', 'X'); os.mkdir('d2')
t('dir over empty dir', lambda: os.rename('d1', 'd2'))
t('list d2', lambda: sorted(os.listdir('d2')))
os.mkdir('e1'); os.mkdir('e2'); w('e2/y', 'Y')
t('dir over non-empty dir', lambda: os.rename('e1', 'e2'))
w('f', 'F')
t('file over dir', lambda: os.rename('f', 'e1'))
t('dir over file', lambda: os.rename('e1', 'f'))
t('dir into own subdir', lambda: os.rename('e2', 'e2/sub'))
os.mkdir('e2/in')
t('dir into own deeper subdir', lambda: os.rename('e2', 'e2/in/x'))
t('file to itself', lambda: os.rename('f', 'f'))
os.link('f', 'f2')
t('onto its own hard link', lambda: os.rename('f', 'f2'))
t('both names stay', lambda: sorted(n for n in os.listdir('.') if n.startswith('f')))
t('missing source', lambda: os.rename('nope', 'z'))
t('missing target parent', lambda: os.rename('f', 'nodir/z'))
t('target through a file', lambda: os.rename('f', 'f2/z'))
t('dot', lambda: os.rename('.', 'dot'))
t('dotdot target', lambda: os.rename('f', 'e2/..'))
os.symlink('f', 'sl')
t('symlink', lambda: os.rename('sl', 'sl2'))
t('readlink', lambda: os.readlink('sl2'))
t('empty name', lambda: os.rename('f', ''))
def r2(a, b, fl):
    c(libc.renameat2(-100, a.encode(), -100, b.encode(), fl))
w('n1', '1'); w('n2', '2')
t('noreplace onto existing', lambda: r2('n1', 'n2', 1))
t('n2 kept', lambda: r('n2'))
t('noreplace onto new', lambda: r2('n1', 'n3', 1))
t('exchange', lambda: r2('n2', 'n3', 2))
t('after exchange', lambda: (r('n2'), r('n3')))
os.mkdir('xd')
t('exchange file and dir', lambda: r2('n2', 'xd', 2))
t('types', lambda: (os.path.isdir('n2'), os.path.isfile('xd')))
t('exchange with missing', lambda: r2('n3', 'missing', 2))
t('noreplace|exchange', lambda: r2('n3', 'xd', 3))
os.mkdir('sub')
t('move into subdir', lambda: os.rename('n3', 'sub/n3'))
t('move dir across parents', lambda: os.rename('n2', 'sub/n2'))
t('tree', lambda: sorted(os.listdir('sub')) + sorted(os.listdir('sub/n2')))
t('all', lambda: sorted(os.listdir('.')))
PY
printf S > src; printf D > dst
t mv -n src dst
cat dst src; echo
mkdir m1 m2; touch m1/a m2/b
t mv -T m1 m2
t mv -T src m2
t mv -T m1 src
rm m2/b
t mv -T m1 m2
t mv m2 m1
ls -R m1
