#!/usr/bin/env bash
# Makes a throw-away PKI for TLS between head and workers (tests, trials):
#   ca.pem/ca.key            the test CA
#   head.pem/.key, worker.pem/.key   signed by it
#   rogue-ca.pem, rogue.pem/.key     an unrelated CA and a certificate of it
# Usage: tools/make-test-ca.sh DIR
set -euo pipefail
dir=${1:?usage: make-test-ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { "$@" 2>/dev/null; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj "/CN=evoselfcode test CA"
for name in head worker; do
  q openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=$name"
  q openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
    -CAcreateserial -out "$name.pem" -days 30
done
q openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue-ca.key \
  -out rogue-ca.pem -days 30 -subj "/CN=rogue CA"
q openssl req -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.csr \
  -subj "/CN=rogue"
q openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key \
  -CAcreateserial -out rogue.pem -days 30
rm -f ./*.csr ./*.srl
chmod 600 ./*.key
echo "test PKI in $dir"
