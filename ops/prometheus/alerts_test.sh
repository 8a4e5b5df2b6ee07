#!/usr/bin/env bash
# promtool checks prometheus.yml with the rule files it loads, then runs the
# alert rules' unit tests (alerts_test.yml; alerts_days_test.yml, the rules
# that speak in days, at a coarser step): each alert fires on the series
# that should page and stays silent beside it.
set -euo pipefail
cd "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-lifelong}/ops/prometheus" 2>/dev/null || cd "$(dirname "$0")"
if ! command -v promtool >/dev/null; then
  echo "alerts_test: promtool not found (Debian package prometheus; ops/bootstrap.sh installs it)" >&2
  exit 1
fi
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts_test.yml alerts_days_test.yml
