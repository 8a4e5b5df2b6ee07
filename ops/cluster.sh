#!/usr/bin/env bash
# The district's network with a replicated record service, on one machine
# (docs/replication.md, "Operations"): three NATS JetStream servers holding the
# replicated statement log, three record nodes records-1..3 applying it to
# their own RocksDB, HAProxy on the client ports sending every connection to
# the node that leads, three catalog nodes catalog-1..3 replicated through
# the same JetStream cluster (HAProxy spreads the catalog port over the ready
# ones; docs/catalog.md, "Replication"), two recommenders recommend-1..2
# behind HAProxy on the recommendation port (any ready one; they hold no data
# of their own: both read the models the one trainer writes), and two web
# gateways web-1..2 behind HAProxy on the web port (the PROXY protocol carries
# each browser's address to them), with the demo district loaded once through
# the leader.
#
#   ops/cluster.sh up             build, start everything, load the demo district, train, wait
#   ops/cluster.sh down           SIGTERM everything (services, HAProxy, nodes, NATS) and wait
#   ops/cluster.sh status         each node's role, applied log position and lag; NATS; HAProxy
#   ops/cluster.sh kill NODE      SIGKILL records-N, catalog-N, recommend-N, web-N or nats-N (a drill: no
#                                 goodbye, no flush)
#   ops/cluster.sh restart NODE   start records-N, catalog-N, recommend-N, web-N or nats-N again (after kill, or SIGTERM+start
#                                 when it runs) and wait until it is back
#   ops/cluster.sh upgrade        build, then restart every service on the new binaries one node at a time
#                                 (record followers, then the leader; catalog-N; recommend-N; HAProxy if its
#                                 configuration changed; trainer; web-1..2): every address keeps answering
#                                 (docs/replication.md, "Upgrades"). The binaries that ran before are kept in
#                                 $LIFELONG_VAR/bin/previous and each record and catalog node backs up its
#                                 store just before its restart: the way back ("Rolling back an upgrade")
#
# Clients use the same addresses as with the single-node stack: gRPC on
# LIFELONG_RECORDS_PORT [7001], xAPI on 8080 (--xapi_port in RECORDS_FLAGS) and
# the leader's /metrics on 9001 (--metrics_port in RECORDS_FLAGS); HAProxy
# passes the TCP stream through (TLS included) to whichever node answers
# 200 on GET /leader of its metrics port (checked every 250 ms); on the xAPI
# port it first sends the PROXY protocol (send-proxy), so the nodes see each
# client's address, not HAProxy's (--xapi_proxy_protocol_from=127.0.0.1: the
# per-address limits and the password backoff count clients). The catalog
# (7002), the recommenders (7003) and the web gateways (LIFELONG_WEB_PORT
# [8090]) are behind HAProxy the same way, on any ready node.
#
# Environment: everything ops/stack.sh reads (LIFELONG_VAR, LIFELONG_HOST, the
# ports, STACK_SKIP_DEMO, STACK_SKIP_BUILD, STACK_SKIP_WEB, STACK_AUTH,
# STACK_TOKEN_REFRESH (the token refresher, as ops/stack.sh's: status shows it),
# STACK_TLS, DEMO_*, RECORDS_FLAGS, ...; RECORDS_FLAGS go to every node), plus:
#   CLUSTER_NODE_PORT_BASE [7010]    records-N gRPC on BASE+N (7011..7013)
#   CLUSTER_XAPI_PORT_BASE [8180]    records-N xAPI on BASE+N (8181..8183)
#   CLUSTER_METRICS_PORT_BASE [9010] records-N /metrics, /replication, /leader on BASE+N
#   CLUSTER_NATS_PORT_BASE [4221]    nats-N clients on BASE+N (4222..4224); routes on
#                                    BASE+2000+N (6222..), monitoring on BASE+4000+N (8222..)
#   CLUSTER_CATALOG_PORT_BASE [7020]  catalog-N gRPC on BASE+N (7021..7023); clients use
#                                    LIFELONG_CATALOG_PORT [7002] (HAProxy, any ready node)
#   CLUSTER_CATALOG_METRICS_PORT_BASE [9020]  catalog-N /metrics, /replication, /ready on BASE+N
#   CLUSTER_RECOMMEND_PORT_BASE [7030]  recommend-N gRPC on BASE+N (7031..7032); clients use
#                                    LIFELONG_RECOMMEND_PORT [7003] (HAProxy, any ready node)
#   CLUSTER_RECOMMEND_METRICS_PORT_BASE [9030]  recommend-N /metrics, /ready on BASE+N
#   CLUSTER_WEB_PORT_BASE [8190]     web-N (the gateway) on 127.0.0.1:BASE+N (8191..8192); browsers
#                                    use LIFELONG_WEB_PORT [8090] (HAProxy, PROXY protocol to web-N)
#   CLUSTER_WEB_METRICS_PORT_BASE [9190]  web-N /metrics, /healthz on 127.0.0.1:BASE+N (plain HTTP)
#   CLUSTER_HAPROXY_STATS_PORT [8404]  HAProxy's statistics page (CSV at /;csv)
#   CLUSTER_XAPI_HOST, CLUSTER_METRICS_HOST  where HAProxy's xAPI and /metrics ports
#                                    listen (haproxy_xapi_host, haproxy_metrics_host:
#                                    LIFELONG_HOST only with TLS (and auth, for xAPI))
#   CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS [32]  most connections one client address
#                                    holds open at once on each gRPC port (records, catalog,
#                                    recommend); HAProxy closes the next one at once (0: no
#                                    cap; docs/security.md "gRPC clients that send slowly")
#   CLUSTER_LEASE_TTL_MS [3000]      the leader lease (records_server --lease_ttl_ms)
#   CLUSTER_NATS_SYNC [auto]         JetStream's sync_interval: auto = `always` (fsync before
#                                    every acknowledgement) when the installed nats-server
#                                    accepts the option (2.10 and later), else none (Debian 12's
#                                    2.9.10: fsync every 2 minutes, docs/replication.md
#                                    "Durability"); off = never written; always or a duration
#                                    (e.g. 10s) = written as given
# State lives under $LIFELONG_VAR/cluster: nats-N/ (JetStream file storage),
# records-N/ (each node's RocksDB), records-N-backups/ (each node's scheduled
# backups, STACK_BACKUP_INTERVAL/STACK_BACKUP_KEEP as in ops/stack.sh),
# xapi-documents-N/, catalog-N/ and catalog-N-backups/ (each catalog node's
# RocksDB and backups), haproxy.cfg, nats-N.conf,
# run/ (pid files, markers) and log/. The models, auth and tls directories
# are the stack's ($LIFELONG_VAR/models, ...). $LIFELONG_VAR/cluster
# and every data directory in it are mode 700, and every process runs with
# umask 077 (docs/security.md, "Secrets on disk").
set -euo pipefail

CLUSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The stack's settings and functions (ops/stack.sh does nothing else when sourced).
# shellcheck source=ops/stack.sh
source "$CLUSTER_ROOT/ops/stack.sh"

# The replicas' digest tool as well (ops/store_digest.h; the disk-loss drill).
TARGETS+=(//ops:records_digest)
CLUSTER="$VAR/cluster"
STACK_RUN="$RUN"  # the single-node stack's pid files
RUN="$CLUSTER/run"
DEMO_STORE_MARKER="$CLUSTER/demo-store"
LOG="$CLUSTER/log"
# ops/web.sh follows this cluster's tls.on/auth.on markers.
export LIFELONG_STACK_RUN="$RUN"
NODES=(1 2 3)
NODE_PORT_BASE="${CLUSTER_NODE_PORT_BASE:-7010}"
XAPI_PORT_BASE="${CLUSTER_XAPI_PORT_BASE:-8180}"
METRICS_PORT_BASE="${CLUSTER_METRICS_PORT_BASE:-9010}"
NATS_PORT_BASE="${CLUSTER_NATS_PORT_BASE:-4221}"
HAPROXY_STATS_PORT="${CLUSTER_HAPROXY_STATS_PORT:-8404}"
CATALOG_PORT_BASE="${CLUSTER_CATALOG_PORT_BASE:-7020}"
CATALOG_METRICS_PORT_BASE="${CLUSTER_CATALOG_METRICS_PORT_BASE:-9020}"
RECOMMENDERS=(1 2)
RECOMMEND_PORT_BASE="${CLUSTER_RECOMMEND_PORT_BASE:-7030}"
RECOMMEND_METRICS_PORT_BASE="${CLUSTER_RECOMMEND_METRICS_PORT_BASE:-9030}"
WEBS=(1 2)
WEB_PORT_BASE="${CLUSTER_WEB_PORT_BASE:-8190}"
WEB_METRICS_PORT_BASE="${CLUSTER_WEB_METRICS_PORT_BASE:-9190}"
WEB_PORT="${LIFELONG_WEB_PORT:-8090}"
LEASE_TTL_MS="${CLUSTER_LEASE_TTL_MS:-3000}"
NATS_SERVER="${NATS_SERVER:-nats-server}"
HAPROXY="${HAPROXY:-haproxy}"
NATS_SYNC="${CLUSTER_NATS_SYNC:-auto}"
GRPC_CONNECTIONS_PER_ADDRESS="${CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS:-32}"
# The client-facing xAPI and metrics ports: what the single-node stack would use.
# shellcheck disable=SC2086
XAPI_PORT=$(flag_value xapi_port 8080 ${RECORDS_FLAGS:-})
# shellcheck disable=SC2086
RECORDS_METRICS_PORT=$(flag_value metrics_port 9001 ${RECORDS_FLAGS:-})
# shellcheck disable=SC2086
CATALOG_METRICS_PORT=$(flag_value metrics_port 9002 ${CATALOG_FLAGS:-})
# shellcheck disable=SC2086
RECOMMEND_METRICS_PORT=$(flag_value metrics_port 9003 ${RECOMMEND_FLAGS:-})

if [ -t 1 ]; then
  say() { printf '\033[1mcluster:\033[0m %s\n' "$*"; }
else
  say() { printf 'cluster: %s\n' "$*"; }
fi
die() { printf 'cluster: error: %s\n' "$*" >&2; exit 1; }

node_port() { echo $((NODE_PORT_BASE + $1)); }
node_xapi_port() { echo $((XAPI_PORT_BASE + $1)); }
node_metrics_port() { echo $((METRICS_PORT_BASE + $1)); }
catalog_port() { echo $((CATALOG_PORT_BASE + $1)); }
catalog_metrics_port() { echo $((CATALOG_METRICS_PORT_BASE + $1)); }
recommend_port() { echo $((RECOMMEND_PORT_BASE + $1)); }
recommend_metrics_port() { echo $((RECOMMEND_METRICS_PORT_BASE + $1)); }
web_port() { echo $((WEB_PORT_BASE + $1)); }
web_metrics_port() { echo $((WEB_METRICS_PORT_BASE + $1)); }
nats_port() { echo $((NATS_PORT_BASE + $1)); }
nats_route_port() { echo $((NATS_PORT_BASE + 2000 + $1)); }
nats_http_port() { echo $((NATS_PORT_BASE + 4000 + $1)); }

program_of() {
  case "$1" in
    records-[0-9]*) echo records_server ;;
    catalog-[0-9]*) echo catalog_server ;;
    recommend-[0-9]*) echo recommend_server ;;
    nats-[0-9]*) echo nats-server ;;
    haproxy) echo haproxy ;;
    trainer) echo lifelong.bin ;;
    token-refresher) echo "ops/stack.sh token-refresher" ;;  # ops/stack.sh start_token_refresher
    *) echo "${1}_server" ;;
  esac
}

# services_of_program NAME (ops/stack.sh): the nodes that run binary NAME (the
# single-node stack's services too: a cluster of an earlier version may run them).
services_of_program() {
  case "$1" in
    records_server) echo records-1 records-2 records-3 ;;
    catalog_server) echo catalog-1 catalog-2 catalog-3 catalog ;;
    recommend_server) echo recommend-1 recommend-2 recommend ;;
    lifelong.bin) echo trainer ;;
  esac
}

# instance_arg NAME (ops/stack.sh): records-N's and catalog-N's data
# directory, recommend-N's port, nats-N's and HAProxy's configuration file;
# the others (trainer, the single-node stack's services) as the stack's.
instance_arg() {
  case "$1" in
    records-[0-9]* | catalog-[0-9]*) echo "--data_dir=$CLUSTER/$1" ;;
    recommend-[0-9]*) echo "--port=$(recommend_port "${1#recommend-}")" ;;
    nats-[0-9]*) echo "$CLUSTER/$1.conf" ;;
    haproxy) echo "$CLUSTER/haproxy.cfg" ;;
    *) stack_instance_arg "$1" ;;
  esac
}

any_running() {
  local s
  for s in records-1 records-2 records-3 catalog-1 catalog-2 catalog-3 recommend-1 recommend-2 recommend; do
    pid_of "$s" >/dev/null && return 0
  done
  return 1
}

# ---------------------------------------------------------------- NATS

# NATS users (docs/replication.md, "NATS users"). With authentication on, each
# service connects as a user of its own, with a password generated once
# (nats-USER.password, mode 600): records may publish only to the statement
# log (lifelong.records.>), the JetStream API of its stream and of the lease
# and positions buckets, and those buckets; catalog only to the catalog's log
# (lifelong.catalog.>) and its stream's API. Both subscribe to their inboxes
# only (where JetStream answers and delivers). So a catalog node can neither
# forge nor erase the records log nor take the records lease, and a records
# node cannot write the catalog's log. The routes between the NATS servers
# authenticate as user route with nats.password. An open stack
# (STACK_AUTH=0) has no users. The log is on the loopback only (LIFELONG_HOST
# is not used).
NATS_USERS=(records catalog)
# The streams (--replication_stream in RECORDS_FLAGS and CATALOG_FLAGS) and
# the records nodes' key-value buckets (services/records/replication/replicator.h).
# shellcheck disable=SC2086
RECORDS_STREAM=$(flag_value replication_stream LIFELONG_RECORDS ${RECORDS_FLAGS:-})
# shellcheck disable=SC2086
CATALOG_STREAM=$(flag_value replication_stream LIFELONG_CATALOG ${CATALOG_FLAGS:-})
RECORDS_BUCKETS=(LIFELONG_LEADER LIFELONG_LOG)

# nats_secret NAME: the password in $AUTH_DIR/NAME.password (mode 600 from its
# creation), generated once.
nats_secret() {
  local f="$AUTH_DIR/$1.password"
  if [ ! -s "$f" ]; then
    private_file "$f" sh -c "head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_'"
  fi
  cat "$f"
}

# nats_password: the routes' password (nats.password; an earlier version's
# single user lifelong had it too), none on an open stack.
nats_password() {
  [ "$AUTH" = 1 ] || return 0
  nats_secret nats
}

# nats_user_password USER: the password of NATS user USER (records, catalog).
nats_user_password() { nats_secret "nats-$1"; }

# nats_urls: the --replication_nats of the nodes (every member, so a node
# reconnects to a live one when its own NATS server dies).
nats_urls() {
  local n urls=""
  for n in "${NODES[@]}"; do urls="${urls:+$urls,}nats://127.0.0.1:$(nats_port "$n")"; done
  echo "$urls"
}

# nats_credentials_flag USER: with authentication, the flag that gives a
# records (USER records) or catalog (catalog) node its NATS user and password:
# a file of the user's own (nats-USER.credentials, mode 600), never the
# node's arguments, where `ps` shows them to every local user.
nats_credentials_flag() {
  [ "$AUTH" = 1 ] || return 0
  local f="$AUTH_DIR/nats-$1.credentials"
  private_file "$f" printf '%s:%s\n' "$1" "$(nats_user_password "$1")"
  echo "--replication_nats_credentials_file=$f"
}

# js_api STREAM OP...: the JetStream API subjects, one a line, that libnats
# 3.4 publishes to for the operations OP on STREAM: info, create, update,
# purge (the stream); get, delete (one message; erase too); direct (direct
# gets: key-value reads); consume (ordered consumers: created in the old and
# in the 2.9 form, asked for their state, deleted, and the replies to flow
# control).
js_api() {
  local s="$1" op
  shift
  for op in "$@"; do
    case "$op" in
      info | create | update | purge) echo "\$JS.API.STREAM.${op^^}.$s" ;;
      get | delete) echo "\$JS.API.STREAM.MSG.${op^^}.$s" ;;
      direct) printf '%s\n' "\$JS.API.DIRECT.GET.$s" "\$JS.API.DIRECT.GET.$s.>" ;;
      consume)
        printf '%s\n' "\$JS.API.CONSUMER.CREATE.$s" "\$JS.API.CONSUMER.CREATE.$s.>" \
          "\$JS.API.CONSUMER.INFO.$s.*" "\$JS.API.CONSUMER.DELETE.$s.*" "\$JS.FC.$s.>"
        ;;
      *) die "js_api: unknown operation $op" ;;
    esac
  done
}

# nats_publish_allow USER: the subjects NATS user USER may publish to, one a
# line: what services/records/replication/replicator.cc (records) and
# services/catalog/replication/catalog_replicator.cc (catalog) use.
nats_publish_allow() {
  local b
  case "$1" in
    records)
      echo "lifelong.records.>"
      # Connect (update: the replica count), the applier, proposals, erasure
      # (get, delete), log retention (purge).
      js_api "$RECORDS_STREAM" info create update purge get delete consume
      # The lease (LIFELONG_LEADER) and the nodes' positions (LIFELONG_LOG);
      # kvStore_Keys finds a bucket's stream by its subjects (STREAM.NAMES:
      # the names of the streams, nothing in them).
      echo "\$JS.API.STREAM.NAMES"
      for b in "${RECORDS_BUCKETS[@]}"; do
        echo "\$KV.$b.>"
        js_api "KV_$b" info create get direct consume
      done
      ;;
    catalog)
      echo "lifelong.catalog.>"
      js_api "$CATALOG_STREAM" info create consume
      ;;
    *) die "nats_publish_allow: unknown user $1" ;;
  esac
}

# nats_user_entry USER: USER's entry in the users of nats-N.conf.
nats_user_entry() {
  local s
  echo "    {user: $1, password: \"$(nats_user_password "$1")\", permissions: {"
  echo "      publish: {allow: ["
  while read -r s; do echo "        \"$s\""; done < <(nats_publish_allow "$1")
  echo "      ]}"
  # Its own inboxes only (services/common/nats_client.h, InboxPrefix).
  echo "      subscribe: {allow: [\"_INBOX_$1.>\"]}"
  echo "    }}"
}

# legacy_nats_nodes: the running records and catalog nodes that an earlier
# version of this script started as its single NATS user lifelong
# ($AUTH_DIR/nats.credentials), space-separated.
legacy_nats_nodes() {
  local n s pid found=()
  for n in "${NODES[@]}"; do
    for s in "records-$n" "catalog-$n"; do
      pid=$(pid_of "$s") || continue
      if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
        grep -q -- '^--replication_nats_credentials_file=.*/nats\.credentials$'; then
        found+=("$s")
      fi
    done
  done
  echo "${found[*]}"
}

# nats_sync_interval: the sync_interval of the JetStream block (none: the
# server's own, an fsync every 2 minutes). CLUSTER_NATS_SYNC=auto asks the
# installed nats-server whether it knows the option (once: call it outside a
# subshell first).
NATS_SYNC_RESOLVED=""
nats_sync_interval() {
  if [ -z "$NATS_SYNC_RESOLVED" ]; then
    case "$NATS_SYNC" in
      off) NATS_SYNC_RESOLVED=none ;;
      auto)
        local probe
        probe=$(mktemp)
        printf 'jetstream {\n  sync_interval: always\n}\n' >"$probe"
        if "$NATS_SERVER" -c "$probe" -t >/dev/null 2>&1; then NATS_SYNC_RESOLVED=always; else NATS_SYNC_RESOLVED=none; fi
        rm -f "$probe"
        ;;
      *) NATS_SYNC_RESOLVED="$NATS_SYNC" ;;
    esac
  fi
  [ "$NATS_SYNC_RESOLVED" = none ] || echo "$NATS_SYNC_RESOLVED"
}

# nats_conf_lines N LEGACY: the contents of nats-N.conf. LEGACY: the nodes
# that still connect as an earlier version's user lifelong
# (legacy_nats_nodes); while there are any, that user stays, as it was.
nats_conf_lines() {
  local n="$1" legacy="$2" routes="" m sync u
  for m in "${NODES[@]}"; do routes="${routes:+$routes, }nats-route://127.0.0.1:$(nats_route_port "$m")"; done
  sync=$(nats_sync_interval)
  echo "# Written by ops/cluster.sh: member $n of the JetStream cluster that holds the statement log."
  echo "server_name: nats-$n"
  echo "listen: 127.0.0.1:$(nats_port "$n")"
  echo "http: 127.0.0.1:$(nats_http_port "$n")"
  echo "max_payload: 8MB"
  echo "jetstream {"
  echo "  store_dir: \"$CLUSTER/nats-$n\""
  echo "  max_memory_store: 256MB"
  echo "  max_file_store: 64GB"
  if [ -n "$sync" ]; then
    echo "  # fsync before acknowledging (CLUSTER_NATS_SYNC; docs/replication.md, \"Durability\")"
    echo "  sync_interval: $sync"
  fi
  echo "}"
  if [ "$AUTH" = 1 ]; then
    echo "# One user per service, each allowed its own log only (docs/replication.md, \"NATS users\")."
    echo "authorization {"
    echo "  users: ["
    for u in "${NATS_USERS[@]}"; do nats_user_entry "$u"; done
    if [ -n "$legacy" ]; then
      echo "    # The single user of an earlier version, for the nodes it started, until they restart."
      echo "    {user: lifelong, password: \"$(nats_password)\"}"
    fi
    echo "  ]"
    echo "}"
  fi
  echo "cluster {"
  echo "  name: lifelong"
  echo "  listen: 127.0.0.1:$(nats_route_port "$n")"
  if [ "$AUTH" = 1 ]; then
    echo "  authorization { user: route, password: \"$(nats_password)\" }"
    routes="${routes//nats-route:\/\//nats-route://route:$(nats_password)@}"
  fi
  echo "  routes: [$routes]"
  echo "}"
}

# stage_nats_conf N: writes nats-N.conf.new, mode 600 from its creation (it
# holds the NATS passwords), and has nats-server check it.
stage_nats_conf() {
  local conf="$CLUSTER/nats-$1.conf" out legacy u
  # Generated and probed (when needed) before the subshell.
  nats_password >/dev/null
  if [ "$AUTH" = 1 ]; then
    for u in "${NATS_USERS[@]}"; do nats_user_password "$u" >/dev/null; done
  fi
  nats_sync_interval >/dev/null
  legacy=$(legacy_nats_nodes)
  (umask 077 && nats_conf_lines "$1" "$legacy" >"$conf.new")
  chmod 600 "$conf.new"
  if ! out=$("$NATS_SERVER" -c "$conf.new" -t 2>&1); then
    echo "$out" >&2
    die "nats-server rejects the generated $conf.new (see above; a CLUSTER_NATS_SYNC other than auto or off needs nats-server 2.10 or later)"
  fi
}

# update_nats_users: makes every running nats-N serve the users that
# nats_conf_lines writes, before a records or catalog node starts as one of
# them. A nats-N.conf that differs (written by an earlier version, whose
# records and catalog nodes shared the user lifelong; or that user no longer
# needed) is replaced and reloaded (SIGHUP: connections and JetStream stay;
# those of a user removed are closed); a member that does not reload it is
# restarted (as `restart nats-N`). Once no node connects as lifelong, the
# earlier version's $AUTH_DIR/nats.credentials is removed.
update_nats_users() {
  [ "$AUTH" = 1 ] || return 0
  local n pid conf log before now legacy
  for n in "${NODES[@]}"; do
    pid=$(pid_of "nats-$n") || continue
    conf="$CLUSTER/nats-$n.conf"
    stage_nats_conf "$n"
    if cmp -s "$conf.new" "$conf"; then
      rm -f "$conf.new"
      continue
    fi
    mv -f "$conf.new" "$conf"
    log="$LOG/nats-$n.log"
    before=$(grep -c 'Reloaded server configuration\|Failed to reload' "$log" 2>/dev/null || true)
    before="${before:-0}"
    kill -HUP "$pid"
    now="$before"
    for _ in $(seq 50); do
      now=$(grep -c 'Reloaded server configuration\|Failed to reload' "$log" 2>/dev/null || true)
      now="${now:-0}"
      [ "$now" -le "$before" ] || break
      sleep 0.1
    done
    if [ "$now" -gt "$before" ] && grep 'Reloaded server configuration\|Failed to reload' "$log" | tail -n 1 |
      grep -q 'Reloaded server configuration'; then
      say "nats-$n: its NATS users changed: configuration reloaded (connections and JetStream stay)"
    else
      grep 'Failed to reload' "$log" | tail -n 1 >&2 || true
      say "nats-$n did not reload its configuration (log $log): restarting it"
      stop_one "nats-$n" >/dev/null || true
      start_nats "$n"
      wait_nats 60 "$n"
    fi
  done
  legacy=$(legacy_nats_nodes)
  if [ -n "$legacy" ]; then
    say "NATS: nodes still connected as an earlier version's single user lifelong ($AUTH_DIR/nats.credentials)," \
      "kept until they restart (ops/cluster.sh upgrade, or restart NODE): $legacy"
  elif [ -e "$AUTH_DIR/nats.credentials" ]; then
    rm -f "$AUTH_DIR/nats.credentials"
    say "NATS: migrated from the single user lifelong to one user per service (records, catalog; each allowed" \
      "its own log only; passwords in $AUTH_DIR/nats-records.password and nats-catalog.password):" \
      "removed $AUTH_DIR/nats.credentials (docs/replication.md, \"NATS users\")"
  fi
}

start_nats() {
  local n="$1" name="nats-$1" pid
  if pid=$(pid_of "$name"); then
    say "$name already running (pid $pid, 127.0.0.1:$(nats_port "$n"))"
    return
  fi
  port_busy "$(nats_port "$n")" && die "port $(nats_port "$n") is taken by another process; set CLUSTER_NATS_PORT_BASE"
  private_dir "$CLUSTER/nats-$n"
  stage_nats_conf "$n"
  mv -f "$CLUSTER/nats-$n.conf.new" "$CLUSTER/nats-$n.conf"
  launch "$LOG/$name.log" "$NATS_SERVER" -c "$CLUSTER/nats-$n.conf"
  echo $! >"$RUN/$name.pid"
  say "started $name (pid $!, 127.0.0.1:$(nats_port "$n"), JetStream in $CLUSTER/nats-$n, log $LOG/$name.log)"
}

# wait_nats TIMEOUT_S N...: waits until the servers report JetStream healthy
# (GET /healthz: the server is in the cluster and its JetStream is current).
wait_nats() {
  local timeout="$1" n deadline
  shift
  deadline=$(($(date +%s) + timeout))
  for n in "$@"; do
    until curl -sf "http://127.0.0.1:$(nats_http_port "$n")/healthz" >/dev/null 2>&1; do
      pid_of "nats-$n" >/dev/null || { tail -n 20 "$LOG/nats-$n.log" >&2; die "nats-$n exited"; }
      [ "$(date +%s)" -lt "$deadline" ] || { tail -n 20 "$LOG/nats-$n.log" >&2; die "nats-$n: JetStream not healthy after ${timeout}s"; }
      sleep 0.2
    done
  done
}

# ---------------------------------------------------------------- records nodes

# port_curl PATH PORT: GET PATH on a metrics port (TLS: the client
# certificate, as every call to /metrics needs).
port_curl() {
  local scheme=http tls=()
  if [ "$TLS" = 1 ]; then
    scheme=https
    tls=(--cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/client.pem" --key "$TLS_DIR/client.key")
  fi
  curl -s --max-time 2 ${tls[@]+"${tls[@]}"} "$scheme://127.0.0.1:$2$1"
}
# metrics_curl PATH N: GET PATH on records-N's metrics port.
metrics_curl() { port_curl "$1" "$(node_metrics_port "$2")"; }

start_node() {
  local n="$1"
  # xapi-documents-N: only where an earlier version left one (imported at start).
  private_dir "$CLUSTER/records-$n" "$CLUSTER/records-$n-backups"
  [ ! -d "$CLUSTER/xapi-documents-$n" ] || private_dir "$CLUSTER/xapi-documents-$n"
  # shellcheck disable=SC2046,SC2086
  start "records-$n" "$(node_port "$n")" --data_dir="$CLUSTER/records-$n" \
    --xapi_documents_dir="$CLUSTER/xapi-documents-$n" --xapi_credentials="$(xapi_credentials_file)" \
    --backup_dir="$CLUSTER/records-$n-backups" --backup_interval="${STACK_BACKUP_INTERVAL:-6h}" \
    --backup_keep="${STACK_BACKUP_KEEP:-28}" \
    $(server_tls_flags records) $(server_auth_flags records) \
    --xapi_proxy_protocol_from=127.0.0.1 \
    --replication_nats="$(nats_urls)" $(nats_credentials_flag records) --node_id="records-$n" --replicas=3 --lease_ttl_ms="$LEASE_TTL_MS" \
    ${RECORDS_FLAGS:-} \
    --metrics_port="$(node_metrics_port "$n")" --xapi_port="$(node_xapi_port "$n")"
}

# wait_for_node NAME TIMEOUT_S WHAT CHECK...: runs CHECK every 0.2 s until it
# succeeds; dies (with NAME's last log lines when it exited) when NAME's
# process is gone or TIMEOUT_S pass ("NAME: WHAT after Ns").
wait_for_node() {
  local name="$1" timeout="$2" what="$3" deadline
  shift 3
  deadline=$(($(date +%s) + timeout))
  until "$@"; do
    if ! pid_of "$name" >/dev/null; then
      echo "--- $name exited; last lines of $LOG/$name.log:" >&2
      tail -n 20 "$LOG/$name.log" >&2 || true
      die "$name exited"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "$name: $what after ${timeout}s (log $LOG/$name.log)"
    sleep 0.2
  done
}

# wait_node TIMEOUT_S N: waits until records-N answers GET /replication.
node_answers() { metrics_curl /replication "$1" 2>/dev/null | grep -q '"role"'; }
wait_node() { wait_for_node "records-$2" "$1" "no answer on GET /replication" node_answers "$2"; }

# ---------------------------------------------------------------- catalog nodes

# start_catalog_node N: catalog-N, replicated through the JetStream cluster
# (stream LIFELONG_CATALOG), its own RocksDB and backups.
start_catalog_node() {
  local n="$1"
  private_dir "$CLUSTER/catalog-$n" "$CLUSTER/catalog-$n-backups"
  # shellcheck disable=SC2046,SC2086
  start "catalog-$n" "$(catalog_port "$n")" --data_dir="$CLUSTER/catalog-$n" \
    --backup_dir="$CLUSTER/catalog-$n-backups" --backup_interval="${STACK_BACKUP_INTERVAL:-6h}" \
    --backup_keep="${STACK_BACKUP_KEEP:-28}" \
    $(server_tls_flags catalog) $(server_auth_flags catalog) \
    --replication_nats="$(nats_urls)" $(nats_credentials_flag catalog) --node_id="catalog-$n" --replicas=3 \
    ${CATALOG_FLAGS:-} --metrics_port="$(catalog_metrics_port "$n")" --shutdown_drain_ms=1000
}

# wait_catalog_node TIMEOUT_S N: waits until catalog-N has applied the
# catalog's log up to its end (GET /ready: 200).
# port_ready PORT: GET /ready on a metrics port answers "ready".
port_ready() { [ "$(port_curl /ready "$1" 2>/dev/null)" = ready ]; }
catalog_node_ready() { port_ready "$(catalog_metrics_port "$1")"; }
wait_catalog_node() {
  wait_for_node "catalog-$2" "$1" "not ready (GET /replication says why)" catalog_node_ready "$2"
}

# catalog_line N: one line of `status` for catalog-N, from GET /replication.
catalog_line() {
  local n="$1" pid json
  if ! pid=$(pid_of "catalog-$n"); then
    printf '  %-10s %-8s %s\n' "catalog-$n" "-" "not running"
    return
  fi
  json=$(port_curl /replication "$(catalog_metrics_port "$n")" 2>/dev/null || true)
  python3 - "$n" "$pid" "$(catalog_port "$n")" "$json" <<'PY'
import json, sys
n, pid, port, raw = sys.argv[1:5]
try:
    d = json.loads(raw)
except ValueError:
    print(f"  {'catalog-' + n:<10} {pid:<8} no answer on GET /replication")
    sys.exit(0)
state = "ready" if d.get("ready") else "catching up"
print(f"  {'catalog-' + n:<10} {pid:<8} {'127.0.0.1:' + port:<16} {state:<12} "
      f"{d.get('applied_seq', '?'):<18} {d.get('log_last_seq', '?'):<14} {d.get('lag', '?')}")
if d.get('applier_error'):
    print(f"  {'':<10} APPLIER STOPPED: {d['applier_error']}")
PY
}

# ---------------------------------------------------------------- recommenders

# start_recommend_node N: recommend-N on its own ports (ops/stack.sh's
# start_recommend: the records and catalog addresses through HAProxy, the
# models in $VAR/models).
start_recommend_node() {
  # Drain for 4 of HAProxy's 250 ms checks (2 mark it down) before closing.
  start_recommend "recommend-$1" "$(recommend_port "$1")" --metrics_port="$(recommend_metrics_port "$1")" \
    --shutdown_drain_ms=1000
}

# wait_recommend_node TIMEOUT_S N: waits until recommend-N is ready (GET
# /ready: 200 once a model is loaded and the catalog read).
recommend_node_ready() { port_ready "$(recommend_metrics_port "$1")"; }
wait_recommend_node() {
  wait_for_node "recommend-$2" "$1" "not ready (GET /ready on its metrics port says why)" recommend_node_ready "$2"
}

# recommend_line N: one line of `status` for recommend-N (GET /ready).
recommend_line() {
  local n="$1" pid ready
  if ! pid=$(pid_of "recommend-$n"); then
    printf '  %-12s %-8s %s\n' "recommend-$n" "-" "not running"
    return
  fi
  ready=$(port_curl /ready "$(recommend_metrics_port "$n")" 2>/dev/null | head -n 1 || true)
  printf '  %-12s %-8s %-16s %s\n' "recommend-$n" "$pid" "127.0.0.1:$(recommend_port "$n")" "${ready:-no answer on GET /ready}"
}

# ---------------------------------------------------------------- web gateways

# web_sh N ARGS...: ops/web.sh for web-N (its own port and pid file; HAProxy's
# connections only, each with a PROXY header naming the browser).
web_sh() {
  local n="$1"
  shift
  # On the loopback only (HAProxy reaches it there; nobody else may send it a
  # PROXY header), with a plain metrics port for Prometheus.
  LIFELONG_HOST=127.0.0.1 WEB_NAME="web-$n" WEB_LISTEN_PORT="$(web_port "$n")" WEB_PROXY_FROM=127.0.0.1 \
    WEB_FLAGS="${WEB_FLAGS:-} --metrics_port=$(web_metrics_port "$n")" "$ROOT/ops/web.sh" "$@"
}
web_running() { [ -n "$(web_pid "$1")" ]; }
# web_pid N: web-N's pid (ops/web.sh keeps its pid files in $LIFELONG_VAR/run).
web_pid() { web_sh "$1" status 2>/dev/null | awk -v n="web-$1" '$1 == n && $2 == "pid" {print $3}'; }

# leader_node: N of the node that answers 200 on GET /leader (none: fails).
leader_node() {
  local n
  for n in "${NODES[@]}"; do
    [ "$(metrics_curl /leader "$n" 2>/dev/null)" = leader ] && { echo "$n"; return 0; }
  done
  return 1
}

wait_leader() {
  local timeout="$1" deadline n
  deadline=$(($(date +%s) + timeout))
  until n=$(leader_node); do
    [ "$(date +%s)" -lt "$deadline" ] || die "no node leads after ${timeout}s (logs in $LOG)"
    sleep 0.2
  done
  echo "$n"
}

# ---------------------------------------------------------------- HAProxy

# haproxy_xapi_host: where HAProxy's client-facing xAPI port listens. As on the
# single-node stack (records_xapi_host): LIFELONG_HOST when it is a loopback
# address, or when the cluster runs with TLS and authentication; otherwise
# 127.0.0.1, since without TLS a Basic password and every statement would cross
# the network in clear, and an open cluster takes the repository's published
# dev password. CLUSTER_XAPI_HOST sets it explicitly (the opt-out).
haproxy_xapi_host() { echo "${CLUSTER_XAPI_HOST:-$(records_xapi_host)}"; }

# haproxy_metrics_host: where the client-facing /metrics ports (records,
# catalog, recommend) listen: LIFELONG_HOST when it is a loopback address or
# with TLS (the nodes then take only clients with a certificate of the
# cluster's CA: mutual TLS); otherwise 127.0.0.1, as on the single-node stack
# (/metrics has no authentication without TLS). CLUSTER_METRICS_HOST sets it
# explicitly (e.g. 0.0.0.0 for a Prometheus on another machine of a trusted
# network).
haproxy_metrics_host() {
  if [ -n "${CLUSTER_METRICS_HOST:-}" ]; then
    echo "$CLUSTER_METRICS_HOST"
  elif is_loopback "$HOST" || [ "$TLS" = 1 ]; then
    echo "$HOST"
  else
    echo 127.0.0.1
  fi
}

# grpc_connection_cap: the lines of a gRPC frontend that cap the connections
# one client address holds open (GRPC_CONNECTIONS_PER_ADDRESS; none at 0).
# Each node's gRPC memory quota is shared by every client behind HAProxy (they
# all reach it from 127.0.0.1): without a cap per address, one client with
# many connections holding requests short of their end filled the quota and
# made the node close honest clients' connections too.
grpc_connection_cap() {
  [ "$GRPC_CONNECTIONS_PER_ADDRESS" -gt 0 ] || return 0
  echo "    stick-table type ipv6 size 100k expire 10m store conn_cur"
  echo "    tcp-request connection track-sc0 src"
  echo "    tcp-request connection reject if { sc0_conn_cur gt $GRPC_CONNECTIONS_PER_ADDRESS }"
}

write_haproxy_cfg() {
  local cfg="$CLUSTER/haproxy.cfg" check_tls="" n port
  [[ "$GRPC_CONNECTIONS_PER_ADDRESS" =~ ^[0-9]+$ ]] ||
    die "CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS: '$GRPC_CONNECTIONS_PER_ADDRESS' is not a whole number (0: no cap)"
  local xapi_host metrics_host
  xapi_host=$(haproxy_xapi_host)
  metrics_host=$(haproxy_metrics_host)
  if [ "$TLS" = 1 ]; then
    # The health check speaks TLS with the client certificate (mutual TLS on /metrics).
    # Mode 600 from its creation: it holds the client certificate's private key.
    private_file "$CLUSTER/haproxy-client.pem" cat "$TLS_DIR/client.pem" "$TLS_DIR/client.key"
    check_tls=" check-ssl verify required ca-file $TLS_DIR/ca.pem crt $CLUSTER/haproxy-client.pem"
  fi
  {
    cat <<EOF
# Written by ops/cluster.sh up: the records address of the cluster. TCP
# passthrough (gRPC over HTTP/2, xAPI over HTTP/1.1, TLS untouched) to the one
# node whose metrics port answers 200 on GET /leader; every 250 ms, so a new
# leader gets the traffic within a check or two of taking the lease. Sessions
# of a node marked down are closed, so clients reconnect to the new leader.
global
    # Each connection holds two descriptors; this fits a 10k descriptor limit.
    maxconn 4000
    log stderr format short local0 notice
    # After a reload (-sf), the old process finishes its sessions for at most this long.
    hard-stop-after 30s

defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout check 1s
    default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions

frontend records_grpc
    bind $HOST:$RECORDS_PORT
$(grpc_connection_cap)
    default_backend records_grpc

frontend records_xapi
    bind $xapi_host:$XAPI_PORT
    default_backend records_xapi

frontend records_metrics
    bind $metrics_host:$RECORDS_METRICS_PORT
    default_backend records_metrics

# The catalog: every node takes reads and writes (docs/catalog.md,
# "Replication"); connections go to the ready nodes (GET /ready: the node has
# applied the catalog's log to its end).
frontend catalog_grpc
    bind $HOST:$CATALOG_PORT
$(grpc_connection_cap)
    default_backend catalog_grpc

frontend catalog_metrics
    bind $metrics_host:$CATALOG_METRICS_PORT
    default_backend catalog_metrics

# The recommenders: any ready one answers (GET /ready: a model loaded and
# the catalog read); they keep no data of their own.
frontend recommend_grpc
    bind $HOST:$RECOMMEND_PORT
$(grpc_connection_cap)
    default_backend recommend_grpc

frontend recommend_metrics
    bind $metrics_host:$RECOMMEND_METRICS_PORT
    default_backend recommend_metrics

# The web gateways (kiosk and app): any one; the PROXY protocol tells each
# the browser's address (the kiosk check needs it). TLS passes through.
frontend web
    bind $HOST:$WEB_PORT
    default_backend web

frontend stats
    mode http
    bind 127.0.0.1:$HAPROXY_STATS_PORT
    stats enable
    stats uri /
    stats refresh 2s

EOF
    local backend port_fn
    for backend in grpc xapi metrics; do
      case "$backend" in
        grpc) port_fn=node_port ;;
        xapi) port_fn=node_xapi_port ;;
        metrics) port_fn=node_metrics_port ;;
      esac
      echo "backend records_$backend"
      echo "    option httpchk"
      echo "    http-check send meth GET uri /leader"
      echo "    http-check expect status 200"
      # xAPI: the PROXY protocol names the client to the node (its port takes
      # connections from HAProxy only). The check goes to the metrics port,
      # which takes none, and HAProxy sends it there without a PROXY header
      # (a check with "port" uses send-proxy only with check-send-proxy).
      local proxy=""
      [ "$backend" != xapi ] || proxy=" send-proxy"
      for n in "${NODES[@]}"; do
        echo "    server records-$n 127.0.0.1:$($port_fn "$n")$proxy check port $(node_metrics_port "$n")$check_tls"
      done
      echo
    done
    cat <<EOF
# The catalog's and the recommenders' backends, last: as above, but the
# sessions of a server marked down are left to finish. A catalog node or
# recommender stopping (SIGTERM) turns not ready first and answers on for
# --shutdown_drain_ms, then closes with an HTTP/2 GOAWAY, so its calls in
# flight end normally; a connection that cannot be made (a killed one not yet
# marked down) goes to another.
defaults
    mode tcp
    log global
    option dontlognull
    option redispatch 1
    retries 2
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout check 1s
    default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 1

EOF
    for backend in grpc metrics; do
      echo "backend catalog_$backend"
      echo "    balance leastconn"
      echo "    option httpchk"
      echo "    http-check send meth GET uri /ready"
      echo "    http-check expect status 200"
      for n in "${NODES[@]}"; do
        if [ "$backend" = grpc ]; then port=$(catalog_port "$n"); else port=$(catalog_metrics_port "$n"); fi
        echo "    server catalog-$n 127.0.0.1:$port check port $(catalog_metrics_port "$n")$check_tls"
      done
      echo
    done
    echo "backend web"
    echo "    balance leastconn"
    for n in "${WEBS[@]}"; do
      echo "    server web-$n 127.0.0.1:$(web_port "$n") send-proxy check check-send-proxy"
    done
    echo
    for backend in grpc metrics; do
      echo "backend recommend_$backend"
      echo "    balance leastconn"
      echo "    option httpchk"
      echo "    http-check send meth GET uri /ready"
      echo "    http-check expect status 200"
      for n in "${RECOMMENDERS[@]}"; do
        if [ "$backend" = grpc ]; then port=$(recommend_port "$n"); else port=$(recommend_metrics_port "$n"); fi
        echo "    server recommend-$n 127.0.0.1:$port check port $(recommend_metrics_port "$n")$check_tls"
      done
      echo
    done
  } >"$cfg.new"
  "$HAPROXY" -c -q -f "$cfg.new" || die "HAProxy rejects the generated $cfg.new"
}

# start_haproxy: writes haproxy.cfg and starts HAProxy. A running one whose
# configuration differs (written by an earlier version of this script, e.g.
# before the recommenders were behind it) is reloaded without a gap: a new
# HAProxy binds the same ports beside it (-sf), the old one stops listening
# and finishes its sessions (at most hard-stop-after). Every port must be free
# of other processes first (the single-node stack's, an earlier version's
# single recommender or gateway: cluster_up and cluster_upgrade stop those).
start_haproxy() {
  local pid p cfg="$CLUSTER/haproxy.cfg" old=()
  write_haproxy_cfg
  if pid=$(pid_of haproxy); then
    if cmp -s "$cfg.new" "$cfg"; then
      rm -f "$cfg.new"
      say "haproxy already running (pid $pid)"
      return
    fi
    say "HAProxy's configuration changed: reloading haproxy (pid $pid finishes its sessions)"
    old=(-sf "$pid")
  else
    for p in "$RECORDS_PORT" "$XAPI_PORT" "$RECORDS_METRICS_PORT" "$CATALOG_PORT" "$CATALOG_METRICS_PORT" \
      "$RECOMMEND_PORT" "$RECOMMEND_METRICS_PORT" "$WEB_PORT" "$HAPROXY_STATS_PORT"; do
      port_busy "$p" && die "port $p is taken by another process (is the single-node stack up? ops/stack.sh down)"
    done
  fi
  mv -f "$cfg.new" "$cfg"
  # -db: stays in the foreground (the pid is HAProxy's own); -Ws would need systemd.
  launch "$LOG/haproxy.log" "$HAPROXY" -f "$CLUSTER/haproxy.cfg" -db ${old[@]+"${old[@]}"}
  echo $! >"$RUN/haproxy.pid"
  local listeners
  for _ in $(seq 50); do
    pid_of haproxy >/dev/null || { tail -n 20 "$LOG/haproxy.log" >&2; die "haproxy exited (log $LOG/haproxy.log)"; }
    if curl -sf "http://127.0.0.1:$HAPROXY_STATS_PORT/;csv" >/dev/null 2>&1; then
      [ "${#old[@]}" = 0 ] && break
      # A reload: done once the old process has let go of the ports (it does
      # so when the new one, having bound them, signals it).
      listeners=$(ss -Hltnp "sport = :$RECORDS_PORT" 2>/dev/null || true)
      [[ "$listeners" == *"pid=${old[1]},"* ]] || break
    fi
    sleep 0.1
  done
  say "started haproxy (pid $!, gRPC $HOST:$RECORDS_PORT, xAPI $(haproxy_xapi_host):$XAPI_PORT, metrics $(haproxy_metrics_host):$RECORDS_METRICS_PORT -> the leader; catalog $HOST:$CATALOG_PORT -> the ready catalog nodes; recommend $HOST:$RECOMMEND_PORT -> the ready recommenders; stats http://127.0.0.1:$HAPROXY_STATS_PORT/)"
}

# haproxy_up_servers BACKEND: the servers HAProxy sends BACKEND's traffic to
# (grpc, xapi, metrics: records_BACKEND; or a full name such as catalog_grpc, web).
haproxy_up_servers() {
  local b="$1"
  case "$b" in grpc | xapi | metrics) b="records_$b" ;; esac
  { curl -s --max-time 2 "http://127.0.0.1:$HAPROXY_STATS_PORT/;csv" 2>/dev/null || true; } |
    awk -F, -v b="$b" '$1 == b && $2 != "BACKEND" && $18 == "UP" {print $2}' | paste -sd ' '
}

# ---------------------------------------------------------------- commands

check_tools() {
  command -v "$NATS_SERVER" >/dev/null || die "nats-server is not installed (ops/bootstrap.sh installs it)"
  command -v "$HAPROXY" >/dev/null || die "haproxy is not installed (ops/bootstrap.sh installs it)"
  command -v curl >/dev/null || die "curl is not installed"
}

cluster_up() {
  trap 'echo "cluster: up failed at line $LINENO; what started keeps running (ops/cluster.sh status);" \
      "logs in $LOG; re-running ops/cluster.sh up resumes" >&2' ERR
  step "bootstrap (Debian packages)"
  "$ROOT/ops/bootstrap.sh"
  check_tools
  build
  # The single-node stack's records_server (its pid file names a live process
  # with its data directory; a recycled pid is not it).
  if RUN="$STACK_RUN" pid_of records >/dev/null; then
    die "the single-node stack runs in $VAR (ops/stack.sh down first: both serve on port $RECORDS_PORT)"
  fi
  # shellcheck disable=SC2174  # -m for the cluster directory itself
  mkdir -p -m 700 "$CLUSTER"
  chmod 700 "$CLUSTER"
  local dirs=()
  for n in "${NODES[@]}"; do dirs+=("$CLUSTER/records-$n"); done
  claim_demo_store "${dirs[@]}"
  private_dir "$VAR/models"
  mkdir -p "$LOG" "$RUN"
  resolve_tls
  resolve_auth
  if [ "$AUTH" = 1 ]; then
    step "signing key, service tokens, xAPI and NATS credentials (authentication on; STACK_AUTH=0 for an open cluster)"
    setup_auth
    nats_password >/dev/null
    touch "$RUN/auth.on"
    # The service and kiosk tokens minted again every day (ops/stack.sh).
    start_token_refresher
    step_done "auth"
  else
    say "authentication OFF (STACK_AUTH=0): every caller is trusted, the log's NATS port is open; for experiments only"
  fi
  if [ "$TLS" = 1 ]; then
    step "development CA and certificates (STACK_TLS=1)"
    "$ROOT/ops/dev-ca.sh" "$TLS_DIR" >/dev/null
    touch "$RUN/tls.on"
    step_done "dev CA"
  fi
  write_stack_env
  step "starting the JetStream cluster (nats-1..3) that holds the statement log"
  local n
  for n in "${NODES[@]}"; do start_nats "$n"; done
  say "waiting for JetStream to form its cluster (meta leader elected, every member current)"
  wait_nats 60 "${NODES[@]}"
  # Running members of an earlier version: its single NATS user lifelong.
  update_nats_users
  step_done "start NATS"
  step "starting records-1..3 and HAProxy on $HOST:$RECORDS_PORT"
  # A single recommender or gateway from an earlier version of this script
  # holds a port HAProxy now serves.
  if stop_one recommend; then say "the single recommender is replaced by recommend-1..2 behind HAProxy"; fi
  if web_gateway_pid >/dev/null; then
    "$ROOT/ops/web.sh" down
    say "the single web gateway is replaced by web-1..2 behind HAProxy"
  fi
  for n in "${NODES[@]}"; do start_node "$n"; done
  start_haproxy
  for n in "${NODES[@]}"; do wait_node 60 "$n"; done
  say "waiting for a leader (lease ${LEASE_TTL_MS} ms)"
  n=$(wait_leader 60)
  say "records-$n leads"
  step "starting catalog-1..3 (replicated through the same JetStream cluster)"
  for n in "${NODES[@]}"; do start_catalog_node "$n"; done
  for n in "${NODES[@]}"; do wait_catalog_node 60 "$n"; done
  # Through HAProxy: SERVING here means the leader answers on the records
  # address, and a ready catalog node on the catalog's.
  wait_serving 60s records catalog
  step_done "start records+catalog"
  load_demo
  refill_demo_catalog
  train_first_model
  step "starting recommend-1..2 behind HAProxy on $HOST:$RECOMMEND_PORT"
  for n in "${RECOMMENDERS[@]}"; do start_recommend_node "$n"; done
  if has_model; then
    for n in "${RECOMMENDERS[@]}"; do wait_recommend_node 180 "$n"; done
    wait_serving 60s recommend
  else
    say "the recommenders stay not ready (HAProxy sends them nothing) until a model exists"
  fi
  step_done "start recommenders"
  start_trainer
  if [ "${STACK_SKIP_WEB:-0}" != 1 ]; then
    step "starting the web gateways web-1..2 behind HAProxy on $HOST:$WEB_PORT (kiosk and app)"
    for n in "${WEBS[@]}"; do web_sh "$n" up >/dev/null || say "web-$n did not start (see $LOG/web-$n.log)"; done
    "$ROOT/ops/web.sh" urls
    step_done "start web"
  fi
  echo
  say "the cluster is up ($(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s)"
  if [ "${#TIMINGS[@]}" -gt 0 ]; then
    echo "  timings:"
    printf '    %s\n' "${TIMINGS[@]}"
  fi
  echo
  cluster_status
  echo
  echo "Drills: ops/cluster.sh kill records-N (SIGKILL) / restart records-N (also catalog-N, recommend-N, web-N, nats-N); docs/replication.md"
  echo "Stop everything with: ops/cluster.sh down"
}

# refill_demo_catalog: a cluster whose demo district was loaded while the
# catalog was a single node (in $VAR/catalog, before the catalog was
# replicated) comes up with an empty replicated catalog: the demo loader
# creates the demo courses again (the same seed gives the same courses).
refill_demo_catalog() {
  [ "${STACK_SKIP_DEMO:-0}" = 1 ] && return 0
  [ -f "$RUN/demo.done" ] || return 0
  # --json: one line per course, nothing else (no header, no count).
  lifelong courses list --json --archived --limit=1 2>/dev/null | grep -q . && return 0
  step "the replicated catalog is empty: creating the demo courses again (docs/catalog.md, \"Replication\")"
  local flags=()
  if [ "$TLS" = 1 ]; then
    flags=(--tls_ca="$LIFELONG_TLS_CA" --tls_cert="$LIFELONG_TLS_CERT" --tls_key="$LIFELONG_TLS_KEY")
  fi
  [ "$AUTH" = 1 ] && flags+=(--token_file="$AUTH_DIR/loader.token")
  "$BIN/demo_loader" ${flags[@]+"${flags[@]}"} --catalog="$LIFELONG_CATALOG" --courses="$DEMO_COURSES" \
    --seed="$DEMO_SEED" --skip_statements --allow_demo_data
  step_done "demo catalog"
}

cluster_down() {
  local any=0 s
  local n
  for n in "${WEBS[@]}"; do
    web_running "$n" && { web_sh "$n" down || say "web-$n did not stop (ops/web.sh)"; }
  done
  # The single gateway of a cluster started before the gateways were two.
  if web_gateway_pid >/dev/null; then
    "$ROOT/ops/web.sh" down || true
  fi
  # "catalog": the single catalog of a cluster started before the catalog was replicated.
  # "recommend": the single recommender of a cluster started before the recommenders were two.
  for s in token-refresher trainer recommend-2 recommend-1 recommend catalog catalog-3 catalog-2 catalog-1 haproxy \
    records-3 records-2 records-1 nats-3 nats-2 nats-1; do
    stop_one "$s" && any=1
  done
  rm -f "$RUN/tls.on" "$RUN/auth.on"
  [ "$any" = 1 ] || say "nothing was running"
}

# node_line N: one line of `status` for records-N, from GET /replication.
node_line() {
  local n="$1" pid json
  if ! pid=$(pid_of "records-$n"); then
    printf '  %-10s %-8s %s\n' "records-$n" "-" "not running"
    return
  fi
  json=$(metrics_curl /replication "$n" 2>/dev/null || true)
  if [ -z "$json" ]; then
    printf '  %-10s %-8s %s\n' "records-$n" "$pid" "no answer on GET /replication"
    return
  fi
  python3 - "$n" "$pid" "$(node_port "$n")" "$json" <<'PY'
import json, sys
n, pid, port, raw = sys.argv[1:5]
try:
    d = json.loads(raw)
except ValueError:
    print(f"  {'records-' + n:<10} {pid:<8} GET /replication: not JSON: {raw[:80]!r}")
    sys.exit(0)
print(f"  {'records-' + n:<10} {pid:<8} {'127.0.0.1:' + port:<16} {d.get('role', '?'):<12} "
      f"{d.get('applied_seq', '?'):<18} {d.get('log_last_seq', '?'):<14} {d.get('lag', '?'):<12} "
      f"{d.get('leader') or '-'}")
if d.get('trimmed_below'):
    print(f"  {'':<10} log trimmed below {d['trimmed_below']} (docs/replication.md, \"Log retention\")")
if d.get('applier_error'):
    print(f"  {'':<10} APPLIER STOPPED: {d['applier_error']}")
PY
}

cluster_status() {
  resolve_tls
  resolve_auth
  local n pid
  [ "$TLS" = 0 ] || echo "TLS: on (mutual TLS; certificates in $TLS_DIR; HAProxy passes TLS through)"
  if [ "$AUTH" = 1 ]; then
    echo "auth: on (bearer tokens; NATS users records and catalog, each allowed its own log only," \
      "passwords in $AUTH_DIR/nats-records.password and nats-catalog.password)"
  else
    echo "auth: OFF (STACK_AUTH=0): every caller is trusted"
  fi
  echo "records nodes (GET /replication on each metrics port):"
  printf '  %-10s %-8s %-16s %-12s %-18s %-14s %-12s %s\n' NODE PID GRPC ROLE APPLIED LOG_LAST LAG LEADER
  for n in "${NODES[@]}"; do node_line "$n"; done
  echo "catalog nodes (GET /replication on each metrics port; any ready node takes writes):"
  printf '  %-10s %-8s %-16s %-12s %-18s %-14s %s\n' NODE PID GRPC STATE APPLIED LOG_LAST LAG
  for n in "${NODES[@]}"; do catalog_line "$n"; done
  echo "statement log (NATS JetStream, file storage in $CLUSTER/nats-N):"
  for n in "${NODES[@]}"; do
    if pid=$(pid_of "nats-$n"); then
      printf '  %-10s %-8s 127.0.0.1:%-6s JetStream %s\n' "nats-$n" "$pid" "$(nats_port "$n")" \
        "$(curl -s --max-time 2 "http://127.0.0.1:$(nats_http_port "$n")/healthz" 2>/dev/null | tr -d '\n' || echo '?')"
    else
      printf '  %-10s %-8s %s\n' "nats-$n" "-" "not running"
    fi
  done
  if pid=$(pid_of haproxy); then
    echo "haproxy (pid $pid): gRPC $HOST:$RECORDS_PORT -> $(haproxy_up_servers grpc | sed 's/^$/(no leader)/')," \
      "xAPI $(haproxy_xapi_host):$XAPI_PORT -> $(haproxy_up_servers xapi | sed 's/^$/(no leader)/')," \
      "catalog $HOST:$CATALOG_PORT -> $(haproxy_up_servers catalog_grpc | sed 's/^$/(no ready node)/')," \
      "recommend $HOST:$RECOMMEND_PORT -> $(haproxy_up_servers recommend_grpc | sed 's/^$/(no ready node)/')," \
      "stats http://127.0.0.1:$HAPROXY_STATS_PORT/"
  else
    echo "haproxy: not running"
  fi
  echo "recommenders (GET /ready on each metrics port; HAProxy sends calls to the ready ones):"
  for n in "${RECOMMENDERS[@]}"; do recommend_line "$n"; done
  trainer_status
  token_refresher_status
  if [ "${STACK_SKIP_WEB:-0}" != 1 ]; then
    echo "web gateways (HAProxy on $HOST:$WEB_PORT -> $(haproxy_up_servers web | sed 's/^$/(none up)/')):"
    for n in "${WEBS[@]}"; do
      if web_running "$n"; then
        printf '  %-10s %-8s %-16s %s\n' "web-$n" "$(web_pid "$n")" "127.0.0.1:$(web_port "$n")" \
          "$(web_sh "$n" status 2>/dev/null | awk '/^  health: / {sub(/^  health: /, ""); print}')"
      else
        printf '  %-10s %-8s %s\n' "web-$n" "-" "not running"
      fi
    done
    "$ROOT/ops/web.sh" urls 2>/dev/null || true
  fi
  if [ -x "$BIN/lifelong.bin" ] && any_running; then
    echo
    lifelong health --timeout=2s || true
    echo
    echo "the leader's record-store backups (each node keeps its own in $CLUSTER/records-N-backups):"
    lifelong backup list --timeout=5s || true
    if pid_of catalog-1 >/dev/null || pid_of catalog-2 >/dev/null || pid_of catalog-3 >/dev/null; then
      echo
      echo "catalog backups of one ready node (each keeps its own in $CLUSTER/catalog-N-backups; docs/catalog.md \"Backups\"):"
      lifelong backup list --service=catalog --timeout=5s || true
    fi
  fi
}

# node_arg NAME: validates a NODE argument (records-N, catalog-N or nats-N,
# N in 1..3; recommend-N, N in 1..2).
node_arg() {
  case "${1:-}" in
    records-[123] | catalog-[123] | nats-[123] | recommend-[12] | web-[12]) echo "$1" ;;
    *) die "NODE must be records-N, catalog-N or nats-N with N in 1..3, or recommend-N or web-N with N in 1..2 (got '${1:-}')" ;;
  esac
}

cluster_kill() {
  local name pid
  name=$(node_arg "${1:-}")
  if [[ "$name" == web-* ]]; then
    pid=$(web_pid "${name#web-}")
    [ -n "$pid" ] || die "$name is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$VAR/run/$name.pid"
    say "$name (pid $pid) killed with SIGKILL"
    return
  fi
  pid=$(pid_of "$name") || die "$name is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$RUN/$name.pid"
  say "$name (pid $pid) killed with SIGKILL"
}

cluster_restart() {
  local name n
  name=$(node_arg "${1:-}")
  n="${name##*-}"
  resolve_tls
  resolve_auth
  if [[ "$name" == web-* ]]; then
    web_sh "$n" down
  elif pid_of "$name" >/dev/null; then
    stop_one "$name"
  fi
  case "$name" in
    nats-*)
      start_nats "$n"
      say "waiting for nats-$n to rejoin and catch up"
      wait_nats 60 "$n"
      ;;
    records-*)
      update_nats_users
      start_node "$n"
      say "waiting for records-$n to answer (it catches up from its last applied position)"
      wait_node 60 "$n"
      ;;
    catalog-*)
      update_nats_users
      start_catalog_node "$n"
      say "waiting for catalog-$n to apply the catalog's log to its end"
      wait_catalog_node 60 "$n"
      ;;
    web-*)
      web_sh "$n" up
      ;;
    recommend-*)
      start_recommend_node "$n"
      if has_model; then
        say "waiting for recommend-$n to load the model and read the catalog"
        wait_recommend_node 120 "$n"
      fi
      ;;
  esac
  say "$name is back"
}

# wait_caught_up TIMEOUT_S N: waits until records-N reports lag 0 (it has
# applied the statement log to its end).
node_caught_up() {
  metrics_curl /replication "$1" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get("lag") == 0 and not d.get("applier_error") else 1)' \
      2>/dev/null
}
wait_caught_up() { wait_for_node "records-$2" "$1" "not caught up with the log (GET /replication)" node_caught_up "$2"; }

# upgrade_one NAME: SIGTERM NAME, start it on the binaries in $BIN, and wait
# until it is back (records-N: caught up; catalog-N, recommend-N: ready);
# prints how long it took. A records or catalog node first backs up its store
# (backup_before_restart: taken by the node itself, into its own backup
# directory), so that a rollback to the binaries in $PREVIOUS can restore it.
upgrade_one() {
  local name="$1" n="${1##*-}" t0
  t0=$(date +%s.%N)
  case "$name" in
    records-*) backup_before_restart records "$name" "127.0.0.1:$(node_port "$n")" "$CLUSTER/$name-backups" ;;
    catalog-*) backup_before_restart catalog "$name" "127.0.0.1:$(catalog_port "$n")" "$CLUSTER/$name-backups" ;;
  esac
  stop_one "$name" >/dev/null || true
  case "$name" in
    records-*)
      start_node "$n" >/dev/null
      wait_node 60 "$n"
      wait_caught_up 300 "$n"
      ;;
    catalog-*)
      start_catalog_node "$n" >/dev/null
      wait_catalog_node 120 "$n"
      ;;
    recommend-*)
      start_recommend_node "$n" >/dev/null
      if has_model; then wait_recommend_node 180 "$n"; fi
      ;;
    web-*)
      # ops/web.sh up waits until the gateway answers GET /healthz.
      web_sh "$n" down >/dev/null
      web_sh "$n" up >/dev/null
      ;;
  esac
  say "$name upgraded ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s)"
}

# cluster_upgrade: the new binaries, one node at a time. Refused unless every
# records and catalog node is up (restarting one while another is down would
# leave a single copy serving). Followers go first, so the leader that takes
# over is already new; the old leader goes last. NATS itself is Debian's
# package: after an apt upgrade, `ops/cluster.sh restart nats-N` one by one.
cluster_upgrade() {
  resolve_tls
  resolve_auth
  local n leader down="" missing="" running=0 legacy_web=0
  for n in "${NODES[@]}"; do
    pid_of "records-$n" >/dev/null && node_answers "$n" || down="$down records-$n"
    pid_of "catalog-$n" >/dev/null && catalog_node_ready "$n" || down="$down catalog-$n"
    pid_of "nats-$n" >/dev/null || down="$down nats-$n"
  done
  # Recommenders and gateways: all of them up, or none (a cluster of an
  # earlier version runs a single one of each, replaced below).
  for n in "${RECOMMENDERS[@]}"; do
    if pid_of "recommend-$n" >/dev/null && { ! has_model || recommend_node_ready "$n"; }; then
      running=$((running + 1))
    else
      missing="$missing recommend-$n"
    fi
  done
  [ "$running" = 0 ] || down="$down$missing"
  running=0
  missing=""
  for n in "${WEBS[@]}"; do
    if web_running "$n"; then running=$((running + 1)); else missing="$missing web-$n"; fi
  done
  [ "$running" = 0 ] || down="$down$missing"
  [ -z "$down" ] || die "not upgrading: not running or not ready:$down (ops/cluster.sh restart NODE first; an upgrade restarts one node at a time and needs the others up)"
  leader=$(leader_node) || die "not upgrading: no records node leads (ops/cluster.sh status)"
  if web_gateway_pid >/dev/null; then legacy_web=1; fi
  # The way back: the binaries that run now, and (upgrade_one) a backup of
  # each record and catalog node's store before the new binary opens it.
  begin_upgrade "ops/cluster.sh upgrade"
  fresh_operator_token
  PREVIOUS_KEPT=1 build
  # The NATS users records and catalog, for the nodes restarted below (a
  # cluster of an earlier version knows only lifelong, which its nodes keep
  # until they restart).
  update_nats_users
  step "upgrading records nodes (followers first, then records-$leader, the leader)"
  for n in "${NODES[@]}"; do
    [ "$n" = "$leader" ] || upgrade_one "records-$n"
  done
  upgrade_one "records-$leader"
  leader=$(wait_leader 60) || die "no records node leads after the upgrade (ops/cluster.sh status; logs in $LOG)"
  say "records-$leader leads"
  step_done "upgrade records"
  step "upgrading catalog-1..3 and recommend-1..2"
  for n in "${NODES[@]}"; do upgrade_one "catalog-$n"; done
  # No node connects as an earlier version's lifelong any more: gone.
  update_nats_users
  for n in "${RECOMMENDERS[@]}"; do upgrade_one "recommend-$n"; done
  step_done "upgrade catalog+recommend"
  if [ "${STACK_SKIP_WEB:-0}" != 1 ]; then
    for n in "${WEBS[@]}"; do
      if [ "$legacy_web" = 1 ] || web_running "$n"; then upgrade_one "web-$n"; fi
    done
  fi
  # An earlier version's single recommender and gateway hold ports that
  # HAProxy's new configuration serves (recommend-1..2 and web-1..2 already
  # answer behind them): both stop together, and HAProxy takes the ports
  # (a gap of about a second, once).
  if pid_of recommend >/dev/null || [ "$legacy_web" = 1 ]; then
    say "replacing the single recommender and gateway by recommend-1..2 and web-1..2 behind HAProxy"
    local stopping
    { stop_one recommend >/dev/null || true; } &
    stopping=$!
    if [ "$legacy_web" = 1 ]; then "$ROOT/ops/web.sh" down >/dev/null; fi
    wait "$stopping"  # (a bare `wait` would wait for every service this script launched)
  fi
  start_haproxy
  if pid_of trainer >/dev/null; then
    stop_one trainer >/dev/null || true
    start_trainer
  fi
  # The token refresher, on the new ops/stack.sh (it mints with the new $BIN/mint_token anyway).
  if pid_of token-refresher >/dev/null; then
    stop_one token-refresher >/dev/null || true
    start_token_refresher
  fi
  wait_serving 60s records catalog recommend
  say "upgraded; every service runs the binaries in $BIN"
  if [ "${#TIMINGS[@]}" -gt 0 ]; then
    echo "  timings:"
    printf '    %s\n' "${TIMINGS[@]}"
  fi
  finish_upgrade replication.md
}

# Sourced (by a drill script): settings and functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

# Sourced (a test of the functions above): nothing runs.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

# Every command refuses a LIFELONG_VAR another local account could change
# (ops/stack.sh check_var: $VAR, its bin, auth, tls and cluster directories);
# up creates a missing one, mode 700.
case "${1:-}" in
  up) check_var create ;;
  down | status | kill | restart | upgrade)
    if [ ! -e "$VAR" ] && [ ! -L "$VAR" ]; then
      case "$1" in
        down | status) var_missing && exit 0 ;;
        *) die "no cluster in $VAR (it does not exist; ops/cluster.sh up starts one)" ;;
      esac
    fi
    check_var
    ;;
esac
case "${1:-}" in
  up) cluster_up ;;
  down) cluster_down ;;
  status) cluster_status ;;
  kill) cluster_kill "${2:-}" ;;
  restart) cluster_restart "${2:-}" ;;
  upgrade) cluster_upgrade ;;
  *)
    echo "usage: ops/cluster.sh up|down|status|kill NODE|restart NODE|upgrade   (NODE: records-1..3, catalog-1..3," \
      "recommend-1..2, web-1..2, nats-1..3;" \
      "settings: the comment at the top)" >&2
    exit 2
    ;;
esac
