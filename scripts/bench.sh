#!/usr/bin/env bash
# bench.sh: measure the seat map on this machine and write the figures, tables and a plot.
#
# Usage: scripts/bench.sh [--help]
#        flock /tmp/seatmap-cargo.lock scripts/bench.sh    (on a machine shared with builds)
#        QUICK=1 scripts/bench.sh                          (a small run, about 2 minutes)
#        INTERLEAVED=3 scripts/bench.sh                    (ours ÷ floor through NGINX and direct, 3 rounds, ~7 minutes)
#
# For each viewer count in SIZES it starts a fresh stack with ./start.sh (release binaries, spare
# ports, Redis with redis/redis.conf: AOF, appendfsync always; nats-server with a WebSocket
# listener added) and measures fan-out with the same compiled client (seatbench) against:
#   ours-direct  the edges' /ws, viewers spread over both edges
#   ours-nginx   the same edges through NGINX's /ws
#   peer         nats-server's own WebSocket listener, viewers subscribed to seats.>
#   peer-nginx   the same listener behind an NGINX rendered from the shipped template (over TCP)
#   floor        seatbench's minimal broadcaster, fed from the same NATS subject
#   floor-nginx  the same two broadcasters behind such an NGINX, over Unix sockets as the edges
#                are (what this box can do through the proxy: the bound for ours-nginx)
# Every change is made through the booking API (Redis, outbox, relay, NATS) at each rate in
# PHASES; latency is from just before the API call to the viewer reading the frame. Then, on one
# more stack: large venues (a 100x100 grid, and the shipped arena filled half booked and 5 % held:
# VENUE_STATE size, join time and memory, full and compact), a reconnect storm on the arena
# (steady viewers' latency before and during, time until every reconnecting viewer has the state
# again, the edges' peak memory), the booking API beside
# redis-benchmark SET NX EX at the same concurrency (and at other REDIS_POOL sizes), perf
# profiles drawn as flamegraphs (PROFILE=1: the booking service under API load, an edge under
# fan-out load). The secure part (not run by default: PROFILE=0 PARTS=secure runs it alone) sets
# plain stacks and SECURE=1 ones side by side, interleaved: fan-out straight to the edges and
# through NGINX, and the booking API straight and through NGINX. seatbench speaks no TLS, so its
# NGINX runs go through one more NGINX of the bench's own on both kinds of stack, which reaches
# the stack's NGINX over plain HTTP or over HTTPS (TLS 1.2 or 1.3, the run's CA verified,
# connections kept): only that link differs. Then
# scripts/bench/report.py writes OUT/tables.md and OUT/latency-vs-viewers.png from the run's own
# OUT/results.jsonl. Load goes to 127.0.0.1 only, bounded in count and time (the default run
# takes about 9 minutes; QUICK=1 about 3; it prints its progress with elapsed seconds).
#
# Environment (defaults in brackets):
#   QUICK=1            small sizes and short phases
#   SIZES              viewer counts (0: none)                     [1000 5000 10000 20000]
#   PHASES             RATExCHANGES per rate, up to 5,000 viewers  [10x60,100x400]
#   PHASES_LARGE       the same from 10,000 viewers on             [10x60,100x200]
#   TARGETS            which of: direct nginx peer peer-nginx floor
#                      floor-nginx                                 [all six]
#   NGINX_MAX          largest size run through NGINX              [10000]
#   PEER_MAX           largest size for the one nats-server        [hard fd limit - 1000]
#   NGINX_CONNECTIONS  worker_connections for the bench's NGINX    [16384] (start.sh's setting)
#   API_CONCURRENCY    connections for the API run                 [64]
#   API_SECONDS        measured seconds of the API run             [10]
#   REDIS_POOLS        REDIS_POOL values for the API run (first:
#                      also large venues and the NGINX API run)    [4 1 16]
#   VENUE_VIEWERS      viewers per large venue and state form      [200]
#   STORM_STEADY       steady viewers beside the reconnect storm   [1000]
#   STORM_VIEWERS      viewers reconnecting in the storm (2 s)     [10000]
#   STORM_CHANGES      changes at 10/s before, and during, it      [150]
#   PROFILE            1 = perf profile + flamegraph of an edge    [1; 0 with QUICK]
#   PARTS              which of: fanout venues storm together api
#                      secure                                      [all but secure]
#   SECURE_SIZES       viewer counts of the secure part (0: none)  [1000 5000]
#   SECURE_PHASES      its phases                                  [10x30]
#   SECURE_ROUNDS      plain then SECURE=1 stacks, this many times [2]
#   SECURE_POOLS       REDIS_POOL values for its API runs (first:
#                      also its fan-out and NGINX API runs)        [4 64]
#   RUSH_ASKS          best-available rush: identities asking once [2000]
#   SKIP_BUILD         1 = use target/release as it is             [0]
#   OUT                where results.jsonl, the tables and plots go [docs/bench]
#
# The interleaved mode (INTERLEAVED=N, e.g. 3): only ours and the floor, one after the other N
# times on one fresh stack per size (the order flips every round: ours first in odd rounds), on
# each path in INTERLEAVED_PATHS [nginx direct]: ours-nginx against floor-nginx, then ours-direct
# against floor (both floors: two broadcasters, each in a session of its own as the edges are), at
# SIZES [1000 5000 10000] and RATIO_PHASES [10x60]; then scripts/bench/interleaved.py writes and
# prints OUT/interleaved.md [OUT: /tmp/seatmap-bench-interleaved]: each round's ratio ours ÷ floor
# at p50 and p99 and their median, per path. Nothing else runs. About 70 s per size and path.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; "") ;;
  *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

if [[ ${QUICK:-0} == 1 ]]; then
  SIZES=${SIZES:-"300 1000"}; PHASES=${PHASES:-"10x20,100x100"}; API_SECONDS=${API_SECONDS:-3}
  VENUE_VIEWERS=${VENUE_VIEWERS:-50}; PROFILE=${PROFILE:-0}; OUT=${OUT:-/tmp/seatmap-bench-quick}
  STORM_STEADY=${STORM_STEADY:-200}; STORM_VIEWERS=${STORM_VIEWERS:-1000}; STORM_CHANGES=${STORM_CHANGES:-50}
  SECURE_SIZES=${SECURE_SIZES:-"300 1000"}; SECURE_PHASES=${SECURE_PHASES:-10x20}; SECURE_ROUNDS=${SECURE_ROUNDS:-1}
fi
INTERLEAVED=${INTERLEAVED:-0}
[[ $INTERLEAVED =~ ^[0-9]+$ ]] || { echo "INTERLEAVED must be a number of rounds, got '$INTERLEAVED'" >&2; exit 2; }
if (( INTERLEAVED > 0 )); then
  SIZES=${SIZES:-"1000 5000 10000"}; OUT=${OUT:-/tmp/seatmap-bench-interleaved}
  RATIO_PHASES=${RATIO_PHASES:-10x60}; INTERLEAVED_PATHS=${INTERLEAVED_PATHS:-"nginx direct"}
  for path in $INTERLEAVED_PATHS; do
    [[ $path == nginx || $path == direct ]] || { echo "INTERLEAVED_PATHS: nginx and/or direct, got '$path'" >&2; exit 2; }
  done
  PHASES=$RATIO_PHASES TARGETS="${INTERLEAVED_PATHS/direct/direct floor}"   # what the run's first lines and row report
  TARGETS=${TARGETS/nginx/nginx floor-nginx}
fi
SIZES=${SIZES:-"1000 5000 10000 20000"}
PHASES=${PHASES:-"10x60,100x400"}
PHASES_LARGE=${PHASES_LARGE:-"10x60,100x200"}
TARGETS=${TARGETS:-"direct nginx peer peer-nginx floor floor-nginx"}
NGINX_MAX=${NGINX_MAX:-10000}
PEER_MAX=${PEER_MAX:-$(( $(ulimit -Hn) - 1000 ))}
API_CONCURRENCY=${API_CONCURRENCY:-64}
API_SECONDS=${API_SECONDS:-10}
REDIS_POOLS=${REDIS_POOLS:-"4 1 16"}
VENUE_VIEWERS=${VENUE_VIEWERS:-200}
STORM_STEADY=${STORM_STEADY:-1000}
STORM_VIEWERS=${STORM_VIEWERS:-10000}
STORM_CHANGES=${STORM_CHANGES:-150}
PROFILE=${PROFILE:-1}
PARTS=${PARTS:-"fanout venues storm together api"}
SECURE_SIZES=${SECURE_SIZES:-"1000 5000"}
SECURE_PHASES=${SECURE_PHASES:-10x30}
SECURE_ROUNDS=${SECURE_ROUNDS:-2}
SECURE_POOLS=${SECURE_POOLS:-"4 64"}
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
# All load comes from 127.0.0.1, so NGINX's per-IP limits are lifted for the run (docs/security.md).
TOKEN_SECRET=${TOKEN_SECRET:-$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')}
export TOKEN_SECRET LIMIT_SEAT_PER_SEC=1000000 LIMIT_SEAT_BURST=1000000 \
  LIMIT_WS_PER_SEC=1000000 LIMIT_WS_BURST=1000000 LIMIT_WS_CONN=65535  # nginx: limit_conn must be < 65536
source scripts/free-port.sh
export ADMIN_TOKEN="bench-$RANDOM$RANDOM" BIN_DIR="$bin" RUST_LOG=warn EDGES=2 \
  USER_RATE_LIMIT=100000 HOLD_SECONDS=3600 \
  HTTP_PORT=${HTTP_PORT:-$(free_port)} EDGE_BASE_PORT=${EDGE_BASE_PORT:-$(free_port 2)} \
  BOOKING_PORT=${BOOKING_PORT:-$(free_port)} REDIS_PORT=${REDIS_PORT:-$(free_port)} \
  NATS_PORT=${NATS_PORT:-$(free_port)} NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-$(free_port)}
NATS_WS_PORT=${NATS_WS_PORT:-$(free_port)}
export NGINX_CONNECTIONS=${NGINX_CONNECTIONS:-16384}   # start.sh and render-nginx.sh read it
booking="http://127.0.0.1:$BOOKING_PORT"
edges="ws://127.0.0.1:$EDGE_BASE_PORT/ws,ws://127.0.0.1:$((EDGE_BASE_PORT + 1))/ws"
run_dir=
# stack_start, stack_stop: ./start.sh in the background, up and down.
source scripts/lib/stack.sh
STACK_UP_TIMEOUT=60
stop_stack() {
  [[ -n $STACK_PID ]] || return 0
  stack_stop_and_check || say "the stack did not stop cleanly (see above)"
  rm -rf "$run_dir"
}

# own_nginx DIR PORTS [SOCKETS]: an NGINX of its own in DIR, rendered from the shipped
# nginx/nginx.conf.template with PORTS (and, when given, their Unix SOCKETS) as its "edges" and
# the same worker_connections as the stack's. Sets ngx (its pid) and nginx_port. It runs in a session
# of its own (setsid execs in place, so $! is NGINX), as start.sh runs every part: the scheduler
# groups a session's processes, and a yardstick sharing the bench's session measured faster than
# the same process in its own (docs/benchmarks.md, "ours-nginx ÷ floor-nginx, interleaved").
own_nginx() {
  local dir=$1 ports=$2 sockets=${3:-} port i
  nginx_port=$(free_port)
  # shellcheck source=/dev/null  # written by start.sh
  (set -a; source "$run_dir/limits.env"
   HTTP_PORT=$nginx_port BOOKING_PORTS=$BOOKING_PORT EDGE_PORTS="$ports" EDGE_SOCKETS="$sockets" \
     FRONTEND_DIR=$ROOT/frontend NGINX_DIR=$dir ADMIN_ACCESS="deny all;" \
     scripts/render-nginx.sh native "$dir/nginx.conf")
  local nginx_e=()
  if nginx -h 2>&1 | grep -q -- '-e filename'; then nginx_e=(-e "$dir/error.log"); fi
  setsid nginx -p "$dir/" -c "$dir/nginx.conf" "${nginx_e[@]}" -g 'daemon off;' &
  ngx=$!
  for port in $ports "$nginx_port"; do
    for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  done
}

# start_floors DIR [unix]: two floor broadcasters fed from the stack's NATS (as many as the stack
# has edges), each in a session of its own as start.sh runs the edges; with "unix", each also on a
# Unix socket in DIR/sockets. Sets floor_pids, floor_ports and floor_sockets, and returns once both
# listen.
start_floors() {
  local dir=$1 unix=${2:-} port i args
  floor_pids=() floor_ports=() floor_sockets=()
  mkdir -p "$dir/sockets"
  for i in 1 2; do
    port=$(free_port)
    args=(floor --listen "127.0.0.1:$port" --nats "nats://127.0.0.1:$NATS_PORT")
    if [[ $unix == unix ]]; then
      args+=(--unix "$dir/sockets/floor-$port.sock")
      floor_sockets+=("$dir/sockets/floor-$port.sock")
    fi
    setsid "$seatbench" "${args[@]}" &
    floor_pids+=($!) floor_ports+=("$port")
  done
  for port in "${floor_ports[@]}"; do
    for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  done
}

stop_floors() {
  kill -TERM "${floor_pids[@]}" 2>/dev/null || true
  wait "${floor_pids[@]}" 2>/dev/null || true
}

# floor_direct [LABEL]: viewers straight on the two floor broadcasters, spread over both as
# ours-direct's are over the two edges. Its rows are labelled LABEL [floor].
floor_direct() {
  local label=${1:-floor} urls
  start_floors "$run_dir/floor"
  urls=$(printf 'ws://127.0.0.1:%s/,' "${floor_ports[@]}")
  "${fan[@]}" --label "$label" --protocol raw --urls "${urls%,}" \
    --server "floor=$(IFS=,; echo "${floor_pids[*]}")"
  stop_floors
}

# floor_behind_nginx [LABEL]: the two floor broadcasters behind an NGINX of their own, over Unix
# sockets as the edges are: ours-nginx minus this is what the edges cost beyond the floor, with
# the proxy's own cost in both. Its rows are labelled LABEL [floor-nginx].
floor_behind_nginx() {
  local label=${1:-floor-nginx} dir="$run_dir/floor-nginx"
  start_floors "$dir" unix
  own_nginx "$dir" "${floor_ports[*]}" "${floor_sockets[*]}"
  "${fan[@]}" --label "$label" --protocol raw --urls "ws://127.0.0.1:$nginx_port/ws" \
    --server "floor=$(IFS=,; echo "${floor_pids[*]}")" --server "nginx=children:$ngx"
  kill -TERM "$ngx" 2>/dev/null || true
  wait "$ngx" 2>/dev/null || true
  stop_floors
}

# peer_behind_nginx: nats-server's WebSocket listener behind an NGINX of its own (over TCP: it
# has no Unix listener), to set beside ours-nginx.
peer_behind_nginx() {
  local dir="$run_dir/peer-nginx"
  mkdir -p "$dir"
  own_nginx "$dir" "$NATS_WS_PORT"
  "${fan[@]}" --label peer-nginx --protocol nats --urls "ws://127.0.0.1:$nginx_port/ws" \
    --server "nats=$nats_pid" --server "nginx=children:$ngx"
  kill -TERM "$ngx" 2>/dev/null || true
  wait "$ngx" 2>/dev/null || true
}
trap stop_stack EXIT

# start_stack [VAR=value …]: a fresh stack with these extra settings.
start_stack() {
  stop_stack
  run_dir=$(mktemp -d /tmp/seatmap-bench.XXXXXX)
  chmod 755 "$run_dir"   # NGINX workers (nobody) reach the edges' Unix sockets in it
  printf 'websocket {\n  listen: "127.0.0.1:%s"\n  no_tls: true\n  compression: false\n}\n' "$NATS_WS_PORT" >"$run_dir/nats-ws.conf"
  stack_start "$@" RUN_DIR="$run_dir" NATS_CONFIG="$run_dir/nats-ws.conf" ||
    { say "the stack did not come up"; exit 1; }
  stack_pids
}

# stack_pids: the pids of the stack's parts, from its RUN_DIR.
stack_pids() {
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

# ------------------------------------------------------------------ the interleaved mode
# ours_nginx LABEL: the fan-out viewers through the stack's NGINX to the edges.
ours_nginx() {
  "${fan[@]}" --label "$1" --protocol seatmap --urls "ws://127.0.0.1:$HTTP_PORT/ws" \
    --server "edge=$edge_pids" --server "nginx=children:$nginx_pid"
}
# ours_direct LABEL: the fan-out viewers straight on the two edges.
ours_direct() {
  "${fan[@]}" --label "$1" --protocol seatmap --urls "$edges" --server "edge=$edge_pids"
}
if (( INTERLEAVED > 0 )); then
  for n in $SIZES; do
    say "interleaved: $n viewers, $INTERLEAVED rounds of ours and the floor ($INTERLEAVED_PATHS) at $RATIO_PHASES: fresh stack"
    start_stack
    fan=("$seatbench" fanout --booking "$booking" --viewers "$n" --phases "$RATIO_PHASES" --results "$results"
         --probe-nats "nats://127.0.0.1:$NATS_PORT")
    for path in $INTERLEAVED_PATHS; do
      for (( round = 1; round <= INTERLEAVED; round++ )); do
        order=(ours floor); (( round % 2 )) || order=(floor ours)
        for side in "${order[@]}"; do
          say "round $round of $INTERLEAVED: $side-$path, $n viewers"
          case $side-$path in
            ours-nginx) ours_nginx "ours-nginx-r$round" ;;
            floor-nginx) floor_behind_nginx "floor-nginx-r$round" ;;
            ours-direct) ours_direct "ours-direct-r$round" ;;
            floor-direct) floor_direct "floor-direct-r$round" ;;
          esac
        done
      done
    done
  done
  stop_stack
  python3 scripts/bench/interleaved.py "$results" "$OUT"
  say "done in $((SECONDS - t0)) s: $OUT"
  exit 0
fi

# ------------------------------------------------------------------ fan-out at scale
has() { [[ " $TARGETS " == *" $1 "* ]]; }
part() { [[ " $PARTS " == *" $1 "* ]]; }
part fanout || SIZES=0
for n in $SIZES; do
  [[ $n == 0 ]] && continue   # SIZES=0: no fan-out runs
  say "fan-out with $n viewers: fresh stack"
  start_stack
  phases=$PHASES; (( n >= 10000 )) && phases=$PHASES_LARGE
  fan=("$seatbench" fanout --booking "$booking" --viewers "$n" --phases "$phases" --results "$results"
       --probe-nats "nats://127.0.0.1:$NATS_PORT")
  if has direct; then
    say "ours-direct: $n viewers on the two edges"
    ours_direct ours-direct
  fi
  if has nginx && (( n > NGINX_MAX )); then
    say "ours-nginx: skipped at $n viewers: 2 fds per proxied socket over 2 workers exceeds the hard fd limit ($(ulimit -Hn))"
  elif has nginx; then
    say "ours-nginx: $n viewers through NGINX (worker_connections $NGINX_CONNECTIONS)"
    ours_nginx ours-nginx
  fi
  if has peer && (( n > PEER_MAX )); then
    say "peer: skipped at $n viewers: one nats-server process cannot hold them under the hard fd limit ($(ulimit -Hn))"
  elif has peer; then
    say "peer: $n viewers on nats-server's WebSocket listener"
    "${fan[@]}" --label peer --protocol nats --urls "ws://127.0.0.1:$NATS_WS_PORT" --server "nats=$nats_pid"
  fi
  if has peer-nginx && (( n > NGINX_MAX || n > PEER_MAX )); then
    say "peer-nginx: skipped at $n viewers (as ours-nginx and peer)"
  elif has peer-nginx; then
    say "peer-nginx: $n viewers on nats-server's WebSocket listener through an NGINX of its own"
    peer_behind_nginx
  fi
  if has floor; then
    say "floor: $n viewers on the minimal broadcaster (two processes, as two edges)"
    floor_direct floor
  fi
  if has floor-nginx && (( n > NGINX_MAX )); then
    say "floor-nginx: skipped at $n viewers (as ours-nginx)"
  elif has floor-nginx; then
    say "floor-nginx: $n viewers on the minimal broadcaster through an NGINX of its own"
    floor_behind_nginx
  fi
done

# ------------------------------------------------------------------ large venues, API, profile
api_run() { # api_run POOL: the API beside redis-benchmark on the current stack
  local pool=$1 label="api-direct-pool$1" counting=()
  say "booking API (REDIS_POOL=$pool): $API_CONCURRENCY connections, select+release, direct"
  redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
  # System calls of Redis and the booking service over the measured seconds (after the warm-up).
  (sleep 2.5; scripts/bench/syscalls.sh "$label" redis "$redis_pid" $((API_SECONDS - 1)) "$results") &
  counting+=($!)
  (sleep 2.5; scripts/bench/syscalls.sh "$label" booking "$booking_pid" $((API_SECONDS - 1)) "$results") &
  counting+=($!)
  "$seatbench" api --booking "$booking" --concurrency "$API_CONCURRENCY" --seconds "$API_SECONDS" \
    --label "$label" --server "booking=$booking_pid" --server "redis=$redis_pid" \
    --server "nats=$nats_pid" --results "$results"
  wait "${counting[@]}"   # not a bare `wait`: start.sh runs in the background too
  scripts/bench/redis-cmdstats.sh "$REDIS_PORT" "$results" "$label"
  say "redis-benchmark SET NX EX, same Redis, same concurrency ($API_CONCURRENCY)"
  scripts/bench/redis-setnx.sh "$REDIS_PORT" "$API_CONCURRENCY" "$results" "$redis_pid"
}

first_pool=${REDIS_POOLS%% *}
venues=main:10x10,grid:100x100,arena:@venues/arena.json
venues_to_run=(grid arena)
if part venues || part storm || part together || part api || [[ $PROFILE == 1 ]]; then
  say "large venues, the storm, the booking API, the profiles: fresh stack with VENUES=$venues"
  start_stack VENUES="$venues" REDIS_POOL="$first_pool"
fi
part venues || venues_to_run=()
if part venues || part storm || part together; then
  # The arena as a sale in progress leaves it (holds last HOLD_SECONDS=3600 in this run).
  "$seatbench" fill --booking "$booking" --venue arena --held 5 --booked 50 --results "$results"
fi
for venue in "${venues_to_run[@]}"; do
  # The booking service's snapshot of the venue: about the size of its full VENUE_STATE.
  snap="$run_dir/snapshot-$venue.json"
  http_ms=$(curl -s -o "$snap" -w '%{time_total}' "$booking/api/venues/$venue" | awk '{printf "%.1f", $1 * 1000}')
  seats=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["seats"]))' "$snap")
  printf '{"kind":"venue_snapshot","venue":"%s","seats":%s,"bytes":%s,"http_ms":%s}\n' "$venue" "$seats" "$(wc -c <"$snap")" "$http_ms" >>"$results"
  for form in full compact; do
    say "large venue $venue ($seats seats): snapshot $(wc -c <"$snap") bytes in $http_ms ms; $VENUE_VIEWERS viewers join ($form state), then 10 changes/s"
    compact=(); [[ $form == compact ]] && compact=(--compact)
    "$seatbench" fanout --booking "$booking" --venue "$venue" --viewers "$VENUE_VIEWERS" --phases 10x30 \
      --drain-secs 5 --label "venue-$venue-$form" --protocol seatmap --urls "$edges" --server "edge=$edge_pids" \
      "${compact[@]}" --results "$results" || say "venue $venue ($form): seatbench failed (see above)"
  done
done
if part storm; then
  say "reconnect storm on the arena: $STORM_STEADY steady viewers, $STORM_VIEWERS reconnecting within 2 s (compact state, directly to the edges)"
  "$seatbench" storm --booking "$booking" --venue arena --urls "$edges" --steady "$STORM_STEADY" \
    --storm "$STORM_VIEWERS" --within-secs 2 --rate 10 --changes "$STORM_CHANGES" --compact \
    --label storm-arena --server "edge=$edge_pids" --results "$results" || say "storm: seatbench failed (see above)"
fi
if part together; then
  # On the arena as the fill left it: each worker holds and releases one seat, a group of 4, or
  # the best 2-4 seats; Redis's own script time is read for the measured seconds.
  for mode in seat group best; do
    say "seats together on the arena: $mode, $API_CONCURRENCY connections, each hold then released"
    "$seatbench" api --booking "$booking" --venue arena --mode "$mode" --concurrency "$API_CONCURRENCY" \
      --seconds "$API_SECONDS" --label "together-$mode" --redis "redis://127.0.0.1:$REDIS_PORT" \
      --server "booking=$booking_pid" --server "redis=$redis_pid" --results "$results" ||
      say "together ($mode): seatbench failed (see above)"
  done
  # The rush twice: on the arena as the fill left it, then on the empty arena (a sale's start).
  for when in filled empty; do
    if [[ $when == empty ]]; then
      curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$booking/api/admin/reset?venue=arena" >/dev/null ||
        say "the arena's reset failed"
    fi
    say "best-available rush on the $when arena: ${RUSH_ASKS:-2000} identities each ask once for 2-4 seats"
    "$seatbench" best-rush --booking "$booking" --venue arena --asks "${RUSH_ASKS:-2000}" --label "best-rush-$when" \
      --concurrency "$API_CONCURRENCY" --redis "redis://127.0.0.1:$REDIS_PORT" --results "$results" ||
      say "best-rush ($when): seatbench failed or found a wrong answer (see above)"
  done
fi
if part api; then
  api_run "$first_pool"
  say "booking API through NGINX"
  "$seatbench" api --booking "http://127.0.0.1:$HTTP_PORT" --concurrency "$API_CONCURRENCY" --seconds "$API_SECONDS" \
    --label api-nginx --server "booking=$booking_pid" --server "redis=$redis_pid" \
    --server "nginx=children:$nginx_pid" --results "$results"
fi
if [[ $PROFILE == 1 ]] && part api; then
  say "profiling the booking service under the API load (an extra, unmeasured run)"
  (sleep 3; scripts/bench/profile-pid.sh booking "$booking_pid" 4 "$OUT") &
  profiling=$!
  "$seatbench" api --booking "$booking" --concurrency "$API_CONCURRENCY" --seconds 6 --label profile-api >/dev/null
  wait "$profiling"
  # µs of booking-service CPU per request, from the measured API run.
  us=$(python3 -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print([r for r in rows if r.get("kind") == "api" and r["label"] == sys.argv[2]][-1]["cpu"]["booking"]["us_per_request"])' \
       "$results" "api-direct-pool$first_pool" 2>/dev/null || true)
  [[ -f $OUT/profile-booking.folded ]] &&
    python3 scripts/bench/profile-summary.py --booking "$OUT/profile-booking.folded" ${us:+"$us"} | tee "$OUT/profile-booking.md"
fi
if [[ $PROFILE == 1 ]]; then
  # The target case (10,000 viewers, 10 changes/s) and a saturated one (5,000 viewers, 100/s).
  for spec in "profile-10k-10 10000 10x120 8" "profile-5k-100 5000 100x800 6"; do
    read -r name viewers phase secs <<<"$spec"
    say "profiling edge pid ${edge_pids%%,*}: $viewers viewers, $phase (perf, $secs s)"
    RESULTS="$results" scripts/bench/profile-edge.sh "$name" "${edge_pids%%,*}" "$OUT" "$secs" -- \
      "$seatbench" fanout --booking "$booking" --viewers "$viewers" --phases "$phase" --label "$name" \
      --protocol seatmap --urls "$edges" --server "edge=$edge_pids" --results "$results"
  done
fi
part api || REDIS_POOLS=$first_pool
for pool in ${REDIS_POOLS#"$first_pool"}; do
  start_stack REDIS_POOL="$pool"
  api_run "$pool"
done
stop_stack

part secure && source scripts/bench/secure.sh

# ------------------------------------------------------------------ tables and plot
say "tables and plot"
python3 scripts/bench/report.py "$results" "$OUT" || say "report.py failed (the raw figures are in $results)"
say "done in $((SECONDS - t0)) s: $OUT"
