# shellcheck shell=bash disable=SC2154  # seatbench, booking, edges, the pids: bench.sh's
# Sourced by scripts/bench.sh for PARTS=secure: what SECURE=1 costs. Plain stacks and SECURE=1
# stacks in turn (SECURE_ROUNDS times: plain, secure, plain, secure, …, so the machine's noise
# falls on both), each measured alike:
#   direct  fan-out straight to the edges (their plain /ws on loopback, as always): with SECURE=1
#           the booking service's links to Redis and NATS and NATS's to the edges are TLS with a
#           user per role, so this is what the links inside cost;
#   nginx   fan-out through NGINX, whose viewers' side is HTTPS/WSS with SECURE=1. seatbench has
#           no TLS client, so on both kinds of stack the viewers reach a second NGINX of the
#           bench's own (the tunnel), which reaches the stack's NGINX over plain HTTP or over
#           HTTPS (TLS 1.2 or 1.3, verifying the run's CA, connections kept): only that link
#           differs;
#   the booking API (select + release) straight to the service and through NGINX (the tunnel),
#           at the service's REDIS_POOL (the first of SECURE_POOLS), then straight again on a
#           fresh stack for each other pool size: with appendfsync always an fsync is shared by
#           the requests Redis read in one turn of its event loop, and over TLS it took about
#           one command a connection a turn (docs/benchmarks.md), so the pool size sets how many.
# Rows are labelled secure0-… (plain) and secure1-… (SECURE=1), with -rROUND; report.py sets them
# side by side. The NATS probe logs in as the read-only watcher with SECURE=1. Redis's system
# calls over each API run give the requests per fsync.
# Needs (bench.sh's): seatbench, booking, edges, results, API_CONCURRENCY, API_SECONDS,
# NGINX_CONNECTIONS, SECURE_SIZES, SECURE_PHASES, SECURE_ROUNDS, SECURE_POOLS, stop_stack,
# stack_pids, say, free_port, stack_start; sets run_dir and the pids as start_stack does, and
# https_port.

# secure_stack 0|1 POOL: a fresh stack, plain or SECURE=1, with REDIS_POOL=POOL (without the
# nats-server WebSocket listener of the other parts: SECURE=1 writes nats-server's config itself).
secure_stack() {
  stop_stack
  run_dir=$(mktemp -d /tmp/seatmap-bench.XXXXXX)
  chmod 755 "$run_dir"   # NGINX workers (nobody) reach the edges' Unix sockets in it
  https_port=$(free_port)
  local https=()
  (( $1 )) && https=(HTTPS_PORT="$https_port")
  stack_start SECURE="$1" REDIS_POOL="$2" "${https[@]}" RUN_DIR="$run_dir" ||
    { say "the stack did not come up"; exit 1; }
  stack_pids
}

# secure_api LABEL URL [--server …]: the booking API at URL for API_SECONDS, Redis's system
# calls counted over the measured seconds (after seatbench's warm-up).
secure_api() {
  local label=$1 url=$2 counting
  shift 2
  (sleep 2.5; scripts/bench/syscalls.sh "$label" redis "$redis_pid" $((API_SECONDS - 1)) "$results") &
  counting=$!
  "$seatbench" api --booking "$url" --concurrency "$API_CONCURRENCY" --seconds "$API_SECONDS" \
    --label "$label" --server "booking=$booking_pid" --server "redis=$redis_pid" "$@" --results "$results"
  wait "$counting"
}

# tunnel_nginx SCHEME PORT: the tunnel, an NGINX of its own on a spare port (tunnel_port) in
# front of the stack's NGINX at SCHEME://localhost:PORT. Sets tunnel_pid and tunnel_port.
tunnel_nginx() {
  local scheme=$1 port=$2 dir="$run_dir/tunnel" ssl=''
  mkdir -p "$dir"
  tunnel_port=$(free_port)
  if [[ $scheme == https ]]; then
    ssl="proxy_ssl_protocols TLSv1.2 TLSv1.3; proxy_ssl_server_name on; proxy_ssl_name localhost;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate $run_dir/tls/ca.pem; proxy_ssl_session_reuse on;"
  fi
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $NGINX_CONNECTIONS; }
http {
  access_log off;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  upstream stack { server 127.0.0.1:$port; keepalive 128; }
  server {
    listen 127.0.0.1:$tunnel_port;
    location / {
      proxy_pass $scheme://stack;
      proxy_http_version 1.1;
      proxy_set_header Host localhost:$port;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      $ssl
    }
  }
}
EOF
  nginx -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$dir/error.log" &
  tunnel_pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$tunnel_port") 2>/dev/null && return 0; sleep 0.1; done
  say "the tunnel NGINX did not come up: $(tail -n 3 "$dir/error.log")"
  exit 1
}

# as_watcher CMD…: CMD with a SECURE=1 stack's read-only NATS user (NATS_USER, NATS_PASSWORD)
# and CA (SSL_CERT_FILE) in its environment, never on its command line; plain: CMD as it is.
as_watcher() {
  if [[ -f $run_dir/secure/watcher.env ]]; then
    # shellcheck source=/dev/null disable=SC2034  # written by start.sh; set -a exports them all
    (set -a; source "$run_dir/secure/watcher.env"; SSL_CERT_FILE=$run_dir/tls/ca.pem; set +a; "$@")
  else
    "$@"
  fi
}

for round in $(seq 1 "$SECURE_ROUNDS"); do
  for on in 0 1; do
    say "SECURE=$on (round $round of $SECURE_ROUNDS): fresh stack, REDIS_POOL=${SECURE_POOLS%% *}"
    secure_stack "$on" "${SECURE_POOLS%% *}"
    if (( on )); then
      tunnel_nginx https "$https_port"
      probe="tls://127.0.0.1:$NATS_PORT"
    else
      tunnel_nginx http "$HTTP_PORT"
      probe="nats://127.0.0.1:$NATS_PORT"
    fi
    for n in $SECURE_SIZES; do
      [[ $n == 0 ]] && continue   # SECURE_SIZES=0: the API only
      fan=("$seatbench" fanout --booking "$booking" --viewers "$n" --phases "$SECURE_PHASES"
           --results "$results" --probe-nats "$probe" --protocol seatmap)
      say "SECURE=$on: $n viewers straight to the edges"
      as_watcher "${fan[@]}" --label "secure$on-direct-r$round" --urls "$edges" --server "edge=$edge_pids"
      say "SECURE=$on: $n viewers through NGINX (over the tunnel)"
      as_watcher "${fan[@]}" --label "secure$on-nginx-r$round" --urls "ws://127.0.0.1:$tunnel_port/ws" \
        --server "edge=$edge_pids" --server "nginx=children:$nginx_pid" --server "tunnel=children:$tunnel_pid"
    done
    pool=${SECURE_POOLS%% *}
    say "SECURE=$on: booking API, $API_CONCURRENCY connections, select+release, straight to the service"
    secure_api "secure$on-api-direct-pool$pool-r$round" "$booking" --server "nats=$nats_pid"
    say "SECURE=$on: booking API through NGINX (over the tunnel)"
    secure_api "secure$on-api-nginx-pool$pool-r$round" "http://127.0.0.1:$tunnel_port" \
      --server "nginx=children:$nginx_pid" --server "tunnel=children:$tunnel_pid"
    kill -TERM "$tunnel_pid" 2>/dev/null || true
    wait "$tunnel_pid" 2>/dev/null || true
    for pool in ${SECURE_POOLS#"${SECURE_POOLS%% *}"}; do
      say "SECURE=$on: booking API straight to the service with REDIS_POOL=$pool (fresh stack)"
      secure_stack "$on" "$pool"
      secure_api "secure$on-api-direct-pool$pool-r$round" "$booking" --server "nats=$nats_pid"
    done
  done
done
stop_stack
