#!/usr/bin/env python3
"""How well `labrun list` reads documents against a hand-judged truth.

Usage: scripts/reader-recall.py DIR [LABRUN]

DIR holds documents (.md, .adoc) and, beside each, NAME.truth.json: the steps a reader of it
runs, as judged by hand — a list of {"line", "command", "expected"} (the format of
tests/corpus/*.steps.json). For each document and in total it prints precision (labrun's steps
that are true steps), recall (true steps labrun found) and outputs right (found steps whose
printed output labrun read as the truth has it). A step matches when its first line and its
command (whitespace squeezed) are the truth's. A document labrun refuses counts as read with
no steps, and is named.
"""
import json
import pathlib
import subprocess
import sys


def squeeze(text):
    return " ".join(text.split())


def lines(text):
    return [l.rstrip() for l in text.strip("\n").split("\n")] if text.strip() else []


def main():
    folder = pathlib.Path(sys.argv[1])
    labrun = sys.argv[2] if len(sys.argv) > 2 else "labrun"
    total = {"truth": 0, "found": 0, "matched": 0, "outputs": 0}
    refused = []
    print(f"{'document':28} {'truth':>5} {'found':>5} {'match':>5} {'prec':>6} {'recall':>6} {'output':>6}")
    for truth_file in sorted(folder.glob("*.truth.json")):
        doc = truth_file.with_name(truth_file.name[: -len(".truth.json")])
        truth = json.loads(truth_file.read_text())
        run = subprocess.run([labrun, "list", str(doc), "--format", "json"], capture_output=True, text=True)
        if run.returncode != 0:
            refused.append((doc.name, run.stderr.strip().splitlines()[:1]))
            steps = []
        else:
            steps = json.loads(run.stdout)["steps"]
        found = {(s["line"], squeeze(s["command"])): s for s in steps}
        matched = outputs = 0
        misses = []
        for t in truth:
            s = found.get((t["line"], squeeze(t["command"])))
            if s is None:
                misses.append(f"  missed line {t['line']}: {t['command'][:70]!r}")
                continue
            matched += 1
            if lines(s["expected"]) == lines(t["expected"]):
                outputs += 1
            else:
                misses.append(f"  output of line {t['line']}: {s['expected'][:50]!r} != {t['expected'][:50]!r}")
        truth_keys = {(t["line"], squeeze(t["command"])) for t in truth}
        for key, s in found.items():
            if key not in truth_keys:
                misses.append(f"  false step line {s['line']}: {s['command'][:70]!r}")
        for k, v in (("truth", len(truth)), ("found", len(steps)), ("matched", matched), ("outputs", outputs)):
            total[k] += v
        pct = lambda a, b: f"{100 * a / b:5.1f}%" if b else "   - "
        print(f"{doc.name:28} {len(truth):5} {len(steps):5} {matched:5} {pct(matched, len(steps)):>6} "
              f"{pct(matched, len(truth)):>6} {pct(outputs, matched):>6}")
        if "-v" in sys.argv:
            print("\n".join(misses))
    t = total
    pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "-"
    print(f"\nall: {t['truth']} true steps, {t['found']} found, {t['matched']} matched: precision "
          f"{pct(t['matched'], t['found'])}, recall {pct(t['matched'], t['truth'])}, outputs right "
          f"{pct(t['outputs'], t['matched'])}; refused: {len(refused)}")
    for name, why in refused:
        print(f"  refused {name}: {why}")


if __name__ == "__main__":
    main()
