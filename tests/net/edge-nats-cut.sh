#!/usr/bin/env bash
# An edge cut off from NATS (not from its viewers or the booking service) for CUT_SECONDS: its
# viewer must be told within 5 s (STATUS live:false), a seat held meanwhile must reach it within
# 3 s of the heal, followed by STATUS live:true. NATS, Redis with the booking service, and the
# edge each run on a test host of their own (scripts/lib/nethosts.sh); the viewer and the test on
# the bridge. Meanwhile seatjudge books on another venue through the booking service and judges
# the history of its commands and of seats.> (no booking lost or phantom, no two holders, no seq
# gap). Prints the figures as one line ("edge-nats-cut: …", the judge's verdict in it) and exits 1
# on a broken promise.
#
# Usage: tests/net/edge-nats-cut.sh   (as root)
# Environment: BIN_DIR (booking-service, edge-server and seatjudge; default target/debug),
# CUT_SECONDS (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
CUT_SECONDS=${CUT_SECONDS:-10}
source tests/net/common.sh
net_setup edge-nats-cut booking-service edge-server seatjudge
now_ms() { date +%s%3N; }
net_booking HOLD_SECONDS=30   # the seat held during the cut stays held past the heal
net_edge "http://$core_ip:8080" "nats://$nats_ip:4222"

node tests/net/watch.mjs "ws://$edge_ip:3000/ws" >"$work/frames.txt" 2>"$work/watch.err" &
wait_for 10 grep -q VENUE_STATE "$work/frames.txt" || { echo "edge-nats-cut: the viewer got no VENUE_STATE" >&2; exit 1; }
token=$(curl -sf -X POST "http://$core_ip:8080/api/session" | sed -E 's/.*"token":"([^"]+)".*/\1/')

net_judge $((CUT_SECONDS + 5)) "http://$core_ip:8080"
sleep 1
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
frames_ok=1
frames=$(python3 tests/net/frames.py "$work/frames.txt" "$cut_ms" "$heal_ms" C3 --held-answer "$held") || frames_ok=0
judge_ok=1
net_judge_verdict || judge_ok=0
verdict=${frames##*; verdict: }
if ((judge_ok == 0)); then
  [[ $verdict == pass ]] && verdict="FAIL: the judge's verdict" || verdict+="; the judge's verdict"
fi
echo "${frames%; verdict: *}; $judge_line; verdict: $verdict"
if ((frames_ok == 0 || judge_ok == 0)); then
  tail -n 15 "$work/edge.log" "$work/booking.log" "$work/frames.txt" "$work/judge.txt" | cut -c1-300 >&2
  exit 1
fi
