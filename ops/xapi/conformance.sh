#!/usr/bin/env bash
# Runs the ADL LRS conformance suite against a fresh record store, or against
# a running endpoint (e.g. the replicated cluster's address, docs/replication.md).
#
#   ops/xapi/conformance.sh /path/to/lrs-conformance-test-suite [2.0.0|1.0.3]
#   XAPI_ENDPOINT=http://127.0.0.1:8080/xapi XAPI_BASIC=user:password \
#     ops/xapi/conformance.sh /path/to/lrs-conformance-test-suite [2.0.0|1.0.3]
#
# With XAPI_ENDPOINT nothing is built or started: the suite runs against that
# endpoint with the Basic credentials in XAPI_BASIC (default: the repository's
# development user; a stack with authentication on has its own, in
# $LIFELONG_VAR/stack.env as LIFELONG_XAPI_BASIC). The endpoint must answer
# with the suite's version as its default (records_server --xapi_default_version).
#
# The suite (github.com/adlnet/lrs-conformance-test-suite, never committed
# here) must be checked out with `npm install` done inside it. The suite's exit
# code is not trusted: the result is read from the JSON log it writes under
# logs/ (state must be "finished", total > 0); prints "passed/total" and exits
# non-zero when anything failed.
set -euo pipefail
SUITE=${1:?path to the conformance suite checkout}
VERSION=${2:-2.0.0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d)
BASIC=${XAPI_BASIC:-lifelong:lifelong-dev}
if [ -n "${XAPI_ENDPOINT:-}" ]; then
  ENDPOINT=${XAPI_ENDPOINT%/}
  trap 'rm -rf "$WORK"' EXIT
  curl -sf "$ENDPOINT/about" >/dev/null || { echo "conformance: no xAPI at $ENDPOINT/about" >&2; exit 1; }
else
  bazel build -c opt //services/records:records_server >/dev/null
  PORT=${XAPI_PORT:-18080}
  ENDPOINT="http://127.0.0.1:$PORT/xapi"
  bazel-bin/services/records/records_server --port=0 --metrics_port=0 --data_dir="$WORK/records" \
    --xapi_documents_dir="$WORK/documents" --xapi_port="$PORT" --xapi_default_version="$VERSION" \
    --xapi_credentials=ops/xapi/dev-credentials.txt >"$WORK/server.log" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
  for _ in $(seq 100); do curl -sf "$ENDPOINT/about" >/dev/null && break; sleep 0.1; done
fi
echo "conformance: xAPI $VERSION suite against $ENDPOINT"
# Node 19+ keeps connections alive by default, which the suite was not written
# for (it can hang forever on a connection the server closed; node_no_keepalive.js).
(cd "$SUITE" && NODE_OPTIONS="--require $ROOT/ops/xapi/node_no_keepalive.js" \
  node bin/console_runner.js -e "$ENDPOINT" -a -u "${BASIC%%:*}" -p "${BASIC#*:}" \
  -x "$VERSION" >"$WORK/suite.out" 2>&1) || true
# The newest of the suite's own logs (names it chose: no odd characters).
# shellcheck disable=SC2012
LOG=$(ls -t "$SUITE"/logs/*.log | head -1)
python3 - "$LOG" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("summary", {})
ok = d.get("state") == "finished" and (s.get("total") or 0) > 0 and s.get("failed") == 0
print(f"xAPI {s.get('version')}: {s.get('passed')} passed, {s.get('failed')} failed of {s.get('total')} "
      f"(state {d.get('state')}; log {sys.argv[1]})")
def walk(n, path):
    if isinstance(n, dict):
        if n.get("status") == "failed" and n.get("error"):
            print("  FAILED:", (n.get("title") or "")[:140])
        for k in ("tests", "suites", "children"):
            for c in n.get(k, []):
                walk(c, path)
    elif isinstance(n, list):
        for c in n:
            walk(c, path)
walk(d.get("log"), [])
sys.exit(0 if ok else 1)
PY
