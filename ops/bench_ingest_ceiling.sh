#!/usr/bin/env bash
# Batched ingest against its ceiling (issue 16): durable RecordStatements
# batches of 100 through records_server, as a client sends them, next to
# RocksDB alone under the store's configuration taking synced WriteBatches of
# 100 statement-sized records, measured in the same run on the same machine.
# Figures and how to read them: docs/benchmarks.md, "Batched ingest against
# RocksDB alone".
#
#   ops/bench_ingest_ceiling.sh [seconds_each]     (default 8)
#   PREFILL=1000000 LEARNERS=100000 ops/bench_ingest_ceiling.sh 8
#       (defaults 200,000 statements of 20,000 learners: minutes, not tens)
#   PROFILE=/tmp/prof ops/bench_ingest_ceiling.sh 8
#       also records a call-graph profile of records_server during its phase
#       (perf record -g -p, the phase's seconds) into DIR/server.perf, and
#       DIR/server_top.txt: its functions by own samples (perf report)
#   BIN_DIR=/some/dir ops/bench_ingest_ceiling.sh 8
#       runs records_server and bench_records from that directory instead of
#       building them (e.g. copies of an earlier build, for a before/after
#       comparison in one sitting)
#
# Order, all in one temp dir:
#   1. bench_records in-process pre-fills the store (synced batches of 1,000)
#      and measures the ceiling: RocksDB alone (a fresh database pre-filled
#      with as many statements, the store's RocksDB options, 4 threads each
#      writing synced WriteBatches of 100 precomputed records: the store's
#      keys and values, no parsing, validation or idempotency check), and the
#      same batches straight into the store (no gRPC);
#   2. records_server (production defaults, -c opt) on that store, driven by
#      bench_records --target with durable RecordStatements batches of 100,
#      16 outstanding;
#   3. the RocksDB-alone ceiling once more (the machine is shared: the two
#      ceiling runs bracket the server's).
# Each write phase also prints the cores it kept busy and its CPU per
# statement; the server's phase prints the server's and the client's, and
# how busy the store's group committer was (its
# lifelong_store_commit_seconds_total over the phase: building batches, which
# overlaps the write before with build ahead, and RocksDB's write, one at a
# time).
# The share printed last is the server's statements/s over the mean of the
# two ceiling runs (target >= 80%).
set -euo pipefail
SECONDS_EACH=${1:-8}
PREFILL=${PREFILL:-200000}
LEARNERS=${LEARNERS:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$(cd "$BIN_DIR" && pwd)
else
  bazel build -c opt //services/records:records_server //services/records:bench_records >/dev/null 2>&1 ||
    { echo "bench_ingest_ceiling: build failed" >&2; exit 1; }
  BIN=$ROOT/bazel-bin/services/records
fi
WORK=$(mktemp -d /tmp/bench_ingest_ceiling.XXXXXX)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
BENCH=("$BIN/bench_records" --learners="$LEARNERS" --seconds="$SECONDS_EACH" --nobare)

echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"${BENCH[@]}" --data_dir="$WORK/records" --prefill="$PREFILL" --skip=query,single,batch | tee "$WORK/before.txt" |
  grep -E "^pre-filling|^store holds|^record batch of 100, in-process|^rocksdb alone|^  (cpu|committer|write|write per statement):"

"$BIN/records_server" --port=0 --port_file="$WORK/port" --metrics_port=0 --xapi_port=-1 \
  --data_dir="$WORK/records" --xapi_documents_dir="$WORK/documents" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do grep -q '"cache_warmed"' "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q '"cache_warmed"' "$WORK/server.log" ||
  { echo "records_server did not start; log:" >&2; tail "$WORK/server.log" >&2; exit 1; }
METRICS_PORT=$(grep -o '"metrics_port":[0-9]*' "$WORK/server.log" | head -1 | cut -d: -f2)
# The server's counters and CPU (user + system clock ticks) around the phase.
server_figures() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^lifelong_store_commit_seconds_total/ {busy += $NF; seen = 1} /^lifelong_store_writes_total/ {w = $NF}
         /^lifelong_store_commit_seconds_total.*phase="write"/ {wr = $NF} /^lifelong_store_syncs_total/ {g = $NF}
         /^lifelong_store_write_part_seconds_total.*part="wal"/ {wal = $NF}
         /^lifelong_store_write_part_seconds_total.*part="memtable"/ {mem = $NF}
         END {printf "%s %s %s %s %s %s ", seen ? busy : "nan", w + 0, seen ? wr : "nan", g + 0, wal + 0, mem + 0}'
  awk '{print $14 + $15}' "/proc/$SERVER/stat"
}
BEFORE=$(server_figures)
PERF=""
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"
  # From a second in (the client's connections made) for the phase's length.
  (sleep 1 && exec perf record -q -F 499 -g -p "$SERVER" -o "$PROFILE/server.perf" -- sleep "$SECONDS_EACH") \
    >/dev/null 2>&1 &
  PERF=$!
fi
"${BENCH[@]}" --target="127.0.0.1:$(cat "$WORK/port")" --skip=query,single | tee "$WORK/server.txt" |
  grep -E "^record batch"
# The client's CPU during the phase (bench_records' own "  client:" line; not
# the whole process, whose generation of the statements comes before it).
CLIENT=$(awk '/^  client: / {print $2, $4}' "$WORK/server.txt")
AFTER=$(server_figures)
if [ -n "$PERF" ]; then
  wait "$PERF" || true
  perf report -i "$PROFILE/server.perf" --stdio --no-children --sort symbol --percent-limit 0.7 2>/dev/null |
    grep -E '^ +[0-9.]+%' >"$PROFILE/server_top.txt" || true
  echo "  profile: $PROFILE/server.perf, top functions in $PROFILE/server_top.txt"
fi
# The phase runs for SECONDS_EACH after the bench's settling pause: busy
# shares and cores are over the phase's seconds; CPU per statement over the
# statements the server wrote.
python3 - "$SECONDS_EACH" "$(getconf CLK_TCK)" "$BEFORE" "$AFTER" "${CLIENT:-nan nan}" <<'EOF'
import sys
secs, tck = float(sys.argv[1]), float(sys.argv[2])
b, a = [list(map(float, x.split())) for x in sys.argv[3:5]]
client_cores, client_us = map(float, sys.argv[5].split())
busy, written, write, groups = a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]
wal, memtable, cpu = a[4] - b[4], a[5] - b[5], (a[6] - b[6]) / tck
# Build and write overlap with build ahead (the sum may pass 100%): the write
# share is how busy the one RocksDB write slot was.
committer = 'not exported' if busy != busy else (
    f'busy {100 * busy / secs:.0f}% of the phase (building {100 * (busy - write) / secs:.0f}%, '
    f'RocksDB\'s write {100 * write / secs:.0f}%), {groups:.0f} groups of {written / max(1, groups):.0f} statements')
print(f"  server: {cpu / secs:.2f} cores, {1e6 * cpu / max(1, written):.1f} us of CPU per statement; "
      f"group committer {committer}; client {client_cores:.2f} cores during the phase "
      f"({client_us:.1f} us per statement)")
# RocksDB's own split of the server's Writes (its perf context; absent from
# builds before the metric, then 0).
if wal + memtable > 0:
    print(f"  server write per statement: {1e6 * write / max(1, written):.1f} us, of it "
          f"{1e6 * wal / max(1, written):.1f} us WAL (append and sync) + "
          f"{1e6 * memtable / max(1, written):.1f} us memtable inserts")
EOF
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

"${BENCH[@]}" --data_dir="$WORK/records" --prefill="$PREFILL" --skip=query,single,batch,direct |
  tee "$WORK/after.txt" | grep -E "^rocksdb alone|^  (cpu|write):"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$WORK/before.txt" "$WORK/server.txt" "$WORK/after.txt" <<'EOF'
import re, sys
def items(path, label, which=0):
    found = [float(m.group(1)) for line in open(path) if line.startswith(label)
             for m in [re.search(r'items/s=\s*([0-9.]+)', line)] if m]
    return found[which] if len(found) > which else 0.0
# RocksDB alone with the store's keys and values (the first of the two
# "rocksdb alone" lines; the second is the least layout the indexes need).
ceil = [items(sys.argv[1], 'rocksdb alone'), items(sys.argv[3], 'rocksdb alone')]
store = items(sys.argv[1], 'record batch of 100, in-process')
server = items(sys.argv[2], 'record batch of 100 (durable)')
least = [items(sys.argv[1], 'rocksdb alone', 1), items(sys.argv[3], 'rocksdb alone', 1)]
mean = sum(ceil) / 2
print()
print('| path | statements/s | share of the RocksDB-alone ceiling |')
print('| --- | --- | --- |')
print(f'| RocksDB alone, the store\'s keys and values (before / after) | {ceil[0]:,.0f} / {ceil[1]:,.0f} | 100% |')
print(f'| RocksDB alone, record once, key-only indexes (before / after) | {least[0]:,.0f} / {least[1]:,.0f} | '
      f'{100 * sum(least) / 2 / mean:.0f}% |' if mean else '| (no ceiling) | | |')
print(f'| RecordStore::Record, batches of 100, in-process | {store:,.0f} | {100 * store / mean:.0f}% |' if mean else '')
print(f'| RecordStatements x100 through records_server | {server:,.0f} | {100 * server / mean:.0f}% '
      f'(target >= 80%: {"met" if server >= 0.8 * mean else "NOT met"}) |' if mean else '')
EOF
