#!/usr/bin/env bash
# Runs every test: the BUILD-file check (ops/sort_build_deps.py --check, one test case),
# the C++ format check (clang-format --dry-run -Werror, one test case), the shell-script
# check (shellcheck -x over every tracked script, one test case),
# `bazel test //...` and the browser tests (ops/test_web.sh, plain and WEB_TEST_TLS=1), then
# prints per-test-case totals and a closing line "N passed, N failed" computed from
# the test results.
# Installs missing Debian packages first (ops/bootstrap.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || { echo "0 passed, 1 failed"; exit 1; }

ops/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

# BUILD deps sorted the way buildifier sorts them: one test case. It reads the source
# tree, which a Bazel test cannot declare as its input (the script's own behaviour is
# tested by //tests/tools:sort_build_deps_test).
echo "test: BUILD deps sorted (python3 ops/sort_build_deps.py --check)"
if python3 ops/sort_build_deps.py --check; then
  lint_passed=1 lint_failed=0
  echo "  ops/sort_build_deps.py --check                               PASSED   1 passed, 0 failed"
else
  lint_passed=0 lint_failed=1
  echo "  ops/sort_build_deps.py --check                               FAILED   0 passed, 1 failed"
  echo "  (python3 ops/sort_build_deps.py sorts them)"
fi

# C++ formatted as .clang-format says (clang-format 14, Debian's clang-format): one test
# case over every tracked .cc/.h outside third_party/.
echo "test: C++ formatted (clang-format --dry-run -Werror)"
unformatted=$(git ls-files '*.cc' '*.h' 2>/dev/null | grep -v '^third_party/' |
  while read -r f; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -z "$unformatted" ] && command -v clang-format >/dev/null; then
  lint_passed=$((lint_passed + 1))
  echo "  clang-format --dry-run -Werror                              PASSED   1 passed, 0 failed"
else
  lint_failed=$((lint_failed + 1))
  echo "  clang-format --dry-run -Werror                              FAILED   0 passed, 1 failed"
  printf '%s\n' "$unformatted" | sed 's/^/    not formatted: /' | head -20
  echo "  (clang-format -i FILE formats one)"
fi

# Shell scripts pass shellcheck (-x: with what they source): one test case over every
# tracked script (*.sh, .ci/run, and files whose first line runs bash or sh).
echo "test: shell scripts pass shellcheck -x"
scripts=$( (git ls-files '*.sh' .ci/run; git ls-files | grep -v '/node_modules/' |
  while read -r f; do [ -f "$f" ] && head -c 64 "$f" 2>/dev/null | head -n 1 | grep -Eq '^#!(/usr/bin/env |/bin/)(ba)?sh' &&
    echo "$f"; done) | sort -u)
if command -v shellcheck >/dev/null && failing=$(printf '%s\n' "$scripts" |
  while read -r f; do shellcheck -x "$f" >/dev/null 2>&1 || echo "$f"; done) && [ -z "$failing" ]; then
  lint_passed=$((lint_passed + 1))
  echo "  shellcheck -x ($(printf '%s\n' "$scripts" | wc -l) scripts)                                PASSED   1 passed, 0 failed"
else
  lint_failed=$((lint_failed + 1))
  echo "  shellcheck -x                                               FAILED   0 passed, 1 failed"
  printf '%s\n' "${failing:-shellcheck not installed}" | sed 's/^/    fails: /' | head -20
  echo "  (shellcheck -x FILE shows why)"
fi

log=$(mktemp)
# Bazel's own progress ("[done / total] actions", at most one line every 15 s,
# .bazelrc) shows the build is moving without flooding a CI log; grep passes each line on as it comes.
echo "test: building and running every test (about 20 minutes on a fresh 2-core machine, seconds when cached)"
bazel test //... "$@" 2>&1 | tee "$log" | grep --line-buffered -Ev 'linux-sandbox'
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
  # The secure setup: the kiosk and app flows again, with TLS between the gateway and the
  # services and HTTPS to the browser (WEB_TEST_TLS=1; TEST_SKIP_WEB_TLS=1 leaves it out).
  if [ "${TEST_SKIP_WEB_TLS:-0}" != 1 ]; then
    echo "test: browser tests over TLS (WEB_TEST_TLS=1 ops/test_web.sh)"
    web_log=$(mktemp)
    WEB_TEST_TLS=1 ops/test_web.sh 2>&1 | tee "$web_log"
    tls_rc=${PIPESTATUS[0]}
    tls_passed=0 tls_failed=0
    if last=$(tail -n 1 "$web_log" | grep -E '^[0-9]+ passed, [0-9]+ failed$'); then
      read -r tls_passed tls_failed < <(awk '{print $1, $3}' <<<"$last")
    else
      tls_failed=1
    fi
    [ "$tls_rc" -ne 0 ] && [ "$tls_failed" -eq 0 ] && tls_failed=1
    rm -f "$web_log"
    echo "  browser tests over TLS: $tls_passed passed, $tls_failed failed"
    web_passed=$((web_passed + tls_passed))
    web_failed=$((web_failed + tls_failed))
  fi
fi

echo "$((lint_passed + bazel_passed + web_passed)) passed, $((lint_failed + bazel_failed + web_failed)) failed"
if [ "$bazel_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ] || [ "$web_failed" -ne 0 ] || [ "$lint_failed" -ne 0 ]; then exit 1; fi
exit 0
