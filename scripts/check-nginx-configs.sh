#!/usr/bin/env bash
# check-nginx-configs.sh: fails when a checked-in NGINX config (nginx/nginx.compose.conf,
# nginx/nginx.compose-cluster.conf, nginx/nginx.compose-tls.conf) is not what scripts/render-nginx.sh makes from
# nginx/nginx.conf.template, and, where nginx is installed, when NGINX rejects any rendering
# (`nginx -t`). Fast (no servers start); the test command runs it first.
#
#   scripts/check-nginx-configs.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
work=$(mktemp -d /tmp/seatmap-nginx-check.XXXXXX)
chmod 755 "$work"   # NGINX workers (nobody) reach the edges' sockets in it
trap 'rm -rf "$work"' EXIT
failed=0
say() { printf '[nginx-configs] %s\n' "$*"; }

for profile in compose compose-cluster compose-tls; do
  file="nginx/nginx.$profile.conf"
  "$ROOT/scripts/render-nginx.sh" "$profile" "$work/$profile.conf"
  if ! diff -u "$ROOT/$file" "$work/$profile.conf" >"$work/$profile.diff"; then
    say "$file is not what scripts/render-nginx.sh $profile makes from nginx/nginx.conf.template:"
    head -n 60 "$work/$profile.diff"
    failed=1
  fi
done
if (( failed )); then
  say "FAILED: edit nginx/nginx.conf.template (not the compose configs), then run: scripts/render-nginx.sh --write-compose"
  exit 1
fi

nginx_bin=$(command -v nginx || true)
if [[ -z $nginx_bin ]]; then
  say "compose configs match the template; nginx is not installed, so nginx -t was skipped"
  exit 0
fi
nginx_e=()
if "$nginx_bin" -h 2>&1 | grep -q -- '-e filename'; then nginx_e=(-e "$work/error.log"); fi

# A certificate for the HTTPS renderings (scripts/tls-local-ca.sh, as start.sh --tls makes).
"$ROOT/scripts/tls-local-ca.sh" "$work/tls"

# The native rendering, with both one and two booking services, over TCP and over Unix sockets,
# and with HTTPS (render-nginx.sh native runs nginx -t itself).
# shellcheck source=scripts/start/limits.sh
. "$ROOT/scripts/start/limits.sh"
for spec in "${LIMIT_SPECS[@]}"; do read -r name default _ <<<"$spec"; export "$name=$default"; done
for variant in "1 tcp" "2 sockets" "1 tcp tls"; do
  read -r bookings edges tls <<<"$variant"
  dir="$work/native-$bookings-$edges${tls:+-tls}"
  mkdir -p "$dir"
  sockets=
  [[ $edges == sockets ]] && sockets="$dir/edge-3000.sock $dir/edge-3001.sock"
  TLS_CERT=${tls:+$work/tls/server.pem} TLS_KEY=${tls:+$work/tls/server.key} HTTPS_PORT=8443 \
  HTTP_PORT=8000 EDGE_PORTS="3000 3001" EDGE_SOCKETS="$sockets" FRONTEND_DIR="$ROOT/frontend" \
    NGINX_DIR="$dir" ADMIN_ACCESS='allow 127.0.0.1; allow ::1; deny all;' \
    BOOKING_PORTS="$( (( bookings == 1 )) && echo 8080 || echo 8080 8081)" \
    "$ROOT/scripts/render-nginx.sh" native "$dir/nginx.conf" || failed=1
done

# The compose renderings, with what only a container has mapped onto this machine: the service
# names onto 127.0.0.1 (nginx -t resolves upstream hosts), the image's paths into $work.
for profile in compose compose-cluster compose-tls; do
  dir="$work/$profile"
  mkdir -p "$dir"
  sed -E -e 's/^( *server )(edge|booking)[-0-9]*:/\1127.0.0.1:/' \
    -e "s|^pid .*|pid $dir/nginx.pid;|" -e "s|/usr/share/nginx/html|$ROOT/frontend|" -e "s|/etc/nginx/tls/|$work/tls/|" \
    -e "s|^http \\{|http {\\n    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;|" \
    "$ROOT/nginx/nginx.$profile.conf" >"$dir/nginx.conf"
  if ! out=$("$nginx_bin" -t -q -p "$dir/" -c "$dir/nginx.conf" "${nginx_e[@]}" 2>&1); then
    printf '%s\n' "$out"
    say "nginx rejected nginx/nginx.$profile.conf"
    failed=1
  fi
done
if (( failed )); then say "FAILED"; exit 1; fi
say "compose configs match the template; nginx -t accepts the native and compose renderings"
