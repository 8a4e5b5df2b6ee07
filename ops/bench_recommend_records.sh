#!/usr/bin/env bash
# The recommender against a real records_server under concurrent writes
# (issue 16), with the record service's authentication off and on, each next
# to the bare gRPC callback echo server measured in the same run.
# Figures: docs/benchmarks.md, "Recommender against a real records_server".
#
#   ops/bench_recommend_records.sh [seconds_each]      (default 5)
#   MODE=fastbuild ops/bench_recommend_records.sh 2    (quicker build)
#   PROFILE=/tmp/prof ops/bench_recommend_records.sh   (where the CPU goes)
#   BIN_DIR=/some/dir ops/bench_recommend_records.sh 5  (saved binaries, no build)
#   AB=/old/dir ROUNDS=8 ops/bench_recommend_records.sh 5  (tight old/new pairs)
#   GRU=1 ops/bench_recommend_records.sh 5             (the model carries a GRU)
#   GRU_AB=1 ROUNDS=4 ops/bench_recommend_records.sh 5  (pairs without/with the GRU)
#   IDENTITY=1 ... (the model stores M dense with an identity basis, as train
#                   writes for catalogs up to 4,096 courses; with any of the above)
#
# AB=DIR instead starts one records_server (authentication off, this build's)
# and runs ROUNDS (default 8) pairs of the learner Recommend measurement (bare
# echo first, then Recommend; --learner_only) with DIR's bench_recommend and
# with this build's, which one goes first alternating: each pair seconds
# apart on the same record service, for before/after comparisons on a busy
# machine. Prints the two lines of each run.
#
# GRU=1 serves a model version that carries a GRU sequence model
# (bench_recommend --gru: every Recommend scores every row and reads the
# history through the GRU, as train's district versions do by default).
# GRU_AB=1 instead runs ROUNDS (default 4) pairs of the learner Recommend
# measurement against the records_server without authentication, without
# and with --gru, alternating which goes first.
#
# PROFILE=DIR instead measures only the learner Recommend against the
# records_server without authentication (12 s) and records a system-wide
# DWARF call-graph profile for 8 s of it (`perf record -a`: the sync server
# creates threads that a `perf record -p` started earlier would miss). DIR
# gets all.perf, the bench output, and summary.txt: samples per process, and
# the inclusive shares of the bench process's own functions and of the
# records_server's.
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
if [ -n "${BIN_DIR:-}" ]; then
  # Binaries of an earlier build, laid out as bazel-bin (services/records/
  # records_server, services/recommend/bench_recommend, services/auth/
  # mint_token): a before/after comparison in one sitting.
  BIN=$(cd "$BIN_DIR" && pwd)
else
  bazel build -c "$MODE" //services/records:records_server //services/recommend:bench_recommend //services/auth:mint_token \
    >/dev/null 2>&1 || { echo "bench_recommend_records: build failed" >&2; exit 1; }
  BIN=$ROOT/bazel-bin
fi
BENCH_NAME=bench_recommend_records
# shellcheck source=ops/bench_common.sh
source "$ROOT/ops/bench_common.sh"
bench_workdir
mint_bench_tokens
start_records open
start_records secure --auth_key_file="$WORK/auth/jwt.key" --auth_revocation_file="$WORK/auth/revoked.txt"

# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# The records_server's CPU over one bench run (seeding, every measurement and
# the writers), next to the bench process's own "cpu/call", which leaves it out.
records_cpu() {  # name, cpu before
  echo "  records_server ($1) CPU during the run: $(awk -v a="$2" -v b="$(cpu_s "$(cat "$WORK/$1.pid")")" \
    'BEGIN { printf "%.1f", b - a }') s"
}

BENCH=("$BIN/services/recommend/bench_recommend" --duration_s="$SECONDS_EACH" --large_items=0
  --learners="$LEARNERS" --writers="$WRITERS")
if [ "${GRU:-0}" = 1 ]; then BENCH+=(--gru); fi
if [ "${IDENTITY:-0}" = 1 ]; then BENCH+=(--identity_basis); fi
echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), -c $MODE, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${AB:-}" ]; then
  OLD_BENCH=$(cd "$AB" && pwd)/services/recommend/bench_recommend
  for round in $(seq "${ROUNDS:-8}"); do
    if [ $((round % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
      if [ "$which" = old ]; then exe=$OLD_BENCH; else exe=${BENCH[0]}; fi
      echo "-- pair $round, $which, $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
      "$exe" "${BENCH[@]:1}" --learner_only --records_target="127.0.0.1:$(cat "$WORK/open.port")" \
        2>"$WORK/bench_ab.log" | grep -E "bare gRPC|Recommend, learner"
    done
  done
  exit 0
fi
if [ -n "${GRU_AB:-}" ]; then
  for round in $(seq "${ROUNDS:-4}"); do
    if [ $((round % 2)) -eq 1 ]; then order="plain gru"; else order="gru plain"; fi
    for which in $order; do
      extra=()
      if [ "$which" = gru ]; then extra=(--gru); fi
      echo "-- pair $round, $which, $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
      "${BENCH[@]}" "${extra[@]}" --learner_only --records_target="127.0.0.1:$(cat "$WORK/open.port")" \
        2>"$WORK/bench_gru_ab.log" | grep -E "bare gRPC|Recommend, learner|GRU:|model:"
    done
  done
  exit 0
fi
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"
  "${BENCH[@]/--duration_s=$SECONDS_EACH/--duration_s=12}" --learner_only --bare=false \
    --records_target="127.0.0.1:$(cat "$WORK/open.port")" >"$PROFILE/bench.txt" 2>"$WORK/bench_profile.log" &
  bench_pid=$!
  for _ in $(seq 900); do grep -q "history cache warmed" "$PROFILE/bench.txt" 2>/dev/null && break; sleep 0.1; done
  grep -q "history cache warmed" "$PROFILE/bench.txt" || { echo "bench_recommend did not start measuring" >&2; exit 1; }
  sleep 2  # into the measurement
  perf record -a -F 299 -e cpu-clock:u --call-graph dwarf,8192 -o "$PROFILE/all.perf" -- sleep 8 >/dev/null 2>&1
  wait "$bench_pid"
  records_pid=$(cat "$WORK/open.pid")
  {
    echo "bench_recommend pid $bench_pid, records_server pid $records_pid"
    echo "-- samples per process (all of the machine's user time)"
    perf script -i "$PROFILE/all.perf" -F comm,pid 2>/dev/null | awk '{ print $NF, $1 }' | sort | uniq -c |
      sort -rn | head -8 || true
    echo "-- bench_recommend (client threads and the recommendation server), inclusive, % of all samples"
    perf report -i "$PROFILE/all.perf" --pid "$bench_pid" --children --sort sym -g none --percent-limit 0.5 \
      2>/dev/null | grep -E "lifelong::|Stub::|SyncRequest::Run|MainWorkLoop|_InternalParse" | cut -c1-160 | head -60 ||
      true
    echo "-- records_server, inclusive, % of all samples"
    perf report -i "$PROFILE/all.perf" --pid "$records_pid" --children --sort sym -g none --percent-limit 0.3 \
      2>/dev/null | grep -vE "^#|^$" | cut -c1-160 | head -30 || true
  } >"$PROFILE/summary.txt"
  cat "$PROFILE/bench.txt"
  echo "profile: $PROFILE/summary.txt"
  exit 0
fi
echo "-- records_server, authentication off"
before=$(cpu_s "$(cat "$WORK/open.pid")")
"${BENCH[@]}" --records_target="127.0.0.1:$(cat "$WORK/open.port")" 2>"$WORK/bench_open.log" |
  grep -vE "^bench_recommend:|setup|model load|ready"
records_cpu open "$before"
echo "-- records_server, authentication on (loader and recommender tokens)"
before=$(cpu_s "$(cat "$WORK/secure.pid")")
"${BENCH[@]}" --records_target="127.0.0.1:$(cat "$WORK/secure.port")" \
  --records_loader_token_file="$WORK/auth/loader.token" \
  --records_recommender_token_file="$WORK/auth/recommender.token" 2>"$WORK/bench_secure.log" |
  grep -vE "^bench_recommend:|setup|model load|ready"
records_cpu secure "$before"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
