#!/bin/sh
# make bench: per-request cost of mod_idsession side by side with httpd alone,
# mod_usertrack and mod_session (callgrind instructions/request + wrk throughput, and
# HTTP/2 + TLS rows with h2load).
# Settings via environment; see the docstring of bench/bench.py (BENCH_QUICK=1 for a
# smoke run). Prints one table and writes it to bench/out/results.txt.
set -e
here=$(cd "$(dirname "$0")" && pwd)
for tool in valgrind callgrind_control ab wrk h2load openssl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench.sh: $tool is missing (run scripts/deps.sh bench)" >&2; exit 1; }
done
exec /usr/bin/python3 "$here/bench.py" "$@"
