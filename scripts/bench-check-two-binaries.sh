#!/usr/bin/env bash
# Two labrun binaries side by side on the same checks: a one-step document whose printed
# output is a `kubectl get pods -A -o wide` of ROWS rows (default "10000 100000"), replayed
# against a live listing of a fresh cluster (`CI` set: no pending entry is written). The two
# binaries are run alternately, ROUNDS times each (default 5); for each it prints the median
# wall time and the largest peak resident memory (`/usr/bin/time -v`), and the ratios B/A.
# Usage: scripts/bench-check-two-binaries.sh BIN_A BIN_B
# (build one, copy it aside, change the code, build again: the two are then compared in one run
# on the same machine, which a shared VM needs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2")
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
. scripts/pods-step.sh

for rows in ${ROWS:-10000 100000}; do
    d="$work/$rows"
    python3 scripts/pods.py "$rows" 1 --sorted > "$work/doc-$rows.txt"
    python3 scripts/pods.py "$rows" 2 --sorted > "$work/live-$rows.txt"
    pods_step "$d" "$work/doc-$rows.txt" "$work/live-$rows.txt"
    : > "$work/a.txt"; : > "$work/b.txt"
    for _ in $(seq "$rounds"); do
        for side in a b; do
            bin=$a; [ "$side" = b ] && bin=$b
            (cd "$d" && CI=1 /usr/bin/time -f '%e %M' "$bin" check doc.md --replay run.jsonl \
                2>&1 >/dev/null | tail -1) >> "$work/$side.txt"
        done
    done
    python3 - "$rows" "$work/a.txt" "$work/b.txt" <<'PY'
import statistics, sys
rows = sys.argv[1]
def read(p):
    pairs = [l.split() for l in open(p) if l.strip()]
    return statistics.median(float(s) * 1000 for s, _ in pairs), max(int(k) for _, k in pairs)
(ta, ma), (tb, mb) = read(sys.argv[2]), read(sys.argv[3])
print(f"{rows} rows: A {ta:.0f} ms {ma / 1024:.1f} MB, B {tb:.0f} ms {mb / 1024:.1f} MB; "
      f"B/A time {tb / ta:.2f}, memory {mb / ma:.2f}")
PY
done
