# shellcheck shell=bash disable=SC2034  # SECURE_* and TLS are read by start.sh, tls.sh, parts.sh
# Sourced by start.sh: SECURE=1, every link between the parts authenticated and encrypted.
#   Redis   TLS only (its plain port closed), the default user off, one ACL user for the booking
#           services limited to the commands and keys they use: REDIS_URL=rediss://booking:…@…;
#           an admin user for operators (and start.sh forming the cluster); with --cluster the
#           bus and replication over TLS too, replicas logging in as user replica.
#   NATS    TLS required, a user per role with subject permissions: booking publishes seats.>
#           only; edge and watcher (scripts/watch-events.sh, operators) only subscribe to it;
#           with --cluster the routes over TLS with a user of their own.
#   HTTP    INTERNAL_TOKEN on /internal/ (settings.sh makes one per run), and HTTPS at NGINX
#           (SECURE=1 implies --tls unless TLS_CERT/TLS_KEY are given).
# Certificates: the local CA of scripts/tls-local-ca.sh in $RUN_DIR/tls (the services trust it
# through SSL_CERT_FILE). Passwords: REDIS_PASSWORD, REDIS_ADMIN_PASSWORD, REDIS_REPLICA_PASSWORD,
# NATS_BOOKING_PASSWORD, NATS_EDGE_PASSWORD, NATS_WATCHER_PASSWORD, NATS_ROUTE_PASSWORD from the
# environment, else random per run. They reach the services
# through their environment and the servers through files in $RUN_DIR/secure (mode 600; Redis
# gets only a SHA-256, NATS a bcrypt hash but of the routes' password), never a command line or a
# log line. Why: docs/security.md.
# Needs: RUN_DIR, ROOT, CLUSTER, FORCE_DOCKER, the ports, random_hex (settings.sh), die.

SECURE=${SECURE:-0}
[[ $SECURE == 0 || $SECURE == 1 ]] || die "SECURE must be 0 or 1, got '$SECURE'"
SECURE_DIR="$RUN_DIR/secure"
SECURE_CA="$RUN_DIR/tls/ca.pem"
if (( SECURE )); then
  (( ! FORCE_DOCKER )) || die "SECURE=1 runs natively; under docker compose it is not supported yet"
  [[ -z ${NATS_CONFIG:-} ]] || die "NATS_CONFIG cannot be combined with SECURE=1, whose nats-server config start.sh writes"
  command -v openssl >/dev/null 2>&1 || die "SECURE=1 needs openssl (apt-get install openssl)"
  [[ -n ${TLS_CERT:-} ]] || TLS=1   # browsers get HTTPS and WSS too
  # Over TLS Redis shares each appendfsync-always fsync among about one command per connection:
  # with 4 connections the API ran at a fifth of its plain rate, with 64 at it
  # (docs/benchmarks.md, "With SECURE=1").
  export REDIS_POOL=${REDIS_POOL:-64}
  for v in REDIS_PASSWORD REDIS_ADMIN_PASSWORD REDIS_REPLICA_PASSWORD NATS_BOOKING_PASSWORD \
           NATS_EDGE_PASSWORD NATS_WATCHER_PASSWORD NATS_ROUTE_PASSWORD; do
    [[ -n ${!v:-} ]] || printf -v "$v" '%s' "$(random_hex 24)"
    [[ ${!v} =~ ^[A-Za-z0-9._~-]{16,}$ ]] ||
      die "$v must be at least 16 letters, digits or ._~- (e.g. \$(openssl rand -hex 24))"
    export -n "${v?}"   # only the services that need one get it (secure_part)
  done
fi

# bcrypt_hash PASSWORD: a bcrypt hash of it (cost 10), for nats-server's config, from libc's crypt(3)
# through perl (perl-base is on every Debian; its libxcrypt knows bcrypt), the password read from
# stdin. The password itself where this crypt cannot (nats-server then warns "Plaintext passwords
# detected"), and for one over bcrypt's 72 bytes, which it would cut.
bcrypt_hash() {
  local hash=
  if (( ${#1} <= 72 )); then
    # 22 random characters of bcrypt's alphabet as the salt (the last one of four: its low bits pad).
    hash=$(printf '%s' "$1" | perl -e '
      open(my $random, "<", "/dev/urandom") or exit 1;
      read($random, my $bytes, 22) == 22 or exit 1;
      my @c = (".", "/", "A".."Z", "a".."z", "0".."9");
      my $salt = join "", map { $c[ord(substr $bytes, $_, 1) % 64] } 0 .. 20;
      $salt .= (".", "O", "e", "u")[ord(substr $bytes, 21, 1) % 4];
      my $password = <STDIN>;
      print crypt($password, "\$2b\$10\$$salt") // "";' 2>/dev/null) || hash=
  fi
  if [[ $hash =~ ^\$2b\$10\$[./A-Za-z0-9]{53}$ ]]; then printf '%s' "$hash"; else printf '%s' "$1"; fi
}

# nats_conf ROUTE_PORT ROUTES: nats-server's config for one node (ROUTES empty: no cluster); the
# users' passwords as secure_prepare's bcrypt hashes (nats_hash).
nats_conf() {
  cat <<EOF
# Written by start.sh for SECURE=1: TLS required, a user per role (docs/security.md).
tls {
  cert_file: "$RUN_DIR/tls/server.pem"
  key_file: "$RUN_DIR/tls/server.key"
  timeout: 2
}
authorization {
  users = [
    { user: booking, password: "${nats_hash[booking]}",
      permissions: { publish: { allow: ["seats.>"] }, subscribe: { deny: [">"] } } }
    { user: edge, password: "${nats_hash[edge]}",
      permissions: { publish: { deny: [">"] }, subscribe: { allow: ["seats.>"] } } }
    { user: watcher, password: "${nats_hash[watcher]}",
      permissions: { publish: { deny: [">"] }, subscribe: { allow: ["seats.>"] } } }
  ]
}
EOF
  [[ -n $2 ]] || return 0
  local route
  cat <<EOF
# The routes between the nodes: TLS both ways (each verifies the other's certificate), user route.
cluster {
  name: seatmap
  listen: "127.0.0.1:$1"
  tls {
    cert_file: "$RUN_DIR/tls/server.pem"
    key_file: "$RUN_DIR/tls/server.key"
    ca_file: "$SECURE_CA"
    verify: true
    timeout: 2
  }
  authorization { user: route, password: "$NATS_ROUTE_PASSWORD", timeout: 2 }
  routes = [
$(for route in $2; do printf '    "%s"\n' "$route"; done)
  ]
}
EOF
}

# secure_prepare: the certificates, Redis's ACL file and nats-server's config for this run.
secure_prepare() {
  (( SECURE )) || { rm -rf "$SECURE_DIR"; return 0; }
  "$ROOT/scripts/tls-local-ca.sh" "$RUN_DIR/tls" || die "could not make the local CA and certificate (openssl)"
  rm -rf "$SECURE_DIR"
  (umask 077 && mkdir -p "$SECURE_DIR")
  sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
  # Keys: the venue keys of booking-service/src/store/keys.rs; no pub/sub channels. Commands:
  # connection, reads, writes, scripts and streams, none of the dangerous or admin ones (CONFIG,
  # FLUSHALL, KEYS, DEBUG, ACL, CLIENT, the rest of INFO, …), TIME (the scripts read the clock),
  # INFO server (the client reads the server's version when it connects) and, for a cluster, the
  # slot map (CLUSTER SLOTS, SHARDS, INFO).
  local key keys=''
  for key in seat state holds holdcount seq epoch events relay published queue queue_seq \
             queue_joined shoppers presence booked_at admissions queue_reports free place bestruns \
             bestorder bestindex bestrank; do
    keys+=" ~$key:{*"
  done
  (umask 077 && cat >"$SECURE_DIR/users.acl" <<EOF
user default off
user booking on #$(sha "$REDIS_PASSWORD") resetchannels$keys -@all +@connection +@read +@write +@scripting +@stream +@transaction -@dangerous -@admin +time +info|server +cluster|slots +cluster|shards +cluster|info
user replica on #$(sha "$REDIS_REPLICA_PASSWORD") resetchannels -@all +psync +replconf +ping
user admin on #$(sha "$REDIS_ADMIN_PASSWORD") ~* &* +@all
EOF
  )
  # redis/redis.conf, then TLS, the users and (a cluster node) TLS for the bus and replication.
  (umask 077 && cat >"$SECURE_DIR/redis.conf" <<EOF
include $ROOT/redis/redis.conf
port 0
tls-cert-file $RUN_DIR/tls/server.pem
tls-key-file $RUN_DIR/tls/server.key
tls-ca-cert-file $SECURE_CA
tls-auth-clients no
tls-cluster yes
tls-replication yes
aclfile $SECURE_DIR/users.acl
masteruser replica
masterauth $REDIS_REPLICA_PASSWORD
EOF
  )
  # For operators: redis-cli as admin (REDISCLI_AUTH, never -a).
  (umask 077 && printf 'REDISCLI_AUTH=%s\n' "$REDIS_ADMIN_PASSWORD" >"$SECURE_DIR/redis-admin.env")
  local port i j routes
  local -A nats_hash=([booking]=$(bcrypt_hash "$NATS_BOOKING_PASSWORD") [edge]=$(bcrypt_hash "$NATS_EDGE_PASSWORD")
                      [watcher]=$(bcrypt_hash "$NATS_WATCHER_PASSWORD"))
  for port in "${NATS_PORTS[@]}"; do
    i=$(( port - NATS_PORT ))
    routes=''
    if (( CLUSTER )); then
      for (( j = 0; j < ${#NATS_PORTS[@]}; j++ )); do
        routes+="nats-route://route:$NATS_ROUTE_PASSWORD@127.0.0.1:$(( NATS_CLUSTER_PORT + j )) "
      done
    fi
    (umask 077 && nats_conf "$(( NATS_CLUSTER_PORT + i ))" "$routes" >"$SECURE_DIR/nats-$port.conf")
  done
  # For operators and scripts/watch-events.sh: the read-only user's settings.
  (umask 077 && printf 'NATS_PORT=%s\nNATS_USER=watcher\nNATS_PASSWORD=%s\nNATS_CA=%s\n' "$NATS_PORT" \
    "$NATS_WATCHER_PASSWORD" "$SECURE_CA" >"$SECURE_DIR/watcher.env")
}

# secure_cluster_cli: redis-cli's options and password (REDISCLI_AUTH, exported) for
# scripts/lib/redis-cluster.sh, as the admin user. Call it in a subshell.
secure_cluster_cli() {
  export REDIS_CLI_OPTS="--tls --cacert $SECURE_CA --user admin" REDISCLI_AUTH=$REDIS_ADMIN_PASSWORD
}

# Redis over TLS answers even before anyone logs in: NOAUTH to a stranger is a healthy server.
redis_tls_answers() {
  local answer
  answer=$(redis-cli --tls --cacert "$SECURE_CA" -h 127.0.0.1 -p "$1" ping 2>&1) || true
  [[ $answer == NOAUTH* || $answer == PONG ]]
}

# secure_part NAME: part's settings (parts.sh) with SECURE=1: the servers' TLS and users, and
# the services' credentials in P_ENV (their environment; launch never shows or logs it).
secure_part() {
  local name=$1 a i user password
  local -a cmd=()
  case $P_KIND in
    redis)   # the TLS port instead of the plain one, the config of secure_prepare first
      P_HEALTH=(redis_tls_answers "$P_PORT")
      for a in "${P_CMD[@]}"; do
        case $a in
          "$ROOT/redis/redis.conf") cmd+=("$SECURE_DIR/redis.conf") ;;
          --port) cmd+=(--tls-port) ;;
          *) cmd+=("$a") ;;
        esac
      done
      P_CMD=("${cmd[@]}")
      ;;
    nats)    # everything but the addresses is in the node's config (its routes too)
      i=$(( P_PORT - NATS_PORT ))
      P_CMD=("${NO_SECRETS[@]}" nats-server -c "$SECURE_DIR/nats-$P_PORT.conf" -a 127.0.0.1 -p "$P_PORT"
             -m $(( NATS_MONITOR_PORT + i )))
      ;;
    booking|edge)
      # The plain URLs leave the command line; the same with TLS and credentials go to P_ENV.
      user=$P_KIND
      if [[ $P_KIND == booking ]]; then password=$NATS_BOOKING_PASSWORD; else password=$NATS_EDGE_PASSWORD; fi
      for a in "${P_CMD[@]}"; do
        case $a in
          REDIS_URL=redis://*) P_ENV+=("REDIS_URL=rediss://booking:$REDIS_PASSWORD@${a#REDIS_URL=redis://}") ;;
          REDIS_URL=redis-cluster://*)
            P_ENV+=("REDIS_URL=rediss-cluster://booking:$REDIS_PASSWORD@${a#REDIS_URL=redis-cluster://}") ;;
          NATS_URL=*) a=${a#NATS_URL=}; P_ENV+=("NATS_URL=${a//nats:\/\//tls://$user:$password@}") ;;
          */booking-service|*/edge-server) cmd+=(SSL_CERT_FILE="$SECURE_CA" "$a") ;;
          *) cmd+=("$a") ;;
        esac
      done
      P_CMD=("${cmd[@]}")
      ;;
  esac
}

# The lines print_ready adds with SECURE=1, each after a newline.
secure_ready_lines() {
  (( SECURE )) || return 0
  printf '\n  SECURE=1:           Redis TLS-only on :%s with ACL users booking, admin%s; NATS TLS on :%s with users booking (publishes seats.>), edge, watcher (subscribe only)%s;' \
    "$REDIS_PORT" "$( (( CLUSTER )) && echo ', replica')" "$NATS_PORT" "$( (( CLUSTER )) && echo ', route')"
  printf '\n                      /internal/ needs INTERNAL_TOKEN; passwords per run, in no command line or log (config files: %s)' "$SECURE_DIR"
  printf '\n  Redis as admin:     set -a; . %s/redis-admin.env; set +a; redis-cli --tls --cacert %s --user admin -p %s' \
    "$SECURE_DIR" "$SECURE_CA" "$REDIS_PORT"
}
