#!/usr/bin/env bash
# The compare benchmark (`benches/normalize.rs`, 100 000-row listing) of this tree against the
# same benchmark built from another revision, alternated ROUNDS times in one run so that the
# machine's drift falls on both alike; prints each median, the means and the ratio.
# Usage: scripts/bench-compare-vs-rev.sh REV [BENCH-FILTER]   (default filter: compare)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench-compare-vs-rev.sh REV [FILTER]}
filter=${2:-compare}
rounds=${ROUNDS:-4}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
build() { # DIR OUT
  (cd "$1" && cargo bench --bench normalize --no-run --target-dir "$PWD/target" 2>&1) |
    grep -o 'target/release/deps/normalize-[a-z0-9]*' | head -1 | xargs -I{} cp "$1/{}" "$2"
}
git worktree add --detach "$work/tree" "$rev" >/dev/null
build "$work/tree" "$work/before"
build "$PWD" "$work/after"
# FILTER may name several benchmarks, separated by spaces: each is measured from the same two
# builds.
for f in $filter; do
  for _ in $(seq "$rounds"); do
    for v in before after; do
      "$work/$v" --bench "$f" --noplot --warm-up-time 2 --measurement-time 5 2>&1 |
        awk -v v="$v" '/time:/ { gsub(/\[|\]/, ""); print v, $4; exit }'
    done
  done >"$work/times"
  cat "$work/times"
  awk '{ s[$1] += $2; n[$1]++ } END {
    printf "%s at %s: %.1f ms, this tree: %.1f ms, ratio %.3f\n", "'"$f"'", "'"$rev"'",
      s["before"] / n["before"], s["after"] / n["after"], (s["after"] / n["after"]) / (s["before"] / n["before"]) }' "$work/times"
done
