#!/usr/bin/env bash
# ops/web.sh starts the web gateway as the stack starts its services (launch:
# umask 077), so its log (client addresses, venues, upstream errors) and
# every file the gateway creates are for this account only, in a log
# directory of mode 700; a web.log an earlier version left mode 644 is made
# private. Without a stack: the real ops/web.sh (and the ops/stack.sh it
# asks to check $LIFELONG_VAR) in a copy of the tree whose services/web is
# ready (no npm ci, no code generation), and a stand-in for `node` that
# records the umask it was started with, creates a file, prints a line to its
# log and answers GET /healthz as the gateway does.
set -euo pipefail
umask 022  # a usual login's: the script must make its files private itself

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
T="$TEST_TMPDIR/web"
rm -rf "$T"
ROOT="$T/root"
mkdir -p "$ROOT/ops" "$ROOT/services/web/node_modules" "$ROOT/services/web/gen" "$T/shim" "$T/out"
cp "$RUNFILES/ops/web.sh" "$RUNFILES/ops/stack.sh" "$ROOT/ops/"
touch "$ROOT/services/web/node_modules/.package-lock.json" "$ROOT/services/web/gen/.stamp"

cat >"$T/shim/node" <<'NODE'
#!/usr/bin/env bash
# Stands in for `node services/web/gateway/main.js FLAGS...`.
umask >"$FAKE_NODE_OUT/umask"
: >"$FAKE_NODE_OUT/created-by-gateway"
echo "gateway: listening (client 10.0.0.7, venue dongsi-sqxx)"
exec python3 -c '
import http.server, sys
host = port = None
for a in sys.argv[1:]:
    if a.startswith("--host="): host = a.split("=", 1)[1]
    if a.startswith("--port="): port = int(a.split("=", 1)[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"{\"status\":\"SERVING\"}\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer((host, port), H).serve_forever()
' "$@"
NODE
printf '#!/bin/sh\nexit 0\n' >"$T/shim/protoc"
chmod 755 "$T/shim/node" "$T/shim/protoc"
export PATH="$T/shim:$PATH" FAKE_NODE_OUT="$T/out"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LIFELONG_VAR="$T/var" LIFELONG_WEB_PORT="$PORT" LIFELONG_HOST=127.0.0.1
LOG="$LIFELONG_VAR/log"

fail() { echo "FAIL: $*" >&2; [ ! -f "$LOG/web.log" ] || tail -n 5 "$LOG/web.log" >&2; exit 1; }
cleanup() { "$ROOT/ops/web.sh" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# mode PATH: its permission bits.
mode() { stat -c %a "$1"; }
check_private() {  # check_private WHAT: the gateway's files and the log directory have no group/other bits
  [ "$(cat "$T/out/umask")" = 0077 ] || fail "$1: the gateway was started with umask $(cat "$T/out/umask"), not 0077"
  [ "$(mode "$LOG")" = 700 ] || fail "$1: $LOG is mode $(mode "$LOG"), not 700"
  [ "$(mode "$LOG/web.log")" = 600 ] || fail "$1: $LOG/web.log is mode $(mode "$LOG/web.log"), not 600"
  [ "$(mode "$T/out/created-by-gateway")" = 600 ] ||
    fail "$1: a file the gateway created is mode $(mode "$T/out/created-by-gateway"), not 600"
  grep -q "client 10.0.0.7" "$LOG/web.log" || fail "$1: the gateway's output is not in $LOG/web.log"
}

# A first start: the log directory and web.log are created by ops/web.sh.
OUT=$("$ROOT/ops/web.sh" up 2>&1) || fail "ops/web.sh up: $OUT"
grep -q "started gateway" <<<"$OUT" || fail "ops/web.sh up: $OUT"
check_private "first start"
"$ROOT/ops/web.sh" down >/dev/null || fail "ops/web.sh down"

# A log directory and web.log an earlier version left readable (755, 644):
# made private at the next start; the stack's other logs as well.
chmod 755 "$LOG"
chmod 644 "$LOG/web.log"
echo "records log" >"$LOG/records.log"
chmod 644 "$LOG/records.log"
rm -f "$T/out/created-by-gateway"
OUT=$("$ROOT/ops/web.sh" up 2>&1) || fail "ops/web.sh up (again): $OUT"
check_private "after an earlier version's modes"
[ "$(mode "$LOG/records.log")" = 600 ] || fail "$LOG/records.log left mode $(mode "$LOG/records.log")"
"$ROOT/ops/web.sh" down >/dev/null || fail "ops/web.sh down"
trap - EXIT
echo PASS
