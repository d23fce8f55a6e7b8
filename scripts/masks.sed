# The classes of labrun's mask table (src/normalize.rs, MASKS), as GNU sed -E expressions, in
# the table's order: what `scripts/bench-normalize-vs-sed.sh` runs beside `labrun normalize`.
# timestamps
s/\b[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?/<TIME>/g
# ages in words and as kubectl prints them
s/\b(About (a|an) (minute|hour)|Less than a second|[0-9]+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))( ago)?/<AGE>/g
s/(^|[[:space:](])([0-9]+[ydhms]){1,4}($|[[:space:])])/\1<AGE>\3/g
# network namespaces, UUIDs, container ids, kube-proxy chain hashes, MACs
s/\bcni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/<NETNS>/g
s/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/<UID>/g
s/\b([0-9a-f]{64}|[0-9a-f]{12})\b/<CONTAINER>/g
s/\bKUBE-(SVC|SEP|FW|XLB|EXT|SVL|FWS)-[A-Z0-9]{16}\b/KUBE-\1-<HASH>/g
s/\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b/<MAC>/g
# addresses: IPv6, reverse-DNS, dashed, dotted
s/(^|[^0-9A-Za-z:])(([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|([0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}(:[0-9a-f]{1,4}){0,5}|([0-9a-f]{1,4}:){1,7}:|::([0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})($|[^0-9A-Za-z:])/\1<IP>\8/g
s/\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.in-addr\.arpa\b/<IP>.in-addr.arpa/g
s/\b[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}\b/<IP>/g
s/\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b/<IP>/g
# ephemeral ports
s/:[0-9]{5}->([0-9]+\/(tcp|udp|sctp))/:<PORT>->\1/g
# generated names: Deployment pods, ReplicaSets, -xxxxx suffixes; kind node names; veths
s/\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b/\1-<POD>/g
s/\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}($|[^-0-9a-z])/\1-<RS>\3/g
s/\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)-[bcdfghjklmnpqrstvwxz2456789]{5}($|[^-0-9a-z])/\1-<NAME>\3/g
s/\b[a-z0-9]([-a-z0-9]*[a-z0-9])?-worker[0-9]*\b/<NODE>/g
s/\b(veth|cali|lxc)[0-9a-f]{6,}\b/<VETH>/g
# interface indices, PIDs, ps rows
s/^[0-9]+: ([^[:space:]:]+): </<IFINDEX>: \1: </
s/@if[0-9]+\b/@if<IFINDEX>/g
s/(link-netnsid |\(id: )[0-9]+\b/\1<IFINDEX>/g
s/^[[:space:]]*[0-9]+[[:space:]]*$/<PID>/
s/^([^[:space:]]+)[[:space:]]+[0-9]+[[:space:]]+[0-9]+\.[0-9][[:space:]]+[0-9]+\.[0-9][[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+([^[:space:]]+[[:space:]]+[^[:space:]]+)[[:space:]]+[^[:space:]]+[[:space:]]+[0-9]+:[0-9]{2}(:[0-9]{2})?[[:space:]]/\1 <PID> <CPU> <MEM> <VSZ> <RSS> \2 <START> <CPUTIME> /
# DNS ids and TTLs, query and round-trip times
s/(opcode: [[:alnum:]_]+, status: [[:alnum:]_]+, id: )[0-9]+/\1<DNSID>/g
s/^([^[:space:]]+\.[[:space:]]+)[0-9]+([[:space:]]+IN[[:space:]])/\1<TTL>\2/
s/\bin [0-9]+ ms\b/in <MS> ms/g
s/Query time: [0-9]+ msec/Query time: <MS> msec/g
s/\btime[=<][0-9]+(\.[0-9]+)? ?ms\b/time=<MS> ms/g
s/packet loss, time [0-9]+ms\b/packet loss, time <MS>ms/g
s/(rtt|round-trip) min\/avg\/max(\/mdev|\/stddev)? = [0-9.]+\/[0-9.]+\/[0-9.]+(\/[0-9.]+)?/\1 min\/avg\/max\2 = <MS>\/<MS>\/<MS>\/<MS>/g
# folded columns
s/([^ ]) +/\1 /g
