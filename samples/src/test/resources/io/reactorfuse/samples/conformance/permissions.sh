#@ root
printf secret > f000; chmod 000 f000
printf readable > f644; chmod 644 f644
printf '#!/bin/sh\necho ran\n' > s644; chmod 644 s644
cp s644 s755; chmod 755 s755
mkdir d700; printf x > d700/in; chmod 700 d700
mkdir d555; chmod 555 d555
mkdir d311; printf y > d311/known; chmod 311 d311
mkdir d644; printf z > d644/in; chmod 644 d644
printf suid > suid; chmod 4777 suid
printf sgid > sgid; chmod 2777 sgid
#@ user
id -u
t cat f000
t cat f644
t sh -c 'printf more >> f644'
t test -r f644
t test -w f644
t test -x f644
t test -x s755
t ./s644
t ./s755
t cat d700/in
t ls d700
t touch d555/new
t cat d311/known
t ls d311
t ls d644
t cat d644/in
t sh -c 'printf w >> suid'
t sh -c 'printf w >> sgid'
t chmod 644 f000
stat -c '%n %a %u:%g %s' f000 f644 suid sgid d555
umask 027; touch u; mkdir ud; stat -c '%n %a' u ud
umask 0; touch u0; mkdir ud0; stat -c '%n %a' u0 ud0
t chmod 7777 u0
stat -c '%n %a' u0
# d is 0777 without the sticky bit: anyone may remove root's file
t rm -f f000
ls
