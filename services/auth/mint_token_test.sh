#!/usr/bin/env bash
# The development token minter: refuses bad input, and its tokens carry the
# requested claims (decoded here; verification is covered by auth_test).
set -euo pipefail
bin=services/auth/mint_token
key="$TEST_TMPDIR/jwt.key"
head -c 48 /dev/urandom | base64 > "$key"
token=$($bin --key_file="$key" --role=kiosk --subject=kiosk-01 --venue=hepingli --ttl=10m)
payload=$(echo "$token" | cut -d. -f2 | tr '_-' '/+')
while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
claims=$(echo "$payload" | base64 -d)
for want in '"role":"kiosk"' '"sub":"kiosk-01"' '"venue":"hepingli"' '"aud":"lifelong"'; do
  echo "$claims" | grep -q "$want" || { echo "missing $want in $claims"; exit 1; }
done
if $bin --key_file="$key" --role=wizard --subject=x 2>/dev/null; then echo "accepted an unknown role"; exit 1; fi
if $bin --key_file="$key" --role=kiosk --subject=x 2>/dev/null; then echo "accepted a kiosk without venue"; exit 1; fi
echo short > "$TEST_TMPDIR/short.key"
if $bin --key_file="$TEST_TMPDIR/short.key" --subject=x 2>/dev/null; then echo "accepted a short key"; exit 1; fi
# Ed25519: a new key pair; the private key mints EdDSA tokens, the public one cannot.
$bin --new_key_pair="$TEST_TMPDIR/signing.pem" --public_key_out="$TEST_TMPDIR/verify.pem"
[ "$(stat -c %a "$TEST_TMPDIR/signing.pem")" = 600 ] || { echo "private key not 0600"; exit 1; }
grep -q "BEGIN PRIVATE KEY" "$TEST_TMPDIR/signing.pem" || { echo "no private key PEM"; exit 1; }
grep -q "BEGIN PUBLIC KEY" "$TEST_TMPDIR/verify.pem" || { echo "no public key PEM"; exit 1; }
token=$($bin --key_file="$TEST_TMPDIR/signing.pem" --role=learner --subject=u000001 --ttl=10m)
header=$(echo "$token" | cut -d. -f1 | tr '_-' '/+')
while [ $(( ${#header} % 4 )) -ne 0 ]; do header="$header="; done
echo "$header" | base64 -d | grep -q '"alg":"EdDSA"' || { echo "not an EdDSA token: $token"; exit 1; }
if $bin --key_file="$TEST_TMPDIR/verify.pem" --subject=x 2>/dev/null; then echo "minted with a public key"; exit 1; fi
if $bin --new_key_pair="$TEST_TMPDIR/x.pem" 2>/dev/null; then echo "a key pair without --public_key_out"; exit 1; fi
echo OK
