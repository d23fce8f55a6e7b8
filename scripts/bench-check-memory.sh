#!/usr/bin/env bash
# Peak resident memory of `labrun check` (`/usr/bin/time -v`, `CI` set: no pending snapshot
# entry is made) on a one-step document whose printed output is a `kubectl get pods -A -o wide`
# of each of ROWS rows (default "10000 100000"), replayed against a live listing of a fresh
# cluster, beside the same check of a one-line step (the process's own). Prints each peak, the
# size of the two outputs and the ratio of the peak above the process's own to them (the aim:
# 4x at most). RUNS runs of each (default 3), the largest peak kept.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/labrun

. scripts/pods-step.sh

# the largest peak of $runs checks in $1, in kB
peak() {
    local most=0 kb
    for _ in $(seq "$runs"); do
        kb=$(cd "$1" && CI=1 /usr/bin/time -v "$bin" check doc.md --replay run.jsonl 2>&1 >/dev/null \
            | awk '/Maximum resident/ {print $NF}')
        [ "$kb" -gt "$most" ] && most=$kb
    done
    echo "$most"
}

printf 'NAME   READY\nweb    1/1\n' > "$work/tiny.txt"
pods_step "$work/tiny" "$work/tiny.txt" "$work/tiny.txt"
base=$(peak "$work/tiny")
echo "one-line step: ${base} kB peak (the process's own)"
for rows in ${ROWS:-10000 100000}; do
    python3 scripts/pods.py "$rows" 1 --sorted > "$work/doc-$rows.txt"
    python3 scripts/pods.py "$rows" 2 --sorted > "$work/live-$rows.txt"
    pods_step "$work/$rows" "$work/doc-$rows.txt" "$work/live-$rows.txt"
    kb=$(peak "$work/$rows")
    bytes=$(( $(wc -c < "$work/doc-$rows.txt") + $(wc -c < "$work/live-$rows.txt") ))
    python3 -c "
kb, base, b = $kb, $base, $bytes
print(f'{$rows} rows: {kb} kB peak, outputs {b / 1e6:.2f} MB; above the process: '
      f'{(kb - base) * 1024 / b:.2f}x the outputs; the whole process: {kb * 1024 / b:.2f}x')"
done
