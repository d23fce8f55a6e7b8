#!/usr/bin/env bash
# Side by side, in one run: `labrun normalize` and GNU `sed -E -f` with equivalent masks (IPv4,
# generated pod names, ages, kind node names, folded columns) on the same generated
# `kubectl get pods -A -o wide` of 100 000 rows. Prints both times and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
python3 - "$rows" > "$work/pods.txt" <<'PY'
import sys
safe = "bcdfghjklmnpqrstvwxz2456789"
def pick(n, k):
    return "".join(safe[(n // (len(safe) ** i) + i * 7) % len(safe)] for i in range(k))
print("NAMESPACE   NAME   READY   STATUS   RESTARTS   AGE   IP   NODE   NOMINATED NODE   READINESS GATES")
for i in range(int(sys.argv[1])):
    n = i * 7919 + 104729
    print(f"ns-{i % 20}   app-{pick(n, 9)}-{pick(n + 1, 5)}   1/1   Running   0   {n % 59 + 1}m{n % 60}s   "
          f"10.{(n // 65536) % 200 + 10}.{(n // 256) % 256}.{n % 256}   kind-worker{n % 3 + 1}   <none>   <none>")
PY
cat > "$work/masks.sed" <<'SED'
s/\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b/<IP>/g
s/-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b/-<POD>/g
s/(^|[ (])([0-9]+[ydhms]){1,4}($|[ )])/\1<AGE>\3/g
s/\b[a-z0-9-]*-worker[0-9]*\b/<NODE>/g
s/([^ ]) +/\1 /g
SED

time_of() { # best of 3, in milliseconds
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
    local ms=$(( (e - s) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

bytes=$(wc -c < "$work/pods.txt")
labrun_ms=$(time_of ./target/release/labrun normalize --command "kubectl get pods -A -o wide" "$work/pods.txt")
sed_ms=$(time_of sed -E -f "$work/masks.sed" "$work/pods.txt")
echo "input: $rows rows, $bytes bytes"
echo "labrun normalize: ${labrun_ms} ms ($(( bytes / 1024 * 1000 / (labrun_ms + 1) / 1024 )) MiB/s)"
echo "sed -E -f:        ${sed_ms} ms ($(( bytes / 1024 * 1000 / (sed_ms + 1) / 1024 )) MiB/s)"
python3 -c "print(f'ratio labrun/sed: {$labrun_ms / max($sed_ms, 1):.2f}')"
