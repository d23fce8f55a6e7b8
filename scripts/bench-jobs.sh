#!/usr/bin/env bash
# Side by side, in one run: a book of CHAPTERS (default 6) local chapters that mostly wait —
# pings between two network namespaces and sleeps inside them — run with `--jobs 3` and with
# `--jobs 1` (each chapter in its own network namespace, `--netns`; root needed). Prints both
# times (best of ROUNDS) and the ratio (the aim: at most 0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
chapters=${CHAPTERS:-6}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source scripts/timing.sh

cargo build --release --quiet
bin=$PWD/target/release/labrun
mkdir -p "$work/book/src"
printf '[book]\ntitle = "Waiting"\n' > "$work/book/book.toml"
printf 'retry = "1s"\n' > "$work/labrun.toml"
{
  echo "# Summary"
  echo
  for i in $(seq 1 "$chapters"); do echo "- [Chapter $i](ch$i.md)"; done
} > "$work/book/src/SUMMARY.md"
for i in $(seq 1 "$chapters"); do
  cat > "$work/book/src/ch$i.md" <<MD
# Chapter $i

Two namespaces joined by a veth pair, then a ping from one to the other and a wait.

\`\`\`console
\$ ip netns add a$i && ip netns add b$i
\$ ip link add va type veth peer name vb
\$ ip link set va netns a$i && ip link set vb netns b$i
\$ ip -n a$i addr add 10.9.$i.1/24 dev va && ip -n a$i link set va up
\$ ip -n b$i addr add 10.9.$i.2/24 dev vb && ip -n b$i link set vb up
\$ ip netns exec a$i ping -c 4 -i 0.5 10.9.$i.2 > /dev/null && echo reached
reached
\$ ip netns exec b$i sleep 1.5; echo waited
waited
\`\`\`
MD
done
cd "$work"
"$bin" run book --netns --jobs 3 > /dev/null || { echo "the book does not pass"; "$bin" run book --netns --jobs 3; exit 1; }
parallel=$(time_of "$bin" run book --netns --jobs 3)
serial=$(time_of "$bin" run book --netns --jobs 1)
echo "labrun run book --netns --jobs 3: ${parallel} ms"
echo "labrun run book --netns --jobs 1: ${serial} ms"
awk -v p="$parallel" -v s="$serial" 'BEGIN { printf "ratio (jobs 3 / jobs 1): %.2f\n", p / s }'
