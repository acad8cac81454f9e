# shellcheck shell=bash
# Sourced by the network fault scenarios (tests/net/, scripts/faults.sh --net): test hosts, each
# its own network namespace with one address on a bridge of this run, and the faults a network
# makes between them. Needs root (ip netns, nft).
#
#   nethosts_up nats core edge     # namespaces sm<run>-nats, …; addresses 10.<a>.<b>.2, .3, …
#   nethost_ip edge                # that host's address (the bridge, the test's side, is .1)
#   nethost edge CMD ARGS…         # run a command on a host
#   nethost_clean edge CMD ARGS…   # … with none of this shell's exported settings but PATH, HOME
#                                  #   and TOKEN_SECRET (a caller's HOLD_SECONDS=4 must not leak in)
#   nethost_cut edge nats          # drop every packet between two hosts (both ways)
#   nethost_cut edge nats oneway   # … only from the first to the second
#   nethost_heal edge nats         # undo the cuts between them
#   nethost_loss edge 2            # drop 2 % of the packets a host sends and receives
#   nethost_loss edge 2 out        # … of the packets it sends only (on every host: 2 % per link)
#   nethosts_down                  # kill what runs on the hosts, delete them and the bridge
#
# A cut is an nft rule in the host's own namespace, so nothing else on the machine is touched.
# nethosts_up installs a trap that calls nethosts_down on exit, even after a failure.

NETHOSTS_RUN=${NETHOSTS_RUN:-$(( $$ % 60000 ))}
NETHOSTS_BRIDGE="smbr$NETHOSTS_RUN"
# 10.<200-249>.<0-249>.0/24, from the run number: two runs at once get different subnets.
NETHOSTS_NET="10.$(( 200 + NETHOSTS_RUN % 50 )).$(( NETHOSTS_RUN / 50 % 250 ))"
declare -gA NETHOSTS_ADDR=()
NETHOSTS_NAMES=()

nethost_ns() { printf 'sm%s-%s' "$NETHOSTS_RUN" "$1"; }
nethost_ip() { printf '%s' "${NETHOSTS_ADDR[$1]:?no test host $1}"; }
nethost() { local host=$1; shift; ip netns exec "$(nethost_ns "$host")" "$@"; }
nethost_clean() {
  (
    for v in $(compgen -e); do
      case $v in PATH | HOME | TOKEN_SECRET) ;; *) unset "$v" 2>/dev/null || true ;; esac
    done
    nethost "$@"
  )
}

nethosts_up() {
  [[ $(id -u) == 0 ]] || { echo "nethosts: network namespaces need root" >&2; return 1; }
  trap nethosts_down EXIT
  ip link add "$NETHOSTS_BRIDGE" type bridge
  ip addr add "$NETHOSTS_NET.1/24" dev "$NETHOSTS_BRIDGE"
  ip link set "$NETHOSTS_BRIDGE" up
  # With br_netfilter loaded (Docker loads it and sets FORWARD's policy to DROP), packets between
  # two ports of a bridge pass iptables' FORWARD chain: let this bridge's own through, until down.
  if command -v iptables >/dev/null 2>&1 && [[ $(sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null) == 1 ]]; then
    iptables -I FORWARD -i "$NETHOSTS_BRIDGE" -o "$NETHOSTS_BRIDGE" -j ACCEPT
    NETHOSTS_FORWARD_RULE=1
  fi
  local n=2 host ns
  for host in "$@"; do
    ns=$(nethost_ns "$host")
    ip netns add "$ns"
    ip link add "v$NETHOSTS_RUN-$n" type veth peer name eth0 netns "$ns"
    ip link set "v$NETHOSTS_RUN-$n" master "$NETHOSTS_BRIDGE" up
    ip -n "$ns" addr add "$NETHOSTS_NET.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$NETHOSTS_NET.1"
    ip netns exec "$ns" nft -f - <<EOF || return 1
table inet smfault {
  chain out { type filter hook output priority 0; }
  chain in { type filter hook input priority 0; }
}
EOF
    NETHOSTS_ADDR[$host]="$NETHOSTS_NET.$n"
    NETHOSTS_NAMES+=("$host")
    n=$((n + 1))
  done
}

# nethost_cut A B [oneway]: A's packets to B are dropped (and, unless oneway, B's to A).
nethost_cut() {
  local a=$1 b=$2
  nethost "$a" nft add rule inet smfault out ip daddr "$(nethost_ip "$b")" drop comment "\"cut $b\""
  [[ ${3:-} == oneway ]] && return 0
  nethost "$b" nft add rule inet smfault out ip daddr "$(nethost_ip "$a")" drop comment "\"cut $a\""
}

# nethost_heal A B: every cut between A and B (either way) removed.
nethost_heal() {
  local a=$1 b=$2
  nethost_drop_rules "$a" "cut $b"
  nethost_drop_rules "$b" "cut $a"
}

# nethost_loss HOST PERCENT [out|in]: that share of the packets the host sends and receives (or
# only sends, or only receives) dropped.
nethost_loss() {
  local host=$1 percent=$2 chains=(out in) chain
  [[ -n ${3:-} ]] && chains=("$3")
  for chain in "${chains[@]}"; do
    nethost "$host" nft add rule inet smfault "$chain" numgen random mod 100 "<" "$percent" drop comment '"loss"'
  done
}
nethost_unloss() { nethost_drop_rules "$1" loss; }

# nethost_drop_rules HOST COMMENT: delete the host's fault rules with that comment.
nethost_drop_rules() {
  local host=$1 comment=$2 chain handle
  for chain in out in; do
    while read -r handle; do
      [[ -n $handle ]] && nethost "$host" nft delete rule inet smfault "$chain" handle "$handle"
    done < <(nethost "$host" nft -a list chain inet smfault "$chain" |
      sed -n "s/.*comment \"$comment\" # handle \([0-9]*\)$/\1/p")
  done
}

nethosts_down() {
  local host ns pid
  for host in "${NETHOSTS_NAMES[@]}"; do
    ns=$(nethost_ns "$host")
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  done
  sleep 0.5
  for host in "${NETHOSTS_NAMES[@]}"; do
    ns=$(nethost_ns "$host")
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
  ip link delete "$NETHOSTS_BRIDGE" 2>/dev/null || true
  if [[ -n ${NETHOSTS_FORWARD_RULE:-} ]]; then
    iptables -D FORWARD -i "$NETHOSTS_BRIDGE" -o "$NETHOSTS_BRIDGE" -j ACCEPT 2>/dev/null || true
    NETHOSTS_FORWARD_RULE=
  fi
  NETHOSTS_NAMES=()
}
