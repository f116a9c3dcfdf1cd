#@ root
mkdir s; chmod 1777 s
printf r > s/rootfile; chmod 666 s/rootfile
mkdir s/rootdir; chmod 777 s/rootdir
#@ user
t touch s/mine
t sh -c 'printf w >> s/rootfile'
t rm -f s/rootfile
t mv s/rootfile s/moved
t mv s/mine s/mine2
t rmdir s/rootdir
t ln s/rootfile s/hard
t mv s/mine2 s/rootdir/
ls s s/rootdir
t rm -f s/hard s/rootdir/mine2
ls s s/rootdir
stat -c '%n %a %s' s s/rootfile
