#!/usr/bin/env bash
# Durable writes through the replicated record service (three nodes, the
# statement log in a three-member NATS JetStream cluster, HAProxy in front)
# against the single-node store, in the same run (tests/cluster/bench_replication.cc;
# docs/replication.md, "Figures").
#
#   ops/bench_replication.sh [seconds_each]     (default 8)
#
# Needs nats-server and haproxy (ops/bootstrap.sh). Prints one line per phase
# and target, then the cost of replication per phase.
set -euo pipefail
SECONDS_EACH=${1:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/bench_replication.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
bazel build -c opt //tests/cluster:bench_replication >/dev/null 2>&1 ||
  { echo "bench_replication: build failed (bazel build -c opt //tests/cluster:bench_replication)" >&2; exit 1; }
# Run from its runfiles (the server binaries sit there); the servers' JSON logs go to $WORK.
cd bazel-out/k8-opt/bin/tests/cluster/bench_replication.runfiles/lifelong
../../bench_replication --seconds="$SECONDS_EACH" --work_dir="$WORK"
