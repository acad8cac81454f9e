# shellcheck shell=bash
# Sourced by scripts/docker-start.sh: waiting until every container of the compose project is
# healthy (wait_healthy), and the text printed once it is (print_docker_ready, the native
# start's, for containers). Reads PROJECT, HEALTH_TIMEOUT, HTTP_PORT, SEATMAP_NET, EDGE_IDS,
# EDGE_ADDRESSES, BOOKING_ADDRESSES, NATS_ADDRESS, RUN_DIR, LOG_DIR, CLUSTER, MONITORING and the
# settings' variables; say, die.

# Each container: "service state health exit-code" (health "-" when it has no health check).
container_states() {
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" | xargs -r docker inspect --format \
    '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}'
}

wait_healthy() {
  local t0=$SECONDS service state health code pending
  local -A shown=()
  while :; do
    pending=0
    while read -r service state health code; do
      [[ -n $service && -z ${shown[$service]:-} ]] || continue
      if [[ $health == healthy || ($health == - && $state == exited && $code == 0) ]]; then
        shown[$service]=1
        printf '[start] %-20s ok (%ss)\n' "$service" $(( SECONDS - t0 ))
      elif [[ $state == exited || $state == dead ]]; then
        docker logs --tail 30 "$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
          --filter "label=com.docker.compose.service=$service" | head -n1)" >&2 || true
        die "$service exited (status $code) before it was healthy (its last lines above)"
      else
        pending=1
      fi
    done < <(container_states)
    (( pending )) || return 0
    (( SECONDS - t0 < HEALTH_TIMEOUT )) ||
      die "not every service was healthy within ${HEALTH_TIMEOUT}s: $(container_states | awk '$3 != "healthy" {print $1 " " $2 "/" $3}' | paste -sd ',')"
    sleep 0.5
  done
}

print_docker_ready() {
  local url kill_edge addr bookings='' edges=''
  url="http://localhost$( (( HTTP_PORT == 80 )) || printf ':%s' "$HTTP_PORT")"
  kill_edge="$ROOT/scripts/docker-kill-edge.sh"
  [[ ${CALLER_PWD:-$PWD} == "$ROOT" ]] && kill_edge=scripts/docker-kill-edge.sh
  for addr in $BOOKING_ADDRESSES; do bookings+="http://$addr "; done
  for addr in $EDGE_ADDRESSES; do edges+="ws://$addr/ws "; done
  cat <<EOF

[start] the seat map is up: $url

  Open in a browser:  $url
  Booking API:        ${bookings}(health: $url/health)
  Edges (WebSocket):  ${edges}(through NGINX: ${url/http/ws}/ws)
  Containers:         project $PROJECT on the network $SEATMAP_NET.0/24, NGINX on this machine's network
                      (docker ps --filter label=com.docker.compose.project=$PROJECT)
  Watch every event:  NATS_HOST=$NATS_ADDRESS $ROOT/scripts/watch-events.sh
  A new identity:     curl -s -X POST $url/api/session   (for curl and scripts; the page gets one in WELCOME)
  Reset the demo:     curl -X POST -H 'Authorization: Bearer $ADMIN_TOKEN' $url/api/admin/reset
                      (ADMIN_TOKEN $( (( ${ADMIN_TOKEN_GENERATED:-0} )) && echo "generated for this run" || echo "from the environment"); also in $RUN_DIR/admin_token;
                      /api/admin/ answers through NGINX only from $( [[ ${ADMIN_FROM:-local} == local ]] && echo "this machine" || echo "ADMIN_FROM=$ADMIN_FROM"))
  Waiting room:       $( (( 10#${MAX_SHOPPERS:-0} > 0 )) && echo "on: $MAX_SHOPPERS shopping at once, ${SHOPPING_SECONDS:-300} s each; the rest wait in the queue (DEMO.md)" || echo "off (MAX_SHOPPERS=1 ./start.sh --docker turns it on; DEMO.md)")
  Identities:         TOKEN_SECRET $( (( ${TOKEN_SECRET_GENERATED:-0} )) && echo "generated for this run: tokens from earlier runs are refused" || echo "from the environment")
  Per-IP limits:      $LIMIT_SESSION_PER_MIN sessions/min (burst $LIMIT_SESSION_BURST), $LIMIT_SEAT_PER_SEC seat commands/s (burst $LIMIT_SEAT_BURST),
                      $LIMIT_WS_PER_SEC WebSocket upgrades/s (burst $LIMIT_WS_BURST), $LIMIT_WS_CONN open WebSockets  (see $RUN_DIR/limits.env)
  Prometheus:         $( (( MONITORING )) && echo "http://127.0.0.1:${PROMETHEUS_PORT:-9090} (alerts: /alerts, targets: /targets; Grafana dashboard: monitoring/grafana/seatmap.json)" || echo "off (./start.sh --docker --monitoring runs it)")
  Kill an edge:       $kill_edge ${EDGE_IDS[0]}$( [[ $PROJECT == seatmap ]] || printf ' %s' "$PROJECT")
  Logs:               docker logs -f ${PROJECT}_<service>_1  (services: $(container_states | awk '{print $1}' | sort | paste -sd ' '));
                      compose's own output in $LOG_DIR/compose.log

  Press Ctrl+C to stop everything (containers and network$( (( FRESH )) && echo ", and with --fresh the volumes")).
EOF
}
