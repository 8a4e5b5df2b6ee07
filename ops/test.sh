#!/usr/bin/env bash
# Runs every test: `bazel test //...`, then prints per-test-case totals and a
# closing line "N passed, N failed" computed from the test results.
# Installs missing Debian packages first (ops/bootstrap.sh).
set -uo pipefail
cd "$(dirname "$0")/.."

ops/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
# Bazel's own progress ("[done / total] actions", at most one line every 15 s,
# .bazelrc) shows the build is moving without flooding a CI log.
echo "test: building and running every test (about 20 minutes on a fresh 2-core machine, seconds when cached)"
bazel test //... "$@" 2>&1 | tee "$log" | grep -Ev 'linux-sandbox'
bazel_rc=${PIPESTATUS[0]}
python3 ops/test_summary.py "$log" "$(bazel info bazel-testlogs 2>/dev/null)"
summary_rc=$?
rm -f "$log"
if [ "$bazel_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ]; then exit 1; fi
exit 0
