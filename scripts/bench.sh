#!/usr/bin/env bash
# bench.sh: measure the seat map on this machine and write the figures, tables and a plot.
#
# Usage: scripts/bench.sh [--help]
#        flock /tmp/seatmap-cargo.lock scripts/bench.sh    (on a machine shared with builds)
#        QUICK=1 scripts/bench.sh                          (a small run, about 2 minutes)
#
# For each viewer count in SIZES it starts a fresh stack with ./start.sh (release binaries, spare
# ports, Redis with redis/redis.conf: AOF, appendfsync always; nats-server with a WebSocket
# listener added) and measures fan-out with the same compiled client (seatbench) against:
#   ours-direct  the edges' /ws, viewers spread over both edges
#   ours-nginx   the same edges through NGINX's /ws
#   peer         nats-server's own WebSocket listener, viewers subscribed to seats.>
#   floor        seatbench's minimal broadcaster, fed from the same NATS subject
# Every change is made through the booking API (Redis, outbox, relay, NATS) at each rate in
# PHASES; latency is from just before the API call to the viewer reading the frame. Then, on one
# more stack: large venues (VENUE_STATE join time and memory), the booking API beside
# redis-benchmark SET NX EX at the same concurrency, and (PROFILE=1) a perf profile of an edge
# under fan-out load, drawn as a flamegraph. Load goes to 127.0.0.1 only, bounded in count and
# time (the default run takes about 12 minutes; QUICK=1 about 2).
#
# Environment (defaults in brackets):
#   QUICK=1            small sizes and short phases
#   SIZES              viewer counts                               [1000 5000 10000 20000]
#   PHASES             RATExCHANGES per rate                       [10x60,100x400]
#   TARGETS            which of: direct nginx peer floor           [all four]
#   NGINX_MAX          largest size run through NGINX              [10000]
#   NGINX_CONNECTIONS  worker_connections for the bench's NGINX    [16384] (shipped: 8192)
#   API_CONCURRENCY    connections for the API run                 [64]
#   API_SECONDS        measured seconds of the API run             [10]
#   REDIS_POOLS        REDIS_POOL values for the API run           [4]
#   VENUE_VIEWERS      viewers per large venue                     [200]
#   PROFILE            1 = perf profile + flamegraph of an edge    [1; 0 with QUICK]
#   SKIP_BUILD         1 = use target/release as it is             [0]
#   OUT                where results.jsonl, the tables and plots go [docs/bench]
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; "") ;;
  *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/scripts/bench/bin:$PATH:/usr/sbin:/usr/local/sbin"

if [[ ${QUICK:-0} == 1 ]]; then
  SIZES=${SIZES:-"300 1000"}; PHASES=${PHASES:-"10x20,100x100"}; API_SECONDS=${API_SECONDS:-3}
  VENUE_VIEWERS=${VENUE_VIEWERS:-50}; PROFILE=${PROFILE:-0}; OUT=${OUT:-/tmp/seatmap-bench-quick}
fi
SIZES=${SIZES:-"1000 5000 10000 20000"}
PHASES=${PHASES:-"10x60,100x400"}
TARGETS=${TARGETS:-"direct nginx peer floor"}
NGINX_MAX=${NGINX_MAX:-10000}
API_CONCURRENCY=${API_CONCURRENCY:-64}
API_SECONDS=${API_SECONDS:-10}
REDIS_POOLS=${REDIS_POOLS:-4}
VENUE_VIEWERS=${VENUE_VIEWERS:-200}
PROFILE=${PROFILE:-1}
OUT=${OUT:-$ROOT/docs/bench}
mkdir -p "$OUT"
results="$OUT/results.jsonl"
: >"$results"
t0=$SECONDS
say() { printf '[bench %3ds] %s\n' $((SECONDS - t0)) "$*"; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  say "building release binaries (cargo build --release --bins)"
  cargo build --release --bins --quiet
fi
bin="$ROOT/target/release"
seatbench="$bin/seatbench"

# ------------------------------------------------------------------ the stack
# One TOKEN_SECRET for the whole run: start.sh passes it to the services; seatbench mints with it.
export TOKEN_SECRET=${TOKEN_SECRET:-"bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"}
export ADMIN_TOKEN="bench-$RANDOM$RANDOM" BIN_DIR="$bin" RUST_LOG=warn EDGES=2 \
  USER_RATE_LIMIT=100000 HOLD_SECONDS=3600 \
  HTTP_PORT=${HTTP_PORT:-28080} EDGE_BASE_PORT=${EDGE_BASE_PORT:-23000} BOOKING_PORT=${BOOKING_PORT:-28081} \
  REDIS_PORT=${REDIS_PORT:-26379} NATS_PORT=${NATS_PORT:-24222} NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-28222}
NATS_WS_PORT=${NATS_WS_PORT:-24223}
export BENCH_NGINX_CONNECTIONS=${NGINX_CONNECTIONS:-16384}
booking="http://127.0.0.1:$BOOKING_PORT"
edges="ws://127.0.0.1:$EDGE_BASE_PORT/ws,ws://127.0.0.1:$((EDGE_BASE_PORT + 1))/ws"
start_pid=
run_dir=

stop_stack() {
  [[ -n $start_pid ]] || return 0
  kill -TERM "$start_pid" 2>/dev/null || true
  wait "$start_pid" 2>/dev/null || true
  start_pid=
}
trap stop_stack EXIT

# start_stack [VAR=value …]: a fresh stack with these extra settings.
start_stack() {
  stop_stack
  run_dir=$(mktemp -d /tmp/seatmap-bench.XXXXXX)
  printf 'websocket {\n  listen: "127.0.0.1:%s"\n  no_tls: true\n  compression: false\n}\n' "$NATS_WS_PORT" >"$run_dir/nats-ws.conf"
  env "$@" RUN_DIR="$run_dir" BENCH_NATS_CONF="$run_dir/nats-ws.conf" ./start.sh </dev/null >"$run_dir/start.out" 2>&1 &
  start_pid=$!
  for _ in $(seq 1 300); do
    grep -q "the seat map is up" "$run_dir/start.out" && break
    kill -0 "$start_pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! grep -q "the seat map is up" "$run_dir/start.out"; then
    cat "$run_dir/start.out"; say "the stack did not come up"; exit 1
  fi
  edge_pids=$(cat "$run_dir"/pids/edge-*.pid | paste -sd, -)
  nginx_pid=$(cat "$run_dir/pids/nginx.pid")
  nats_pid=$(cat "$run_dir/pids/nats-server.pid")
  redis_pid=$(cat "$run_dir/pids/redis-server.pid")
  booking_pid=$(cat "$run_dir/pids/booking-service.pid")
}

say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "$(uname -sr); redis $(redis-server --version | grep -o 'v=[0-9.]*'); $(nats-server --version); $(nginx -v 2>&1)"
say "fd limit $(ulimit -n) (hard $(ulimit -Hn)); sizes: $SIZES; phases: $PHASES; targets: $TARGETS"
{
  printf '{"kind":"machine","cores":%s,"mem_gib":%s,"cpu":"%s","kernel":"%s","redis":"%s","nats":"%s","nginx":"%s","fd_limit":%s,"sizes":"%s","phases":"%s"}\n' \
    "$(nproc)" "$(free -g | awk '/Mem:/ {print $2}')" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
    "$(uname -sr)" "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)" "$(nats-server --version | awk '{print $2}')" \
    "$(nginx -v 2>&1 | cut -d/ -f2)" "$(ulimit -Hn)" "$SIZES" "$PHASES"
} >>"$results"

# ------------------------------------------------------------------ fan-out at scale
has() { [[ " $TARGETS " == *" $1 "* ]]; }
for n in $SIZES; do
  say "fan-out with $n viewers: fresh stack"
  start_stack
  fan=("$seatbench" fanout --booking "$booking" --viewers "$n" --phases "$PHASES" --results "$results")
  if has direct; then
    say "ours-direct: $n viewers on the two edges"
    "${fan[@]}" --label ours-direct --protocol seatmap --urls "$edges" --server "edge=$edge_pids"
  fi
  if has nginx && (( n <= NGINX_MAX )); then
    say "ours-nginx: $n viewers through NGINX (worker_connections $BENCH_NGINX_CONNECTIONS)"
    "${fan[@]}" --label ours-nginx --protocol seatmap --urls "ws://127.0.0.1:$HTTP_PORT/ws" \
      --server "edge=$edge_pids" --server "nginx=children:$nginx_pid"
  fi
  if has peer; then
    say "peer: $n viewers on nats-server's WebSocket listener"
    "${fan[@]}" --label peer --protocol nats --urls "ws://127.0.0.1:$NATS_WS_PORT" --server "nats=$nats_pid"
  fi
  if has floor; then
    say "floor: $n viewers on the minimal broadcaster"
    "${fan[@]}" --label floor --floor-nats "nats://127.0.0.1:$NATS_PORT"
  fi
done

# ------------------------------------------------------------------ large venues, API, profile
say "large venues and the booking API: fresh stack with VENUES=main:10x10,big:26x250,huge:26x385"
for pool in $REDIS_POOLS; do
  start_stack VENUES=main:10x10,big:26x250,huge:26x385 REDIS_POOL="$pool"
  if [[ $pool == "${REDIS_POOLS%% *}" ]]; then
    for venue in big huge; do
      say "large venue $venue: $VENUE_VIEWERS viewers join, then 10 changes/s"
      "$seatbench" fanout --booking "$booking" --venue "$venue" --viewers "$VENUE_VIEWERS" --phases 10x30 \
        --drain-secs 5 --label "venue-$venue" --protocol seatmap --urls "$edges" --server "edge=$edge_pids" \
        --results "$results" || say "venue $venue: seatbench failed (see above)"
      grep -c "venue" "$run_dir"/logs/edge-*.log >/dev/null 2>&1 || true
    done
  fi
  say "booking API (REDIS_POOL=$pool): $API_CONCURRENCY connections, select+release, direct"
  "$seatbench" api --booking "$booking" --concurrency "$API_CONCURRENCY" --seconds "$API_SECONDS" \
    --label "api-direct-pool$pool" --server "booking=$booking_pid" --server "redis=$redis_pid" \
    --server "nats=$nats_pid" --results "$results"
  scripts/bench/redis-cmdstats.sh "$REDIS_PORT" "$results" "api-direct-pool$pool" || true
  curl -s "$booking/metrics" | grep -E '^booking_redis_roundtrip_seconds_(count|sum)' || true
  say "redis-benchmark SET NX EX, same Redis, same concurrency ($API_CONCURRENCY)"
  scripts/bench/redis-setnx.sh "$REDIS_PORT" "$API_CONCURRENCY" "$results" "$redis_pid"
done
say "booking API through NGINX"
"$seatbench" api --booking "http://127.0.0.1:$HTTP_PORT" --concurrency "$API_CONCURRENCY" --seconds "$API_SECONDS" \
  --label api-nginx --server "booking=$booking_pid" --server "redis=$redis_pid" \
  --server "nginx=children:$nginx_pid" --results "$results"

if [[ $PROFILE == 1 ]]; then
  say "profiling edge pid ${edge_pids%%,*} under fan-out (perf, 5000 viewers, 100 changes/s)"
  scripts/bench/profile-edge.sh "${edge_pids%%,*}" "$OUT" -- \
    "$seatbench" fanout --booking "$booking" --viewers 5000 --phases 100x600 --label profile \
    --protocol seatmap --urls "$edges" --server "edge=$edge_pids"
fi
stop_stack

# ------------------------------------------------------------------ tables and plot
say "tables and plot"
python3 scripts/bench/report.py "$results" "$OUT" || say "report.py failed (the raw figures are in $results)"
say "done in $((SECONDS - t0)) s: $OUT"
