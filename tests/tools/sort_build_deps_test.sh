#!/usr/bin/env bash
# ops/sort_build_deps.py on a throwaway tree under TEST_TMPDIR: --check lists
# unsorted BUILD files and exits 1 without touching them; sorting orders deps
# buildifier's way (":local", then "//workspace", then "@external", each
# lexicographic, duplicates dropped); lists it cannot read safely (a comment,
# a variable, a `+`) stay as written; bazel-*, dot and node_modules
# directories are not searched.
set -euo pipefail

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
tree="$TEST_TMPDIR/tree"
rm -rf "$tree"
mkdir -p "$tree/ops" "$tree/a" "$tree/b/c" "$tree/bazel-out/x" "$tree/node_modules/y" "$tree/.git/z"
install -m 0755 "$RUNFILES/ops/sort_build_deps.py" "$tree/ops/sort_build_deps.py"
sort_deps() { python3 "$tree/ops/sort_build_deps.py" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$tree/a/BUILD" <<'B'
cc_library(
    name = "x",
    deps = [
        ":a",
        ":b",
        "//services/common:log",
        "@com_google_absl//absl/strings",
    ],
)

cc_test(name = "x_test", deps = [":x", "//third_party/sys:gtest_main"])
B
# Already sorted, and nothing else in the tree: --check passes silently.
out=$(sort_deps --check) || fail "--check failed on a sorted tree: $out"
[ -z "$out" ] || fail "--check printed on a sorted tree: $out"

unsorted='cc_library(
    name = "y",
    deps = [
        "@zlib//:z",
        "//services/common:log",
        ":local_b",
        "//services/auth",
        ":local_a",
        "//services/common:log",
    ],
)

cc_test(name = "y_test", deps = ["//third_party/sys:gtest_main", ":y"])

cc_library(
    name = "kept",
    deps = [
        "//z",  # why z comes first
        "//a",
    ] + EXTRA,
)
'
printf '%s' "$unsorted" >"$TEST_TMPDIR/unsorted"
cp "$TEST_TMPDIR/unsorted" "$tree/b/c/BUILD"
# Unsorted files in directories the tool skips.
for d in bazel-out/x node_modules/y .git/z; do cp "$tree/b/c/BUILD" "$tree/$d/BUILD"; done

# --check: names the one unsorted file, exits 1, changes nothing.
set +e
out=$(sort_deps --check)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "--check exited $rc on an unsorted tree"
[ "$out" = "unsorted: b/c/BUILD" ] || fail "--check printed: $out"
cmp -s "$tree/b/c/BUILD" "$TEST_TMPDIR/unsorted" || fail "--check changed the file"

# Sorting: rewrites that file only, in buildifier's order.
out=$(sort_deps)
[ "$out" = "sorted: b/c/BUILD" ] || fail "sorting printed: $out"
expected='cc_library(
    name = "y",
    deps = [
        ":local_a",
        ":local_b",
        "//services/auth",
        "//services/common:log",
        "@zlib//:z",
    ],
)

cc_test(name = "y_test", deps = [":y", "//third_party/sys:gtest_main"])

cc_library(
    name = "kept",
    deps = [
        "//z",  # why z comes first
        "//a",
    ] + EXTRA,
)'
[ "$(cat "$tree/b/c/BUILD")" = "$expected" ] || fail "sorted file: $(cat "$tree/b/c/BUILD")"
for d in bazel-out/x node_modules/y .git/z; do
  cmp -s "$tree/$d/BUILD" "$TEST_TMPDIR/unsorted" || fail "$d/BUILD was touched"
done
# And now the tree passes.
sort_deps --check >/dev/null || fail "--check failed after sorting"

# Named files only: the check looks at those and no others.
cp "$TEST_TMPDIR/unsorted" "$tree/b/c/BUILD"
sort_deps --check "$tree/a/BUILD" >/dev/null || fail "--check of a sorted file failed"
set +e
sort_deps --check "$tree/b/c/BUILD" >/dev/null
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "--check of an unsorted named file exited $rc"
echo "PASS"
