#!/usr/bin/env bash
# Runs every test: `bazel test //...` and the browser tests (ops/test_web.sh), then
# prints per-test-case totals and a closing line "N passed, N failed" computed from
# the test results.
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
summary=$(python3 ops/test_summary.py "$log" "$(bazel info bazel-testlogs 2>/dev/null)")
summary_rc=$?
rm -f "$log"
# Every line of the summary but its closing count, which is totalled below.
printf '%s\n' "$summary" | sed '$d'
read -r bazel_passed bazel_failed < <(printf '%s\n' "$summary" | tail -n 1 | awk '{print $1, $3}')

# The browser tests of the kiosk and the app (tests/browser) against a stack of their own
# (TEST_SKIP_WEB=1 leaves them out).
web_passed=0 web_failed=0 web_rc=0
if [ "${TEST_SKIP_WEB:-0}" != 1 ]; then
  echo "test: browser tests (ops/test_web.sh: a small stack, the kiosk and the app in chromium)"
  web_log=$(mktemp)
  ops/test_web.sh 2>&1 | tee "$web_log"
  web_rc=${PIPESTATUS[0]}
  if last=$(tail -n 1 "$web_log" | grep -E '^[0-9]+ passed, [0-9]+ failed$'); then
    read -r web_passed web_failed < <(awk '{print $1, $3}' <<<"$last")
  else
    web_failed=1  # it ended without a count
  fi
  [ "$web_rc" -ne 0 ] && [ "$web_failed" -eq 0 ] && web_failed=1
  rm -f "$web_log"
  echo "  browser tests: $web_passed passed, $web_failed failed"
fi

echo "$((bazel_passed + web_passed)) passed, $((bazel_failed + web_failed)) failed"
if [ "$bazel_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ] || [ "$web_failed" -ne 0 ]; then exit 1; fi
exit 0
