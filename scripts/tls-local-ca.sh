#!/usr/bin/env bash
# tls-local-ca.sh: a local certificate authority and a certificate for this machine, to try HTTPS,
# WSS and (SECURE=1) TLS between the parts without a real certificate.
#
#   scripts/tls-local-ca.sh DIR
#
# Writes into DIR (kept when they are already there and the certificate is valid for a day more,
# so a browser that trusts the CA keeps trusting every later run with the same DIR):
#   ca.pem       the CA's certificate: what a browser, curl --cacert or SSL_CERT_FILE trusts
#   ca.key       its private key (mode 600)
#   server.pem   a certificate for localhost, 127.0.0.1 and ::1, signed by the CA
#   server.key   its private key (mode 600)
#   server.spki  the base64 SHA-256 of the certificate's public key: what Chromium's
#                --ignore-certificate-errors-spki-list takes to trust this one certificate
# The CA is name-constrained to localhost and loopback addresses: even if its key leaks, it can
# vouch for nothing else. EC P-256 keys; the certificate lasts 397 days, the CA ten years.
set -euo pipefail
dir=${1:?usage: $0 DIR}
command -v openssl >/dev/null 2>&1 || { echo "[tls] error: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

valid() { [[ -s $1 ]] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

if ! valid ca.pem || [[ ! -s ca.key ]]; then
  rm -f ca.pem ca.key server.pem server.key
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null)
  cat >ca.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
CN = seatmap local CA (this machine only)
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical, permitted;DNS:localhost, permitted;IP:127.0.0.0/255.0.0.0, permitted;IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF
EOF
  openssl req -x509 -new -key ca.key -days 3650 -sha256 -config ca.cnf -out ca.pem
fi

if ! valid server.pem || [[ ! -s server.key ]] ||
   ! openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1; then
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key 2>/dev/null)
  cat >server.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -key server.key -config server.cnf -out server.csr
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 397 -sha256 \
    -extfile server.cnf -extensions server_ext -out server.pem 2>/dev/null
  rm -f server.csr
fi
chmod 600 ca.key server.key
chmod 644 ca.pem server.pem
openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | openssl base64 -A >server.spki
echo >>server.spki
