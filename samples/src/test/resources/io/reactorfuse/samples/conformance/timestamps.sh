#@ root
printf r > root666; chmod 666 root666
printf r > root644; chmod 644 root644
#@ user
touch f
t touch -d '2001-02-03 04:05:06.123456789' f
stat -c '%n atime=%x mtime=%y' f
t touch -a -d '2010-01-01 00:00:00.5' f
stat -c '%n atime=%x mtime=%y' f
t touch -m -d '2011-06-07 08:09:10.25' f
stat -c '%n atime=%x mtime=%y' f
py <<'PY'
t('utime ns', lambda: os.utime('f', ns=(1000000001, 2000000002)))
st = os.stat('f'); print('ns', st.st_atime_ns, st.st_mtime_ns)
t('utime before 1970', lambda: os.utime('f', ns=(-1000000000, -5)))
st = os.stat('f'); print('ns', st.st_atime_ns, st.st_mtime_ns)
PY
adv() { [ "$(stat -c %Y "$1")" -gt 946684800 ] && echo "$2: mtime advanced" || echo "$2: mtime NOT advanced"; }
touch -d '2000-01-01' g; printf x >> g; adv g write
touch -d '2000-01-01' g; truncate -s 100 g; adv g truncate
touch -d '2000-01-01' g; c1=$(stat -c %z g); sleep 0.1; chmod 600 g; c2=$(stat -c %z g)
[ "$c1" != "$c2" ] && echo "ctime changed on chmod" || echo "ctime unchanged on chmod"
stat -c 'mtime after chmod %y' g
c1=$(stat -c %z g); sleep 0.1; ln g g-link; c2=$(stat -c %z g)
[ "$c1" != "$c2" ] && echo "ctime changed on link" || echo "ctime unchanged on link"
c1=$(stat -c %z g); sleep 0.1; mv g g2; c2=$(stat -c %z g2)
[ "$c1" != "$c2" ] && echo "ctime changed on rename" || echo "ctime unchanged on rename"
c1=$(stat -c %z g2); sleep 0.1; touch -d '2000-01-01' g2; c2=$(stat -c %z g2)
[ "$c1" != "$c2" ] && echo "ctime changed on utimes" || echo "ctime unchanged on utimes"
mkdir d; touch -d '2000-01-01' d; touch d/x; adv d create-in-dir
touch -d '2000-01-01' d; rm d/x; adv d unlink-in-dir
touch -d '2000-01-01' d; ls d >/dev/null; stat -c 'dir mtime after listing %y' d
printf data > r; touch -a -d '2000-01-01' r; cat r >/dev/null
[ "$(stat -c %X r)" -gt 946684800 ] && echo "atime advanced on read (relatime)" || echo "atime NOT advanced on read"
a1=$(stat -c %x r); cat r >/dev/null; [ "$(stat -c %x r)" = "$a1" ] && echo "atime kept on second read (relatime)" || echo "atime changed on second read"
ln -s f l
t touch -h -d '2002-02-02 02:02:02.2' l
stat -c '%n mtime=%y' l f
t touch -d '2000-01-01' root666
t touch root666
[ "$(stat -c %Y root666)" -gt 946684800 ] && echo "root666 touched to now"
t touch -d '2000-01-01' root644
t touch root644
t touch -c nonexistent
