#!/usr/bin/env bash
# Every link slow and lossy: NATS, Redis with the booking service, and an edge each on a test host
# of their own (scripts/lib/nethosts.sh), and a seatproxy (LATENCY_MS ± JITTER_MS each way, order
# kept) on every link between two parts: the booking service to Redis and to NATS, the edge to
# NATS and to the booking service, the viewers to the edge, and the API calls (the changes and
# seatjudge's load) to the booking service; every host drops LOSS_PERCENT of the packets it sends
# (nft numgen), so each packet on every link, loopback included, has that chance of being lost.
# VIEWERS viewers on the edge while seatbench makes CHANGES changes at RATE a second on "main", and
# beside them seatjudge's JUDGE_WORKERS book on venue "load" and it judges the history of their
# commands and of seats.>. A seat command crosses the API link and the Redis link (about 400 ms
# here), and seatbench makes its changes one at a time (each one's seq is known), so it alone
# cannot reach 20 a second: the judge's workers carry the rest, through the same links, NATS and
# the edge. The line reports both rates and their sum.
# Promises: every viewer ready and ends with every change in order (missing 0, out of order 0
# after a drain; none closed), and the judge's verdict pass (0 lost, 0 phantom, no two holders,
# no seq gap). Prints seatbench's figures and one line "delay-all-links: …"; exits 1 otherwise.
#
# Usage: tests/net/delay-all-links.sh   (as root)
# Environment: BIN_DIR (booking-service, edge-server, seatproxy, seatbench, seatjudge; default
# target/debug), VIEWERS (1000), RATE (2), CHANGES (30), JUDGE_WORKERS (16), LATENCY_MS (100),
# JITTER_MS (30), LOSS_PERCENT (2).
set -euo pipefail
cd "$(dirname "$0")/../.."
VIEWERS=${VIEWERS:-1000} RATE=${RATE:-2} CHANGES=${CHANGES:-30} JUDGE_WORKERS=${JUDGE_WORKERS:-16}
LATENCY_MS=${LATENCY_MS:-100} JITTER_MS=${JITTER_MS:-30} LOSS_PERCENT=${LOSS_PERCENT:-2}
source tests/net/common.sh
net_setup delay-all-links booking-service edge-server seatproxy seatbench seatjudge
slow=(--latency-ms "$LATENCY_MS" --jitter-ms "$JITTER_MS")
# link HOST LISTEN UPSTREAM NAME: a slowed link on HOST.
link() {
  nethost "$1" "$BIN_DIR/seatproxy" --listen "$2" --upstream "$3" "${slow[@]}" >"$work/proxy-$4.log" 2>&1 &
}
link core 127.0.0.1:16379 127.0.0.1:6379 redis
link core 127.0.0.1:14222 "$nats_ip:4222" booking-nats
net_booking USER_RATE_LIMIT=100000 HOLD_SECONDS=600 REDIS_URL=redis://127.0.0.1:16379 \
  NATS_URL=nats://127.0.0.1:14222
link core "$core_ip:18080" "$core_ip:8080" api
link edge 127.0.0.1:14222 "$nats_ip:4222" edge-nats
link edge 127.0.0.1:18080 "$core_ip:8080" edge-booking
net_edge http://127.0.0.1:18080 nats://127.0.0.1:14222
link edge "$edge_ip:13000" "$edge_ip:3000" viewers
wait_for 10 curl -sf "http://$core_ip:18080/health" || { echo "delay-all-links: the API link did not start" >&2; exit 1; }
wait_for 10 curl -sf "http://$edge_ip:13000/health" || { echo "delay-all-links: the viewers' link did not start" >&2; exit 1; }
for host in nats core edge; do nethost_loss "$host" "$LOSS_PERCENT" out; done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The judge's load lasts as long as the viewers' connecting and the changes do.
judge_seconds=$(( (CHANGES + RATE - 1) / RATE + 10 ))
net_judge "$judge_seconds" "http://$core_ip:18080" --timeout-ms 10000 --workers "$JUDGE_WORKERS"
"$BIN_DIR/seatbench" fanout --booking "http://$core_ip:18080" --venue main --viewers "$VIEWERS" \
  --phases "${RATE}x${CHANGES}" --urls "ws://$edge_ip:13000/ws" --drain-secs 20 --label delay-all-links |
  tee "$work/fanout.txt"
broken=()
# A change crosses at least three slowed links (API, booking service -> NATS, NATS -> edge) and the
# viewers' link: a median under two link delays would mean the links were not slowed.
net_fanout_broken delay-all-links "$work/fanout.txt" $((2 * (LATENCY_MS - JITTER_MS)))
net_judge_verdict || broken+=("the judge's verdict")
# Every command the judge had answered OK is one change (a seq) on "load".
judge_ok=$(sed -nE 's/.*; ok ([0-9]+),.*/\1/p' <<<"$judge_line")
achieved=$(sed -nE 's/.*\(achieved ([0-9.]+)\/s\).*/\1/p' <<<"$summary")
rates=$(awk -v a="${achieved:-0}" -v ok="${judge_ok:-0}" -v s="$judge_seconds" \
  'BEGIN { printf "seatbench %.1f changes/s on main (watched), the judge %.1f/s on load, %.1f/s in all", a, ok / s, a + ok / s }')
verdict=pass
((${#broken[@]} == 0)) || verdict="FAIL: $(IFS=';'; echo "${broken[*]}")"
echo "delay-all-links: ${LATENCY_MS} ms ± ${JITTER_MS} ms on each of 6 links (the booking service to Redis and to NATS, the edge to NATS and to the booking service, the viewers to the edge, the API calls to the booking service), ${LOSS_PERCENT} % of every host's packets dropped, $VIEWERS viewers, $CHANGES changes at $RATE/s: ${summary#*: }; $rates; $judge_line; verdict: $verdict"
[[ $verdict == pass ]] || { tail -n 15 "$work/edge.log" "$work/booking.log" "$work/judge.txt" | cut -c1-300 >&2; exit 1; }
