#!/usr/bin/env bash
# labrun's overhead over plain bash, side by side in one run: the Pod-on-host chapter executed
# (a) by `labrun run --netns` (session state saved and restored around every step, output
# captured, masked, compared, the run written and checked) and (b) by one bash script holding
# the same commands, in a fresh network and mount namespace made the same way. Alternates the
# two ROUNDS times and prints each total and the ratio. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
doc=book/src/pod-on-host.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=target/release/labrun
# An unbounded ping (no -c) ends in plain bash as labrun ends it: after the replies the chapter
# prints.
$bin list --format json "$doc" | python3 -c '
import json, re, sys
steps = json.load(sys.stdin)["steps"]
print("set -e")
for s in steps:
    c = s["command"]
    if re.search(r"\bping\b", c) and not re.search(r"\s-[cw]", c):
        replies = sum(1 for l in s["expected"].splitlines() if l.startswith("64 bytes"))
        c = f"{c} -c {replies}"
    print(c)
' > "$work/steps.sh"
cat > "$work/plain.sh" <<SH
ip link set lo up
mount -t tmpfs tmpfs /run/netns
cd "$work"
bash "$work/steps.sh" > /dev/null
SH

now() { date +%s.%N; }
labrun_total=0
plain_total=0
for i in $(seq "$rounds"); do
  t0=$(now)
  $bin run "$doc" --netns > /dev/null 2>&1
  t1=$(now)
  unshare --net --mount --propagation private bash "$work/plain.sh"
  t2=$(now)
  labrun_total=$(echo "$labrun_total + $t1 - $t0" | bc -l)
  plain_total=$(echo "$plain_total + $t2 - $t1" | bc -l)
done
steps=$(grep -c . "$work/steps.sh")
printf 'Pod-on-host chapter, %d commands, %d rounds\n' "$((steps - 1))" "$rounds"
printf 'labrun run --netns   %8.3f s per run\n' "$(echo "$labrun_total / $rounds" | bc -l)"
printf 'plain bash           %8.3f s per run\n' "$(echo "$plain_total / $rounds" | bc -l)"
printf 'ratio                %8.3f\n' "$(echo "$labrun_total / $plain_total" | bc -l)"
