#!/usr/bin/env bash
# Renders nginx/nginx.conf.template into a runnable nginx.conf and checks it with `nginx -t`.
# start.sh calls it; it can also be run by hand to see what start.sh would run.
#
# Usage: scripts/render-nginx.sh TEMPLATE OUT
# Environment (all required; start.sh sets them):
#   HTTP_PORT, BOOKING_PORTS and EDGE_PORTS (space-separated ports on 127.0.0.1),
#   FRONTEND_DIR, NGINX_DIR (writable: pid, logs, temp files),
#   LIMIT_SESSION_PER_MIN, LIMIT_SESSION_BURST, LIMIT_SEAT_PER_SEC, LIMIT_SEAT_BURST,
#   LIMIT_WS_PER_SEC, LIMIT_WS_BURST, LIMIT_WS_CONN, ADMIN_ACCESS (allow/deny rules)
# Optional: NGINX_WORKERS (worker_processes, default auto), NGINX_CONNECTIONS (worker_connections
#   per worker, default 16384; the file limit becomes twice that when over 40000);
#   NGINX_BIN (default: nginx on PATH); EDGE_SOCKETS: the edges' Unix sockets (their
#   UNIX_SOCKET), in the order of EDGE_PORTS. NGINX then proxies /ws over them instead of over
#   loopback TCP (a cheaper hop for every frame), provided its workers may reach them.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() { printf '[render-nginx] error: %s\n' "$*" >&2; exit 1; }
(( $# == 2 )) || die "usage: $0 TEMPLATE OUT"
tmpl=$1 out=$2
[[ -f $tmpl ]] || die "$tmpl not found"
vars=(HTTP_PORT BOOKING_PORTS EDGE_PORTS FRONTEND_DIR NGINX_DIR LIMIT_SESSION_PER_MIN LIMIT_SESSION_BURST
      LIMIT_SEAT_PER_SEC LIMIT_SEAT_BURST LIMIT_WS_PER_SEC LIMIT_WS_BURST LIMIT_WS_CONN ADMIN_ACCESS)
for v in "${vars[@]}"; do [[ -n ${!v:-} ]] || die "$v is not set"; done
NGINX_WORKERS=${NGINX_WORKERS:-auto} NGINX_CONNECTIONS=${NGINX_CONNECTIONS:-16384}
[[ $NGINX_WORKERS == auto || $NGINX_WORKERS =~ ^[1-9][0-9]*$ ]] || die "NGINX_WORKERS must be auto or a number, got '$NGINX_WORKERS'"
[[ $NGINX_CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "NGINX_CONNECTIONS must be a number, got '$NGINX_CONNECTIONS'"
# shellcheck disable=SC2034  # substituted through vars below
NGINX_RLIMIT_NOFILE=$(( 2 * NGINX_CONNECTIONS > 40000 ? 2 * NGINX_CONNECTIONS : 40000 ))
vars+=(NGINX_WORKERS NGINX_CONNECTIONS NGINX_RLIMIT_NOFILE)
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || true)}
[[ -x $NGINX_BIN ]] || die "nginx not found"

# Run as root, NGINX workers switch to user nobody, who may not be able to read the frontend
# (e.g. a checkout under /root). Then they run as the user who owns it.
worker_user=
if (( EUID == 0 )); then
  worker_user=nobody
  if [[ -d $FRONTEND_DIR ]] && command -v runuser >/dev/null 2>&1 &&
     ! runuser -u nobody -- test -r "$FRONTEND_DIR/index.html" 2>/dev/null; then
    worker_user=$(stat -c '%U' "$FRONTEND_DIR")
  fi
fi

# The edges' Unix sockets when the workers can reach their directory; else loopback TCP.
read -r -a sockets <<<"${EDGE_SOCKETS:-}"
read -r -a ports <<<"$EDGE_PORTS"
use_sockets=0
if (( ${#sockets[@]} == ${#ports[@]} && ${#sockets[@]} > 0 )); then
  use_sockets=1
  socket_dir=$(dirname "${sockets[0]}")
  if [[ -n $worker_user && $worker_user != root ]] &&
     ! { command -v runuser >/dev/null 2>&1 && runuser -u "$worker_user" -- test -x "$socket_dir" 2>/dev/null; }; then
    printf '[render-nginx] %s cannot reach %s: proxying /ws over loopback TCP\n' "$worker_user" "$socket_dir" >&2
    use_sockets=0
  fi
fi
servers="$NGINX_DIR/edge-servers.conf"
: >"$servers"
for i in "${!ports[@]}"; do
  if (( use_sockets )); then
    printf '        server unix:%s max_fails=1 fail_timeout=5s;\n' "${sockets[i]}" >>"$servers"
  else
    printf '        server 127.0.0.1:%s max_fails=1 fail_timeout=5s;\n' "${ports[i]}" >>"$servers"
  fi
done

# One booking service is never marked down by NGINX (requests flow again the moment it is
# back); several are, for 2 s after a failure, so requests go to the others meanwhile.
bookings="$NGINX_DIR/booking-servers.conf"
: >"$bookings"
read -r -a booking_ports <<<"$BOOKING_PORTS"
for p in "${booking_ports[@]}"; do
  if (( ${#booking_ports[@]} == 1 )); then
    printf '        server 127.0.0.1:%s;\n' "$p" >>"$bookings"
  else
    printf '        server 127.0.0.1:%s max_fails=1 fail_timeout=2s;\n' "$p" >>"$bookings"
  fi
done

# Escape for the right-hand side of a sed s||| command.
sed_rhs() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
args=(-e "/@EDGE_SERVERS@/{
r $servers
d
}" -e "/@BOOKING_SERVERS@/{
r $bookings
d
}")
args+=(-e "s|@RUN_DIR@|$(sed_rhs "$NGINX_DIR")|g")
for v in "${vars[@]}"; do
  case $v in EDGE_PORTS|BOOKING_PORTS|NGINX_DIR) continue ;; esac
  args+=(-e "s|@$v@|$(sed_rhs "${!v}")|g")
done
sed "${args[@]}" "$tmpl" >"$out"
if grep -qE '@[A-Z_]+@' "$out"; then
  die "unreplaced placeholder in $out: $(grep -oE '@[A-Z_]+@' "$out" | sort -u | tr '\n' ' ')"
fi

# Also listen on IPv6 when the host has it: "localhost" resolves to ::1 first
# for some clients (Node >= 17, some browsers), and nothing else listens there.
if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
  sed -i "s|^\( *\)listen $HTTP_PORT default_server;|&\n\1listen [::]:$HTTP_PORT default_server;|" "$out"
fi

if [[ -n $worker_user && $worker_user != nobody ]]; then
  owner=$(stat -c '%U %G' "$FRONTEND_DIR")
  sed -i "1i user $owner;  # added by start.sh: user nobody cannot read $FRONTEND_DIR" "$out"
fi

# -e (nginx >= 1.19.5): the error log used before nginx.conf is read, so an
# unprivileged check never tries /var/log/nginx/error.log.
nginx_e=()
if "$NGINX_BIN" -h 2>&1 | grep -q -- '-e filename'; then nginx_e=(-e "$NGINX_DIR/error.log"); fi
if ! out_t=$("$NGINX_BIN" -t -q -p "$NGINX_DIR/" -c "$out" "${nginx_e[@]}" 2>&1); then
  printf '%s\n' "$out_t" >&2
  die "nginx rejected $out (rendered from $tmpl)"
fi
