#!/usr/bin/env bash
# Side by side, in one run: `labrun normalize` and GNU `sed -E -f scripts/masks.sed` (every class
# of labrun's mask table, and the folded columns) on the same generated `kubectl get pods -A -o
# wide` (scripts/pods.py, ROWS rows, default 100 000). Prints both times (best of ROUNDS,
# default 3) and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-100000}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
python3 scripts/pods.py "$rows" 1 > "$work/pods.txt"

. scripts/timing.sh

bytes=$(wc -c < "$work/pods.txt")
labrun_ms=$(time_of ./target/release/labrun normalize --command "kubectl get pods -A -o wide" "$work/pods.txt")
sed_ms=$(time_of sed -E -f scripts/masks.sed "$work/pods.txt")
echo "input: $rows rows, $bytes bytes; sed expressions: $(grep -c '^s' scripts/masks.sed)"
echo "labrun normalize: ${labrun_ms} ms ($(( bytes / 1024 * 1000 / (labrun_ms + 1) / 1024 )) MiB/s)"
echo "sed -E -f:        ${sed_ms} ms ($(( bytes / 1024 * 1000 / (sed_ms + 1) / 1024 )) MiB/s)"
python3 -c "print(f'labrun is {$sed_ms / max($labrun_ms, 1):.1f}x sed (ratio labrun/sed {$labrun_ms / max($sed_ms, 1):.3f})')"
