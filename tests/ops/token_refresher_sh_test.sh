#!/usr/bin/env bash
# ops/stack.sh's token refresher (docs/security.md, "Service tokens") without
# a stack: the real script's functions and the real mint_token, files under
# TEST_TMPDIR. Started as `up` starts it, it mints the service tokens and
# ops/web.sh's kiosk tokens again at every round (each valid 30 days), mode
# 600, through a rename, so a reader racing it never sees part of a token; a
# round that fails leaves the tokens as they were and the refresher running;
# `status` shows it, `down` stops it. And shellcheck -x passes on the scripts.
set -euo pipefail
umask 022  # a usual login's: the scripts must make their files private themselves

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
export LIFELONG_VAR="$TEST_TMPDIR/var"
rm -rf "$LIFELONG_VAR"
mkdir -p "$LIFELONG_VAR/bin"
install -m 0755 "$RUNFILES/services/auth/mint_token" "$LIFELONG_VAR/bin/mint_token"
STACK="$RUNFILES/ops/stack.sh"
AUTH_DIR="$LIFELONG_VAR/auth"
REFRESHER_LOG="$LIFELONG_VAR/log/token-refresher.log"

fail() {
  echo "FAIL: $*" >&2
  [ ! -f "$REFRESHER_LOG" ] || { echo "--- $REFRESHER_LOG" >&2; tail -n 20 "$REFRESHER_LOG" >&2; }
  exit 1
}
cleanup() { "$STACK" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# claims FILE: the JSON claims of the token in FILE.
claims() {
  local payload
  payload=$(cut -d. -f2 <"$1" | tr '_-' '/+')
  while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
  base64 -d <<<"$payload"
}
# check_token FILE ROLE: FILE is mode 600 and holds a token of ROLE valid about 30 days from now.
check_token() {
  local c exp now
  [ "$(stat -c %a "$1")" = 600 ] || fail "$1 is mode $(stat -c %a "$1"), not 600"
  c=$(claims "$1")
  grep -q "\"role\":\"$2\"" <<<"$c" || fail "$1: not a $2 token: $c"
  exp=$(grep -o '"exp":[0-9]*' <<<"$c" | cut -d: -f2)
  now=$(date +%s)
  if [ "$exp" -lt $((now + 719 * 3600)) ] || [ "$exp" -gt $((now + 721 * 3600)) ]; then
    fail "$1 expires at $exp, not about 720 h from $now"
  fi
}

# The stack's key and tokens, as `up` makes them (setup_auth), then a kiosk
# token as ops/web.sh up mints it, then the refresher with a 1 s round.
bash -euo pipefail -s "$RUNFILES" <<'SETUP' || fail "setup"
# shellcheck source=/dev/null
source "$1/ops/stack.sh"
mkdir -p "$LOG" "$RUN"
AUTH=1
setup_auth
mkdir -m 700 "$AUTH_DIR/kiosks"
"$BIN/mint_token" --key_file="$AUTH_DIR/jwt.key" --role=kiosk --subject=kiosk-dongsi-sqxx --venue=dongsi-sqxx \
  --ttl=1h >"$AUTH_DIR/kiosks/dongsi-sqxx.token"
chmod 600 "$AUTH_DIR/kiosks/dongsi-sqxx.token"
echo "not a token" >"$AUTH_DIR/kiosks/README"
# Off: nothing started.
out=$(STACK_TOKEN_REFRESH=0 start_token_refresher)
grep -q "no token refresher (STACK_TOKEN_REFRESH=0)" <<<"$out" || { echo "STACK_TOKEN_REFRESH=0: $out" >&2; exit 1; }
[ ! -f "$RUN/token-refresher.pid" ] || { echo "started with STACK_TOKEN_REFRESH=0" >&2; exit 1; }
if (STACK_TOKEN_REFRESH=soon start_token_refresher) 2>/dev/null; then echo "accepted STACK_TOKEN_REFRESH=soon" >&2; exit 1; fi
STACK_TOKEN_REFRESH=1s start_token_refresher
# Once: a second start leaves the first alone.
STACK_TOKEN_REFRESH=1s start_token_refresher | grep -q "token refresher already running" || exit 1
SETUP

PID=$(cat "$LIFELONG_VAR/run/token-refresher.pid")
kill -0 "$PID" 2>/dev/null || fail "the refresher (pid $PID) does not run"
declare -A BEFORE
for f in recommender.token trainer.token loader.token kiosks/dongsi-sqxx.token; do
  BEFORE[$f]=$(cat "$AUTH_DIR/$f")
done

# A reader racing the rounds: every read is a whole token (three parts, non-empty).
: >"$TEST_TMPDIR/reads.bad"
reads=0
# At least 4 s, and until a round is done (a round checks $LIFELONG_VAR and
# mints five tokens: seconds on a loaded machine), at most 60 s.
start=$(date +%s)
while [ "$(date +%s)" -lt $((start + 4)) ] ||
  { ! grep -q "re-minted the service and kiosk tokens" "$REFRESHER_LOG" && [ "$(date +%s)" -lt $((start + 60)) ]; }; do
  t=$(cat "$AUTH_DIR/recommender.token" 2>/dev/null || true)
  [[ "$t" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || echo "read: '$t'" >>"$TEST_TMPDIR/reads.bad"
  k=$(cat "$AUTH_DIR/kiosks/dongsi-sqxx.token" 2>/dev/null || true)
  [[ "$k" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || echo "kiosk read: '$k'" >>"$TEST_TMPDIR/reads.bad"
  reads=$((reads + 1))
done
[ ! -s "$TEST_TMPDIR/reads.bad" ] || fail "partial or missing tokens read during the rounds: $(head -n 5 "$TEST_TMPDIR/reads.bad")"
echo "$reads reads, each a whole token"

# Minted again: new tokens, 30 days, mode 600; the kiosk's for its venue.
grep -q "re-minted the service and kiosk tokens" "$REFRESHER_LOG" || fail "no round in the log"
for f in recommender.token trainer.token loader.token kiosks/dongsi-sqxx.token; do
  [ "$(cat "$AUTH_DIR/$f")" != "${BEFORE[$f]}" ] || fail "$f was not minted again"
done
check_token "$AUTH_DIR/recommender.token" recommender
check_token "$AUTH_DIR/trainer.token" trainer
check_token "$AUTH_DIR/loader.token" loader
check_token "$AUTH_DIR/kiosks/dongsi-sqxx.token" kiosk
grep -q '"venue":"dongsi-sqxx"' <<<"$(claims "$AUTH_DIR/kiosks/dongsi-sqxx.token")" || fail "kiosk token of another venue"
[ "$(cat "$AUTH_DIR/kiosks/README")" = "not a token" ] || fail "a file that is no token was touched"

# status shows it, with the tokens' expiry.
STATUS=$("$STACK" status 2>&1 || true)
grep -Eq "^token-refresher pid $PID +every 1s; recommender.token valid until 2[0-9]{3}-" <<<"$STATUS" ||
  fail "status does not show the refresher: $STATUS"

# A round that fails (no usable key): the tokens stay as they were, the refresher runs on.
# rounds PATTERN: how many rounds the log reports with PATTERN; await_round
# PATTERN N: waits (at most 60 s) until more than N have.
rounds() { grep -c "$1" "$REFRESHER_LOG" || true; }
await_round() {
  local _
  for _ in $(seq 300); do [ "$(rounds "$1")" -gt "$2" ] && return 0; sleep 0.2; done
  fail "no round '$1' in the log after 60 s"
}
cp "$AUTH_DIR/jwt.key" "$TEST_TMPDIR/jwt.key"
echo "not a key" >"$AUTH_DIR/jwt.key"
await_round "FAILED to re-mint some tokens" 0
KEPT=$(cat "$AUTH_DIR/recommender.token")
await_round "FAILED to re-mint some tokens" "$(rounds "FAILED to re-mint some tokens")"
[ "$(cat "$AUTH_DIR/recommender.token")" = "$KEPT" ] || fail "a failed round changed recommender.token"
check_token "$AUTH_DIR/recommender.token" recommender
check_token "$AUTH_DIR/kiosks/dongsi-sqxx.token" kiosk
kill -0 "$PID" 2>/dev/null || fail "the refresher stopped after a failed round"
minted=$(rounds "re-minted the service and kiosk tokens")
cp "$TEST_TMPDIR/jwt.key" "$AUTH_DIR/jwt.key"
await_round "re-minted the service and kiosk tokens" "$minted"
[ "$(cat "$AUTH_DIR/recommender.token")" != "$KEPT" ] || fail "not minted again once the key was back"

# down stops it (pid-file conventions of the stack's services).
DOWN=$("$STACK" down 2>&1) || fail "down: $DOWN"
grep -q "stopping token-refresher (pid $PID" <<<"$DOWN" || fail "down: $DOWN"
kill -0 "$PID" 2>/dev/null && fail "the refresher (pid $PID) runs after down"
[ ! -e "$LIFELONG_VAR/run/token-refresher.pid" ] || fail "pid file left after down"
grep -q "token refresher stopped" "$REFRESHER_LOG" || fail "the refresher did not stop cleanly"
# No temporary file left by a round, failed ones included (looked for once the
# refresher has stopped: a round in progress has one for a moment).
[ -z "$(find "$AUTH_DIR" -name '*.new')" ] || fail "temporary files left: $(find "$AUTH_DIR" -name '*.new')"

# The scripts pass shellcheck (-x: what they source too).
if command -v shellcheck >/dev/null; then
  (cd "$RUNFILES" && shellcheck -x ops/stack.sh ops/web.sh ops/cluster.sh) || fail "shellcheck -x"
else
  echo "(shellcheck not installed: not run)"
fi
trap - EXIT
echo PASS
