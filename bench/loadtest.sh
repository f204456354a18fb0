#!/bin/sh
# make loadtest: LOADTEST_SECONDS (default 60) of wrk at 128 connections against the event
# MPM with IDSession On (signed), two graceful restarts; exits non-zero on any socket
# error, non-2xx answer, broken cookie contract, error-log line or RSS drift > 5%.
# Details and settings: the docstring of bench/loadtest.py.
set -e
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null 2>&1 || {
    echo "loadtest.sh: wrk is missing (run scripts/deps.sh bench)" >&2; exit 1; }
exec /usr/bin/python3 "$here/loadtest.py" "$@"
