#!/usr/bin/env bash
# ops/stack.sh with real servers (records, catalog, recommend; authentication
# on, a small demo district and its first model, no web gateway), binaries
# from this test's runfiles, files under TEST_TMPDIR, ports from a free block:
#
# - after the demo load, up backs up the record store and the catalog with it
#   (backups are not scheduled here: without that backup there is none);
# - status exits 0 with every service SERVING, 1 (every line still printed)
#   with the recommender not answering, with catalog stopped, after down;
# - the services' logs: mode 600 in a log directory of mode 700;
# - LIFELONG_HOST other than 127.0.0.1 (127.0.0.2, on this machine): the
#   xAPI and /metrics addresses `status` prints are where records_server
#   listens (its --xapi_host and --metrics_host), and the printed curl commands
#   answer; for a LAN address, xAPI follows it only with TLS and authentication
#   on (function level);
# - upgrade: the binaries that ran before kept in var/bin/previous (the
#   running server's, though var/bin already held the new one), a backup of
#   the record store and the catalog taken by the old servers before their
#   restart, the services back on the new binaries; a web gateway that ran
#   (a stand-in ops/web.sh, in a copy of ops/ made of links: the gateway
#   needs node and npm modules) restarted after them with the settings it was
#   started with, not the upgrade's; one that did not run left alone (function
#   level); then the rollback of docs/stack.md ("Rolling back an upgrade") by
#   its steps: the previous binaries run again, on the restored store.
set -euo pipefail
umask 022  # a usual login's: the scripts must make their files private themselves

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
export LIFELONG_VAR="$TEST_TMPDIR/var"
rm -rf "$LIFELONG_VAR" "$TEST_TMPDIR/orig"
mkdir -p "$LIFELONG_VAR/bin" "$TEST_TMPDIR/orig"
for b in services/records/records_server services/catalog/catalog_server services/recommend/recommend_server \
  services/auth/mint_token; do
  install -m 0755 "$RUNFILES/$b" "$LIFELONG_VAR/bin/$(basename "$b")"
  cp "$RUNFILES/$b" "$TEST_TMPDIR/orig/$(basename "$b")"
done
install -m 0755 "$RUNFILES/services/cli/lifelong" "$LIFELONG_VAR/bin/lifelong.bin"
install -m 0755 "$RUNFILES/models/train" "$LIFELONG_VAR/bin/train"
install -m 0755 "$RUNFILES/services/demo/demo_loader" "$LIFELONG_VAR/bin/demo_loader"
cp "$RUNFILES/services/cli/lifelong" "$TEST_TMPDIR/orig/lifelong.bin"
BIN="$LIFELONG_VAR/bin"
STACK="$RUNFILES/ops/stack.sh"

# A block of free ports: BASE+1..BASE+9 on 127.0.0.1 and 127.0.0.2 (BASE+8: the stand-in gateway's).
BASE=$(python3 - <<'PY'
import random, socket
def free(host, p):
    s = socket.socket()
    try:
        s.bind((host, p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(10000, 28000, 10)
    if all(free(h, b + i) for i in range(10) for h in ("127.0.0.1", "127.0.0.2")):
        print(b); break
PY
)
[ -n "$BASE" ] || { echo "no free port block on 127.0.0.1 and 127.0.0.2" >&2; exit 1; }
XAPI_PORT=$((BASE + 4)) METRICS_PORT=$((BASE + 5))
export LIFELONG_HOST=127.0.0.2
export LIFELONG_RECORDS_PORT=$((BASE + 1)) LIFELONG_CATALOG_PORT=$((BASE + 2)) LIFELONG_RECOMMEND_PORT=$((BASE + 3))
export RECORDS_FLAGS="--xapi_port=$XAPI_PORT --metrics_port=$METRICS_PORT --block_cache_mb=64 --warm_cache=false"
export CATALOG_FLAGS="--metrics_port=$((BASE + 6))" RECOMMEND_FLAGS="--metrics_port=$((BASE + 7))"
export STACK_SKIP_BUILD=1 STACK_SKIP_WEB=1 STACK_TRAIN_INTERVAL=0 STACK_TOKEN_REFRESH=0
export DEMO_LEARNERS=200 DEMO_COURSES=60 DEMO_PARALLEL=2 STACK_TRAIN_FLAGS=--tune=false
export STACK_AUTH=1 STACK_BACKUP_INTERVAL=0
LOG="$LIFELONG_VAR/log"

fail() {
  echo "FAIL: $*" >&2
  for f in "$LOG"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 10 "$f" >&2; }; done
  exit 1
}
FAKE_WEB_PID=""
cleanup() {
  "$STACK" down >/dev/null 2>&1 || true
  [ -z "$FAKE_WEB_PID" ] || kill "$FAKE_WEB_PID" 2>/dev/null || true
}
trap cleanup EXIT

"$STACK" up >"$TEST_TMPDIR/up.out" 2>&1 || { cat "$TEST_TMPDIR/up.out"; fail "up"; }
LIFELONG="$BIN/lifelong"

# --- The demo district's backup: one of each store, taken after the load
# (STACK_BACKUP_INTERVAL=0: none is scheduled, so any backup is up's).
grep -Eq "^stack: backed up the demo district: records backup [0-9]+ \([1-9][0-9]* statements\) in $LIFELONG_VAR/records-backups, catalog backup [0-9]+ \(60 courses\)" \
  "$TEST_TMPDIR/up.out" || { cat "$TEST_TMPDIR/up.out"; fail "up does not say the backup after the demo load"; }
LOADED=$(sed -n 's/^demo statements: .* ; \([0-9,]*\) statements.*/\1/p' "$TEST_TMPDIR/up.out" | tail -n 1 | tr -d ,)
[ "${LOADED:-0}" -gt 0 ] || fail "the demo load reports no statements: $(cat "$TEST_TMPDIR/up.out")"
BACKUPS=$("$LIFELONG" backup list --json 2>&1) || fail "backup list: $BACKUPS"
grep -q "\"statements\":${LOADED}[,}]" <<<"$BACKUPS" || fail "no record-store backup holds the $LOADED demo statements: $BACKUPS"
BACKUPS=$("$LIFELONG" backup list --service=catalog --json 2>&1) || fail "catalog backup list: $BACKUPS"
grep -q '"courses":60[,}]' <<<"$BACKUPS" || fail "no catalog backup holds the 60 demo courses: $BACKUPS"

# --- The logs: this account's only.
[ "$(stat -c %a "$LOG")" = 700 ] || fail "$LOG is mode $(stat -c %a "$LOG"), not 700"
OPEN=$(find "$LOG" -type f -perm /077)
[ -z "$OPEN" ] || fail "logs readable by other accounts: $OPEN"

# --- status: 0 with every service SERVING; 1 with the recommender running
# but not answering (stopped with SIGSTOP), every line printed all the same.
STATUS=$("$STACK" status 2>&1) || fail "status exits non-zero with every service SERVING: $STATUS"
RECOMMEND_PID=$(cat "$LIFELONG_VAR/run/recommend.pid")
kill -STOP "$RECOMMEND_PID"
RC=0
OUT=$("$STACK" status 2>&1) || RC=$?
kill -CONT "$RECOMMEND_PID"
[ "$RC" = 1 ] || fail "status exits $RC with the recommender not answering: $OUT"
grep -Eq "^recommend +pid $RECOMMEND_PID " <<<"$OUT" || fail "status: no recommend line: $OUT"
grep -Eq '^recommend +[^ ]+ +(DEADLINE_EXCEEDED|UNAVAILABLE)' <<<"$OUT" || fail "status does not show recommend not serving: $OUT"
grep -q '^  /metrics  curl ' <<<"$OUT" || fail "status stopped printing at the service not serving: $OUT"

# --- The addresses status prints are those records_server listens on.
XAPI_LINE=$(grep '^  xAPI   curl ' <<<"$STATUS") || fail "no xAPI line in status: $STATUS"
METRICS_LINE=$(grep '^  /metrics  curl ' <<<"$STATUS") || fail "no /metrics line in status: $STATUS"
echo "$XAPI_LINE"
echo "$METRICS_LINE"
# The printed commands, as printed, answer.
eval "${XAPI_LINE#*xAPI   } -sSf -o /dev/null --max-time 5" || fail "the printed xAPI command does not answer: $XAPI_LINE"
eval "${METRICS_LINE#*/metrics  } -sSf -o /dev/null --max-time 5" || fail "the printed /metrics command does not answer: $METRICS_LINE"

RECORDS_CMD=$(tr '\0' ' ' <"/proc/$(cat "$LIFELONG_VAR/run/records.pid")/cmdline")
xapi_host=$({ grep -o -- '--xapi_host=[^ ]*' <<<"$RECORDS_CMD" || true; } | tail -n 1 | cut -d= -f2)
[ "${xapi_host:-127.0.0.1}" = 127.0.0.2 ] || fail "records' xAPI is not on LIFELONG_HOST (a loopback address): $RECORDS_CMD"
grep -q "'http://127.0.0.2:$XAPI_PORT/xapi/statements" <<<"$XAPI_LINE" || fail "xAPI printed at another address: $XAPI_LINE"
metrics_host=$({ grep -o -- '--metrics_host=[^ ]*' <<<"$RECORDS_CMD" || true; } | tail -n 1 | cut -d= -f2)
grep -q "http://${metrics_host:-127.0.0.1}:$METRICS_PORT/metrics" <<<"$METRICS_LINE" ||
  fail "/metrics printed at another address than records_server's (${metrics_host:-127.0.0.1}): $METRICS_LINE"

# A LAN address (not bound here: function level): xAPI follows it only with
# TLS and authentication on; /metrics stays on the loopback; RECORDS_FLAGS win.
# Each time, the address printed is the one the flags give records_server.
cat >"$TEST_TMPDIR/lan.sh" <<'LAN'
# shellcheck source=/dev/null
source "$1"
HOST=192.0.2.10 TLS="$2" AUTH="$3"
# shellcheck disable=SC2046,SC2086  # as up passes them
set -- $(records_listen_flags) ${RECORDS_FLAGS:-}
echo "flags: $*"
how_to_call | grep -E '^  (xAPI|/metrics) '
LAN
lan() {  # lan TLS AUTH EXPECTED_XAPI_HOST [RECORDS_FLAGS]
  local out flag
  out=$(RECORDS_FLAGS="${4:-$RECORDS_FLAGS}" bash -euo pipefail "$TEST_TMPDIR/lan.sh" "$STACK" "$1" "$2") ||
    fail "how_to_call: $out"
  flag=$({ grep -o -- '--xapi_host=[^ ]*' <<<"$out" || true; } | tail -n 1 | cut -d= -f2)
  [ "$flag" = "$3" ] || fail "TLS=$1 AUTH=$2: records gets --xapi_host=$flag, not $3: $out"
  grep -q "://$3:$XAPI_PORT/xapi/" <<<"$out" || fail "TLS=$1 AUTH=$2: xAPI printed elsewhere than $3: $out"
  grep -q "://127.0.0.1:$METRICS_PORT/metrics" <<<"$out" || fail "TLS=$1 AUTH=$2: /metrics not printed on the loopback: $out"
}
lan 1 1 192.0.2.10
lan 0 1 127.0.0.1
lan 1 0 127.0.0.1
lan 0 0 127.0.0.1
lan 0 1 0.0.0.0 "$RECORDS_FLAGS --xapi_host=0.0.0.0"

# --- upgrade, and the way back.
# The CLI wrapper runs this stack's trainer for `lifelong train` (the runbooks'
# "train one by hand"), from any directory; here with the stack's trainer
# moved away for a moment.
mv "$BIN/train" "$TEST_TMPDIR/train.away"
if OUT=$(cd / && env -u LIFELONG_TRAINER "$LIFELONG" train --model_root="$TEST_TMPDIR/models" 2>&1); then
  fail "lifelong train without a trainer binary: $OUT"
fi
mv "$TEST_TMPDIR/train.away" "$BIN/train"
grep -qF "LIFELONG_TRAINER=$BIN/train is not an executable file" <<<"$OUT" ||
  fail "the CLI wrapper does not point lifelong train at the stack's trainer: $OUT"
LOADER=(env LIFELONG_TOKEN_FILE="$LIFELONG_VAR/auth/loader.token" "$LIFELONG")
"${LOADER[@]}" record --learner u0000001 --verb completed --course before --id 00000000-0000-4000-8000-000000000001 ||
  fail "a write before the upgrade"
OLD_PID=$(cat "$LIFELONG_VAR/run/records.pid")
# New binaries put in var/bin by hand (STACK_SKIP_BUILD=1): the records server
# differs from the running one (bytes after its ELF image change nothing).
cp "$RUNFILES/services/records/records_server" "$TEST_TMPDIR/records_server.new"
echo "new build" >>"$TEST_TMPDIR/records_server.new"
install -m 0755 "$TEST_TMPDIR/records_server.new" "$BIN/records_server.new"
mv -f "$BIN/records_server.new" "$BIN/records_server"
# The operator token `up` minted lives 12 hours; an upgrade a day later mints
# its own for the backups (expired 5 minutes ago here, beyond the clock skew).
"$BIN/mint_token" --key_file="$LIFELONG_VAR/auth/jwt.key" --role=operator --subject=operator-dev --ttl=-5m \
  >"$LIFELONG_VAR/auth/operator.token"
if OUT=$("$LIFELONG" backup list 2>&1); then fail "the expired operator token was accepted: $OUT"; fi
grep -q "UNAUTHENTICATED" <<<"$OUT" || fail "backup list with an expired token: $OUT"
# The web gateway: a stand-in ops/web.sh (the real one needs node and npm
# modules) in a copy of ops/ made of links, "running" while its pid file names
# a live process: one started with settings of its own, which the upgrade's
# environment contradicts.
FAKE_ROOT="$TEST_TMPDIR/root"
rm -rf "$FAKE_ROOT"
mkdir -p "$FAKE_ROOT/ops"
for f in "$RUNFILES"/ops/*; do
  [ "$(basename "$f")" = web.sh ] || ln -s "$f" "$FAKE_ROOT/ops/$(basename "$f")"
done
# (TEST_TMPDIR reaches it through ops/stack.sh's environment.)
cat >"$FAKE_ROOT/ops/web.sh" <<'FAKE'
#!/usr/bin/env bash
pidf="$TEST_TMPDIR/web.fake.pid"
case "$1" in
  status)
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
      printf '%-10s pid %-8s %s\n' web "$(cat "$pidf")" "127.0.0.2:${LIFELONG_WEB_PORT:-8090}"
    else
      printf '%-10s not running\n' web
    fi
    ;;
  down | up)
    echo "$1 LIFELONG_WEB_PORT=${LIFELONG_WEB_PORT-unset} WEB_FLAGS=${WEB_FLAGS-unset}" \
      "WEB_KIOSK_CLIENTS=${WEB_KIOSK_CLIENTS-unset} LIFELONG_VAR=$LIFELONG_VAR" >>"$TEST_TMPDIR/web.calls"
    [ "$1" = up ] || rm -f "$pidf"
    ;;
esac
FAKE
chmod 755 "$FAKE_ROOT/ops/web.sh"
: >"$TEST_TMPDIR/web.calls"
WEB_PORT=$((BASE + 8))
env LIFELONG_WEB_PORT="$WEB_PORT" WEB_FLAGS="--gateway_flag=1" sleep 600 &
FAKE_WEB_PID=$!
echo "$FAKE_WEB_PID" >"$TEST_TMPDIR/web.fake.pid"
LIFELONG_WEB_PORT=$((BASE + 9)) WEB_KIOSK_CLIENTS=dongsi-sqxx=10.0.0.1 "$FAKE_ROOT/ops/stack.sh" upgrade \
  >"$TEST_TMPDIR/upgrade.out" 2>&1 || { cat "$TEST_TMPDIR/upgrade.out"; fail "upgrade"; }
cat "$TEST_TMPDIR/upgrade.out"
kill "$FAKE_WEB_PID" 2>/dev/null || true
FAKE_WEB_PID=""
grep -q "^stack: restarting the web gateway (pid [0-9]*) on the new code" "$TEST_TMPDIR/upgrade.out" ||
  fail "upgrade does not say it restarts the web gateway"
WANT="LIFELONG_WEB_PORT=$WEB_PORT WEB_FLAGS=--gateway_flag=1 WEB_KIOSK_CLIENTS=unset LIFELONG_VAR=$LIFELONG_VAR"
[ "$(cat "$TEST_TMPDIR/web.calls")" = "down $WANT
up $WANT" ] || fail "the web gateway was not restarted (down, then up) with the settings it was started with ($WANT): $(cat "$TEST_TMPDIR/web.calls")"
# A gateway that does not run: left alone, nothing said (function level: the
# upgrade's steps replaced by stand-ins).
cat >"$TEST_TMPDIR/upgrade_web.sh" <<'UPW'
# shellcheck source=/dev/null
source "$1"
ROOT="$2"
for f in resolve_tls resolve_auth begin_upgrade fresh_operator_token build backup_before_restart stop_one step \
  step_done finish_upgrade; do
  eval "$f() { :; }"
done
pid_of() { echo 1; }
up() { echo "up STACK_SKIP_WEB=$STACK_SKIP_WEB"; }
stack_upgrade
UPW
: >"$TEST_TMPDIR/web.calls"
OUT=$(STACK_SKIP_WEB=0 bash -euo pipefail "$TEST_TMPDIR/upgrade_web.sh" "$STACK" "$FAKE_ROOT" 2>&1) ||
  fail "upgrade with no web gateway running: $OUT"
[ "$OUT" = "up STACK_SKIP_WEB=0" ] || fail "upgrade with no web gateway running: $OUT"
[ ! -s "$TEST_TMPDIR/web.calls" ] || fail "upgrade touched a web gateway that was not running: $(cat "$TEST_TMPDIR/web.calls")"
NEW_PID=$(cat "$LIFELONG_VAR/run/records.pid")
[ "$NEW_PID" != "$OLD_PID" ] || fail "upgrade did not restart records"
cmp -s "/proc/$NEW_PID/exe" "$TEST_TMPDIR/records_server.new" || fail "records does not run the new binary"
# The binaries that ran before: the running server's, not var/bin's (already new).
for b in records_server catalog_server recommend_server mint_token lifelong.bin; do
  cmp -s "$BIN/previous/$b" "$TEST_TMPDIR/orig/$b" || fail "$BIN/previous/$b is not the binary that ran before the upgrade"
done
grep -q "^records_server: from the running records (pid $OLD_PID)" "$BIN/previous/SOURCES" ||
  fail "previous/SOURCES: $(cat "$BIN/previous/SOURCES")"
[ ! -e "$BIN/previous/UPGRADE-UNFINISHED" ] || fail "the upgrade is still marked unfinished"
# A backup of each store, taken by the old server before it stopped.
ID=$(sed -n 's/^records: backup \([0-9]*\) in .*/\1/p' "$BIN/previous/BACKUPS")
[ -n "$ID" ] || fail "no record-store backup noted: $(cat "$BIN/previous/BACKUPS")"
grep -q "^catalog: backup [0-9]* in $LIFELONG_VAR/catalog-backups" "$BIN/previous/BACKUPS" || fail "no catalog backup noted"
grep -q "records: backup $ID of its store taken before its restart" "$TEST_TMPDIR/upgrade.out" || fail "upgrade does not say the backup"
grep -q "rolling back: the binaries from before the upgrade are in $BIN/previous" "$TEST_TMPDIR/upgrade.out" ||
  fail "upgrade does not say how to roll back"
b=$(grep -n "\"backup_id\":$ID,\"event\":\"backup_created\".*\"trigger\":\"rpc\"" "$LOG/records.log" | tail -n 1 | cut -d: -f1)
stop=$(grep -n '"event":"shutting_down"' "$LOG/records.log" | tail -n 1 | cut -d: -f1)
serve=$(grep -n '"event":"serving"' "$LOG/records.log" | tail -n 1 | cut -d: -f1)
if [ -z "$b" ] || [ -z "$stop" ] || [ "$b" -gt "$stop" ] || [ "$stop" -gt "$serve" ]; then
  fail "backup $ID was not taken by the old records_server before it stopped (log lines: backup ${b:-none}, stop ${stop:-none}, start $serve)"
fi
[ -f "$LIFELONG_VAR/run/auth.on" ] || fail "the upgraded stack lost its authentication mode"
"$LIFELONG" health records catalog --timeout=5s || fail "not SERVING after the upgrade"
"${LOADER[@]}" record --learner u0000001 --verb completed --course after --id 00000000-0000-4000-8000-000000000002 ||
  fail "a write after the upgrade"

# The rollback, by the steps of docs/stack.md.
"$STACK" down >/dev/null || fail "down"
CID=$(sed -n 's/^catalog: backup \([0-9]*\) in .*/\1/p' "$BIN/previous/BACKUPS")
mv "$LIFELONG_VAR/records" "$LIFELONG_VAR/records.upgraded"
mv "$LIFELONG_VAR/catalog" "$LIFELONG_VAR/catalog.upgraded"
"$BIN/previous/lifelong.bin" backup restore "$ID" --data_dir "$LIFELONG_VAR/records" || fail "restore of backup $ID"
"$BIN/previous/lifelong.bin" backup restore "$CID" --service=catalog --data_dir "$LIFELONG_VAR/catalog" ||
  fail "restore of catalog backup $CID"
for f in "$BIN"/previous/*; do
  if [ -x "$f" ]; then install -m 0755 "$f" "$BIN/$(basename "$f").new" && mv -f "$BIN/$(basename "$f").new" "$BIN/$(basename "$f")"; fi
done
"$STACK" up >"$TEST_TMPDIR/up2.out" 2>&1 || { cat "$TEST_TMPDIR/up2.out"; fail "up after the rollback"; }
cmp -s "/proc/$(cat "$LIFELONG_VAR/run/records.pid")/exe" "$TEST_TMPDIR/orig/records_server" ||
  fail "records does not run the previous binary after the rollback"
"$BIN/mint_token" --key_file="$LIFELONG_VAR/auth/jwt.key" --role=learner --subject=u0000001 >"$TEST_TMPDIR/learner.token"
HISTORY=$(LIFELONG_TOKEN_FILE="$TEST_TMPDIR/learner.token" "$LIFELONG" history u0000001 --json 2>&1) ||
  fail "history after the rollback: $HISTORY"
grep -q '"before"\|/before"' <<<"$HISTORY" || fail "the statement recorded before the upgrade is not back: $HISTORY"
grep -q '"after"\|/after"' <<<"$HISTORY" && fail "the restored store holds a statement recorded after its backup: $HISTORY"

# status with catalog stopped: 1, every line printed; after down: 1.
CATALOG_PID=$(cat "$LIFELONG_VAR/run/catalog.pid")
kill -TERM "$CATALOG_PID"
for _ in $(seq 300); do kill -0 "$CATALOG_PID" 2>/dev/null || break; sleep 0.1; done
RC=0
OUT=$("$STACK" status 2>&1) || RC=$?
[ "$RC" = 1 ] || fail "status exits $RC with catalog stopped: $OUT"
grep -q '^catalog    not running' <<<"$OUT" || fail "status does not say catalog is not running: $OUT"
if ! grep -Eq '^records +pid ' <<<"$OUT" || ! grep -q '^  /metrics  curl ' <<<"$OUT"; then
  fail "status with catalog stopped does not print every line: $OUT"
fi
"$STACK" down >/dev/null || fail "down"
RC=0
OUT=$("$STACK" status 2>&1) || RC=$?
[ "$RC" = 1 ] || fail "status exits $RC after down: $OUT"
grep -q "no service is running" <<<"$OUT" || fail "status after down: $OUT"
# Refused without a running record service (the backup needs it).
if OUT=$("$STACK" upgrade 2>&1); then fail "upgrade went ahead with records stopped: $OUT"; fi
grep -q "not upgrading: records is not running" <<<"$OUT" || fail "upgrade with records stopped: $OUT"
trap - EXIT
echo PASS
