#!/usr/bin/env bash
# Makes the certificates the TLS tests use, into DIR (made if missing):
#   ca.pem ca.key                   the test CA
#   server.pem server.key           for localhost, 127.0.0.1 and ::1, by ca
#   expired.pem expired.key         the same names, expired in 2020, by ca
#   client.pem client.key           a client certificate, by ca
#   name-only.pem name-only.key     for DNS:localhost only (no IP), by ca
#   other-ca.pem                    a CA that signed none of the above
#   other-client.pem other-client.key  a client certificate, by other-ca
# Runs in about a second; only openssl is needed. Safe to run again (a set
# made by an older version of this script is made anew).
set -euo pipefail
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
stamp=made-v2
[ -f "$stamp" ] && exit 0

quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }

# ec keys: fast to make
newkey() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

newkey ca.key
quiet openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=netasync test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

newkey other-ca.key
quiet openssl req -x509 -new -key other-ca.key -days 3650 \
  -subj "/CN=netasync other CA" -addext "basicConstraints=critical,CA:TRUE" \
  -out other-ca.pem

cat > ext-server.cnf <<'CNF'
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
CNF
cat > ext-client.cnf <<'CNF'
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=clientAuth
CNF
cat > ext-name-only.cnf <<'CNF'
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost
CNF

# sign CA NAME SUBJECT EXTFILE: NAME.pem and NAME.key, signed by CA
sign() {
  local ca=$1 name=$2 subject=$3 ext=$4
  newkey "$name.key"
  quiet openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  quiet openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
    -CAcreateserial -extfile "$ext" -out "$name.pem" -days 3650
}
sign ca server "/CN=localhost" ext-server.cnf
sign ca client "/CN=netasync test client" ext-client.cnf
sign ca name-only "/CN=localhost" ext-name-only.cnf
sign other-ca other-client "/CN=netasync other client" ext-client.cnf

# An expired certificate needs dates in the past, which only `openssl ca`
# takes on OpenSSL 3.0.
mkdir -p ca-db
: >ca-db/index.txt
cat > ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CNF
echo 1000 >ca-db/serial
newkey expired.key
quiet openssl req -new -key expired.key -subj "/CN=localhost" -out expired.csr
quiet openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key \
  -startdate 20200101000000Z -enddate 20200201000000Z \
  -extfile ext-server.cnf -in expired.csr -out expired.pem -notext
touch "$stamp"
