#!/usr/bin/env bash
# End-to-end browser tests of the kiosk and the app (tests/browser, docs/web.md):
#   1. installs what is missing: Debian's chromium and fonts-noto-cjk (apt-get, with sudo when
#      not root), node/npm, and services/web's npm packages (npm ci from the lockfile;
#      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1: no browser is ever downloaded)
#   2. brings up a stack of its own: authentication on (and ID tokens of a test identity provider
#      whose key it makes, for tests/browser/app_oidc.test.mjs), a small demo district, its own var
#      dir (mktemp) and ports (WEB_TEST_PORT_BASE [27100]: records +1, catalog +2,
#      recommend +3, gateway +90), metrics on free ports, no xAPI port
#   3. runs every tests/browser/*.test.mjs in Debian's chromium (headless, playwright-core)
#   4. tears the stack down and removes its var dir (WEB_TEST_KEEP=1 keeps it)
#   5. prints as its last line "N passed, N failed" (counted from the test runner's results)
#      and exits non-zero when a test failed or the stack did not come up.
#
# WEB_TEST_TLS=1: the secure setup. The stack runs with TLS (STACK_TLS=1: mutual TLS between
# the gateway and the services and among the services, development CA from ops/dev-ca.sh), the
# gateway serves the browser over HTTPS, chromium trusts the development CA through an NSS
# database in a HOME of the test's own (certutil, Debian's libnss3-tools) and Node's fetch
# through NODE_EXTRA_CA_CERTS: no certificate error is ignored. By default this mode runs the
# kiosk and app flows (WEB_TEST_FILTER default '^(kiosk|app)'); ops/test.sh runs it after the
# plain run.
#
# WEB_BENCH=1 also runs tests/browser/bench.mjs (kiosk home screen time in the browser, gateway
# overhead per call) and WEB_SCREENSHOTS=1 regenerates docs/web/*.png, both on the same stack.
# Environment: WEB_TEST_LEARNERS [300] WEB_TEST_COURSES [120] (demo size), WEB_TEST_FILTER
# (a regular expression: only test files whose name matches), BAZEL, STACK_SKIP_BUILD.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
T0=$(date +%s)
BASE="${WEB_TEST_PORT_BASE:-27100}"
PASSED=0
FAILED=0

say() { printf 'test_web: %s\n' "$*"; }
finish() {  # finish EXIT_STATUS: the last line, then exit
  say "took $(( $(date +%s) - T0 ))s"
  echo "$PASSED passed, $FAILED failed"
  exit "$1"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. What the tests need.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v curl >/dev/null || missing+=(curl)
if [ "${WEB_TEST_TLS:-0}" = 1 ]; then
  command -v certutil >/dev/null || missing+=(libnss3-tools)
  command -v openssl >/dev/null || missing+=(openssl)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/tmp/test_web_apt.$$ 2>&1; then
    as_root apt-get update >/dev/null 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/tmp/test_web_apt.$$ 2>&1 \
      || { tail -n 20 /tmp/test_web_apt.$$ >&2; say "apt-get install failed"; FAILED=1; finish 1; }
  fi
  rm -f /tmp/test_web_apt.$$
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
CHROMIUM="$(command -v chromium)"
export CHROMIUM

# 2. A stack of our own.
VAR_DIR="$(mktemp -d /tmp/lifelong-webtest.XXXXXX)"
export LIFELONG_VAR="$VAR_DIR" LIFELONG_HOST=127.0.0.1
export LIFELONG_RECORDS_PORT=$((BASE + 1)) LIFELONG_CATALOG_PORT=$((BASE + 2)) LIFELONG_RECOMMEND_PORT=$((BASE + 3))
export LIFELONG_WEB_PORT=$((BASE + 90))
export RECORDS_FLAGS="--xapi_port=-1 --metrics_port=0" CATALOG_FLAGS="--metrics_port=0" RECOMMEND_FLAGS="--metrics_port=0"
export DEMO_LEARNERS="${WEB_TEST_LEARNERS:-300}" DEMO_COURSES="${WEB_TEST_COURSES:-120}" DEMO_PARALLEL=2
export STACK_AUTH=1 STACK_TRAIN_FLAGS="--tune=false"
# The test plays the district identity provider (tests/browser/app_oidc.test.mjs): a fresh RSA
# signing key, its JWKS given to every service (--auth_oidc_*), the private key to the tests.
OIDC_DIR="$VAR_DIR/oidc"
mkdir -p "$OIDC_DIR" && chmod 700 "$OIDC_DIR"
WEB_OIDC_KID="test-idp-$(date +%s)"
export WEB_OIDC_KEY="$OIDC_DIR/idp.key" WEB_OIDC_KID
export WEB_OIDC_ISSUER="https://id.dongcheng.gov.cn" WEB_OIDC_AUDIENCE="lifelong-app"
if ! node -e '
  const crypto = require("node:crypto"), fs = require("node:fs");
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  fs.writeFileSync(process.argv[1], privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const jwk = publicKey.export({ format: "jwk" });
  fs.writeFileSync(process.argv[2], JSON.stringify({ keys: [{ ...jwk, kid: process.argv[3], use: "sig", alg: "RS256" }] }));
' "$WEB_OIDC_KEY" "$OIDC_DIR/jwks.json" "$WEB_OIDC_KID"; then
  say "cannot make the test identity provider's key"; rm -rf "$VAR_DIR"; FAILED=1; finish 1
fi
OIDC_FLAGS="--auth_oidc_jwks_file=$OIDC_DIR/jwks.json --auth_oidc_issuer=$WEB_OIDC_ISSUER --auth_oidc_audience=$WEB_OIDC_AUDIENCE"
RECORDS_FLAGS="$RECORDS_FLAGS $OIDC_FLAGS" CATALOG_FLAGS="$CATALOG_FLAGS $OIDC_FLAGS"
RECOMMEND_FLAGS="$RECOMMEND_FLAGS $OIDC_FLAGS"
export WEB_KIOSK_VENUES="beixinqiao-sqxx dongsi-sqxx hepingli-sqxx"
SCHEME=http
if [ "${WEB_TEST_TLS:-0}" = 1 ]; then
  export STACK_TLS=1 WEB_HTTPS=1
  SCHEME=https
  WEB_TEST_FILTER="${WEB_TEST_FILTER:-^(kiosk|app)}"
else
  unset STACK_TLS
fi

teardown() {
  "$ROOT/ops/stack.sh" down >"$VAR_DIR/down.log" 2>&1 || cat "$VAR_DIR/down.log" >&2
  if [ "${WEB_TEST_KEEP:-0}" = 1 ]; then say "kept $VAR_DIR"; else rm -rf "$VAR_DIR"; fi
}
trap 'teardown; FAILED=$((FAILED + 1)); finish 130' INT TERM

say "stack in $VAR_DIR (ports $LIFELONG_RECORDS_PORT-$LIFELONG_RECOMMEND_PORT, gateway $LIFELONG_WEB_PORT $SCHEME; $DEMO_LEARNERS learners, $DEMO_COURSES courses)"
if ! "$ROOT/ops/stack.sh" up >"$VAR_DIR/up.log" 2>&1 || ! "$ROOT/ops/web.sh" status | grep -q SERVING; then
  tail -n 40 "$VAR_DIR/up.log" >&2
  say "the stack did not come up"
  teardown
  FAILED=1
  finish 1
fi
say "stack up after $(( $(date +%s) - T0 ))s"
export WEB_URL="$SCHEME://127.0.0.1:$LIFELONG_WEB_PORT"
if [ "$SCHEME" = https ]; then
  # The direct gRPC clients of the tests use the stack's client certificate; Node's fetch
  # and chromium trust the development CA (and nothing is ignored).
  export LIFELONG_TLS_CA="$VAR_DIR/tls/ca.pem" LIFELONG_TLS_CERT="$VAR_DIR/tls/client.pem"
  export LIFELONG_TLS_KEY="$VAR_DIR/tls/client.key" NODE_EXTRA_CA_CERTS="$VAR_DIR/tls/ca.pem"
  BROWSER_HOME="$VAR_DIR/browser-home"
  mkdir -p "$BROWSER_HOME/.pki/nssdb"
  if ! certutil -d "sql:$BROWSER_HOME/.pki/nssdb" -N --empty-password \
      || ! certutil -d "sql:$BROWSER_HOME/.pki/nssdb" -A -t "C,," -n "lifelong development CA" -i "$LIFELONG_TLS_CA"; then
    say "cannot make chromium trust the development CA (certutil)"
    teardown
    FAILED=1
    finish 1
  fi
  curl -fsS --cacert "$LIFELONG_TLS_CA" "$WEB_URL/healthz" >/dev/null || { say "no HTTPS at $WEB_URL"; FAILED=$((FAILED + 1)); }
  if curl -fsS "http://127.0.0.1:$LIFELONG_WEB_PORT/healthz" >/dev/null 2>&1; then
    say "the gateway still answers plain HTTP"; FAILED=$((FAILED + 1))
  fi
fi
export LIFELONG_RECORDS="127.0.0.1:$LIFELONG_RECORDS_PORT" LIFELONG_CATALOG="127.0.0.1:$LIFELONG_CATALOG_PORT"
export LIFELONG_RECOMMEND="127.0.0.1:$LIFELONG_RECOMMEND_PORT" KIOSK_VENUE=beixinqiao-sqxx

# 3. The tests, one file at a time (2 cores), counted from the runner's TAP summary.
for f in tests/browser/*.test.mjs; do
  if [ -n "${WEB_TEST_FILTER:-}" ] && ! [[ "$(basename "$f")" =~ $WEB_TEST_FILTER ]]; then continue; fi
  out="$VAR_DIR/$(basename "$f").tap"
  HOME="${BROWSER_HOME:-$HOME}" node --test --test-reporter=tap "$f" >"$out" 2>&1
  rc=$?
  p=$(awk '/^# pass /{print $3}' "$out" | tail -1)
  n=$(awk '/^# fail /{print $3}' "$out" | tail -1)
  c=$(awk '/^# cancelled /{print $3}' "$out" | tail -1)
  p=${p:-0}; n=$(( ${n:-0} + ${c:-0} ))
  if [ "$rc" != 0 ] && [ "$n" = 0 ]; then n=1; fi  # the file itself failed (no summary)
  PASSED=$((PASSED + p)); FAILED=$((FAILED + n))
  say "$(basename "$f"): $p passed, $n failed"
  if [ "$n" != 0 ]; then
    grep -E "^\s*not ok|error:|expected|actual|Error" "$out" | head -n 40 >&2
  fi
done

# Optional: figures and screenshots from the same stack.
if [ "${WEB_BENCH:-0}" = 1 ]; then
  say "benchmark (tests/browser/bench.mjs)"
  HOME="${BROWSER_HOME:-$HOME}" node tests/browser/bench.mjs || FAILED=$((FAILED + 1))
fi
if [ "${WEB_SCREENSHOTS:-0}" = 1 ]; then
  say "screenshots -> docs/web (tests/browser/screenshots.mjs)"
  HOME="${BROWSER_HOME:-$HOME}" node tests/browser/screenshots.mjs || FAILED=$((FAILED + 1))
fi

# 4. Down.
teardown
if [ "$FAILED" = 0 ]; then finish 0; else finish 1; fi
