#!/usr/bin/env bash
# Slow, lossy links: NATS, Redis with the booking service, and an edge each on a test host of its
# own (scripts/lib/nethosts.sh); the edge reaches NATS and the booking service through seatproxy
# (LATENCY_MS ± JITTER_MS each way, order kept) and LOSS_PERCENT of the packets the edge's host
# sends or receives are dropped (nft), its viewers' included. VIEWERS viewers on the edge, from
# the bridge, while seatbench makes CHANGES seat changes at RATE a second through the booking
# service: every viewer must end with every change, in order (missing 0 and out of order 0 after
# a drain; a viewer the edge resynchronised counts as caught up). Meanwhile seatjudge books on
# another venue through the edge host's slow link to the booking service and judges the history
# of its commands and of seats.>. Prints seatbench's figures and one line "slow-links: …" with
# both verdicts; exits 1 on a broken promise.
#
# Usage: tests/net/slow-links.sh   (as root)
# Environment: BIN_DIR (booking-service, edge-server, seatproxy, seatbench, seatjudge; default target/debug),
# VIEWERS (200), RATE (20), CHANGES (200), LATENCY_MS (100), JITTER_MS (30), LOSS_PERCENT (2).
set -euo pipefail
cd "$(dirname "$0")/../.."
VIEWERS=${VIEWERS:-200} RATE=${RATE:-20} CHANGES=${CHANGES:-200}
LATENCY_MS=${LATENCY_MS:-100} JITTER_MS=${JITTER_MS:-30} LOSS_PERCENT=${LOSS_PERCENT:-2}
source tests/net/common.sh
net_setup slow-links booking-service edge-server seatproxy seatbench seatjudge
net_booking USER_RATE_LIMIT=100000 HOLD_SECONDS=600
slow=(--latency-ms "$LATENCY_MS" --jitter-ms "$JITTER_MS")
nethost edge "$BIN_DIR/seatproxy" --listen 127.0.0.1:14222 --upstream "$nats_ip:4222" "${slow[@]}" \
  >"$work/proxy-nats.log" 2>&1 &
nethost edge "$BIN_DIR/seatproxy" --listen 127.0.0.1:18080 --upstream "$core_ip:8080" "${slow[@]}" \
  >"$work/proxy-booking.log" 2>&1 &
net_edge http://127.0.0.1:18080 nats://127.0.0.1:14222
nethost_loss edge "$LOSS_PERCENT"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The judge's commands cross the same slowed link as the edge's: a proxy on the edge host, reached
# from the bridge. Its load runs as long as the changes do (CHANGES / RATE seconds).
nethost edge "$BIN_DIR/seatproxy" --listen "$edge_ip:18081" --upstream "$core_ip:8080" "${slow[@]}" \
  >"$work/proxy-judge.log" 2>&1 &
wait_for 10 curl -sf "http://$edge_ip:18081/health" || { echo "slow-links: the judge's proxy did not start" >&2; exit 1; }
net_judge $(( (CHANGES + RATE - 1) / RATE + 5 )) "http://$edge_ip:18081" --timeout-ms 10000
"$BIN_DIR/seatbench" fanout --booking "http://$core_ip:8080" --venue main --viewers "$VIEWERS" \
  --phases "${RATE}x${CHANGES}" --urls "ws://$edge_ip:3000/ws" --drain-secs 15 --label slow-links |
  tee "$work/fanout.txt"
broken=()
# Every change crossed a slowed link (booking service -> NATS -> edge), so a median below the
# slowest the proxy makes would mean the link was not slowed at all.
net_fanout_broken slow-links "$work/fanout.txt" $((LATENCY_MS - JITTER_MS))
net_judge_verdict || broken+=("the judge's verdict")
verdict=pass
((${#broken[@]} == 0)) || verdict="FAIL: $(IFS=';'; echo "${broken[*]}")"
echo "slow-links: ${LATENCY_MS} ms ± ${JITTER_MS} ms on the edge's links to NATS and the booking service, ${LOSS_PERCENT} % of the edge host's packets dropped, $VIEWERS viewers, $CHANGES changes at $RATE/s: ${summary#*: }; $judge_line; verdict: $verdict"
[[ $verdict == pass ]] || { tail -n 15 "$work/edge.log" | cut -c1-300 >&2; exit 1; }
