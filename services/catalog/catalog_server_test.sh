#!/bin/bash
# End-to-end check of the catalog_server binary: starts on port 0 over a
# database in TEST_TMPDIR, reports SERVING, serves calls, refuses a second
# server on the same data_dir, shuts down cleanly on SIGTERM (exit 0), and
# keeps its data across a restart; with --shutdown_drain_ms it reports
# NOT_SERVING but keeps answering before it stops. Backups: bad --backup_keep and
# --backup_interval stop the start, the default backup directory is
# <data_dir>-backups and one server holds it, a data_dir an interrupted
# restore moved aside is refused.
# Usage: catalog_server_test.sh <catalog_server> <catalog_bench>
set -u
server="$1"
bench="$2"
dir="${TEST_TMPDIR:-/tmp}/catalog_server_test"
rm -rf "$dir"
mkdir -p "$dir"

fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "== $f"; cat "$f"; done; exit 1; }

# Starts the server with log $1 and flags $2...; sets pid and port.
start() {
  local log="$1"
  shift
  rm -f "$dir/port"
  "$server" --host=127.0.0.1 --port=0 --data_dir="$dir/db" --port_file="$dir/port" "$@" \
      2>"$dir/$log" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    [ -f "$dir/port" ] && port=$(cat "$dir/port")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "server exited during start-up"
    sleep 0.1
  done
  fail "server did not write its port file"
}

start first.log
"$bench" --target="127.0.0.1:$port" --mode=health >"$dir/health.out" || fail "health not SERVING"
"$bench" --target="127.0.0.1:$port" --mode=health \
    --health_service=lifelong.v1.CourseCatalogService >>"$dir/health.out" \
    || fail "service health not SERVING"
"$bench" --target="127.0.0.1:$port" --mode=seed --count=20 >"$dir/seed.out" || fail "seeding failed"
grep -q '"calls":20,"errors":0' "$dir/seed.out" || fail "seed did not create 20 courses"

# A second server on the same database must fail (RocksDB lock), exit 1.
"$server" --host=127.0.0.1 --port=0 --data_dir="$dir/db" 2>"$dir/second.log"
[ $? -eq 1 ] || fail "second server on the same data_dir did not exit 1"
grep -q store_open_failed "$dir/second.log" || fail "second server did not log store_open_failed"

# Backups: the default directory beside --data_dir, held by this server.
[ -d "$dir/db-backups/catalog" ] || fail "no default backup directory $dir/db-backups"
"$server" --host=127.0.0.1 --port=0 --metrics_port=0 --data_dir="$dir/other" \
    --backup_dir="$dir/db-backups" 2>"$dir/third.log"
[ $? -eq 1 ] || fail "a second server on the same backup_dir did not exit 1"
grep -q backup_dir_unusable "$dir/third.log" || fail "second server did not log backup_dir_unusable"

kill -TERM "$pid"
wait "$pid"
rc=$?
[ $rc -eq 0 ] || fail "server exited $rc after SIGTERM"
grep -q '"event":"stopped"' "$dir/first.log" || fail "no stopped event"

start restart.log
grep -q '"courses":20' "$dir/restart.log" || fail "restart does not see the 20 courses"
"$bench" --target="127.0.0.1:$port" --mode=get --count=20 --threads=2 --seconds=0.5 \
    >"$dir/get.out" || fail "get load failed"
grep -q '"errors":0' "$dir/get.out" || fail "get calls failed"
kill -TERM "$pid"
wait "$pid" || fail "restarted server did not exit 0"

# --shutdown_drain_ms: after SIGTERM the server reports NOT_SERVING (so a
# balancer moves new connections away) but keeps answering for the drain,
# then exits 0. Without the drain the calls below fail: the port is closed.
start drain.log --shutdown_drain_ms=4000
kill -TERM "$pid"
for _ in $(seq 1 50); do  # until the drain begins (or the server is gone)
  grep -q '"event":"draining"' "$dir/drain.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
"$bench" --target="127.0.0.1:$port" --mode=health >"$dir/drain-health.out" 2>&1 \
    && fail "health still SERVING while draining"
"$bench" --target="127.0.0.1:$port" --mode=get --count=20 --threads=2 --seconds=0.5 \
    >"$dir/drain-get.out" || fail "get calls failed while draining"
grep -q '"errors":0' "$dir/drain-get.out" || fail "get calls failed while draining"
grep -q '"event":"draining"' "$dir/drain.log" || fail "no draining event after SIGTERM"
kill -0 "$pid" 2>/dev/null || fail "server exited before its drain ended"
wait "$pid" || fail "drained server did not exit 0"
grep -q '"event":"stopped"' "$dir/drain.log" || fail "drained server: no stopped event"

# Bad backup settings stop the start, naming the flag.
for bad in --backup_keep=0 --backup_interval=-1s; do
  "$server" --host=127.0.0.1 --port=0 --metrics_port=0 --data_dir="$dir/bad" "$bad" 2>"$dir/bad.log"
  [ $? -eq 1 ] || fail "$bad did not stop the start"
  grep -q backup_config "$dir/bad.log" || fail "$bad: no backup_config error"
  grep -q -e "${bad%%=*}" "$dir/bad.log" || fail "$bad: the error does not name the flag"
done
# A data_dir an interrupted restore moved aside: refused, nothing created.
mkdir -p "$dir/moved.replaced-1764000000000000"
"$server" --host=127.0.0.1 --port=0 --metrics_port=0 --data_dir="$dir/moved" 2>"$dir/moved.log"
[ $? -eq 1 ] || fail "a data_dir moved aside by a restore did not stop the start"
grep -q data_dir_unusable "$dir/moved.log" || fail "no data_dir_unusable for a moved-aside data_dir"
[ ! -e "$dir/moved" ] || fail "an empty catalog was created beside the moved-aside one"
echo PASS
