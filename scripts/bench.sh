#!/usr/bin/env bash
# bench.sh: measure the seat map on this machine. Starts a fresh stack with ./start.sh (release
# build) on spare ports, runs `seatbench api` and `seatbench fanout`, prints the figures and the
# machine, and stops the stack. Load goes to 127.0.0.1 only and is bounded in count and time.
#
#   scripts/bench.sh                      # defaults: 20000 API requests, 1000 viewers
#   REQUESTS=5000 CLIENTS=200 scripts/bench.sh
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "[bench] building release binaries"
cargo build --release --bins --quiet
run_dir=$(mktemp -d /tmp/seatmap-bench.XXXXXX)
# seatbench mints its tokens with the stack's secret, so both get the same one. All load comes
# from 127.0.0.1, so NGINX's per-IP limits are lifted for the run (docs/security.md).
TOKEN_SECRET=${TOKEN_SECRET:-$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')}
export TOKEN_SECRET LIMIT_SEAT_PER_SEC=1000000 LIMIT_SEAT_BURST=1000000 \
  LIMIT_WS_PER_SEC=1000000 LIMIT_WS_BURST=1000000 LIMIT_WS_CONN=1000000
export RUN_DIR="$run_dir" BIN_DIR="$ROOT/target/release" RUST_LOG=warn EDGES=2 \
  ADMIN_TOKEN="bench-$RANDOM$RANDOM" USER_RATE_LIMIT=1000 \
  HTTP_PORT=${HTTP_PORT:-28080} EDGE_BASE_PORT=${EDGE_BASE_PORT:-23000} BOOKING_PORT=${BOOKING_PORT:-28081} \
  REDIS_PORT=${REDIS_PORT:-26379} NATS_PORT=${NATS_PORT:-24222} NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-28222}
./start.sh </dev/null >"$run_dir/start.out" 2>&1 &
start_pid=$!
trap 'kill -TERM $start_pid 2>/dev/null; wait $start_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "the seat map is up" "$run_dir/start.out" && break
  kill -0 "$start_pid" 2>/dev/null || { cat "$run_dir/start.out"; exit 1; }
  sleep 0.2
done
grep -q "the seat map is up" "$run_dir/start.out" || { cat "$run_dir/start.out"; echo "[bench] stack did not come up"; exit 1; }

echo "[bench] machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "[bench] $(uname -sr); redis $(redis-server --version | grep -o 'v=[0-9.]*'); $(nats-server --version)"
seatbench="$ROOT/target/release/seatbench"
edge_pids=$(cat "$run_dir"/pids/edge-*.pid | paste -sd, -)
booking="http://127.0.0.1:$BOOKING_PORT"
edges="ws://127.0.0.1:$EDGE_BASE_PORT/ws,ws://127.0.0.1:$((EDGE_BASE_PORT + 1))/ws"

echo; echo "[bench] booking service: select+release from ${CONCURRENCY:-32} workers"
"$seatbench" api --booking "$booking" --concurrency "${CONCURRENCY:-32}" --requests "${REQUESTS:-20000}" --max-seconds 60
echo; echo "[bench] booking service: the same through NGINX"
"$seatbench" api --booking "http://127.0.0.1:$HTTP_PORT" --concurrency "${CONCURRENCY:-32}" --requests "${REQUESTS:-20000}" --max-seconds 60
echo; echo "[bench] fan-out: ${CLIENTS:-1000} viewers over 2 edges"
"$seatbench" fanout --booking "$booking" --edges "$edges" --clients "${CLIENTS:-1000}" \
  --changes "${CHANGES:-300}" --interval-ms 10 --edge-pids "$edge_pids" --admin-token "$ADMIN_TOKEN"
echo; echo "[bench] booking service metrics after the run (Redis round trip):"
curl -s "$booking/metrics" | grep -E '^booking_redis_roundtrip_seconds_(count|sum)'
