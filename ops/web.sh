#!/usr/bin/env bash
# The web gateway (services/web, docs/web.md): serves the kiosk and the mobile
# web app and bridges the browser to the stack's gRPC services. Called by
# ops/stack.sh (up/down/status); usable on its own against a running stack.
#
#   ops/web.sh up              npm ci (when needed), generate code from proto/, mint kiosk
#                              tokens (auth on), start the gateway (umask 077: its log
#                              $LIFELONG_VAR/log/web.log mode 600, the log directory 700), wait for /healthz
#   ops/web.sh down            SIGTERM the gateway and wait for it to exit
#   ops/web.sh status          pid, URLs, /healthz
#   ops/web.sh urls            the kiosk and app URLs
#   ops/web.sh token LEARNER   (development, auth on) a 12-hour learner token for the app's sign-in
#   ops/web.sh refresh-tokens  mint every kiosk token in $LIFELONG_VAR/auth/kiosks again (30 days);
#                              ops/stack.sh's token refresher runs it every day, and a running
#                              gateway reads each replaced file within 2 s
#
# Environment (defaults in brackets), shared with ops/stack.sh:
#   LIFELONG_WEB_PORT [8090]   LIFELONG_HOST [127.0.0.1]   LIFELONG_VAR [<repo>/var]
#   LIFELONG_RECORDS_PORT [7001]  LIFELONG_CATALOG_PORT [7002]  LIFELONG_RECOMMEND_PORT [7003]
#   WEB_KIOSK_VENUES  venues that get a kiosk token [the 17 street community schools, <jiedao>-sqxx]
#   WEB_KIOSK_CLIENTS the kiosks' addresses, each bound to its venue (--kiosk_clients):
#                     venue=address[/prefix],... e.g. dongsi-sqxx=10.20.3.0/28 [none]; a kiosk
#                     acts only for the venues its address is bound to
#   WEB_KIOSK_LOOPBACK [1]  development and demo opt-in: this machine's loopback (127.0.0.1, ::1)
#                     is also the kiosk of every venue in WEB_KIOSK_VENUES (the demo's kiosks are
#                     browsers on this machine; with ops/cluster.sh they reach the gateways through
#                     HAProxy, whose PROXY header names 127.0.0.1); 0 in production
#   WEB_KIOSK_HOSTS names kiosks call the gateway by [localhost,127.0.0.1,::1,$LIFELONG_HOST]
#   WEB_FLAGS         extra gateway flags (services/web/gateway/main.js)
#   WEB_HTTPS [1]     with the stack's TLS on (STACK_TLS=1): serve the browser over HTTPS with
#                     the development CA's web certificate ($LIFELONG_VAR/tls/web.pem, ops/dev-ca.sh);
#                     0 keeps plain HTTP to the browser (TLS to the services stays on)
#   STACK_SKIP_WEB=1  (read by ops/stack.sh) do not start the gateway
#   WEB_NAME [web]    the gateway's name: its pid file $LIFELONG_VAR/run/NAME.pid and log NAME.log
#                     (ops/cluster.sh runs web-1 and web-2)
#   WEB_LISTEN_PORT [LIFELONG_WEB_PORT]  the port this gateway binds, when a balancer owns
#                     LIFELONG_WEB_PORT (ops/cluster.sh: HAProxy)
#   WEB_PROXY_FROM    the balancer's address: the gateway then takes only its connections, each
#                     with a PROXY v1 header naming the browser (--proxy_protocol_from)
#   LIFELONG_STACK_RUN  the run directory of the stack the gateway fronts, whose tls.on and
#                     auth.on markers say whether it runs with TLS and authentication
#                     (ops/stack.sh and ops/cluster.sh pass theirs) [unset: $LIFELONG_VAR/run,
#                     or $LIFELONG_VAR/cluster/run when only ops/cluster.sh's nodes have pid files]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/services/web"
HOST="${LIFELONG_HOST:-127.0.0.1}"
PORT="${LIFELONG_WEB_PORT:-8090}"
VAR="${LIFELONG_VAR:-$ROOT/var}"
RUN="$VAR/run"
LOG="$VAR/log"
# The markers of the stack's mode: ops/stack.sh's or ops/cluster.sh's (the
# gateway's own pid file stays in $RUN for both).
MARKERS="${LIFELONG_STACK_RUN:-}"
if [ -z "$MARKERS" ]; then
  MARKERS="$RUN"
  if [ ! -f "$RUN/records.pid" ] && compgen -G "$VAR/cluster/run/records-[0-9]*.pid" >/dev/null; then
    MARKERS="$VAR/cluster/run"
  fi
fi
AUTH_DIR="$VAR/auth"
TLS_DIR="$VAR/tls"
KIOSK_DIR="$AUTH_DIR/kiosks"
DEFAULT_VENUES="donghuamen jingshan jiaodaokou andingmen beixinqiao dongsi chaoyangmen jianguomen dongzhimen
  hepingli qianmen chongwenmenwai donghuashi longtan tiyuguanlu tiantan yongdingmenwai"
if [ -z "${WEB_KIOSK_VENUES:-}" ]; then
  WEB_KIOSK_VENUES=$(for j in $DEFAULT_VENUES; do printf '%s-sqxx ' "$j"; done)
fi

# http, or https when the stack runs with TLS and the web certificate exists (WEB_HTTPS).
scheme() {
  if [ -f "$MARKERS/tls.on" ] && [ "${WEB_HTTPS:-1}" != 0 ] && [ -s "$TLS_DIR/web.pem" ]; then echo https; else echo http; fi
}
# curl's flags for the gateway's own address (the development CA for https).
curl_tls() { [ "$(scheme)" = https ] && echo "--cacert $TLS_DIR/ca.pem"; true; }

NAME="${WEB_NAME:-web}"
LISTEN_PORT="${WEB_LISTEN_PORT:-$PORT}"
say() { printf '%s: %s\n' "$NAME" "$*"; }
die() { printf '%s: error: %s\n' "$NAME" "$*" >&2; exit 1; }

# The gateway's pid, when $RUN/$NAME.pid names a live gateway.
pid_of_web() {
  local f="$RUN/$NAME.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "gateway/main.js" || return 1
  echo "$pid"
}

# --kiosk_clients: WEB_KIOSK_CLIENTS, and with WEB_KIOSK_LOOPBACK=1 the loopback
# bound to each venue of WEB_KIOSK_VENUES. Dies on an entry without a venue (the
# flat list of addresses this variable once held let any of them act as the
# kiosk of every venue).
kiosk_clients() {
  local out="" v e
  for e in ${WEB_KIOSK_CLIENTS:+${WEB_KIOSK_CLIENTS//,/ }}; do
    [[ "$e" == ?*=?* ]] || die "WEB_KIOSK_CLIENTS: \"$e\" names no venue: use venue=address[/prefix],... (each kiosk bound to its venue)"
    out="$out${out:+,}$e"
  done
  if [ "${WEB_KIOSK_LOOPBACK:-1}" = 1 ]; then
    for v in $WEB_KIOSK_VENUES; do out="$out${out:+,}$v=127.0.0.1,$v=::1"; done
  fi
  echo "$out"
}

# The first configured venue that has a kiosk token, else any venue with a
# token (a gateway started with other WEB_KIOSK_VENUES), else the first configured.
first_venue() {
  local v f
  for v in $WEB_KIOSK_VENUES; do
    [ -f "$KIOSK_DIR/$v.token" ] && { echo "$v"; return; }
  done
  for f in "$KIOSK_DIR"/*.token; do
    [ -f "$f" ] && { basename "$f" .token; return; }
  done
  # shellcheck disable=SC2086  # a space-separated list
  set -- $WEB_KIOSK_VENUES
  echo "${1:-}"
}

urls() {
  echo "  kiosk: $(scheme)://$HOST:$PORT/kiosk/?venue=$(first_venue)"
  echo "  app:   $(scheme)://$HOST:$PORT/app/"
  [ "$(scheme)" = http ] || echo "  (HTTPS with the development CA: trust $TLS_DIR/ca.pem in the browser)"
}

# npm ci when node_modules is missing or older than the lockfile; never
# downloads a browser. Then the protobuf code from proto/ (Debian's protoc).
prepare() {
  command -v node >/dev/null || die "node is not installed (apt-get install -y nodejs npm)"
  command -v protoc >/dev/null || die "protoc is not installed (apt-get install -y protobuf-compiler)"
  if [ ! -f "$WEB/node_modules/.package-lock.json" ] || [ "$WEB/package-lock.json" -nt "$WEB/node_modules/.package-lock.json" ]; then
    say "npm ci (services/web/package-lock.json)"
    (cd "$WEB" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
  local stamp="$WEB/gen/.stamp" newer=0 p
  for p in "$ROOT"/proto/lifelong/v1/*.proto; do [ "$p" -nt "$stamp" ] && newer=1; done
  if [ ! -f "$stamp" ] || [ "$newer" = 1 ]; then
    say "generating services/web/gen from proto/ (protoc-gen-es)"
    rm -rf "$WEB/gen.new"
    mkdir -p "$WEB/gen.new"
    (cd "$WEB" && protoc --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es --es_out=gen.new \
      --es_opt=target=js+dts,import_extension=js -I "$ROOT" -I /usr/include "$ROOT"/proto/lifelong/v1/*.proto)
    touch "$WEB/gen.new/.stamp"
    rm -rf "$WEB/gen"
    mv "$WEB/gen.new" "$WEB/gen"
  fi
}

# mint_kiosk_token VENUE: $KIOSK_DIR/VENUE.token, the kiosk token of VENUE
# (role kiosk, subject kiosk-VENUE, 30 days): written mode 600 from its
# creation and renamed into place, so a running gateway reads the old token
# or the new one, never part of one. A failed mint leaves the file as it was
# (status 1).
mint_kiosk_token() {
  local v="$1" f="$KIOSK_DIR/$1.token"
  if (umask 077 && "$VAR/bin/mint_token" --key_file="$AUTH_DIR/jwt.key" --role=kiosk --subject="kiosk-$v" \
    --venue="$v" --ttl=720h >"$f.new") && [ -s "$f.new" ]; then
    chmod 600 "$f.new" && mv -f "$f.new" "$f"
  else
    rm -f "$f.new"
    echo "$NAME: cannot mint the kiosk token of $v" >&2
    return 1
  fi
}

# with_mint_lock COMMAND...: COMMAND while holding ops/stack.sh's minting
# lock ($AUTH_DIR/.mint.lock), so that this script and the stack's token
# refresher never write the same token file at once.
with_mint_lock() {
  (
    flock 9
    "$@"
  ) 9>>"$AUTH_DIR/.mint.lock"
}

# One kiosk token per venue (role kiosk, subject kiosk-<venue>), when the
# stack runs with authentication (services without it ignore tokens). The gateway holds only these (docs/security.md).
kiosk_tokens() {
  # The stack's marker, or (should the marker move) the stack's signing key.
  [ -f "$MARKERS/auth.on" ] || [ -s "$AUTH_DIR/jwt.key" ] || return 0
  [ -x "$VAR/bin/mint_token" ] || die "$VAR/bin/mint_token missing (run ops/stack.sh up first)"
  mkdir -p "$KIOSK_DIR"
  chmod 700 "$KIOSK_DIR"
  local v
  for v in $WEB_KIOSK_VENUES; do
    with_mint_lock mint_kiosk_token "$v" || die "cannot mint the kiosk token of $v"
  done
}

# refresh_tokens: every kiosk token in $KIOSK_DIR minted again (the venues of
# the running gateways: the files are theirs), each valid 30 days. Status 1
# when one could not be (its file keeps its token).
refresh_tokens() {
  [ -d "$KIOSK_DIR" ] || return 0
  [ -x "$VAR/bin/mint_token" ] || die "$VAR/bin/mint_token missing (run ops/stack.sh up first)"
  local f v n=0 rc=0
  for f in "$KIOSK_DIR"/*.token; do
    [ -f "$f" ] || continue
    v=$(basename "$f" .token)
    [[ "$v" =~ ^[a-z0-9_-]{1,64}$ ]] || continue
    if with_mint_lock mint_kiosk_token "$v"; then n=$((n + 1)); else rc=1; fi
  done
  say "minted $n kiosk token(s) in $KIOSK_DIR again"
  return "$rc"
}

# private_log_dir: $LOG mode 700, and no log in it readable by other accounts
# (the gateway's log names client addresses, venues and upstream errors; an
# earlier version left web.log mode 644). The stack's services log there too.
private_log_dir() {
  # shellcheck disable=SC2174  # -m for LOG itself; $VAR exists
  mkdir -p -m 700 "$LOG"
  chmod 700 "$LOG"
  find "$LOG" -maxdepth 1 -type f -perm /077 -exec chmod go= {} + 2>/dev/null || true
}

# launch LOG COMMAND...: as ops/stack.sh's: COMMAND in the background in a
# session of its own, output appended to LOG, with umask 077 (a new LOG and
# every file COMMAND creates are this account's only). $! is its pid.
launch() {
  local log="$1" mask
  shift
  mask=$(umask)
  umask 077
  nohup setsid "$@" >>"$log" 2>&1 </dev/null &
  umask "$mask"
}

# GET /healthz of this gateway (through its own port; behind a balancer with
# the PROXY header the balancer would send).
health_curl() {
  local proxy=()
  [ -z "${WEB_PROXY_FROM:-}" ] || proxy=(--haproxy-protocol)
  # shellcheck disable=SC2046
  curl -sS --max-time 2 ${proxy[@]+"${proxy[@]}"} $(curl_tls) "$@" "$(scheme)://$HOST:$LISTEN_PORT/healthz"
}
healthy() { health_curl -f >/dev/null 2>&1; }

up() {
  local pid
  if pid=$(pid_of_web); then
    say "gateway already running (pid $pid, $HOST:$LISTEN_PORT)"
    urls
    return
  fi
  if (exec 3<>"/dev/tcp/$HOST/$LISTEN_PORT") 2>/dev/null; then
    die "port $LISTEN_PORT is taken by another process; stop it or set LIFELONG_WEB_PORT"
  fi
  prepare
  mkdir -p "$RUN"
  private_log_dir
  local clients
  clients=$(kiosk_clients)
  rm -rf "$KIOSK_DIR"
  kiosk_tokens
  local flags=(--host="$HOST" --port="$LISTEN_PORT"
    --records="$HOST:${LIFELONG_RECORDS_PORT:-7001}" --catalog="$HOST:${LIFELONG_CATALOG_PORT:-7002}"
    --recommend="$HOST:${LIFELONG_RECOMMEND_PORT:-7003}"
    --kiosk_clients="$clients"
    --kiosk_hosts="${WEB_KIOSK_HOSTS:-localhost,127.0.0.1,::1,$HOST}")
  if [ "${WEB_KIOSK_LOOPBACK:-1}" = 1 ]; then
    say "kiosks: this machine's loopback acts as the kiosk of each of $(wc -w <<<"$WEB_KIOSK_VENUES") venues (WEB_KIOSK_LOOPBACK=1, development; 0 in production)"
  fi
  [ -d "$KIOSK_DIR" ] && flags+=(--kiosk_token_dir="$KIOSK_DIR")
  [ -z "${WEB_PROXY_FROM:-}" ] || flags+=(--proxy_protocol_from="$WEB_PROXY_FROM")
  if [ -f "$MARKERS/tls.on" ]; then
    flags+=(--tls_ca="$TLS_DIR/ca.pem" --tls_cert="$TLS_DIR/client.pem" --tls_key="$TLS_DIR/client.key")
    if [ "$(scheme)" = https ]; then
      flags+=(--https_cert="$TLS_DIR/web.pem" --https_key="$TLS_DIR/web.key")
    fi
  fi
  # shellcheck disable=SC2086
  launch "$LOG/$NAME.log" node "$WEB/gateway/main.js" "${flags[@]}" ${WEB_FLAGS:-}
  echo $! >"$RUN/$NAME.pid"
  say "started gateway (pid $!, $HOST:$LISTEN_PORT, log $LOG/$NAME.log)"
  local _
  for _ in $(seq 1 100); do
    healthy && break
    if ! pid_of_web >/dev/null; then
      tail -n 20 "$LOG/$NAME.log" >&2 || true
      die "the gateway exited; see $LOG/$NAME.log"
    fi
    sleep 0.2
  done
  # shellcheck disable=SC2046
  healthy || die "the gateway is not healthy after 20s: $(health_curl 2>&1)"
  urls
}

down() {
  local pid waited=0
  if ! pid=$(pid_of_web); then
    rm -f "$RUN/$NAME.pid"
    say "gateway was not running"
    return
  fi
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    waited=$((waited + 1))
    [ "$waited" -lt 100 ] || die "gateway (pid $pid) did not exit within 20s of SIGTERM"
  done
  rm -f "$RUN/$NAME.pid"
  say "gateway stopped"
}

status() {
  local pid
  if pid=$(pid_of_web); then
    printf '%-10s pid %-8s %s\n' "$NAME" "$pid" "$HOST:$LISTEN_PORT"
    urls
    printf '  health: %s\n' "$(health_curl 2>&1 || true)"
  else
    printf '%-10s not running (no live pid file in %s)\n' "$NAME" "$RUN"
  fi
}

token() {
  local learner="${1:-}"
  [[ "$learner" =~ ^[A-Za-z0-9._:@|/-]{1,128}$ ]] || die "usage: ops/web.sh token LEARNER (e.g. u000042)"
  [ -x "$VAR/bin/mint_token" ] || die "$VAR/bin/mint_token missing (run ops/stack.sh up first)"
  local key="$AUTH_DIR/jwt.key"
  if [ ! -s "$key" ]; then
    # A stack without authentication ignores tokens; the app still needs one
    # to know who signs in, so sign it with a throwaway development key.
    key="$VAR/web/dev-unchecked.key"
    mkdir -p "$VAR/web"
    [ -s "$key" ] || { head -c 48 /dev/urandom | base64 -w0 >"$key"; chmod 600 "$key"; }
    echo "web: the stack runs without authentication: this token is not checked by the services" >&2
  fi
  "$VAR/bin/mint_token" --key_file="$key" --role=learner --subject="$learner" --ttl=12h
}

# The stack's check of $VAR (ops/stack.sh check_var) before the commands that
# run $VAR/bin/mint_token or read the keys there, or start the gateway: refused
# when another local account could change it; `up` creates a missing one,
# mode 700. (token and refresh-tokens need a stack's $VAR: looked for before
# the check, so that none can appear between the check and its use. status,
# down and urls run nothing from $VAR.)
case "${1:-}" in
  token) [ -d "$VAR" ] || die "no stack in $VAR (run ops/stack.sh up first)" ;;
  refresh-tokens) [ -d "$VAR" ] || exit 0 ;;
esac
case "${1:-}" in
  up | token | refresh-tokens)
    check=()
    [ "$1" = up ] && check=(create)
    LIFELONG_VAR="$VAR" "$ROOT/ops/stack.sh" check-var ${check[@]+"${check[@]}"} || exit 1
    ;;
esac
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  urls) urls ;;
  token) token "${2:-}" ;;
  refresh-tokens) refresh_tokens ;;
  *)
    echo "usage: ops/web.sh up|down|status|urls|token LEARNER|refresh-tokens   (see the comment at the top)" >&2
    exit 2
    ;;
esac
