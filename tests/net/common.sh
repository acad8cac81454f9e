# shellcheck shell=bash
# Sourced by the scenarios in tests/net/: the three test hosts each starts from
# (scripts/lib/nethosts.sh), nats (nats-server), core (Redis on its own loopback, the booking
# service) and edge, removed on exit with the run's files (kept with NET_KEEP=1).
#
#   net_setup NAME BINARY…     BIN_DIR must hold the binaries; makes $work, the hosts, a
#                              TOKEN_SECRET; sets nats_ip, core_ip, edge_ip; starts NATS and Redis.
#                              NET_EXTRA_HOSTS (an array, set before): more hosts to make
#   net_booking SETTING=…      the booking service on core, with these settings; waits for /health
#   net_edge BOOKING NATS SETTING=…   the edge, reaching them at those URLs; waits for /health
#   wait_for SECONDS COMMAND…  until COMMAND succeeds; false after SECONDS
#   net_judge SECONDS BOOKING_URLS [OPTION…]   seatjudge in the background: a booking load on
#                              venue "load" through those services for SECONDS, with the history of
#                              every command and every seats.> event (NATS on the nats host)
#   net_judge_verdict          waits for it; sets judge_line (its verdict line); false unless pass
#   net_fanout_broken LABEL FILE MIN_P50_MS   seatbench fanout's summary line from FILE into
#                              `summary`; adds each broken promise to `broken` (every viewer ready,
#                              none missing, out of order or closed, a median of MIN_P50_MS or more)
#
# The services get only the settings written in the scenario (nethost_clean): a caller's (test.sh
# exports HOLD_SECONDS=4 for its stacks) must not change it.
source scripts/lib/nethosts.sh
BIN_DIR=${BIN_DIR:-$PWD/target/debug}

wait_for() {
  local until=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < until)) || return 1; sleep 0.1; done
}

net_setup() {
  NET_SCENARIO=$1; shift
  local b
  for b in "$@"; do
    [[ -x $BIN_DIR/$b ]] || { echo "$NET_SCENARIO: no $BIN_DIR/$b (set BIN_DIR)" >&2; exit 2; }
  done
  work=$(mktemp -d /tmp/seatmap-net.XXXXXX)
  nethosts_up nats core edge ${NET_EXTRA_HOSTS[@]+"${NET_EXTRA_HOSTS[@]}"}
  trap 'nethosts_down; [[ -n ${NET_KEEP:-} ]] || rm -rf "$work"' EXIT
  TOKEN_SECRET=$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')
  export TOKEN_SECRET
  nats_ip=$(nethost_ip nats) core_ip=$(nethost_ip core) edge_ip=$(nethost_ip edge)
  nethost nats nats-server -a "$nats_ip" -p 4222 >"$work/nats.log" 2>&1 &
  nethost core redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
  wait_for 10 nethost core redis-cli -p 6379 ping || { echo "$NET_SCENARIO: Redis did not start" >&2; exit 1; }
}

net_booking() {
  nethost_clean core env HOST="$core_ip" PORT=8080 REDIS_URL=redis://127.0.0.1:6379 \
    NATS_URL="nats://$nats_ip:4222" RUST_LOG=info VENUES=main:10x10,load:20x20 USER_RATE_LIMIT=100000 "$@" "$BIN_DIR/booking-service" >"$work/booking.log" 2>&1 &
  wait_for 20 curl -sf "http://$core_ip:8080/health" || { tail "$work/booking.log" >&2; exit 1; }
}

net_edge() {
  local booking=$1 nats=$2; shift 2
  nethost_clean edge env HOST="$edge_ip" PORT=3000 BOOKING_URL="$booking" NATS_URL="$nats" \
    EDGE_ID=edge-net RUST_LOG=info "$@" "$BIN_DIR/edge-server" >"$work/edge.log" 2>&1 &
  wait_for 30 curl -sf "http://$edge_ip:3000/health" || { tail "$work/edge.log" >&2; exit 1; }
}

# The judge books on its own venue ("load", which net_booking configures) so that a scenario's own
# seats on "main" stay as the scenario left them.
net_judge() {
  local seconds=$1 booking=$2; shift 2
  "$BIN_DIR/seatjudge" --booking "$booking" --nats "nats://$nats_ip:4222" --venue load \
    --seconds "$seconds" --drain-seconds 15 --out "$work/judge.json" "$@" >"$work/judge.txt" 2>&1 &
  judge_pid=$!
}

net_judge_verdict() {
  local rc=0
  wait "$judge_pid" || rc=$?
  judge_line=$(grep -m1 '^judge: ' "$work/judge.txt" || echo "judge: verdict FAIL: no verdict line (exit $rc)")
  [[ $rc == 0 && $judge_line == "judge: verdict pass"* ]]
}

net_fanout_broken() {
  local label=$1 file=$2 min_p50=$3 ready missing out_of_order closed p50
  summary=$(grep -m1 -E "^\[$label\] [0-9]+ viewers" "$file" || true)
  ready=$(sed -nE "s/^\[$label\] ([0-9]+) viewers.*/\1/p" <<<"$summary")
  missing=$(sed -nE 's/.* missing ([0-9]+).*/\1/p' <<<"$summary")
  out_of_order=$(sed -nE 's/.* of order ([0-9]+).*/\1/p' <<<"$summary")
  closed=$(sed -nE 's/.* closed ([0-9]+).*/\1/p' <<<"$summary")
  p50=$(sed -nE 's/.*: p50 ([0-9]+)(\.[0-9]+)? ms.*/\1/p' <<<"$summary")
  [[ $ready == "$VIEWERS" ]] || broken+=("${ready:-no} of $VIEWERS viewers ready")
  [[ $missing == 0 ]] || broken+=("${missing:-?} changes missing")
  [[ $out_of_order == 0 ]] || broken+=("${out_of_order:-?} out of order")
  [[ $closed == 0 ]] || broken+=("${closed:-?} viewers' sockets closed")
  (( ${p50:-0} >= min_p50 )) || broken+=("p50 ${p50:-?} ms: the links were not slowed")
}
