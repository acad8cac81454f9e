#!/usr/bin/env bash
# redis-cluster.sh: the one way the seat map makes a Redis Cluster, used by start.sh --cluster
# and by the tests (testkit/src/cluster.rs), so both run the cluster they are checked against.
#
#   scripts/lib/redis-cluster.sh node-args PORT BUS_PORT
#       The redis-server arguments (after redis/redis.conf and --port/--dir) that make a node
#       on PORT a cluster node with its bus on BUS_PORT, one per line.
#   scripts/lib/redis-cluster.sh form [--replicas N] [--timeout SECONDS] HOST:PORT...
#       Makes the running nodes one cluster (`redis-cli --cluster create`, N replicas per
#       master, default 1) unless the first already serves every slot (a restart whose
#       nodes.conf remembers the cluster), then waits (default 60 s) until every node reports
#       cluster_state:ok, every master has N replicas online and every replica's link to its
#       master is up: only then does WAIT (REDIS_WAIT_REPLICAS) count a replica. Exits 1,
#       saying what is missing, when that does not happen in time.
#
# REDIS_CLI_OPTS (optional): more redis-cli options, e.g. "--tls --cacert CA --user admin" for
# nodes with TLS and ACL users (start.sh with SECURE=1); the password then comes from
# REDISCLI_AUTH in the environment, never the command line.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/usr/bin:/usr/local/bin"

die() { printf '[redis-cluster] %s\n' "$*" >&2; exit 1; }

node_args() {
  (( $# == 2 )) || die "usage: $0 node-args PORT BUS_PORT"
  # A node that has not answered for 2 s is failed over: quick enough for the fault tests,
  # slow enough not to flap on a busy machine.
  printf '%s\n' --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --cluster-port "$2"
}

read -r -a CLI_OPTS <<<"${REDIS_CLI_OPTS:-}"
cli() { local node=$1; shift; redis-cli "${CLI_OPTS[@]}" -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null; }

# synced NODE REPLICAS: NODE says the cluster is ok and it is a master with REPLICAS replicas
# online, or a replica whose link is up. Prints what is missing otherwise.
synced() {
  local node=$1 replicas=$2 state repl online
  state=$(cli "$node" cluster info) || { echo "$node does not answer"; return 1; }
  [[ $state == *cluster_state:ok* ]] || { echo "$node: cluster_state is not ok"; return 1; }
  repl=$(cli "$node" info replication) || { echo "$node does not answer"; return 1; }
  if [[ $repl == *role:master* ]]; then
    online=$(grep -c 'state=online' <<<"$repl" || true)
    (( online >= replicas )) || { echo "$node: $online of $replicas replicas online"; return 1; }
  else
    [[ $repl == *master_link_status:up* ]] || { echo "$node: replica link to its master is down"; return 1; }
  fi
}

form() {
  local replicas=1 timeout=60 node missing='' t0=$SECONDS
  local -a nodes=()
  while (( $# )); do
    case $1 in
      --replicas) replicas=${2:?}; shift 2 ;;
      --timeout) timeout=${2:?}; shift 2 ;;
      *) nodes+=("$1"); shift ;;
    esac
  done
  (( ${#nodes[@]} )) || die "usage: $0 form [--replicas N] [--timeout SECONDS] HOST:PORT..."
  if ! cli "${nodes[0]}" cluster info | grep -q 'cluster_slots_assigned:16384'; then
    redis-cli "${CLI_OPTS[@]}" --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes ||
      die "redis-cli --cluster create ${nodes[*]} failed"
  fi
  while :; do
    missing=''
    for node in "${nodes[@]}"; do
      missing=$(synced "$node" "$replicas") || break
    done
    [[ -n $missing ]] || return 0
    (( SECONDS - t0 < timeout )) || die "the Redis Cluster did not become ok within ${timeout}s: $missing"
    sleep 0.2
  done
}

case ${1:-} in
  node-args) shift; node_args "$@" ;;
  form) shift; form "$@" ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
