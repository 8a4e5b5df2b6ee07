#!/usr/bin/env bash
# The operator scripts refuse a LIFELONG_VAR that another local account could
# change (docs/security.md, "Secrets on disk"; ops/stack.sh check_var): they
# run the binaries in $LIFELONG_VAR/bin (with the operator's rights, who can
# read auth/jwt.key), so a directory another account may write to, or owns,
# or could swap for its own, is refused with a message naming it and the fix,
# before anything in it runs. An ordinary private directory is used, and a
# fresh one in a world-writable sticky directory (/tmp) is created mode 700.
# No stack runs: the scripts' own functions and commands that stop at the check.
set -euo pipefail
umask 022  # a usual login's

RUNFILES="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-lifelong}"
STACK="$RUNFILES/ops/stack.sh"
T="$TEST_TMPDIR/vars"
rm -rf "$T"
mkdir -p "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }

# check DIR [create]: check_var on LIFELONG_VAR=DIR (the script's function,
# sourced as ops/cluster.sh sources it); its output and status in $OUT and $RC.
cat >"$TEST_TMPDIR/check.sh" <<'CHECK'
# shellcheck source=/dev/null
source "$1"
check_var "$2"
echo ACCEPTED
CHECK
check() {
  RC=0
  OUT=$(LIFELONG_VAR="$1" bash -euo pipefail "$TEST_TMPDIR/check.sh" "$STACK" "${2:-}" 2>&1) || RC=$?
}
accepted() {  # accepted DIR [create] WHAT
  check "$1" "${2:-}"
  if [ "$RC" != 0 ] || ! grep -q '^ACCEPTED$' <<<"$OUT"; then fail "${3:-$1} refused: $OUT"; fi
}
refused() {  # refused DIR WHAT EXPECTED_ERE [create]
  check "$1" "${4:-}"
  [ "$RC" != 0 ] || fail "$2 accepted: $OUT"
  grep -q "refusing to use LIFELONG_VAR=$1" <<<"$OUT" || fail "$2: no refusal naming the directory: $OUT"
  grep -Eq "$3" <<<"$OUT" || fail "$2: the message does not say /$3/: $OUT"
  grep -q "fix: " <<<"$OUT" || fail "$2: the message names no fix: $OUT"
  echo "refused ($2): ${OUT#stack: error: }"
}
# stack_var DIR: a stack's directory as up leaves it: bin (a binary), auth, mode 700.
stack_var() {
  mkdir -m 700 "$1"
  mkdir -m 755 "$1/bin"
  mkdir -m 700 "$1/auth"
  printf '#!/bin/sh\ntouch "%s/RAN"\n' "$T" >"$1/bin/lifelong.bin"
  chmod 755 "$1/bin/lifelong.bin"
  cp "$1/bin/lifelong.bin" "$1/bin/mint_token"
}

# The commands stop at the check, before anything in $LIFELONG_VAR runs:
# status (which runs bin/lifelong.bin), ops/web.sh token (bin/mint_token),
# ops/cluster.sh status. Here a directory another account pre-created mode 777
# and planted "binaries" in (they would touch $T/RAN).
stack_var "$T/world"
chmod 777 "$T/world"
rm -f "$T/RAN"
for cmd in "ops/web.sh token u000042" "ops/stack.sh status" "ops/stack.sh down" "ops/web.sh refresh-tokens" \
  "ops/cluster.sh status"; do
  rc=0
  # shellcheck disable=SC2086  # the command's words
  out=$(LIFELONG_VAR="$T/world" "$RUNFILES"/$cmd 2>&1) || rc=$?
  [ ! -e "$T/RAN" ] || fail "$cmd ran a binary planted in the world-writable LIFELONG_VAR"
  [ "$rc" != 0 ] || fail "$cmd went ahead with a world-writable LIFELONG_VAR: $out"
  grep -q "refusing to use LIFELONG_VAR=$T/world" <<<"$out" || fail "$cmd: $out"
done
[ ! -e "$T/RAN" ] || fail "a binary in the world-writable LIFELONG_VAR was run"
# A private one: status answers (nothing runs there).
stack_var "$T/private"
out=$(LIFELONG_VAR="$T/private" "$STACK" status 2>&1) || fail "status with a private LIFELONG_VAR: $out"
grep -q "no service is running" <<<"$out" || fail "status with a private LIFELONG_VAR: $out"
out=$(LIFELONG_VAR="$T/tmp/absent" "$STACK" status 2>&1) || fail "status with a missing LIFELONG_VAR: $out"
[ ! -e "$T/tmp/absent" ] || fail "status created LIFELONG_VAR"

# Accepted: a private directory, one of an earlier version (mode 755), and a
# fresh one in a world-writable sticky directory, which check_var creates mode 700.
accepted "$T/private"
stack_var "$T/older"
chmod 755 "$T/older"
accepted "$T/older"
mkdir -m 1777 "$T/tmp"
accepted "$T/tmp/fresh" create "a fresh directory in a sticky world-writable one"
[ "$(stat -c %a "$T/tmp/fresh")" = 700 ] || fail "fresh LIFELONG_VAR created mode $(stat -c %a "$T/tmp/fresh"), not 700"
# Without "create" a missing directory is not created (status, down: nothing to look at).
accepted "$T/tmp/absent"
[ ! -e "$T/tmp/absent" ] || fail "check_var created a directory without create"

# Refused: writable by other accounts.
refused "$T/world" "LIFELONG_VAR mode 777" "writable by other accounts \(mode 777\).*chmod go-w"
stack_var "$T/group"
chmod 770 "$T/group"
refused "$T/group" "LIFELONG_VAR mode 770" "writable by other accounts \(mode 770\)"
stack_var "$T/bin777"
chmod 777 "$T/bin777/bin"
refused "$T/bin777" "bin mode 777" "$T/bin777/bin is writable by other accounts"
stack_var "$T/auth770"
chmod 770 "$T/auth770/auth"
refused "$T/auth770" "auth mode 770" "$T/auth770/auth is writable by other accounts"
stack_var "$T/binary"
chmod 757 "$T/binary/bin/lifelong.bin"
refused "$T/binary" "a binary writable by others" "$T/binary/bin/lifelong.bin is writable by other accounts"
# In a world-writable directory without the sticky bit another account can
# rename ours away and put its own in its place: refused, even fresh.
mkdir -m 777 "$T/open"
refused "$T/open/fresh" "a fresh directory in a non-sticky world-writable one" "$T/open .*not sticky" create

# Refused: owned by another account (root can make such directories).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  mkdir -m 700 "$T/tmp/theirs"  # pre-created in /tmp by someone else
  chown nobody "$T/tmp/theirs"
  refused "$T/tmp/theirs" "a directory another account created" "owned by nobody" create
  stack_var "$T/binowner"
  chown nobody "$T/binowner/bin"
  refused "$T/binowner" "bin owned by another account" "$T/binowner/bin is owned by nobody"
  stack_var "$T/fileowner"
  chown nobody "$T/fileowner/bin/lifelong.bin"
  refused "$T/fileowner" "a binary owned by another account" "lifelong.bin is owned by another account"
  mkdir -m 755 "$T/above"
  chown nobody "$T/above"
  refused "$T/above/var" "a directory under another account's" "$T/above \(on the way .*\) is owned by nobody" create
  stack_var "$T/target"
  ln -s "$T/target" "$T/tmp/link"
  chown -h nobody "$T/tmp/link"
  refused "$T/tmp/link" "a symbolic link another account owns" "$T/tmp/link \(on the way .*\) is owned by nobody"
  ln -s "$T/target" "$T/tmp/mylink"
  accepted "$T/tmp/mylink" "" "a symbolic link of this account's to a private directory"
else
  echo "(not root: the cases of directories owned by another account are not run)"
fi

echo PASS
