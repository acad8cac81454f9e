# shellcheck shell=bash disable=SC2034  # the P_* variables are read by start.sh
# Sourced by start.sh: what each part of the system is, described once. A part's name says its
# kind: redis-server, nats-server, booking-service and nginx (one machine), redis-PORT,
# nats-PORT, booking-PORT (--cluster, a second booking service) and edge-PORT.
#
# --monitoring adds prometheus.
#
# part NAME sets, for that part:
#   P_KIND     redis, nats, booking, edge, nginx or prometheus (parts of one kind stop together)
#   P_PORT     the port it serves on
#   P_DESC     what the start lines show beside its name
#   P_LISTENS  every port it listens on, as "what|VAR|port" (VAR: the setting that moves it)
#   P_HEALTH   a command that succeeds once it answers
#   P_LOGS     its log files (the first is $LOG_DIR/NAME.log, where its output goes)
#   P_DIRS     directories it needs before it starts
#   P_CMD      its command line
#   P_ENV      VAR=value settings it gets in its environment only (SECURE=1: credentials)
# part_kind and part_comm need only the name (for --stop and pid files, before anything else
# is known). The others read start.sh's settings when called.

# part_kind NAME: the kind of part NAME names; fails for a name that is no part.
part_kind() {
  case $1 in
    redis-*) echo redis ;;
    nats-*) echo nats ;;
    booking-*) echo booking ;;
    edge-*) echo edge ;;
    nginx) echo nginx ;;
    prometheus) echo prometheus ;;
    *) return 1 ;;
  esac
}

# part_comm NAME: the program name (/proc/PID/comm) its pid must point at, so a recycled pid is
# never signalled by mistake.
part_comm() {
  local kind
  kind=$(part_kind "$1") || return 1
  case $kind in
    redis) echo redis-server ;;
    nats) echo nats-server ;;
    booking) echo booking-service ;;
    edge) echo edge-server ;;
    nginx) echo nginx ;;
    prometheus) echo prometheus ;;
  esac
}

# The port a part serves on: the setting for the one-machine names, else the name's number.
part_port() {
  case $1 in
    redis-server) echo "$REDIS_PORT" ;;
    nats-server) echo "$NATS_PORT" ;;
    booking-service) echo "$BOOKING_PORT" ;;
    nginx) echo "$HTTP_PORT" ;;
    prometheus) echo "$PROMETHEUS_PORT" ;;
    *) echo "${1##*-}" ;;
  esac
}

http_ok() { curl -fsS -o /dev/null --noproxy '*' --max-time 2 "$1" 2>/dev/null; }
redis_ok() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# TOKEN_SECRET, ADMIN_TOKEN and INTERNAL_TOKEN reach the two services through the environment
# (never the command line, which the logs show); the other parts do not get them.
NO_SECRETS=(env -u TOKEN_SECRET -u ADMIN_TOKEN -u INTERNAL_TOKEN)

# Redis: one server, or (--cluster) a node with its own data dir (AOF and nodes.conf), the
# cluster bus on port + 10000, and the node settings scripts/lib/redis-cluster.sh gives the tests too.
part_redis() {
  local name=$1 port=$2
  P_HEALTH=(redis_ok "$port")
  P_LISTENS=("redis-server|REDIS_PORT|$port")
  if [[ $name == redis-server ]]; then
    P_DESC=":$port"
    P_CMD=("${NO_SECRETS[@]}" redis-server "$ROOT/redis/redis.conf" --port "$port" --dir "$REDIS_DIR"
           --daemonize no)
  else
    P_DESC=":$port (cluster node)"
    P_LISTENS+=("redis cluster bus|REDIS_PORT|$(( port + 10000 ))")
    P_DIRS=("$REDIS_DIR/$port")
    local -a node_args
    mapfile -t node_args < <("$ROOT/scripts/lib/redis-cluster.sh" node-args "$port" $(( port + 10000 )))
    P_CMD=("${NO_SECRETS[@]}" redis-server "$ROOT/redis/redis.conf" --port "$port" --dir "$REDIS_DIR/$port"
           --daemonize no "${node_args[@]}")
  fi
}

# NATS: one server, or (--cluster) the i-th node of the cluster, its monitoring and route ports
# the i-th after NATS_MONITOR_PORT and NATS_CLUSTER_PORT. NATS_CONFIG, when set, is read first
# (nats-server -c); the flags here win over it.
part_nats() {
  local name=$1 port=$2 i j routes=()
  i=$(( port - NATS_PORT ))
  P_HEALTH=(http_ok "http://127.0.0.1:$(( NATS_MONITOR_PORT + i ))/healthz")
  P_LISTENS=("nats-server|NATS_PORT|$port" "nats-server monitoring|NATS_MONITOR_PORT|$(( NATS_MONITOR_PORT + i ))")
  P_CMD=("${NO_SECRETS[@]}" nats-server ${NATS_CONFIG:+-c "$NATS_CONFIG"} -a 127.0.0.1 -p "$port"
         -m $(( NATS_MONITOR_PORT + i )))
  if [[ $name == nats-server ]]; then
    P_DESC=":$port, monitoring :$NATS_MONITOR_PORT"
  else
    P_DESC=":$port (cluster node)"
    P_LISTENS+=("nats cluster routes|NATS_CLUSTER_PORT|$(( NATS_CLUSTER_PORT + i ))")
    for (( j = 0; j < ${#NATS_PORTS[@]}; j++ )); do routes+=("nats-route://127.0.0.1:$(( NATS_CLUSTER_PORT + j ))"); done
    P_CMD+=(--cluster_name seatmap --cluster "nats://127.0.0.1:$(( NATS_CLUSTER_PORT + i ))"
            --routes "$(join_by , "${routes[@]}")")
  fi
}

# A booking service: every Redis node, the NATS nodes starting with a different one each.
part_booking() {
  local name=$1 port=$2
  P_DESC=":$port"
  P_HEALTH=(http_ok "http://127.0.0.1:$port/health")
  P_LISTENS=("booking-service|BOOKING_PORT|$port")
  P_CMD=(env --chdir="$ROOT" HOST=127.0.0.1 PORT="$port" SERVICE_ID="$name" REDIS_URL="$REDIS_URL_ALL"
         NATS_URL="$(rotated nats $(( port - BOOKING_PORT )))" "$BIN_DIR/booking-service")
}

# An edge: the booking services and NATS nodes starting with a different one each, and a Unix
# socket for NGINX.
part_edge() {
  local name=$1 port=$2 k
  k=$(( port - EDGE_BASE_PORT ))
  P_DESC=":$port"
  P_HEALTH=(http_ok "http://127.0.0.1:$port/health")
  P_LISTENS=("$name|EDGE_BASE_PORT|$port")
  P_CMD=(env HOST=127.0.0.1 PORT="$port" EDGE_ID="$name" BOOKING_URL="$(rotated booking "$k")"
         NATS_URL="$(rotated nats "$k")" UNIX_SOCKET="$(edge_socket "$port")" "$BIN_DIR/edge-server")
}

# NGINX: the config render_nginx_conf wrote, everything it writes under NGINX_DIR.
part_nginx() {
  local port=$2
  P_DESC=":$port"
  P_HEALTH=(http_ok "http://127.0.0.1:$port/health")
  P_LISTENS=("nginx|HTTP_PORT|$port")
  if (( TLS_ON )); then   # HTTPS on HTTPS_PORT; HTTP_PORT only redirects (scripts/start/tls.sh)
    P_DESC="https :$HTTPS_PORT, http :$port (redirects)"
    P_HEALTH=(nginx_ok)
    P_LISTENS+=("nginx https|HTTPS_PORT|$HTTPS_PORT")
  fi
  P_LOGS+=("$NGINX_DIR/error.log")
  P_CMD=("${NO_SECRETS[@]}" "$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" "${NGINX_E[@]}" -g 'daemon off;')
}

# Prometheus (--monitoring): the config write_monitoring_config put in MONITORING_DIR, its data
# beside it, its UI and API on loopback only.
part_prometheus() {
  local port=$2
  P_DESC=":$port (scrapes the services)"
  P_HEALTH=(http_ok "http://127.0.0.1:$port/-/ready")
  P_LISTENS=("prometheus|PROMETHEUS_PORT|$port")
  P_DIRS=("$MONITORING_DIR/data")
  P_CMD=("${NO_SECRETS[@]}" prometheus --config.file="$MONITORING_DIR/prometheus.yml"
         --storage.tsdb.path="$MONITORING_DIR/data" --web.listen-address="127.0.0.1:$port")
}

part() {
  local name=$1
  P_KIND=$(part_kind "$name") || die "no part is called $name"
  P_PORT=$(part_port "$name")
  P_LOGS=("$LOG_DIR/$name.log")
  P_DIRS=()
  P_ENV=()
  "part_$P_KIND" "$name" "$P_PORT"
  (( ! ${SECURE:-0} )) || secure_part "$name"   # scripts/start/secure.sh
}
