#!/usr/bin/env bash
# Catalog writes and reads, replicated (a catalog node on a three-member NATS
# JetStream cluster, docs/catalog.md "Replication") against a single-node
# catalog, in the same run, with the same client (services/catalog:catalog_bench).
#
#   ops/bench_catalog_replication.sh [courses] [seconds]   (defaults 500, 5)
#
# Creates: one client thread, one CreateCourse after another (each a synced
# write; replicated: also the quorum's acknowledgement and the local apply).
# Reads: GetCourse from 4 threads for `seconds`. A second replicated node
# then rebuilds the whole catalog from the log: the time it takes is printed.
# Needs nats-server (ops/bootstrap.sh). Prints one JSON line per phase and
# target, then the ratios.
set -euo pipefail
COURSES=${1:-500}
SECONDS_EACH=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "bench_catalog_replication: nats-server not installed (ops/bootstrap.sh)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/bench_catalog_replication.XXXXXX)
PIDS=()
cleanup() {
  local f
  # The catalog servers' pids are in files: start_catalog runs in $(...).
  for f in "$WORK"/*.pid; do [ -e "$f" ] && PIDS+=("$(cat "$f")"); done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
bazel build //services/catalog:catalog_server //services/catalog:catalog_bench >/dev/null 2>&1 ||
  { echo "bench_catalog_replication: build failed" >&2; exit 1; }
BIN=$(bazel info bazel-bin 2>/dev/null)/services/catalog
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

routes=() urls=() cports=()
for i in 1 2 3; do
  cports+=("$(free_port)")
  routes+=("nats://127.0.0.1:$(free_port)")
done
for i in 0 1 2; do urls+=("nats://127.0.0.1:${cports[$i]}"); done
ROUTES=$(IFS=,; echo "${routes[*]}")
URLS=$(IFS=,; echo "${urls[*]}")
for i in 0 1 2; do
  "$NATS" -js -sd "$WORK/nats-$i" -a 127.0.0.1 -p "${cports[$i]}" -n "nats-$i" --cluster_name bench \
    --cluster "${routes[$i]}" --routes "$ROUTES" >"$WORK/nats-$i.log" 2>&1 &
  PIDS+=($!)
done

# start_catalog NAME FLAGS...: a catalog_server (pid in $WORK/NAME.pid); prints its gRPC
# port once SERVING.
start_catalog() {
  local name="$1" port
  shift
  port=$(free_port)
  "$BIN/catalog_server" --host=127.0.0.1 --port="$port" --metrics_port=0 --backup_dir=off \
    --data_dir="$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 600); do
    if "$BIN/catalog_bench" --target="127.0.0.1:$port" --mode=health >/dev/null 2>&1; then
      echo "$port"
      return
    fi
    sleep 0.1
  done
  echo "bench_catalog_replication: $name not SERVING; $WORK/$name.log:" >&2
  tail -n 20 "$WORK/$name.log" >&2
  exit 1
}

SINGLE=$(start_catalog single)
REPLICATED=$(start_catalog catalog-1 --replication_nats="$URLS" --node_id=catalog-1 --replicas=3)
declare -A RATE
for target in single replicated; do
  port=$SINGLE
  [ "$target" = replicated ] && port=$REPLICATED
  for mode in seed get; do
    line=$("$BIN/catalog_bench" --target="127.0.0.1:$port" --mode="$mode" --count="$COURSES" --threads=4 \
      --seconds="$SECONDS_EACH")
    echo "{\"target\":\"$target\",${line#\{}"
    RATE[$target.$mode]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["calls_per_s"])' "$line")
  done
done
t0=$(date +%s.%N)
REBUILT=$(start_catalog catalog-2 --replication_nats="$URLS" --node_id=catalog-2 --replicas=3)
t1=$(date +%s.%N)
echo "{\"phase\":\"rebuild\",\"entries\":$((COURSES + 1)),\"seconds_to_serving\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}'),\"port\":$REBUILT}"
awk -v sc="${RATE[single.seed]}" -v rc="${RATE[replicated.seed]}" -v sg="${RATE[single.get]}" -v rg="${RATE[replicated.get]}" \
  'BEGIN{printf "creates/s: replicated %.0f vs single %.0f (%.0f%%); GetCourse/s: replicated %.0f vs single %.0f (%.0f%%)\n", rc, sc, 100*rc/sc, rg, sg, 100*rg/sg}'
