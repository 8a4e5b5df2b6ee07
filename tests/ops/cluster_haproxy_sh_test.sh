#!/usr/bin/env bash
# ops/cluster.sh's HAProxy listens on a LAN LIFELONG_HOST for xAPI only with
# TLS and authentication on, and for /metrics (records, catalog, recommend)
# only with TLS (mutual TLS), as the single-node stack's records_server does;
# otherwise those two stay on 127.0.0.1. gRPC and the web gateway follow
# LIFELONG_HOST in every case. CLUSTER_XAPI_HOST / CLUSTER_METRICS_HOST set
# them explicitly. The gRPC frontends cap the connections per client address
# (CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS). Function level (ops/cluster.sh
# sourced; nothing is bound or started): the generated haproxy.cfg is read for
# each combination.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
CLUSTER_SH="$RUNFILES/ops/cluster.sh"
export LIFELONG_VAR="$TEST_TMPDIR/var"
mkdir -m 700 "$LIFELONG_VAR"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Sourcing runs nothing: no usage message, no exit.
out=$(bash -c 'source "$1"; echo sourced' _ "$CLUSTER_SH" 2>&1) || fail "sourcing ops/cluster.sh failed: $out"
[ "$out" = sourced ] || fail "sourcing ops/cluster.sh printed: $out"

cat >"$TEST_TMPDIR/cfg.sh" <<'CFG'
# shellcheck source=/dev/null
source "$1"
HOST="$2" TLS="$3" AUTH="$4"
mkdir -p "$CLUSTER" "$TLS_DIR"
: >"$TLS_DIR/client.pem"
echo key >"$TLS_DIR/client.key"
HAPROXY=true  # the syntax check needs real certificates; cluster_sh_test runs it
write_haproxy_cfg
cat "$CLUSTER/haproxy.cfg.new"
CFG

# cfg HOST TLS AUTH [ENV...]: the frontends' bind lines, "frontend=address:port".
cfg() {
  local host="$1" tls="$2" auth="$3" out
  shift 3
  out=$(env "$@" bash -euo pipefail "$TEST_TMPDIR/cfg.sh" "$CLUSTER_SH" "$host" "$tls" "$auth") ||
    fail "write_haproxy_cfg HOST=$host TLS=$tls AUTH=$auth: $out"
  awk '/^frontend / {f = $2} /^    bind / {print f "=" $2}' <<<"$out"
}

# expect BINDS FRONTEND ADDRESS WHAT
expect() {
  local got
  got=$(grep "^$2=" <<<"$1" | cut -d= -f2 | sed 's/:[0-9]*$//')
  [ "$got" = "$3" ] || fail "$4: frontend $2 binds ${got:-nothing}, not $3"
}

check() {  # check HOST TLS AUTH XAPI METRICS [ENV...]
  local host="$1" tls="$2" auth="$3" xapi="$4" metrics="$5" binds f what
  shift 5
  what="LIFELONG_HOST=$host TLS=$tls AUTH=$auth${*:+ $*}"
  binds=$(cfg "$host" "$tls" "$auth" "$@")
  expect "$binds" records_xapi "$xapi" "$what"
  for f in records_metrics catalog_metrics recommend_metrics; do expect "$binds" "$f" "$metrics" "$what"; done
  for f in records_grpc catalog_grpc recommend_grpc web; do expect "$binds" "$f" "$host" "$what"; done
  expect "$binds" stats 127.0.0.1 "$what"
}

check 127.0.0.1 0 1 127.0.0.1 127.0.0.1
check 127.0.0.2 0 0 127.0.0.2 127.0.0.2
check 192.0.2.10 1 1 192.0.2.10 192.0.2.10
check 192.0.2.10 0 1 127.0.0.1 127.0.0.1
check 192.0.2.10 1 0 127.0.0.1 192.0.2.10
check 192.0.2.10 0 0 127.0.0.1 127.0.0.1
check 192.0.2.10 0 1 0.0.0.0 0.0.0.0 CLUSTER_XAPI_HOST=0.0.0.0 CLUSTER_METRICS_HOST=0.0.0.0
# The gRPC frontends (and only they) cap the connections one client address
# holds open: CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS, 32 by default, 0 none; a
# value that is no whole number stops the script with a message naming it.
caps() {  # caps [ENV...]: "frontend=limit" for each frontend that rejects past a limit
  local out
  out=$(env "$@" bash -euo pipefail "$TEST_TMPDIR/cfg.sh" "$CLUSTER_SH" 127.0.0.1 0 1) || fail "write_haproxy_cfg $*: $out"
  awk '/^frontend / {f = $2} /^    tcp-request connection reject if \{ sc0_conn_cur gt [0-9]+ \}$/ {print f "=" $8}' <<<"$out" |
    sort | tr '\n' ' '
}
[ "$(caps)" = "catalog_grpc=32 recommend_grpc=32 records_grpc=32 " ] || fail "default caps: '$(caps)'"
[ "$(caps CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS=8)" = "catalog_grpc=8 recommend_grpc=8 records_grpc=8 " ] ||
  fail "caps of 8: '$(caps CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS=8)'"
[ -z "$(caps CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS=0)" ] || fail "caps at 0: '$(caps CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS=0)'"
if out=$(env CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS=-3 bash -euo pipefail "$TEST_TMPDIR/cfg.sh" "$CLUSTER_SH" 127.0.0.1 0 1 2>&1); then
  fail "a cap of -3 was accepted"
fi
grep -q "CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS: '-3' is not a whole number" <<<"$out" || fail "a cap of -3: $out"
echo PASS
