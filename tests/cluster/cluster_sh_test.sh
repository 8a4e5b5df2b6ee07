#!/usr/bin/env bash
# ops/cluster.sh end to end, in its hardest mode (authentication and TLS on):
# up (NATS with a password, three nodes, HAProxy checking /leader over mutual
# TLS, three catalog nodes, a small demo district, a first model, two
# recommenders), status, a write through the client address, a catalog node
# and a recommender killed and restarted while their address keeps
# answering, upgrade under a writer (each record and catalog node backed up
# before its restart, the binaries from before kept in var/bin/previous),
# kill of the leader, a write through the same address once
# another node leads, restart of the killed node, down. Ports from a free block, files
# under TEST_TMPDIR, the binaries from this test's runfiles. Along the way:
# secrets are never readable by other accounts, not even for a moment
# (chmod is shadowed to see each file's mode before it is set), data and
# backup directories are private, and pid files naming a recycled pid or
# another node's process are not taken for the service. The token refresher
# runs from up to down. NATS: each service connects as a user of its own
# (records, catalog), and NATS refuses either user the other's log
# (tests/cluster/nats_probe.py tries: forging, purging, reading, the lease);
# no service is refused anything it needs all along; a catalog node of an
# earlier version, connected as the single user lifelong, keeps working
# until the upgrade restarts it, and the user is then removed.
set -euo pipefail
umask 022  # a usual login's: the scripts must make their files private themselves

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
export LIFELONG_VAR="$TEST_TMPDIR/var"
rm -rf "$LIFELONG_VAR"
mkdir -p "$LIFELONG_VAR/bin"
for b in services/records/records_server services/catalog/catalog_server services/recommend/recommend_server \
  services/auth/mint_token ops/records_digest models/train services/demo/demo_loader; do
  install -m 0755 "$RUNFILES/$b" "$LIFELONG_VAR/bin/$(basename "$b")"
done
install -m 0755 "$RUNFILES/services/cli/lifelong" "$LIFELONG_VAR/bin/lifelong.bin"

# A block of free ports: BASE+0..BASE+99 (cluster.sh's ports are offsets in it;
# NATS routes and monitoring at +2000 and +4000). Below the kernel's ephemeral
# range: a port there can be taken at any moment by some process's outgoing
# connection (a node restarted after SIGKILL then cannot bind its port again).
BASE=$(python3 - <<'PY'
import random, socket
low = 32768
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    pass
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
top = max(10100, low - 4200)
for _ in range(200):
    b = random.randrange(10000, top, 100)
    if all(free(b + i) for i in list(range(100)) + [2041, 2042, 2043, 4041, 4042, 4043]):
        print(b); break
PY
)
[ -n "$BASE" ] || { echo "no free port block" >&2; exit 1; }
export LIFELONG_RECORDS_PORT=$((BASE + 1)) LIFELONG_CATALOG_PORT=$((BASE + 2)) LIFELONG_RECOMMEND_PORT=$((BASE + 3))
export RECORDS_FLAGS="--xapi_port=$((BASE + 4)) --metrics_port=$((BASE + 5)) --block_cache_mb=64 --warm_cache=false"
export CATALOG_FLAGS="--metrics_port=$((BASE + 6))" RECOMMEND_FLAGS="--metrics_port=$((BASE + 7))"
export CLUSTER_NODE_PORT_BASE=$((BASE + 10)) CLUSTER_XAPI_PORT_BASE=$((BASE + 20))
export CLUSTER_METRICS_PORT_BASE=$((BASE + 30)) CLUSTER_NATS_PORT_BASE=$((BASE + 40))
export CLUSTER_HAPROXY_STATS_PORT=$((BASE + 8)) LIFELONG_WEB_PORT=$((BASE + 9))
export CLUSTER_CATALOG_PORT_BASE=$((BASE + 50)) CLUSTER_CATALOG_METRICS_PORT_BASE=$((BASE + 60))
export CLUSTER_RECOMMEND_PORT_BASE=$((BASE + 70)) CLUSTER_RECOMMEND_METRICS_PORT_BASE=$((BASE + 80))
# cluster.sh's NATS ports: clients BASE+41.., routes +2000, monitoring +4000.
export STACK_SKIP_BUILD=1 STACK_SKIP_WEB=1 STACK_TLS=1 STACK_AUTH=1
# A small demo district (loaded through the leader and a catalog node) and a
# first model from it, so that the recommenders become ready.
export DEMO_LEARNERS=300 DEMO_COURSES=60 DEMO_PARALLEL=2 STACK_TRAIN_FLAGS="--tune=false"
CLUSTER="$RUNFILES/ops/cluster.sh"
[ -x /usr/sbin/nats-server ] && export NATS_SERVER=/usr/sbin/nats-server
[ -x /usr/sbin/haproxy ] && export HAPROXY=/usr/sbin/haproxy
export PATH="$PATH:/usr/sbin:/sbin"

fail() { echo "FAIL: $*" >&2; for f in "$LIFELONG_VAR"/cluster/log/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done; exit 1; }
cleanup() { "$CLUSTER" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# ops/stack.sh's helpers, sourced as ops/cluster.sh does.
LIFELONG_VAR="$TEST_TMPDIR/helpers" bash -euo pipefail -s "$RUNFILES" <<'HELPERS' || exit 1
# shellcheck source=/dev/null
source "$1/ops/stack.sh"
mkdir -p "$VAR/records/sub" "$RUN"
touch "$VAR/records/000001.sst" "$VAR/records/sub/x"
chmod 755 "$VAR/records" "$VAR/records/sub"
chmod 644 "$VAR/records/000001.sst" "$VAR/records/sub/x"
private_dir "$VAR/records" "$VAR/records-backups"
[ "$(stat -c %a "$VAR/records")" = 700 ] && [ "$(stat -c %a "$VAR/records-backups")" = 700 ] ||
  { echo "FAIL: private_dir: not mode 700" >&2; exit 1; }
[ -z "$(find "$VAR/records" -perm /077)" ] || { echo "FAIL: private_dir left: $(find "$VAR/records" -perm /077)" >&2; exit 1; }
umask 022
private_file "$VAR/secret" echo s3cret
[ "$(stat -c %a "$VAR/secret")" = 600 ] && [ "$(cat "$VAR/secret")" = s3cret ] || { echo "FAIL: private_file" >&2; exit 1; }
# A pid file naming a live process that is not the service (a recycled pid).
echo $$ >"$RUN/records.pid"
if pid_of records >/dev/null; then echo "FAIL: pid_of took a recycled pid for records" >&2; exit 1; fi
echo "helpers: ok"
HELPERS

# chmod, shadowed: logs the mode each *.new file had when chmod was called
# (the moment a file written first and chmod-ed after was readable by all),
# and the mode asked for: "BEFORE ASKED PATH".
mkdir -p "$TEST_TMPDIR/shim"
REAL_CHMOD=$(command -v chmod)
cat >"$TEST_TMPDIR/shim/chmod" <<EOF
#!/bin/sh
for a in "\$@"; do
  case "\$a" in *.new) [ -e "\$a" ] && echo "\$(stat -c %a "\$a") \$1 \$a" >>"$TEST_TMPDIR/chmod.log" ;; esac
done
exec $REAL_CHMOD "\$@"
EOF
"$REAL_CHMOD" 755 "$TEST_TMPDIR/shim/chmod"
export PATH="$TEST_TMPDIR/shim:$PATH"
: >"$TEST_TMPDIR/chmod.log"

# A single-node stack pid file naming a live process that is not its
# records_server (a pid recycled after a reboot): up must not refuse.
mkdir -p "$LIFELONG_VAR/run"
echo $$ >"$LIFELONG_VAR/run/records.pid"

"$CLUSTER" up >"$TEST_TMPDIR/up.out" 2>&1 || { cat "$TEST_TMPDIR/up.out"; fail "up"; }
cat "$TEST_TMPDIR/up.out"
rm -f "$LIFELONG_VAR/run/records.pid"

# Secrets: mode 600 from their creation (the shadowed chmod saw every one).
cat "$TEST_TMPDIR/chmod.log"
for f in nats-1.conf.new nats-2.conf.new nats-3.conf.new haproxy-client.pem.new nats.password.new \
  nats-records.password.new nats-catalog.password.new nats-records.credentials.new nats-catalog.credentials.new \
  stack.env.new operator.token.new; do
  grep -q "/$f\$" "$TEST_TMPDIR/chmod.log" || fail "$f was not written (or not through chmod)"
done
# (The CLI wrapper, chmod 755, is no secret.)
if awk '$2 ~ /^[67]00$/ && $1 !~ /^[67]00$/' "$TEST_TMPDIR/chmod.log" | grep .; then
  fail "files readable by other accounts before their chmod to 600 (above)"
fi
for f in "$LIFELONG_VAR"/cluster/nats-{1,2,3}.conf "$LIFELONG_VAR/cluster/haproxy-client.pem"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is mode $(stat -c %a "$f"), not 600"
done

leader_of() {  # the node that the status calls leader
  local out
  out=$("$CLUSTER" status 2>/dev/null || true)
  awk '$1 ~ /^records-/ && $4 == "leader" {print $1}' <<<"$out" | head -n 1
}
LEADER=$(leader_of)
[ -n "$LEADER" ] || fail "no leader in status"
echo "leader: $LEADER"
STATUS=$("$CLUSTER" status 2>&1 || true)
grep -q "gRPC 127.0.0.1:$LIFELONG_RECORDS_PORT -> $LEADER" <<<"$STATUS" || fail "HAProxy does not route to $LEADER"
grep -Eq "^  records-[123] +[0-9]+ +127.0.0.1:[0-9]+ +follower +[0-9]+ +[0-9]+ +[0-9]+ " <<<"$STATUS" ||
  fail "no follower line in status: $STATUS"
for u in records catalog; do
  grep -q "{user: $u, password: \"" "$LIFELONG_VAR/cluster/nats-1.conf" || fail "NATS without user $u (auth on)"
done
grep -q "user: lifelong" "$LIFELONG_VAR/cluster/nats-1.conf" && fail "NATS still has the single user lifelong"
# The retraining schedule runs with the trainer's token over TLS, and says so.
grep -Eq "^trainer +pid [0-9]+" <<<"$STATUS" || fail "no running trainer in status: $STATUS"
TRAINER_PID=$(cat "$LIFELONG_VAR/cluster/run/trainer.pid")
TRAINER_CMD=$(tr '\0' ' ' <"/proc/$TRAINER_PID/cmdline")
grep -q -- "train --token_file=$LIFELONG_VAR/auth/trainer.token" <<<"$TRAINER_CMD" || fail "trainer: $TRAINER_CMD"
grep -q -- "--every=24h" <<<"$TRAINER_CMD" || fail "trainer not on the 24 h schedule: $TRAINER_CMD"
grep -q "^train: scheduled: every 24h" "$LIFELONG_VAR/cluster/log/trainer.log" || fail "trainer log: $(cat "$LIFELONG_VAR/cluster/log/trainer.log")"
# The token refresher (ops/stack.sh's) mints the service and kiosk tokens
# again every day, each valid 30 days, so none expires under the processes
# holding it (docs/security.md, "Service tokens").
grep -Eq "^token-refresher pid [0-9]+ +every 24h; recommender.token valid until 2[0-9]{3}-" <<<"$STATUS" ||
  fail "no running token refresher in status: $STATUS"
# No service holds the key that mints staff and learner tokens (jwt.key): each
# verifies with the public keys; the record nodes hold only the kiosk-session
# private key (docs/security.md).
services=0
for f in "$LIFELONG_VAR"/cluster/run/*.pid "$LIFELONG_VAR"/run/*.pid; do
  cmd=$(tr '\0' ' ' <"/proc/$(cat "$f")/cmdline" 2>/dev/null || true)
  case "$cmd" in *records_server* | *catalog_server* | *recommend_server*) ;; *) continue ;; esac
  services=$((services + 1))
  grep -q "auth/jwt.key" <<<"$cmd" && fail "a service was given the token signing key: $cmd"
  grep -q -- "--auth_key_file=$LIFELONG_VAR/auth/jwt-verify.pem" <<<"$cmd" || fail "no public key: $cmd"
  want="kiosk-session.pem"
  case "$cmd" in *records_server*) want="kiosk-session.key" ;; esac
  grep -q -- "--auth_session_key_file=$LIFELONG_VAR/auth/$want" <<<"$cmd" || fail "not given $want: $cmd"
  # Each service its own NATS user.
  want="nats-catalog.credentials"
  case "$cmd" in *records_server*) want="nats-records.credentials" ;; *recommend_server*) continue ;; esac
  grep -q -- "--replication_nats_credentials_file=$LIFELONG_VAR/auth/$want " <<<"$cmd" || fail "not given $want: $cmd"
done
[ "$services" -ge 8 ] || fail "only $services service processes found (3 record nodes, 3 catalog nodes, 2 recommenders)"
grep -q "check-ssl verify required" "$LIFELONG_VAR/cluster/haproxy.cfg" || fail "HAProxy check without TLS"

LIFELONG="$LIFELONG_VAR/bin/lifelong"
# Writes and reads with the loader's token (the operator's may not record).
LOADER=(env LIFELONG_TOKEN_FILE="$LIFELONG_VAR/auth/loader.token" "$LIFELONG")
"$LIFELONG" health records --timeout=5s || fail "records not SERVING through HAProxy"
"${LOADER[@]}" record --learner u0000001 --verb completed --course c1 --id 00000000-0000-4000-8000-000000000001 ||
  fail "write through the client address"

# One client address holds at most 32 connections (CLUSTER_GRPC_CONNECTIONS_PER_ADDRESS)
# on a gRPC port: 80 opened from 127.0.0.2 and held, HAProxy closes the 48
# beyond the cap at once. A write from another address is answered meanwhile;
# once they are closed, 127.0.0.2 connects again.
python3 - "$LIFELONG_RECORDS_PORT" 80 "$TEST_TMPDIR/cap" <<'PY' &
import os, socket, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def closed(s):  # closed by the other end, by now
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
def opened():
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    return s
held = [opened() for _ in range(n)]
time.sleep(1)
with open(out + ".held", "w") as f:
    f.write("%d\n" % sum(1 for s in held if not closed(s)))
while not os.path.exists(out + ".stop"):
    time.sleep(0.1)
for s in held:
    s.close()
time.sleep(1)
again = opened()
time.sleep(1)
with open(out + ".again", "w") as f:
    f.write("closed\n" if closed(again) else "open\n")
PY
CAP_PID=$!
for _ in $(seq 100); do [ -s "$TEST_TMPDIR/cap.held" ] && break; sleep 0.1; done
"${LOADER[@]}" record --learner u0000001 --verb completed --course c3 --id 00000000-0000-4000-8000-000000000003 ||
  fail "write from 127.0.0.1 while 127.0.0.2 holds its 32 connections"
touch "$TEST_TMPDIR/cap.stop"
wait "$CAP_PID" || fail "the connection-cap client failed"
[ "$(cat "$TEST_TMPDIR/cap.held")" = 32 ] ||
  fail "127.0.0.2 holds $(cat "$TEST_TMPDIR/cap.held") of 80 connections to the records port, not 32"
[ "$(cat "$TEST_TMPDIR/cap.again")" = open ] || fail "127.0.0.2 could not connect again after closing its connections"

# Statements, backups and the log: for this account only (directories 700,
# no file group- or world-readable; the nodes back up once at start).
for _ in $(seq 50); do
  [ -n "$(find "$LIFELONG_VAR"/cluster/records-{1,2,3}-backups -type f -name '*.sst' 2>/dev/null)" ] && break
  sleep 0.2
done
[ -n "$(find "$LIFELONG_VAR"/cluster/records-1-backups -type f)" ] || fail "no backup files to check"
for d in "$LIFELONG_VAR/cluster" "$LIFELONG_VAR"/cluster/records-{1,2,3} "$LIFELONG_VAR"/cluster/records-{1,2,3}-backups \
  "$LIFELONG_VAR"/cluster/nats-{1,2,3} "$LIFELONG_VAR"/cluster/catalog-{1,2,3} "$LIFELONG_VAR"/cluster/catalog-{1,2,3}-backups; do
  [ "$(stat -c %a "$d")" = 700 ] || fail "$d is mode $(stat -c %a "$d"), not 700"
done
OPEN=$(find "$LIFELONG_VAR"/cluster/records-* "$LIFELONG_VAR"/cluster/nats-[0-9] "$LIFELONG_VAR"/cluster/catalog-* \
  ! -type l -perm /077)
[ -z "$OPEN" ] || fail "readable by other accounts: $OPEN"

# ops/web.sh follows the cluster's TLS marker (the gateway would otherwise
# start without TLS in front of TLS services).
URLS=$("$RUNFILES/ops/web.sh" urls)
grep -q "https://" <<<"$URLS" || fail "ops/web.sh does not see the cluster's TLS: $URLS"
URLS=$(LIFELONG_STACK_RUN="$LIFELONG_VAR/cluster/run" "$RUNFILES/ops/web.sh" urls)
grep -q "https://" <<<"$URLS" || fail "ops/web.sh with LIFELONG_STACK_RUN: $URLS"

# The NATS passwords (the routes', records', catalog's: three different
# ones) are in no process's arguments (ps shows them to every local user): the
# nodes read theirs from a mode-600 file.
for f in nats nats-records nats-catalog; do
  NATS_PASSWORD=$(cat "$LIFELONG_VAR/auth/$f.password")
  [ -n "$NATS_PASSWORD" ] || fail "no $f.password"
  [ "$(stat -c %a "$LIFELONG_VAR/auth/$f.password")" = 600 ] || fail "$f.password is not mode 600"
  for pid in $(pgrep -f 'records_server|catalog_server|nats-server' || true); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$NATS_PASSWORD"; then
      fail "the password in $f.password is in the arguments of process $pid"
    fi
  done
done
[ "$(sort -u "$LIFELONG_VAR"/auth/nats{,-records,-catalog}.password | wc -l)" = 3 ] || fail "NATS users share a password"
for u in records catalog; do
  [ "$(stat -c %a "$LIFELONG_VAR/auth/nats-$u.credentials")" = 600 ] || fail "nats-$u.credentials is not mode 600"
  [ "$(cut -d: -f1 "$LIFELONG_VAR/auth/nats-$u.credentials")" = "$u" ] || fail "nats-$u.credentials is not user $u's"
done
[ ! -e "$LIFELONG_VAR/auth/nats.credentials" ] || fail "the single user's nats.credentials was written"

# A client without the NATS password cannot reach the log.
if python3 - "$((BASE + 41))" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.recv(4096)  # INFO
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPUB lifelong.records.shared 1\r\nx\r\nPING\r\n')
data = b""
while b"PONG" not in data and b"-ERR" not in data:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
sys.exit(0 if b"PONG" in data and b"-ERR" not in data else 1)
PY
then fail "NATS accepted a client without credentials"; fi

# One NATS user per service (docs/replication.md, "NATS users"). With the
# catalog nodes' credentials, NATS refuses every write to the records log
# (forged statements, the lease, the positions), its purge, erasure or
# deletion, and every read of it; with the records nodes', the same of the
# catalog's log; neither may create a stream (one could take a log's
# subjects), answer another's requests (_INBOX) or read another's replies and
# deliveries (each subscribes to its own inboxes only, _INBOX_USER, the prefix
# the services set: nats_client.h, InboxPrefix). Each still reaches its own
# stream (and the nodes work as these users: everything above and below).
# nats_probe.py prints "ACTION denied" for NATS's Permissions Violation.
expect_nats() {  # expect_nats CREDENTIALS_FILE "ACTION RESULT"...: RESULT the first word after ACTION
  local creds="$1" out want actions=()
  shift
  for want in "$@"; do actions+=("${want% *}"); done
  out=$(python3 "$RUNFILES/tests/cluster/nats_probe.py" "$((BASE + 41))" "$creds" "${actions[@]}") ||
    fail "nats_probe with $creds: $out"
  for want in "$@"; do
    awk '{print $1, $2}' <<<"$out" | grep -qxF -- "$want" || fail "NATS with $creds: wanted '$want'; got: $out"
  done
}
# shellcheck disable=SC2016  # NATS subjects, not expansions
expect_nats "$LIFELONG_VAR/auth/nats-catalog.credentials" \
  'req:$JS.API.STREAM.INFO.LIFELONG_CATALOG answered' \
  'pub:lifelong.records.stmt.nats-probe denied' \
  'pub:$KV.LIFELONG_LEADER.records denied' \
  'pub:$KV.LIFELONG_LOG.nats-probe denied' \
  'pub:$JS.API.STREAM.PURGE.LIFELONG_RECORDS denied' \
  'pub:$JS.API.STREAM.MSG.DELETE.LIFELONG_RECORDS denied' \
  'pub:$JS.API.STREAM.DELETE.LIFELONG_RECORDS denied' \
  'pub:$JS.API.STREAM.UPDATE.LIFELONG_RECORDS denied' \
  'req:$JS.API.STREAM.INFO.LIFELONG_RECORDS denied' \
  'pub:$JS.API.CONSUMER.CREATE.LIFELONG_RECORDS denied' \
  'sub:lifelong.records.> denied' \
  'pub:$JS.API.STREAM.PURGE.LIFELONG_CATALOG denied' \
  'pub:$JS.API.STREAM.CREATE.NATS_PROBE denied' \
  'pub:_INBOX.nats-probe.forged denied' \
  'sub:_INBOX_records.> denied' \
  'sub:_INBOX.> denied'
# shellcheck disable=SC2016
expect_nats "$LIFELONG_VAR/auth/nats-records.credentials" \
  'req:$JS.API.STREAM.INFO.LIFELONG_RECORDS answered' \
  'req:$JS.API.STREAM.INFO.KV_LIFELONG_LEADER answered' \
  'pub:lifelong.catalog.course.nats-probe denied' \
  'pub:$JS.API.STREAM.PURGE.LIFELONG_CATALOG denied' \
  'pub:$JS.API.STREAM.DELETE.LIFELONG_CATALOG denied' \
  'req:$JS.API.STREAM.INFO.LIFELONG_CATALOG denied' \
  'pub:$JS.API.CONSUMER.CREATE.LIFELONG_CATALOG denied' \
  'sub:lifelong.catalog.> denied' \
  'pub:$JS.API.STREAM.CREATE.NATS_PROBE denied' \
  'pub:_INBOX.nats-probe.forged denied' \
  'sub:_INBOX_catalog.> denied' \
  'sub:_INBOX.> denied'
# The routes' password is no client's (the single user lifelong is gone).
printf 'lifelong:%s\n' "$(cat "$LIFELONG_VAR/auth/nats.password")" >"$TEST_TMPDIR/lifelong.credentials"
OUT=$(python3 "$RUNFILES/tests/cluster/nats_probe.py" "$((BASE + 41))" "$TEST_TMPDIR/lifelong.credentials") &&
  fail "NATS took the routes' password from a client: $OUT"
[ "$OUT" = refused ] || fail "NATS with the routes' password: $OUT"

# The catalog: three nodes, any takes writes; HAProxy sends the catalog
# address to the ready ones. A course written there is on every node; with
# catalog-1 killed, writes and reads go on; back, catalog-1 has caught up.
grep -Eq "catalog 127.0.0.1:$LIFELONG_CATALOG_PORT -> catalog-[123] catalog-[123] catalog-[123]," <<<"$STATUS" ||
  fail "HAProxy does not spread the catalog over three ready nodes: $STATUS"
course_json() {  # course_json ID
  printf '{"id":"%s","title":"太极拳入门","category":"健身","provider":{"name":"东四街道市民学校","kind":"RESIDENTS_SCHOOL"},"mode":"OFFLINE","venue":{"id":"v-ds","xuequ":"东四学区"},"state":"OPEN","audiences":["SENIORS"]}\n' "$1"
}
course_json drill-1 | "${LOADER[@]}" courses put - || fail "course write through the catalog address"
"$CLUSTER" kill catalog-1
ok=0
for _ in $(seq 50); do
  if course_json drill-2 | "${LOADER[@]}" courses put - >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
[ "$ok" = 1 ] || fail "no catalog write through the catalog address with catalog-1 killed"
"$LIFELONG" courses get drill-1 >/dev/null || fail "the course written before the kill is not readable"
"$CLUSTER" restart catalog-1 || fail "restart catalog-1"
STATUS=$("$CLUSTER" status 2>&1 || true)
grep -Eq "^  catalog-1 +[0-9]+ +127.0.0.1:[0-9]+ +ready +[0-9]+ +[0-9]+ +0$" <<<"$STATUS" ||
  fail "catalog-1 is not back, ready, with lag 0: $STATUS"
applied=$(grep -E "^  catalog-[123] " <<<"$STATUS" | awk '{print $5}' | sort -u)
[ "$(wc -l <<<"$applied")" = 1 ] || fail "the catalog nodes applied different positions: $STATUS"
# call_loop NAME CMD...: runs CMD again and again in the background until
# end_loop NAME; NAME.calls counts the calls, NAME.failed keeps each failed
# call's error output.
call_loop() {
  local name="$1"
  shift
  : >"$TEST_TMPDIR/$name.failed"
  : >"$TEST_TMPDIR/$name.calls"
  (
    while [ ! -f "$TEST_TMPDIR/$name.stop" ]; do
      "$@" >/dev/null 2>"$TEST_TMPDIR/$name.err" || echo "FAILED: $(cat "$TEST_TMPDIR/$name.err")" >>"$TEST_TMPDIR/$name.failed"
      echo >>"$TEST_TMPDIR/$name.calls"
    done
  ) &
  echo $! >"$TEST_TMPDIR/$name.pid"
}
# end_loop NAME WHAT: stops it; fails unless every call answered and there were at least 5.
end_loop() {
  touch "$TEST_TMPDIR/$1.stop"
  wait "$(cat "$TEST_TMPDIR/$1.pid")"
  echo "$2: $(wc -l <"$TEST_TMPDIR/$1.calls") calls"
  [ ! -s "$TEST_TMPDIR/$1.failed" ] || fail "$2: calls failed: $(cat "$TEST_TMPDIR/$1.failed")"
  [ "$(wc -l <"$TEST_TMPDIR/$1.calls")" -ge 5 ] || fail "$2: too few calls"
}

# A catalog node stopped gracefully (SIGTERM: restart) drains first: reads
# in a loop through the catalog address all answer meanwhile.
call_loop reads "$LIFELONG" courses get drill-1
"$CLUSTER" restart catalog-2 || fail "restart catalog-2"
"$CLUSTER" restart catalog-3 || fail "restart catalog-3"
end_loop reads "catalog reads during two graceful catalog restarts"

# The recommenders: two, both ready (the demo district's model loaded),
# behind the recommendation address. A learner gets recommendations there;
# with recommend-1 killed, every call still answers (once HAProxy has seen
# it go); back, recommend-1 is ready and in the rotation again. Their
# /ready, like /metrics, takes only clients with a certificate.
grep -Eq "recommend 127.0.0.1:$LIFELONG_RECOMMEND_PORT -> recommend-[12] recommend-[12]," <<<"$STATUS" ||
  fail "HAProxy does not spread the recommendation port over two ready recommenders: $STATUS"
grep -Eq "^  recommend-1 +[0-9]+ +127.0.0.1:[0-9]+ +ready$" <<<"$STATUS" || fail "recommend-1 is not ready: $STATUS"
"$LIFELONG_VAR/bin/mint_token" --key_file="$LIFELONG_VAR/auth/jwt.key" --role=learner --subject=u000042 \
  >"$TEST_TMPDIR/u000042.token"
AS_LEARNER=(env LIFELONG_TOKEN_FILE="$TEST_TMPDIR/u000042.token" "$LIFELONG")
RECS=$("${AS_LEARNER[@]}" recommend u000042 -k 5 2>&1) || fail "recommend through the recommendation address: $RECS"
grep -q "c0" <<<"$RECS" || fail "no recommended course in: $RECS"
if OTHER=$("${AS_LEARNER[@]}" recommend u000005 -k 5 2>&1); then
  fail "u000042's token got u000005's recommendations through HAProxy: $OTHER"
fi
grep -q "PERMISSION_DENIED" <<<"$OTHER" || fail "another learner's recommendations: not PERMISSION_DENIED: $OTHER"
if curl -s --max-time 2 --cacert "$LIFELONG_VAR/tls/ca.pem" \
  "https://127.0.0.1:$((BASE + 81))/ready" >/dev/null 2>&1; then
  fail "recommend-1's /ready answered a client without a certificate"
fi
# status_shows ERE: waits up to 10 s for `status` to match ERE.
status_shows() {
  local _
  for _ in $(seq 50); do
    STATUS=$("$CLUSTER" status 2>&1 || true)
    grep -Eq "$1" <<<"$STATUS" && return 0
    sleep 0.2
  done
  return 1
}
"$CLUSTER" kill recommend-1
status_shows "recommend 127.0.0.1:$LIFELONG_RECOMMEND_PORT -> recommend-2," ||
  fail "HAProxy still sends calls to the killed recommend-1: $STATUS"
for i in 1 2 3 4 5 6; do
  RECS=$("${AS_LEARNER[@]}" recommend u000042 -k 5 2>&1) || fail "call $i with recommend-1 killed: $RECS"
done
"$CLUSTER" restart recommend-1 || fail "restart recommend-1"
STATUS=$("$CLUSTER" status 2>&1 || true)
grep -Eq "^  recommend-1 +[0-9]+ +127.0.0.1:[0-9]+ +ready$" <<<"$STATUS" || fail "recommend-1 is not back and ready: $STATUS"
status_shows "recommend 127.0.0.1:$LIFELONG_RECOMMEND_PORT -> recommend-[12] recommend-[12]," ||
  fail "recommend-1 is not back in HAProxy's rotation: $STATUS"
# A recommender stopped gracefully (SIGTERM: restart) drains first: calls in
# a loop through the recommendation address all answer meanwhile.
call_loop recs "${AS_LEARNER[@]}" recommend u000042 -k 5
"$CLUSTER" restart recommend-2 || fail "restart recommend-2"
"$CLUSTER" restart recommend-1 || fail "restart recommend-1 (SIGTERM)"
end_loop recs "Recommend calls during two graceful recommender restarts"

# `up` again on a running cluster whose HAProxy runs an older configuration
# (an earlier version of the script wrote it): HAProxy is restarted with the
# new one, everything else is left running, and every address answers.
# Also, catalog-3 runs as an earlier version's node: connected to NATS as the
# single user lifelong that every records and catalog node shared
# (auth/nats.credentials, with the routes' password). `up` gives NATS that
# user back (reloading the members' configuration) while such a node runs,
# and catalog-3 (which retries its connection) becomes ready again.
LIFELONG_VAR="$LIFELONG_VAR" bash -euo pipefail -s "$RUNFILES" <<'LEGACY' || fail "catalog-3 as an earlier version's node"
# shellcheck source=/dev/null
source "$1/ops/cluster.sh"
resolve_tls
resolve_auth
stop_one catalog-3 >/dev/null
(umask 077 && printf 'lifelong:%s\n' "$(nats_password)" >"$AUTH_DIR/nats.credentials")
nats_credentials_flag() { echo "--replication_nats_credentials_file=$AUTH_DIR/nats.credentials"; }
start_catalog_node 3 >/dev/null
LEGACY
echo "# written by an earlier version" >>"$LIFELONG_VAR/cluster/haproxy.cfg"
HAPROXY_PID=$(cat "$LIFELONG_VAR/cluster/run/haproxy.pid")
"$CLUSTER" up >"$TEST_TMPDIR/up2.out" 2>&1 || { cat "$TEST_TMPDIR/up2.out"; fail "up on a running cluster"; }
grep -q "nats-1: its NATS users changed: configuration reloaded" "$TEST_TMPDIR/up2.out" ||
  fail "NATS not given the single user back: $(cat "$TEST_TMPDIR/up2.out")"
grep -q "NATS: nodes still connected as an earlier version's single user lifelong .*: catalog-3$" "$TEST_TMPDIR/up2.out" ||
  fail "up does not say that catalog-3 connects as lifelong: $(cat "$TEST_TMPDIR/up2.out")"
# shellcheck disable=SC2016
expect_nats "$TEST_TMPDIR/lifelong.credentials" 'req:$JS.API.STREAM.INFO.LIFELONG_CATALOG answered'
grep -q "configuration changed: reloading haproxy" "$TEST_TMPDIR/up2.out" || fail "HAProxy not reloaded: $(cat "$TEST_TMPDIR/up2.out")"
[ "$(cat "$LIFELONG_VAR/cluster/run/haproxy.pid")" != "$HAPROXY_PID" ] || fail "the old HAProxy still runs"
grep -q "written by an earlier version" "$LIFELONG_VAR/cluster/haproxy.cfg" && fail "the old configuration is still in place"
for _ in $(seq 50); do kill -0 "$HAPROXY_PID" 2>/dev/null || break; sleep 0.2; done
# The old HAProxy lets go of its sessions within hard-stop-after (30 s); the CLI's are short.
kill -0 "$HAPROXY_PID" 2>/dev/null && echo "(the old HAProxy still finishes sessions)"
grep -q "recommend-2 already running" "$TEST_TMPDIR/up2.out" || fail "up restarted the recommenders: $(cat "$TEST_TMPDIR/up2.out")"
"$LIFELONG" health records catalog recommend --wait=20s || fail "not every service SERVING through the new HAProxy"

# upgrade: every service restarted on the binaries in $BIN, one node at a
# time, while a writer keeps recording through the client address. Every
# process is new afterwards, every write acknowledged meanwhile is readable,
# and the three record stores are equal. The way back is kept: the binaries
# that ran before, and a backup each record and catalog node took of its
# store before its restart.
before=""
for s in records-1 records-2 records-3 catalog-1 catalog-2 catalog-3 recommend-1 recommend-2; do
  before="$before $s=$(cat "$LIFELONG_VAR/cluster/run/$s.pid")"
done
: >"$TEST_TMPDIR/acked"
(
  i=0
  while [ ! -f "$TEST_TMPDIR/writer.stop" ]; do
    i=$((i + 1))
    if "${LOADER[@]}" record --learner u0000009 --verb completed --course "up$i" \
      --id "$(printf '00000000-0000-4000-8000-%012d' "$((100000 + i))")" >/dev/null 2>&1; then
      echo "up$i" >>"$TEST_TMPDIR/acked"
    fi
  done
) &
WRITER=$!
# The upgrade builds (a stand-in for bazel whose bazel-bin holds this test's
# binaries, the record server changed: bytes after its ELF image), so build()
# replaces var/bin as after a git pull.
FAKE_BAZEL_BIN="$TEST_TMPDIR/bazel-bin"
mkdir -p "$FAKE_BAZEL_BIN"
for b in services/records/records_server services/catalog/catalog_server services/recommend/recommend_server \
  services/auth/mint_token ops/records_digest models/train services/demo/demo_loader services/cli/lifelong; do
  mkdir -p "$FAKE_BAZEL_BIN/$(dirname "$b")"
  cp "$RUNFILES/$b" "$FAKE_BAZEL_BIN/$b"
done
echo "new build" >>"$FAKE_BAZEL_BIN/services/records/records_server"
# shellcheck disable=SC2016  # $1: the stand-in's own argument
printf '#!/bin/sh\n[ "$1" = info ] && echo "%s"\nexit 0\n' "$FAKE_BAZEL_BIN" >"$TEST_TMPDIR/bazel"
"$REAL_CHMOD" 755 "$TEST_TMPDIR/bazel"
STACK_SKIP_BUILD=0 BAZEL="$TEST_TMPDIR/bazel" "$CLUSTER" upgrade >"$TEST_TMPDIR/upgrade.out" 2>&1 ||
  { cat "$TEST_TMPDIR/upgrade.out"; fail "upgrade"; }
touch "$TEST_TMPDIR/writer.stop"
wait "$WRITER"
cat "$TEST_TMPDIR/upgrade.out"
for kv in $before; do
  s="${kv%%=*}"
  [ "$(cat "$LIFELONG_VAR/cluster/run/$s.pid")" != "${kv#*=}" ] || fail "upgrade did not restart $s"
done
# catalog-3 restarted as user catalog: the single user lifelong and its
# credentials file are gone.
grep -q "NATS: migrated from the single user lifelong to one user per service" "$TEST_TMPDIR/upgrade.out" ||
  fail "upgrade does not say that the single NATS user is gone"
[ ! -e "$LIFELONG_VAR/auth/nats.credentials" ] || fail "nats.credentials left after the upgrade"
grep -q "user: lifelong" "$LIFELONG_VAR"/cluster/nats-{1,2,3}.conf && fail "NATS still has the single user lifelong"
OUT=$(python3 "$RUNFILES/tests/cluster/nats_probe.py" "$((BASE + 41))" "$TEST_TMPDIR/lifelong.credentials") &&
  fail "NATS still takes the single user lifelong after the upgrade: $OUT"
[ "$OUT" = refused ] || fail "NATS with the single user lifelong after the upgrade: $OUT"
grep -q -- "--replication_nats_credentials_file=$LIFELONG_VAR/auth/nats-catalog.credentials " \
  <<<"$(tr '\0' ' ' <"/proc/$(cat "$LIFELONG_VAR/cluster/run/catalog-3.pid")/cmdline")" ||
  fail "catalog-3 not restarted as user catalog"
# The way back (docs/replication.md, "Rolling back an upgrade"): the binaries
# that ran before kept in var/bin/previous; each record node backed up its
# store itself before it stopped (its log: that backup, then the stop, then
# the start on the new binary), and each catalog node its own.
PREVIOUS="$LIFELONG_VAR/bin/previous"
for b in services/records/records_server services/catalog/catalog_server services/recommend/recommend_server \
  services/auth/mint_token ops/records_digest models/train services/demo/demo_loader; do
  cmp -s "$PREVIOUS/$(basename "$b")" "$RUNFILES/$b" || fail "$PREVIOUS/$(basename "$b") is not the binary from before the upgrade"
done
cmp -s "$PREVIOUS/lifelong.bin" "$RUNFILES/services/cli/lifelong" || fail "$PREVIOUS/lifelong.bin is not the CLI from before"
[ ! -e "$PREVIOUS/UPGRADE-UNFINISHED" ] || fail "the upgrade is still marked unfinished"
grep -q "rolling back: the binaries from before the upgrade are in $PREVIOUS" "$TEST_TMPDIR/upgrade.out" ||
  fail "upgrade does not say how to roll back"
for n in 1 2 3; do
  NODE_PID=$(cat "$LIFELONG_VAR/cluster/run/records-$n.pid")
  cmp -s "/proc/$NODE_PID/exe" "$FAKE_BAZEL_BIN/services/records/records_server" || fail "records-$n does not run the new binary"
  id=$(awk -v p="records-$n: backup " -v d="in $LIFELONG_VAR/cluster/records-$n-backups " \
    'index($0, p) == 1 && index($0, d) {print $3}' "$PREVIOUS/BACKUPS")
  [ -n "$id" ] || fail "no backup of records-$n noted: $(cat "$PREVIOUS/BACKUPS")"
  grep -q "records-$n: backup $id of its store taken before its restart" "$TEST_TMPDIR/upgrade.out" ||
    fail "upgrade does not say records-$n's backup"
  nlog="$LIFELONG_VAR/cluster/log/records-$n.log"
  b=$(grep -n "\"backup_id\":$id,\"event\":\"backup_created\".*\"trigger\":\"rpc\"" "$nlog" | tail -n 1 | cut -d: -f1)
  stop=$(grep -n '"event":"shutting_down"' "$nlog" | tail -n 1 | cut -d: -f1)
  serve=$(grep -n '"event":"serving"' "$nlog" | tail -n 1 | cut -d: -f1)
  if [ -z "$b" ] || [ -z "$stop" ] || [ "$b" -gt "$stop" ] || [ "$stop" -gt "$serve" ]; then
    fail "records-$n: backup $id not taken by the node before its restart (log lines: backup ${b:-none}, stop ${stop:-none}, start $serve)"
  fi
  grep -q "^catalog-$n: backup [0-9]* in $LIFELONG_VAR/cluster/catalog-$n-backups " "$PREVIOUS/BACKUPS" ||
    fail "no backup of catalog-$n noted: $(cat "$PREVIOUS/BACKUPS")"
done
ACKED=$(wc -l <"$TEST_TMPDIR/acked")
echo "writes acknowledged during the upgrade: $ACKED"
[ "$ACKED" -ge 5 ] || fail "only $ACKED writes acknowledged during the upgrade"
"$LIFELONG_VAR/bin/mint_token" --key_file="$LIFELONG_VAR/auth/jwt.key" --role=learner --subject=u0000009 \
  >"$TEST_TMPDIR/u0000009.token"
LIFELONG_TOKEN_FILE="$TEST_TMPDIR/u0000009.token" "$LIFELONG" history u0000009 --limit=1000 --json \
  >"$TEST_TMPDIR/history.json" || fail "history of u0000009 after the upgrade"
while read -r course; do
  grep -q "\"$course\"\|/$course\"" "$TEST_TMPDIR/history.json" || fail "acknowledged write $course lost in the upgrade"
done <"$TEST_TMPDIR/acked"
# Refused while a node is down: restarting another would leave one copy.
"$CLUSTER" kill catalog-2
if "$CLUSTER" upgrade >"$TEST_TMPDIR/upgrade2.out" 2>&1; then fail "upgrade with catalog-2 down went ahead"; fi
grep -q "not upgrading: not running or not ready: catalog-2" "$TEST_TMPDIR/upgrade2.out" ||
  fail "upgrade with catalog-2 down: $(cat "$TEST_TMPDIR/upgrade2.out")"
"$CLUSTER" restart catalog-2 || fail "restart catalog-2"

"$CLUSTER" kill "$LEADER"
t0=$(date +%s)
NEW=""
for _ in $(seq 150); do
  NEW=$(leader_of || true)
  [ -n "$NEW" ] && [ "$NEW" != "$LEADER" ] && break
  sleep 0.1
done
if [ -z "$NEW" ] || [ "$NEW" = "$LEADER" ]; then fail "no new leader within 15 s of killing $LEADER"; fi
echo "new leader $NEW after $(($(date +%s) - t0)) s"
ok=0
for _ in $(seq 50); do
  if "${LOADER[@]}" record --learner u0000001 --verb completed --course c2 --id 00000000-0000-4000-8000-000000000002 \
    >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
[ "$ok" = 1 ] || fail "no write through the client address after the failover"
# Read back as the learner (their own records).
"$LIFELONG_VAR/bin/mint_token" --key_file="$LIFELONG_VAR/auth/jwt.key" --role=learner --subject=u0000001 \
  >"$TEST_TMPDIR/learner.token"
HISTORY=$(LIFELONG_TOKEN_FILE="$TEST_TMPDIR/learner.token" "$LIFELONG" history u0000001 2>&1 || true)
grep -q "c1" <<<"$HISTORY" || fail "the write acknowledged before the kill is not readable: $HISTORY"

# The killed node's pid file naming another node's live process (a stale
# file and a recycled pid): not taken for it, so restart starts the node and
# leaves the other alone.
NEW_PID=$(cat "$LIFELONG_VAR/cluster/run/$NEW.pid")
echo "$NEW_PID" >"$LIFELONG_VAR/cluster/run/$LEADER.pid"
STATUS=$("$CLUSTER" status 2>&1 || true)
grep -E "^ *$LEADER " <<<"$STATUS" | grep -q "not running" || fail "$LEADER's stale pid file taken for it: $STATUS"
"$CLUSTER" restart "$LEADER" || fail "restart $LEADER"
kill -0 "$NEW_PID" 2>/dev/null || fail "restart $LEADER stopped $NEW (pid $NEW_PID, named by $LEADER's stale pid file)"
STATUS=$("$CLUSTER" status 2>&1 || true)
grep -E "^ *$LEADER " <<<"$STATUS" | grep -Eq "follower|catching_up" || fail "$LEADER did not come back as a follower: $STATUS"
"$CLUSTER" kill records-7 2>/dev/null && fail "kill accepted a bad node name"
# The three stores are equal once the restarted node has caught up.
equal=0
for _ in $(seq 50); do
  if "$LIFELONG_VAR/bin/records_digest" "$LIFELONG_VAR"/cluster/records-{1,2,3} >"$TEST_TMPDIR/digest.out" 2>&1; then
    equal=1
    break
  fi
  sleep 0.2
done
[ "$equal" = 1 ] || { cat "$TEST_TMPDIR/digest.out"; fail "the replicas' stores differ"; }
grep EQUAL "$TEST_TMPDIR/digest.out"

# A learner erased (the leader erases their messages from the log as user
# records); then: NATS refused no service anything it needed, all along (up,
# writes, restarts, the upgrade, failover, log retention, this erasure): the
# only violations its members logged are nats_probe.py's.
"${LOADER[@]}" record --learner u0000077 --verb completed --course c3 --id 00000000-0000-4000-8000-000000000077 ||
  fail "write before the erasure"
"$LIFELONG" erase-learner u0000077 --yes || fail "erase-learner"
VIOLATIONS=$(grep -h "Violation" "$LIFELONG_VAR"/cluster/log/nats-*.log | grep -v '"nats-probe"' || true)
[ -z "$VIOLATIONS" ] || fail "NATS refused a service: $VIOLATIONS"
grep -q '"nats-probe" - Publish Violation - User "catalog", Subject "lifelong.records.stmt.nats-probe"' \
  "$LIFELONG_VAR"/cluster/log/nats-1.log || fail "nats-1 did not log the probe's violation"

REFRESHER_PID=$(cat "$LIFELONG_VAR/cluster/run/token-refresher.pid")  # (upgrade restarted it)
"$CLUSTER" down || fail "down"
for f in "$LIFELONG_VAR"/cluster/run/*.pid; do
  [ -e "$f" ] && fail "pid file left after down: $f"
done
kill -0 "$TRAINER_PID" 2>/dev/null && fail "the trainer (pid $TRAINER_PID) still runs after down"
kill -0 "$REFRESHER_PID" 2>/dev/null && fail "the token refresher (pid $REFRESHER_PID) still runs after down"
grep -q "^train: stopped" "$LIFELONG_VAR/cluster/log/trainer.log" || fail "trainer did not stop cleanly: $(tail -n 5 "$LIFELONG_VAR/cluster/log/trainer.log")"
trap - EXIT
echo PASS
