#!/usr/bin/env bash
# An edge cut off from NATS (not from its viewers or the booking service) for CUT_SECONDS: its
# viewer must be told within 5 s (STATUS live:false), a seat held meanwhile must reach it within
# 3 s of the heal, followed by STATUS live:true. NATS, Redis with the booking service, and the
# edge each run on a test host of their own (scripts/lib/nethosts.sh); the viewer and the test on
# the bridge. Prints the figures as one line ("edge-nats-cut: …") and exits 1 on a broken promise.
#
# Usage: tests/net/edge-nats-cut.sh   (as root)
# Environment: BIN_DIR (booking-service and edge-server; default target/debug), CUT_SECONDS (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN_DIR=${BIN_DIR:-$PWD/target/debug}
CUT_SECONDS=${CUT_SECONDS:-10}
for b in booking-service edge-server; do
  [[ -x $BIN_DIR/$b ]] || { echo "edge-nats-cut: no $BIN_DIR/$b (set BIN_DIR)" >&2; exit 2; }
done
source scripts/lib/nethosts.sh
work=$(mktemp -d /tmp/seatmap-net.XXXXXX)
nethosts_up nats core edge
trap 'nethosts_down; [[ -n ${NET_KEEP:-} ]] || rm -rf "$work"' EXIT
TOKEN_SECRET=$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')
export TOKEN_SECRET
# The services get only the settings written here (nethost_clean): a caller's (test.sh exports
# HOLD_SECONDS=4 for its stacks) must not change the scenario.
nats_ip=$(nethost_ip nats) core_ip=$(nethost_ip core) edge_ip=$(nethost_ip edge)
now_ms() { date +%s%3N; }
# wait_for SECONDS COMMAND…: until COMMAND succeeds; false after SECONDS.
wait_for() {
  local until=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < until)) || return 1; sleep 0.1; done
}

nethost nats nats-server -a "$nats_ip" -p 4222 >"$work/nats.log" 2>&1 &
nethost core redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
wait_for 10 nethost core redis-cli -p 6379 ping || { echo "edge-nats-cut: Redis did not start" >&2; exit 1; }
nethost_clean core env HOST="$core_ip" PORT=8080 REDIS_URL=redis://127.0.0.1:6379 NATS_URL="nats://$nats_ip:4222" \
  RUST_LOG=info "$BIN_DIR/booking-service" >"$work/booking.log" 2>&1 &
nethost_clean edge env HOST="$edge_ip" PORT=3000 BOOKING_URL="http://$core_ip:8080" NATS_URL="nats://$nats_ip:4222" \
  EDGE_ID=edge-net RUST_LOG=info "$BIN_DIR/edge-server" >"$work/edge.log" 2>&1 &
wait_for 20 curl -sf "http://$core_ip:8080/health" || { tail "$work/booking.log" >&2; exit 1; }
wait_for 20 curl -sf "http://$edge_ip:3000/health" || { tail "$work/edge.log" >&2; exit 1; }

node tests/net/watch.mjs "ws://$edge_ip:3000/ws" >"$work/frames.txt" 2>"$work/watch.err" &
wait_for 10 grep -q VENUE_STATE "$work/frames.txt" || { echo "edge-nats-cut: the viewer got no VENUE_STATE" >&2; exit 1; }
token=$(curl -sf -X POST "http://$core_ip:8080/api/session" | sed -E 's/.*"token":"([^"]+)".*/\1/')

cut_ms=$(now_ms)
nethost_cut edge nats
sleep 1
held=$(curl -sS --max-time 5 -X POST "http://$core_ip:8080/api/seats/select" -H 'Content-Type: application/json' \
  -d "{\"seat_id\":\"C3\",\"token\":\"$token\"}")
sleep $((CUT_SECONDS - 1))
heal_ms=$(now_ms)
nethost_heal edge nats
# Long enough for any reconnect backoff; the verdict below judges the times.
wait_for 30 python3 tests/net/frames.py "$work/frames.txt" "$cut_ms" "$heal_ms" C3 --settled || true
python3 tests/net/frames.py "$work/frames.txt" "$cut_ms" "$heal_ms" C3 --held-answer "$held" || {
  tail -n 15 "$work/edge.log" "$work/booking.log" "$work/frames.txt" | cut -c1-300 >&2
  exit 1
}
