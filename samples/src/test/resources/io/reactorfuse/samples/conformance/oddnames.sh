#@ user
long=$(printf 'n%.0s' $(seq 253))
names=($'\xff' $'caf\xe9' $'a\nb' $'tab\there' ' lead' 'trail ' '-dash' '*star?' 'back\slash' $'\x01ctl' $'\x7f' 'utf8-ß-漢字' '...' "$long")
for n in "${names[@]}"; do t touch -- "$n"; done
printf '%s\0' * | od -An -c
t touch -- "${long}nn"
t touch -- "${long}nnn"
t mkdir -- "${long}nnn"
for n in "${names[@]}"; do t mv -- "$n" "$n.r" >/dev/null || echo "mv failed: $n"; done
t mv -- "$long.r" "${long}nnn"
printf '%s\0' * | od -An -c
mkdir $'\xfe dir'; touch $'\xfe dir'/$'\x80'; ln -s $'\xff.r' $'link\xff'
find . -print0 | sort -z | od -An -c
readlink $'link\xff' | od -An -c
cat $'link\xff' && echo link resolves
py <<'PY'
t('listdir bytes', lambda: sorted(os.listdir(b'.')))
t('scandir types', lambda: sorted((e.name, e.is_dir(), e.is_symlink()) for e in os.scandir(b'.')))
t('stat odd', lambda: os.stat(b'\xfe dir/\x80').st_size)
t('slash in name', lambda: os.open(b'a/b', os.O_CREAT | os.O_WRONLY))
PY
for n in "${names[@]}"; do rm -f -- "$n.r" "$n"; done
rm -rf -- $'\xfe dir' $'link\xff'
ls -A | od -An -c
echo remaining: $(ls -A | wc -l)
