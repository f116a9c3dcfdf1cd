# Sourced before every step of a conformance check; the step runs in the check's directory.
set +e
export LC_ALL=C TZ=UTC PATH=/usr/sbin:/usr/bin:/sbin:/bin
# t CMD...: runs CMD, prints "$ CMD => EXIT" and its combined output.
t() { local out rc; out=$("$@" 2>&1); rc=$?; printf '$ %s => %d\n' "$*" "$rc"; if [ -n "$out" ]; then printf '%s\n' "$out"; fi; }
# py <<'EOF' ... EOF: runs python3 with the helpers of prelude.py.
py() { /usr/bin/python3 -c "$PYPRE"$'\n'"$(cat)"; }
