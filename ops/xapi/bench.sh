#!/usr/bin/env bash
# xAPI HTTP versus gRPC on one records_server process, in one run:
#   gRPC: Echo (baseline), durable RecordStatement, latest 50 of a learner
#         (bench_records --target, 64 outstanding calls)
#   xAPI: durable POST of one new statement, GET latest 50 of a learner
#         (wrk, 2 threads, 64 connections)
#
#   ops/xapi/bench.sh [seconds]
set -euo pipefail
SECONDS_EACH=${1:-8}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bazel build -c opt //services/records:records_server //services/records:bench_records >/dev/null 2>&1
WORK=$(mktemp -d)
bazel-bin/services/records/records_server --port=0 --port_file="$WORK/port" --metrics_port=0 \
  --data_dir="$WORK/records" --xapi_documents_dir="$WORK/docs" --xapi_port=0 \
  --xapi_credentials=ops/xapi/dev-credentials.txt >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && grep -q xapi_serving "$WORK/server.log" && break; sleep 0.1; done
GRPC_PORT=$(cat "$WORK/port")
XAPI_PORT=$(grep -o '"event":"xapi_serving"[^}]*' "$WORK/server.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
[ -n "$XAPI_PORT" ] || XAPI_PORT=$(python3 -c "import json,sys
for l in open('$WORK/server.log'):
    try: j=json.loads(l)
    except Exception: continue
    if j.get('event')=='xapi_serving': print(j['port'])")
echo "records_server: gRPC 127.0.0.1:$GRPC_PORT, xAPI 127.0.0.1:$XAPI_PORT"
echo
echo "== gRPC (bench_records --target) =="
bazel-bin/services/records/bench_records --target="127.0.0.1:$GRPC_PORT" --learners=10000 \
  --seconds="$SECONDS_EACH" --skip=batch 2>&1 | grep -E "calls/s" | grep -v "batch of 100" || true
echo
echo "== xAPI (wrk -t2 -c64) =="
echo "-- POST /xapi/statements, one new statement per request (durable)"
wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s ops/xapi/bench_post.lua "http://127.0.0.1:$XAPI_PORT" |
  grep -E "Requests/sec|50%|99%|Non-2xx"
echo "-- GET /xapi/statements?agent=...&limit=50"
wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s ops/xapi/bench_get.lua "http://127.0.0.1:$XAPI_PORT" |
  grep -E "Requests/sec|50%|99%|Non-2xx"
