#!/usr/bin/env bash
# The instructions one round of normalize, compare and check costs (examples/bench_count.rs,
# the work of benches/normalize.rs) in this tree and in another revision, counted by
# callgrind inside the round only (not the setup). Unlike time, the count does not move with
# the machine's load. It moves a little from run to run all the same (the lazy DFA of the
# regex crate and the patience diff of `similar` key std HashMaps, randomly seeded), so each
# figure is the median of REPEAT runs (default 3) of TIMES rounds each, divided by TIMES.
# Masking runs on one thread (LABRUN_THREADS=1): callgrind counts the round's own thread.
# Prints both counts and their ratio per work.
# Usage: scripts/bench-instructions.sh REV [ROWS] [TIMES]   (defaults: 20000 rows, 3 times)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench-instructions.sh REV [ROWS] [TIMES]}
rows=${2:-20000}
times=${3:-3}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
build() { # DIR OUT
  (cd "$1" && cargo build --release --example bench_count --target-dir "$PWD/target" -q)
  cp "$1/target/release/examples/bench_count" "$2"
}
# the other revision's build is kept, by revision and driver, in target/bench-instructions/
driver=$(cat examples/bench_count.rs benches/common/work.rs | sha256sum | cut -c1-12)
kept="target/bench-instructions/$(git rev-parse --short "$rev")-$driver"
if [ ! -x "$kept" ]; then
  git worktree add --detach "$work/tree" "$rev" >/dev/null
  # the driver and its listing, as this tree has them, built against the other revision
  mkdir -p "$work/tree/examples" "$work/tree/benches/common" target/bench-instructions
  cp examples/bench_count.rs "$work/tree/examples/"
  cp benches/common/work.rs "$work/tree/benches/common/"
  build "$work/tree" "$kept"
fi
cp "$kept" "$work/before"
build "$PWD" "$work/after"
count() { # BINARY WORK: the median count of REPEAT runs, per round
  for _ in $(seq "${REPEAT:-3}"); do
    LABRUN_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='bench_count::counted*' \
      "$1" "$2" "$rows" "$times" 2>&1 >/dev/null |
      awk -v t="$times" '/Collected :/ { printf "%d\n", $NF / t }'
  done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for w in normalize compare check; do
  for v in before after; do
    echo "$v $(count "$work/$v" "$w")"
  done >"$work/counts"
  awk -v w="$w" -v rev="$rev" -v rows="$rows" '{ n[$1] = $2 } END {
    printf "%s (%d rows): %s at %s, %s in this tree, ratio %.4f\n", w, rows, n["before"], rev, n["after"], n["after"] / n["before"] }' "$work/counts"
done
