#!/usr/bin/env bash
# Side by side, in one run: `labrun check` of a one-step document whose printed output is a
# `kubectl get pods -A -o wide` of ROWS rows (default 10 000), against a live listing of a fresh
# cluster (every name, address and age new, re-sorted), and a plain bash comparison of the same
# two tables token by token (same line count, same token count, tokens equal or both addresses,
# both durations, or sharing a `name-` prefix). Prints both times (best of ROUNDS) and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
python3 scripts/pods.py "$rows" 1 --sorted > "$work/doc.txt"
python3 scripts/pods.py "$rows" 2 --sorted > "$work/live.txt"
. scripts/pods-step.sh
pods_step "$work" "$work/doc.txt" "$work/live.txt" pods.md
cat > "$work/compare.sh" <<'SH'
# The same two tables, token by token, in plain bash.
ip='^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
age='^([0-9]+[smhd])+$'
mapfile -t a < "$1"; mapfile -t b < "$2"
[ "${#a[@]}" -eq "${#b[@]}" ] || { echo "line count"; exit 1; }
for i in "${!a[@]}"; do
  read -ra x <<< "${a[$i]}"; read -ra y <<< "${b[$i]}"
  [ "${#x[@]}" -eq "${#y[@]}" ] || { echo "token count, line $i"; exit 1; }
  for j in "${!x[@]}"; do
    p=${x[$j]}; q=${y[$j]}
    [ "$p" = "$q" ] && continue
    [[ $p =~ $ip && $q =~ $ip ]] && continue
    [[ $p =~ $age && $q =~ $age ]] && continue
    [ "${p%%-*}-" = "${q%%-*}-" ] && [[ $p == *-* ]] && continue
    echo "line $i token $j: $p / $q"; exit 1
  done
done
SH

. scripts/timing.sh

# both must agree that the tables match
( cd "$work" && CI=1 "$OLDPWD/target/release/labrun" check pods.md --replay run.jsonl > /dev/null )
bash "$work/compare.sh" "$work/doc.txt" "$work/live.txt"
labrun_ms=$(cd "$work" && CI=1 time_of "$OLDPWD/target/release/labrun" check pods.md --replay run.jsonl)
bash_ms=$(time_of bash "$work/compare.sh" "$work/doc.txt" "$work/live.txt")
echo "input: $rows rows, $(wc -c < "$work/doc.txt") bytes a table"
echo "labrun check:            ${labrun_ms} ms"
echo "bash token comparison:   ${bash_ms} ms"
python3 -c "print(f'labrun is {$bash_ms / max($labrun_ms, 1):.1f}x the bash comparison')"
