# shellcheck shell=bash
# Shared by the serving benchmarks (ops/bench_grpc_shares.sh,
# ops/bench_recommend_records.sh): a temp work dir cleaned up on exit with the
# processes started here, development tokens, and records_server start-up.
# Source it after setting BIN (the bazel-bin dir) and BENCH_NAME.
#
#   bench_workdir                 WORK=$(mktemp ...), PIDS=(), cleanup trap
#   wait_port FILE PID LOG        wait until a server wrote its port file
#   mint_bench_tokens             $WORK/auth/{jwt.key,revoked.txt,loader.token,
#                                 recommender.token}
#   start_records NAME FLAGS...   records_server on port 0 with its data under
#                                 $WORK/NAME; writes $WORK/NAME.pid and
#                                 $WORK/NAME.port

bench_workdir() {
  WORK=$(mktemp -d "/tmp/${BENCH_NAME}.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}

wait_port() {  # file, pid, log
  for _ in $(seq 300); do [ -s "$1" ] && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  echo "${BENCH_NAME}: server did not start; log:" >&2; tail -5 "$3" >&2; exit 1
}

# A fresh signing key (nothing revoked), and the loader and recommender
# service tokens the benchmark clients present (//services/auth:mint_token).
mint_bench_tokens() {
  mkdir -p "$WORK/auth"
  head -c 48 /dev/urandom | base64 -w0 >"$WORK/auth/jwt.key"
  echo "# none revoked" >"$WORK/auth/revoked.txt"
  "$BIN/services/auth/mint_token" --key_file="$WORK/auth/jwt.key" --role=loader --subject=svc-bench --ttl=2h \
    >"$WORK/auth/loader.token"
  "$BIN/services/auth/mint_token" --key_file="$WORK/auth/jwt.key" --role=recommender --subject=svc-bench-recommend \
    --ttl=2h >"$WORK/auth/recommender.token"
}

# records_server with production defaults; only ports, data dir and xAPI
# HTTP (off) differ. Extra flags (authentication, TLS) follow the name.
start_records() {  # name, extra flags...
  local name=$1; shift
  mkdir -p "$WORK/$name"
  "${RECORDS_SERVER:-$BIN/services/records/records_server}" --port=0 --port_file="$WORK/$name.port" --metrics_port=0 --xapi_port=-1 \
    --data_dir="$WORK/$name/records" --xapi_documents_dir="$WORK/$name/documents" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  echo "$pid" >"$WORK/$name.pid"
  wait_port "$WORK/$name.port" "$pid" "$WORK/$name.log"
}
