#!/usr/bin/env bash
# A minority cut off: the Redis Cluster master of the venue's slot and booking service B1 share a
# test host that is cut off (both ways, nft) from every other host, Redis's majority, NATS and
# booking service B2, for CUT_SECONDS (3x cluster-node-timeout), while seatjudge, on the bridge
# and still reaching both services (as clients of either side would), books through both with
# REDIS_WAIT_REPLICAS=1. The majority must fail over (the venue's replica becomes master), the old
# master must come back as a replica after the heal, and seatjudge's verdict must pass: 0
# acknowledged bookings lost, 0 phantom, never two holders, every seq on NATS once. What could not
# be confirmed is answered with a code; the figures count it per service and phase.
#
#   host minority: Redis node A (master of the venue's slot), booking service B1
#   host r1: Redis B (master), A' (A's replica), C' (C's replica); host r2: Redis C (master), B'
#   host nats: nats-server; host b2: booking service B2; seatjudge on the bridge
#
# Prints progress, the figures and one line "minority-cut: … verdict: pass|FAIL: why"; exits 1 on
# a broken promise. Every host is removed on exit, even after a failure.
#
# Usage: tests/net/minority-cut.sh   (as root)
# Environment: BIN_DIR (booking-service, seatjudge; default target/debug), CUT_SECONDS (6),
# CUT_AFTER (5: seconds of load before the cut), LOAD_SECONDS (30), WORKERS (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
CUT_SECONDS=${CUT_SECONDS:-6} CUT_AFTER=${CUT_AFTER:-5} LOAD_SECONDS=${LOAD_SECONDS:-30}
WORKERS=${WORKERS:-8}
VENUE=hall VENUES=hall:40x100
source tests/net/common.sh
for b in booking-service seatjudge; do
  [[ -x $BIN_DIR/$b ]] || { echo "minority-cut: no $BIN_DIR/$b (set BIN_DIR)" >&2; exit 2; }
done
say() { printf '[minority-cut] %5.1f s  %s\n' "$(( $(date +%s%3N) - start_ms ))e-3" "$*"; }
start_ms=$(date +%s%3N)
work=$(mktemp -d /tmp/seatmap-net.XXXXXX)
judge_pid=
nethosts_up minority r1 r2 nats b2
trap '[[ -n $judge_pid ]] && kill "$judge_pid" 2>/dev/null; nethosts_down; [[ -n ${NET_KEEP:-} ]] || rm -rf "$work"' EXIT
TOKEN_SECRET=$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n')
export TOKEN_SECRET
m_ip=$(nethost_ip minority) r1_ip=$(nethost_ip r1) r2_ip=$(nethost_ip r2)
nats_ip=$(nethost_ip nats) b2_ip=$(nethost_ip b2)
A=$m_ip:6379 B=$r1_ip:6379 C=$r2_ip:6379 A2=$r1_ip:6380 B2=$r2_ip:6380 C2=$r1_ip:6381
cli() { local node=$1; shift; redis-cli -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null; }
role() { cli "$1" role | head -n1; }

# redis_node HOST PORT: a cluster node on that host, announced on the host's address.
redis_node() {
  local host=$1 port=$2 ip dir
  ip=$(nethost_ip "$host") dir="$work/redis-$host-$port"
  mkdir -p "$dir"
  mapfile -t cluster_args < <(scripts/lib/redis-cluster.sh node-args "$port" $((port + 10000)))
  nethost "$host" redis-server redis/redis.conf --port "$port" --bind "$ip" --protected-mode no \
    --dir "$dir" --cluster-announce-ip "$ip" "${cluster_args[@]}" >"$dir/log" 2>&1 &
}
redis_node minority 6379; redis_node r1 6379; redis_node r2 6379
redis_node r1 6380; redis_node r2 6380; redis_node r1 6381
for node in "$A" "$B" "$C" "$A2" "$B2" "$C2"; do
  wait_for 10 cli "$node" ping || { echo "minority-cut: Redis $node did not start" >&2; exit 1; }
done

# The cluster, made by hand so the venue's slot is A's: A takes the third of the slots that
# holds it, B and C the others; A', B', C' replicate them.
slot=$(cli "$B" cluster keyslot "seq:{$VENUE}")
thirds=("0 5460" "5461 10922" "10923 16383")
t=$((slot / 5461)); ((t < 3)) || t=2
for node in "$B" "$C" "$A2" "$B2" "$C2"; do cli "$node" cluster meet "$m_ip" 6379 >/dev/null; done
for node in "$A" "$B" "$C" "$A2" "$B2" "$C2"; do
  wait_for 20 bash -c "[[ \$(redis-cli -h ${node%:*} -p ${node##*:} cluster nodes | wc -l) == 6 ]]" ||
    { echo "minority-cut: $node did not meet every node" >&2; exit 1; }
done
i=0
for node in "$A" "$B" "$C"; do
  # shellcheck disable=SC2086 # a range is two words
  cli "$node" cluster addslotsrange ${thirds[$(((t + i) % 3))]} >/dev/null
  i=$((i + 1))
done
for pair in "$A2 $A" "$B2 $B" "$C2 $C"; do
  read -r replica master <<<"$pair"
  id=$(cli "$master" cluster myid)
  wait_for 20 bash -c "redis-cli -h ${replica%:*} -p ${replica##*:} cluster replicate $id | grep -q OK" ||
    { echo "minority-cut: $replica could not replicate $master" >&2; exit 1; }
done
wait_for 20 bash -c "redis-cli -h $m_ip -p 6379 cluster info | grep -q cluster_slots_assigned:16384" ||
  { echo "minority-cut: $A does not see every slot assigned" >&2; exit 1; }
# Waits until every node says the cluster is ok and every replica is in sync.
scripts/lib/redis-cluster.sh form --replicas 1 --timeout 60 "$A" "$B" "$C" "$A2" "$B2" "$C2" >/dev/null
node_timeout=$(cli "$A" config get cluster-node-timeout | tail -n1)
say "Redis Cluster up: the venue's slot $slot on $A (minority host), its replica $A2; cluster-node-timeout $node_timeout ms"

nethost nats nats-server -a "$nats_ip" -p 4222 >"$work/nats.log" 2>&1 &
booking() {
  local host=$1 ip
  ip=$(nethost_ip "$host")
  nethost_clean "$host" env HOST="$ip" PORT=8080 REDIS_URL="redis-cluster://$A,$B,$C" \
    NATS_URL="nats://$nats_ip:4222" REDIS_WAIT_REPLICAS=1 VENUES="$VENUES" HOLD_SECONDS=30 \
    USER_RATE_LIMIT=100000 RUST_LOG=info "$BIN_DIR/booking-service" >"$work/booking-$host.log" 2>&1 &
  wait_for 30 curl -sf "http://$ip:8080/health" || { tail "$work/booking-$host.log" >&2; exit 1; }
}
booking minority; booking b2
b1=http://$m_ip:8080 b2=http://$b2_ip:8080
say "booking services up: B1 $b1 (minority host), B2 $b2"

timeout $((LOAD_SECONDS + 120)) "$BIN_DIR/seatjudge" --booking "$b1,$b2" --nats "nats://$nats_ip:4222" \
  --venue "$VENUE" --workers "$WORKERS" --seconds "$LOAD_SECONDS" --drain-seconds 30 \
  --out "$work/judge.json" >"$work/judge.txt" 2>&1 &
judge_pid=$!
sleep "$CUT_AFTER"

others=(r1 r2 nats b2)
cut_ms=$(date +%s%3N)
for host in "${others[@]}"; do nethost_cut minority "$host"; done
say "cut: the minority host (A, B1) from r1, r2, nats, b2, both ways, for $CUT_SECONDS s"
failover_ms=
until (( $(date +%s%3N) - cut_ms >= CUT_SECONDS * 1000 )); do
  if [[ -z $failover_ms && $(role "$A2") == master ]]; then
    failover_ms=$(( $(date +%s%3N) - cut_ms ))
    say "failover: $A2 is master ${failover_ms} ms after the cut"
  fi
  sleep 0.1
done
old_role_in_cut=$(role "$A" || true)
heal_ms=$(date +%s%3N)
for host in "${others[@]}"; do nethost_heal minority "$host"; done
say "healed after $(( heal_ms - cut_ms )) ms (A said it was: ${old_role_in_cut:-no answer})"
rejoin_ms=
if wait_for 30 bash -c "[[ \$(redis-cli -h ${A%:*} -p ${A##*:} role | head -n1) == slave ]]"; then
  rejoin_ms=$(( $(date +%s%3N) - heal_ms ))
  say "$A is a replica again ${rejoin_ms} ms after the heal"
fi

judge_rc=0
wait "$judge_pid" || judge_rc=$?
judge_pid=
cat "$work/judge.txt"
# What the services answered 500 INTERNAL for, if they did: a Redis error they did not take for
# unavailability.
{ grep -h "redis script failed" "$work"/booking-*.log || true; } | sed -E 's/.*error=//' | sort |
  uniq -c | sort -rn | head -n 3 | while read -r line; do say "answered INTERNAL for: $line"; done
verdict_line=$(grep -m1 '^judge: verdict' "$work/judge.txt" || echo "judge: verdict FAIL: no verdict")

# Per service and phase (before the cut, during it, after the heal): OK, refused, answered with
# a code that may hide a change, not answered.
phases=$(python3 - "$work/judge.json" "$cut_ms" "$heal_ms" "$b1" "$b2" <<'EOF' || true
import json, sys
from collections import Counter
doc = json.load(open(sys.argv[1]))
cut, heal = int(sys.argv[2]), int(sys.argv[3])
names = {sys.argv[4]: "B1", sys.argv[5]: "B2"}
counts = {}
for c in doc["history"]:
    phase = "before" if c["sent_ms"] < cut else ("during" if c["sent_ms"] < heal else "after")
    o = c["outcome"]
    kind = "ok" if o == "OK" else ("unconfirmed" if o in ("UNAVAILABLE", "INTERNAL") else ("no answer" if o.startswith("no answer") else "refused"))
    counts.setdefault((names.get(c["service"], c["service"]), phase), Counter())[kind] += 1
parts = []
for service in ("B1", "B2"):
    for phase in ("before", "during", "after"):
        n = counts.get((service, phase), Counter())
        parts.append(f"{service} {phase}: ok {n['ok']}, refused {n['refused']}, unconfirmed {n['unconfirmed']}, no answer {n['no answer']}")
print("; ".join(parts))
after_ok = {s: counts.get((s, "after"), Counter())["ok"] for s in ("B1", "B2")}
print(" ".join(f"{s}={n}" for s, n in after_ok.items()))
EOF
)
phase_line=$(head -n1 <<<"$phases")
after_ok=$(sed -n 2p <<<"$phases")

broken=()
judge_broken=${verdict_line#judge: verdict FAIL: }
[[ $judge_rc == 0 ]] || broken+=("seatjudge: ${judge_broken%%;*}")
[[ -n $failover_ms ]] || broken+=("no failover within the ${CUT_SECONDS} s cut")
[[ -n $rejoin_ms ]] || broken+=("the old master did not come back as a replica within 30 s of the heal")
for s in B1 B2; do
  [[ $after_ok =~ $s=([0-9]+) ]] && (( BASH_REMATCH[1] > 0 )) || broken+=("no command OK'd through $s after the heal")
done
verdict=pass
((${#broken[@]} == 0)) || verdict="FAIL: $(IFS=';'; echo "${broken[*]}")"
echo "minority-cut: venue master + B1 cut off for ${CUT_SECONDS} s (cluster-node-timeout ${node_timeout} ms), REDIS_WAIT_REPLICAS=1, $WORKERS workers through B1 and B2; failover ${failover_ms:-none} ms after the cut, old master a replica ${rejoin_ms:-never} ms after the heal; $phase_line; ${verdict_line#judge: }; verdict: $verdict"
[[ $verdict == pass ]] || {
  tail -n 8 "$work/booking-minority.log" "$work/booking-b2.log" | cut -c1-300 >&2
  exit 1
}
