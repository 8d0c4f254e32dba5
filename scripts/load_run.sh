#!/usr/bin/env bash
# The load run (docs/testing.md): the net/ and runtime/ tests RUNS times in a row (default 5)
# with BUSY processes spinning beside them (default 4), to show outcomes do not depend on timing.
# Run from the checkout's root with the dev environment active. Exits non-zero if any run failed.
set -uo pipefail
runs="${RUNS:-5}" busy="${BUSY:-4}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
for _ in $(seq "$busy"); do python3 -c "while True: pass" & pids+=($!); done
failed=0
for run in $(seq "$runs"); do
  start=$(date +%s)
  python -m pytest tests/net tests/runtime -q -p no:cacheprovider 2>&1 | tail -1
  rc=${PIPESTATUS[0]}
  echo "run $run: exit $rc, $(( $(date +%s) - start )) s"
  [ "$rc" -eq 0 ] || failed=1
done
exit "$failed"
