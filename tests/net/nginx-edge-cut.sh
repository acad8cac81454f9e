#!/usr/bin/env bash
# NGINX cut off from one of two edges (not the edge from NATS or the booking service): clients
# already on that edge must notice by the page's PING/PONG (a PING every 20 s, no PONG within
# 10 s: reconnect) and be on the other edge with the current state (a seat held during the cut)
# within 30 s plus the reconnect; new clients must land on the other edge at once; clients on the
# other edge keep their sockets. NATS, Redis with the booking service, edge-1, edge-2 and NGINX
# each run on a test host of their own (scripts/lib/nethosts.sh); NGINX is rendered from
# nginx/nginx.conf.template by scripts/render-nginx.sh (compose-host: the edges and the booking
# service at their hosts' addresses over TCP). The clients (tests/net/page-clients.mjs: the
# page's own transport.js and backoff.js with its timings and cookie) run on the bridge. Prints
# one line per client and "nginx-edge-cut: … verdict: …"; exits 1 on a broken promise.
#
# Usage: tests/net/nginx-edge-cut.sh   (as root; about 75 s)
# Environment: BIN_DIR (booking-service and edge-server; default target/debug), CLIENTS (16
# clients, opened over 20 s so their pings fall at different moments), NEW_CLIENTS (6).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${CLIENTS:-16} NEW_CLIENTS=${NEW_CLIENTS:-6}
NET_EXTRA_HOSTS=(edge2 nginx)
source tests/net/common.sh
net_setup nginx-edge-cut booking-service edge-server
command -v nginx >/dev/null || { echo "nginx-edge-cut: no nginx; verdict: FAIL: nginx is not installed" >&2; exit 1; }
now_ms() { date +%s%3N; }
edge2_ip=$(nethost_ip edge2) nginx_ip=$(nethost_ip nginx)
net_booking HOLD_SECONDS=120
net_edge "http://$core_ip:8080" "nats://$nats_ip:4222" EDGE_ID=edge-1
nethost_clean edge2 env HOST="$edge2_ip" PORT=3000 BOOKING_URL="http://$core_ip:8080" \
  NATS_URL="nats://$nats_ip:4222" EDGE_ID=edge-2 RUST_LOG=info "$BIN_DIR/edge-server" >"$work/edge2.log" 2>&1 &
wait_for 30 curl -sf "http://$edge2_ip:3000/health" || { tail "$work/edge2.log" >&2; exit 1; }

# NGINX as scripts/docker-start.sh runs it (compose-host), rendered on its own host (which
# decides whether it also listens on IPv6), with its pid file in this run's directory instead of
# /run and per-IP limits that let every client of this test (all from the bridge's address) in.
nethost nginx env HTTP_PORT=8000 EDGE_ADDRESSES="$edge_ip:3000 $edge2_ip:3000" \
  BOOKING_ADDRESSES="$core_ip:8080" ADMIN_ACCESS='deny all;' LIMIT_SESSION_PER_MIN=1000 \
  LIMIT_SESSION_BURST=1000 LIMIT_SEAT_PER_SEC=1000 LIMIT_SEAT_BURST=1000 LIMIT_WS_PER_SEC=1000 \
  LIMIT_WS_BURST=1000 LIMIT_WS_CONN=1000 scripts/render-nginx.sh compose-host "$work/nginx.conf"
sed -i "s|^pid .*|pid $work/nginx.pid;|" "$work/nginx.conf"
mkdir -p "$work/nginx"
nethost nginx nginx -e stderr -p "$work/nginx/" -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
wait_for 10 curl -sf "http://$nginx_ip:8000/health" || { echo "nginx-edge-cut: NGINX did not start" >&2; tail "$work/nginx.log" >&2; exit 1; }
echo "[nginx-edge-cut] NGINX on $nginx_ip:8000, edge-1 on $edge_ip, edge-2 on $edge2_ip"

mkfifo "$work/control"
node tests/net/page-clients.mjs "ws://$nginx_ip:8000/ws" "$CLIENTS" 20000 "$NEW_CLIENTS" \
  <"$work/control" >"$work/clients.txt" 2>"$work/clients.err" &
clients_pid=$!
exec 3>"$work/control"
wait_for 40 grep -q READY "$work/clients.txt" || {
  echo "nginx-edge-cut: the clients did not connect; verdict: FAIL: $(tail -n 1 "$work/clients.txt")"
  tail -n 5 "$work/clients.err" "$work/nginx.log" >&2
  exit 1
}
echo "[nginx-edge-cut] $CLIENTS clients through NGINX: $(sed -n 's/^READY //p' "$work/clients.txt")"

echo "[nginx-edge-cut] cutting NGINX from edge-1"
cut_ms=$(now_ms)
nethost_cut nginx edge
echo "CUT $cut_ms edge-1" >&3
token=$(curl -sf -X POST "http://$core_ip:8080/api/session" | sed -E 's/.*"token":"([^"]+)".*/\1/')
held=$(curl -sS --max-time 5 -X POST "http://$core_ip:8080/api/seats/select" -H 'Content-Type: application/json' \
  -d "{\"seat_id\":\"C3\",\"token\":\"$token\"}")
[[ $held == *'"ok":true'* ]] || { echo "nginx-edge-cut: holding C3 was answered $held; verdict: FAIL: no hold" >&2; exit 1; }
echo "HELD C3 $(now_ms)" >&3
echo "[nginx-edge-cut] C3 held through the booking service; waiting for the clients (at most ~40 s)"
status=0
wait "$clients_pid" || status=$?
exec 3>&-
grep '^\[page-clients\]' "$work/clients.txt" || true
summary=$(tail -n 1 "$work/clients.txt")
echo "nginx-edge-cut: NGINX cut from edge-1 (both ways), edge-2 reachable: $summary"
if ((status != 0)) || [[ $summary != *'verdict: pass' ]]; then
  tail -n 5 "$work/clients.err" "$work/nginx.log" | cut -c1-300 >&2
  exit 1
fi
