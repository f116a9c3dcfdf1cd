#@ root
mkdir pub; chmod 1777 pub
mkdir sg; chgrp 100 sg; chmod 2777 sg
#@ user
cd pub
touch f; mkdir d; ln -s f l; mkfifo p
stat -c '%n %u:%g %a %F' f d l p
t chown 0 f
t chown 65534 f
t chgrp 0 f
t chgrp 65534 f
t chown -h 0 l
t chown 0:0 d
stat -c '%n %u:%g %a' f l d
cd ../sg
touch x; mkdir y
stat -c '%n %u:%g %a' x y
t chmod g+s x
t chmod 2755 y
stat -c '%n %u:%g %a' x y
#@ root
touch pub/s; chmod 6755 pub/s
t chown 65534 pub/s
stat -c '%n %u:%g %a' pub/s
touch pub/g; chmod 2745 pub/g
t chown 65534 pub/g
stat -c '%n %u:%g %a' pub/g
