#!/usr/bin/env bash
# Each call's share of the bare gRPC server (issue 16), measured in one run with
# one client: //services/common:grpc_load sends the same serialized request,
# with the same connections x streams, to the bare callback-API echo server
# (//services/common:bare_echo_server_main, which answers any method with the
# request's bytes) and to records_server, with authentication off and on.
# Figures and how to read them: docs/benchmarks.md, "Share of the bare gRPC
# server (issue 16)".
#
#   ops/bench_grpc_shares.sh [seconds_each]        (default 5)
#   PROFILE=1 ops/bench_grpc_shares.sh [seconds]   also: perf profiles of the
#       bare server and of records_server under Echo load (where the time goes);
#       PROFILE=only: the profiles without the table
#   BASELINE=/path/to/records_server ops/bench_grpc_shares.sh [seconds]
#       also a fourth records_server, that binary (an older build: copy
#       bazel-bin/services/records/records_server aside before the change),
#       auth off, measured right after this build's auth-off row in each
#       group: a change's cost side by side, in the same run
#
# Everything lives in a temp dir: three records_server processes (production
# defaults: sync server with Echo on the callback API, 64 pollers,
# interceptors with metrics and the asynchronous access log, RocksDB with
# group commit; only ports, data dir and xAPI HTTP off differ),
# one without and one with bearer-token authentication (a signing key made
# here, loader and recommender tokens minted by //services/auth:mint_token as
# ops/stack.sh does), and one with authentication and TLS (the district's
# setup; certificates from ops/dev-ca.sh, measured against a bare echo server
# with the same certificate), each seeded with the same demo-like data: 2,000 statements of 250
# learners (u000000..u000249, 8 each; ListStatements reads u000042's 8).
#
# Calls (the issue's client settings): Echo and ListStatements latest 50 at 16
# connections x 32 streams; RecordStatement (durable, a new statement each call)
# at 16 x 4. Each group measures the bare server with that group's request bytes
# before and after the service calls; their mean is the group's 100%.
#
# The recommender is not part of this run: ops/bench_recommend_records.sh
# measures it against a real records_server under concurrent writes, with its
# own bare-server share; ops/bench_ingest_ceiling.sh measures batched ingest
# against RocksDB alone (docs/benchmarks.md).
set -euo pipefail
SECONDS_EACH=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGETS=(//services/common:bare_echo_server_main //services/common:grpc_load //services/records:records_server
  //services/auth:mint_token)
bazel build "${TARGETS[@]}" >/dev/null 2>&1 || { echo "bench_grpc_shares: build failed (bazel build ${TARGETS[*]})" >&2; exit 1; }
# The binaries just built, by their real path: the bazel-bin link moves when
# another build (-c opt, say) runs in this tree meanwhile.
BIN=$(readlink -f "$ROOT/bazel-bin")
BENCH_NAME=bench_grpc_shares
# shellcheck source=ops/bench_common.sh
source "$ROOT/ops/bench_common.sh"
bench_workdir

"$BIN/services/common/bare_echo_server_main" --port=0 --port_file="$WORK/bare.port" >"$WORK/bare.log" 2>&1 &
PIDS+=($!); BARE_PID=$!
wait_port "$WORK/bare.port" "$BARE_PID" "$WORK/bare.log"
BARE=127.0.0.1:$(cat "$WORK/bare.port")
# TLS: the development CA and records certificate of ops/dev-ca.sh (as the stack).
ops/dev-ca.sh "$WORK/tls" >/dev/null 2>&1 || { echo "bench_grpc_shares: ops/dev-ca.sh failed" >&2; exit 1; }
TLS_SERVE=(--tls_cert="$WORK/tls/records.pem" --tls_key="$WORK/tls/records.key")
"$BIN/services/common/bare_echo_server_main" --port=0 --port_file="$WORK/bare_tls.port" "${TLS_SERVE[@]}" \
  >"$WORK/bare_tls.log" 2>&1 &
PIDS+=($!); BARE_TLS_PID=$!
wait_port "$WORK/bare_tls.port" "$BARE_TLS_PID" "$WORK/bare_tls.log"
BARE_TLS=127.0.0.1:$(cat "$WORK/bare_tls.port")

mint_bench_tokens
start_records open
start_records secure --auth_key_file="$WORK/auth/jwt.key" --auth_revocation_file="$WORK/auth/revoked.txt"
start_records district --auth_key_file="$WORK/auth/jwt.key" --auth_revocation_file="$WORK/auth/revoked.txt" \
  "${TLS_SERVE[@]}"
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "bench_grpc_shares: BASELINE=$BASELINE is not an executable" >&2; exit 1; }
  RECORDS_SERVER=$BASELINE start_records baseline
  BASELINE_ADDR=127.0.0.1:$(cat "$WORK/baseline.port")
  BASELINE_PID=$(cat "$WORK/baseline.pid")
fi
OPEN=127.0.0.1:$(cat "$WORK/open.port")
SECURE=127.0.0.1:$(cat "$WORK/secure.port")
DISTRICT=127.0.0.1:$(cat "$WORK/district.port")
OPEN_PID=$(cat "$WORK/open.pid")
SECURE_PID=$(cat "$WORK/secure.pid")
DISTRICT_PID=$(cat "$WORK/district.pid")
TLS_CLIENT=(--tls_ca="$WORK/tls/ca.pem")

LOAD=("$BIN/services/common/grpc_load")
for target in "$OPEN" "$SECURE" "$DISTRICT" ${BASELINE_ADDR:+"$BASELINE_ADDR"}; do
  tls=(); [ "$target" = "$DISTRICT" ] && tls=("${TLS_CLIENT[@]}")
  "${LOAD[@]}" --target="$target" "${tls[@]}" --token_file="$WORK/auth/loader.token" --request=record --learners=250 --calls=2000 --connections=4 \
    --streams=8 >/dev/null
done
echo "seeded the record stores: 2,000 statements of 250 learners each (u000042 has 8)"
sleep 2  # let the seeding's flushes settle

RESULTS=$WORK/results.txt
: >"$RESULTS"
cpu_ticks() {  # pid: user+system CPU of the process so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
run() {  # label, server pid, target, grpc_load flags...
  local label=$1 pid=$2 target=$3; shift 3
  local line before after
  before=$(cpu_ticks "$pid")
  line=$("${LOAD[@]}" --target="$target" --seconds="$SECONDS_EACH" --warmup_s=0 --name="$label" "$@" || true)
  after=$(cpu_ticks "$pid")
  line="$line server_cpu_ticks=$((after - before)) clk_tck=$(getconf CLK_TCK)"
  echo "$line" >>"$RESULTS"
  echo "$line" | sed 's/ target=[^ ]* method=[^ ]*//; s/ clk_tck=[0-9]*//'
}
group() {  # request kind, connections, streams, token file for auth on
  local kind=$1 c=$2 s=$3 token=$4
  local flags=(--request="$kind" --learner=u000042 --connections="$c" --streams="$s")
  run "bare:$kind:1" "$BARE_PID" "$BARE" "${flags[@]}"
  run "$kind:off" "$OPEN_PID" "$OPEN" "${flags[@]}"
  [ -z "${BASELINE_ADDR:-}" ] || run "$kind:baseline" "$BASELINE_PID" "$BASELINE_ADDR" "${flags[@]}"
  run "$kind:on" "$SECURE_PID" "$SECURE" "${flags[@]}" --token_file="$token"
  run "bare:$kind:2" "$BARE_PID" "$BARE" "${flags[@]}"
  run "bare_tls:$kind" "$BARE_TLS_PID" "$BARE_TLS" "${flags[@]}" "${TLS_CLIENT[@]}"
  run "$kind:tls" "$DISTRICT_PID" "$DISTRICT" "${flags[@]}" --token_file="$token" "${TLS_CLIENT[@]}"
}
echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${PROFILE:-0}" != only ]; then
group echo 16 32 "$WORK/auth/loader.token"
group list 16 32 "$WORK/auth/recommender.token"
group record 16 4 "$WORK/auth/loader.token"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RESULTS" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
    if 'name' in f:
        rows[f['name']] = f
def rps(name):
    return float(rows[name]['rps']) if name in rows else 0.0
def cpu_us(name):  # server CPU per answered call, microseconds
    f = rows.get(name)
    if not f or int(f['calls']) == 0:
        return 0.0
    return 1e6 * int(f['server_cpu_ticks']) / int(f['clk_tck']) / int(f['calls'])
labels = {'echo': 'service Echo', 'list': 'ListStatements latest 50 (u000042, 8 statements)',
          'record': 'RecordStatement durable'}
tokens = {'echo': 'loader', 'list': 'recommender', 'record': 'loader'}
print()
print('| call | auth | conn x streams | requests/s | p50 ms | p99 ms | server CPU/call | share of bare | share of bare by CPU/call | share of service Echo |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for kind in ('echo', 'list', 'record'):
    b = [f'bare:{kind}:1', f'bare:{kind}:2']
    bare = (rps(b[0]) + rps(b[1])) / 2
    bare_cpu = (cpu_us(b[0]) + cpu_us(b[1])) / 2
    r = rows.get(b[0], {})
    cs = f"{r.get('connections', '?')} x {r.get('streams', '?')}"
    print(f"| bare callback echo ({kind} request bytes) | - | {cs} | {rps(b[0]):,.0f} / {rps(b[1]):,.0f} | "
          f"{r.get('p50_ms', '')} | {r.get('p99_ms', '')} | {bare_cpu:.0f} us | 100% | 100% | |")
    tb = f'bare_tls:{kind}'
    if tb in rows:
        t = rows[tb]
        print(f"| bare callback echo, TLS ({kind} request bytes) | - | {cs} | {rps(tb):,.0f} | {t['p50_ms']} | "
              f"{t['p99_ms']} | {cpu_us(tb):.0f} us | {100 * rps(tb) / bare:.0f}% of plaintext bare; the 100% of the TLS rows | "
              f"{100 * bare_cpu / cpu_us(tb):.0f}% of plaintext; 100% of the TLS rows | |" if bare and cpu_us(tb) else '| bare TLS | ? |')
    for auth in ('off', 'baseline', 'on', 'tls'):
        if auth == 'baseline' and f'{kind}:baseline' not in rows:
            continue
        f = rows.get(f'{kind}:{auth}')
        who = {'off': 'off', 'baseline': 'off, BASELINE build', 'on': f'on ({tokens[kind]} token)', 'tls': f'on + TLS ({tokens[kind]} token)'}[auth]
        ref, ref_cpu = (rps(tb), cpu_us(tb)) if auth == 'tls' else (bare, bare_cpu)
        if f is None or not f.get('rps'):
            print(f'| {labels[kind]} | {who} | {cs} | (no result) | | | | | | |')
            continue
        v = float(f['rps'])
        share = f'{100 * v / ref:.0f}%' if ref else '?'
        c = cpu_us(f'{kind}:{auth}')
        share_cpu = f'{100 * ref_cpu / c:.0f}%' if c and ref_cpu else '?'
        echo = rps(f'echo:{auth}')
        vs_echo = f'{100 * v / echo:.0f}%' if echo and kind != 'echo' else ''
        err = f" ({f['errors']} errors: {f.get('first_error', '')})" if f['errors'] != '0' else ''
        print(f"| {labels[kind]} | {who} | {cs} | {v:,.0f}{err} | {f['p50_ms']} | {f['p99_ms']} | {c:.0f} us | "
              f"{share} | {share_cpu} | {vs_echo} |")
EOF
fi

if [ "${PROFILE:-0}" = 1 ] || [ "${PROFILE:-0}" = only ]; then
  command -v perf >/dev/null || { echo "PROFILE=1: perf is not installed" >&2; exit 1; }
  set +o pipefail  # head closes perf report's pipe early
  # User-space samples (perf_event_paranoid 2 allows them for our own
  # processes) at 999 Hz while grpc_load drives Echo at 16 x 32 (later
  # grpc_load flags override these).
  profile() {  # name, pid, target, grpc_load flags...
    local name=$1 pid=$2 target=$3; shift 3
    # The load starts first: the sync server spawns its handler threads under
    # load, and perf -p follows only the threads that exist when it attaches.
    "${LOAD[@]}" --target="$target" --seconds="$((SECONDS_EACH + 8))" --warmup_s=0 --name="$name" --request=echo \
      --connections=16 --streams=32 "$@" >"$WORK/$name.load" &
    local load_pid=$!
    sleep 1
    # Under load the sync server's threads come and go; perf -p fails when one
    # exits while it attaches, so it gets up to 10 tries (within the load's
    # 5 spare seconds).
    local u0 s0 u1 s1 t0 t1 try
    for try in 1 2 3 4 5 6 7 8 9 10; do
      read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
      t0=$(date +%s.%N)
      perf record -F 999 -e cpu-clock:u -g -p "$pid" -o "$WORK/$name.perf" -- sleep "$SECONDS_EACH" \
        >"$WORK/$name.perf.log" 2>&1 && grep -q "samples)" "$WORK/$name.perf.log" && break
      echo "   perf record try $try failed: $(grep -v '^WARNING: Ignored open failure' "$WORK/$name.perf.log" | tail -2 | tr '\n' ' ')"
      sleep 0.3
    done
    t1=$(date +%s.%N)
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    wait "$load_pid" || true
    sed 's/ target=[^ ]* method=[^ ]*//' "$WORK/$name.load"
    local rps
    rps=$(grep -oE 'rps=[0-9]+' "$WORK/$name.load" | cut -d= -f2)
    # Calls in the perf window estimated from the load's mean rate.
    python3 -c "import sys; u,s,r,k,t0,t1=map(float,sys.argv[1:]); c=r*(t1-t0); print(f'   server CPU per call in the window: user {1e6*u/k/c:.1f} us, system {1e6*s/k/c:.1f} us')" \
      "$((u1 - u0))" "$((s1 - s0))" "${rps:-0}" "$(getconf CLK_TCK)" "$t0" "$t1" || true
    echo "-- $name: self CPU samples by component (user space; the kernel's share is not sampled)"
    perf report -i "$WORK/$name.perf" --no-children --sort=dso,sym --stdio -g none 2>/dev/null |
      python3 "$ROOT/ops/perf_components.py"
    echo "   ($(perf report -i "$WORK/$name.perf" --stdio 2>/dev/null | grep -m1 -oE 'Samples: [0-9.]+K? ') in $SECONDS_EACH s)"
  }
  echo
  echo "== profiles (perf record -F 999 -e cpu-clock:u -g, $SECONDS_EACH s of Echo at 16 x 32)"
  profile bare "$BARE_PID" "$BARE"
  profile records_open "$OPEN_PID" "$OPEN"
  profile records_secure "$SECURE_PID" "$SECURE" --token_file="$WORK/auth/loader.token"
  echo "== profile of RecordStatement durable, auth off, 16 x 4"
  profile records_open_record "$OPEN_PID" "$OPEN" --request=record --streams=4
  if [ -n "${BASELINE_ADDR:-}" ]; then
    echo "== profile of RecordStatement durable, auth off, 16 x 4, BASELINE build"
    profile baseline_record "$BASELINE_PID" "$BASELINE_ADDR" --request=record --streams=4
  fi
  if [ -n "${PROFILE_OUT:-}" ]; then
    cp "$WORK"/*.perf "$PROFILE_OUT/" && echo "perf data copied to $PROFILE_OUT"
  fi
fi
