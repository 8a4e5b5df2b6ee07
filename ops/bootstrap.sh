#!/usr/bin/env bash
# Idempotent: installs the Debian packages this project builds, tests and runs with.
# Does nothing when every package is already installed. Uses sudo when not root.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libfaiss-dev libabsl-dev libopenblas-dev liblapack-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libssl-dev libsimdjson-dev libcpp-httplib-dev libjwt-dev
  libgoogle-perftools-dev  # tcmalloc for the servers (third_party/sys/BUILD)
  python3 openssl
  libnss3-tools  # certutil: the TLS browser tests make chromium trust the development CA (ops/test_web.sh)
  clang-format  # the style of .clang-format
  shellcheck  # every tracked shell script passes shellcheck -x (ops/test.sh)
  # Fuzz tests (tests/fuzz): clang with libFuzzer and the sanitizer runtimes,
  # and llvm-symbolizer for readable crash stacks.
  clang libclang-rt-dev llvm
  nats-server libnats-dev haproxy  # replicated records (issue #15, services/records/replication)
  linux-perf  # perf: the profiles of ops/bench_grpc_shares.sh (PROFILE=1, issue 16)
  curl time  # ops/bench_ingest_ceiling.sh reads the server's metrics and times the client
  prometheus  # promtool: checks and unit-tests the alert rules (//ops/prometheus:alerts_test)
)

# The web gateway and its screens (services/web) run on Node.js; a machine that
# already has node and npm (e.g. from its image) keeps them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
