# Sourced by the check benchmarks: `pods_step DIR DOC LIVE [NAME]` writes into DIR a one-step
# document NAME (default doc.md) whose printed output is the listing in file DOC, and
# run.jsonl, a run of it whose live output is the listing in file LIVE.
pods_step() {
    mkdir -p "$1"
    { printf '# Pods\n\n```console\n$ kubectl get pods -A -o wide\n'; cat "$2"; printf '```\n'; } > "$1/${4:-doc.md}"
    python3 - "$3" > "$1/run.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1]).read()
print(json.dumps({"step": "pods/1", "command": "kubectl get pods -A -o wide", "stdout": out,
                  "stderr": "", "exit_code": 0, "duration_ms": 1, "origin": "simulated"}))
PY
}
