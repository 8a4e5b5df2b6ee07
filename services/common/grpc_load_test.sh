#!/usr/bin/env bash
# grpc_load against the bare echo server: counted runs answer every call, and
# bad flags are refused with exit code 2 and a message naming the flag.
set -euo pipefail
BARE=services/common/bare_echo_server_main
LOAD=services/common/grpc_load
WORK=${TEST_TMPDIR:-$(mktemp -d)}
"$BARE" --port=0 --port_file="$WORK/port" 2>"$WORK/bare.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
TARGET=127.0.0.1:$(cat "$WORK/port")
fail() { echo "FAIL: $*" >&2; exit 1; }

for kind in echo list record; do
  out=$("$LOAD" --target="$TARGET" --request=$kind --calls=200 --connections=2 --streams=4)
  echo "$out"
  [[ "$out" == *" calls=200 errors=0 "* ]] || fail "$kind: expected 200 calls without errors: $out"
done
# Seeding mode (a different learner per call) and a request read from a file.
"$LOAD" --target="$TARGET" --request=record --learners=7 --calls=50 | grep -q " calls=50 errors=0 " ||
  fail "record --learners"
printf '\x0a\x04ping' >"$WORK/req.bin"
"$LOAD" --target="$TARGET" --request=file --request_file="$WORK/req.bin" --method=/x.Y/Z --calls=20 |
  grep -q " calls=20 errors=0 " || fail "--request=file"
# A timed run counts calls and reports a rate.
"$LOAD" --target="$TARGET" --seconds=0.5 --warmup_s=0 --connections=1 --streams=2 | grep -qE " rps=[1-9][0-9]* " ||
  fail "timed run without a rate"

expect_refused() {  # flag named in the message, grpc_load args...
  local flag=$1; shift
  local rc=0
  "$LOAD" --target="$TARGET" "$@" >"$WORK/out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$*: exit code $rc, want 2: $(cat "$WORK/out")"
  grep -q -- "$flag" "$WORK/out" || fail "$*: message does not name $flag: $(cat "$WORK/out")"
}
expect_refused --request --request=bogus
expect_refused --method --method=NoSlash
expect_refused --request_file --request=file --method=/x.Y/Z --request_file="$WORK/missing"
expect_refused --connections --connections=0
expect_refused --streams --streams=-1
expect_refused --token_file --token_file="$WORK/missing"
echo PASS
