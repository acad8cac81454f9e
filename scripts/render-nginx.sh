#!/usr/bin/env bash
# Renders nginx/nginx.conf.template, the one source of every NGINX configuration:
#
#   scripts/render-nginx.sh native OUT       what start.sh runs (then checked with `nginx -t`)
#   scripts/render-nginx.sh compose [OUT]    nginx/nginx.compose.conf (docker compose)
#   scripts/render-nginx.sh compose-cluster [OUT]   nginx/nginx.compose-cluster.conf (its
#                                            "cluster" profile: two booking services)
#   scripts/render-nginx.sh compose-tls [OUT]   nginx/nginx.compose-tls.conf (docker-compose.tls.yml:
#                                            HTTPS on 443 with the certificate mounted in
#                                            /etc/nginx/tls, HTTP on 80 redirecting there)
#   scripts/render-nginx.sh --write-compose  writes the three checked-in compose configs
#   scripts/render-nginx.sh compose-host OUT   what scripts/docker-start.sh runs: NGINX in a container
#                                            on the host's network, so it sees each client's own
#                                            address as the native NGINX does
#
# Without OUT the compose renderings go to stdout. scripts/check-nginx-configs.sh (run by the
# test command) fails while a checked-in config differs from what this prints.
#
# native reads (start.sh sets them): HTTP_PORT, BOOKING_PORTS and EDGE_PORTS (space-separated
#   ports on 127.0.0.1), FRONTEND_DIR, NGINX_DIR (writable: pid, logs, temp files), the LIMIT_*
#   settings (scripts/start/limits.sh) and ADMIN_ACCESS (allow/deny rules). Optional: EDGE_SOCKETS,
#   the edges' Unix sockets (their UNIX_SOCKET) in the order of EDGE_PORTS: NGINX then proxies
#   /ws over them instead of loopback TCP (a cheaper hop for every frame), provided its workers
#   may reach them; NGINX_BIN (default: nginx on PATH); TLS_CERT and TLS_KEY (PEM paths, both or
#   neither): HTTPS on HTTPS_PORT (default 443), HTTP_PORT then only redirects there; HSTS_MAX_AGE
#   (seconds, default 31536000).
# native also reads NGINX_WORKERS (worker_processes, default auto) and NGINX_CONNECTIONS
#   (worker_connections per worker, default 16384; the file limit becomes twice that when over
#   40000, or the hard limit `ulimit -Hn` when that is lower and cannot be raised). The compose renderings take the defaults of everything, whatever the environment
#   (start.sh's NGINX_*, LIMIT_* and ADMIN_FROM apply to the native run only).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="$ROOT/nginx/nginx.conf.template"

die() { printf '[render-nginx] error: %s\n' "$*" >&2; exit 1; }

declare -A VAL=()   # placeholder name -> its text (several lines for some)

# The settings every rendering shares: common_values MODE. Only the native run reads
# NGINX_WORKERS and NGINX_CONNECTIONS; the checked-in compose configs keep the defaults, whatever
# the environment of whoever renders or checks them.
common_values() {
  local workers=auto connections=16384
  if [[ $1 == native ]]; then workers=${NGINX_WORKERS:-auto} connections=${NGINX_CONNECTIONS:-16384}; fi
  [[ $workers == auto || $workers =~ ^[1-9][0-9]*$ ]] || die "NGINX_WORKERS must be auto or a number, got '$workers'"
  [[ $connections =~ ^[1-9][0-9]*$ ]] || die "NGINX_CONNECTIONS must be a number, got '$connections'"
  VAL[NGINX_WORKERS]=$workers
  VAL[NGINX_CONNECTIONS]=$connections
  local nofile=$(( 2 * connections > 40000 ? 2 * connections : 40000 )) hard
  # Natively NGINX runs with this script's limits: where the file limit cannot be raised that far
  # (not root, or a container without CAP_SYS_RESOURCE), ask for the hard limit, which NGINX can
  # set, instead of logging an [alert] at every start.
  if [[ $1 == native ]]; then
    hard=$(ulimit -Hn)
    if [[ $hard =~ ^[0-9]+$ ]] && (( hard < nofile )) && ! (ulimit -n "$nofile") 2>/dev/null; then
      nofile=$hard
    fi
  fi
  VAL[NGINX_RLIMIT_NOFILE]=$nofile
}

# upstream_lines FAIL_TIMEOUT ADDRESS...: one server line each. One booking service
# (FAIL_TIMEOUT "never") is never marked down, so requests flow again the moment it is back;
# otherwise a failed server is left out for FAIL_TIMEOUT.
upstream_lines() {
  local timeout=$1 a
  shift
  for a in "$@"; do
    if [[ $timeout == never ]]; then printf 'server %s;\n' "$a"
    else printf 'server %s max_fails=1 fail_timeout=%s;\n' "$a" "$timeout"; fi
  done
}
booking_lines() { if (( $# == 1 )); then upstream_lines never "$@"; else upstream_lines 2s "$@"; fi; }

# tls_values CERT KEY HTTPS_PORT HTTP_PORT IPV6 HSTS_MAX_AGE: HTTPS on HTTPS_PORT with CERT and
# KEY (TLS 1.2 and 1.3, the ECDHE AEAD ciphers of Mozilla's "intermediate" profile), HTTP_PORT
# redirecting there. IPV6 1: listen on [::] too.
tls_values() {
  local cert=$1 key=$2 tls_port=$3 redirect_port=$4 ipv6=$5 hsts=$6 port_part=
  [[ $tls_port =~ ^[0-9]+$ ]] || die "HTTPS_PORT must be a port number, got '$tls_port'"
  [[ $hsts =~ ^[0-9]+$ ]] || die "HSTS_MAX_AGE must be a whole number of seconds, got '$hsts'"
  (( tls_port == 443 )) || port_part=":$tls_port"
  VAL[LISTEN]="listen $tls_port ssl default_server;"
  (( ipv6 )) && VAL[LISTEN]+=$'\n'"listen [::]:$tls_port ssl default_server;"
  VAL[TLS]="# HTTPS: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (TLS 1.3 picks its own).
ssl_certificate     $cert;
ssl_certificate_key $key;
ssl_protocols TLSv1.2 TLSv1.3;
ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
ssl_prefer_server_ciphers off;
ssl_session_cache shared:TLS:10m;
ssl_session_timeout 1d;
ssl_session_tickets off;"
  VAL[HSTS]="max-age=$hsts"
  local listen="listen $redirect_port default_server;"
  (( ipv6 )) && listen+=$'\n'"    listen [::]:$redirect_port default_server;"
  VAL[HTTPS_REDIRECT]="# Plain HTTP: only a redirect to the same URL on HTTPS (HTTPS_PORT), nothing else.
server {
    $listen
    server_name _;
    server_tokens off;
    location / {
        return 301 https://\$host$port_part\$request_uri;
    }
}
"
}
plain_values() { VAL[TLS]='' VAL[HTTPS_REDIRECT]='' VAL[HSTS]="max-age=31536000"; }

native_values() {
  local v name worker_user='' use_sockets=0 socket_dir a
  local -a sockets ports booking_ports edges=() bookings=()
  for v in HTTP_PORT BOOKING_PORTS EDGE_PORTS FRONTEND_DIR NGINX_DIR ADMIN_ACCESS; do
    [[ -n ${!v:-} ]] || die "$v is not set"
  done
  limit_values
  # Run as root, NGINX workers switch to user nobody, who may not be able to read the frontend
  # (e.g. a checkout under /root). Then they run as the user who owns it.
  if (( EUID == 0 )); then
    worker_user=nobody
    if [[ -d $FRONTEND_DIR ]] && command -v runuser >/dev/null 2>&1 &&
       ! runuser -u nobody -- test -r "$FRONTEND_DIR/index.html" 2>/dev/null; then
      worker_user=$(stat -c '%U' "$FRONTEND_DIR")
    fi
  fi
  VAL[USER]=
  if [[ -n $worker_user && $worker_user != nobody ]]; then
    VAL[USER]="user $(stat -c '%U %G' "$FRONTEND_DIR");  # added by start.sh: user nobody cannot read $FRONTEND_DIR"
  fi
  # The edges' Unix sockets when the workers can reach their directory; else loopback TCP.
  read -r -a sockets <<<"${EDGE_SOCKETS:-}"
  read -r -a ports <<<"$EDGE_PORTS"
  if (( ${#sockets[@]} == ${#ports[@]} && ${#sockets[@]} > 0 )); then
    use_sockets=1
    socket_dir=$(dirname "${sockets[0]}")
    if [[ -n $worker_user && $worker_user != root ]] &&
       ! { command -v runuser >/dev/null 2>&1 && runuser -u "$worker_user" -- test -x "$socket_dir" 2>/dev/null; }; then
      printf '[render-nginx] %s cannot reach %s: proxying /ws over loopback TCP\n' "$worker_user" "$socket_dir" >&2
      use_sockets=0
    fi
  fi
  if (( use_sockets )); then for a in "${sockets[@]}"; do edges+=("unix:$a"); done
  else for a in "${ports[@]}"; do edges+=("127.0.0.1:$a"); done; fi
  read -r -a booking_ports <<<"${BOOKING_PORTS:?}"
  for a in "${booking_ports[@]}"; do bookings+=("127.0.0.1:$a"); done
  VAL[EDGE_SERVERS]=$(upstream_lines 5s "${edges[@]}")
  VAL[BOOKING_SERVERS]=$(booking_lines "${bookings[@]}")
  # Also listen on IPv6 when the host has it: "localhost" resolves to ::1 first for some
  # clients (Node >= 17, some browsers), and nothing else listens there.
  local ipv6=0
  if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then ipv6=1; fi
  VAL[LISTEN]="listen $HTTP_PORT default_server;"
  (( ipv6 )) && VAL[LISTEN]+=$'\n'"listen [::]:$HTTP_PORT default_server;"
  plain_values
  if [[ -n ${TLS_CERT:-} || -n ${TLS_KEY:-} ]]; then
    [[ -r ${TLS_CERT:-} && -r ${TLS_KEY:-} ]] || die "TLS_CERT and TLS_KEY must both name readable PEM files"
    tls_values "$TLS_CERT" "$TLS_KEY" "${HTTPS_PORT:-443}" "$HTTP_PORT" "$ipv6" "${HSTS_MAX_AGE:-31536000}"
  fi
  VAL[FRONTEND_DIR]=$FRONTEND_DIR
  VAL[ADMIN_ACCESS]=$ADMIN_ACCESS
  # Everything NGINX writes goes under NGINX_DIR, so it runs without root (on any port >= 1024)
  # and never touches /var.
  VAL[PID_FILE]="$NGINX_DIR/nginx.pid"
  VAL[ERROR_LOG]="$NGINX_DIR/error.log"
  VAL[ACCESS_LOG]="$NGINX_DIR/access.log"
  VAL[TEMP_PATHS]="# Temp files next to the pid (the compiled-in defaults are under /var/lib/nginx)."
  for name in client_body proxy fastcgi uwsgi scgi; do
    VAL[TEMP_PATHS]+=$'\n'"$(printf '%-21s %s;' "${name}_temp_path" "$NGINX_DIR/${name}_temp")"
  done
  VAL[TEMP_PATHS]+=$'\n'
  VAL[HEADER]="# Rendered by scripts/render-nginx.sh (native) from nginx/nginx.conf.template for start.sh,
# which runs it with: nginx -p $NGINX_DIR/ -c $NGINX_DIR/nginx.conf -g 'daemon off;'"
}

# compose_values PROFILE: the official nginx image, compose's service names, the defaults.
compose_values() {
  local profile=$1 spec name default
  # shellcheck source=scripts/start/limits.sh
  . "$ROOT/scripts/start/limits.sh"
  for spec in "${LIMIT_SPECS[@]}"; do
    read -r name default _ <<<"$spec"
    VAL[$name]=$default
  done
  VAL[USER]=
  VAL[LISTEN]="listen 80 default_server;"
  VAL[FRONTEND_DIR]=/usr/share/nginx/html
  VAL[ADMIN_ACCESS]="allow 127.0.0.1; allow ::1; deny all;"
  VAL[PID_FILE]=/var/run/nginx.pid
  VAL[ERROR_LOG]=stderr   # docker compose logs nginx
  VAL[ACCESS_LOG]=/dev/stdout
  VAL[TEMP_PATHS]=
  plain_values
  local what services
  if [[ $profile == compose || $profile == compose-tls ]]; then
    VAL[EDGE_SERVERS]=$(upstream_lines 5s edge1:3000 edge2:3001)
    VAL[BOOKING_SERVERS]=$(booking_lines booking:8080)
    what="docker compose" services="booking, edge1 and edge2"
    if [[ $profile == compose-tls ]]; then
      tls_values /etc/nginx/tls/server.pem /etc/nginx/tls/server.key 443 80 0 31536000
      what="docker compose with docker-compose.tls.yml (HTTPS on 443 with the certificate in
# /etc/nginx/tls, HTTP on 80 redirecting there)"
    fi
  else
    VAL[EDGE_SERVERS]=$(upstream_lines 5s edge-1:3000 edge-2:3000)
    VAL[BOOKING_SERVERS]=$(booking_lines booking-1:8080 booking-2:8080)
    what='docker compose'"'"'s "cluster" profile' services="booking-1, booking-2, edge-1 and edge-2"
  fi
  VAL[HEADER]="# GENERATED by \`scripts/render-nginx.sh $profile\` from nginx/nginx.conf.template: do not
# edit. Change the template and run \`scripts/render-nginx.sh --write-compose\`; the test
# command fails while this file differs from that rendering.
#
# NGINX for the seat map under $what (see docker-compose.yml): the native
# configuration with the compose service names, the paths of the official nginx image and the
# default per-IP limits written in (start.sh's LIMIT_* and ADMIN_FROM apply to the native run
# only). Why these limits: docs/security.md.
#
# Mounted as /etc/nginx/nginx.conf; the frontend is mounted read-only at /usr/share/nginx/html.
# NGINX resolves $services once at start, which is why compose starts
# it only after they are healthy. /api/admin/ answers only requests from inside this container
# (loopback): run the reset with \`docker compose exec\`; container logs: \`docker compose logs nginx\`."
}

# compose_host_values: NGINX in a container on the host's network (docker-compose.host.yml). It
# listens on HTTP_PORT of the host and reaches the services at their fixed addresses on the
# compose network, EDGE_ADDRESSES and BOOKING_ADDRESSES (space-separated host:port). Like the
# native run it takes the LIMIT_* settings and ADMIN_ACCESS from the environment (start.sh's),
# and loopback is this machine's: a published port would show every local client as the
# bridge's gateway, one address for the per-IP limits and the admin rule.
# limit_values: the per-IP limits (scripts/start/limits.sh), which native and compose-host
# renderings take from the environment.
limit_values() {
  local spec name
  # shellcheck source=scripts/start/limits.sh
  . "$ROOT/scripts/start/limits.sh"
  for spec in "${LIMIT_SPECS[@]}"; do
    read -r name _ <<<"$spec"
    [[ -n ${!name:-} ]] || die "$name is not set"
    VAL[$name]=${!name}
  done
}

compose_host_values() {
  local v
  local -a edges bookings
  for v in HTTP_PORT EDGE_ADDRESSES BOOKING_ADDRESSES ADMIN_ACCESS; do
    [[ -n ${!v:-} ]] || die "$v is not set"
  done
  limit_values
  read -r -a edges <<<"$EDGE_ADDRESSES"
  read -r -a bookings <<<"$BOOKING_ADDRESSES"
  VAL[EDGE_SERVERS]=$(upstream_lines 5s "${edges[@]}")
  VAL[BOOKING_SERVERS]=$(booking_lines "${bookings[@]}")
  VAL[USER]=
  VAL[LISTEN]="listen $HTTP_PORT default_server;"
  if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then VAL[LISTEN]+=$'\n'"listen [::]:$HTTP_PORT default_server;"; fi
  VAL[FRONTEND_DIR]=/usr/share/nginx/html
  VAL[ADMIN_ACCESS]=$ADMIN_ACCESS
  VAL[PID_FILE]=/run/nginx.pid
  VAL[ERROR_LOG]=stderr
  VAL[ACCESS_LOG]=/dev/stdout
  VAL[TEMP_PATHS]=
  plain_values
  VAL[HEADER]="# Rendered by scripts/render-nginx.sh (compose-host) from nginx/nginx.conf.template for
# scripts/docker-start.sh: NGINX in a container on the host's network (docker-compose.host.yml),
# listening on port $HTTP_PORT of this machine, the services at their compose-network addresses."
}

# fill: the template with every placeholder replaced, its leading comment by HEADER. A
# placeholder alone on a line takes its value's lines, each indented as it was; an empty one
# takes the line away.
fill() {
  local line name indent in_header=1 v
  printf '%s\n' "${VAL[HEADER]}"
  while IFS= read -r line || [[ -n $line ]]; do
    if (( in_header )); then
      [[ $line == '#'* || -z $line ]] && continue
      in_header=0
      echo
    fi
    if [[ $line =~ ^([[:space:]]*)@([A-Z_]+)@$ && -v VAL[${BASH_REMATCH[2]}] ]]; then
      indent=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
      [[ -n ${VAL[$name]} ]] || continue
      while IFS= read -r v; do
        if [[ -n $v ]]; then printf '%s%s\n' "$indent" "$v"; else echo; fi
      done <<<"${VAL[$name]}"
      continue
    fi
    for name in "${!VAL[@]}"; do
      [[ $line == *"@$name@"* ]] && line=${line//"@$name@"/"${VAL[$name]}"}
    done
    printf '%s\n' "$line"
  done <"$TEMPLATE"
}

# render MODE OUT: OUT "-" is stdout.
render() {
  local mode=$1 out=$2 text
  VAL=()
  common_values "$mode"
  case $mode in
    native) native_values ;;
    compose|compose-cluster|compose-tls) compose_values "$mode" ;;
    compose-host) compose_host_values ;;
    *) die "unknown mode '$mode' (native, compose, compose-cluster, compose-tls, compose-host; see the top of $0)" ;;
  esac
  text=$(fill)
  if [[ $text =~ @[A-Z_]+@ ]]; then die "unreplaced placeholder in the $mode rendering: ${BASH_REMATCH[0]}"; fi
  if [[ $out == - ]]; then printf '%s\n' "$text"; else printf '%s\n' "$text" >"$out"; fi
}

# nginx -t on the native rendering. -e (nginx >= 1.19.5): the error log used before nginx.conf
# is read, so an unprivileged check never tries /var/log/nginx/error.log.
check_native() {
  local out=$1 bin=${NGINX_BIN:-$(command -v nginx || true)} nginx_e=() result
  [[ -x $bin ]] || die "nginx not found"
  if "$bin" -h 2>&1 | grep -q -- '-e filename'; then nginx_e=(-e "$NGINX_DIR/error.log"); fi
  if ! result=$("$bin" -t -q -p "$NGINX_DIR/" -c "$out" "${nginx_e[@]}" 2>&1); then
    printf '%s\n' "$result" >&2
    die "nginx rejected $out (rendered from $TEMPLATE)"
  fi
}

[[ -f $TEMPLATE ]] || die "$TEMPLATE not found"
case ${1:-} in
  native)
    (( $# == 2 )) || die "usage: $0 native OUT"
    render native "$2"
    check_native "$2"
    ;;
  compose|compose-cluster|compose-tls)
    (( $# <= 2 )) || die "usage: $0 $1 [OUT]"
    render "$1" "${2:--}"
    ;;
  compose-host)
    (( $# == 2 )) || die "usage: $0 compose-host OUT"
    render compose-host "$2"
    ;;
  --write-compose)
    render compose "$ROOT/nginx/nginx.compose.conf"
    render compose-cluster "$ROOT/nginx/nginx.compose-cluster.conf"
    render compose-tls "$ROOT/nginx/nginx.compose-tls.conf"
    printf '[render-nginx] wrote nginx/nginx.compose.conf, nginx.compose-cluster.conf and nginx.compose-tls.conf\n' >&2
    ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
