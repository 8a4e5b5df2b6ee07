#!/usr/bin/env bash
# What an anonymous HTTP/2 flood costs records_server on Debian 12's gRPC
# (1.51, which predates gRPC's defences against these): docs/security.md,
# "HTTP/2 floods". For each burst size, a fresh records_server (production
# defaults, authentication on) takes CONNECTIONS connections (default 1) that
# each send, without credentials (ops/http2_floods.py MODE):
#   MODE=rapid_reset (default)  BURST pairs of HEADERS (a ListStatements call)
#                               and RST_STREAM (CVE-2023-44487);
#   MODE=continuation           one HEADERS frame and BURST CONTINUATION
#                               frames of 14 KB that never end the block.
# Printed per burst: the server's resident memory before and at its peak, its
# CPU seconds and how long it stayed busy after the clients finished, the
# time of an authenticated `lifelong record` before the burst, during it, and
# just after the clients finished (the CLI's own start-up included: about
# 80 ms), and whether the server still answers once it is idle again.
#
#   ops/probe_http2_floods.sh [BURST...]      (default 20000 100000)
#   CONNECTIONS=4 ops/probe_http2_floods.sh 100000
#   MODE=continuation ops/probe_http2_floods.sh 20000
#   BIN_DIR=/some/dir ops/probe_http2_floods.sh
#       binaries of an earlier build, laid out as bazel-bin
set -euo pipefail
BURSTS=("$@")
CONNECTIONS=${CONNECTIONS:-1}
MODE=${MODE:-rapid_reset}
[ "${#BURSTS[@]}" -gt 0 ] || BURSTS=(20000 100000)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$(cd "$BIN_DIR" && pwd)
else
  echo "probe_http2_floods: building records_server, mint_token and the CLI (-c opt)..." >&2
  bazel build -c opt //services/records:records_server //services/auth:mint_token //services/cli:lifelong \
    >/dev/null 2>&1 || { echo "probe_http2_floods: build failed" >&2; exit 1; }
  BIN=$ROOT/bazel-bin
fi
BENCH_NAME=probe_http2_floods
# shellcheck source=ops/bench_common.sh
source "$ROOT/ops/bench_common.sh"
bench_workdir
mint_bench_tokens

rss_mib() { awk '{printf "%d", $24 * 4096 / 1048576}' "/proc/$1/stat"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# write_ms PORT N: milliseconds of one authenticated write through the CLI.
write_ms() {
  local t0 rc=0
  t0=$(date +%s%N)
  LIFELONG_TOKEN_FILE="$WORK/auth/loader.token" "$BIN/services/cli/lifelong" record --records="127.0.0.1:$1" \
    --learner u100001 --verb completed --course "c$(printf %05d "$2")" >/dev/null 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then echo $((($(date +%s%N) - t0) / 1000000)); else echo "failed"; fi
}

printf '%-8s %-46s %8s %9s %8s %8s %9s %10s %9s %s\n' burst "client" "rss MiB" "peak MiB" "cpu s" "busy s" \
  "write ms" "during ms" "after ms" serving
n=0
for burst in "${BURSTS[@]}"; do
  n=$((n + 1))
  start_records "burst$n" --auth_key_file="$WORK/auth/jwt.key" --auth_revocation_file="$WORK/auth/revoked.txt"
  pid=$(cat "$WORK/burst$n.pid")
  port=$(cat "$WORK/burst$n.port")
  before_ms=$(write_ms "$port" 1)
  rss0=$(rss_mib "$pid")
  cpu0=$(cpu_ticks "$pid")
  clients=()
  for c in $(seq "$CONNECTIONS"); do
    python3 "$ROOT/ops/http2_floods.py" "$port" "$MODE" "$burst" >"$WORK/client$n.$c.out" 2>&1 &
    clients+=($!)
  done
  peak=$rss0
  during_ms=""
  while kill -0 "${clients[0]}" 2>/dev/null; do
    [ -n "$during_ms" ] || during_ms=$(write_ms "$port" 2)
    r=$(rss_mib "$pid"); [ "$r" -le "$peak" ] || peak=$r
    sleep 0.1
  done
  for c in "${clients[@]}"; do wait "$c" || true; done
  after_ms=$(write_ms "$port" 3)
  # Busy until it uses less than 5% of a core over a second (its timers tick).
  done_at=$(date +%s%N)
  prev=-100
  while c=$(cpu_ticks "$pid") && [ $((c - prev)) -ge 5 ]; do
    prev=$c
    for _ in 1 2 3 4 5 6 7 8 9 10; do r=$(rss_mib "$pid"); [ "$r" -le "$peak" ] || peak=$r; sleep 0.1; done
  done
  busy=$(awk -v a="$done_at" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9 - 1}')
  cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$pid")" 'BEGIN {printf "%.1f", (b - a) / 100}')
  serving=no
  [ "$(write_ms "$port" 4)" = failed ] || serving=yes
  client_line=$(sed -e 's/ HEADERS+RST_STREAM pairs//' -e 's/ CONTINUATION frames//' -e 's/; closed by the server:/, closed:/' \
    "$WORK/client$n.1.out")
  [ "$CONNECTIONS" = 1 ] || client_line="$CONNECTIONS x $client_line"

  printf '%-8s %-46s %8s %9s %8s %8s %9s %10s %9s %s\n' "$burst" "${client_line#sent }" "$rss0" "$peak" "$cpu" "$busy" \
    "$before_ms" "${during_ms:-n/a}" "$after_ms" "$serving"
  if kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
done
