#!/usr/bin/env bash
# Checks a stack started with SECURE=1 the way someone on the network would probe it: Redis and
# NATS refuse a client without credentials (and one without TLS), an edge's or the watcher's NATS
# user cannot publish on seats.>, the booking service's Redis user cannot run admin commands or
# touch other keys, /internal/ answers 401 without INTERNAL_TOKEN; a seat held over HTTPS still
# reaches the read-only watcher; no secret appears in `ps` output or in any log line, and the
# servers' files hold only hashes of the users' passwords (Redis SHA-256, NATS bcrypt). With
# --cluster (a stack from SECURE=1 ./start.sh --cluster): the Redis master holding the venue is
# killed, its replica (replicating over TLS as user replica) takes over, the hold made before is
# still there and a new one succeeds.
#
# Usage: tests/secure.sh RUN_DIR [--cluster]
# Environment: REDIS_PORT, NATS_PORT, BOOKING_PORT, HTTPS_PORT, EDGE_BASE_PORT (the stack's), and
# the secrets given to start.sh: REDIS_PASSWORD, REDIS_ADMIN_PASSWORD, REDIS_REPLICA_PASSWORD,
# NATS_BOOKING_PASSWORD, NATS_EDGE_PASSWORD, NATS_WATCHER_PASSWORD, NATS_ROUTE_PASSWORD,
# INTERNAL_TOKEN, TOKEN_SECRET, ADMIN_TOKEN.
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=${1:?usage: tests/secure.sh RUN_DIR [--cluster]}
cluster=0
[[ ${2:-} == --cluster ]] && cluster=1
secrets=(REDIS_PASSWORD REDIS_ADMIN_PASSWORD REDIS_REPLICA_PASSWORD NATS_BOOKING_PASSWORD NATS_EDGE_PASSWORD
         NATS_WATCHER_PASSWORD NATS_ROUTE_PASSWORD INTERNAL_TOKEN TOKEN_SECRET ADMIN_TOKEN)
for v in REDIS_PORT NATS_PORT BOOKING_PORT HTTPS_PORT EDGE_BASE_PORT "${secrets[@]}"; do
  [[ -n ${!v:-} ]] || { echo "secure: $v is not set" >&2; exit 2; }
done
ca="$run_dir/tls/ca.pem"
work=$(mktemp -d /tmp/seatmap-secure.XXXXXX)
watcher=
trap '[[ -z $watcher ]] || kill "$watcher" 2>/dev/null || true; rm -rf "$work"' EXIT

passed=0 failed=0
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
# expect NAME PATTERN OUTPUT: OUTPUT matches the extended regex PATTERN.
expect() { if [[ $3 =~ $2 ]]; then ok "$1"; else fail "$1: got '${3:0:200}'"; fi; }

# ---------------------------------------------------------------- Redis
redis() { redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>&1 || true; }
if [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1 || true) != PONG ]]; then
  ok "Redis: a client without TLS gets no answer"
else
  fail "Redis answered PONG without TLS"
fi
expect "Redis: TLS without credentials is refused (NOAUTH)" '^NOAUTH' "$(redis --tls --cacert "$ca" GET 'seq:{main}')"
expect "Redis: the default user is off" 'WRONGPASS|NOAUTH|disabled' \
  "$(redis --tls --cacert "$ca" --user default --pass '' GET 'seq:{main}')"
expect "Redis: a wrong password is refused" 'WRONGPASS' \
  "$(REDISCLI_AUTH=wrong-password-0123456789 redis --tls --cacert "$ca" --user booking GET 'seq:{main}')"
# -c: in a cluster, follow MOVED to the node that holds the key.
booking() { REDISCLI_AUTH=$REDIS_PASSWORD redis -c --tls --cacert "$ca" --user booking "$@"; }
admin() { REDISCLI_AUTH=$REDIS_ADMIN_PASSWORD redis -c --tls --cacert "$ca" --user admin "$@"; }
expect "Redis: the booking user reads its keys" '^[01]$' "$(booking EXISTS 'seq:{main}')"
for cmd in "FLUSHALL" "CONFIG GET requirepass" "KEYS *" "ACL LIST" "CLIENT LIST" "SAVE" "SHUTDOWN NOSAVE" "INFO clients"; do
  read -r -a words <<<"$cmd"   # no globbing of KEYS *
  expect "Redis: the booking user may not run $cmd" 'NOPERM' "$(booking "${words[@]}")"
done
expect "Redis: the booking user may not touch keys outside the venue keys" 'NOPERM' \
  "$(booking SET 'someone-else:key' 1)"
expect "Redis: the replication user may do nothing else" 'NOPERM' \
  "$(REDISCLI_AUTH=$REDIS_REPLICA_PASSWORD redis --tls --cacert "$ca" --user replica GET 'seq:{main}')"
expect "Redis: the operators' admin user may" '^(0|1)$' "$(admin EXISTS 'seq:{main}')"

# ---------------------------------------------------------------- NATS
nats() { python3 scripts/lib/nats_text.py 127.0.0.1 "$NATS_PORT" "$@" 2>&1 || true; }
expect "NATS: a client that does not start TLS is refused" 'TLS Required|closed|-ERR' \
  "$(NATS_PLAIN=1 nats pub seats.main.booked '{}')"
expect "NATS: TLS without credentials is refused" "Authorization Violation" \
  "$(NATS_CA=$ca nats pub seats.main.booked '{}')"
expect "NATS: a wrong password is refused" "Authorization Violation" \
  "$(NATS_CA=$ca NATS_USER=booking NATS_PASSWORD=wrong-password-0123 nats pub seats.main.booked '{}')"
expect "NATS: the edges' user cannot publish on seats.>" 'Permissions Violation for Publish to "seats\.main\.booked"' \
  "$(NATS_CA=$ca NATS_USER=edge NATS_PASSWORD=$NATS_EDGE_PASSWORD nats pub seats.main.booked '{"type":"booked"}')"
expect "NATS: the watcher cannot publish on seats.>" 'Permissions Violation for Publish' \
  "$(NATS_CA=$ca NATS_USER=watcher NATS_PASSWORD=$NATS_WATCHER_PASSWORD nats pub seats.main.held '{}')"
expect "NATS: the booking services' user publishes nothing but seats.>" 'Permissions Violation for Publish to "other\.subject"' \
  "$(NATS_CA=$ca NATS_USER=booking NATS_PASSWORD=$NATS_BOOKING_PASSWORD nats pub other.subject '{}')"

# ---------------------------------------------------------------- /internal/
internal() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' "$@" \
    -d '{"edge_id":"edge-x","connected":[]}' "http://127.0.0.1:$BOOKING_PORT/internal/queue/main/presence"
}
expect "/internal/ without INTERNAL_TOKEN: 401" '^401$' "$(internal)"
expect "/internal/ with a wrong token: 401" '^401$' "$(internal -H 'Authorization: Bearer not-the-internal-token-0123')"

# ---------------------------------------------------------------- it all still works
# The read-only watcher (scripts/watch-events.sh with the env file start.sh wrote) sees a hold
# made over HTTPS through NGINX: booking service -> Redis (TLS, ACL) -> NATS (TLS) -> watcher.
NATS_ENV="$run_dir/secure/watcher.env" scripts/watch-events.sh >"$work/events.txt" 2>"$work/watch.err" &
watcher=$!
for _ in $(seq 50); do grep -q listening "$work/watch.err" 2>/dev/null && break; sleep 0.1; done
https="https://localhost:$HTTPS_PORT"
token=$(curl -sS --cacert "$ca" -X POST "$https/api/session" | sed -E 's/.*"token":"([^"]+)".*/\1/')
held=$(curl -sS --cacert "$ca" -X POST "$https/api/seats/select" -H 'Content-Type: application/json' \
  -d "{\"seat_id\":\"B2\",\"token\":\"$token\"}")
expect "a seat held over HTTPS (Redis over TLS as the ACL user)" '"ok":true' "$held"
for _ in $(seq 50); do grep -q '"seat_id":"B2"' "$work/events.txt" && break; sleep 0.1; done
expect "the watcher user sees the hold on seats.main.held" '^seats\.main\.held .*"seat_id":"B2"' \
  "$(grep -m1 '"seat_id":"B2"' "$work/events.txt" || true)"
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=
# An edge straight on its port (loopback only): its NATS subscription, as user edge, is live.
edge_state=$( (sleep 2) | websocat --text "ws://127.0.0.1:$EDGE_BASE_PORT/ws" 2>&1 | grep -m1 VENUE_STATE || true)
expect "an edge (NATS user edge) serves the venue with the hold" '"id":"B2"[^}]*"status":1' "$edge_state"

# ---------------------------------------------------------------- a failover (--cluster)
if (( cluster )); then
  # The master holding the venue's slot: the node a key of it lives on, as the admin user sees it.
  slot=$(admin CLUSTER KEYSLOT 'seq:{main}')
  master=$(admin CLUSTER NODES | awk -v s="$slot" '$3 ~ /master/ {
    for (i = 9; i <= NF; i++) { split($i, r, "-"); if (s >= r[1] && s <= (r[2] == "" ? r[1] : r[2])) print $2 } }')
  master_port=${master%@*}; master_port=${master_port##*:}
  kill -9 "$(cat "$run_dir/pids/redis-$master_port.pid")"
  t0=$SECONDS answer=
  while (( SECONDS - t0 < 30 )); do
    answer=$(curl -sS --cacert "$ca" -X POST "$https/api/seats/select" -H 'Content-Type: application/json' \
      -d "{\"seat_id\":\"C3\",\"token\":\"$token\"}" 2>&1 || true)
    [[ $answer == *'"ok":true'* ]] && break
    sleep 0.5
  done
  expect "Redis failover over TLS: a new hold succeeds after the venue's master (:$master_port) dies ($(( SECONDS - t0 )) s)" \
    '"ok":true' "$answer"
  expect "the hold made before the failover is still there" '"id":"B2"[^}]*"status":1' \
    "$(curl -sS --cacert "$ca" "$https/api/venues/main")"
fi

# ---------------------------------------------------------------- no secret in ps or a log
ps -eo args >"$work/ps.txt"
for s in "${secrets[@]}"; do
  if grep -qF -- "${!s}" "$work/ps.txt"; then fail "$s appears in ps output"; else ok "$s is in no command line (ps -eo args)"; fi
done
mapfile -t logs < <(find "$run_dir/logs" "$run_dir/nginx" -name '*.log' -type f)
for s in "${secrets[@]}"; do
  if grep -lF -- "${!s}" "${logs[@]}" >"$work/hits.txt"; then
    fail "$s appears in a log line: $(tr '\n' ' ' <"$work/hits.txt")"
  else
    ok "$s is in none of the ${#logs[@]} log files"
  fi
done
if grep -qF -- "$REDIS_PASSWORD" "$run_dir/secure/users.acl"; then fail "Redis's ACL file holds the password itself"
else ok "Redis's ACL file holds only the password's SHA-256"; fi
nats_confs=("$run_dir"/secure/nats-*.conf)
plain=()
for s in NATS_BOOKING_PASSWORD NATS_EDGE_PASSWORD NATS_WATCHER_PASSWORD; do
  grep -qF -- "${!s}" "${nats_confs[@]}" && plain+=("$s")
done
hashes=$(grep -c 'user: [a-z]*, password: "\$2b\$10\$' "${nats_confs[0]}" || true)
if (( ${#plain[@]} == 0 && hashes == 3 )); then ok "NATS's config holds only bcrypt hashes of its users' passwords"
else fail "NATS's config: ${plain[*]:-no password} in clear, $hashes of 3 users with a bcrypt hash"; fi
if grep -qs 'Plaintext passwords' "$run_dir"/logs/nats-*.log; then fail "nats-server warns of plaintext passwords"
else ok "nats-server finds no plaintext password"; fi

echo "secure: $passed passed, $failed failed"
(( failed == 0 ))
