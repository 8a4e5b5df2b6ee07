#!/usr/bin/env bash
# Generates a development CA and the certificates that the local stack's TLS
# runs with (docs/security.md, "TLS"). FOR DEVELOPMENT AND TESTS ONLY: the
# CA's private key lies unencrypted next to the certificates.
#
#   ops/dev-ca.sh [DIR]        DIR defaults to $LIFELONG_VAR/tls, else <repo>/var/tls
#
# Writes (keys mode 0600, DIR mode 0700):
#   ca.pem, ca.key                         the development CA (10 years)
#   records.pem/.key, catalog.pem/.key,    one per service, for serving and as the
#   recommend.pem/.key                     service's client identity (serverAuth +
#                                          clientAuth); subjectAltName localhost,
#                                          127.0.0.1, ::1 and $DEV_CA_HOSTS
#   client.pem/.key                        clientAuth only: the CLI, demo loader,
#                                          trainer and curl (CN lifelong-client)
#   web.pem/.key                           serverAuth only: the web gateway's HTTPS to
#                                          browsers (ops/web.sh; same subjectAltName)
#
# Idempotent: files are kept while they verify against ca.pem, stay valid for
# another day and name the same hosts; whatever is missing or stale is
# (re)issued (a new CA reissues everything). Prints DIR on the last line.
#
# Environment: DEV_CA_HOSTS  extra host names or IP addresses for the service
#   certificates (space or comma separated; LIFELONG_HOST is added when it is
#   neither 127.0.0.1 nor 0.0.0.0).  DEV_CA_DAYS [825]  leaf validity.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-${LIFELONG_VAR:-$ROOT/var}/tls}"
DAYS="${DEV_CA_DAYS:-825}"

command -v openssl >/dev/null || {
  echo "dev-ca: the openssl command is missing (apt-get install openssl; ops/bootstrap.sh installs it)" >&2
  exit 1
}

umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"

# subjectAltName of the service certificates.
hosts="localhost 127.0.0.1 ::1 ${DEV_CA_HOSTS:-}"
case "${LIFELONG_HOST:-127.0.0.1}" in
  127.0.0.1 | 0.0.0.0 | localhost) ;;
  *) hosts="$hosts $LIFELONG_HOST" ;;
esac
san=""
for h in ${hosts//,/ }; do
  if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then entry="IP:$h"; else entry="DNS:$h"; fi
  case ",$san," in *",$entry,"*) continue ;; esac
  san="${san:+$san,}$entry"
done

new_key() {  # new_key FILE: a P-256 key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.tmp" 2>/dev/null
  mv -f "$1.tmp" "$1"
}

# still_good NAME [SAN]: NAME.pem and NAME.key exist, NAME.pem verifies
# against ca.pem for another day, and was issued for SAN.
still_good() {
  [ -s "$1.pem" ] && [ -s "$1.key" ] || return 1
  openssl x509 -in "$1.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  if [ "$1" != ca ]; then
    openssl verify -CAfile ca.pem "$1.pem" >/dev/null 2>&1 || return 1
    [ "$(cat "$1.hosts" 2>/dev/null)" = "${2:-}" ] || return 1
  fi
}

issued=()
if ! still_good ca; then
  new_key ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 \
    -subj "/O=lifelong (development only)/CN=lifelong development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem.tmp
  mv -f ca.pem.tmp ca.pem
  issued+=(ca)
fi

# issue NAME COMMON_NAME EXTENDED_KEY_USAGE [SAN]
issue() {
  local name="$1" cn="$2" eku="$3" alt="${4:-}"
  still_good "$name" "$alt" && return
  new_key "$name.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -z "$alt" ] || echo "subjectAltName=$alt"
  } >"$name.ext"
  openssl req -new -key "$name.key" -subj "/O=lifelong (development only)/CN=$cn" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.pem.tmp" 2>/dev/null
  mv -f "$name.pem.tmp" "$name.pem"
  rm -f "$name.csr" "$name.ext"
  printf '%s' "$alt" >"$name.hosts"
  issued+=("$name")
}

for service in records catalog recommend; do
  issue "$service" "$service" serverAuth,clientAuth "$san"
done
issue client lifelong-client clientAuth
issue web web serverAuth "$san"
chmod 644 ./*.pem

if [ "${#issued[@]}" -gt 0 ]; then
  echo "dev-ca: issued ${issued[*]} in $DIR (subjectAltName $san)" >&2
else
  echo "dev-ca: certificates in $DIR are current" >&2
fi
echo "$DIR"
