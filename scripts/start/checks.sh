# shellcheck shell=bash
# Sourced by start.sh: whether the ports are free, whether a WebSocket handshake through NGINX
# reaches an edge, and the text printed once everything is up. Functions only; they read
# start.sh's settings (ports, names, RUN_DIR, secrets) when called.
# Needs: say, warn, die, and the variables start.sh sets before calling them.

port_user() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
}
port_busy() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
check_ports() { # every port of every part (parts.sh) is free, and none is given twice
  local -A seen=()
  local entry name var port who
  local -a list=()
  for name in "${REDIS_NAMES[@]}" "${NATS_NAMES[@]}" "${BOOKING_NAMES[@]}" "${EDGE_NAMES[@]}" nginx "${MONITOR_NAMES[@]}"; do
    part "$name"
    list+=("${P_LISTENS[@]}")
  done
  for entry in "${list[@]}"; do
    IFS='|' read -r name var port <<<"$entry"
    [[ -z ${seen[$port]:-} ]] || die "port $port is given to both ${seen[$port]} and $name; choose different ports"
    seen[$port]=$name
    if port_busy "$port"; then
      who=$(port_user "$port")
      local base=${!var}
      die "port $port (for $name, $var) is already in use${who:+ by $who}.
        Stop that program or choose another port, e.g. $var=$(( base + 10000 > 65000 ? base - 1000 : base + 10000 )) ./start.sh"
    fi
  done
  local low
  low=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
  if (( EUID != 0 && HTTP_PORT < low )); then
    die "port $HTTP_PORT needs root; run as root or choose e.g. HTTP_PORT=8000 ./start.sh"
  fi
  if (( EUID != 0 && TLS_ON && HTTPS_PORT < low )); then
    die "port $HTTPS_PORT needs root; run as root or choose e.g. HTTP_PORT=8000 HTTPS_PORT=8443 ./start.sh --tls"
  fi
}

# A WebSocket handshake through NGINX must reach an edge (101 Switching Protocols).
# With the waiting room on, a socket that opens is an identity that takes a place, even the one
# free slot, for up to 30 s after it closes. So then the handshake asks for WebSocket version 12
# instead: an edge refuses that (400, naming Sec-WebSocket-Version) before upgrading, which still
# shows that NGINX passes the upgrade headers on to an edge, and no identity is made.
ws_probe() { # ws_probe VERSION OUTPUT: prints what OUTPUT (a file or -) gets, then the HTTP status
  nginx_curl_base   # http://127.0.0.1:HTTP_PORT, or HTTPS (scripts/start/tls.sh)
  curl -sS -o "$2" -w '\n%{http_code}' --noproxy '*' --max-time 2 "${NGINX_CURL[@]}" \
    -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H "Sec-WebSocket-Version: $1" \
    -H 'Sec-WebSocket-Key: c2VhdG1hcC1zdGFydC1zaA==' "$NGINX_BASE/ws" 2>/dev/null || true
}
check_websocket() {
  local ws_answer ws_code
  if (( 10#${MAX_SHOPPERS:-0} > 0 )); then
    ws_answer=$(ws_probe 12 -)
    ws_code=${ws_answer##*$'\n'}
    [[ $ws_code == 400 && $ws_answer == *Sec-WebSocket-Version* ]] ||
      warn "a WebSocket handshake (version 12) through NGINX answered '${ws_code:-nothing}' instead of an edge's 400"
  else
    ws_code=$(ws_probe 13 /dev/null)
    ws_code=${ws_code##*$'\n'}
    [[ $ws_code == 101 ]] || warn "WebSocket handshake through NGINX answered '${ws_code:-nothing}' instead of 101"
  fi
}

# The URL and how to use and watch the running system.
print_ready() {
  local KILL_EDGE URL WATCH
  KILL_EDGE="$ROOT/scripts/kill-edge.sh"
  [[ $CALLER_PWD == "$ROOT" ]] && KILL_EDGE=scripts/kill-edge.sh
  URL=$(nginx_url)
  if (( SECURE )); then
    WATCH="NATS_ENV=$SECURE_DIR/watcher.env $ROOT/scripts/watch-events.sh  (as the read-only user watcher)"
  elif command -v nats >/dev/null 2>&1; then
    WATCH="nats --server nats://127.0.0.1:$NATS_PORT sub 'seats.>'"
  else
    # Plain bash, no install: speaks the NATS text protocol, answers PINGs so the
    # server keeps the connection, prints "subject payload" per event.
    WATCH="NATS_PORT=$NATS_PORT $ROOT/scripts/watch-events.sh  (the nats CLI is not installed; this needs nothing)"
  fi

  cat <<EOF

[start] the seat map is up: $URL

  Open in a browser:  $URL
  Booking API:        $(rotated booking 0 | tr , ' ')  (health: $URL/health)$( (( CLUSTER )) && printf '\n  Cluster:            Redis Cluster %s; NATS cluster %s' "${REDIS_URL_ALL#redis-cluster://}" "$(rotated nats 0)")
  Edges (WebSocket):  $(for p in "${EDGE_PORTS[@]}"; do printf 'ws://127.0.0.1:%s/ws ' "$p"; done)(through NGINX: ${URL/http/ws}/ws)$(tls_ready_lines)$(secure_ready_lines)
  Watch every event:  $WATCH
  A new identity:     curl -s -X POST $URL/api/session   (for curl and scripts; the page gets one in WELCOME)
  Reset the demo:     curl -X POST -H 'Authorization: Bearer $ADMIN_TOKEN' $URL/api/admin/reset
                      (ADMIN_TOKEN $( (( ADMIN_TOKEN_GENERATED )) && echo "generated for this run" || echo "from the environment"); also in $RUN_DIR/admin_token;
                      /api/admin/ answers through NGINX only from $( [[ $ADMIN_FROM == local ]] && echo "this machine" || echo "ADMIN_FROM=$ADMIN_FROM"))
  Waiting room:       $( (( 10#${MAX_SHOPPERS:-0} > 0 )) && echo "on: $MAX_SHOPPERS shopping at once, ${SHOPPING_SECONDS:-300} s each; the rest wait in the queue (DEMO.md)" || echo "off (MAX_SHOPPERS=1 ./start.sh turns it on; DEMO.md)")
  Identities:         TOKEN_SECRET $( (( TOKEN_SECRET_GENERATED )) && echo "generated for this run: tokens from earlier runs are refused" || echo "from the environment")
  Per-IP limits:      $LIMIT_SESSION_PER_MIN sessions/min (burst $LIMIT_SESSION_BURST), $LIMIT_SEAT_PER_SEC seat commands/s (burst $LIMIT_SEAT_BURST),
                      $LIMIT_WS_PER_SEC WebSocket upgrades/s (burst $LIMIT_WS_BURST), $LIMIT_WS_CONN open WebSockets  (see $RUN_DIR/limits.env)
  Prometheus:         $( (( MONITORING )) && echo "http://127.0.0.1:$PROMETHEUS_PORT (alerts: /alerts, targets: /targets; config in $MONITORING_DIR; Grafana dashboard: monitoring/grafana/seatmap.json)" || echo "off (./start.sh --monitoring runs it)")
  Kill an edge:       $KILL_EDGE ${EDGE_NAMES[0]}$( [[ $RUN_DIR == "$ROOT/.run" ]] || printf ' %s' "$RUN_DIR")
  Logs:               $LOG_DIR/<part>.log  (tail -f $LOG_DIR/*.log); NGINX access/error logs in $NGINX_DIR/
  PIDs:               $PID_DIR/<part>.pid

  Press Ctrl+C to stop everything$( (( RESTART )) && echo " (RESTART=1: parts that exit are restarted)").
EOF
}
