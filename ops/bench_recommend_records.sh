#!/usr/bin/env bash
# The recommender against a real records_server under concurrent writes
# (issue 16), with the record service's authentication off and on, each next
# to the bare gRPC callback echo server measured in the same run.
# Figures: docs/benchmarks.md, "Recommender against a real records_server".
#
#   ops/bench_recommend_records.sh [seconds_each]      (default 5)
#   MODE=fastbuild ops/bench_recommend_records.sh 2    (quicker build)
#
# Two records_server processes (production defaults, temp data dirs, xAPI
# off): one without authentication, one with bearer tokens (a signing key made
# here; loader and recommender tokens minted by //services/auth:mint_token as
# ops/stack.sh does). Against each, bench_recommend (3,000-course catalog, no
# 1M-item scenario) records LEARNERS learners' histories there, starts the
# recommendation server in its own process space (sync server, history cache
# fed by the real change feed), and measures bare echo, the recommender's
# Echo, ListStatements on records_server, learner and kiosk Recommend while
# WRITERS threads record durable statements for the same learners.
set -euo pipefail
SECONDS_EACH=${1:-5}
MODE=${MODE:-opt}
LEARNERS=${LEARNERS:-2000}
WRITERS=${WRITERS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bazel build -c "$MODE" //services/records:records_server //services/recommend:bench_recommend //services/auth:mint_token \
  >/dev/null 2>&1 || { echo "bench_recommend_records: build failed" >&2; exit 1; }
BIN=$ROOT/bazel-bin
WORK=$(mktemp -d /tmp/bench_recommend_records.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/auth"
head -c 48 /dev/urandom | base64 -w0 >"$WORK/auth/jwt.key"
echo "# none revoked" >"$WORK/auth/revoked.txt"
"$BIN/services/auth/mint_token" --key_file="$WORK/auth/jwt.key" --role=loader --subject=svc-bench --ttl=2h \
  >"$WORK/auth/loader.token"
"$BIN/services/auth/mint_token" --key_file="$WORK/auth/jwt.key" --role=recommender --subject=svc-bench-recommend \
  --ttl=2h >"$WORK/auth/recommender.token"

start_records() {  # name, extra flags...
  local name=$1; shift
  mkdir -p "$WORK/$name"
  "$BIN/services/records/records_server" --port=0 --port_file="$WORK/$name.port" --metrics_port=0 --xapi_port=-1 \
    --data_dir="$WORK/$name/records" --xapi_documents_dir="$WORK/$name/documents" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do [ -s "$WORK/$name.port" ] && return 0; sleep 0.1; done
  echo "records_server $name did not start; log:" >&2; tail -5 "$WORK/$name.log" >&2; exit 1
}
start_records open
start_records secure --auth_key_file="$WORK/auth/jwt.key" --auth_revocation_file="$WORK/auth/revoked.txt"

BENCH=("$BIN/services/recommend/bench_recommend" --duration_s="$SECONDS_EACH" --large_items=0
  --learners="$LEARNERS" --writers="$WRITERS")
echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), -c $MODE, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- records_server, authentication off"
"${BENCH[@]}" --records_target="127.0.0.1:$(cat "$WORK/open.port")" 2>"$WORK/bench_open.log" |
  grep -vE "^bench_recommend:|setup|model load|ready"
echo "-- records_server, authentication on (loader and recommender tokens)"
"${BENCH[@]}" --records_target="127.0.0.1:$(cat "$WORK/secure.port")" \
  --records_loader_token_file="$WORK/auth/loader.token" \
  --records_recommender_token_file="$WORK/auth/recommender.token" 2>"$WORK/bench_secure.log" |
  grep -vE "^bench_recommend:|setup|model load|ready"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
