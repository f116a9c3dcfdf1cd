#@ root
printf s > rootsecret; chmod 600 rootsecret
printf p > rootpublic; chmod 666 rootpublic
#@ user
printf x > f
stat -c '%n %h' f
t ln f g
stat -c '%n %h' f g
t ln g h
stat -c '%n %h' f g h
[ "$(stat -c %i f)" = "$(stat -c %i h)" ] && echo same inode
rm f
stat -c '%n %h' g h
t ln g h
t ln nope x
mkdir d; stat -c '%n %h' d
mkdir d/a d/b; touch d/file
stat -c '%n %h' d d/a
rmdir d/a; stat -c '%n %h' d
mkdir p q; mkdir p/c
stat -c '%n %h' p q
mv p/c q/
stat -c '%n %h' p q q/c
t ln d dl
ln -s g sym
t ln sym hl-to-sym
stat -c '%n %h %F' hl-to-sym sym g
t ln rootsecret l-secret
t ln rootpublic l-public
stat -c '%n %h' rootsecret rootpublic
ls
