#!/usr/bin/env bash
# bench_records against records_server as deployed: the server in a process
# of its own with its production defaults (tcmalloc, 64 sync-server threads,
# the learner index warmed at start-up), bench_records' closed-loop client in
# another, on a store pre-filled with 1,000,000 statements of 100,000
# learners. The in-process run (README) shares one process and its gRPC
# threads between client and server; this is the setup clients see.
#
#   ops/bench_records_server.sh [seconds_each]     (default 8)
#
# Phases: latest 50 of a learner (alternating with Echo), durable single
# writes (after an Echo), durable batches of 100; a 10 s pause before each
# write phase lets the previous phase's flushes and compactions finish.
set -euo pipefail
SECONDS_EACH=${1:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bazel build -c opt //services/records:records_server //services/records:bench_records >/dev/null 2>&1
WORK=$(mktemp -d /tmp/bench_records_server.XXXXXX)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

# Pre-fill in-process (synced batches of 1,000, then the store's flushes and
# compactions finish), exactly as the in-process benchmark does.
bazel-bin/services/records/bench_records --data_dir="$WORK/records" --prefill=1000000 --learners=100000 \
  --skip=query,single,batch,direct | grep -E "^pre-filling|^store holds"

bazel-bin/services/records/records_server --port=0 --port_file="$WORK/port" --metrics_port=0 \
  --data_dir="$WORK/records" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do grep -q '"cache_warmed"' "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q '"cache_warmed"' "$WORK/server.log" || { echo "records_server did not warm its cache; log:" >&2; tail "$WORK/server.log" >&2; exit 1; }
PORT=$(cat "$WORK/port")
echo "records_server (pid $SERVER) on 127.0.0.1:$PORT, learner index warmed"
bazel-bin/services/records/bench_records --target="127.0.0.1:$PORT" --learners=100000 --seconds="$SECONDS_EACH" \
  --queries_first | grep -vE "^generating"
