#!/usr/bin/env bash
# The run's Docker endpoint against the daemon's own socket, side by side in one run: what
# `kind load docker-image` does (`docker save IMAGE` streamed into `docker exec -i NODE`, a
# hijacked connection), timed inside a labrun run through the endpoint, and inside a run with
# --unsandboxed (the daemon's socket directly). Alternates the two ROUNDS times and prints each
# total and the ratio. Needs Docker and the image IMAGE (default: the test's dnsutils image,
# built by `cargo test --test web_server`).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
image=${IMAGE:-labrun/dnsutils:0.1.0}
cargo build --release --quiet
bin=$PWD/target/release/labrun
work=$(mktemp -d)
node=labrun-bench-node-$$
trap 'rm -rf "$work"; docker rm -f "$node" >/dev/null 2>&1 || true' EXIT
# the stand-in node is created by the run itself, so it is the run's
cat > "$work/doc.md" <<DOC
# Load

\`\`\`console
\$ docker run -d --name $node $image sleep 600 > /dev/null
\$ s=\$(date +%s%N); docker save $image | docker exec -i $node sh -c 'cat > /dev/null'; echo \$(( (\$(date +%s%N) - s) / 1000000 ))
\$ docker rm -f $node > /dev/null
\`\`\`
DOC
echo 'retry = "0s"' > "$work/labrun.toml"
ms() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[1])["stdout"].strip())' "$work/target/labrun/doc/last.jsonl"; }
proxy=0; direct=0
for i in $(seq "$rounds"); do
  "$bin" run "$work/doc.md" > /dev/null 2>&1 || true
  p=$(ms); proxy=$((proxy + p))
  "$bin" run --unsandboxed "$work/doc.md" > /dev/null 2>&1 || true
  d=$(ms); direct=$((direct + d))
  echo "round $i: through the endpoint ${p} ms, direct ${d} ms"
done
size=$(docker image inspect --format '{{.Size}}' "$image")
echo "image $image: $((size / 1024 / 1024)) MiB; $rounds rounds"
echo "through the run's endpoint: $((proxy / rounds)) ms each; direct: $((direct / rounds)) ms each"
python3 -c "print(f'ratio: {$proxy / max($direct, 1):.2f}x')"
