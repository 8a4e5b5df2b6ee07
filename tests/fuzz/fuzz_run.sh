#!/usr/bin/env bash
# Builds one fuzz target with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, straight from the sources it needs, and fuzzes it.
# See README.md. Two modes:
#
#   test  (`<name>_fuzz_test`, part of `bazel test //...`): a short run on the
#         seed corpus and the saved regressions, in $TEST_TMPDIR. Fails on any
#         crash, leak, timeout or out-of-memory, printing the input (its path
#         and base64) and how to keep it as a regression. Fails, never skips,
#         when clang is missing: ops/bootstrap.sh installs it.
#   run   (`bazel run //tests/fuzz:<name>_fuzz -- [libFuzzer flags]`): a long
#         session in the workspace: the grown corpus is kept in
#         var/fuzz/<name>/corpus and crash inputs land in var/fuzz/<name>/crashes/.
#
# Arguments (from tests/fuzz/fuzz.bzl), then `--` and libFuzzer flags:
#   --mode test|run  --name NAME  --seconds N  --fuzzer FILE  --src FILE...
#   --proto FILE  --pkg PKG_CONFIG_MODULE (both repeatable)
#   --corpus DIR  --regressions DIR  --dict FILE
# Environment: FUZZ_SECONDS overrides --seconds, FUZZ_SEED fixes libFuzzer's
# seed, FUZZ_CXX picks the compiler (default clang++).
set -uo pipefail

mode=test name="" seconds=20 fuzzer="" corpus="" regressions="" dict=""
srcs=() protos=() pkgs=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --fuzzer) fuzzer=$2; shift 2 ;;
    --src) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do srcs+=("$1"); shift; done ;;
    --proto) protos+=("$2"); shift 2 ;;
    --pkg) pkgs+=("$2"); shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --regressions) regressions=$2; shift 2 ;;
    --dict) dict=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done
seconds=${FUZZ_SECONDS:-$seconds}
say() { echo "fuzz $name: $*"; }
fail() { echo "FAIL fuzz $name: $*" >&2; exit 1; }

# ---- Tools ------------------------------------------------------------------
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null 2>&1; then
  fail "'$CXX' not found. The fuzz tests build with clang's libFuzzer; run ops/bootstrap.sh" \
       "(it installs the Debian packages clang, libclang-rt-dev and llvm)."
fi
rtdir=$("$CXX" -print-runtime-dir 2>/dev/null)
if ! ls "$rtdir"/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
  fail "clang's libFuzzer runtime is missing (no libclang_rt.fuzzer in '$rtdir');" \
       "run ops/bootstrap.sh (Debian package libclang-rt-dev)."
fi
command -v pkg-config >/dev/null 2>&1 || fail "pkg-config not found; run ops/bootstrap.sh."
if [ ${#protos[@]} -gt 0 ]; then
  command -v protoc >/dev/null 2>&1 || fail "protoc not found; run ops/bootstrap.sh."
fi
# Symbolized stack traces need llvm-symbolizer (Debian package llvm).
symbolizer=$(command -v llvm-symbolizer || "$CXX" -print-prog-name=llvm-symbolizer)
if [ -x "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi

# ---- Places -----------------------------------------------------------------
if [ "$mode" = test ]; then
  work=${TEST_TMPDIR:?test mode runs under bazel test}/fuzz
  artifacts=${TEST_UNDECLARED_OUTPUTS_DIR:-$work/artifacts}
  jobs=1
else
  ws=${BUILD_WORKSPACE_DIRECTORY:?run mode runs under bazel run}
  work=$ws/var/fuzz/$name
  artifacts=$work/crashes
  jobs=$(nproc)
fi
build=$work/build
rm -rf "$build"
mkdir -p "$build/obj" "$build/gen" "$work/corpus" "$artifacts"

# ---- Build ------------------------------------------------------------------
# shellcheck disable=SC2054  # the commas belong to -fsanitize's lists
flags=(-std=c++17 -O1 -gline-tables-only -fno-omit-frame-pointer
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -I. -I"$build/gen")
libs=()
if [ ${#pkgs[@]} -gt 0 ]; then
  cflags=$(pkg-config --cflags "${pkgs[@]}") || fail "pkg-config --cflags ${pkgs[*]} failed"
  ldflags=$(pkg-config --libs "${pkgs[@]}") || fail "pkg-config --libs ${pkgs[*]} failed"
  read -r -a more <<<"$cflags" && flags+=("${more[@]}")
  read -r -a libs <<<"$ldflags"
fi

start=$SECONDS
to_compile=("$fuzzer" "${srcs[@]}")
if [ ${#protos[@]} -gt 0 ]; then
  protoc -I. -I/usr/include --cpp_out="$build/gen" "${protos[@]}" || fail "protoc failed"
  for p in "${protos[@]}"; do to_compile+=("$build/gen/${p%.proto}.pb.cc"); done
fi
compile() {  # source file -> object named after its path, and a marker on success
  local obj
  obj="$build/obj/$(echo "$1" | tr '/' '_').o"
  if "$CXX" "${flags[@]}" -c "$1" -o "$obj" 2>"$obj.log"; then
    touch "$obj.ok"
  else
    cat "$obj.log" >&2
    echo "compile failed: $1" >&2
  fi
}
for src in "${to_compile[@]}"; do
  compile "$src" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait
for src in "${to_compile[@]}"; do
  [ -e "$build/obj/$(echo "$src" | tr '/' '_').o.ok" ] || fail "build failed (see the compiler output above)"
done
binary=$build/${name}_fuzzer
"$CXX" -fsanitize=fuzzer,address,undefined "$build"/obj/*.o -o "$binary" "${libs[@]}" ||
  fail "link failed"
say "built with $("$CXX" --version | head -1) in $((SECONDS - start)) s"

# ---- Fuzz -------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts=(-timeout=5 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
[ -n "$dict" ] && opts+=(-dict="$dict")
[ -n "${FUZZ_SEED:-}" ] && opts+=(-seed="$FUZZ_SEED")
if [ "$mode" = test ]; then
  opts+=(-max_total_time="$seconds")
  limit=(timeout --kill-after=10 $((seconds + 120)))
else
  limit=()
fi
# The first folder receives new inputs; seeds and regressions are only read.
dirs=("$work/corpus")
[ -n "$corpus" ] && [ -d "$corpus" ] && dirs+=("$corpus")
[ -n "$regressions" ] && [ -d "$regressions" ] && dirs+=("$regressions")
say "fuzzing$([ "$mode" = test ] && echo " for ${seconds} s"): $binary ${opts[*]} ${extra[*]} ${dirs[*]}"
if [ "$mode" = test ]; then
  # Keep the test log short: leave out the per-input progress lines.
  "${limit[@]}" "$binary" "${opts[@]}" "${extra[@]}" "${dirs[@]}" >"$build/fuzz.log" 2>&1
  rc=$?
  grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)[[:space:]]' "$build/fuzz.log"
else
  "$binary" "${opts[@]}" "${extra[@]}" "${dirs[@]}" 2>&1 | tee "$build/fuzz.log"
  rc=${PIPESTATUS[0]}
fi
if [ "$rc" -eq 0 ]; then
  say "no crash ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/fuzz.log" | awk '{print $2}') inputs run)"
  exit 0
fi

# ---- Report -----------------------------------------------------------------
{
  echo
  echo "FAIL fuzz $name: libFuzzer exited with status $rc."
  found=0
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* \
           "$artifacts"/slow-unit-*; do
    [ -e "$f" ] || continue
    found=1
    echo "  input: $f ($(wc -c <"$f") bytes)"
    if [ "$mode" = test ]; then
      echo "  (bazel keeps it in bazel-testlogs/tests/fuzz/${name}_fuzz_test/test.outputs/)"
    fi
    echo "  base64 (first 8 KiB):"
    head -c 8192 "$f" | base64 | sed 's/^/    /'
  done
  [ "$found" -eq 1 ] || echo "  (no input was saved; see the output above)"
  echo "  To keep it as a regression: save it as tests/fuzz/regressions/$name/<what-it-triggers>"
  echo "  (e.g. base64 -d > that file), then: bazel test //tests/fuzz:${name}_replay_test"
} >&2
exit 1
