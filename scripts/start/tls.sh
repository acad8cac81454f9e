# shellcheck shell=bash disable=SC2034,SC2153  # TLS_* are read by start.sh, parts.sh and checks.sh
# Sourced by start.sh: HTTPS and WSS at NGINX. TLS_CERT and TLS_KEY (PEM paths) turn it on;
# --tls (TLS=1) makes a local CA and a localhost certificate under $RUN_DIR/tls
# (scripts/tls-local-ca.sh) when they are not given. NGINX then serves HTTPS_PORT and its
# HTTP_PORT only redirects there (scripts/render-nginx.sh). Why and how: docs/security.md.
# Needs: RUN_DIR, ROOT, abs_path, is_uint, say, die. Sets and exports what render-nginx.sh reads.

TLS_ON=0 TLS_GENERATED=0 TLS_CA=
if (( TLS )) && [[ -z ${TLS_CERT:-} && -z ${TLS_KEY:-} ]]; then
  TLS_GENERATED=1
  TLS_CA="$RUN_DIR/tls/ca.pem"
  TLS_CERT="$RUN_DIR/tls/server.pem" TLS_KEY="$RUN_DIR/tls/server.key"
fi
if [[ -n ${TLS_CERT:-} || -n ${TLS_KEY:-} ]]; then
  [[ -n ${TLS_CERT:-} && -n ${TLS_KEY:-} ]] || die "TLS_CERT and TLS_KEY go together: the certificate and its key (PEM files)"
  TLS_CERT=$(abs_path "$TLS_CERT") TLS_KEY=$(abs_path "$TLS_KEY")
  if (( ! TLS_GENERATED )); then
    [[ -r $TLS_CERT ]] || die "TLS_CERT=$TLS_CERT is not a readable file"
    [[ -r $TLS_KEY ]] || die "TLS_KEY=$TLS_KEY is not a readable file"
  fi
  TLS_ON=1
  HTTPS_PORT=${HTTPS_PORT:-443}
  if ! is_uint "$HTTPS_PORT" || (( HTTPS_PORT < 1 || HTTPS_PORT > 65535 )); then
    die "HTTPS_PORT must be a port number (1-65535), got '$HTTPS_PORT'"
  fi
  # HSTS tells browsers to use HTTPS for this host for max-age seconds. The local certificate
  # is for localhost, where a later plain run must still work: five minutes then, a year else.
  if (( TLS_GENERATED )); then HSTS_MAX_AGE=300; else HSTS_MAX_AGE=${HSTS_MAX_AGE:-31536000}; fi
  export TLS_CERT TLS_KEY HTTPS_PORT HSTS_MAX_AGE
else
  unset HTTPS_PORT
fi

# tls_prepare: the local CA and certificate, when --tls makes them (kept across runs with the
# same RUN_DIR, so a browser that trusts the CA keeps trusting it).
tls_prepare() {
  (( TLS_GENERATED )) || return 0
  "$ROOT/scripts/tls-local-ca.sh" "$RUN_DIR/tls" || die "could not make the local CA and certificate (openssl)"
}

# The URL NGINX serves the page on, for people (localhost), and for start.sh's own checks.
nginx_url() {
  if (( TLS_ON )); then printf 'https://localhost%s' "$( (( HTTPS_PORT == 443 )) || printf ':%s' "$HTTPS_PORT")"
  else printf 'http://localhost%s' "$( (( HTTP_PORT == 80 )) || printf ':%s' "$HTTP_PORT")"; fi
}
# curl's arguments to reach NGINX from this machine: plain HTTP, or HTTPS trusting the local CA
# (a certificate of your own names your host, not localhost: then only whether it answers).
nginx_curl_base() {
  if (( ! TLS_ON )); then NGINX_CURL=() NGINX_BASE="http://127.0.0.1:$HTTP_PORT"
  elif (( TLS_GENERATED )); then NGINX_CURL=(--cacert "$TLS_CA") NGINX_BASE="https://localhost:$HTTPS_PORT"
  else NGINX_CURL=(-k) NGINX_BASE="https://127.0.0.1:$HTTPS_PORT"; fi
}
nginx_ok() {
  nginx_curl_base
  curl -fsS -o /dev/null --noproxy '*' --max-time 2 "${NGINX_CURL[@]}" "$NGINX_BASE/health" 2>/dev/null
}

# The lines print_ready adds with HTTPS on, each after a newline.
tls_ready_lines() {
  (( TLS_ON )) || return 0
  local url ws
  url=$(nginx_url)
  ws="wss://${url#https://}/ws"
  printf '\n  HTTPS:              %s (TLS_CERT=%s); http://…:%s redirects there; HSTS max-age=%s\n' \
    "$url" "$TLS_CERT" "$HTTP_PORT" "$HSTS_MAX_AGE"
  (( TLS_GENERATED )) || return 0
  cat <<EOF
  Local CA:           $TLS_CA  (made by start.sh --tls; it signs only localhost and loopback)
    Trust it:         Chromium/Chrome: Settings > Privacy and security > Security > Manage certificates >
                        Authorities > Import $TLS_CA ("Trust this certificate for identifying websites")
                      Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
                      curl, websocat, Node: curl --cacert $TLS_CA $url/health
                        SSL_CERT_FILE=$TLS_CA websocat $ws   (a websocat built with TLS)
                        NODE_EXTRA_CA_CERTS=$TLS_CA node …
                      Whole system (Debian): sudo cp $TLS_CA /usr/local/share/ca-certificates/seatmap-local.crt && sudo update-ca-certificates
EOF
}
