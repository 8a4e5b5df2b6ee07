#!/usr/bin/env bash
# Brings up the district's network on this machine: record service, catalog
# and recommender as separate processes, the demo district loaded, a first
# model trained (docs/stack.md).
#
#   ops/stack.sh up       build, start, load the demo district (then back up the record store and
#                         the catalog with it), train, wait for SERVING
#   ops/stack.sh down     SIGTERM every service and wait for it to exit
#   ops/stack.sh status   what runs where, its health, and how to call it by hand
#                         (credentials, tokens, ready-to-paste commands); every line printed,
#                         then exit status 1 when records, catalog or recommend is not running
#                         or not SERVING (a recommender without a model is not), 0 when all
#                         three serve or no stack ever ran in LIFELONG_VAR; the trainer, token
#                         refresher and web gateway lines do not count (each may be off by choice)
#   ops/stack.sh upgrade  build, keep the binaries that run now in var/bin/previous, back up the
#                         record store and the catalog through the running servers, then restart
#                         the services on the new binaries, and after them the web gateway when
#                         one runs (with the settings it was started with); prints how to roll
#                         back (docs/stack.md)
#   (ops/stack.sh token-refresher AUTH_DIR: the token refresher's own process, started by up)
#
# Every command first refuses a LIFELONG_VAR that another local account could
# change (check_var): this script runs the binaries in it and its keys are
# there. `up` creates a missing one, mode 700.
#
# Re-running `up` is safe: running services are detected (pid file + health)
# and left alone, the demo load is idempotent (deterministic ids; an
# interrupted load resumes from var/run/demo.checkpoint), and training runs
# only while no complete model version exists.
#
# Environment (defaults in brackets):
#   LIFELONG_RECORDS_PORT [7001]  LIFELONG_CATALOG_PORT [7002]  LIFELONG_RECOMMEND_PORT [7003]
#   LIFELONG_HOST [127.0.0.1]     LIFELONG_VAR [<repo>/var: a directory of this account's only]
#                          (gRPC listens on LIFELONG_HOST; xAPI too when it is a loopback address or
#                          with TLS and authentication on, else on 127.0.0.1; /metrics on 127.0.0.1)
#   DEMO_LEARNERS [50000]  DEMO_COURSES [1500]  DEMO_SEED [20261128]  DEMO_PARALLEL [4]
#   STACK_SKIP_DEMO=1      start empty (no demo district; the recommender then waits for a model)
#   STACK_DEMO=force       load the demo district into a record store this script did not create
#                          (refused by default: its made-up learners u000001... and their learner
#                          cards, with PINs derived from a public seed, must never reach real records)
#   STACK_SKIP_BUILD=1     use the binaries already in var/bin
#   STACK_SKIP_WEB=1       do not start the web gateway (ops/web.sh: kiosk and app, LIFELONG_WEB_PORT [8090])
#   STACK_TRAIN_FLAGS      extra trainer flags (e.g. --tune=false), for the first model and the schedule
#   STACK_TRAIN_INTERVAL [24h]  retrain when the newest model is this old, and within
#                          STACK_TRAIN_CHECK [1m] of every erasure (`lifelong train --every`, service
#                          "trainer", log var/log/trainer.log; docs/recommend.md "Scheduled retraining");
#                          0 turns the schedule off
#   RECORDS_FLAGS, CATALOG_FLAGS, RECOMMEND_FLAGS   extra server flags (e.g. side ports)
#   STACK_TLS=1            TLS on every port and mutual TLS between the services, with a
#                          development CA from ops/dev-ca.sh in $LIFELONG_VAR/tls
#                          (docs/security.md); later runs of up/status follow the running
#                          stack's mode unless STACK_TLS is set
#   STACK_AUTH [1]         bearer-token authentication on every service (the default): a
#                          signing key, service tokens, xAPI credentials and a revocation list
#                          generated in $LIFELONG_VAR/auth (docs/security.md); $LIFELONG_VAR/bin/lifelong
#                          calls with the operator token. STACK_AUTH=0 starts today's open
#                          stack for experiments (every caller trusted, the repository's xAPI
#                          dev password). Later runs of up/status follow the running stack's
#                          mode unless STACK_AUTH is set
#   STACK_BACKUP_INTERVAL [6h]  STACK_BACKUP_KEEP [28]   scheduled backups of the record store
#                          into $LIFELONG_VAR/records-backups and of the catalog into
#                          $LIFELONG_VAR/catalog-backups, the newest N kept (28 x 6h = 7 days,
#                          the bound on how long an erased learner stays in a backup; docs/records.md
#                          and docs/catalog.md "Backups"); STACK_BACKUP_INTERVAL=0 turns the schedule off
#   STACK_TOKEN_REFRESH [24h]  with authentication on, the token refresher (service
#                          "token-refresher", log var/log/token-refresher.log) mints the service tokens
#                          and ops/web.sh's kiosk tokens again this often, each valid 30 days, so they
#                          never expire under the processes that hold them (the recommender, the trainer
#                          and the web gateway read their token files again when they are replaced;
#                          docs/security.md "Service tokens"); 0 turns it off (the tokens then expire
#                          30 days after the last up)
#   BAZEL [bazel]          BAZEL_BUILD_FLAGS [] (e.g. "-c opt"; .bazelrc already builds with -O2)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HOST="${LIFELONG_HOST:-127.0.0.1}"
RECORDS_PORT="${LIFELONG_RECORDS_PORT:-7001}"
CATALOG_PORT="${LIFELONG_CATALOG_PORT:-7002}"
RECOMMEND_PORT="${LIFELONG_RECOMMEND_PORT:-7003}"
VAR="${LIFELONG_VAR:-$ROOT/var}"
DEMO_LEARNERS="${DEMO_LEARNERS:-50000}"
DEMO_COURSES="${DEMO_COURSES:-1500}"
DEMO_SEED="${DEMO_SEED:-20261128}"
DEMO_PARALLEL="${DEMO_PARALLEL:-4}"
BAZEL="${BAZEL:-bazel}"

BIN="$VAR/bin"
RUN="$VAR/run"
# Present when this script created the record store for the demo (load_demo).
DEMO_STORE_MARKER="$VAR/demo-store"
LOG="$VAR/log"
TLS_DIR="$VAR/tls"
AUTH_DIR="$VAR/auth"
TLS=0  # set by resolve_tls
AUTH=0  # set by resolve_auth
export LIFELONG_RECORDS="$HOST:$RECORDS_PORT"
export LIFELONG_CATALOG="$HOST:$CATALOG_PORT"
export LIFELONG_RECOMMEND="$HOST:$RECOMMEND_PORT"
export LIFELONG_TRAINER="$BIN/train"
# The run directory whose tls.on/auth.on markers ops/web.sh follows
# (ops/cluster.sh sets its own).
export LIFELONG_STACK_RUN="$RUN"

TARGETS=(
  //services/records:records_server
  //services/catalog:catalog_server
  //services/recommend:recommend_server
  //services/cli:lifelong
  //services/demo:demo_loader
  //models:train
  //services/auth:mint_token
)

T_START=$(date +%s.%N)
STEP_START=$T_START
TIMINGS=()

if [ -t 1 ]; then
  say() { printf '\033[1mstack:\033[0m %s\n' "$*"; }
else
  say() { printf 'stack: %s\n' "$*"; }
fi
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }
step() { STEP_START=$(date +%s.%N); say "$*"; }
# Records how long the current step took under the label $1.
step_done() {
  local t
  t=$(awk -v a="$STEP_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  TIMINGS+=("$(printf '%-22s %6ss' "$1" "$t")")
}

lifelong() { "$BIN/lifelong.bin" "$@"; }

# program_of NAME: the program of service NAME, which its process's command
# line contains (ops/cluster.sh, which sources this file, overrides it for its
# records nodes, NATS servers and HAProxy).
program_of() {
  case "$1" in
    trainer) echo "lifelong.bin" ;;  # `lifelong train --every` (start_trainer)
    token-refresher) echo "ops/stack.sh token-refresher" ;;  # start_token_refresher
    *) echo "${1}_server" ;;
  esac
}

# instance_arg NAME: the argument that tells service NAME's process from any
# other instance of the same program (its data directory: no two processes
# can hold one). stack_instance_arg: this stack's services; ops/cluster.sh
# overrides instance_arg for its own processes and falls back on it.
stack_instance_arg() {
  case "$1" in
    records) echo "--data_dir=$VAR/records" ;;
    catalog) echo "--data_dir=$VAR/catalog" ;;
    recommend) echo "--model_dir=$VAR/models" ;;
    trainer) echo "--model_root=$VAR/models" ;;
    token-refresher) echo "$AUTH_DIR" ;;
  esac
}
instance_arg() { stack_instance_arg "$1"; }

# pid_of NAME: prints the pid of service NAME if its pid file ($RUN/NAME.pid)
# names a live process that is that service: its program, with its instance
# argument as a whole argument. A pid recycled after SIGKILL or a reboot, or
# one of another instance (records-1's in records-2.pid), is not.
pid_of() {
  local f="$RUN/$1.pid" pid cmd want
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  cmd=" $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *"$(program_of "$1")"* ]] || return 1
  want=$(instance_arg "$1")
  [ -z "$want" ] || [[ "$cmd" == *" $want "* ]] || return 1
  echo "$pid"
}

# private_dir DIR...: creates DIR (mode 700) or makes an existing one private:
# statements, PIN hashes and backups are for this account only. Files an
# earlier version left group- or world-readable lose those bits.
private_dir() {
  local d
  for d in "$@"; do
    # shellcheck disable=SC2174  # -m for DIR itself (no moment at 755); not its parents
    mkdir -p -m 700 "$d"
    chmod 700 "$d"
    if [ -n "$(find "$d" -perm /077 ! -type l -print -quit 2>/dev/null)" ]; then
      chmod -R go= "$d"
    fi
  done
}

# private_file PATH COMMAND...: writes COMMAND's output to PATH, mode 600 from
# its creation (a file written first and chmod-ed after is readable by every
# local account in between), replacing PATH atomically (a rename in the same
# directory: a reader sees the old file or the new one, never part of one).
# When COMMAND fails or prints nothing, PATH is left as it was and the status
# is 1 (checked step by step: callers may run it where `set -e` is off).
private_file() {
  local path="$1"
  shift
  if ! (umask 077 && "$@" >"$path.new") || [ ! -s "$path.new" ]; then
    rm -f "$path.new"
    return 1
  fi
  chmod 600 "$path.new" && mv -f "$path.new" "$path"
}

# trust_problem DIR: says why another local account could change directory
# DIR or what is in it (one line: the problem, then "; fix: ..."), or prints
# nothing. DIR must be this account's and writable by it alone; every
# directory above it (as written and as resolved) this account's or root's and
# writable by no one else unless sticky (in /tmp others cannot rename or
# delete what is ours); a symbolic link on the way this account's or root's.
# (POSIX ACLs are not looked at.)
trust_problem() {
  local dir="$1" real logical p paths=() uid owner rawmode mode name fix_own
  uid=$EUID
  fix_own="fix: use a directory of your own (e.g. LIFELONG_VAR=\$HOME/stack2, or one made with mktemp -d), never one another account created"
  if ! real=$(realpath -e -- "$dir" 2>/dev/null) || [ ! -d "$real" ]; then
    echo "$dir is not a directory; fix: remove it or point LIFELONG_VAR elsewhere"
    return
  fi
  logical=$(realpath -ms -- "$dir")
  # DIR itself (resolved); the path as written (DIR itself included: it may be
  # a symbolic link); the directories above it as resolved. One stat for all.
  paths=("$real")
  for p in "$logical" "${real%/*}"; do
    while [ -n "$p" ] && [ "$p" != / ]; do
      paths+=("$p")
      p="${p%/*}"
    done
  done
  paths+=(/)
  while read -r owner rawmode name; do
    mode=$(( 16#$rawmode & 8#7777 ))
    if [ "$name" = "$real" ]; then
      if [ "$owner" != "$uid" ]; then
        echo "$dir is owned by $(stat -c %U -- "$real"), not by $(id -un); $fix_own"
        return
      fi
      if (( mode & 8#022 )); then
        printf '%s is writable by other accounts (mode %o); fix: chmod go-w %s if no one else can have changed what is in it, else start afresh in a directory of your own\n' \
          "$dir" "$mode" "$real"
        return
      fi
    elif [ "$owner" != "$uid" ] && [ "$owner" != 0 ]; then
      echo "$name (on the way to $dir) is owned by $(stat -c %U -- "$name"), who could replace what is below it; $fix_own"
      return
    elif (( (16#$rawmode & 8#170000) == 8#040000 && (mode & 8#022) && !(mode & 8#1000) )); then
      printf '%s (on the way to %s) is writable by other accounts and not sticky (mode %o): they could rename %s and put their own in its place; fix: chmod go-w %s, or use a directory of your own\n' \
        "$name" "$dir" "$mode" "$dir" "$name"
      return
    fi
  done < <(stat -c '%u %f %n' -- "${paths[@]}" 2>/dev/null || true)
}

# The directories whose contents this script runs, reads as keys or trusts as
# its state: the binaries, the keys and tokens, the TLS files, the cluster's.
TRUSTED_SUBDIRS=(bin auth tls cluster)

# check_var [create]: refuses (dies) to use $VAR when another local account
# could change it: it or one of TRUSTED_SUBDIRS not this account's, or
# writable by others, or a binary in $BIN not this account's or writable by
# others (another account would otherwise replace $BIN/lifelong.bin and run
# as the operator, who holds the signing key). With "create", a missing $VAR
# is created here, mode 700 (mkdir fails if another account makes it first,
# and the check then refuses theirs). Without it, a missing $VAR passes
# (there is nothing to run or read in it).
check_var() {
  local d problem bad
  if [ ! -e "$VAR" ] && [ ! -L "$VAR" ]; then
    [ "${1:-}" = create ] || return 0
    mkdir -p -- "$(dirname -- "$VAR")"
    mkdir -m 700 -- "$VAR" 2>/dev/null || true
  fi
  for d in "$VAR" "${TRUSTED_SUBDIRS[@]/#/$VAR/}"; do
    [ "$d" = "$VAR" ] || [ -e "$d" ] || [ -L "$d" ] || continue
    problem=$(trust_problem "$d")
    [ -z "$problem" ] || die "refusing to use LIFELONG_VAR=$VAR (another account could replace the binaries" \
      "this script runs from $BIN, or read the keys in $AUTH_DIR): $problem"
  done
  if [ -d "$BIN" ]; then
    bad=$(find -H "$BIN" -maxdepth 1 -mindepth 1 \( ! -user "$EUID" -o -perm /022 \) -print -quit 2>/dev/null || true)
    [ -z "$bad" ] || die "refusing to use LIFELONG_VAR=$VAR: $bad is" \
      "$([ -O "$bad" ] && echo "writable by other accounts" || echo "owned by another account")" \
      "(this script runs what is in $BIN); fix: remove it and build again (ops/stack.sh up)"
  fi
  return 0
}

# var_missing: true (with a word on it) when $VAR does not exist, for the
# commands that only look at a stack (status, down): nothing there to look at.
var_missing() {
  [ ! -e "$VAR" ] && [ ! -L "$VAR" ] || return 1
  say "no stack in $VAR (it does not exist; ops/stack.sh up starts one)"
}

any_running() {
  local s
  for s in records catalog recommend; do
    pid_of "$s" >/dev/null && return 0
  done
  return 1
}

# resolve_switch VAR FLAG_FILE REQUESTED WHAT ENV_NAME DEFAULT: sets VAR to
# 0/1 for this run: REQUESTED (the ENV_NAME variable) when set, else the mode
# the running stack was started with ($RUN/FLAG_FILE exists), else DEFAULT. A
# running stack is never switched: that takes `ops/stack.sh down` first.
resolve_switch() {
  local var="$1" file="$RUN/$2" requested="$3" what="$4" env_name="$5" default="$6" running=0 value
  [ -f "$file" ] && running=1
  if ! any_running; then
    rm -f "$file"
    running=""
  fi
  value="${requested:-${running:-$default}}"
  [ "$value" = 1 ] || value=0
  if [ -n "$running" ] && [ "$value" != "$running" ]; then
    die "the running stack was started $([ "$running" = 1 ] && echo with || echo without) $what; run 'ops/stack.sh down' before switching ($env_name=$value)"
  fi
  printf -v "$var" '%s' "$value"
}

# Decides TLS (0/1) for this run (STACK_TLS, see resolve_switch). With TLS,
# the CLI (and the trainer it runs) use the development CA and the client
# certificate.
resolve_tls() {
  resolve_switch TLS tls.on "${STACK_TLS:-}" TLS STACK_TLS 0
  if [ "$TLS" = 1 ]; then
    export LIFELONG_TLS_CA="$TLS_DIR/ca.pem" LIFELONG_TLS_CERT="$TLS_DIR/client.pem" \
      LIFELONG_TLS_KEY="$TLS_DIR/client.key"
  else
    unset LIFELONG_TLS_CA LIFELONG_TLS_CERT LIFELONG_TLS_KEY
  fi
}

# Decides authentication (0/1) for this run (STACK_AUTH, see resolve_switch;
# on unless STACK_AUTH=0); with it on, the CLI (and the trainer it runs) call
# with the operator token, and each service and tool gets a token of its own
# role.
resolve_auth() {
  resolve_switch AUTH auth.on "${STACK_AUTH:-}" authentication STACK_AUTH 1
  if [ "$AUTH" = 1 ]; then
    export LIFELONG_TOKEN_FILE="$AUTH_DIR/operator.token"
  else
    unset LIFELONG_TOKEN_FILE
  fi
}

# The xAPI user of a stack with authentication on (its password is generated).
XAPI_USER=lifelong

# setup_auth: the token keys and the xAPI password (generated once and kept:
# nothing in the repository opens this stack), and fresh tokens for each role
# the stack uses, plus one learner's for the "try" commands. Tokens are
# EdDSA: jwt.key is the Ed25519 private key (the token tools only),
# jwt-verify.pem its public key (every service verifies with it);
# kiosk-session.key signs the sessions kiosks open for a learner (the record
# service alone), kiosk-session.pem verifies them (every service);
# services/auth/token.h. A stack of an earlier version had an HS256 secret in
# jwt.key: replaced, and its tokens minted again below.
setup_auth() {
  # shellcheck disable=SC2174  # -m for AUTH_DIR itself (never group-writable, even for a moment)
  mkdir -p -m 700 "$AUTH_DIR"
  chmod 700 "$AUTH_DIR"
  if ! grep -q "BEGIN PRIVATE KEY" "$AUTH_DIR/jwt.key" 2>/dev/null || [ ! -s "$AUTH_DIR/jwt-verify.pem" ]; then
    "$BIN/mint_token" --new_key_pair="$AUTH_DIR/jwt.key" --public_key_out="$AUTH_DIR/jwt-verify.pem"
  fi
  if [ ! -s "$AUTH_DIR/kiosk-session.key" ] || [ ! -s "$AUTH_DIR/kiosk-session.pem" ]; then
    "$BIN/mint_token" --new_key_pair="$AUTH_DIR/kiosk-session.key" --public_key_out="$AUTH_DIR/kiosk-session.pem"
  fi
  if [ ! -s "$AUTH_DIR/xapi-credentials.txt" ]; then
    # A trusted feed (role loader: may write and read every learner's records).
    private_file "$AUTH_DIR/xapi-credentials.txt" \
      printf '# xAPI Basic credentials generated by ops/stack.sh for this stack only\n%s:%s role=loader\n' \
      "$XAPI_USER" "$(head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_')"
  fi
  [ -f "$AUTH_DIR/revoked.txt" ] || echo "# revoked credentials: jti:<id> or sub:<subject>, one a line" >"$AUTH_DIR/revoked.txt"
  mint_tokens <<ROLES || die "cannot mint the tokens in $AUTH_DIR (see above)"
$SERVICE_TOKENS
operator operator-dev 12h operator.token
learner u000042 12h learner-u000042.token
ROLES
}

# fresh_operator_token: mints operator.token again (12 h) for the commands an
# upgrade runs (the backups before each restart): the one `up` minted has
# expired when the last `up` was more than 12 hours ago. With authentication
# off, nothing.
fresh_operator_token() {
  [ "$AUTH" = 1 ] || return 0
  mint_tokens <<<"operator operator-dev 12h operator.token" ||
    die "not upgrading: cannot mint a fresh operator token in $AUTH_DIR (see above)"
}

# The services' and tools' tokens ("ROLE SUBJECT TTL FILE"): valid 30 days,
# minted by `up` and again every STACK_TOKEN_REFRESH by the token refresher,
# each well before it expires. (The operator's and the learner's, for people
# at a terminal, live 12 hours and are minted by `up` only.)
SERVICE_TOKENS="recommender svc-recommend 720h recommender.token
trainer svc-trainer 720h trainer.token
loader svc-demo-loader 720h loader.token"

# mint_tokens: mints the token of each "ROLE SUBJECT TTL FILE" line on stdin
# into $AUTH_DIR/FILE (private_file: mode 600, renamed into place). One
# minting at a time ($AUTH_DIR/.mint.lock: `up` and the token refresher may
# run together). A token that cannot be minted keeps its file as it was; the
# status is then 1, once every line was tried.
mint_tokens() {
  (
    flock 9
    rc=0
    while read -r role subject ttl file; do
      [ -n "$role" ] || continue
      if ! private_file "$AUTH_DIR/$file" \
        "$BIN/mint_token" --key_file="$AUTH_DIR/jwt.key" --role="$role" --subject="$subject" --ttl="$ttl"; then
        echo "stack: cannot mint $AUTH_DIR/$file (role $role); the file is left as it was" >&2
        rc=1
      fi
    done
    exit "$rc"
  ) 9>>"$AUTH_DIR/.mint.lock"
}

# token_expiry FILE: when the token in FILE expires (its "exp"), as a UTC
# date; "?" when FILE holds no readable token.
token_expiry() {
  local payload exp
  payload=$(cut -d. -f2 <"$1" 2>/dev/null | tr '_-' '/+' || true)
  while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
  exp=$(base64 -d <<<"$payload" 2>/dev/null | grep -o '"exp":[0-9]*' | cut -d: -f2 || true)
  if [ -n "$exp" ]; then date -u -d "@$exp" '+%F %H:%M UTC'; else echo "?"; fi
}

# refresh_tokens_once: one round of the token refresher: the service tokens,
# then the kiosk tokens of ops/web.sh (those its gateways hold). Status 1 when
# any could not be minted (the files keep their tokens, still valid for weeks).
refresh_tokens_once() {
  local rc=0
  mint_tokens <<<"$SERVICE_TOKENS" || rc=1
  "$ROOT/ops/web.sh" refresh-tokens || rc=1
  return "$rc"
}

# token_refresher_loop EVERY: the token refresher's process (`ops/stack.sh
# token-refresher AUTH_DIR`, started by start_token_refresher, stopped with
# SIGTERM by down): a round every EVERY, each logged with the tokens' new
# expiry. A failed round is said in the log and tried again at the next one.
token_refresher_loop() {
  local every="$1" sleeper=""
  trap 'kill "$sleeper" 2>/dev/null || true; say "token refresher stopped"; exit 0' TERM INT
  say "$(date -u +%FT%TZ) token refresher: the service tokens and kiosk tokens in $AUTH_DIR are minted again every $every"
  while true; do
    sleep "$every" &
    sleeper=$!
    wait "$sleeper" || true
    if refresh_tokens_once; then
      say "$(date -u +%FT%TZ) re-minted the service and kiosk tokens; recommender.token valid until $(token_expiry "$AUTH_DIR/recommender.token")"
    else
      say "$(date -u +%FT%TZ) FAILED to re-mint some tokens (above); trying again in $every"
    fi
  done
}

# start_token_refresher: with authentication on, the token refresher
# (token_refresher_loop) as service "token-refresher", unless it runs or
# STACK_TOKEN_REFRESH=0.
start_token_refresher() {
  local every="${STACK_TOKEN_REFRESH:-24h}" pid
  [ "$AUTH" = 1 ] || return 0
  if [[ "$every" =~ ^0+(\.0*)?[smhd]?$ ]]; then
    say "no token refresher (STACK_TOKEN_REFRESH=0): the service and kiosk tokens expire 30 days after this up"
    return
  fi
  [[ "$every" =~ ^[0-9]+(\.[0-9]+)?[smhd]?$ ]] ||
    die "STACK_TOKEN_REFRESH: a duration such as 24h, 30m or 0 (off), got '$every'"
  if pid=$(pid_of token-refresher); then
    say "token refresher already running (pid $pid)"
    return
  fi
  launch "$LOG/token-refresher.log" env LIFELONG_VAR="$VAR" "$ROOT/ops/stack.sh" token-refresher "$AUTH_DIR" "$every"
  echo $! >"$RUN/token-refresher.pid"
  # Until its process is the refresher (pid_of knows it by its command line,
  # which is the forking shell's until nohup, setsid and env have exec'd):
  # a start right after this one must find it running, not start a second.
  local tries=0
  until pid_of token-refresher >/dev/null || [ $((tries += 1)) -gt 100 ]; do sleep 0.1; done
  say "started token refresher (pid $!, service and kiosk tokens minted again every $every; log $LOG/token-refresher.log)"
}

# token_refresher_status: one line on the token refresher and the tokens' expiry.
token_refresher_status() {
  local pid
  [ "$AUTH" = 1 ] || [ -f "$RUN/token-refresher.pid" ] || return 0
  if pid=$(pid_of token-refresher); then
    printf '%-10s pid %-8s %s
' token-refresher "$pid" \
      "every $(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{print $NF}'); recommender.token valid until $(token_expiry "$AUTH_DIR/recommender.token")"
  else
    printf '%-10s not running (STACK_TOKEN_REFRESH=0, or stopped: ops/stack.sh up starts it); recommender.token valid until %s\n' \
      token-refresher "$(token_expiry "$AUTH_DIR/recommender.token")"
  fi
}

# xapi_credentials_file: the --xapi_credentials of records: generated with
# authentication on; the repository's development file (which records_server
# refuses with authentication on) only for an open stack.
xapi_credentials_file() {
  if [ "$AUTH" = 1 ]; then
    echo "$AUTH_DIR/xapi-credentials.txt"
  else
    echo "$ROOT/ops/xapi/dev-credentials.txt"
  fi
}

# xapi_user_pass: user:password of the xAPI endpoint (the first user of its file).
xapi_user_pass() {
  grep -v '^[[:space:]]*#' "$(xapi_credentials_file)" | awk 'NF {print $1; exit}'
}

stack_env_lines() {  # the contents of $VAR/stack.env (write_stack_env)
  echo "# Written by ops/stack.sh up: how to call this stack by hand (source it)."
  echo "# Credentials here are generated for this stack only; keep the file private."
  echo "export LIFELONG_RECORDS=$LIFELONG_RECORDS LIFELONG_CATALOG=$LIFELONG_CATALOG LIFELONG_RECOMMEND=$LIFELONG_RECOMMEND"
  if [ "$AUTH" = 1 ]; then
    echo "export LIFELONG_TOKEN_FILE=$AUTH_DIR/operator.token"
    echo "export LIFELONG_XAPI_BASIC=$(xapi_user_pass)"
  else
    echo "export LIFELONG_XAPI_BASIC=$(xapi_user_pass)"
  fi
  if [ "$TLS" = 1 ]; then
    echo "export LIFELONG_TLS_CA=$TLS_DIR/ca.pem LIFELONG_TLS_CERT=$TLS_DIR/client.pem LIFELONG_TLS_KEY=$TLS_DIR/client.key"
  fi
}

# write_stack_env: $VAR/stack.env, the one place that says how to call this
# stack by hand (`source` it; `ops/stack.sh status` prints it), and the CLI
# wrapper $BIN/lifelong that applies it, so that the printed commands work as
# written in any shell.
write_stack_env() {
  # Mode 600 from its creation: it holds the xAPI password.
  private_file "$VAR/stack.env" stack_env_lines
  # The CLI wrapper: this stack's settings unless the caller set their own.
  {
    echo '#!/bin/sh'
    echo "# Written by ops/stack.sh up: the CLI ($BIN/lifelong.bin) with this stack's settings"
    echo "# ($VAR/stack.env) unless the environment sets its own."
    if [ "$AUTH" = 1 ]; then
      echo "[ -n \"\${LIFELONG_TOKEN_FILE:-}\${LIFELONG_TOKEN:-}\" ] || export LIFELONG_TOKEN_FILE=$AUTH_DIR/operator.token"
    fi
    if [ "$TLS" = 1 ]; then
      echo ": \"\${LIFELONG_TLS_CA:=$TLS_DIR/ca.pem}\" \"\${LIFELONG_TLS_CERT:=$TLS_DIR/client.pem}\" \"\${LIFELONG_TLS_KEY:=$TLS_DIR/client.key}\""
      echo "export LIFELONG_TLS_CA LIFELONG_TLS_CERT LIFELONG_TLS_KEY"
    fi
    echo ": \"\${LIFELONG_RECORDS:=$LIFELONG_RECORDS}\" \"\${LIFELONG_CATALOG:=$LIFELONG_CATALOG}\" \"\${LIFELONG_RECOMMEND:=$LIFELONG_RECOMMEND}\""
    echo "export LIFELONG_RECORDS LIFELONG_CATALOG LIFELONG_RECOMMEND"
    # `lifelong train` (the runbooks' "train one by hand") runs this stack's trainer.
    echo ": \"\${LIFELONG_TRAINER:=$BIN/train}\"; export LIFELONG_TRAINER"
    echo "exec $BIN/lifelong.bin \"\$@\""
  } >"$BIN/lifelong.new"
  chmod 755 "$BIN/lifelong.new"
  mv -f "$BIN/lifelong.new" "$BIN/lifelong"
}

# server_auth_flags SERVICE: every service verifies with the public keys; the
# record service also gets the kiosk-session private key (it mints kiosk
# sessions, and nothing else: no service holds jwt.key).
server_auth_flags() {
  [ "$AUTH" = 1 ] || return 0
  local session="$AUTH_DIR/kiosk-session.pem"
  [ "${1:-}" = records ] && session="$AUTH_DIR/kiosk-session.key"
  echo "--auth_key_file=$AUTH_DIR/jwt-verify.pem --auth_session_key_file=$session" \
    "--auth_revocation_file=$AUTH_DIR/revoked.txt"
}

# server_tls_flags NAME: the TLS flags of service NAME (none without TLS).
server_tls_flags() {
  [ "$TLS" = 1 ] || return 0
  echo "--tls_cert=$TLS_DIR/$1.pem --tls_key=$TLS_DIR/$1.key --tls_ca=$TLS_DIR/ca.pem --tls_require_client_cert"
}

# flag_value NAME DEFAULT FLAGS...: the value of --NAME=V in FLAGS, else DEFAULT.
flag_value() {
  local name="$1" value="$2" f
  shift 2
  for f in "$@"; do
    case "$f" in --"$name"=*) value="${f#*=}" ;; esac
  done
  echo "$value"
}

port_busy() {  # true if something listens on TCP port $1
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# binary_names: the files build() installs in $BIN (the CLI as lifelong.bin).
binary_names() {
  local t rel name
  for t in "${TARGETS[@]}"; do
    rel="${t#//}"
    name="$(basename "${rel/://}")"
    [ "$name" = lifelong ] && name=lifelong.bin
    echo "$name"
  done
}

# services_of_program NAME: the services that run binary NAME of $BIN, whose
# running executable is the one to keep (ops/cluster.sh overrides it for its
# nodes).
services_of_program() {
  case "$1" in
    records_server) echo records ;;
    catalog_server) echo catalog ;;
    recommend_server) echo recommend ;;
    lifelong.bin) echo trainer ;;
  esac
}

PREVIOUS="$BIN/previous"  # the binaries before the last upgrade or build that replaced them
# Present while an upgrade has begun and not finished: $PREVIOUS then holds
# what ran before it and is kept as it is.
UPGRADE_UNFINISHED="$PREVIOUS/UPGRADE-UNFINISHED"

# keep_previous_binaries WHY: copies the binaries this stack runs now into
# $PREVIOUS, replacing what was there (through $PREVIOUS.new and a rename):
# for a server, the executable of its running process (/proc/PID/exe: what
# runs, even when $BIN was replaced since it started), else the file in $BIN.
# $PREVIOUS/SOURCES says where each came from; $PREVIOUS/BACKUPS starts empty
# (upgrades add the backup each store gets before its restart).
keep_previous_binaries() {
  local why="$1" dir="$PREVIOUS.new" name src from s pid
  rm -rf "$dir"
  mkdir -m 755 "$dir"
  echo "# The binaries this stack ran before: $why, $(date -u +%FT%TZ). Rolling back: docs/stack.md or" \
    "docs/replication.md, \"Rolling back an upgrade\"." >"$dir/SOURCES"
  for name in $(binary_names); do
    src="$BIN/$name"
    from="$src"
    for s in $(services_of_program "$name"); do
      if pid=$(pid_of "$s"); then
        src="/proc/$pid/exe"
        from="the running $s (pid $pid)"
        break
      fi
    done
    [ -f "$src" ] || continue
    cp "$src" "$dir/$name"
    chmod 755 "$dir/$name"
    echo "$name: from $from" >>"$dir/SOURCES"
  done
  : >"$dir/BACKUPS"
  rm -rf "$PREVIOUS"
  mv "$dir" "$PREVIOUS"
}

# build: the binaries of TARGETS into $BIN (copies, renamed into place).
# Before it replaces binaries that differ from the new ones, they are kept in
# $PREVIOUS (keep_previous_binaries), unless PREVIOUS_KEPT=1 (the upgrade
# kept them itself) or an unfinished upgrade's are there.
build() {
  if [ "${STACK_SKIP_BUILD:-0}" = 1 ]; then
    # Binaries from before the CLI wrapper: the CLI itself moves to lifelong.bin.
    if [ ! -x "$BIN/lifelong.bin" ] && [ -x "$BIN/lifelong" ] && ! head -c 2 "$BIN/lifelong" | grep -q '#!'; then
      mv -f "$BIN/lifelong" "$BIN/lifelong.bin"
    fi
    [ -x "$BIN/lifelong.bin" ] || die "STACK_SKIP_BUILD=1 but $BIN has no binaries"
    say "using the binaries in $BIN (STACK_SKIP_BUILD=1)"
    return
  fi
  step "building ${TARGETS[*]}"
  # shellcheck disable=SC2086
  "$BAZEL" build ${BAZEL_BUILD_FLAGS:-} "${TARGETS[@]}"
  local bin_dir t rel name changed=0
  # shellcheck disable=SC2086  # BAZEL_BUILD_FLAGS: several flags
  bin_dir="$("$BAZEL" info ${BAZEL_BUILD_FLAGS:-} bazel-bin 2>/dev/null)"
  [ -d "$BIN" ] || mkdir -m 755 "$BIN"
  for t in "${TARGETS[@]}"; do
    rel="${t#//}"
    rel="${rel/://}"
    name="$(basename "$rel")"
    [ "$name" = lifelong ] && name=lifelong.bin
    if [ -f "$BIN/$name" ] && ! cmp -s "$bin_dir/$rel" "$BIN/$name"; then changed=1; fi
  done
  if [ "$changed" = 1 ] && [ "${PREVIOUS_KEPT:-0}" != 1 ] && [ ! -f "$UPGRADE_UNFINISHED" ]; then
    keep_previous_binaries "replaced by the build of ops/stack.sh"
    say "the binaries this build replaces are kept in $PREVIOUS"
  fi
  # Copies, so that later builds in the work tree never touch running binaries.
  for t in "${TARGETS[@]}"; do
    rel="${t#//}"
    rel="${rel/://}"
    name="$(basename "$rel")"
    # The CLI binary sits behind a wrapper with this stack's settings (write_stack_env).
    [ "$name" = lifelong ] && name=lifelong.bin
    install -m 0755 "$bin_dir/$rel" "$BIN/$name.new"
    mv -f "$BIN/$name.new" "$BIN/$name"
  done
  step_done "build"
}

# launch LOG COMMAND...: starts COMMAND in the background in a session of its
# own, output appended to LOG, with umask 077: every file it creates (RocksDB
# tables, backups, JetStream files, a new LOG) is for this account only. $! is
# its pid.
launch() {
  local log="$1" mask
  shift
  mask=$(umask)
  umask 077
  nohup setsid "$@" >>"$log" 2>&1 </dev/null &
  umask "$mask"
}

# start NAME PORT ARGS...: starts a service unless it is already running.
start() {
  local name="$1" port="$2"
  shift 2
  local pid
  if pid=$(pid_of "$name"); then
    say "$name already running (pid $pid, $HOST:$port)"
    return
  fi
  if port_busy "$port"; then
    die "port $port is taken by another process (not ours: no live $RUN/$name.pid); stop it or set LIFELONG_${name^^}_PORT"
  fi
  launch "$LOG/$name.log" "$BIN/$(program_of "$name")" --host="$HOST" --port="$port" "$@"
  echo $! >"$RUN/$name.pid"
  say "started $name (pid $!, $HOST:$port, log $LOG/$name.log)"
}

# wait_serving TIMEOUT SERVICE...: waits until the services report SERVING.
wait_serving() {
  local timeout="$1"
  shift
  if ! lifelong health "$@" --wait="$timeout" >"$RUN/health.out" 2>&1; then
    cat "$RUN/health.out" >&2
    for s in "$@"; do
      if ! pid_of "$s" >/dev/null; then
        echo "--- $s exited; last lines of $LOG/$s.log:" >&2
        tail -n 20 "$LOG/$s.log" >&2 || true
      fi
    done
    die "not SERVING after $timeout: $*"
  fi
}

has_model() {
  compgen -G "$VAR/models/[0-9]*/MANIFEST.json" >/dev/null
}

# claim_demo_store DIR...: called before the record store's directories are
# created; when none of them exists yet, the store is this script's own and
# may take the demo district (DEMO_STORE_MARKER).
claim_demo_store() {
  local d
  for d in "$@"; do
    [ ! -e "$d" ] || return 0
  done
  [ "${STACK_SKIP_DEMO:-0}" = 1 ] || (umask 077 && echo "created by ops/ for the demo district $(date -u +%FT%TZ)"     >"$DEMO_STORE_MARKER")
}

load_demo() {
  local marker="$RUN/demo.done"
  local want="seed=$DEMO_SEED learners=$DEMO_LEARNERS courses=$DEMO_COURSES"
  if [ "${STACK_SKIP_DEMO:-0}" = 1 ]; then
    say "not loading the demo district (STACK_SKIP_DEMO=1)"
    return
  fi
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
    say "demo district already loaded ($want)"
    return
  fi
  # Only into a store created for it (or one that already holds it, from
  # before the marker existed): demo learners and their known card PINs in
  # real records would let anyone with this repository sign in as them.
  if [ ! -f "$DEMO_STORE_MARKER" ] && [ ! -f "$marker" ] && [ "${STACK_DEMO:-}" != force ]; then
    say "not loading the demo district: the record store in $VAR was not created by this script for the demo"
    say "  (a real store?); STACK_SKIP_DEMO=1 to say so, STACK_DEMO=force to load the demo into it anyway"
    return
  fi
  step "loading the demo district ($want)"
  local tls_flags=()
  if [ "$TLS" = 1 ]; then
    tls_flags=(--tls_ca="$LIFELONG_TLS_CA" --tls_cert="$LIFELONG_TLS_CERT" --tls_key="$LIFELONG_TLS_KEY")
  fi
  if [ "$AUTH" = 1 ]; then
    tls_flags+=(--token_file="$AUTH_DIR/loader.token")
  fi
  # umask 077: the card list holds the demo learners' PINs.
  (umask 077 && "$BIN/demo_loader" ${tls_flags[@]+"${tls_flags[@]}"} --records="$LIFELONG_RECORDS" \
      --catalog="$LIFELONG_CATALOG" --learners="$DEMO_LEARNERS" --courses="$DEMO_COURSES" --seed="$DEMO_SEED" \
      --parallel="$DEMO_PARALLEL" --checkpoint="$RUN/demo.checkpoint" --cards_file="$RUN/demo-cards.tsv" \
      --allow_demo_data)
  echo "$want" >"$marker"
  DEMO_LOADED=1
  step_done "demo load"
}

DEMO_LOADED=0  # set by load_demo when this run loaded (or finished loading) the demo district

# backup_after_demo: when this run loaded the demo district (DEMO_LOADED=1),
# one backup of the record store and one of the catalog, taken by their
# running servers as backup_before_restart takes its own (`lifelong backup
# create --server`, the operator's token), whether or not backups are
# scheduled. The servers started before the load: the schedule's first
# backup (at start) holds empty stores, and its next comes
# STACK_BACKUP_INTERVAL [6h] later. One progress line says what was taken.
# A backup that fails does not fail up (a warning names the command to run by
# hand): the demo district is in the running stores, and it can be loaded
# again from its seed (deterministic ids); failing here would leave the
# recommender, the trainer and the web gateway unstarted for want of a copy
# of data that can be made again, and a re-run of up would not retry it (the
# demo is then loaded already).
backup_after_demo() {
  [ "$DEMO_LOADED" = 1 ] || return 0
  STEP_START=$(date +%s.%N)
  local service address dir out id count taken=()
  for service in records catalog; do
    if [ "$service" = records ]; then
      address="$LIFELONG_RECORDS" dir="$VAR/records-backups"
    else
      address="$LIFELONG_CATALOG" dir="$VAR/catalog-backups"
    fi
    if out=$(lifelong backup create --service="$service" --server="$address" --json 2>&1) &&
      id=$(grep -o '"backup_id":[0-9]*' <<<"$out" | head -n 1 | cut -d: -f2) && [ -n "$id" ]; then
      count=$(grep -o '"\(statements\|courses\)":[0-9]*' <<<"$out" | head -n 1 | sed 's/"\(.*\)":\(.*\)/\2 \1/' || true)
      taken+=("$service backup $id${count:+ ($count)} in $dir")
    else
      printf 'stack: warning: no backup of %s after the demo load (%s): until one is taken, no backup holds the demo district; take one by hand: %s backup create --service=%s\n' \
        "$service" "$out" "$BIN/lifelong" "$service" >&2
    fi
  done
  [ "${#taken[@]}" = 0 ] || say "backed up the demo district: $(printf '%s, ' "${taken[@]}" | sed 's/, $//')"
  step_done "backup after demo"
}

train_first_model() {
  if has_model; then
    say "a model is on disk ($(find "$VAR/models" -mindepth 1 -maxdepth 1 -name '[0-9]*' -printf '%f\n' | sort -n | paste -sd " "))"
    return
  fi
  if [ "${STACK_SKIP_DEMO:-0}" = 1 ]; then
    say "no model and no demo data: the recommender stays NOT_SERVING until the trainer (the schedule, once there are records) or 'lifelong train' writes one"
    return
  fi
  step "training the first model (records export + catalog dump -> $VAR/models)"
  local token_flags=()
  [ "$AUTH" = 1 ] && token_flags=(--token_file="$AUTH_DIR/trainer.token")
  # umask 077: the model holds what was learnt of every learner.
  # shellcheck disable=SC2086
  (umask 077 && lifelong train ${token_flags[@]+"${token_flags[@]}"} --model_root="$VAR/models" -- ${STACK_TRAIN_FLAGS:-})
  step_done "training"
}

# trainer_status: one line on the retraining schedule and its latest word.
trainer_status() {
  local pid
  if pid=$(pid_of trainer); then
    printf '%-10s pid %-8s %s\n' trainer "$pid" \
      "$(grep '^train: \(training now\|up to date\|failed\|done\)' "$LOG/trainer.log" 2>/dev/null | tail -n 1)"
  else
    printf '%-10s not running (STACK_TRAIN_INTERVAL=0, or stopped: ops/stack.sh up starts it)\n' trainer
  fi
}

# start_trainer: the retraining schedule (`lifelong train --every`, service
# "trainer"): a new model when the newest is STACK_TRAIN_INTERVAL old, and
# within STACK_TRAIN_CHECK of every erasure, so that the served model forgets
# an erased learner (docs/recommend.md "Scheduled retraining"). Not started
# with STACK_TRAIN_INTERVAL=0.
start_trainer() {
  local every="${STACK_TRAIN_INTERVAL:-24h}" pid
  if [[ "$every" =~ ^0+(\.0*)?[a-z]*$ ]]; then  # 0, 0h, 0s, ...
    say "no scheduled retraining (STACK_TRAIN_INTERVAL=0): run 'lifelong train' after every erasure"
    return
  fi
  if pid=$(pid_of trainer); then
    say "trainer already running (pid $pid)"
    return
  fi
  [ -x "$BIN/train" ] || die "no trainer binary $BIN/train for the retraining schedule (STACK_TRAIN_INTERVAL=0 to go without)"
  local token_flags=()
  [ "$AUTH" = 1 ] && token_flags=(--token_file="$AUTH_DIR/trainer.token")
  # umask 077 (launch): the models hold what was learnt of every learner.
  # shellcheck disable=SC2086
  launch "$LOG/trainer.log" "$BIN/lifelong.bin" train ${token_flags[@]+"${token_flags[@]}"} \
    --model_root="$VAR/models" --every="$every" --check_every="${STACK_TRAIN_CHECK:-1m}" -- ${STACK_TRAIN_FLAGS:-}
  echo $! >"$RUN/trainer.pid"
  say "started trainer (pid $!, retrains every $every and after erasures; log $LOG/trainer.log)"
}

# is_loopback ADDRESS: true for an address of this machine only.
is_loopback() {
  case "$1" in 127.* | ::1 | "[::1]" | localhost) return 0 ;; esac
  return 1
}

# records_xapi_host: the address up gives records_server's xAPI port
# (--xapi_host, before RECORDS_FLAGS, which may set another). LIFELONG_HOST
# when it is a loopback address, or when the stack runs with TLS and
# authentication (the Basic password is this stack's own and crosses the
# network encrypted); otherwise the loopback: an open stack's xAPI takes the
# repository's published dev password, and without TLS any password and every
# statement would cross the network in clear (docs/stack.md, "LIFELONG_HOST").
records_xapi_host() {
  if is_loopback "$HOST" || { [ "$TLS" = 1 ] && [ "$AUTH" = 1 ]; }; then echo "$HOST"; else echo 127.0.0.1; fi
}

# records_listen_flags: the records flags that choose where its xAPI and
# /metrics listen (what how_to_call prints). /metrics stays on records_server's
# default, the loopback (docs/observability.md): it has no authentication
# without TLS; --metrics_host in RECORDS_FLAGS moves it.
records_listen_flags() { echo "--xapi_host=$(records_xapi_host)"; }

# records_flag NAME DEFAULT: the value records_server gets for --NAME:
# RECORDS_FLAGS' when it sets one (they come last), else what up passes
# (records_listen_flags), else DEFAULT (records_server's own default).
records_flag() {
  # shellcheck disable=SC2046,SC2086  # the flag lists split into flags
  flag_value "$1" "$2" $(records_listen_flags) ${RECORDS_FLAGS:-}
}

# how_to_call: every way of calling this stack by hand (issue #20): the CLI,
# the tokens, xAPI with curl, gRPC with grpcurl, /metrics, each at the address
# it listens on.
how_to_call() {
  local xapi_port metrics_port xapi_host metrics_host scheme=http curl_tls="" metrics_tls="" grpc_tls="-plaintext " bearer=""
  xapi_port=$(records_flag xapi_port 8080)
  metrics_port=$(records_flag metrics_port 9001)
  xapi_host=$(records_flag xapi_host 127.0.0.1)
  metrics_host=$(records_flag metrics_host 127.0.0.1)
  if [ "$TLS" = 1 ]; then
    scheme=https
    curl_tls="--cacert $TLS_DIR/ca.pem "
    metrics_tls="--cacert $TLS_DIR/ca.pem --cert $TLS_DIR/client.pem --key $TLS_DIR/client.key "
    grpc_tls="-cacert $TLS_DIR/ca.pem -cert $TLS_DIR/client.pem -key $TLS_DIR/client.key "
  fi
  [ "$AUTH" = 1 ] && bearer="-H \"authorization: Bearer \$(cat $AUTH_DIR/operator.token)\" "
  echo "Calling the stack by hand (all settings in $VAR/stack.env: 'source' it for your own tools):"
  echo "  CLI    $BIN/lifelong <command>   (docs/cli.md; calls with this stack's token and certificates)"
  if [ "$AUTH" = 1 ]; then
    echo "  auth   on: bearer tokens (JWT, EdDSA) in $AUTH_DIR, generated for this stack:"
    echo "           operator.token (operator-dev, 12 h; the CLI's)   learner-u000042.token (learner u000042, 12 h)"
    echo "           recommender.token  trainer.token  loader.token (the services' and tools', 30 days;"
    echo "           minted again every day by the token refresher: ops/stack.sh status shows it)"
    echo "         another learner's:  $BIN/mint_token --key_file=$AUTH_DIR/jwt.key --role=learner --subject=u000007"
    echo "         revoke one:         echo sub:u000007 >>$AUTH_DIR/revoked.txt   (in force within a second)"
    echo "         xAPI Basic user (role loader) in $AUTH_DIR/xapi-credentials.txt"
  else
    echo "  auth   OFF (STACK_AUTH=0): every caller is trusted; xAPI takes the repository's dev password"
  fi
  if [ "$xapi_port" = -1 ]; then
    echo "  xAPI   off (--xapi_port=-1)"
  else
    echo "  xAPI   curl ${curl_tls}-u '$(xapi_user_pass)' -H 'X-Experience-API-Version: 2.0.0' '$scheme://$xapi_host:$xapi_port/xapi/statements?limit=5'"
    if [ "$xapi_host" != "$HOST" ] && ! is_loopback "$HOST"; then
      echo "         (on the loopback only: on $HOST with STACK_TLS=1 and authentication on, else its password and the"
      echo "         statements would cross the network in clear; docs/stack.md, \"LIFELONG_HOST\")"
    fi
  fi
  echo "  gRPC   grpcurl ${grpc_tls}${bearer}$LIFELONG_RECORDS list   (server reflection; also $LIFELONG_CATALOG, $LIFELONG_RECOMMEND)"
  echo "  /metrics  curl ${metrics_tls}$scheme://$metrics_host:$metrics_port/metrics"
  if [ "$metrics_host" != "$HOST" ] && ! is_loopback "$HOST"; then
    echo "         (on the loopback, records_server's default; --metrics_host in RECORDS_FLAGS moves it)"
  fi
}

summary() {
  local total
  total=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  echo
  say "the district's network is up (${total}s)"
  printf '  %-10s %-22s %-8s %s\n' SERVICE ADDRESS PID LOG
  for s in records catalog recommend; do
    local port_var="${s^^}_PORT"
    printf '  %-10s %-22s %-8s %s\n' "$s" "$HOST:${!port_var}" "$(pid_of "$s" || echo -)" "$LOG/$s.log"
  done
  echo "  data: $VAR/records  $VAR/catalog  $VAR/models      pids: $RUN"
  [ "${STACK_SKIP_WEB:-0}" = 1 ] || "$ROOT/ops/web.sh" urls  # web gateway: kiosk and app URLs
  if [ "$AUTH" = 1 ]; then
    echo "  auth: on (bearer tokens on every call; keys, tokens, xAPI credentials in $AUTH_DIR)"
  else
    echo "  auth: OFF (STACK_AUTH=0): every caller is trusted"
  fi
  if [ "$TLS" = 1 ]; then
    echo "  TLS: every port, mutual TLS on gRPC and /metrics (also between the services);"
    echo "       development CA and certificates in $TLS_DIR (ops/dev-ca.sh)"
  fi
  if [ "${#TIMINGS[@]}" -gt 0 ]; then
    echo "  timings:"
    printf '    %s\n' "${TIMINGS[@]}"
  fi
  echo
  how_to_call
  echo
  local transcript="$BIN/lifelong transcript u000042"
  # A transcript is the learner's own (docs/security.md): read it with their token.
  [ "$AUTH" = 1 ] && transcript="LIFELONG_TOKEN_FILE=$AUTH_DIR/learner-u000042.token $transcript"
  cat <<EOF
Try (the CLI is $BIN/lifelong; docs/cli.md):
  $BIN/lifelong recommend u000042 -k 5
  $BIN/lifelong recommend u000042 --kiosk hepingli-sqxx --open_now
  $transcript
  $BIN/lifelong courses list --xuequ 和平里学区 --category 老年教育
  $BIN/lifelong similar c00001 -k 5

Everything above again: ops/stack.sh status.  Stop everything with: ops/stack.sh down
EOF
}

# start_recommend NAME PORT [FLAG...]: a recommend_server as service NAME on
# PORT, reading $VAR/models and the records and catalog addresses; FLAGs
# after RECOMMEND_FLAGS (ops/cluster.sh gives each node its metrics port).
start_recommend() {
  local name="$1" port="$2"
  shift 2
  # shellcheck disable=SC2046,SC2086
  start "$name" "$port" --model_dir="$VAR/models" \
      --records="$LIFELONG_RECORDS" --catalog="$LIFELONG_CATALOG" $(server_tls_flags recommend) \
      $(server_auth_flags recommend) $( [ "$AUTH" = 1 ] && echo "--token_file=$AUTH_DIR/recommender.token") \
      ${RECOMMEND_FLAGS:-} "$@"
}

# start_recommend_and_web: the recommender on the records and catalog
# addresses (a first model is trained before), then start_trainer_and_web.
start_recommend_and_web() {
  step "starting recommend"
  start_recommend recommend "$RECOMMEND_PORT"
  if has_model; then
    wait_serving 180s records catalog recommend
  else
    say "recommend reports NOT_SERVING until a model exists"
  fi
  step_done "start recommend"
  start_trainer_and_web
}

# start_trainer_and_web: the retraining schedule, then the web gateway unless
# STACK_SKIP_WEB=1 (ops/cluster.sh starts its two gateways itself).
start_trainer_and_web() {
  start_trainer
  # --- web gateway (ops/web.sh, docs/web.md) ---
  if [ "${STACK_SKIP_WEB:-0}" != 1 ]; then
    step "starting the web gateway (kiosk and app)"
    "$ROOT/ops/web.sh" up || say "the web gateway did not start (see above; the gRPC services are up)"
    step_done "start web"
  fi
  # --- end web gateway ---
}

up() {
  trap 'echo "stack: up failed at line $LINENO; services already started keep running (ops/stack.sh status);" \
      "logs in $LOG; re-running ops/stack.sh up resumes" >&2' ERR
  step "bootstrap (Debian packages)"
  "$ROOT/ops/bootstrap.sh"
  build
  mkdir -p "$RUN"
  # The services' logs name learners, client addresses and venues: for this
  # account only (each is created mode 600 by launch; this also covers logs an
  # earlier version left readable).
  private_dir "$LOG"
  claim_demo_store "$VAR/records"
  # Statements, PIN hashes, xAPI documents, backups: this account's only.
  private_dir "$VAR/records" "$VAR/records-backups" "$VAR/catalog" "$VAR/catalog-backups" "$VAR/models"
  [ ! -d "$VAR/xapi-documents" ] || private_dir "$VAR/xapi-documents"
  resolve_tls
  resolve_auth
  if [ "$AUTH" = 1 ]; then
    step "signing key, service tokens and xAPI credentials for this stack (authentication on; STACK_AUTH=0 for an open stack)"
    setup_auth
    touch "$RUN/auth.on"
    start_token_refresher
    step_done "auth"
  else
    say "authentication OFF (STACK_AUTH=0): every caller is trusted; for experiments only"
  fi
  if [ "$TLS" = 1 ]; then
    step "development CA and certificates (STACK_TLS=1)"
    "$ROOT/ops/dev-ca.sh" "$TLS_DIR" >/dev/null
    touch "$RUN/tls.on"
    step_done "dev CA"
  fi
  write_stack_env
  step "starting records and catalog"
  # shellcheck disable=SC2046,SC2086  # the flag lists split into flags
  start records "$RECORDS_PORT" --data_dir="$VAR/records" --xapi_documents_dir="$VAR/xapi-documents" \
    --backup_dir="$VAR/records-backups" --backup_interval="${STACK_BACKUP_INTERVAL:-6h}" \
    --backup_keep="${STACK_BACKUP_KEEP:-28}" \
    --xapi_credentials="$(xapi_credentials_file)" $(server_tls_flags records) $(server_auth_flags records) \
    $(records_listen_flags) ${RECORDS_FLAGS:-}
  # shellcheck disable=SC2046,SC2086  # the flag lists split into flags
  start catalog "$CATALOG_PORT" --data_dir="$VAR/catalog" \
    --backup_dir="$VAR/catalog-backups" --backup_interval="${STACK_BACKUP_INTERVAL:-6h}" \
    --backup_keep="${STACK_BACKUP_KEEP:-28}" \
    $(server_tls_flags catalog) $(server_auth_flags catalog) ${CATALOG_FLAGS:-}
  wait_serving 60s records catalog
  step_done "start records+catalog"
  load_demo
  backup_after_demo
  train_first_model
  start_recommend_and_web
  summary
}

# ---- upgrades with a way back (ops/stack.sh upgrade; ops/cluster.sh upgrade) ----

# begin_upgrade WHAT: keeps the binaries that run now in $PREVIOUS (those of
# an upgrade that began and did not finish, when there are some: they are what
# ran before it) and marks an upgrade as begun (UPGRADE_UNFINISHED).
begin_upgrade() {
  if [ -f "$UPGRADE_UNFINISHED" ]; then
    say "an upgrade began and did not finish ($(head -n 1 "$UPGRADE_UNFINISHED")): keeping the binaries from before it in $PREVIOUS"
  else
    keep_previous_binaries "before $1"
    echo "$1, begun $(date -u +%FT%TZ)" >"$UPGRADE_UNFINISHED"
    say "the binaries running now are kept in $PREVIOUS (rolling back: docs/stack.md, docs/replication.md)"
  fi
}

# backup_before_restart SERVICE NAME ADDRESS BACKUP_DIR: a backup of the store
# of NAME (records or catalog, per SERVICE), taken by its running server at
# ADDRESS (`lifelong backup create --server`, the operator's token): the
# store as the binary that runs now wrote it, before a new one opens and
# perhaps migrates it (a records_server of schema 2 refuses a store of
# schema 3). Noted in $PREVIOUS/BACKUPS. Dies (before NAME is restarted) when
# no backup can be taken.
backup_before_restart() {
  local service="$1" name="$2" address="$3" dir="$4" out id
  if ! out=$(lifelong backup create --service="$service" --server="$address" --json 2>&1); then
    die "not restarting $name: no backup of its store before the new binary opens it ($out)"
  fi
  id=$(grep -o '"backup_id":[0-9]*' <<<"$out" | head -n 1 | cut -d: -f2)
  [ -n "$id" ] || die "not restarting $name: lifelong backup create printed no backup id: $out"
  echo "$name: backup $id in $dir ($service; taken $(date -u +%FT%TZ), before its restart)" >>"$PREVIOUS/BACKUPS"
  say "$name: backup $id of its store taken before its restart (in $dir)"
}

# finish_upgrade: the upgrade is done (UPGRADE_UNFINISHED removed); says how
# to go back: the binaries kept and the backups taken before each restart.
finish_upgrade() {
  rm -f "$UPGRADE_UNFINISHED"
  echo
  echo "  rolling back: the binaries from before the upgrade are in $PREVIOUS; the backups taken before each restart:"
  sed 's/^/    /' "$PREVIOUS/BACKUPS"
  echo "    (steps: docs/$1, \"Rolling back an upgrade\")"
}

# web_gateway_pid: the pid of the web gateway when one runs (ops/web.sh status).
web_gateway_pid() {
  "$ROOT/ops/web.sh" status 2>/dev/null | awk '$2 == "pid" && $3 ~ /^[0-9]+$/ {print $3; f = 1} END {exit !f}'
}

# The settings of ops/web.sh that are the gateway's own (the stack's
# addresses are not: the gateway follows the services).
WEB_OWN_SETTINGS=(LIFELONG_WEB_PORT WEB_KIOSK_VENUES WEB_KIOSK_CLIENTS WEB_KIOSK_LOOPBACK WEB_KIOSK_HOSTS
  WEB_FLAGS WEB_HTTPS WEB_NAME WEB_LISTEN_PORT WEB_PROXY_FROM)

# web_gateway_env PID: sets WEB_ENV to an `env` command line that runs
# ops/web.sh with the settings the gateway of pid PID was started with.
# ops/web.sh keeps them nowhere but in its environment, which the gateway
# inherited: /proc/PID/environ holds each of WEB_OWN_SETTINGS it had (every
# other is unset, whatever this run's environment says); LIFELONG_VAR,
# LIFELONG_HOST and the services' ports are this run's (where the services
# listen). Status 1 when PID's environment cannot be read.
WEB_ENV=()
web_gateway_env() {
  local pid="$1" kv name had=" " unset=() own=()
  while IFS= read -r -d '' kv; do
    name="${kv%%=*}"
    if [[ " ${WEB_OWN_SETTINGS[*]} " == *" $name "* ]]; then
      own+=("$kv")
      had+="$name "
    fi
  done <"/proc/$pid/environ" || return 1
  for name in "${WEB_OWN_SETTINGS[@]}"; do
    [[ "$had" == *" $name "* ]] || unset+=(-u "$name")
  done
  WEB_ENV=(env "${unset[@]}" LIFELONG_VAR="$VAR" LIFELONG_HOST="$HOST" LIFELONG_RECORDS_PORT="$RECORDS_PORT"
    LIFELONG_CATALOG_PORT="$CATALOG_PORT" LIFELONG_RECOMMEND_PORT="$RECOMMEND_PORT" ${own[@]+"${own[@]}"})
}

# restart_web_gateway PID: the web gateway (pid PID) stopped and started
# again (ops/web.sh down && ops/web.sh up) with the settings it was started
# with (web_gateway_env; this run's when they cannot be read), on the code in
# services/web now. A gateway that does not come back is a warning: the
# services are upgraded already.
restart_web_gateway() {
  local pid="$1" settings="the settings it was started with"
  if ! web_gateway_env "$pid" 2>/dev/null; then
    settings="this run's settings (its own, in /proc/$pid/environ, cannot be read)"
    WEB_ENV=(env LIFELONG_VAR="$VAR")
  fi
  say "restarting the web gateway (pid $pid) on the new code, with $settings (ops/web.sh down && ops/web.sh up)"
  if ! { "${WEB_ENV[@]}" "$ROOT/ops/web.sh" down && "${WEB_ENV[@]}" "$ROOT/ops/web.sh" up; }; then
    printf 'stack: warning: the web gateway did not restart (see above; the services are upgraded): ops/web.sh up, with its settings (docs/web.md)\n' >&2
  fi
}

# stack_upgrade: the single-node stack on new binaries, keeping a way back:
# the binaries that run now kept in $PREVIOUS, backups of the record store
# and the catalog taken by the running (old) servers, then the services
# stopped and started again on the new binaries (a short stop, as down && up),
# then the web gateway, when one ran, restarted after them on the new code
# (restart_web_gateway). Refused unless records runs (the backup needs it).
stack_upgrade() {
  local web_pid="" skip_web="${STACK_SKIP_WEB:-0}"
  resolve_tls
  resolve_auth
  pid_of records >/dev/null ||
    die "not upgrading: records is not running (ops/stack.sh up first: the backup a rollback restores is taken by the running records_server, before a new binary opens and migrates its store)"
  # A running gateway is left to restart_web_gateway (up would find it running and keep it).
  if web_pid=$(web_gateway_pid); then skip_web=1; else web_pid=""; fi
  begin_upgrade "ops/stack.sh upgrade"
  fresh_operator_token
  PREVIOUS_KEPT=1 build
  step "backups of the stores before the new binaries open them"
  backup_before_restart records records "$LIFELONG_RECORDS" "$VAR/records-backups"
  if pid_of catalog >/dev/null; then
    backup_before_restart catalog catalog "$LIFELONG_CATALOG" "$VAR/catalog-backups"
  fi
  step_done "backups"
  step "restarting the services on the binaries in $BIN"
  local s
  for s in token-refresher trainer recommend catalog records; do stop_one "$s" >/dev/null || true; done
  # The stack's modes as they were (with nothing running, up would take the defaults).
  STACK_SKIP_BUILD=1 STACK_TLS="$TLS" STACK_AUTH="$AUTH" STACK_SKIP_WEB="$skip_web" up
  [ -z "$web_pid" ] || restart_web_gateway "$web_pid"
  finish_upgrade stack.md
}

# stop_one NAME [SIGNAL]: signals service NAME (SIGTERM by default) and waits
# up to 30 s for it to exit (ops/cluster.sh uses it for its processes too).
# Returns 1 when NAME was not running. The trainer keeps nothing
# half-written (models go to a temporary directory first), so one that does
# not exit is killed; any other service that does not is an error.
stop_one() {
  local name="$1" sig="${2:-TERM}" pid waited=0
  if ! pid=$(pid_of "$name"); then
    rm -f "$RUN/$name.pid"
    return 1
  fi
  say "stopping $name (pid $pid, SIG$sig)"
  kill -"$sig" "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
    waited=$((waited + 1))
    if [ "$waited" -ge 300 ] && [ "$name" = trainer ]; then
      say "trainer (pid $pid) did not exit within 30s of SIG$sig: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    [ "$waited" -lt 300 ] || die "$name (pid $pid) did not exit within 30s of SIG$sig; see $LOG/$name.log"
  done
  rm -f "$RUN/$name.pid"
  say "$name stopped after $(awk -v n="$waited" 'BEGIN{printf "%.1f", n*0.1}')s"
}

down() {
  local any=0 s
  "$ROOT/ops/web.sh" down || say "the web gateway did not stop (ops/web.sh)"  # web gateway
  for s in token-refresher trainer recommend catalog records; do
    stop_one "$s" && any=1
  done
  rm -f "$RUN/tls.on" "$RUN/auth.on"
  [ "$any" = 1 ] || say "nothing was running"
}

# status: prints everything below, then returns 1 when records, catalog or
# recommend is not running or does not answer SERVING (the recommender waiting
# for its first model does not), else 0. A LIFELONG_VAR where no stack ever
# ran (no $RUN: nothing was meant to run there) is 0, as one that does not
# exist. The trainer, the token refresher and the web gateway are shown only:
# each may be off by choice (STACK_TRAIN_INTERVAL=0, STACK_TOKEN_REFRESH=0,
# STACK_SKIP_WEB=1), which their lines cannot tell from stopped.
status() {
  local rc=0
  resolve_tls
  resolve_auth
  if ! any_running; then
    echo "no service is running (ops/stack.sh up starts them)"
    [ ! -d "$RUN" ] || rc=1
  else
    [ "$TLS" = 0 ] || echo "TLS: on (mutual TLS; certificates in $TLS_DIR)"
    if [ "$AUTH" = 1 ]; then
      echo "auth: on (bearer tokens; key, tokens and xAPI credentials in $AUTH_DIR)"
    else
      echo "auth: OFF (STACK_AUTH=0): every caller is trusted"
    fi
  fi
  for s in records catalog recommend; do
    local pid port_var="${s^^}_PORT"
    if pid=$(pid_of "$s"); then
      printf '%-10s pid %-8s %s\n' "$s" "$pid" "$HOST:${!port_var}"
    else
      printf '%-10s not running (no live pid file in %s)\n' "$s" "$RUN"
      [ ! -d "$RUN" ] || rc=1
    fi
  done
  trainer_status
  token_refresher_status
  "$ROOT/ops/web.sh" status  # web gateway (ops/web.sh)
  if [ -x "$BIN/lifelong.bin" ] && any_running; then
    echo
    lifelong health --timeout=2s || rc=1
    if pid_of recommend >/dev/null; then
      echo
      lifelong model status --timeout=2s || true
    fi
    if pid_of records >/dev/null; then
      echo
      echo "record-store backups ($VAR/records-backups; docs/records.md \"Backups\"):"
      lifelong backup list --timeout=5s || true
    fi
    if pid_of catalog >/dev/null; then
      echo
      echo "catalog backups ($VAR/catalog-backups; docs/catalog.md \"Backups\"):"
      lifelong backup list --service=catalog --timeout=5s || true
    fi
    echo
    how_to_call
  fi
  return "$rc"
}

# ops/cluster.sh sources this file for its settings and functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  up)
    check_var create
    up
    ;;
  down)
    var_missing && exit 0
    check_var
    down
    ;;
  status)
    var_missing && exit 0
    check_var
    status  # exits 1 (set -e) when a service is not running or not SERVING
    ;;
  upgrade)
    var_missing && die "not upgrading: no stack in $VAR"
    check_var
    stack_upgrade
    ;;
  check-var)  # (ops/web.sh: the same check before it uses $LIFELONG_VAR)
    check_var "${2:-}"
    ;;
  token-refresher)
    AUTH_DIR="${2:?usage: ops/stack.sh token-refresher AUTH_DIR EVERY}"
    var_missing && exit 1
    check_var
    problem=$(trust_problem "$AUTH_DIR")
    [ -z "$problem" ] || die "refusing to mint tokens in $AUTH_DIR: $problem"
    token_refresher_loop "${3:?usage: ops/stack.sh token-refresher AUTH_DIR EVERY}"
    ;;
  *)
    echo "usage: ops/stack.sh up|down|status|upgrade   (see the comment at the top for settings)" >&2
    exit 2
    ;;
esac
