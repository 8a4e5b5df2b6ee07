#!/bin/bash
# demo_loader writes nothing without --allow_demo_data: it must never be run
# against real records by mistake (its learners' card PINs follow from a
# public seed). Here it is pointed at a port where a server listens, and must
# refuse before it connects.
set -euo pipefail
loader="$1"
port_file="$TEST_TMPDIR/port"
# A listener that records whether anything connected.
python3 - "$port_file" "$TEST_TMPDIR/connected" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(20)
try:
    s.accept()
    open(sys.argv[2], "w").write("yes")
except OSError:
    pass
PY
listener=$!
trap 'kill $listener 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
set +e
out=$("$loader" --records="127.0.0.1:$port" --catalog="127.0.0.1:$port" --learners=5 --courses=5 2>&1)
code=$?
set -e
[ "$code" = 2 ] || { echo "expected exit 2 without --allow_demo_data, got $code: $out"; exit 1; }
grep -q -- "--allow_demo_data" <<<"$out" || { echo "the refusal does not name the flag: $out"; exit 1; }
sleep 0.5
[ ! -e "$TEST_TMPDIR/connected" ] || { echo "the loader connected before refusing"; exit 1; }
# --stats contacts nothing and needs no confirmation.
"$loader" --stats --learners=5 --courses=5 >/dev/null 2>&1 || { echo "--stats failed"; exit 1; }
echo "PASS"
