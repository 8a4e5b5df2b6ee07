#!/usr/bin/env bash
# Batched ingest, two builds side by side (issue 16): an old and a new
# records_server run at once, each on a fresh store, and one client (the new
# bench_records) alternates between them: ROUNDS rounds of SECONDS s of durable
# RecordStatements batches of 100, 16 outstanding. Per round and server it
# prints statements/s and the server's CPU per statement (/proc/<pid>/stat over
# the statements its lifelong_store_writes_total counted), in all and without
# RocksDB's flush and compaction threads (they grow with the store and are
# most of the round-to-round noise on a shared machine). Figures:
# docs/benchmarks.md, "Why the store stops short of the ceiling".
#
#   OLD_DIR=/tmp/old NEW_DIR=/tmp/new ops/bench_ingest_side_by_side.sh
#       (each dir holds a records_server and a bench_records, e.g. copies of
#       bazel-bin/services/records/ from `bazel build -c opt
#       //services/records:records_server //services/records:bench_records`)
#   ROUNDS=5 SECONDS_EACH=5 (defaults)
set -euo pipefail
OLD_DIR=$(cd "${OLD_DIR:?OLD_DIR: directory of the old records_server and bench_records}" && pwd)
NEW_DIR=$(cd "${NEW_DIR:?NEW_DIR: directory of the new records_server and bench_records}" && pwd)
ROUNDS=${ROUNDS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
WORK=$(mktemp -d /tmp/bench_ingest_sbs.XXXXXX)
declare -A BIN=([old]=$OLD_DIR [new]=$NEW_DIR) PID PORT MPORT
cleanup() {
  for v in old new; do [ -n "${PID[$v]:-}" ] && kill "${PID[$v]}" 2>/dev/null && wait "${PID[$v]}" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for v in old new; do
  "${BIN[$v]}/records_server" --port=0 --port_file="$WORK/$v.port" --metrics_port=0 --xapi_port=-1 \
    --data_dir="$WORK/$v" --xapi_documents_dir="$WORK/$v-documents" >"$WORK/$v.log" 2>&1 &
  PID[$v]=$!
done
for v in old new; do
  for _ in $(seq 600); do grep -q '"cache_warmed"' "$WORK/$v.log" 2>/dev/null && break; sleep 0.1; done
  grep -q '"cache_warmed"' "$WORK/$v.log" || { echo "$v records_server did not start:" >&2; tail "$WORK/$v.log" >&2; exit 1; }
  PORT[$v]=$(cat "$WORK/$v.port")
  MPORT[$v]=$(grep -o '"metrics_port":[0-9]*' "$WORK/$v.log" | head -1 | cut -d: -f2)
done
# statements written, seconds in RocksDB's write (the one write slot), groups
# written, CPU clock ticks of the process, of its RocksDB threads
figures() {
  curl -s "http://127.0.0.1:${MPORT[$1]}/metrics" |
    awk '/^lifelong_store_writes_total/ {w = $NF} /^lifelong_store_commit_seconds_total.*phase="write"/ {wr = $NF}
         /^lifelong_store_syncs_total/ {g = $NF} END {printf "%s %s %s ", w + 0, wr + 0, g + 0}'
  awk '{printf "%s ", $14 + $15}' "/proc/${PID[$1]}/stat"
  for t in /proc/"${PID[$1]}"/task/*; do
    case "$(cat "$t/comm")" in rocksdb:*) awk '{print $14 + $15}' "$t/stat" ;; esac
  done | awk '{s += $1} END {print s + 0}'
}
echo "== $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    BEFORE=$(figures $v)
    RATE=$("$NEW_DIR/bench_records" --target="127.0.0.1:${PORT[$v]}" --skip=validate,query,single \
      --seconds="$SECONDS_EACH" --settle_seconds=1 --nobare 2>&1 | grep "^record batch" |
      grep -o "items/s= *[0-9]*" | grep -o "[0-9]*$")
    AFTER=$(figures $v)
    python3 - "$r" "$v" "$RATE" "$BEFORE" "$AFTER" "$(getconf CLK_TCK)" <<'PY'
import sys
r, v, rate = sys.argv[1], sys.argv[2], float(sys.argv[3] or 0)
b, a = [list(map(float, x.split())) for x in sys.argv[4:6]]
tck = float(sys.argv[6])
written, write, groups = a[0] - b[0], a[1] - b[1], a[2] - b[2]
cpu, rocks = (a[3] - b[3]) / tck, (a[4] - b[4]) / tck
# The write slot's time per statement; at the round's rate, how busy it was.
slot = 1e6 * write / max(1, written)
print(f"round {r} {v}: {rate:8,.0f} statements/s, server {1e6 * cpu / max(1, written):5.1f} us of CPU per statement, "
      f"{1e6 * (cpu - rocks) / max(1, written):5.1f} us without RocksDB's background threads; "
      f"write slot {slot:4.1f} us per statement (busy {slot * rate / 1e4:3.0f}%), "
      f"{written / max(1, groups):4.0f} statements per group")
PY
  done
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
