#!/usr/bin/env python3
"""A `kubectl get pods -A -o wide` listing of ROWS rows, as a busy kind cluster prints it.

Usage: pods.py ROWS SEED [--sorted]. SEED changes every generated value (names, addresses,
ages, node placement); --sorted orders the rows by namespace and name, as kubectl does.
The benchmarks compare labrun with sed and with a bash comparison on these listings.
"""
import sys

SAFE = "bcdfghjklmnpqrstvwxz2456789"


def pick(n, k):
    return "".join(SAFE[(n // (len(SAFE) ** i) + i * 7) % len(SAFE)] for i in range(k))


def rows(count, seed):
    out = []
    for i in range(count):
        n = i * 7919 + seed * 104729
        age = f"{n % 59 + 1}m{n % 60}s" if n % 3 else f"{n % 23 + 1}h"
        out.append((
            f"ns-{i % 20}",
            f"app-{i % 50}-{pick(n, 9)}-{pick(n + 1, 5)}",
            "1/1", "Running", "0", age,
            f"10.{(n // 65536) % 200 + 10}.{(n // 256) % 256}.{n % 256}",
            f"kind-worker{n % 3 + 1}", "<none>", "<none>",
        ))
    return out


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    table = rows(count, seed)
    if "--sorted" in sys.argv:
        table.sort(key=lambda r: (r[0], r[1]))
    header = ("NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
              "NOMINATED NODE", "READINESS GATES")
    widths = [max(len(r[c]) for r in table + [header]) for c in range(len(header))]
    for r in [header] + table:
        print("   ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


main()
